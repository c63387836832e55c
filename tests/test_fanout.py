"""Seeds as Ray tasks: the same queries as in one process, a killed worker resumed, a two-node cluster used."""

import json
import os
import signal
import threading
import time

import pytest
import torch

from happy_utils.experiments.fanout import Job, run_jobs
from happy_utils.experiments.run import start_run
from happy_utils.experiments.spec import RunSpec


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module: the smoke VQ-VAE is trained once, by the first driver."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def jobs(shared_cache, tmp_path, monkeypatch):
    """Jobs of the smoke preset (two seeds, `budget` queries each) in a fresh folder, with their stages done. This
    process runs on the jobs' one thread, as `run_experiment` does (see there why)."""
    monkeypatch.setenv("HAPPY_CACHE_DIR", str(shared_cache))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def make(folder: str, budget: int = 3, seeds=(0, 1)) -> list[Job]:
        return start_run(RunSpec.resolve("smoke", "synthetic", "vqvae-wr", list(seeds), budget=budget),
                         tmp_path / folder, progress=False).jobs()
    yield make
    torch.set_num_threads(threads)


def _queries(job: Job) -> list:
    lines = (job.seed_dir / "queries.jsonl").read_text().splitlines()
    return [[r["index"], r["code"], r["score"], r["judge"], r["base_code"]] for r in map(json.loads, lines)]


def test_two_workers_give_the_same_queries_as_one(jobs):
    one, two = jobs("one"), jobs("two")
    finished = {"one": [], "two": []}  # what `on_finished` saw, in this process, when each job had ended
    results, errors = run_jobs(one, workers=1, progress=False,
                               on_finished=lambda job: finished["one"].append((job.label, len(_queries(job)))))
    assert not errors and set(results) == {"vqvae-wr seed 0", "vqvae-wr seed 1"}
    results, errors = run_jobs(two, workers=2, progress=False,
                               on_finished=lambda job: finished["two"].append((job.label, len(_queries(job)))))
    assert not errors and all(r["queries"] == 3 for r in results.values())
    for part in ("one", "two"):
        assert sorted(finished[part]) == [("vqvae-wr seed 0", 3), ("vqvae-wr seed 1", 3)]
    for a, b in zip(one, two):
        assert _queries(a) == _queries(b) and len(_queries(a)) == 3
    log = (two[0].seed_dir.parent / "seed0.log").read_text()
    assert "start: vqvae-wr seed 0" in log and "query 2: score" in log and "finished: 3 queries" in log


def test_a_killed_worker_is_retried_and_resumes_to_the_same_queries(jobs):
    (reference,), killed = jobs("reference", budget=10, seeds=(0,)), jobs("killed", budget=10)
    run_jobs([reference], workers=1, progress=False)
    log = killed[0].seed_dir.parent / "seed0.log"
    victims, finished = [], threading.Event()

    def kill_after_the_first_query():  # polls until the job has logged its first query, however slow the machine
        while not finished.is_set():
            lines = log.read_text().splitlines() if log.exists() else []
            starts = [line for line in lines if " start: " in line]
            if starts and any(" query 0: " in line for line in lines):
                pid = int(starts[0].rsplit("pid ", 1)[1])
                os.kill(pid, signal.SIGKILL)
                victims.append(pid)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_after_the_first_query)
    watcher.start()
    try:
        results, errors = run_jobs(killed, workers=2, progress=False)
    finally:
        finished.set()
        watcher.join()
    assert victims, "the job finished before the watcher saw its first query"
    assert not errors and results["vqvae-wr seed 0"]["queries"] == 10 == results["vqvae-wr seed 1"]["queries"]
    lines = log.read_text().splitlines()
    assert sum(" start: " in line for line in lines) == 2  # the first attempt and Ray's retry
    assert _queries(killed[0]) == _queries(reference)


def test_a_two_node_cluster_runs_seeds_on_both_nodes_into_shared_folders(jobs, monkeypatch):
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the test cluster on 127.0.0.1
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    # Ray keeps the first token a process used: reuse it where an earlier local cluster of this process made one
    monkeypatch.setenv("RAY_AUTH_TOKEN", os.environ.get("RAY_AUTH_TOKEN") or "test-" + os.urandom(16).hex())
    from ray.cluster_utils import Cluster

    reference, spread = jobs("reference"), jobs("spread")
    run_jobs(reference, workers=1, progress=False)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        results, errors = run_jobs(spread, workers=2, address=cluster.address, progress=False)
    finally:
        cluster.shutdown()
    assert not errors
    assert len({r["node"] for r in results.values()}) == 2  # one CPU per node, two one-CPU tasks at once
    for a, b in zip(reference, spread):
        assert _queries(a) == _queries(b)
