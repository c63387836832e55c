"""Does this machine reproduce the committed claims? A committed seed's first queries, run again and compared query by
query.

Why: the claims were run on one machine. Another one starts from the same shipped generators, the same faces (up to
rounding) and the same seeds, but its CPU rounds floats its own way, and a search amplifies a difference in the last
bit into another code at some query. This measures where the rerun parts from the committed run and how far its
Top-K lands, instead of assuming either.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import metrics
from ..config import Preset, Source
from ..provenance import made_with
from ..records import RunDir
from .compare import run_specs
from .spec import RunSpec


def committed_seed(results: Path, variant: str, seed: int) -> dict:
    """The committed measures of one seed of a variant (`results/seeds/*/VARIANT/seedS.json`)."""
    found = sorted(Path(results).glob(f"seeds/*/{variant}/seed{seed}.json"))
    if not found:
        raise FileNotFoundError(f"no committed measures of {variant} seed {seed} under {Path(results) / 'seeds'}; "
                                "the claims command writes them")
    return json.loads(found[0].read_text())


def compare_records(mine: list[dict], committed: list[dict]) -> dict:
    """Query by query: how many start from the same base face, how many codes are equal (and how many cells differ
    on average), where the runs first part, how far the scores and Top-K differ."""
    n = len(mine)
    equal = [r["code"] == c["code"] for r, c in zip(mine, committed)]
    cells = [sum(a != b for a, b in zip(r["code"], c["code"])) for r, c in zip(mine, committed)]
    scores = np.array([r["score"] for r in mine]), np.array([c["score"] for c in committed[:n]])
    same = np.array(equal)
    return {"queries": n, "bases_equal": sum(r["base_index"] == c["base_index"] for r, c in zip(mine, committed)),
            "codes_equal": int(same.sum()), "cells_different": float(np.mean(cells)),
            "first_different": None if all(equal) else equal.index(False),
            "score_gap_same_codes": float(np.abs(scores[0] - scores[1])[same].max()) if same.any() else None,
            "topk": {f"top{k}": {"rerun": metrics.kth_best(scores[0], k), "committed": metrics.kth_best(scores[1], k)}
                     for k in (1, 10) if k <= n}}


def reproduce(preset: Preset, source: Source, variant: str, seed: int, queries: int, threads: int, results: Path,
              out: Path) -> dict:
    """Run (or resume) `queries` queries of a committed seed into `out` and compare them with the committed ones."""
    committed = committed_seed(results, variant, seed)
    if queries > len(committed["records"]):
        raise ValueError(f"--queries {queries}: the committed seed has {len(committed['records'])}")
    spec = RunSpec.resolve(preset, source, variant, [seed], budget=queries, threads=threads)
    run_specs([(spec, out)], summaries=False)
    mine = RunDir.existing(out / f"seed{seed}").records()[:queries]
    report = {"variant": variant, "seed": seed, "threads": threads, "machine": made_with(),
              **compare_records(mine, committed["records"])}
    (out / "reproduction.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def describe(report: dict) -> str:
    """The reproduction in a few lines."""
    m = report["machine"]
    parted = ("" if report["first_different"] is None else
              f"; the first different query is {report['first_different']}; "
              f"{report['cells_different']:.1f} of 64 cells differ on average")
    lines = [(f"{report['variant']} seed {report['seed']}, {report['queries']} queries on {m['cpu']} "
              f"({m['cpu_capability']} kernels, torch {m['torch']}, {report['threads']} thread(s)):"),
             f"  base faces equal to the committed run's: {report['bases_equal']} of {report['queries']}",
             f"  codes equal: {report['codes_equal']} of {report['queries']}{parted}"]
    if report["score_gap_same_codes"] is not None:
        lines.append(f"  largest oracle score gap where the codes are equal: {report['score_gap_same_codes']:.2e}")
    lines += [f"  {k}: {v['rerun']:.4f} here, {v['committed']:.4f} committed ({v['rerun'] - v['committed']:+.4f})"
              for k, v in report["topk"].items()]
    return "\n".join(lines)
