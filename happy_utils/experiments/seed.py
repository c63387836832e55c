"""One seed of one run: the unit of work a task (a Ray task, or this process) runs into its own folder.

Why: the stages before the loop run once, in the driver (`stages.prepare`: it trains and caches the generator);
a seed only needs the restricted faces, the cached generator, their latents and labels, and the scorers, which it
loads itself, so that it can run in any process on any node that sees the cache and the run folder. It computes
them on the run's own thread count, so a seed gives the same queries wherever it runs.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ..data.sources import load_faces
from ..latents import LatentSet, label_latents
from ..loop import SeedRun, run_loop, torch_threads
from ..provenance import spec_key
from ..scorers.base import SmileScorer
from ..scorers.loading import load_scorers
from .spec import RunSpec


def start_latents(spec: RunSpec, scorers: dict[str, SmileScorer]) -> LatentSet:
    """The restricted faces, the variant's (cached) generator, their latents and the surrogate's labels, computed on
    the run's threads."""
    with torch_threads(spec.loop_config(spec.seeds[0]).threads):
        faces = load_faces("train", spec.preset, spec.source).restricted()
        generator = spec.variant.load_generator(spec.preset, faces, progress=False)
        latents = generator.encode(faces.images)
        labels = (label_latents(generator, latents, scorers["oracle"]) if spec.target == "decoded"
                  else scorers["oracle"].score(faces.images).degree.numpy())
    return LatentSet(faces=faces, generator=generator, latents=latents, labels=labels, target=spec.target)


class Starts:
    """The start latents of each (generator, target, threads) of one process, computed once and shared by its
    seeds."""

    def __init__(self):
        self._cache: dict[tuple, LatentSet] = {}

    def get(self, spec: RunSpec, scorers: dict[str, SmileScorer]) -> LatentSet:
        key = (spec.preset, spec.source, spec.variant.generator, spec.target, spec.loop_config(spec.seeds[0]).threads)
        if key not in self._cache:
            self._cache[key] = start_latents(spec, scorers)
        return self._cache[key]


def _log(path: Path, line: str) -> None:
    with open(path, "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def run_seed(spec: RunSpec, folder: Path, latent: LatentSet | None = None, scorers: dict | None = None,
             progress: bool = False, on_query: Callable[[dict], None] | None = None) -> SeedRun:
    """Run (or resume, or read back) the loop of the spec's one seed into `folder/seedS`, logging when and where it
    ran, each query and the outcome to `folder/seedS.log`."""
    (seed,) = spec.seeds
    seed_dir = Path(folder) / f"seed{seed}"
    log = Path(folder) / f"seed{seed}.log"
    _log(log, f"start: {spec.variant.name} seed {seed} on {socket.gethostname()} pid {os.getpid()}")
    scorers = scorers if scorers is not None else load_scorers(spec.source)
    latent = latent if latent is not None else start_latents(spec, scorers)
    extra = {"preset": spec.preset.name, "source": spec.source, "variant": spec.variant.name,
             spec.variant.generator: spec_key(latent.generator.meta["made_by"])}

    def logged(record: dict) -> None:
        _log(log, f"query {record['index']}: score {record['score']:.3f}, {sum(record['times'].values()):.2f} s")
        if on_query is not None:
            on_query(record)

    try:
        result = run_loop(seed_dir, latent, spec.loop_config(seed), scorers["oracle"], scorers.get("judge"),
                          extra_config=extra, progress=progress, on_query=logged)
    except BaseException as err:
        _log(log, f"failed: {type(err).__name__}: {err}")
        raise
    _log(log, f"finished: {len(result.records)} queries")
    return result
