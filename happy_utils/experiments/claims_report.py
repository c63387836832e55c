"""The claims' tables and figures, drawn from the committed summaries alone (`results/PRESET/*.json`).

Why: the README, the docs and notebook 06 show the same numbers; they regenerate from a few kilobytes of JSON in
seconds, without the runs (hours of CPU) that made them: `python -m happy_utils claims --report`. The verdicts are
prose written once beside the summaries (`verdicts.md`), whose every figure is a field read from them, so that the
README's section and the notebook cannot quote other numbers than the summaries hold.
"""

from __future__ import annotations

import re
import string
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .. import metrics
from ..files import write_text
from . import beyond
from .claims import LEVEL_4, PAIR, read_results
from .tables import pm

FID_KEYS = ("inception", "world")


def _share(p: dict | None) -> str:
    """A pooled proportion: count of n, the fraction and its Wilson 95% interval [low, high]."""
    if not p:
        return "-"
    low, high = p["wilson95"]
    return f"{p['count']} of {p['n']}: {p['fraction']:.1%} [{low:.1%}, {high:.1%}]"


def p_value(p: float | None) -> str:
    """Every p-value of the report in one format: three significant digits (below 1e-5: "< 1e-5", as summaries
    written before small values kept their digits hold 0 there)."""
    return "-" if p is None else "< 1e-5" if p < 1e-5 else f"{p:.3g}"


def _valid_topk(realism: dict, key: str) -> str:
    """A valid Top-K over seeds, or "n/a (m valid)" with each seed's count of valid queries when one has fewer than
    K."""
    value = realism["valid_oracle"][key]
    if value["mean"] is not None:
        return pm(value)
    return f"n/a ({', '.join(map(str, realism['valid_per_seed']))} valid)"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def comparison_table(comparison: dict) -> str:
    """Per variant: Top10 / Top50 by the oracle (every query) and the judge's Top10; the restricted training set's."""
    rows = [[f"`{v}`", str(row["t"]), pm(row["oracle"]["top10"]), pm(row["oracle"]["top50"]),
             pm((row.get("judge") or {}).get("top10"))] for v, row in comparison["variants"].items()]
    ref = comparison["restricted_reference"]["raw"]["oracle"]
    rows.append(["restricted training set", "", f"{ref['top10']:.2f}", f"{ref['top50']:.2f}", ""])
    return _table(["variant", "t", "Top10", "Top50", "judge Top10"], rows)


def valid_table(comparison: dict) -> str:
    """Per variant: its valid queries (they pass realism) beside the t = 0 control (the generator's reconstructions
    of the same base faces): how many pass (pooled, Wilson interval), per seed, the valid Top10 (n/a unless every
    seed has 10), the best valid query per seed by the oracle and by its true degree, the mean of the valid
    queries, the control's pass share (pretrained; fine-tuned at each seed's end where measured) and the ratio."""
    rows = []
    for v, row in comparison["variants"].items():
        r, vs = row["realism"], row.get("valid_vs_control") or {}
        ratio = vs.get("ratio")
        rows.append([f"`{v}`", _share(r["pass"]), ", ".join(map(str, r["valid_per_seed"])), _valid_topk(r, "top10"),
                     pm(r["valid_oracle"]["best"]), pm(r["valid_true_degree"]["best"]),
                     pm(r["valid_oracle"]["mean"]), _share((row.get("control") or {}).get("pass")),
                     "-" if ratio is None else f"{ratio:.2f}",
                     _share((row.get("control_tuned") or {}).get("pass")) if row.get("control_tuned") else "n/a"])
    training = comparison["training_set"]["realism"]["pass"]
    rows.append(["restricted training set (draws)", _share(training), "", "", "", "", "", "", "", ""])
    return _table(["variant", "valid queries", "valid per seed", "valid Top10", "best valid (oracle)",
                   "best valid (true degree)", "mean valid (oracle)", "control t = 0: reconstructions pass",
                   "valid / control", "control, fine-tuned generator"], rows)


def quality_table(comparison: dict) -> str:
    """Per variant: Inception and world FID and KID of one seed's queries against degrees 3-5 (KID x 10^3), and the
    restricted training set's (draws of as many faces)."""
    def kid(row: dict, key: str) -> str:
        return "n/a" if row.get("kid") is None else pm(row["kid"][key]["3-5"], ".2f", 1e3)

    rows = [[f"`{v}`", *[pm(row["fid"][k]["3-5"], ".1f") for k in FID_KEYS], *[kid(row, k) for k in FID_KEYS]]
            for v, row in comparison["variants"].items()]
    training = comparison["training_set"]
    rows.append(["restricted training set", *[pm(training["fid"][k]["3-5"], ".1f") for k in FID_KEYS],
                 *[kid(training, k) for k in FID_KEYS]])
    notes = sorted({row["kid_note"] for row in comparison["variants"].values() if row.get("kid_note")})
    return _table(["variant", "Inception FID 3-5", "world FID 3-5", "Inception KID ×10³ 3-5", "world KID ×10³ 3-5"],
                  rows) + "".join(f"\n\nKID {note}." for note in notes)


def quality_pairs_table(claims: dict) -> str:
    """Paired quality tests of every variant against the headline one, on the seeds they share."""
    rows = []
    for name, q in claims["paired_quality"].items():
        kid = q["kid"].get("inception")
        rows.append([f"`{name}`", f"{q['bases_shared']} of {len(q['seeds'])}", pm(q["pass"], ".3f"),
                     p_value(q["pass"]["p_t"]), p_value(q["pass"]["p_sign_flip"]), p_value(q["fisher"]["p"]),
                     f"{pm(q['fid']['inception'], '.1f')} (p {p_value(q['fid']['inception']['p_t'])})",
                     f"{pm(q['fid']['world'], '.1f')} (p {p_value(q['fid']['world']['p_t'])})",
                     "n/a" if kid is None else f"{pm(kid, '+.2f', 1e3)} (p {p_value(kid['p_t'])})"])
    return _table(["A - B", "same base faces (seeds)", "valid share, paired", "paired t p", "sign-flip p",
                   "Fisher exact p (pooled)", "Inception FID", "world FID", "Inception KID ×10³"], rows)


def fid_by_degree_table(comparison: dict) -> str:
    """Mean FIDs over seeds against each unseen degree alone."""
    def means(fid: dict, key: str) -> str:
        return " / ".join(f"{fid[key][d]['mean']:.1f}" for d in ("3", "4", "5"))

    rows = [[f"`{v}`", *[means(row["fid"], k) for k in FID_KEYS]] for v, row in comparison["variants"].items()]
    rows.append(["restricted training set", *[means(comparison["training_set"]["fid"], k) for k in FID_KEYS]])
    return _table(["variant", "Inception FID vs 3 / 4 / 5", "world FID vs 3 / 4 / 5"], rows)


def paired_table(claims: dict) -> str:
    """The pair's difference (A - B) at each checkpoint, with its interval and both tests."""
    paired = claims["paired"]
    rows = []
    for key, tests in paired["tests"].items():
        for q, t in tests.items():
            rows.append([key.replace("top", "Top"), q, pm(t, ".3f"), p_value(t["p_t"]), p_value(t["p_sign_flip"]),
                         f"{t['wins']} of {t['n']}"])
    return _table([f"{PAIR[0]} - {PAIR[1]}", "queries", "difference (95% CI)", "paired t-test p",
                   "sign-flip p", f"seeds {PAIR[0]} wins"], rows)


def weighting_table(claims: dict) -> str:
    why = claims["why_weighted_retraining"]
    rows = [[name, f"{m['first']:.3g}", f"{m['later']:.3g}"] for name, m in (
        ("data points N", why["mean"]["data_size"]), ("fine-tune steps", why["mean"]["steps"]),
        ("weight of the top 1%", why["mean"]["top_1pct"]), ("weight of the top 10%", why["mean"]["top_10pct"]),
        ("effective sample size / N", why["mean"]["ess_fraction"]),
        ("reconstruction loss after", why["mean"]["recon"]))]
    drift = why["generator_drift"]
    text = _table(["rank weights (k = %g) and fine-tunes" % why["k"], "first retraining", "later ones"], rows)
    return text + (f"\n\nBy the end of the runs, {pm(drift['codes_changed'], '.3f')} of the latent cells of "
                   f"{drift['faces']} restricted faces encode to another code than under the pretrained VQ-VAE; "
                   f"the reconstructions of the restricted set's {drift['best']} best faces score "
                   f"{pm(drift['best_reconstruction_score'])} with the fine-tuned VQ-VAEs against "
                   f"{drift['best_reconstruction_score_pretrained']:.2f} with the pretrained one "
                   f"(the faces themselves: {drift['best_raw_score']:.2f}).")


def tradeoff_table(claims: dict) -> str:
    rows = [[str(r["t"]), f"`{r['variant']}`", pm(r["top10"]), _share(r["pass"]),
             ", ".join(map(str, r["valid_per_seed"])),
             pm(r["valid_top10"]) if r["valid_top10"]["mean"] is not None else "n/a",
             pm(r["valid_best"]), pm(r["valid_true_best"]), _share(r["control_pass"]),
             *[pm(r["fid"][k], ".1f") for k in FID_KEYS],
             "n/a" if r["kid"] is None else pm(r["kid"]["inception"], ".2f", 1e3)] for r in claims["tradeoff"]]
    return _table(["t", "variant", "Top10", "valid queries", "valid per seed", "valid Top10", "best valid (oracle)",
                   "best valid (true degree)", "control t = 0 passes", "Inception FID 3-5", "world FID 3-5",
                   "Inception KID ×10³"], rows)


def ceiling_table(claims: dict) -> str:
    """Per variant (and the pair over its long run): the best realistic query, the best reading of any query,
    level-4 counts; above it, the training set's exact degrees beside the inverse network's readings of them."""
    rows = []
    long = claims["plan"]["long_budget"]
    entries = [(v, c, claims["surrogate_reach"].get(v)) for v, c in claims["ceiling"].items()]
    entries += [(f"{v}, {long} queries", c, None) for v, c in claims.get("ceiling_long", {}).items()]
    for v, c, reach in entries:
        best = c.get("best_realistic")
        rows.append([f"`{v}`", f"{c['passed']} of {c['queries']}",
                     "-" if best is None else f"{best['true_degree']:.2f} (oracle {best['oracle']:.2f}, seed "
                                              f"{best['seed']} query {best['query']})",
                     f"{c['best_reading_any']['true_degree']:.2f}", str(c["level4_realistic"]),
                     f"{c['level4_reading_any']} of {c['queries']}",
                     "-" if reach is None else f"{reach['above_best_so_far']:.2f}"])
    t, r = claims["training_true_degree"], claims["training_reading"]
    return (f"The restricted training set ({r['faces']} faces): exact true degrees Top10 {t['top10']:.2f}, best "
            f"{t['best']:.2f}; the inverse network's reading of the same faces (as a query's true degree is read) "
            f"Top10 {r['reading_any']['top10']:.2f}, best {r['reading_any']['best']:.2f} (of the "
            f"{r['pass']['count']} that pass realism: Top10 {r['reading_valid']['top10']:.2f}, best "
            f"{r['reading_valid']['best']:.2f}); the oracle's scores Top10 {r['oracle']['top10']:.2f}, best "
            f"{r['oracle']['best']:.2f}.\n\n" +
            _table(["variant", "realistic queries", "best realistic: true degree", "best reading (any query)",
                    f"realistic with true degree >= {LEVEL_4}", f"any query read >= {LEVEL_4}",
                    "surrogate aims above the best so far"], rows))


def surrogate_table(claims: dict) -> str:
    rows = []
    for v, r in claims["surrogate_reach"].items():
        corr = r.get("prediction_oracle_correlation")
        rows.append([f"`{v}`", pm(r["prediction"]), pm(r["oracle"]), f"{r['prediction_minus_oracle']:.2f}",
                     f"{r['above_best_so_far']:.2f}", "-" if corr is None else f"{corr:.2f}"])
    return _table(["variant", "trees' prediction at the MIO's optimum", "oracle's score of the query",
                   "overshoot", "aims above the best so far", "correlation"], rows)


def decoder_table(claims: dict) -> str:
    rows = []
    for kind, levels in claims["decoder_reach"].items():
        for level, r in levels.items():
            kept = "-" if r["level4_kept"] is None else f"{r['level4_kept']:.2f}"
            valid = r["reconstruction_true_degree_valid"]
            rows.append([kind, level, str(r["faces"]), f"{r['true_degree']:.2f}", _share(r["pass"]),
                         "-" if valid is None else f"{valid:.2f}", f"{r['reconstruction_reading_any']:.2f}",
                         f"{r['oracle_original']:.2f} / {r['oracle_reconstruction']:.2f}", kept])
    return _table(["generator", "unseen level", "faces", "true degree", "reconstructions pass",
                   "their true degree (passing)", "reading (any reconstruction)", "oracle: face / reconstruction",
                   f"level-4 smiles kept (true >= {LEVEL_4}, passing)"], rows)


def beyond_table(claims: dict) -> str:
    """The issue-30 goals of the paper's `vqvae-wr` and each guarded variant in the claims (`beyond.goals`)."""
    return beyond.table({"restricted_top10": claims["training_best"]["top10"], "variants": claims["beyond"]})


def tables(results: dict) -> str:
    """Every table of the claims, as markdown."""
    comparison, claims = results["comparison"], results["claims"]
    plan = claims["plan"]
    parts = [f"Command: `{plan['command']}` ({len(plan['seeds'])} seeds; the comparison at {plan['budget']} queries, "
             f"the pair at {plan['long_budget']}). Mean ± 95% confidence interval over seeds; every FID is one seed's "
             f"{plan['budget']} queries against the unseen faces of degrees 3-5 (or one degree), biased upwards by "
             "the few faces alike for every row: compare FIDs only with each other.",
             "### The comparison: scores\n\n" + comparison_table(comparison),
             "### Valid queries and the t = 0 control\n\nA query is valid when it passes realism; its true degree "
             "is the re-render's. Top-K of the valid queries is the K-th best valid query of a seed, n/a (with each "
             "seed's count) unless every seed has K. The control: the same generator's plain reconstructions of the "
             "base faces the queries started from (no cell changed).\n\n" + valid_table(comparison),
             "### Image quality: FID and KID\n\n" + quality_table(comparison),
             "### FID against each unseen degree (mean over seeds)\n\n" + fid_by_degree_table(comparison),
             f"### Weighted retraining against none, paired over seeds ({plan['long_budget']} queries)\n\n"
             + paired_table(claims),
             f"### Image quality, paired over seeds ({plan['budget']} queries): {PAIR[0]} against each variant\n\n"
             + quality_pairs_table(claims),
             "### Why: the rank weights and the fine-tunes\n\n" + weighting_table(claims),
             "### The t trade-off\n\n" + tradeoff_table(claims),
             "### The ceiling: the best realistic query per variant\n\n" + ceiling_table(claims),
             "### How far the trees aim\n\n" + surrogate_table(claims),
             "### Can the generators represent a realistic level-4 smile?\n\n" + decoder_table(claims)]
    if len(claims.get("beyond", {})) > 1:
        parts.append("### Beyond the paper: the guarded searches against the goals\n\nOver each seed's first "
                     f"{plan['budget']} queries: the valid share pooled (goal {beyond.VALID_SHARE:.0%}), the seeds "
                     "with a "
                     f"realistic level-4 smile (valid, true degree >= {beyond.LEVEL_4}), each seed's best valid true "
                     f"degree (goal >= {beyond.BEST_VALID_TRUE}), the valid queries' oracle Top10 (goal: above the "
                     "restricted set's).\n\n" + beyond_table(claims))
    return "\n\n".join(parts) + "\n"


def figures(results: dict) -> dict[str, plt.Figure]:
    """Top-K curves of every variant, the pair's paired difference with its band, the t trade-off, the ceiling
    (named as in FIGURES)."""
    comparison, claims = results["comparison"], results["claims"]
    out = {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, key in zip(axes, ("top10", "top50")):
        for v, curves in comparison["topk_curves"].items():
            mean, std = np.array(curves[key]["mean"]), np.array(curves[key]["std"])
            q = np.arange(1, len(mean) + 1)
            ax.plot(q, mean, label=v)
            ax.fill_between(q, mean - std, mean + std, alpha=0.12)
        ax.axhline(comparison["restricted_reference"]["raw"]["oracle"][key], color="k", ls="--", lw=1,
                   label="restricted training set")
        ax.set(xlabel="queries", ylabel=f"{key.replace('top', 'Top')} (oracle)", title=f"{key.replace('top', 'Top')}"
               " over the queries (mean ± sd over seeds)")
    axes[1].legend(fontsize=7, title=metrics.CURVE_CONVENTION, title_fontsize=7)
    fig.tight_layout()
    out["claims_topk"] = fig

    paired = claims["paired"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, key in zip(axes, ("top10", "top50")):
        d = paired["difference"][key]
        mean = np.array(d["mean"])
        half = np.array([np.nan if h is None else h for h in d["ci95"]])
        q = np.arange(1, len(mean) + 1)
        ax.plot(q, mean, color="C0", label="mean difference over seeds")
        ax.fill_between(q, mean - half, mean + half, alpha=0.25, color="C0", label="95% confidence band")
        ax.axhline(0, color="k", lw=1)
        for qq, t in paired["tests"][key].items():
            ax.annotate(f"p={p_value(t['p_t'])}" if t["p_t"] is not None else "", (int(qq), t["mean"]), fontsize=8,
                        textcoords="offset points", xytext=(-20, 8))
        ax.set(xlabel="queries", ylabel=f"{key.replace('top', 'Top')}: {PAIR[0]} - {PAIR[1]}",
               title=f"paired difference, {len(paired['seeds'])} seeds")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out["claims_paired"] = fig

    rows = claims["tradeoff"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, name in zip(axes, FID_KEYS, ("Inception FID", "world FID")):
        unplotted = []
        for r in rows:
            fid, y = r["fid"].get(key), r["valid_best"]
            if not fid or not y or fid["mean"] is None or y["mean"] is None:
                unplotted.append(f"t = {r['t']}")
                continue
            ax.errorbar(fid["mean"], y["mean"], xerr=fid["ci95"], yerr=y["ci95"], fmt="o", capsize=3,
                        label=f"t = {r['t']}")
            ax.annotate(f"t={r['t']}", (fid["mean"], y["mean"]), textcoords="offset points", xytext=(5, 5))
        ax.set(xlabel=f"{name} of one seed's queries vs degrees 3-5 (lower: better)",
               ylabel="best valid query per seed (oracle)", title=f"t trade-off: score against {name}")
        if unplotted:
            ax.text(0.98, 0.02, f"a seed has no valid query: {', '.join(dict.fromkeys(unplotted))}", ha="right",
                    fontsize=8, transform=ax.transAxes)
    fig.tight_layout()
    out["claims_tradeoff"] = fig

    fig, ax = plt.subplots(figsize=(13, 3.8))
    names = list(claims["ceiling"])
    best = [(claims["ceiling"][v].get("best_realistic") or {}).get("true_degree", np.nan) for v in names]
    any_ = [claims["ceiling"][v]["best_reading_any"]["true_degree"] for v in names]
    x = np.arange(len(names))
    ax.bar(x - 0.2, best, 0.4, label="best realistic query: its true degree")
    ax.bar(x + 0.2, any_, 0.4, label="best reading of any query (realistic or not)", alpha=0.6)
    ax.axhline(LEVEL_4, color="C3", ls="--", label=f"realistic level-4 smile ({LEVEL_4})")
    exact, read = claims["training_true_degree"]["best"], claims["training_reading"]["reading_valid"]["best"]
    ax.axhline(exact, color="k", ls=":", label=f"the restricted training set's best: exact ({exact:.2f})")
    ax.axhline(read, color="k", ls="-.", label=f"... and the best reading of its faces that pass ({read:.2f})")
    ax.set_xticks(x, names, rotation=20, fontsize=8)
    ax.set(ylabel="smile degree of the re-render", title="The ceiling: how far each variant's best query smiles")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out["claims_ceiling"] = fig
    return out


FIGURES = ("claims_topk", "claims_paired", "claims_tradeoff", "claims_ceiling")
#: The verdicts' prose, beside the summaries it quotes.
VERDICTS = "verdicts.md"
#: The repository README's generated section: the committed laptop claims.
README_RESULTS = Path("results") / "laptop"
README_BEGIN = (f"<!-- claims: generated by `python -m happy_utils claims --report` from {README_RESULTS.as_posix()}; "
                f"edit {(README_RESULTS / VERDICTS).as_posix()}, not here -->")
README_END = "<!-- claims: end -->"
#: The README's "Beyond the paper" section, its prose in results/laptop/beyond.md (fields as in the verdicts).
BEYOND_PROSE = "beyond.md"
BEYOND_BEGIN = (f"<!-- beyond: generated by `python -m happy_utils claims --report` from {README_RESULTS.as_posix()}; "
                f"edit {(README_RESULTS / BEYOND_PROSE).as_posix()}, not here -->")
BEYOND_END = "<!-- beyond: end -->"


class _SummaryFields(string.Formatter):
    """Fields are dotted paths into the summaries, `{claims.paired.tests.top10.300.p_t:.3f}` (list items by their
    index); an interval (mean, ci95) with a format ending in ± reads "mean ± half-width", `{...top10:.2f±}`; a
    p-value with the format `p` reads "p = 0.0123" (or "p < 1e-5"), in the report's one format (`p_value`); a pooled
    proportion with `share` reads "count of n: fraction [Wilson interval]"; a value the runs could not measure (None)
    reads "n/a"."""

    def __init__(self, results: dict, source: Path):
        super().__init__()
        self.results, self.source = results, source

    def get_field(self, field_name: str, args, kwargs):
        value = self.results
        for part in field_name.split("."):
            try:
                value = value[int(part)] if isinstance(value, list) else value[part]
            except (KeyError, IndexError, TypeError, ValueError):
                raise ValueError(f"{self.source}: {{{field_name}}} names no figure of the summaries (no {part!r} "
                                 "there); a field is a dotted path into comparison.json or claims.json, e.g. "
                                 "{claims.paired.tests.top10.300.p_t:.3f}") from None
        return value, field_name

    def format_field(self, value, format_spec: str) -> str:
        if format_spec == "p":
            shown = p_value(value)
            return f"p {shown}" if shown.startswith("<") else f"p = {shown}"
        if format_spec == "share":
            return _share(value)
        if isinstance(value, dict) and format_spec.endswith("±"):
            return pm(value, format_spec[:-1])
        return "n/a" if value is None else super().format_field(value, format_spec)


def verdicts(results: dict, template: Path) -> str:
    """The claims' verdicts: the prose of `template` (written for the runs that made the summaries) with every
    figure read from the summaries, each paragraph (and list item) wrapped again to the README's width, tables
    kept as they are."""
    text = _SummaryFields(results, Path(template)).format(Path(template).read_text())
    return "\n\n".join(_rewrapped(block) for block in text.split("\n\n") if block.strip()) + "\n"


def _rewrapped(block: str) -> str:
    """A paragraph wrapped to the README's width; a table or a fenced code block kept line by line; a list wrapped
    item by item."""
    lines = block.strip().splitlines()
    if lines[0].startswith(("|", "```")):
        return "\n".join(line.rstrip() for line in lines)
    if lines[0].startswith("- "):
        items = re.split(r"\n(?=- )", block.strip())
        return "\n".join(textwrap.fill(" ".join(item.split()), width=117, subsequent_indent="  ",
                                        break_on_hyphens=False) for item in items)
    return textwrap.fill(" ".join(block.split()), width=117, break_on_hyphens=False)


def page(results: dict, verdict_template: Path) -> str:
    """The results folder's README: the verdicts (when the folder has them), the tables, the figures beside them."""
    plan = results["claims"]["plan"]
    shown = "\n\n".join(f"![{name}](figures/{name}.png)" for name in FIGURES)
    judged = "## Verdicts\n\n" + verdicts(results, verdict_template) + "\n" if Path(verdict_template).exists() else ""
    return (f"# The paper's claims at the {plan['preset']} preset ({plan['source']})\n\n"
            "Generated by `python -m happy_utils claims --report` from `comparison.json` and `claims.json` in this "
            f"folder (the runs' summaries) and the verdicts' prose in `{VERDICTS}`.\n\n"
            + judged + "## Tables\n\n" + tables(results) + "\n## Figures\n\n" + shown + "\n")


def readme_section(results: dict, folder: Path, readme: Path) -> str:
    """The repository README's claims section: the verdicts, the comparison (scores, valid queries beside the
    control, FID and KID), the pair's paired tests on score and quality, the figures; the other tables are linked
    (`folder`: the summaries' folder, its links relative to `readme`)."""
    link = Path(folder).resolve().relative_to(Path(readme).resolve().parent).as_posix()
    claims = results["claims"]
    shown = "\n\n".join(f"![{name}]({link}/figures/{name}.png)" for name in FIGURES)
    return "\n\n".join([
        README_BEGIN, verdicts(results, Path(folder) / VERDICTS).strip(),
        f"The comparison at {claims['plan']['budget']} queries (mean ± 95% interval over seeds):",
        comparison_table(results["comparison"]),
        ("Valid queries (they pass realism) beside the t = 0 control (the generator's reconstructions of the same "
         "base faces); a valid Top10 is n/a, with each seed's count, unless every seed has 10 valid queries:"),
        valid_table(results["comparison"]), quality_table(results["comparison"]),
        f"Weighted retraining against none, paired over the seeds, {claims['plan']['long_budget']} queries:",
        paired_table(claims), f"Image quality, paired over the seeds ({claims['plan']['budget']} queries):",
        quality_pairs_table(claims), shown,
        f"Every table (FIDs against each degree, the rank weights, the t trade-off, the ceiling, the trees' and the "
        f"generators' reach): [{link}/README.md]({link}/README.md).", README_END])


def beyond_section(results: dict, folder: Path, readme: Path) -> str:
    """The repository README's "Beyond the paper" section: the prose of `folder/beyond.md` with its figures read
    from the summaries, the goals table, the best realistic queries' picture."""
    link = Path(folder).resolve().relative_to(Path(readme).resolve().parent).as_posix()
    picture = Path(folder) / "figures" / "beyond_best_valid.png"
    return "\n\n".join([BEYOND_BEGIN, verdicts(results, Path(folder) / BEYOND_PROSE).strip(),
                        beyond_table(results["claims"])]
                       + ([f"![beyond_best_valid]({link}/figures/beyond_best_valid.png)"] if picture.exists() else [])
                       + [BEYOND_END])


def replace_readme_section(readme: Path, section: str, begin_mark: str = README_BEGIN, end_mark: str = README_END
                           ) -> None:
    """Put `section` in place of the README's section between the markers, markers included (both must be there)."""
    text = Path(readme).read_text()
    begin, end = text.find(begin_mark), text.find(end_mark)
    if begin < 0 or end < begin:
        raise ValueError(f"{readme} lacks a section's markers; put the lines {begin_mark!r} and {end_mark!r} where "
                         "it belongs")
    write_text(Path(readme), text[:begin] + section + text[end + len(end_mark):])


def write_report(results_dir: Path, readme: Path | None = None) -> str:
    """Regenerate `README.md` (verdicts and tables) and `figures/*.png` beside a results folder's summaries, and
    the claims section of `readme` if given; returns the tables."""
    folder = Path(results_dir)
    results = read_results(folder)
    write_text(folder / "README.md", page(results, folder / VERDICTS))
    (folder / "figures").mkdir(exist_ok=True)
    for name, fig in figures(results).items():
        fig.savefig(folder / "figures" / f"{name}.png", dpi=90)
        plt.close(fig)
    if readme is not None:
        replace_readme_section(readme, readme_section(results, folder, readme))
        if (folder / BEYOND_PROSE).exists() and len(results["claims"].get("beyond", {})) > 1:
            replace_readme_section(readme, beyond_section(results, folder, readme), BEYOND_BEGIN, BEYOND_END)
    return tables(results)
