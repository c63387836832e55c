"""Do the queries leave the data? The committed claims' queries measured by their support in the encoded training
faces (`code_support`), and the realism pass rate as a function of it.

Why: issue 30's first question. The paper's method makes 3.4% valid queries where the decoder's own reconstructions
of the same base faces pass 90%; if the queries that pass are those whose codes the data supports, a search that
keeps to supported codes and neighbour pairs should stay on the face manifold. Support is counted against the
pretrained VQ-VAE's codes of the restricted training set: exact for the runs that never fine-tune it
(`vqvae-nowr`, `random`), an approximation for the fine-tuned ones (their codebook drifts; `claims.json` says by how
much). `python -m happy_utils support --preset laptop` writes `results/laptop/support.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import metrics
from ..code_support import CodeSupport
from ..config import Preset, Source
from ..data.sources import load_faces
from ..files import write_text
from .seed_measures import read_seed
from .variants import VARIANTS

#: Bins of the number of cells whose code was never seen there, and of adjacent pairs never seen together.
RARE_BINS = ((0, 0), (1, 1), (2, 3), (4, 64))
PAIR_BINS = ((0, 0), (1, 15), (16, 30), (31, 45), (46, 112))
#: Below this many sightings at its cell a code counts as rare (the second count beside "never seen").
RARE_COUNT = 5


def query_support(support: CodeSupport, codes: list, passed: list) -> list[dict]:
    """Per query: cells whose code was never seen there, seen fewer than RARE_COUNT times, unseen adjacent pairs,
    and whether it passed realism."""
    return [{"unseen_cells": support.rare_cells(np.asarray(c)),
             "rare_cells": support.rare_cells(np.asarray(c), RARE_COUNT),
             "unseen_pairs": support.unseen_pairs(np.asarray(c)), "passed": bool(p)} for c, p in zip(codes, passed)]


def by_bins(rows: list[dict], key: str, bins: tuple) -> list[dict]:
    """The pass rate of the queries in each bin of `key` (Wilson intervals)."""
    out = []
    for low, high in bins:
        inside = [r["passed"] for r in rows if low <= r[key] <= high]
        out.append({"from": low, "to": high, "queries": len(inside),
                    "pass": metrics.proportion(int(sum(inside)), len(inside)) if inside else None})
    return out


def diagnose(cfg: Preset, results: Path, source: Source = Source.SYNTHETIC) -> dict:
    """Support of every committed VQ-VAE variant's queries (each seed's file under `results/seeds`), pooled over
    seeds: the mean counts, the share with no unsupported cell or pair, and the pass rate per bin of each count."""
    restricted = load_faces("train", cfg, source).restricted()
    generator = VARIANTS["vqvae-wr"].load_generator(cfg, restricted, progress=False)
    support = CodeSupport.of(generator.encode(restricted.images).numpy(), generator.cfg.num_codes)
    out = {"preset": cfg.name, "faces": len(restricted), "rare_count": RARE_COUNT,
           "generator": "the pretrained VQ-VAE (exact for runs without fine-tunes)", "variants": {}}
    for path in sorted(Path(results, "seeds").glob("*/*")):
        if VARIANTS[path.name].generator != "vqvae":
            continue
        rows = []
        for seed_file in sorted(path.glob("seed*.json")):
            m = read_seed(seed_file)
            rows += query_support(support, [r["code"] for r in m["records"]], m["realism"]["passed"])
        out["variants"][path.name] = {
            "queries": len(rows), "fine_tuned": VARIANTS[path.name].weighted_retraining,
            **{f"mean_{k}": float(np.mean([r[k] for r in rows]))
               for k in ("unseen_cells", "rare_cells", "unseen_pairs")},
            "fully_supported": metrics.proportion(sum(r["unseen_cells"] == 0 and r["unseen_pairs"] == 0 for r in rows),
                                                  len(rows)),
            "pass_by_unseen_cells": by_bins(rows, "unseen_cells", RARE_BINS),
            "pass_by_unseen_pairs": by_bins(rows, "unseen_pairs", PAIR_BINS)}
    write_text(Path(results) / "support.json", json.dumps(out, indent=1))
    return out


def table(report: dict) -> str:
    """The pass rate by unseen cells and by unseen pairs, per variant, as printed."""
    def cell(b: dict) -> str:
        p = b["pass"]
        return "-" if p is None else f"{p['count']}/{p['n']} [{p['wilson95'][0]:.0%},{p['wilson95'][1]:.0%}]"

    lines = [(f"support in the {report['faces']:,} encoded restricted faces ({report['generator']}); pass rate of the "
              "queries by how many cells hold a code never seen there, and by how many adjacent pairs were never seen")]
    for v, r in report["variants"].items():
        lines.append(f"{v:<17} {r['queries']:>5} queries; mean unseen cells {r['mean_unseen_cells']:.2f}, "
                     f"rare (<{report['rare_count']}) {r['mean_rare_cells']:.2f}, unseen pairs "
                     f"{r['mean_unseen_pairs']:.2f}; fully supported {r['fully_supported']['fraction']:.1%}")
        for kind in ("cells", "pairs"):
            lines.append(f"  unseen {kind} " + "  ".join(f"{b['from']}-{b['to']}: {cell(b)}"
                                                       for b in r[f"pass_by_unseen_{kind}"]))
    return "\n".join(lines)
