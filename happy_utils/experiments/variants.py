"""The compared variants: each one a setting of the one loop (generator, proposer, retraining, t), with the paper's
numbers for it.

Why: the paper's claims are comparative (its Figure 3 and Table 1); every fact about a variant lives in its `Variant`,
so the runner, the comparison and Table 1 read the same t, the same generator and the same published figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Preset
from ..data.faces import FaceDataset
from ..generators.base import Generator
from ..generators.vqvae import load_or_train_vqvae, vqvae_checkpoint
from ..loop import PROPOSERS
from ..proposers.manifold import ManifoldGuard
from .baseline.slsqp import SLSQPProposer
from .baseline.vae import BATCH_SIZE as VAE_BATCH_SIZE
from .baseline.vae import load_or_train_vae, vae_checkpoint


@dataclass(frozen=True)
class GeneratorKind:
    """How to get a pretrained generator of a kind for a preset, where it is cached, and the batch size of its
    fine-tunes."""

    load_or_train: Callable[..., Generator]  # (preset, faces, progress=..., retrain=...) -> Generator
    checkpoint: Callable[[Preset, FaceDataset], Path]
    batch_size: Callable[[Preset], int]


#: The paper's continuous baseline proposes through the one loop under this name (the loop itself knows only the MIO
#: and the random floor).
PROPOSERS.setdefault("slsqp", lambda cfg: SLSQPProposer(cfg.retrain_every, cfg.seed, cfg.fit_set))

GENERATORS = {
    "vqvae": GeneratorKind(load_or_train_vqvae, vqvae_checkpoint, lambda preset: preset.vqvae_batch_size),
    "vae": GeneratorKind(load_or_train_vae, vae_checkpoint, lambda preset: VAE_BATCH_SIZE),  # the paper's Table 7
}


@dataclass(frozen=True)
class Variant:
    """One setting of the loop: which generator, which proposer, with or without weighted retraining, and t."""

    name: str
    title: str
    generator: str = "vqvae"
    proposer: str = "mio"
    weighted_retraining: bool = True
    free_cells: int | None = None  # t; None: the preset's
    target: str | None = None  # the surrogate's labels (see `latents`); None: the preset's
    in_ablation: bool = False  # a row of the paper's Table 1 (t of the VQ-VAE + WR)
    # Beyond the paper: what keeps the MIO on the data (`proposers.manifold`); none: the paper's.
    guard: ManifoldGuard = field(default_factory=ManifoldGuard)
    paper: dict = field(default_factory=dict)  # the paper's CelebA results: (mean, sd) of Top10/Top50, FID

    def free_cells_for(self, preset: Preset) -> int:
        """The number of free cells this variant runs with under a preset."""
        return self.free_cells if self.free_cells is not None else preset.free_cells

    def surrogate_target(self, preset: Preset) -> str:
        """What this variant's surrogate learns under a preset."""
        return self.target if self.target is not None else preset.surrogate_target

    def load_generator(self, preset: Preset, faces: FaceDataset, progress: bool = True) -> Generator:
        return GENERATORS[self.generator].load_or_train(preset, faces, progress=progress)


#: The guarded variants' knobs: a code seen this often at its cell is supported; the prior's weight lambda.
SUPPORTED_COUNT, PRIOR_WEIGHT = 5, 0.05

#: The paper's comparison (Figure 3: CelebA, 500 queries, 20 seeds), its Table 1 ablation over t (and t = 12), and a
#: floor.
VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("vqvae-wr", "VQ-VAE + weighted retraining", in_ablation=True,
            paper={"top10": (2.85, 0.07), "top50": (2.50, 0.05), "fid": 41.69}),
    Variant("vqvae-wr-decoded", "VQ-VAE + WR, surrogate on f(d(e(x)))", target="decoded"),
    Variant("vqvae-nowr", "VQ-VAE, no retraining", weighted_retraining=False, paper={"top50": (2.42, None)}),
    Variant("vae-wr", "VAE + weighted retraining (continuous LSO)", generator="vae", proposer="slsqp",
            paper={"top50": (1.70, None), "fid": 50.51}),
    Variant("vqvae-wr-t4", "VQ-VAE + WR, t = 4", free_cells=4, in_ablation=True,
            paper={"top10": (2.72, 0.07), "top50": (2.42, 0.04), "fid": 42.69}),
    Variant("vqvae-wr-t12", "VQ-VAE + WR, t = 12", free_cells=12, in_ablation=True),  # between the paper's 8 and 16
    Variant("vqvae-wr-t16", "VQ-VAE + WR, t = 16", free_cells=16, in_ablation=True,
            paper={"top10": (2.88, 0.06), "top50": (2.58, 0.02), "fid": 43.70}),
    Variant("random", "random search (t random cells)", proposer="random", weighted_retraining=False),
    # Beyond the paper (issue 30): the same loop, the MIO kept on what the training faces support.
    Variant("vqvae-wr-supported", "VQ-VAE + WR, supported codes (seen >= 5 times at the cell)",
            guard=ManifoldGuard(min_count=SUPPORTED_COUNT)),
    Variant("vqvae-wr-neighbours", "VQ-VAE + WR, supported codes, neighbours seen together",
            guard=ManifoldGuard(min_count=SUPPORTED_COUNT, neighbours=True)),
    Variant("vqvae-wr-neighbours-t12", "VQ-VAE + WR, supported codes, neighbours seen together, t = 12",
            free_cells=12, guard=ManifoldGuard(min_count=SUPPORTED_COUNT, neighbours=True)),
    Variant("vqvae-wr-neighbours-t16", "VQ-VAE + WR, supported codes, neighbours seen together, t = 16",
            free_cells=16, guard=ManifoldGuard(min_count=SUPPORTED_COUNT, neighbours=True)),
    Variant("vqvae-wr-prior", f"VQ-VAE + WR, pairwise log-frequency prior (lambda = {PRIOR_WEIGHT:g})",
            guard=ManifoldGuard(prior_weight=PRIOR_WEIGHT)),
    Variant("vqvae-wr-trust", "VQ-VAE + WR, adaptive trust region on the changed cells",
            guard=ManifoldGuard(trust_region=True)),
)}


#: The paper's variants (its comparison, `compare`'s default) and the guarded ones beyond it (named to be run).
PAPER_VARIANTS = tuple(name for name, v in VARIANTS.items() if not v.guard.active)
GUARDED = tuple(name for name, v in VARIANTS.items() if v.guard.active)


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; valid variants: {', '.join(VARIANTS)}")
    return VARIANTS[name]
