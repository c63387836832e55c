"""What a preset costs on the runtime at hand: unit costs timed at the preset's sizes, projected over its runs.

Why: a learner opening a notebook on Colab's CPU runtime with the paper preset would wait for days without knowing
it. The same timings serve `bench stages` (one seed of the paper preset costed without its data) and `estimate` (what
this runtime is and what the preset will cost on it; each notebook's setup cell names the command, and times
nothing itself, so the lesson starts at once). Unit costs come from random weights
and planted codes, so nothing has to be trained or loaded first; the solver and LightGBM run on the CPU either way.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..config import PRESETS, Preset, device
from ..generators.training import training_steps
from ..generators.vqvae import VQVAE, VQVAEConfig
from ..loop import LoopConfig, torch_threads
from ..proposers.mio import optimize
from ..surrogates.trees import fit_trees
from .planted import planted_codes


def timed(fn) -> float:
    """Wall-clock seconds of one call of fn."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass(frozen=True)
class UnitCosts:
    """Seconds of one unit of each stage of a `vqvae-wr` query at a preset's sizes, on one device and thread count."""

    device: str
    threads: int
    encode_s: float  # per image
    step_s: float  # one VQ-VAE training step of the preset's batch size (the first training's and the fine-tunes')
    fit_s: float  # one surrogate fit: the preset's trees on its fit set
    solve_s: float  # the MIO over t free cells, median of a few
    fit_rows: int


def unit_costs(cfg: Preset, n: int, threads: int = 1, steps: int = 4, solves: int = 5,
               dev: torch.device | None = None) -> UnitCosts:
    """Time each stage once at `cfg`'s sizes for `n` restricted faces (after a warm-up of each)."""
    dev = dev or device()
    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig(width=cfg.vqvae_width)).to(dev)
    images = torch.randint(0, 256, (steps * cfg.vqvae_batch_size, 3, 64, 64), dtype=torch.uint8)
    fit_rows = min(sum(cfg.surrogate_fit_set) if cfg.surrogate_fit_set else n, n)
    codes, scores = planted_codes(fit_rows, seed=0)
    ones = torch.ones(len(images))
    with torch_threads(threads):
        vq.encode(images[:8])
        encode_s = timed(lambda: vq.encode(images)) / len(images)
        vq.finetune(images[:cfg.vqvae_batch_size], 1.0, cfg.vqvae_batch_size, weights=ones[:cfg.vqvae_batch_size],
                    seed=0)
        step_s = timed(lambda: vq.finetune(images, 1.0, cfg.vqvae_batch_size, weights=ones, seed=0)) / steps
        fit_trees(codes[:200], scores[:200], n_trees=5, num_threads=threads)  # the first fit loads LightGBM
        start = time.perf_counter()
        surrogate = fit_trees(codes, scores, n_trees=cfg.surrogate_trees, num_threads=threads)
        fit_s = time.perf_counter() - start
        solve_s = float(np.median([optimize(surrogate, codes[i], surrogate.top_cells(cfg.free_cells)).seconds
                                   for i in range(solves)]))
    return UnitCosts(device=str(dev), threads=threads, encode_s=encode_s, step_s=step_s, fit_s=fit_s,
                     solve_s=solve_s, fit_rows=fit_rows)


def seed_cost(cfg: Preset, n: int, units: UnitCosts, budget: int | None = None) -> list[dict]:
    """One `vqvae-wr` seed's stages in seconds for `n` restricted faces over `budget` queries (the preset's): the
    loop's fine-tune schedule (`LoopConfig`: the first fine-tune a full epoch, later ones a tenth), the rows the
    surrogate and the bases read re-encoded each cycle, a fit and a solve per query. The last row is the total."""
    loop = LoopConfig.from_preset(cfg, budget=budget or cfg.budget)
    budget = loop.budget
    cycles = -(-budget // loop.retrain_every)
    steps_first = training_steps(n, loop.first_finetune_epochs, loop.batch_size)
    steps_later = training_steps(n, loop.finetune_epochs, loop.batch_size)
    read = min(units.fit_rows + loop.retrain_every, n)
    rows = [
        {"stage": f"first fine-tune, {loop.first_finetune_epochs:g} epoch ({steps_first} steps)",
         "seconds": steps_first * units.step_s, "steps": steps_first},
        {"stage": f"later fine-tunes, {loop.finetune_epochs:g} epoch ({steps_later} steps) x {cycles - 1}",
         "seconds": (cycles - 1) * steps_later * units.step_s, "steps": (cycles - 1) * steps_later},
        {"stage": f"re-encode, rows read ({read}) x {cycles} (all {n} rows: "
                  f"{cycles * n * units.encode_s / 3600:.1f} h)", "seconds": cycles * read * units.encode_s,
         "encoded": cycles * read},
        {"stage": f"surrogate fit ({cfg.surrogate_trees} trees, {units.fit_rows} rows) x {budget}",
         "seconds": budget * units.fit_s},
        {"stage": f"MIO (t = {loop.free_cells}) x {budget}", "seconds": budget * units.solve_s},
    ]
    rows.append({"stage": "total", "seconds": sum(r["seconds"] for r in rows)})
    return rows


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def runtime_report(cfg: Preset, notebook_queries: int = 20) -> str:
    """What this runtime is (GPU or CPU, cores) and what `cfg` costs on it: the VQ-VAE's first training (notebook
    02, cached afterwards), notebook 05's short run, and one seed of the main job, from unit costs timed here."""
    dev = device()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        what = f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB; {cores} CPU cores"
    else:
        what = f"no GPU: CPU only, {cores} cores (on Colab: Runtime > Change runtime type > GPU)"
    n = cfg.train_size // 2  # about half of the rendered faces have level <= 2
    units = unit_costs(cfg, n, threads=torch.get_num_threads(), steps=2, solves=3, dev=dev)
    train_s = cfg.vqvae_epochs * -(-n // cfg.vqvae_batch_size) * units.step_s
    short = seed_cost(cfg, n, units, budget=min(cfg.budget, notebook_queries))[-1]["seconds"]
    seed = seed_cost(cfg, n, units)[-1]["seconds"]
    lines = [f"runtime: {what}; torch {torch.__version__}",
             f"preset {cfg.name!r}, about {n:,} restricted faces; timed here: a training step of "
             f"{cfg.vqvae_batch_size} {units.step_s:.3f} s, a surrogate fit {units.fit_s:.2f} s, a MIO "
             f"{units.solve_s:.3f} s",
             f"  VQ-VAE training (notebook 02, cached afterwards): about {_duration(train_s)}",
             f"  notebook 05's run of {min(cfg.budget, notebook_queries)} queries: about {_duration(short)}",
             f"  one seed of the main job ({cfg.budget} queries): about {_duration(seed)}"]
    smaller = [name for name in PRESETS if PRESETS[name].train_size < cfg.train_size]
    if train_s > 3 * 3600:
        lines.append(f"  that is long here: a GPU runtime, or a smaller preset ({' or '.join(smaller) or 'none'}: "
                     "set HAPPY_PRESET before the settings cell)")
    return "\n".join(lines)
