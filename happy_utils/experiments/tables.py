"""The tables the command line prints: one run's Top-K per seed, and the comparison with the paper's numbers.

Why: a result is read first on the console; the same tables, from the same JSON, whether the runs were just made or
read back.
"""

from __future__ import annotations

import functools

#: The name of the restricted training set's row in every comparison.
TRAINING = "restricted training set"


def print_run_table(summary: dict) -> None:
    """Top10 / Top50 / best per seed and their mean, by the oracle and the judge, beside the training set's (n/a: a
    seed with fewer unique queries than K has no Top-K)."""
    ref, agg = summary["restricted_reference"], summary["aggregate"]
    roles = [r for r in ("oracle", "judge") if r in agg]
    keys = [(r, k) for r in roles for k in ("top10", "top50", "best")]
    print("\n" + f"{'':<13}" + "".join(f"{(r + ' ' + k)[:13]:>14}" for r, k in keys) +
          ("" if "realism" not in agg else f"{'pass':>8}{'valid':>7}{'valid Top10':>13}{'valid true':>12}"))
    rows = [(f"seed {s}", v) for s, v in summary["per_seed"].items()]
    rows += [("mean", {r: {k: v["mean"] for k, v in agg[r].items()} for r in roles})]
    rows += [(f"train {name[:5]}", ref[name]) for name in ("raw", "reconstructed")]
    for label, v in rows:
        line = f"{label:<13}" + "".join(f"{'n/a' if v[r][k] is None else format(v[r][k], '.3f'):>14}" for r, k in keys)
        if "realism" in v:
            valid, true = v["realism"]["valid_oracle"], v["realism"]["valid_true_degree"]["best"]
            shown = "n/a" if valid["top10"] is None else f"{valid['top10']:.3f}"
            line += (f"{v['realism']['pass_fraction']:8.2f}{valid['n']:>7}{shown:>13}"
                     f"{'n/a' if true is None else format(true, '.3f'):>12}")
        print(line)
    fid = summary["quality"]["fid"]
    for key, name in summary["quality"]["extractors"].items():
        print(f"FID against degrees 3-5 / 3 / 4 / 5, {name}: " +
              " / ".join(f"{value:.1f}" for value in fid[key][summary['variant']].values()))
    t = agg["seconds_per_query"]
    print("seconds per query: " + ", ".join(f"{k[:-2]} {v:.2f}" for k, v in t.items()))


def pm(value: dict | None, spec: str = ".2f", scale: float = 1.0, compact: bool = False) -> str:
    """A figure over seeds (`metrics.interval`), the one way every table and the README print it: "mean ± the 95%
    confidence interval's half-width" (the mean alone where one seed gives no interval); "n/a" with how many seeds
    have it where some lack it (a valid Top-K of a seed with fewer than K valid queries); "-" for no figure.
    `compact`: the printed tables' narrow "n/a (n/N)"."""
    if not value:
        return "-"
    if value.get("mean") is None:
        if not value.get("seeds"):
            return "n/a"
        return f"n/a ({value['n']}/{value['seeds']})" if compact else f"n/a ({value['n']} of {value['seeds']} seeds)"
    shown = f"{value['mean'] * scale:{spec}}"
    return shown if value.get("ci95") is None else f"{shown} ± {value['ci95'] * scale:{spec}}"


def _paper(paper: dict, keys: tuple[str, ...]) -> str:
    return " / ".join((f"{paper[k]:.2f}" if k == "fid" else f"{paper[k][0]:.2f}") if k in paper else "-"
                      for k in keys)


def _realism(row: dict, part: str, key: str) -> dict | None:
    return ((row.get("realism") or {}).get(part) or {}).get(key)


def _share(row: dict, part: str = "realism") -> str:
    """The pooled pass fraction (of the queries, or of the t = 0 control's reconstructions) with its Wilson 95%
    interval."""
    p = (row.get(part) or {}).get("pass")
    return "-" if p is None else f"{p['fraction']:.2f} [{p['wilson95'][0]:.2f},{p['wilson95'][1]:.2f}]"


def comparison_text(result: dict) -> str:
    """The comparison table (with the paper's numbers beside ours) and Table 1, as `compare` prints it and writes it
    beside `comparison.json` (notebook 06 reads it there)."""
    short = functools.partial(pm, compact=True)
    extractors = result["fid_extractors"]
    fid_keys = [k for k in ("inception", "world") if k in extractors]
    fids = "".join(f"{k[:5] + ' FID':>11}" for k in fid_keys)
    head = (f"{'variant':<17}{'t':>3}{'Top10':>13}{'Top50':>13}{'valid Top10':>13}{'valid Top50':>13}"
            f"{'pass [Wilson]':>16}{'valid true':>13}{'control t=0':>16}{fids}{'judge Top10':>13}{'repeats':>8}"
            f"{'  paper Top10 / Top50 / FID':>28}")
    lines = ["", "FIDs against degrees 3-5: " + "; ".join(f"{k}: {name}" for k, name in extractors.items()), head]
    for v, row in result["variants"].items():
        lines.append(f"{v:<17}{row['t']:>3}{short(row['oracle']['top10']):>13}{short(row['oracle']['top50']):>13}"
                     f"{short(_realism(row, 'valid_oracle', 'top10')):>13}"
                     f"{short(_realism(row, 'valid_oracle', 'top50')):>13}{_share(row):>16}"
                     f"{short(_realism(row, 'valid_true_degree', 'best')):>13}{_share(row, 'control'):>16}"
                     + "".join(f"{row['fid'][k]['3-5']:>11.1f}" for k in fid_keys) +
                     f"{short((row.get('judge') or {}).get('top10')):>13}{row['near_duplicates']:>8}"
                     f"{_paper(row['paper'], ('top10', 'top50', 'fid')):>28}")
    training = result["training_set"]
    passed = training.get("realism_pass_fraction")
    lines.append(f"{TRAINING:<17}{'':>55}{'' if passed is None else f'{passed:.2f}':>16}{'':>29}"
                 + "".join(f"{training['fid'][k]['3-5']:>11.1f}" for k in fid_keys))
    lines.append("mean ± 95% confidence interval over seeds; valid: over the queries that pass realism (n/a (k/n): "
                 "only k of n seeds have 10 valid queries); pass: pooled, with its Wilson 95% interval; valid true: "
                 "the best valid query's true degree (its re-render's); control t=0: the pretrained generator's "
                 "reconstructions of the queries' base faces that pass; repeats: queries within 2% RMS of an earlier "
                 "face of the same seed")
    lines += [f"note: {note}" for note in result["fid_notes"][:3]]
    if result["ablation"]:
        lines += ["", "Table 1 (ablation over t)",
                  f"{'t':>3}  {'variant':<14}{fids}{'Top10':>13}{'Top50':>13}{'valid Top10':>13}{'pass [Wilson]':>16}"
                  f"{'  paper FID / Top10 / Top50':>30}"]
        for entry in result["ablation"]:
            row = result["variants"][entry["variant"]]
            lines.append(f"{entry['t']:>3}  {entry['variant']:<14}"
                         + "".join(f"{row['fid'][k]['3-5']:>11.1f}" for k in fid_keys)
                         + f"{short(row['oracle']['top10']):>13}{short(row['oracle']['top50']):>13}"
                         f"{short(_realism(row, 'valid_oracle', 'top10')):>13}{_share(row):>16}"
                         f"{_paper(row['paper'], ('fid', 'top10', 'top50')):>30}")
    return "\n".join(lines)
