"""Many runs at once: every (variant, seed) a task, on a local Ray cluster or an existing one.

Why: the paper's experiment is 6 variants x 20 seeds x 500 queries, and two runs started side by side on one machine
fight over its cores. Ray schedules one task per (variant, seed), gives each its share of the cores (and a GPU where
there is one), retries a task whose worker process dies, and spreads the tasks over a cluster's machines. A task only
runs one seed's loop into its own run folder, which resumes from its saved state: a retried or restarted task loses
nothing and repeats nothing, and two tasks never write one folder.

Security: the local cluster the command starts listens on 127.0.0.1 only (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`,
set before Ray is imported) and requires a token generated for this run (`RAY_AUTH_MODE=token`), kept in the
processes' environment, never written to disk; no dashboard is started. Joining a cluster on a network is the user's
explicit choice (`--address` or `$RAY_ADDRESS`), with that cluster's own token (`RAY_AUTH_TOKEN`). Run folders live
on storage that every node sees (the cluster's shared file system): the driver reads the records back from there.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..records import QUERIES, RunDirError
from ..scorers.loading import load_scorers
from .seed import Starts, run_seed
from .spec import RunSpec

ADDRESS_ENV = "RAY_ADDRESS"
MAX_RETRIES = 3  # a task whose worker process dies is started again this many times
OBJECT_STORE_BYTES = 200 * 1024 ** 2  # tasks return a few numbers; the records stay in the run folders


class JobsFailed(RuntimeError):
    """Some jobs failed: each is named with its error (the others are finished), and every query they saved is kept,
    so running the same command again resumes them."""

    def __init__(self, errors: dict[str, str], where: str):
        failed = "; ".join(f"{label}: {error}" for label, error in errors.items())
        super().__init__(f"{len(errors)} runs failed ({failed}); every query they saved is kept in {where}: run the "
                         "same command again to resume")


def _cause(err: BaseException) -> BaseException:
    """The error a job raised, out of Ray's wrapper (whose text carries the remote traceback)."""
    return getattr(err, "cause", None) or err


@dataclass(frozen=True)
class Job:
    """One seed of one run: what it computes (the spec, with its one seed) and where (its variant's folder)."""

    spec: RunSpec
    folder: str

    @property
    def seed(self) -> int:
        return self.spec.seeds[0]

    @property
    def label(self) -> str:
        return f"{self.spec.variant.name} seed {self.seed}"

    @property
    def seed_dir(self) -> Path:
        return Path(self.folder) / f"seed{self.seed}"

    def queries_done(self) -> int:
        path = self.seed_dir / QUERIES
        return sum(1 for _ in open(path)) if path.exists() else 0


def job_threads(job: Job) -> int:
    return job.spec.loop_config(job.seed).threads


def ray_installed() -> bool:
    """Whether Ray, an extra (`pip install -e ".[ray]"`), is installed: the method and the notebooks never need it."""
    return importlib.util.find_spec("ray") is not None


def require_ray(what: str) -> None:
    """Fail before any work, saying how to get Ray, when `what` (e.g. "--workers 2") needs it and it is missing."""
    if not ray_installed():
        raise ValueError(f"{what} runs seeds as Ray tasks, and Ray is not installed: pip install -e \".[ray]\" (or "
                         "\"happy-utils[ray]\"), or run the seeds one after another in this process with --workers 1")


def default_workers(threads: int = 1) -> int:
    """As many tasks as the cores allow at `threads` each, on Ray; one, in this process, without Ray."""
    return max(1, (os.cpu_count() or 1) // threads) if ray_installed() else 1


def _task_body(job: Job) -> dict:
    """What a Ray task runs: one seed's loop; returns its wall time and queries. OpenMP's threads (LightGBM's, when it
    is not told) follow the run's; torch's are set by the loop itself (a reused worker keeps its last setting)."""
    os.environ["OMP_NUM_THREADS"] = str(job_threads(job))
    start = time.perf_counter()
    result = run_seed(job.spec, Path(job.folder))
    import ray  # only ever imported inside a Ray worker here

    return {"label": job.label, "seconds": round(time.perf_counter() - start, 2), "queries": len(result.records),
            "node": ray.get_runtime_context().get_node_id()}


class Cluster:
    """A Ray cluster for the command's lifetime: a local one on loopback with a fresh token, or the one at `address`."""

    def __init__(self, workers: int, threads: int, address: str | None = None):
        self.workers, self.threads = workers, threads
        self.address = address or os.environ.get(ADDRESS_ENV)

    def __enter__(self) -> Cluster:
        require_ray(f"--address {self.address}" if self.address else f"--workers {self.workers}")
        if self.address is None:
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every listener on 127.0.0.1; before import ray
            os.environ["RAY_AUTH_MODE"] = "token"
            os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))  # in memory only, inherited by workers
        import ray

        self.ray = ray
        if self.address is None:
            ray.init(num_cpus=self.workers * self.threads, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR", object_store_memory=OBJECT_STORE_BYTES)
        else:
            ray.init(address=self.address, log_to_driver=False, logging_level="ERROR")
        self.gpus = 1 if torch.cuda.is_available() and ray.cluster_resources().get("GPU", 0) >= 1 else 0
        options = {"num_cpus": self.threads, "num_gpus": self.gpus, "max_retries": MAX_RETRIES}
        if self.address is not None:  # another machine's workers: give them this command's folders and preset
            options["runtime_env"] = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith("HAPPY_")}}
        self.remote = ray.remote(**options)(_task_body)
        return self

    def __exit__(self, *exc) -> None:
        self.ray.shutdown()

    def submit(self, job: Job):
        return self.remote.remote(job)


def run_jobs(jobs: list[Job], workers: int = 1, address: str | None = None, progress: bool = True,
             on_finished: Callable[[Job], None] | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """Run every job, `workers` at a time; one progress bar over all of them (queries done, tasks done, ETA).
    `on_finished(job)` runs here, in this process, as soon as a job has finished (while the others go on); if it
    fails, the job is reported as failed.

    With one worker (or one job) and no cluster named, the jobs run in this process one after another (sharing their
    start latents); otherwise each is a Ray task. A failed job is reported with its (variant, seed) and the others go
    on. Returns what each finished job reported and the errors, both by job label.
    """
    threads = {job_threads(job) for job in jobs}
    if len(threads) > 1:
        raise ValueError(f"the jobs ask for different thread counts {sorted(threads)}; run them separately")
    threads = threads.pop() if threads else 1
    total = sum(job.spec.loop_config(job.seed).budget for job in jobs)
    bar = tqdm(total=total, initial=sum(j.queries_done() for j in jobs), desc=f"{len(jobs)} runs, {workers} at a time",
               unit="query", disable=not progress)
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}

    def report(job: Job, err: BaseException) -> None:
        err = _cause(err)
        if not isinstance(err, RunDirError):  # a damaged or busy folder says what to do; anything else is a bug
            traceback.print_exception(err)
        errors[job.label] = f"{type(err).__name__}: {err}" if not isinstance(err, RunDirError) else str(err)
        tqdm.write(f"FAILED {job.label}: {errors[job.label]}")

    def update(done_tasks: int) -> None:
        bar.n = sum(j.queries_done() for j in jobs)
        bar.set_postfix(tasks=f"{done_tasks}/{len(jobs)}")
        bar.refresh()

    if (workers == 1 or len(jobs) <= 1) and address is None and os.environ.get(ADDRESS_ENV) is None:
        starts, scorers = Starts(), {}
        for i, job in enumerate(jobs):
            start = time.perf_counter()
            try:
                if job.spec.source not in scorers:
                    scorers[job.spec.source] = load_scorers(job.spec.source)
                latent = starts.get(job.spec, scorers[job.spec.source])
                result = run_seed(job.spec, Path(job.folder), latent, scorers[job.spec.source],
                                  on_query=lambda record, done=i: update(done))
                results[job.label] = {"label": job.label, "seconds": round(time.perf_counter() - start, 2),
                                      "queries": len(result.records)}
                if on_finished is not None:
                    on_finished(job)
            except Exception as err:  # a broken job must not stop the others
                report(job, err)
            update(i + 1)
    else:
        with Cluster(workers, threads, address) as cluster:
            pending = {cluster.submit(job): job for job in jobs}
            finished = 0
            while pending:
                done, _ = cluster.ray.wait(list(pending), num_returns=len(pending), timeout=1.0)
                for ref in done:
                    job = pending.pop(ref)
                    finished += 1
                    try:
                        results[job.label] = cluster.ray.get(ref)
                        if on_finished is not None:
                            on_finished(job)
                    except Exception as err:  # the task's error, or its worker crashed more than MAX_RETRIES times
                        report(job, err)
                update(finished)
    bar.close()
    return results, errors
