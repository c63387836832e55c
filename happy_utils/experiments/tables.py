"""The tables the command line prints: one run's Top-K per seed, and the comparison with the paper's numbers.

Why: a result is read first on the console; the same tables, from the same JSON, whether the runs were just made or
read back.
"""

from __future__ import annotations

#: The name of the restricted training set's row in every comparison.
TRAINING = "restricted training set"


def print_run_table(summary: dict) -> None:
    """Top10 / Top50 / best per seed and their mean, by the oracle and the judge, beside the training set's."""
    ref, agg = summary["restricted_reference"], summary["aggregate"]
    roles = [r for r in ("oracle", "judge") if r in agg]
    keys = [(r, k) for r in roles for k in ("top10", "top50", "best")]
    print("\n" + f"{'':<13}" + "".join(f"{(r + ' ' + k)[:13]:>14}" for r, k in keys))
    rows = [(f"seed {s}", v) for s, v in summary["per_seed"].items()]
    rows += [("mean", {r: {k: v["mean"] for k, v in agg[r].items()} for r in roles})]
    rows += [(f"train {name[:5]}", ref[name]) for name in ("raw", "reconstructed")]
    for label, v in rows:
        print(f"{label:<13}" + "".join(f"{v[r][k]:14.3f}" for r, k in keys))
    t = agg["seconds_per_query"]
    print("seconds per query: " + ", ".join(f"{k[:-2]} {v:.2f}" for k, v in t.items()))


def _pm(value: dict | None) -> str:
    return "" if value is None else f"{value['mean']:.2f} ± {value['std']:.2f}"


def _paper(paper: dict, keys: tuple[str, ...]) -> str:
    return " / ".join((f"{paper[k]:.2f}" if k == "fid" else f"{paper[k][0]:.2f}") if k in paper else "-"
                      for k in keys)


def print_comparison(result: dict) -> None:
    """The comparison table (with the paper's numbers beside ours) and Table 1, as printed by `compare`."""
    print(f"\nFID features: {result['fid_extractor']}")
    head = f"{'variant':<15}{'Top10':>14}{'Top50':>14}{'judge Top10':>14}{'judge Top50':>14}{'FID 3-5':>9}" \
           f"{'repeats':>8}{'  paper Top10 / Top50 / FID':>28}"
    print(head)
    for v, row in result["variants"].items():
        print(f"{v:<15}{_pm(row['oracle_top10']):>14}{_pm(row['oracle_top50']):>14}"
              f"{_pm(row.get('judge_top10')):>14}{_pm(row.get('judge_top50')):>14}{row['fid']['3-5']:>9.2f}"
              f"{row['near_duplicates']:>8}{_paper(row['paper'], ('top10', 'top50', 'fid')):>28}")
    print("repeats: queries whose decoded face is within 2% RMS of an earlier one of the same seed")
    print(f"{TRAINING:<15}{'':>56}{result['fid_training_set']['3-5']:>9.2f}")
    if result["ablation"]:
        print("\nTable 1 (ablation over t)")
        print(f"{'t':>3}  {'variant':<14}{'FID 3-5':>9}{'Top10':>14}{'Top50':>14}{'  paper FID / Top10 / Top50':>30}")
        for entry in result["ablation"]:
            row = result["variants"][entry["variant"]]
            print(f"{entry['t']:>3}  {entry['variant']:<14}{row['fid']['3-5']:>9.2f}{_pm(row['oracle_top10']):>14}"
                  f"{_pm(row['oracle_top50']):>14}{_paper(row['paper'], ('fid', 'top10', 'top50')):>30}")
