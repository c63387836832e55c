"""A run, fully specified: preset, data source, variant, seeds and overrides, resolved once at the edge.

Why: the command line and the notebooks read the environment ($HAPPY_PRESET, $HAPPY_SOURCE) and their arguments once,
here; everything below takes the resolved `RunSpec` and never looks at the environment again. The spec is plain
data, so it can be written into a run's `config.json` and sent to another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..config import Preset, Source, get_preset, get_source
from ..loop import LoopConfig
from ..proposers.manifold import ManifoldGuard
from .variants import GENERATORS, Variant, get_variant

#: The guard's knobs (`manifold.ManifoldGuard`), each a run may override on top of its variant's guard.
GUARD_KNOBS = ("min_count", "neighbours", "prior_weight", "trust_region")
#: Knobs a run may override on top of its preset and variant.
OVERRIDES = ("budget", "free_cells", "target", "threads", *GUARD_KNOBS)


def parse_seeds(text: str) -> list[int]:
    """'0-2' -> [0, 1, 2]; '0,3,5' -> [0, 3, 5]; '4' -> [4]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise ValueError(f"--seeds must look like 0-2 or 0,3,5, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds must name distinct non-negative seeds, got {text!r}")
    return seeds


@dataclass(frozen=True)
class RunSpec:
    """What decides a run's queries. Build it with `RunSpec.resolve`."""

    preset: Preset
    source: Source
    variant: Variant
    seeds: tuple[int, ...]
    overrides: dict = field(default_factory=dict)  # some of OVERRIDES

    @classmethod
    def resolve(cls, preset: str | Preset | None = None, source: str | None = None, variant: str = "vqvae-wr",
                seeds: str | list[int] | None = None, **overrides) -> RunSpec:
        """Resolve names, environment defaults and overrides (None = not given) into a spec, or fail clearly."""
        cfg = preset if isinstance(preset, Preset) else get_preset(preset)
        chosen = get_variant(variant)
        unknown = set(overrides) - set(OVERRIDES)
        if unknown:
            raise ValueError(f"unknown overrides {sorted(unknown)}; valid: {', '.join(OVERRIDES)}")
        overrides = {k: v for k, v in overrides.items() if v is not None}
        for knob, flag, fixed in (("free_cells", "--free-cells", chosen.free_cells), ("target", "--target",
                                                                                      chosen.target)):
            wanted = overrides.get(knob)
            if wanted is not None and fixed is not None and wanted != fixed:
                raise ValueError(f"variant {chosen.name} fixes {knob} = {fixed}, so {flag} {wanted} contradicts it; "
                                 f"use --variant vqvae-wr {flag} {wanted} instead")
        if isinstance(seeds, str):
            seeds = parse_seeds(seeds)
        seeds = tuple(range(cfg.n_seeds) if seeds is None else seeds)
        spec = cls(preset=cfg, source=get_source(source), variant=chosen, seeds=seeds, overrides=overrides)
        spec.loop_config(seeds[0])  # validates every knob now, not in the middle of a run
        return spec

    @property
    def free_cells(self) -> int:
        return self.overrides.get("free_cells", self.variant.free_cells_for(self.preset))

    @property
    def guard(self) -> ManifoldGuard:
        """The variant's guard with the overridden knobs."""
        return replace(self.variant.guard, **{k: self.overrides[k] for k in GUARD_KNOBS if k in self.overrides})

    @property
    def target(self) -> str:
        return self.overrides.get("target", self.variant.surrogate_target(self.preset))

    def loop_config(self, seed: int) -> LoopConfig:
        """The loop's settings for one seed: the preset's knobs, the variant's choices, the overrides."""
        v = self.variant
        return LoopConfig.from_preset(self.preset, seed, budget=self.overrides.get("budget", self.preset.budget),
                                      free_cells=self.free_cells, weighted_retraining=v.weighted_retraining,
                                      batch_size=GENERATORS[v.generator].batch_size(self.preset), target=self.target,
                                      proposer=v.proposer, threads=self.overrides.get("threads", 1), guard=self.guard)

    def config(self) -> dict:
        """What the run directory's config.json records of the spec (the seeds are per-seed folders)."""
        return {"preset": self.preset.as_dict(), "source": self.source, "variant": self.variant.name,
                "overrides": dict(self.overrides)}
