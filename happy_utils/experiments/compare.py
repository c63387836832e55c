"""The paper's comparison: every variant run with the same seeds, then Figure 3 (Top-K curves, FID) and Table 1.

Why: the paper's claims are comparative (VQ-VAE with weighted retraining over VQ-VAE without it over a VAE with
continuous LSO; t = 8 against 4 and 16), so the comparison is one command over the one experiment runner:
`python -m happy_utils compare --preset laptop --seeds 0-2 --out runs/compare-laptop`. Finished variants are read
back, unfinished ones run (and resume); every figure comes from the runs' records and saved query images, and
the judge's view of the same images stands beside the oracle's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import plotting
from ..config import Preset, Source
from ..data import world
from ..data.sources import load_faces
from ..files import write_text
from ..loop import torch_threads
from ..records import SUMMARY, RunDirError, read_summary
from ..results import COMPARISON_TEXT
from ..scorers.loading import load_realism, load_scorers
from ..scorers.realism import RealismJudge
from . import summaries
from .fanout import Job, JobsFailed, run_jobs
from .figures import fid_bars, oracle_vs_judge, topk_curves
from .quality import assess, control, control_summary, extractors, fid_report, fid_targets, sample, valid_vs_control
from .run import finish_run, read_seeds, start_run
from .spec import RunSpec
from .tables import TRAINING, comparison_text
from .variants import PAPER_VARIANTS, VARIANTS, get_variant


def _finished(path: Path, spec: RunSpec) -> bool:
    s = read_summary(path)
    return s is not None and (s["preset"], s["source"], s["seeds"], s["overrides"]) == (
        spec.preset.name, spec.source, list(spec.seeds), spec.overrides)


def load_variant(path: Path, budget: int | None = None) -> tuple[dict, dict[int, list[dict]], dict[int, torch.Tensor]]:
    """A finished variant: its summary, and per seed its records and queried images (read back, not recomputed);
    with `budget`, only each seed's first `budget` queries (a longer run's first queries do not depend on its budget,
    so they are the queries a run of that budget makes)."""
    summary = read_summary(path)
    if summary is None:
        raise RunDirError(f"{path} has no readable {SUMMARY}: run the command that made it again, which reads its "
                          "finished seeds back and writes it")
    records, images = read_seeds(path, summary["seeds"])
    if budget is not None:
        short = {s: len(r) for s, r in records.items() if len(r) < budget}
        if short:
            raise ValueError(f"{path}: seeds {sorted(short)} have fewer than {budget} queries ({short}); compare at "
                             f"a budget of at most {min(short.values())}")
        records = {s: r[:budget] for s, r in records.items()}
        images = {s: i[:budget] for s, i in images.items()}
    return summary, records, images


def run_comparison(specs: list[RunSpec], out: Path, progress: bool = True, workers: int = 1,
                   address: str | None = None) -> dict:
    """Run (or resume, or read back) every variant's spec into `out/VARIANT`, then compare them in `out`.

    The specs share preset, source, seeds and overrides (see `comparison_specs`)."""
    out = Path(out)
    run_specs([(spec, out / spec.variant.name) for spec in specs], progress, workers, address)
    return compare(specs[0].preset, {s.variant.name: out / s.variant.name for s in specs}, specs[0].source, out)


def run_specs(placed: list[tuple[RunSpec, Path]], progress: bool = True, workers: int = 1,
              address: str | None = None, on_finished: Callable[[Job], None] | None = None,
              summaries: bool = True) -> None:
    """Run (or resume) each spec into its folder; finished ones are left as they are.

    The stages before the loop run here, spec after spec; then every (spec, seed) is a job, `workers` at a time, in
    the order given, `on_finished(job)` called here as each one ends (see `fanout.run_jobs`); then each run's
    `summary.json` and figures are written, unless `summaries` is False (the caller measures the seeds itself)."""
    started = []
    try:
        with torch_threads(placed[0][0].loop_config(placed[0][0].seeds[0]).threads):  # as `run_experiment`'s
            for spec, folder in placed:
                if not _finished(Path(folder), spec):
                    print(f"==== {spec.variant.name} in {folder}: stages before the loop", flush=True)
                    started.append(start_run(spec, Path(folder), progress=progress))
            results, errors = run_jobs([job for run in started for job in run.jobs()], workers, address, progress,
                                       on_finished)
            for run in started:
                if summaries and not any(job.label in errors for job in run.jobs()):
                    finish_run(run, results)
    finally:
        for run in started:
            run.close()
    if errors:
        raise JobsFailed(errors, "their folders")


def comparison_specs(preset: str | Preset | None = None, source: str | None = None, seeds=None,
                     variants: list[str] | None = None, budget: int | None = None,
                     threads: int | None = None) -> list[RunSpec]:
    """One spec per variant (the paper's by default) with the same preset, source, seeds and budget."""
    variants = list(PAPER_VARIANTS) if variants is None else variants
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; valid variants: {', '.join(VARIANTS)}")
    return [RunSpec.resolve(preset, source, v, seeds, budget=budget, threads=threads) for v in variants]


def compare(cfg: Preset, folders: dict[str, Path], source: Source, save_to: Path, budget: int | None = None) -> dict:
    """Figure 3, Table 1, the best faces with their re-renders, oracle against judge, and `comparison.json` (with
    the t = 0 control of each variant where the world gives realism: its pretrained generator's reconstructions of
    the queries' base faces, `quality.control`), from
    each variant's finished run in `folders[variant]`: every number is computed from the runs' records and saved
    query images, over each seed's first `budget` queries (default: all). They are saved in `save_to`, so that runs
    elsewhere (the command line's) can be compared without writing into their folders."""
    runs = {v: load_variant(Path(folder), budget) for v, folder in folders.items()}
    variants = list(runs)
    save_to = Path(save_to)
    save_to.mkdir(parents=True, exist_ok=True)
    scorers, realism = load_scorers(source), load_realism(source)
    train = load_faces("train", cfg, source)
    n_generated = min(sum(len(i) for i in images.values()) for _, _, images in runs.values())
    generated = {v: torch.cat(list(images.values())) for v, (_, _, images) in runs.items()}
    generated[TRAINING] = sample(train.restricted(), n_generated, seed=1).images  # the data's own distance, same size
    fids = fid_report(generated, fid_targets(train, cfg.fid_per_level), extractors(scorers, realism))
    rows = {}
    restricted, oracle = train.restricted(), scorers["oracle"]
    for v, (summary, records, images) in runs.items():
        quality = {s: assess(realism, images[s]) for s in records} if realism is not None else {}
        per_seed = {s: summaries.seed_summary(records[s], quality.get(s)) for s in records}
        agg = summaries.aggregate(per_seed)
        controlled = None
        if realism is not None:  # the t = 0 control: the pretrained generator's reconstructions of the base faces
            generator = VARIANTS[v].load_generator(cfg, restricted, progress=False)
            controlled = control_summary({s: control(generator, restricted, [r["base_index"] for r in records[s]],
                                                     realism, oracle) for s in records})
        rows[v] = {"name": VARIANTS[v].title, "seeds": summary["seeds"], "queries": per_seed[summary["seeds"][0]][
            "queries"], "oracle": agg["oracle"], "judge": agg.get("judge"), "realism": agg.get("realism"),
                   "per_seed": per_seed, "fid": {key: table[v] for key, table in fids["fid"].items()},
                   "control": controlled, "valid_vs_control": None if controlled is None else
                   valid_vs_control(agg["realism"], per_seed, controlled),
                   "near_duplicates": sum(summaries.near_duplicates(i) for i in images.values()),
                   "seconds_per_query": agg["seconds_per_query"], "paper": VARIANTS[v].paper,
                   "t": get_variant(v).free_cells_for(cfg)}
    training = {"fid": {key: table[TRAINING] for key, table in fids["fid"].items()}}
    if realism is not None:
        training["realism_pass_fraction"] = float(np.mean(assess(realism, generated[TRAINING])["passed"]))
    reference = runs[variants[0]][0]["restricted_reference"]
    result = {"preset": cfg.name, "source": source, "variants": rows, "fid_extractors": fids["extractors"],
              "fid_images": fids["images"], "fid_notes": fids["notes"], "training_set": training,
              "realism_threshold": realism.threshold if realism is not None else None,
              "restricted_reference": reference,
              "ablation": sorted(({"t": get_variant(v).free_cells_for(cfg), "variant": v} for v in runs
                                  if get_variant(v).in_ablation), key=lambda row: row["t"]),
              "topk_curves": {v: {f"top{k}": {"mean": summaries.mean_std(summaries.curves(r, k))[0].tolist(),
                                              "std": summaries.mean_std(summaries.curves(r, k))[1].tolist()}
                                  for k in summaries.TOP_KS} for v, (_, r, _) in runs.items()}}
    write_text(save_to / "comparison.json", json.dumps(result, indent=2))
    write_text(save_to / COMPARISON_TEXT, comparison_text(result) + "\n")
    figures = comparison_figures(runs, fids, reference, realism)
    for name, fig in figures.items():
        fig.savefig(save_to / f"{name}.png")
        plt.close(fig)
    return result


def comparison_figures(runs: dict, fids: dict, reference: dict, realism: RealismJudge | None
                       ) -> dict[str, plt.Figure]:
    """Figure 3a (Top-K curves with bands), 3b (FID bars, per extractor), the best faces per variant (with their
    re-renders where there is ground truth), oracle against judge."""
    refs = {"training set, raw (oracle)": {k: reference["raw"]["oracle"][f"top{k}"] for k in summaries.TOP_KS},
            "best training label (2)": {k: float(world.RESTRICTED_MAX_LABEL) for k in summaries.TOP_KS}}
    curves = {VARIANTS[v].title: {k: summaries.curves(r, k) for k in summaries.TOP_KS} for v, (_, r, _) in runs.items()}
    names = {**{v: VARIANTS[v].title for v in runs}, TRAINING: TRAINING}
    figures = {"figure3a_topk": topk_curves(curves, refs)}
    for key, table in fids["fid"].items():
        figures[f"figure3b_fid_{key}"] = fid_bars({names[k]: f for k, f in table.items()}, fids["extractors"][key])
    best, titles, parts = [], [], {}
    for v, (_, records, images) in runs.items():
        pooled = [r for s in records for r in records[s]]
        pooled_images = torch.cat([images[s] for s in records])
        picked = summaries.best_unique(pooled, 6)
        parts[v] = slice(len(titles), len(titles) + len(picked))
        best.append(pooled_images[picked])
        titles += [f"{v}: o{pooled[i]['score']:.2f}" + (f" j{pooled[i]['judge']:.2f}" if pooled[i]["judge"] is not None
                                                         else "") for i in picked]
    best = torch.cat(best)
    if realism is None:
        figures["best_faces"] = plotting.show_images(best, titles=titles, ncols=6, scale=1.6,
                                                     suptitle="The best queries of each variant (all seeds)")
    else:
        report = realism.assess(best)
        for v, part in parts.items():
            figures[f"best_faces_{v}"] = plotting.realism_rows(
                best[part], report.rerender[part], report.error[part], report.passed[part].tolist(),
                [f"{t}\ntrue s {d:.2f}" for t, d in zip(titles[part], report.true_degree[part].tolist())],
                suptitle=f"{VARIANTS[v].title}: the best queries, their re-renders and the realism error")
    judged = {VARIANTS[v].title: (np.array([q["score"] for s in r for q in r[s]]),
                                 np.array([q["judge"] for s in r for q in r[s]]))
              for v, (_, r, _) in runs.items() if all(q["judge"] is not None for s in r for q in r[s])}
    if judged:
        figures["oracle_vs_judge"] = oracle_vs_judge(judged)
    return figures
