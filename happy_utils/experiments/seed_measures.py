"""What one finished seed of a run leaves for the claims: every measure that needs its images or its fine-tuned
generator, computed once when the seed finishes, kept as a small JSON file beside the committed summaries.

Why: the claims need about 7 hours of a 2-core machine, more than one working session, and a run folder (every
query's image, the generator's state: megabytes) neither travels nor survives a fresh machine. A seed's file (tens of
kilobytes: its records, each query's realism, its FIDs, its generator's drift) does: the runs can be made in pieces,
on different machines or days, each piece's files committed, and the claims merged from the files alone
(`claims.measure`). Each file names the pretrained generator its seed started from (a fingerprint of its weights);
the merge refuses to mix generators.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..config import Preset, Source
from ..files import write_text
from ..generators.base import Generator
from ..images import to_uint8
from ..records import RunDir
from ..scorers.fid import fid_table, kid_table, target_features
from . import summaries
from .quality import assess, control, extractors, fid_targets, sample
from .spec import RunSpec
from .stages import prepare
from .variants import Variant

#: The FIDs every seed reports: Inception's (the paper's) and the synthetic world's own features.
FID_KEYS = ("inception", "world")
#: What a seed's file keeps of each query's record (not its base code, free cells or solver details).
KEPT = ("index", "base_index", "code", "score", "judge", "base_score", "surrogate", "status", "data_size", "retrain",
        "times")
DRIFT_FACES = 1000  # restricted faces encoded by the pretrained and the fine-tuned generator
DRIFT_BEST = 50  # the restricted set's best faces, reconstructed by both


def generator_fingerprint(generator: Generator) -> str:
    """A short hash of a generator's weights: two seeds' files that name the same one started from the same model."""
    digest = hashlib.sha256()
    for name, tensor in sorted(generator.state_dict().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    return digest.hexdigest()[:16]


class SeedMeasurer:
    """Measures finished seeds one after another in one process, sharing the scorers, the FID targets (their square
    roots are computed once) and the pretrained generators."""

    def __init__(self, cfg: Preset, source: Source, progress: bool = False):
        self.cfg, self.source = cfg, source
        self.prepared = prepare(cfg, source, "vqvae", cfg.surrogate_target, progress)  # the runs' own, if made here
        p = self.prepared
        if p.realism is None:
            raise ValueError("the claims are measured against the synthetic world's ground truth (realism, true "
                             f"degrees); source '{source}' has none: use `compare` there")
        self.features = [f for f in extractors(p.scorers, p.realism) if f.key in FID_KEYS]
        self.targets = fid_targets(p.train, cfg.fid_per_level)
        self.roots: dict[str, dict] = {f.key: {} for f in self.features}
        self.target_features = {f.key: target_features(self.targets, f) for f in self.features}
        self.fingerprints: dict[tuple, str] = {}
        self.generators: dict[str, Generator] = {}
        raw = p.scorers["oracle"].score(p.restricted.images).degree.numpy()
        self.best = p.restricted.images[torch.from_numpy(np.argsort(-raw)[:DRIFT_BEST].copy())]
        self.faces = sample(p.restricted, DRIFT_FACES, seed=7).images
        self.baseline = {"faces": DRIFT_FACES, "best": DRIFT_BEST, "best_raw_score": float(np.sort(raw)[::-1][
            :DRIFT_BEST].mean()), "best_reconstruction_score_pretrained": self.reconstruction_score(p.generator)}

    def pretrained(self, variant: Variant) -> Generator:
        """The generator a variant's seeds start from, as the runs load it (from the cache), loaded once per kind."""
        if variant.generator not in self.generators:
            self.generators[variant.generator] = variant.load_generator(self.cfg, self.prepared.restricted,
                                                                        progress=False)
        return self.generators[variant.generator]

    def tuned(self, spec: RunSpec, state: dict) -> Generator:
        """The generator a seed ended with: the pretrained one with the run's last weights (its fine-tunes)."""
        tuned = copy.deepcopy(self.pretrained(spec.variant))
        tuned.load_state_dict(state["generator"])
        return tuned

    def fingerprint(self, spec: RunSpec) -> str:
        key = (spec.variant.generator,)
        if key not in self.fingerprints:
            self.fingerprints[key] = generator_fingerprint(self.pretrained(spec.variant))
        return self.fingerprints[key]

    def fids(self, images: torch.Tensor) -> tuple[dict, list[str]]:
        """Inception and world FID of one seed's images against degrees 3-5 and each degree."""
        out, notes = {}, []
        for f in self.features:
            table, more = fid_table({"seed": images}, self.targets, f, self.roots[f.key])
            out[f.key], notes = table["seed"], notes + more
        return out, notes

    def kids(self, images: torch.Tensor) -> dict:
        """KID (unbiased at any size, `scorers.fid.kid`) of one seed's images against degrees 3-5 and each degree."""
        return {f.key: kid_table({"seed": f(images)}, self.target_features[f.key])["seed"] for f in self.features}

    def control(self, generator: Generator, base_index: list[int]) -> dict:
        """The t = 0 control of `generator` over the restricted faces `base_index` (`quality.control`)."""
        p = self.prepared
        return control(generator, p.restricted, base_index, p.realism, p.scorers["oracle"])

    def recreated_images(self, variant: Variant, measured: dict, n: int) -> torch.Tensor | None:
        """A seed's first n query images decoded again from its committed codes, where that gives the images the run
        made: only for a run that never fine-tunes its generator (the pretrained one decoded every query), checked
        against the oracle's recorded scores; None otherwise (the fine-tuned decoders live in the run folders)."""
        if variant.weighted_retraining:
            return None
        generator = self.pretrained(variant)
        codes = torch.as_tensor(np.array([r["code"] for r in measured["records"][:n]]))
        images = to_uint8(generator.decode(codes.reshape(n, *generator.latent_shape)))
        scores = self.prepared.scorers["oracle"].score(images).degree.numpy()
        recorded = np.array([r["score"] for r in measured["records"][:n]])
        return images if np.allclose(scores, recorded, atol=1e-3) else None

    def reconstruction_score(self, generator: Generator) -> float:
        """The oracle's mean score of the reconstructions of the restricted set's best faces."""
        return float(self.prepared.scorers["oracle"].score(generator.reconstruct(self.best)).degree.mean())

    def drift(self, spec: RunSpec, state: dict) -> dict:
        """How far a seed's fine-tunes moved its generator from the pretrained one: the fraction of latent cells of
        the same restricted faces that encode to another code, and the best faces' reconstruction score."""
        pretrained, tuned = self.pretrained(spec.variant), self.tuned(spec, state)
        return {"codes_changed": float((tuned.encode(self.faces) != pretrained.encode(self.faces)).float().mean()),
                "best_reconstruction_score": self.reconstruction_score(tuned)}

    def measure(self, spec: RunSpec, folder: Path, fid_queries: int) -> dict:
        """The measures of the spec's one seed, finished in `folder/seedS`: its records (what `KEPT` names), each
        query's realism, the FIDs, KIDs and near-duplicates of its first `fid_queries` queries, and for a fine-tuned
        generator the t = 0 control of its last weights (`control`), for a fine-tuned VQ-VAE also its drift."""
        (seed,) = spec.seeds
        run = RunDir.existing(Path(folder) / f"seed{seed}")
        records, state = run.records(), run.load_state()
        budget = spec.loop_config(seed).budget
        if state is None or len(records) < budget or state.get("done") != budget:
            raise ValueError(f"{run.path} has {len(records)} of {budget} queries: the seed is not finished, run it "
                             "first (the claims command resumes it)")
        if budget < fid_queries:
            raise ValueError(f"{run.path}: {budget} queries, fewer than the {fid_queries} its FIDs are taken over")
        images = state["query_images"][:budget]
        fid, notes = self.fids(images[:fid_queries])
        drift, control = None, None
        if spec.variant.weighted_retraining:
            control = self.control(self.tuned(spec, state), [r["base_index"] for r in records[:fid_queries]])
            if spec.variant.generator == "vqvae":
                drift = {**self.drift(spec, state), **self.baseline}
        return {"preset": self.cfg.name, "source": self.source, "variant": spec.variant.name, "seed": seed,
                "queries": budget, "generator": {"kind": spec.variant.generator, "fingerprint": self.fingerprint(spec)},
                "records": [{k: r.get(k) for k in KEPT} for r in records[:budget]],
                "realism": {k: [round(x, 5) if isinstance(x, float) else x for x in values]
                            for k, values in assess(self.prepared.realism, images).items()},
                "fid_queries": fid_queries, "fid": fid,
                "kid": self.kids(images[:fid_queries]),
                "fid_notes": sorted(set(notes)), "near_duplicates": summaries.near_duplicates(images[:fid_queries]),
                "drift": drift, "control_tuned": control}


def write_seed(path: Path, measured: dict) -> None:
    """One seed's measures as compact JSON (one line per query, so that diffs stay readable)."""
    head = {k: v for k, v in measured.items() if k not in ("records", "realism")}
    lines = [json.dumps(r, separators=(",", ":")) for r in measured["records"]]
    text = (json.dumps(head, indent=1)[:-2] + ',\n "realism": ' + json.dumps(measured["realism"], separators=(",", ":"))
            + ',\n "records": [\n' + ",\n".join(lines) + "\n]}\n")
    write_text(Path(path), text)


def read_seed(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a seed's measures ({err}): delete it and run the claims command again, "
                         "which measures the seed anew if its run folder is still there, or runs it again") from err
