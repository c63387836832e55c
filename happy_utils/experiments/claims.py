"""The paper's four claims, tested in the synthetic world, where every face has a ground truth no CelebA run has.

(a) LSO in the VQ-VAE's discrete space finds faces that smile more than any training face; (b) weighted retraining
beats no retraining; (c) t = 8 free cells is the sweet spot between score and image quality; (d) the discrete
method beats continuous LSO with a VAE on score and quality.

Why: one command runs every run the claims need (resumable, on Ray: the headline pair at a long budget, the other
variants at the comparison's), measures each seed as it finishes into a small JSON file of the results folder
(`seed_measures`), and merges them into the claims' summaries once all are there. The files are committed, so the
runs can be made in pieces, on different machines or days, and the README's tables, its figures and notebook 06
regenerate without re-running anything: `python -m happy_utils claims --preset laptop --seeds 0-4 --workers 2`
(see `Plan.command`; `--variants` runs a part).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from ..config import Preset, Source, get_paths, get_preset
from ..data import world
from ..files import write_text
from ..generators.base import Generator
from ..loop import rank_weights
from ..provenance import spec_key
from ..records import RunDir
from . import beyond, summaries
from .compare import run_specs
from .quality import assess, control_summary, sample, valid_vs_control
from .seed_measures import FID_KEYS, SeedMeasurer, read_seed, write_seed
from .spec import RunSpec
from .variants import GENERATORS, GUARDED, VARIANTS, get_variant

#: The headline pair, run at the long budget (their first `budget` queries also enter the comparison).
PAIR = ("vqvae-wr", "vqvae-nowr")
#: Every variant the claims need, in the order they are run after the pair.
TESTED = PAIR + ("vqvae-wr-decoded", "vae-wr", "vqvae-wr-t4", "vqvae-wr-t12", "vqvae-wr-t16", "random")
#: Beyond the paper (issue 30): the guarded variants, run with the claims' plan when named in --variants.
BEYOND = GUARDED
#: A realistic level-4 smile: the re-render's true degree at least this.
LEVEL_4 = 3.5
SUMMARY_FILES = ("comparison.json", "claims.json")


@dataclass(frozen=True)
class Plan:
    """Which runs the claims need and where they live: the pair at `long_budget` queries in `out/long-N`, the others
    at `budget` in `out/budget-N`, all with the same seeds and thread count."""

    preset: Preset
    source: Source
    seeds: tuple[int, ...]
    budget: int
    long_budget: int
    threads: int
    out: Path

    @classmethod
    def resolve(cls, preset: str | Preset | None = None, source: str | None = None, seeds=None,
                budget: int | None = None, long_budget: int | None = None, threads: int = 1,
                out: str | Path | None = None) -> Plan:
        cfg = preset if isinstance(preset, Preset) else get_preset(preset)
        budget = budget or cfg.budget
        long_budget = long_budget or 3 * budget
        if long_budget < budget:
            raise ValueError(f"--long-budget ({long_budget}) must be at least --budget ({budget}): the pair's first "
                             f"{budget} queries enter the comparison")
        spec = RunSpec.resolve(cfg, source, PAIR[0], seeds, budget=budget, threads=threads)
        if len(spec.seeds) < 2:
            raise ValueError(f"--seeds must name at least 2 seeds for intervals and paired tests, got {spec.seeds}")
        return cls(cfg, spec.source, spec.seeds, budget, long_budget, threads,
                   Path(out) if out else get_paths().runs / f"claims-{cfg.name}")

    def placed(self, variants: tuple[str, ...] = TESTED) -> list[tuple[RunSpec, Path]]:
        """Every run of these variants (the claims' by default, the pair first), each with its folder."""
        return [(RunSpec.resolve(self.preset, self.source, v, list(self.seeds), threads=self.threads,
                                 budget=self.long_budget if v in PAIR else self.budget), self.folder(v))
                for v in variants]

    def folder(self, variant: str) -> Path:
        return self.out / (f"long-{self.long_budget}" if variant in PAIR else f"budget-{self.budget}") / variant

    def seed_file(self, results: Path, variant: str, seed: int) -> Path:
        """Where a seed's measures are kept (`seed_measures`): `results/seeds/long-N|budget-N/VARIANT/seedS.json`."""
        return Path(results) / "seeds" / self.folder(variant).parent.name / variant / f"seed{seed}.json"

    def missing(self, results: Path) -> dict[str, list[int]]:
        """The seeds of each variant that have no measures in `results` yet."""
        out = {v: [s for s in self.seeds if not self.seed_file(results, v, s).exists()] for v in TESTED}
        return {v: seeds for v, seeds in out.items() if seeds}

    def command(self) -> str:
        seeds = ",".join(map(str, self.seeds))
        return (f"python -m happy_utils claims --preset {self.preset.name} --source {self.source} --seeds {seeds} "
                f"--budget {self.budget} --long-budget {self.long_budget} --threads {self.threads} --workers 2")

    def as_dict(self) -> dict:
        return {"preset": self.preset.name, "source": self.source, "seeds": list(self.seeds), "budget": self.budget,
                "long_budget": self.long_budget, "threads": self.threads, "pair": list(PAIR),
                "variants": list(TESTED), "command": self.command()}


def run_claims(plan: Plan, results: Path, workers: int = 1, address: str | None = None, progress: bool = True,
               variants: list[str] | None = None) -> dict | None:
    """Run (or resume) every run of the plan that has no measures in `results` yet (of `variants` only, if given),
    measure each seed as soon as it finishes (`seed_measures`), then, once every seed of every variant has its
    measures, merge them into the claims (`measure`). Returns the merged summaries, or None while some are missing
    (it prints which)."""
    wanted = _check_variants(variants)
    results = Path(results)
    measurer: list[SeedMeasurer] = []  # made when the first seed is measured

    def measure_one(spec: RunSpec, folder: Path) -> None:
        if not measurer:
            measurer.append(SeedMeasurer(plan.preset, plan.source, progress))
        (seed,) = spec.seeds
        write_seed(plan.seed_file(results, spec.variant.name, seed), measurer[0].measure(spec, folder, plan.budget))

    placed = []
    for spec, folder in plan.placed(wanted):
        todo = []
        for s in [s for s in plan.seeds if not plan.seed_file(results, spec.variant.name, s).exists()]:
            one = replace(spec, seeds=(s,))
            if _seed_finished(folder, one):  # run earlier (or by an older version): measured from its folder
                measure_one(one, folder)
            else:
                todo.append(s)
        if todo:
            placed.append((replace(spec, seeds=tuple(todo)), folder))
    if placed:
        run_specs(placed, progress, workers, address, on_finished=lambda job: measure_one(job.spec, Path(job.folder)),
                  summaries=False)  # each seed is measured as it finishes
    missing = plan.missing(results)
    if missing:
        print(f"measures still missing in {results} ({_listed(missing)}): run `{plan.command()}` (with --variants to "
              "run a part) to make them, then the claims are merged")
        return None
    return measure(plan, results, measurer[0] if measurer else None)


def interim(plan: Plan, results: Path) -> str:
    """What the seeds measured so far show, while the runs are made in parts (no runs, nothing written): per variant,
    its seeds and the comparison's figures over them, and the pair's paired differences over their common seeds.
    Interim figures: intervals over fewer seeds than the plan's, for a status line, not for the verdicts. "valid
    true": the true degree of the re-renders of the queries that pass realism (a training face's is below 2.5); n/a:
    a seed has fewer than 10 (valid) queries; "-": not measured."""
    measured = read_present(plan, results)
    n, long = plan.budget, plan.long_budget
    head = (f"{'variant':<20} {'seeds':<10} {f'Top10@{n}':>14} {f'Top10@{long}':>14} {'pass':>6} "
            f"{'valid true Top10':>16} {'best':>11} {'Inception FID':>15} {'world FID':>13}")
    lines = [(f"measured so far in {results / 'seeds'} (plan: seeds {','.join(map(str, plan.seeds))}, {n} queries, "
              f"the pair {long}; FIDs against degrees 3-5 over each seed's first {n}; mean +- 95% interval over "
              "seeds)"),
             head, "-" * len(head)]

    def cell(iv: dict | None, digits: int = 2) -> str:
        if iv is None:
            return "-"
        if iv["mean"] is None:
            return "n/a"
        return f"{iv['mean']:.{digits}f}" + (f" +-{iv['ci95']:.{digits}f}" if iv["ci95"] is not None else "")

    for v, by_seed in measured.items():
        agg = summaries.aggregate(_first_queries_summaries(by_seed, n))
        at_long = summaries.interval_of_all([summaries.seed_summary(m["records"][:long])["oracle"]["top10"]
                                           for m in by_seed.values()]) if v in PAIR else None
        fid = _fid_intervals([m["fid"] for m in by_seed.values()])
        lines.append(f"{v:<20} {','.join(map(str, by_seed)):<10} {cell(agg['oracle']['top10']):>14} "
                     f"{cell(at_long):>14} {agg['realism']['pass']['fraction']:>6.2f} "
                     f"{cell(agg['realism']['valid_true_degree']['top10']):>16} "
                     f"{cell(agg['realism']['valid_true_degree']['best']):>11} "
                     + " ".join(f"{cell(fid.get(k, {}).get('3-5'), 0):>{w}}" for k, w in zip(FID_KEYS, (15, 13))))
    common = sorted(set(measured.get(PAIR[0], {})) & set(measured.get(PAIR[1], {})))
    if len(common) >= 2:
        pair = paired_report(*({s: measured[v][s]["records"] for s in common} for v in PAIR), n, long)
        for k, tests in pair["tests"].items():
            lines.append(f"{PAIR[0]} - {PAIR[1]}, {k}, seeds {','.join(map(str, common))}: " + "; ".join(
                f"at {q}: {t['mean']:+.3f} +-{t['ci95']:.3f} "
                f"(p_t {'-' if t['p_t'] is None else format(t['p_t'], '.2g')}, "
                f"sign-flip {t['p_sign_flip']:.3f}, wins {t['wins']}/{len(common)})" for q, t in tests.items()))
    missing = plan.missing(results)
    lines.append(f"still missing: {_listed(missing)}" if missing else "every seed is measured: merge them with "
                 f"`{plan.command()} --measure-only`")
    return "\n".join(lines)


def _listed(missing: dict[str, list[int]]) -> str:
    return "; ".join(f"{v}: seeds {','.join(map(str, s))}" for v, s in missing.items())


def _check_variants(variants: list[str] | None) -> tuple[str, ...]:
    unknown = [v for v in variants or () if v not in TESTED + BEYOND]
    if unknown:
        raise ValueError(f"--variants: {unknown} are not among the claims' variants ({', '.join(TESTED)}) nor the "
                         f"guarded ones ({', '.join(BEYOND)})")
    return tuple(variants) if variants else TESTED


def _seed_finished(folder: Path, spec: RunSpec) -> bool:
    """Whether the spec's one seed has a finished run in `folder/seedS` (every query made and saved)."""
    (seed,) = spec.seeds
    path = Path(folder) / f"seed{seed}"
    if not (path / "config.json").exists():
        return False
    state = RunDir.existing(path).load_state()
    return state is not None and state.get("done") == spec.loop_config(seed).budget


def read_measures(plan: Plan, results: Path) -> dict[str, dict[int, dict]]:
    """Every seed's measures of the plan, checked: complete, made under the plan's preset, source and budgets, and
    each generator kind started from one and the same pretrained model."""
    missing = plan.missing(results)
    if missing:
        raise FileNotFoundError(f"{results} lacks the measures of {_listed(missing)}: run `{plan.command()}` first")
    present = read_present(plan, results)  # a guarded variant joins the claims once every seed of it is measured
    return {v: by_seed for v, by_seed in present.items() if v in TESTED or len(by_seed) == len(plan.seeds)}


def read_present(plan: Plan, results: Path) -> dict[str, dict[int, dict]]:
    """The seeds' measures of the plan that are in `results` so far ({variant: {seed: measures}}, variants without
    any left out), each checked as `read_measures` checks them."""
    measured = {v: {s: read_seed(plan.seed_file(results, v, s)) for s in plan.seeds
                    if plan.seed_file(results, v, s).exists()} for v in TESTED + BEYOND}
    measured = {v: by_seed for v, by_seed in measured.items() if by_seed}
    fingerprints: dict[str, set] = {}
    for v, by_seed in measured.items():
        need = plan.long_budget if v in PAIR else plan.budget
        for s, m in by_seed.items():
            got = (m["preset"], m["source"], m["variant"], m["seed"], m["fid_queries"])
            if got != (plan.preset.name, plan.source, v, s, plan.budget) or m["queries"] < need:
                raise ValueError(f"{plan.seed_file(results, v, s)} was measured for {got} with {m['queries']} "
                                 f"queries, not for this plan ({plan.preset.name}, {plan.source}, {v}, seed {s}, FIDs "
                                 f"over {plan.budget} of {need} queries): delete it to measure it anew")
            fingerprints.setdefault(m["generator"]["kind"], set()).add(m["generator"]["fingerprint"])
    mixed = {kind: sorted(f) for kind, f in fingerprints.items() if len(f) > 1}
    if mixed:
        raise ValueError(f"the seeds' measures in {results} started from different pretrained generators {mixed}: "
                         "runs made on another machine trained their own; rerun those seeds with the generator the "
                         "others used (its fingerprint is in every seed's file)")
    return measured


def measure(plan: Plan, results: Path, measurer: SeedMeasurer | None = None) -> dict:
    """Merge the seeds' measures into the comparison at the plan's budget (`comparison.json`: every variant's Top-K,
    realism and FIDs with 95% intervals over seeds) and the claims (`claims.json`: the pair paired at the long
    budget, why weighted retraining helps or not, the t trade-off, the ceiling, the generators' and the trees'
    reach). `measurer`: the one the seeds were just measured with, if any (its stages are reused)."""
    if plan.source != Source.SYNTHETIC:
        raise ValueError("the claims are measured against the synthetic world's ground truth (realism, true "
                         f"degrees); source '{plan.source}' has none: use `compare` there")
    results = Path(results)
    cfg = plan.preset
    measured = read_measures(plan, results)
    measurer = measurer or SeedMeasurer(cfg, plan.source)
    prepared = measurer.prepared
    comparison = comparison_summary(plan, measured, measurer)
    records = {v: {s: m["records"] for s, m in by_seed.items()} for v, by_seed in measured.items()}
    realism = {v: {s: m["realism"] for s, m in by_seed.items()} for v, by_seed in measured.items()}
    short = {v: {s: r[:plan.budget] for s, r in by_seed.items()} for v, by_seed in records.items()}
    training_best = prepared.references["raw"]["oracle"]
    claims = {
        "plan": plan.as_dict(),
        "training_best": training_best,
        "training_true_degree": {"top10": metrics.kth_best(prepared.restricted.degree.numpy(), 10),
                                 "best": float(prepared.restricted.degree.max())},
        "training_reading": training_reading(prepared),
        "paired": paired_report(records[PAIR[0]], records[PAIR[1]], plan.budget, plan.long_budget),
        "paired_quality": {f"{PAIR[0]} - {v}": quality_pair(comparison["variants"][PAIR[0]], comparison["variants"][v])
                           for v in measured if v != PAIR[0]},
        "why_weighted_retraining": weighting_report(records[PAIR[0]], cfg.rank_k, cfg.vqvae_batch_size)
        | {"generator_drift": drift_report({s: m["drift"] for s, m in measured[PAIR[0]].items()})},
        "tradeoff": tradeoff(comparison),
        "ceiling": {v: ceiling(short[v], realism[v], plan.budget) for v in measured},
        "ceiling_long": {v: ceiling(records[v], realism[v], plan.long_budget) for v in PAIR},
        "decoder_reach": {kind: decoder_reach(GENERATORS[kind].load_or_train(cfg, prepared.restricted, progress=False),
                                              prepared, n=min(200, cfg.fid_per_level)) for kind in ("vqvae", "vae")},
        "surrogate_reach": {v: surrogate_reach(short[v], training_best["best"]) for v in measured
                            if VARIANTS[v].proposer == "mio"},
        "beyond": {v: beyond.goals(measured[v], plan.budget, training_best["top10"]) for v in (PAIR[0], *BEYOND)
                   if v in measured},
    }
    results.mkdir(parents=True, exist_ok=True)
    write_text(results / "comparison.json", json.dumps(_rounded(comparison), indent=1))
    write_text(results / "claims.json", json.dumps(_rounded(claims), indent=1))
    return {"comparison": comparison, "claims": claims}


def comparison_summary(plan: Plan, measured: dict[str, dict[int, dict]], measurer: SeedMeasurer) -> dict:
    """Per variant, over each seed's first `plan.budget` queries: Top10 / Top50 by the oracle and the judge, the
    realism figures (valid Top-K n/a where a seed has fewer than K valid queries; the pooled pass fraction with its
    Wilson interval), the t = 0 control beside them (`controls`), Inception and world FID and KID against degrees 3-5
    and each degree, each a mean with its 95% interval over seeds; the restricted training set's own FIDs and KIDs,
    from as many draws of as many faces as a seed has.

    Why FIDs per seed: one FID pooled over the seeds has no interval; the seed's few faces bias each FID upwards, so
    they are compared only with each other and with the training draws of the same size. KID is unbiased at that
    size; where a seed's file has none (measured before KIDs were), its images are decoded again from its codes when
    the run never fine-tuned its generator, else its KID is n/a with the reason."""
    n, prepared = plan.budget, measurer.prepared
    pretrained_controls = controls(measured, measurer, n)
    rows = {}
    for v, by_seed in measured.items():
        per_seed = _first_queries_summaries(by_seed, n)
        agg = summaries.aggregate(per_seed)
        kids = {s: m.get("kid") or _recreated_kid(measurer, VARIANTS[v], m, n) for s, m in by_seed.items()}
        quality = {s: {"passed": per_seed[s]["realism"]["passed"], "queries": n,
                       "bases": spec_key([r["base_index"] for r in m["records"][:n]]),
                       "fid": {k: m["fid"][k]["3-5"] for k in m["fid"]},
                       "kid": None if kids[s] is None else {k: kids[s][k]["3-5"] for k in kids[s]}}
                   for s, m in by_seed.items()}
        control = control_summary(pretrained_controls[v])
        tuned = control_summary({s: m.get("control_tuned") for s, m in by_seed.items()}) \
            if VARIANTS[v].weighted_retraining else None
        rows[v] = {"name": VARIANTS[v].title, "seeds": list(by_seed), "queries": n, "oracle": agg["oracle"],
                   "judge": agg.get("judge"), "realism": agg.get("realism"), "per_seed": per_seed,
                   "control": control, "control_tuned": tuned,
                   "control_tuned_note": None if tuned is not None or not VARIANTS[v].weighted_retraining else
                   "not measured: the seeds' files predate it and their fine-tuned weights were not kept (only the "
                   "run folders hold them); a seed measured now records it",
                   "valid_vs_control": valid_vs_control(agg["realism"], per_seed, control),
                   "fid": _fid_intervals([m["fid"] for m in by_seed.values()]),
                   "kid": None if any(k is None for k in kids.values()) else _fid_intervals(list(kids.values())),
                   "kid_note": None if all(k is not None for k in kids.values()) else
                   "n/a: the seeds' files predate KIDs and the queries cannot be decoded again (the run fine-tuned "
                   "its generator, whose weights only the run folders hold); a seed measured now records it",
                   "quality_per_seed": quality,
                   "near_duplicates": sum(m["near_duplicates"] for m in by_seed.values()),
                   "seconds_per_query": agg["seconds_per_query"], "paper": VARIANTS[v].paper,
                   "t": get_variant(v).free_cells_for(plan.preset)}
    draws = [sample(prepared.restricted, n, seed=i + 1).images for i in range(len(plan.seeds))]
    passed = assess(prepared.realism, torch.cat(draws))["passed"]
    training = {"fid": _fid_intervals([measurer.fids(x)[0] for x in draws]),
                "kid": _fid_intervals([measurer.kids(x) for x in draws]),
                "realism": {"pass": metrics.proportion(int(np.sum(passed)), len(passed))}}
    notes = sorted({note for by_seed in measured.values() for m in by_seed.values() for note in m["fid_notes"]})
    return {"preset": plan.preset.name, "source": plan.source, "variants": rows,
            "fid_extractors": {f.key: f.name for f in measurer.features},
            "fid_images": {"per_seed": n, "targets": {k: sum(len(p) for p in v) for k, v in measurer.targets.items()}},
            "fid_notes": notes, "training_set": training, "realism_threshold": prepared.realism.threshold,
            "restricted_reference": {**prepared.references, "best_training_label": world.RESTRICTED_MAX_LABEL},
            "ablation": sorted(({"t": get_variant(v).free_cells_for(plan.preset), "variant": v} for v in measured
                                if get_variant(v).in_ablation), key=lambda row: row["t"]),
            "topk_curves": {v: {f"top{k}": dict(zip(("mean", "std"), map(np.ndarray.tolist, summaries.mean_std(
                summaries.curves({s: m["records"][:n] for s, m in by_seed.items()}, k))))) for k in summaries.TOP_KS}
                for v, by_seed in measured.items()},
            "topk_curve_convention": "the K-th best unique query so far, the worst of them while fewer than K "
                                     "(metrics.kth_best_or_worst, the paper's Figure 3)"}


# the t = 0 control: what the decoder alone gives

def controls(measured: dict[str, dict[int, dict]], measurer: SeedMeasurer, n: int) -> dict[str, dict[int, dict]]:
    """Per variant and seed, the t = 0 control of the pretrained generator (`SeedMeasurer.control`) over the base
    faces of the seed's first n queries, measured once per generator kind and list of base faces (the variants of
    a seed draw the same ones)."""
    done: dict[tuple, dict] = {}
    out: dict[str, dict[int, dict]] = {}
    for v, by_seed in measured.items():
        out[v] = {}
        for s, m in by_seed.items():
            key = (VARIANTS[v].generator, tuple(r["base_index"] for r in m["records"][:n]))
            if key not in done:
                done[key] = measurer.control(measurer.pretrained(VARIANTS[v]), list(key[1]))
            out[v][s] = done[key]
    return out


def training_reading(prepared) -> dict:
    """The inverse network's reading of every restricted training face, so that a ceiling compares a reading with
    a reading: a query's "true degree" is the reading of its re-render, and the best of many noisy readings exceeds
    the exact best. Beside it the exact degrees and the oracle's scores of the same faces."""
    report = prepared.realism.assess(prepared.restricted.images)
    passed = report.passed.numpy().astype(bool)
    reading = report.true_degree.numpy().astype(np.float64)
    return {"faces": len(passed), "pass": metrics.proportion(int(passed.sum()), len(passed)),
            "reading_valid": summaries.topk_summary(reading[passed]), "reading_any": summaries.topk_summary(reading),
            "exact": summaries.topk_summary(prepared.restricted.degree.numpy()),
            "oracle": prepared.references["raw"]["oracle"]}


def _recreated_kid(measurer: SeedMeasurer, variant, measured: dict, n: int) -> dict | None:
    """A seed's KIDs from its query images decoded again (`SeedMeasurer.recreated_images`), or None."""
    images = measurer.recreated_images(variant, measured, n)
    return None if images is None else measurer.kids(images)


# paired quality: two variants on the same seeds and base faces

def quality_pair(a: dict, b: dict) -> dict:
    """A minus B on image quality, paired seed by seed (comparison rows of two variants): the valid share per seed
    (paired t and sign-flip tests), Fisher's exact test on the pooled counts, and the paired differences of the
    Inception and world FID and KID against degrees 3-5. Why paired: the two runs of a seed start from the same data
    and draw the same base faces (`bases_shared`: on how many seeds), so the seed-to-seed spread cancels."""
    qa, qb = a["quality_per_seed"], b["quality_per_seed"]
    seeds = sorted(set(qa) & set(qb), key=int)
    if len(seeds) < 2:
        raise ValueError(f"paired quality needs >= 2 common seeds, got {seeds}")
    pa, pb = ([q[s]["passed"] / q[s]["queries"] for s in seeds] for q in (qa, qb))
    pooled = [(sum(q[s]["passed"] for s in seeds), sum(q[s]["queries"] for s in seeds)) for q in (qa, qb)]
    out = {"seeds": [int(s) for s in seeds],
           "bases_shared": sum(qa[s]["bases"] == qb[s]["bases"] for s in seeds),
           "pass": metrics.paired_difference(pa, pb), "fisher": summaries.fisher_test(*pooled), "fid": {}, "kid": {}}
    for key in qa[seeds[0]]["fid"]:
        out["fid"][key] = metrics.paired_difference([qa[s]["fid"][key] for s in seeds],
                                                    [qb[s]["fid"][key] for s in seeds])
        has_kid = all(q[s]["kid"] is not None for q in (qa, qb) for s in seeds)
        out["kid"][key] = metrics.paired_difference([qa[s]["kid"][key] for s in seeds],
                                                    [qb[s]["kid"][key] for s in seeds]) if has_kid else None
    return out


def _first_queries_summaries(by_seed: dict[int, dict], n: int) -> dict[int, dict]:
    """Each seed's `summaries.seed_summary` over its first n queries (records and realism alike)."""
    return {s: summaries.seed_summary(m["records"][:n], {k: x[:n] for k, x in m["realism"].items()})
            for s, m in by_seed.items()}


def _fid_intervals(fids: list[dict]) -> dict:
    """{extractor: {target: interval over the list}} of a list of {extractor: {target: FID}}."""
    return {key: {target: metrics.interval([f[key][target] for f in fids]) for target in fids[0][key]}
            for key in fids[0]}


def read_results(results: Path) -> dict:
    """The committed summaries of a claims run: {"comparison": ..., "claims": ...}."""
    missing = [name for name in SUMMARY_FILES if not (Path(results) / name).exists()]
    if missing:
        raise FileNotFoundError(f"{results} lacks {', '.join(missing)}: run `python -m happy_utils claims` (it writes "
                                "them), or point at a folder that has them")
    return {name[:-5]: json.loads((Path(results) / name).read_text()) for name in SUMMARY_FILES}


def _rounded(value, digits: int = 5):
    """Floats rounded to `digits` decimals, or to as many significant digits when smaller than 0.001 (a p-value of
    1e-7 stays 1e-7, not 0), so that the committed JSON stays small and its diffs readable."""
    if isinstance(value, float):
        return round(value, digits) if abs(value) >= 1e-3 or not np.isfinite(value) else float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v, digits) for v in value]
    return value


# (b) weighted retraining against none: paired over seeds

def paired_report(a: dict[int, list[dict]], b: dict[int, list[dict]], budget: int, long_budget: int) -> dict:
    """A minus B of Top10 and Top50 at every query count (per-seed curves, mean difference and its 95% band) and the
    paired tests at the comparison's budget, at the long budget and halfway between them.

    Why paired: both runs of a seed start from the same restricted data, draw the same base faces in the same order
    and seed the surrogate alike, so the seed-to-seed spread largely cancels in the difference. Which test: the
    paired t-test on the per-seed differences, beside the exact sign-flip test (distribution-free): with 5 seeds a
    rank test cannot reach p < 0.05 at all (the sign-flip's smallest p is 0.0625), so the t-test's normality
    assumption carries any significance, and the sign-flip says how far the data alone go."""
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2 or any(len(a[s]) < long_budget or len(b[s]) < long_budget for s in seeds):
        raise ValueError(f"the pair needs >= 2 common seeds with {long_budget} queries each")
    a, b = {s: a[s][:long_budget] for s in seeds}, {s: b[s][:long_budget] for s in seeds}
    checkpoints = sorted({budget, (budget + long_budget) // 2, long_budget})
    out: dict = {"seeds": seeds, "queries": long_budget, "checkpoints": checkpoints, "test": "paired t-test over "
                 "seeds, and the exact sign-flip test", "curves": {}, "difference": {}, "tests": {}}
    for k in summaries.TOP_KS:
        ca, cb = np.stack(summaries.curves(a, k)), np.stack(summaries.curves(b, k))
        d = ca - cb
        half = [metrics.interval(col)["ci95"] for col in d.T]
        out["curves"][f"top{k}"] = {"a": ca.tolist(), "b": cb.tolist()}
        out["difference"][f"top{k}"] = {"mean": d.mean(axis=0).tolist(), "ci95": half}
        out["tests"][f"top{k}"] = {str(q): metrics.paired_difference(ca[:, q - 1], cb[:, q - 1]) for q in checkpoints}
    first_differs = []
    for s in seeds:
        same = [np.array_equal(x["code"], y["code"]) for x, y in zip(a[s], b[s])]
        first_differs.append(same.index(False) if False in same else None)
    out["first_query_that_differs"] = first_differs
    return out


def weighting_report(records: dict[int, list[dict]], k: float, batch_size: int) -> dict:
    """How strongly the rank weights lean on the best points, and how long each fine-tune is, at every retraining
    of a weighted run (from its records): the weight of the top 1% and 10%, the effective sample size
    (sum w)^2 / sum w^2 as a fraction of the data, and the fine-tune's steps."""
    rows = []
    for s, recs in records.items():
        for r in recs:
            if r.get("retrain"):
                n = r["retrain"]["data_size"]
                w = np.sort(rank_weights(np.arange(n, dtype=np.float64), k))[::-1]
                rows.append({"seed": s, "query": r["index"], "data_size": n, "epochs": r["retrain"]["epochs"],
                             "steps": int(np.ceil(r["retrain"]["epochs"] * n / batch_size)),
                             "top_1pct": float(w[: max(1, n // 100)].sum()),
                             "top_10pct": float(w[: max(1, n // 10)].sum()),
                             "ess_fraction": float(1.0 / np.sum(w ** 2) / n), "recon": r["retrain"]["final_recon"]})
    first = [r for r in rows if r["epochs"] >= 1.0] or rows
    later = [r for r in rows if r not in first] or rows
    summary = {key: {"first": float(np.mean([r[key] for r in first])), "later": float(np.mean([r[key] for r in later]))}
               for key in ("data_size", "steps", "top_1pct", "top_10pct", "ess_fraction", "recon")}
    return {"k": k, "retrainings_per_seed": len(rows) // max(1, len(records)), "mean": summary}


def drift_report(per_seed: dict[int, dict]) -> dict:
    """What weighted retraining did to the generator by the end of each seed's run (`SeedMeasurer.drift`), over
    seeds: the fraction of latent cells of the same restricted faces that encode to another code than under the
    pretrained VQ-VAE, and the oracle's score of the reconstructions of the restricted set's best faces (a generator
    that leans towards smiles keeps more of their smile)."""
    first = next(iter(per_seed.values()))
    return {"faces": first["faces"], "best": first["best"], "best_raw_score": first["best_raw_score"],
            "best_reconstruction_score_pretrained": first["best_reconstruction_score_pretrained"],
            "per_seed": [{"seed": s, "codes_changed": d["codes_changed"],
                          "best_reconstruction_score": d["best_reconstruction_score"]} for s, d in per_seed.items()],
            "codes_changed": metrics.interval([d["codes_changed"] for d in per_seed.values()]),
            "best_reconstruction_score": metrics.interval([d["best_reconstruction_score"]
                                                           for d in per_seed.values()])}


# (c) the t trade-off, and quality per seed

def tradeoff(comparison: dict) -> list[dict]:
    """Per t (the ablation's variants): Top10, the valid queries (pooled pass fraction with its Wilson interval and
    how many per seed), valid Top10 (n/a unless every seed has 10), the best valid query per seed by the oracle and
    by its true degree, the control's pass fraction, Inception and world FID and KID against degrees 3-5."""
    rows = []
    for entry in comparison["ablation"]:
        row = comparison["variants"][entry["variant"]]
        realism = row["realism"]
        rows.append({"t": entry["t"], "variant": entry["variant"], "top10": row["oracle"]["top10"],
                     "pass": realism["pass"], "valid_per_seed": realism["valid_per_seed"],
                     "valid_top10": realism["valid_oracle"]["top10"], "valid_best": realism["valid_oracle"]["best"],
                     "valid_true_best": realism["valid_true_degree"]["best"],
                     "control_pass": (row.get("control") or {}).get("pass"),
                     "fid": {k: v["3-5"] for k, v in row["fid"].items()},
                     "kid": None if row.get("kid") is None else {k: v["3-5"] for k, v in row["kid"].items()}})
    return rows


# (a) and the ceiling: how close to a realistic level-4 smile

def ceiling(records: dict[int, list[dict]], realism: dict[int, dict], n: int) -> dict:
    """The best realistic query of a variant over each seed's first n queries (it passes realism; ranked by its
    re-render's true degree), the best by the oracle among those, and how many realistic queries reach a level-4
    smile (true degree >= 3.5). The same over every query is a *reading* (`best_reading_any`, `level4_reading_any`):
    for a query that fails realism the re-render does not explain the image. `realism`: per seed, each query's
    "passed", "true_degree" and "error"."""
    pooled = [(s, i, r) for s, recs in records.items() for i, r in enumerate(recs[:n])]
    passed = np.array([realism[s]["passed"][i] for s, i, _ in pooled], dtype=bool)
    degree = np.array([realism[s]["true_degree"][i] for s, i, _ in pooled], dtype=np.float64)

    def describe(j: int) -> dict:
        s, i, r = pooled[j]
        return {"seed": s, "query": i, "oracle": r["score"], "judge": r["judge"], "true_degree": float(degree[j]),
                "passed": bool(passed[j]), "error": float(realism[s]["error"][i])}

    valid = np.flatnonzero(passed)
    out = {"queries": len(pooled), "passed": len(valid), "best_reading_any": describe(int(np.argmax(degree))),
           "level4_realistic": int(np.sum(passed & (degree >= LEVEL_4))),
           "level4_reading_any": int(np.sum(degree >= LEVEL_4))}
    if len(valid):
        out["best_realistic"] = describe(int(valid[np.argmax(degree[valid])]))
        out["best_realistic_by_oracle"] = describe(int(valid[np.argmax([pooled[j][2]["score"] for j in valid])]))
    return out


def decoder_reach(generator: Generator, prepared, n: int = 200) -> dict:
    """Can the generator represent a realistic level-4 smile at all? Unseen faces of levels 3, 4 and 5 (true degree
    known) are reconstructed: per level, how many reconstructions pass realism (Wilson interval), the true degree of
    those that pass, the reading of all (any), and the fraction of level-4+ originals (true degree >= 3.5) whose
    reconstruction is a realistic level-4 smile."""
    realism, oracle = prepared.realism, prepared.scorers["oracle"]
    out = {}
    for level in (3, 4, 5):
        faces = prepared.train.target((level,))
        pick = torch.from_numpy(np.sort(np.random.default_rng(level).permutation(len(faces))[:n]))
        images, truth = faces.images[pick], faces.degree[pick].numpy()
        recon = generator.reconstruct(images)
        report = realism.assess(recon)
        passed, degree = report.passed.numpy(), report.true_degree.numpy()
        high = truth >= LEVEL_4
        out[str(level)] = {"faces": len(pick), "true_degree": float(truth.mean()),
                           "reconstruction_true_degree_valid": float(degree[passed].mean()) if passed.any() else None,
                           "reconstruction_reading_any": float(degree.mean()),
                           "pass": metrics.proportion(int(passed.sum()), len(passed)),
                           "oracle_original": float(oracle.score(images).degree.mean()),
                           "oracle_reconstruction": float(oracle.score(recon).degree.mean()),
                           "level4_kept": None if not high.any() else
                           float(np.mean(passed[high] & (degree[high] >= LEVEL_4)))}
    return out


def surrogate_reach(records: dict[int, list[dict]], training_best: float) -> dict:
    """How far the trees' predictions reach: the MIO's optimum adds the best reachable leaf of every tree, a
    combination no data point may have, so it can aim above the best point seen; the oracle says how much of that
    it confirms. Per query, the prediction at the MIO's solution against the best score in the data then (the
    restricted set's best, or a better earlier query) and against the oracle's score of the decoded face: how far it
    overshoots, and how well it ranks its own proposals (their correlation)."""
    predicted, realised, best_then = [], [], []
    for recs in records.values():
        best = training_best
        for r in recs:
            if r.get("surrogate") is not None:
                predicted.append(r["surrogate"])
                realised.append(r["score"])
                best_then.append(best)
            best = max(best, r["score"])
    p, o, m = map(np.asarray, (predicted, realised, best_then))
    return {"queries": len(p), "prediction": metrics.interval(p), "oracle": metrics.interval(o),
            "above_best_so_far": float(np.mean(p > m + 1e-6)), "prediction_minus_best_so_far": float(np.mean(p - m)),
            "prediction_minus_oracle": float(np.mean(p - o)),
            "prediction_oracle_correlation": float(np.corrcoef(p, o)[0, 1]) if len(p) > 2 and p.std() > 0 and
            o.std() > 0 else None}
