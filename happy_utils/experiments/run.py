"""The main job: every stage of the method in order, timed, with a summary and figures in one run directory.

Why: the notebooks teach one stage each; a user who wants the whole experiment (many seeds, no notebook) runs
`python -m happy_utils run`, which calls the same functions and leaves everything in one run directory:
data (render or load the faces), oracle (its quality, the restricted set's reference scores), the generator (train or
load, reconstruction quality), surrogate (held-out R^2, importance), loop (the optimisation, per seed, resumable) and
the summary (Top-K per seed and over seeds, by the oracle and the judge, time per stage and per query).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import plotting
from ..data import world
from ..files import write_text
from ..loop import torch_threads
from ..records import RunDir
from ..scorers.realism import RealismJudge
from . import summaries
from .fanout import Job, JobsFailed, run_jobs
from .figures import topk_curves
from .quality import assess, extractors, fid_report, fid_targets
from .spec import RunSpec
from .stages import Prepared, prepare, stage
from .tables import print_run_table


def _mask(cells: np.ndarray) -> np.ndarray:
    mask = np.zeros(64, dtype=bool)
    mask[cells] = True
    return mask.reshape(8, 8)


def read_seeds(out: Path, seeds) -> tuple[dict[int, list[dict]], dict[int, torch.Tensor]]:
    """Per seed, the finished run's records and queried images, read back from `out/seedS`."""
    records, images = {}, {}
    for s in seeds:
        run = RunDir.existing(Path(out) / f"seed{s}")
        records[s], images[s] = run.records(), run.load_state()["query_images"]
    return records, images


@dataclass
class StartedRun:
    """A run whose stages before the loop are done: what its seeds need, and what its summary will report."""

    spec: RunSpec
    run: RunDir  # the run's folder, held by this process until `close`
    prepared: Prepared
    timings: dict
    figures: dict
    surrogate_summary: dict

    @property
    def out(self) -> Path:
        return self.run.path

    def jobs(self) -> list[Job]:
        return [Job(replace(self.spec, seeds=(s,)), str(self.out)) for s in self.spec.seeds]

    def close(self) -> None:
        """Free the run's folder for another process."""
        self.run.close()


def start_run(spec: RunSpec, out: Path, progress: bool = True) -> StartedRun:
    """Check (or create) the run directory, hold it, and run the stages before the loop, in this process: the
    generator is trained and cached here, once, before any seed's task needs it."""
    run = RunDir(out, spec.config())
    try:
        prepared = prepare(spec.preset, spec.source, spec.variant.generator, spec.target, progress)
    except BaseException:
        run.close()
        raise
    figures, surrogate_summary = dict(prepared.figures), dict(prepared.surrogate_summary)
    if prepared.surrogate is not None:  # the trees: which cells the loop's MIO will free
        top = prepared.surrogate.top_cells(spec.free_cells)
        figures["surrogate_importance"] = plotting.code_map(
            prepared.generator.decode(prepared.latents[:1])[0], values=prepared.surrogate.importance(),
            outline=_mask(top), title=f"gain importance, top {spec.free_cells} cells outlined").figure
        surrogate_summary.update(top_cells=[divmod(int(c), 8) for c in top],
                                 top_cells_in_lower_half=float(np.mean(top >= 32)))
    return StartedRun(spec, run, prepared, dict(prepared.timings), figures, surrogate_summary)


def run_experiment(spec: RunSpec, out: Path, progress: bool = True, workers: int = 1, address: str | None = None
                   ) -> dict:
    """Run every stage of `spec` and write `summary.json` and figures into `out` (resumable, per seed); the seeds
    run `workers` at a time (on Ray when more than one, or on the cluster at `address`).

    This process runs on the run's thread count too: torch's kernels chosen at another thread count change the
    in-process seeds' results, so only then do they equal a fresh task's."""
    with torch_threads(spec.loop_config(spec.seeds[0]).threads):
        started = start_run(spec, out, progress)
        try:
            with stage("loop", started.timings):
                results, errors = run_jobs(started.jobs(), workers, address, progress)
            if errors:
                raise JobsFailed(errors, str(started.out))
            return finish_run(started, results)
        finally:
            started.close()


def finish_run(started: StartedRun, results: dict[str, dict]) -> dict:
    """Read every seed back, measure the queries' quality, write `summary.json` and the figures."""
    spec, out, prepared = started.spec, started.out, started.prepared
    cfg, source, variant = spec.preset, spec.source, spec.variant
    timings, figures = started.timings, started.figures
    generator, restricted, references = prepared.generator, prepared.restricted, prepared.references
    surrogate_summary = started.surrogate_summary
    records, images = read_seeds(out, spec.seeds)
    for job in started.jobs():
        if job.label in results:
            timings[f"loop_seed{job.seed}"] = results[job.label]["seconds"]

    with stage("quality", timings):
        realism = prepared.realism
        quality = {s: assess(realism, images[s]) for s in records} if realism is not None else {}
        fids = fid_report({variant.name: torch.cat(list(images.values()))},
                          fid_targets(prepared.train, cfg.fid_per_level), extractors(prepared.scorers, realism))
    per_seed = {s: {**summaries.seed_summary(recs, quality.get(s)), "training": references}
                for s, recs in records.items()}
    curves = {k: summaries.curves(records, k) for k in summaries.TOP_KS}
    refs = {"training set, raw (oracle)": {k: references["raw"]["oracle"][f"top{k}"] for k in summaries.TOP_KS},
            "training set, reconstructed (oracle)": {k: references["reconstructed"]["oracle"][f"top{k}"]
                                                     for k in summaries.TOP_KS},
            "best training label (2)": {k: float(world.RESTRICTED_MAX_LABEL) for k in summaries.TOP_KS}}
    figures["topk_curves"] = topk_curves({variant.title: curves}, refs)
    figures["best_queries"] = _best_queries_figure(records, images, realism)
    summary = {
        "preset": cfg.name, "source": source, "variant": variant.name, "seeds": list(spec.seeds),
        "overrides": dict(spec.overrides),
        "faces": {"train": len(prepared.train), "restricted": len(restricted), "target": len(prepared.train.target()),
                  "valid": len(prepared.valid), "per_level": prepared.train.labels.bincount(minlength=6).tolist()},
        "scorer_quality_on_valid": prepared.scorer_quality,
        variant.generator: {"width": generator.cfg.width, "epochs": generator.meta["made_by"]["epochs"],
                            "train_seconds": generator.meta["seconds"], "made_with": generator.meta["made_with"],
                            "held_out_restricted": prepared.generator_quality},
        "surrogate": surrogate_summary,
        "restricted_reference": {**references, "best_training_label": world.RESTRICTED_MAX_LABEL},
        "per_seed": per_seed,
        "aggregate": summaries.aggregate(per_seed),
        "topk_curves": {f"top{k}": {"mean": summaries.mean_std(c)[0].tolist(), "std": summaries.mean_std(c)[1].tolist()}
                        for k, c in curves.items()},
        "quality": {"realism_threshold": realism.threshold if realism is not None else None, **fids},
        "timings_s": timings,
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png")
        plt.close(fig)
    print_run_table(summary)
    print(f"summary and figures written to {out}")
    return summary


def _best_queries_figure(records: dict, images: dict, realism: RealismJudge | None, n: int = 8) -> plt.Figure:
    """The n best unique queries (over all seeds), with the oracle's (o) and the judge's (j) scores; in the synthetic
    world with their re-renders, the difference and the realism error."""
    pooled = [(s, i) for s, recs in records.items() for i in range(len(recs))]
    flat = [records[s][i] for s, i in pooled]
    picked = [pooled[k] for k in summaries.best_unique(flat, n)]
    chosen = torch.stack([images[s][i] for s, i in picked])
    titles = [f"seed {s}: o{records[s][i]['score']:.2f}" + (f" j{records[s][i]['judge']:.2f}"
                                                            if records[s][i]["judge"] is not None else "")
              for s, i in picked]
    if realism is None:
        return plotting.show_images(chosen, titles=titles, ncols=n, scale=1.5, suptitle="Best queries")
    report = realism.assess(chosen)
    titles = [f"{t}\ntrue s {d:.2f}" for t, d in zip(titles, report.true_degree.tolist())]
    return plotting.realism_rows(chosen, report.rerender, report.error, report.passed.tolist(), titles,
                                 suptitle="Best queries, their re-renders and the realism error")
