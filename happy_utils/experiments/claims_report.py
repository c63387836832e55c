"""The claims' tables and figures, drawn from the committed summaries alone (`results/PRESET/*.json`).

Why: the README, the docs and notebook 06 show the same numbers; they regenerate from a few kilobytes of JSON in
seconds, without the runs (hours of CPU) that made them: `python -m happy_utils claims --report`. The verdicts are
prose written once beside the summaries (`verdicts.md`), whose every figure is a field read from them, so that the
README's section and the notebook cannot quote other numbers than the summaries hold.
"""

from __future__ import annotations

import string
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..files import write_text
from .claims import LEVEL_4, PAIR, read_results

FID_KEYS = ("inception", "world")


def _pm(value: dict | None, digits: int = 2) -> str:
    """mean ± 95% interval half-width."""
    if not value or value.get("mean") is None:
        return "-"
    return f"{value['mean']:.{digits}f} ± {value['ci95']:.{digits}f}" if value.get("ci95") is not None \
        else f"{value['mean']:.{digits}f}"


def _realism(row: dict, part: str, key: str = "top10") -> dict | None:
    realism = row.get("realism") or {}
    return realism.get("pass_fraction") if part == "pass_fraction" else (realism.get(part) or {}).get(key)


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def comparison_table(comparison: dict) -> str:
    """Per variant: Top10 / Top50 and their valid (realism-passing) versions, pass fraction, the re-renders' true
    Top10, Inception and world FID of one seed's queries against degrees 3-5, the judge's Top10; and the restricted
    training set (its FIDs from draws of as many faces as a seed has)."""
    rows = []
    for v, row in comparison["variants"].items():
        rows.append([f"`{v}`", str(row["t"]), _pm(row["oracle"]["top10"]), _pm(row["oracle"]["top50"]),
                     _pm(_realism(row, "valid_oracle")), _pm(_realism(row, "valid_oracle", "top50")),
                     _pm(_realism(row, "pass_fraction", "")), _pm(_realism(row, "true_degree")),
                     *[_pm(row["fid"][k]["3-5"], 1) for k in FID_KEYS], _pm((row.get("judge") or {}).get("top10"))])
    training = comparison["training_set"]
    rows.append(["restricted training set", "", f"{comparison['restricted_reference']['raw']['oracle']['top10']:.2f}",
                 f"{comparison['restricted_reference']['raw']['oracle']['top50']:.2f}", "", "",
                 f"{training['realism_pass_fraction']:.2f}", "", *[_pm(training["fid"][k]["3-5"], 1) for k in FID_KEYS],
                 ""])
    return _table(["variant", "t", "Top10", "Top50", "valid Top10", "valid Top50", "pass", "true Top10",
                   "Inception FID 3-5", "world FID 3-5", "judge Top10"], rows)


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
            p_t = "-" if t["p_t"] is None else f"{t['p_t']:.3f}"
            rows.append([key.replace("top", "Top"), q, _pm(t, 3), p_t, f"{t['p_sign_flip']:.3f}",
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
    return text + (f"\n\nBy the end of the runs, {_pm(drift['codes_changed'], 3)} of the latent cells of "
                   f"{drift['faces']} restricted faces encode to another code than under the pretrained VQ-VAE; "
                   f"the reconstructions of the restricted set's {drift['best']} best faces score "
                   f"{_pm(drift['best_reconstruction_score'])} with the fine-tuned VQ-VAEs against "
                   f"{drift['best_reconstruction_score_pretrained']:.2f} with the pretrained one "
                   f"(the faces themselves: {drift['best_raw_score']:.2f}).")


def tradeoff_table(claims: dict) -> str:
    rows = [[str(r["t"]), f"`{r['variant']}`", _pm(r["top10"]), _pm(r["valid_top10"]), _pm(r["true_top10"]),
             _pm(r["pass_fraction"]),
             *[_pm(r["fid"][k], 1) for k in FID_KEYS]] for r in claims["tradeoff"]]
    return _table(["t", "variant", "Top10", "valid Top10", "true Top10", "pass", "Inception FID 3-5",
                   "world FID 3-5"], rows)


def ceiling_table(claims: dict) -> str:
    """Per variant (and the pair over its long run): the best realistic query, the best of all, level-4 counts."""
    rows = []
    long = claims["plan"]["long_budget"]
    entries = [(v, c, claims["surrogate_reach"].get(v)) for v, c in claims["ceiling"].items()]
    entries += [(f"{v}, {long} queries", c, None) for v, c in claims.get("ceiling_long", {}).items()]
    for v, c, reach in entries:
        best = c.get("best_realistic")
        rows.append([f"`{v}`", f"{c['passed']} of {c['queries']}",
                     "-" if best is None else f"{best['true_degree']:.2f} (oracle {best['oracle']:.2f}, seed "
                                              f"{best['seed']} query {best['query']})",
                     f"{c['best_true_degree_any']['true_degree']:.2f}", str(c["level4_realistic"]),
                     str(c["level4_any"]),
                     "-" if reach is None else f"{reach['above_best_so_far']:.2f}"])
    return (f"The restricted training set's true degrees: Top10 {claims['training_true_degree']['top10']:.2f}, best "
            f"{claims['training_true_degree']['best']:.2f}.\n\n" +
            _table(["variant", "realistic queries", "best realistic: true degree", "best true degree (any)",
                    f"realistic with true degree >= {LEVEL_4}", f"any with true degree >= {LEVEL_4}",
                    "surrogate aims above the best so far"], rows))


def surrogate_table(claims: dict) -> str:
    rows = []
    for v, r in claims["surrogate_reach"].items():
        corr = r.get("prediction_oracle_correlation")
        rows.append([f"`{v}`", _pm(r["prediction"]), _pm(r["oracle"]), f"{r['prediction_minus_oracle']:.2f}",
                     f"{r['above_best_so_far']:.2f}", "-" if corr is None else f"{corr:.2f}"])
    return _table(["variant", "trees' prediction at the MIO's optimum", "oracle's score of the query",
                   "overshoot", "aims above the best so far", "correlation"], rows)


def decoder_table(claims: dict) -> str:
    rows = []
    for kind, levels in claims["decoder_reach"].items():
        for level, r in levels.items():
            kept = "-" if r["level4_kept"] is None else f"{r['level4_kept']:.2f}"
            rows.append([kind, level, str(r["faces"]), f"{r['true_degree']:.2f}", f"{r['reconstruction_true_degree']:.2f}",
                         f"{r['pass_fraction']:.2f}", f"{r['oracle_original']:.2f} / {r['oracle_reconstruction']:.2f}",
                         kept])
    return _table(["generator", "unseen level", "faces", "true degree", "reconstruction's true degree",
                   "reconstructions pass", "oracle: face / reconstruction",
                   f"level-4 smiles kept (true >= {LEVEL_4}, passing)"], rows)


def tables(results: dict) -> str:
    """Every table of the claims, as markdown."""
    comparison, claims = results["comparison"], results["claims"]
    plan = claims["plan"]
    parts = [f"Command: `{plan['command']}` ({len(plan['seeds'])} seeds; the comparison at {plan['budget']} queries, "
             f"the pair at {plan['long_budget']}). Mean ± 95% confidence interval over seeds; every FID is one seed's "
             f"{plan['budget']} queries against the unseen faces of degrees 3-5 (or one degree), biased upwards by "
             "the few faces alike for every row: compare FIDs only with each other.",
             "### The comparison\n\n" + comparison_table(comparison),
             "### FID against each unseen degree (mean over seeds)\n\n" + fid_by_degree_table(comparison),
             f"### Weighted retraining against none, paired over seeds ({plan['long_budget']} queries)\n\n"
             + paired_table(claims), "### Why: the rank weights and the fine-tunes\n\n" + weighting_table(claims),
             "### The t trade-off\n\n" + tradeoff_table(claims),
             "### The ceiling: the best realistic query per variant\n\n" + ceiling_table(claims),
             "### How far the trees aim\n\n" + surrogate_table(claims),
             "### Can the generators represent a realistic level-4 smile?\n\n" + decoder_table(claims)]
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
    axes[1].legend(fontsize=7)
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
            ax.annotate(f"p={t['p_t']:.2f}" if t["p_t"] is not None else "", (int(qq), t["mean"]), fontsize=8,
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
            fid, y = r["fid"].get(key), r["valid_top10"]
            if not fid or not y or fid["mean"] is None or y["mean"] is None:
                unplotted.append(f"t = {r['t']}")
                continue
            ax.errorbar(fid["mean"], y["mean"], xerr=fid["ci95"], yerr=y["ci95"], fmt="o", capsize=3,
                        label=f"t = {r['t']}")
            ax.annotate(f"t={r['t']}", (fid["mean"], y["mean"]), textcoords="offset points", xytext=(5, 5))
        ax.set(xlabel=f"{name} of one seed's queries vs degrees 3-5 (lower: better)",
               ylabel="valid Top10 (queries that pass realism)", title=f"t trade-off: score against {name}")
        if unplotted:
            ax.text(0.98, 0.02, f"no query passes realism: {', '.join(dict.fromkeys(unplotted))}", ha="right",
                    fontsize=8, transform=ax.transAxes)
    fig.tight_layout()
    out["claims_tradeoff"] = fig

    fig, ax = plt.subplots(figsize=(10, 3.8))
    names = list(claims["ceiling"])
    best = [(claims["ceiling"][v].get("best_realistic") or {}).get("true_degree", np.nan) for v in names]
    any_ = [claims["ceiling"][v]["best_true_degree_any"]["true_degree"] for v in names]
    x = np.arange(len(names))
    ax.bar(x - 0.2, best, 0.4, label="best realistic query (passes realism)")
    ax.bar(x + 0.2, any_, 0.4, label="best query, realistic or not", alpha=0.6)
    ax.axhline(LEVEL_4, color="C3", ls="--", label=f"realistic level-4 smile ({LEVEL_4})")
    ax.axhline(claims["training_true_degree"]["best"], color="k", ls=":",
               label=f"the restricted training set's best ({claims['training_true_degree']['best']:.2f})")
    ax.set_xticks(x, names, rotation=20, fontsize=8)
    ax.set(ylabel="true degree of the re-render", title="The ceiling: how far each variant's best query smiles")
    ax.legend(fontsize=8)
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


class _SummaryFields(string.Formatter):
    """Fields are dotted paths into the summaries, `{claims.paired.tests.top10.300.p_t:.3f}` (list items by their
    index); an interval (mean, ci95) with a format ending in ± reads "mean ± half-width", `{...top10:.2f±}`; a value
    the runs could not measure (None: no query passed realism) reads "n/a"."""

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
        if isinstance(value, dict) and format_spec.endswith("±"):
            value, format_spec = (None if value.get("mean") is None else f"{value['mean']:{format_spec[:-1]}}" + (
                "" if value.get("ci95") is None else f" ± {value['ci95']:{format_spec[:-1]}}")), ""
        return "n/a" if value is None else super().format_field(value, format_spec)


def verdicts(results: dict, template: Path) -> str:
    """The claims' verdicts: the prose of `template` (written for the runs that made the summaries) with every
    figure read from the summaries, each paragraph wrapped again to the README's width."""
    text = _SummaryFields(results, Path(template)).format(Path(template).read_text())
    return "\n\n".join(textwrap.fill(" ".join(p.split()), width=117, break_on_hyphens=False)
                         for p in text.split("\n\n") if p.strip()) + "\n"


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
    """The repository README's claims section: the verdicts, the comparison and the pair's paired test, the
    figures; the other tables are linked (`folder`: the summaries' folder, its links relative to `readme`)."""
    link = Path(folder).resolve().relative_to(Path(readme).resolve().parent).as_posix()
    claims = results["claims"]
    shown = "\n\n".join(f"![{name}]({link}/figures/{name}.png)" for name in FIGURES)
    return "\n\n".join([
        README_BEGIN, verdicts(results, Path(folder) / VERDICTS).strip(),
        f"The comparison at {claims['plan']['budget']} queries (mean ± 95% interval over seeds):",
        comparison_table(results["comparison"]),
        f"Weighted retraining against none, paired over the seeds, {claims['plan']['long_budget']} queries:",
        paired_table(claims), shown,
        f"Every table (FIDs against each degree, the rank weights, the t trade-off, the ceiling, the trees' and the "
        f"generators' reach): [{link}/README.md]({link}/README.md).", README_END])


def replace_readme_section(readme: Path, section: str) -> None:
    """Put `section` in place of the README's claims section, markers included (both markers must be there)."""
    text = Path(readme).read_text()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"{readme} lacks the claims section's markers; put the lines {README_BEGIN!r} and "
                         f"{README_END!r} where the claims belong")
    write_text(Path(readme), text[:begin] + section + text[end + len(README_END):])


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
    return tables(results)
