"""Fault injection: run folders survive damage. Each fault ends in the same queries as an undisturbed run, or in a
clear message that names the file (no traceback) after which the same command completes with nothing lost.

The loop's faults run the tiny loop in this process (`loop_fixture`); the command's faults run
`python -m happy_utils run` at the smoke preset as a user would, killed with SIGKILL, its files damaged, run again.
A killed Ray worker is `test_fanout.py::test_a_killed_worker_is_retried_and_resumes_to_the_same_queries`.
"""

import errno
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from loop_fixture import CFG

from happy_utils import records
from happy_utils.loop import run_loop
from happy_utils.records import (
    CHECKPOINT,
    CONFIG,
    LOCK,
    QUERIES,
    STATE,
    RunDir,
    RunDirError,
)


def _codes(run_records):
    return [(r["index"], r["code"], r["score"]) for r in run_records]


@pytest.fixture(scope="module")
def straight(latent, oracle, tmp_path_factory):
    """The undisturbed run's queries."""
    return _codes(run_loop(tmp_path_factory.mktemp("straight") / "run", latent, CFG, oracle, progress=False).records)


def _killed_after(folder, latent, oracle, monkeypatch, queries: int):
    """A run killed while saving query `queries` (so `queries` are saved)."""
    real, calls = RunDir.save_state, {"n": 0}

    def dies(self, state):
        calls["n"] += 1
        if calls["n"] > queries:
            raise KeyboardInterrupt("killed")
        return real(self, state)

    monkeypatch.setattr(RunDir, "save_state", dies)
    with pytest.raises(KeyboardInterrupt):
        run_loop(folder, latent, CFG, oracle, progress=False)
    monkeypatch.setattr(RunDir, "save_state", real)


def _overwrite(path, at: float, data: bytes = b"xxxxxxxx"):
    """Overwrite bytes of a file at a byte offset (int) or a fraction of its length (float)."""
    raw = bytearray(path.read_bytes())
    pos = at if isinstance(at, int) else int(len(raw) * at)
    raw[pos:pos + len(data)] = data
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["torn last line", "queries.jsonl missing", "a line damaged"])
def test_a_damaged_record_file_is_written_again_from_the_state(tmp_path, latent, oracle, straight, monkeypatch,
                                                               capsys, damage):
    run = tmp_path / "run"
    _killed_after(run, latent, oracle, monkeypatch, 3)
    queries = run / QUERIES
    if damage == "torn last line":
        queries.write_bytes(queries.read_bytes()[:-20])
    elif damage == "queries.jsonl missing":
        queries.unlink()
    else:
        _overwrite(queries, 0.4, b"\x00{]")
    resumed = run_loop(run, latent, CFG, oracle, progress=False).records
    out = capsys.readouterr().out
    assert "written again from the state" in out and str(run) in out
    assert _codes(resumed) == straight
    assert [json.loads(line)["index"] for line in queries.read_text().splitlines()] == list(range(CFG.budget))


@pytest.mark.parametrize("damage", ["8 bytes in its pickle", "8 bytes in its tensors", "cut short", "missing",
                                    "missing, and the last record torn"])
def test_a_damaged_state_goes_on_from_its_checkpoint_and_says_what_is_made_again(tmp_path, latent, oracle, straight,
                                                                                 monkeypatch, capsys, damage):
    run = tmp_path / "run"
    _killed_after(run, latent, oracle, monkeypatch, 4)
    state = run / STATE
    if damage == "8 bytes in its pickle":
        _overwrite(state, 70)  # the opcodes that open the file's dictionary
    elif damage == "8 bytes in its tensors":
        _overwrite(state, 0.5)  # the payload: only its checksum can tell
    elif damage == "cut short":
        state.write_bytes(state.read_bytes()[:1000])
    else:
        state.unlink()
        if damage.endswith("torn"):
            (run / QUERIES).write_bytes((run / QUERIES).read_bytes()[:-20])
    resumed = run_loop(run, latent, CFG, oracle, progress=False).records
    out = capsys.readouterr().out
    assert f"{STATE} " in out and f"{CHECKPOINT} read instead, saved with 3 queries done" in out
    if damage.endswith("torn"):  # nothing on disk says how far the run had got: said so
        assert "the run goes on after its first 3 queries: any it had saved after them are made again" in out
    else:
        assert "1 of the 4 recorded queries come after the saved state (3 done): made again" in out
    assert _codes(resumed) == straight


def test_both_states_damaged_start_the_seed_again_and_say_how_many_queries(tmp_path, latent, oracle, straight,
                                                                            monkeypatch, capsys):
    run = tmp_path / "run"
    _killed_after(run, latent, oracle, monkeypatch, 4)
    _overwrite(run / STATE, 0.5)
    (run / CHECKPOINT).write_bytes(b"")
    resumed = run_loop(run, latent, CFG, oracle, progress=False).records
    out = capsys.readouterr().out
    assert "no state to go on from" in out and "4 of the 4 recorded queries" in out
    assert _codes(resumed) == straight


def test_a_damaged_config_is_written_again_from_the_state_and_another_is_still_refused(tmp_path, latent, oracle,
                                                                                     straight, monkeypatch, capsys):
    run = tmp_path / "run"
    _killed_after(run, latent, oracle, monkeypatch, 2)
    good = (run / CONFIG).read_text()
    (run / CONFIG).write_text(good[:30])
    resumed = run_loop(run, latent, CFG, oracle, progress=False).records
    assert f"{CONFIG} is not valid JSON" in capsys.readouterr().out and (run / CONFIG).read_text() == good
    assert _codes(resumed) == straight
    (run / CONFIG).unlink()
    with pytest.raises(RunDirError, match="another config"):  # the state's copy still guards the settings
        run_loop(run, latent, replace(CFG, free_cells=8), oracle, progress=False)
    assert f"{CONFIG} is missing: rewritten from the copy in the run's state" in capsys.readouterr().out


@pytest.mark.parametrize("full", ["state.pt", "queries.jsonl"])
def test_a_full_disk_stops_with_a_clear_message_and_loses_nothing(tmp_path, latent, oracle, straight, monkeypatch,
                                                                  full):
    """A write that raises OSError(ENOSPC) at the fourth query: the run stops with a message, the folder keeps what
    was saved, and the same call afterwards completes with the undisturbed queries."""
    run, calls = tmp_path / "run", {"n": 0}
    if full == "state.pt":
        real = records.torch.save

        def save(obj, f, *args, **kwargs):
            if not hasattr(f, "write"):  # the state file, not the in-memory payload
                calls["n"] += 1
                if calls["n"] == 4:
                    with open(f, "wb") as half:
                        half.write(b"PK\x03\x04 half a zip")  # what a full disk leaves: part of a file
                    raise OSError(errno.ENOSPC, "No space left on device")
            return real(obj, f, *args, **kwargs)

        monkeypatch.setattr(records.torch, "save", save)
    else:
        real = records.write_text

        def save(path, text):
            if path.name == QUERIES:
                calls["n"] += 1
                if calls["n"] == 4:
                    raise OSError(errno.ENOSPC, "No space left on device")
            return real(path, text)

        monkeypatch.setattr(records, "write_text", save)
    with pytest.raises(RunDirError, match=f"no space left on the device of {run}.*while writing .*free some space and "
                                          "run the same command again"):
        run_loop(run, latent, CFG, oracle, progress=False)
    monkeypatch.undo()
    assert not list(run.glob("*.tmp*")), "a half-written file was left behind"
    assert _codes(run_loop(run, latent, CFG, oracle, progress=False).records) == straight


HOLD = """
import sys, time
from happy_utils.records import RunDir
run = RunDir(sys.argv[1], {"a": 1})
print("holding", flush=True)
time.sleep(120)
"""


def test_a_second_process_is_refused_and_a_dead_holders_lock_is_taken_over(tmp_path, capsys):
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(RunDirError, match=f"{folder} is in use by pid {holder.pid} on {socket.gethostname()} "
                                              f"since .* holds {LOCK}.*two processes must not write one run folder"):
            RunDir(folder, {"a": 1})
    finally:
        holder.kill()
        holder.wait()
    with RunDir(folder, {"a": 1}):  # the killed holder's lock is free: taken over, and said
        assert f"{LOCK} names pid {holder.pid} on {socket.gethostname()}" in capsys.readouterr().out
        with pytest.raises(RunDirError, match="is in use by pid"):  # a second hold, even in this process
            RunDir(folder, {"a": 1})
    with RunDir(folder, {"a": 1}):  # released on close: no message, nothing to take over
        assert "taken over" not in capsys.readouterr().out


# --------------------------------------------------------------------------------------- the command, as a user runs it

def _command(out, env, timeout=600) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "happy_utils", "run", "--preset", "smoke", "--seeds", "0",
                             "--budget", "6", "--out", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(out, env) -> str:
    done = _command(out, env)
    printed, _ = done.communicate(timeout=600)
    assert done.returncode == 0, printed[-3000:]
    assert "Traceback" not in printed, printed[-3000:]
    return printed


def _kill_after(out, env, queries: int, delay: float) -> None:
    """Start the command and SIGKILL it `delay` s after its log shows `queries` queries saved."""
    run, log = _command(out, env), out / "seed0.log"
    while run.poll() is None:
        lines = log.read_text().splitlines() if log.exists() else []
        this_run = lines[max((i for i, line in enumerate(lines) if " start: " in line), default=0):]
        if any(f" query {queries - 1}: " in line for line in this_run):
            time.sleep(delay)
            run.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    run.communicate(timeout=60)


def _queries(out):
    return [(r["index"], r["code"], r["score"]) for r in map(json.loads, (out / "seed0" / QUERIES).read_text()
                                                              .splitlines())]


@pytest.fixture(scope="module")
def command_env(tmp_path_factory):
    """The command's environment: its own cache (the smoke VQ-VAE trained once) and folders."""
    tmp = tmp_path_factory.mktemp("command")
    return {**os.environ, "HAPPY_CACHE_DIR": str(tmp / "cache"), "HAPPY_RUNS_DIR": str(tmp / "runs"),
            "HAPPY_PRESET": "smoke"}


def test_the_command_killed_at_random_points_resumes_to_the_undisturbed_queries(tmp_path, command_env):
    _finish(tmp_path / "straight", command_env)
    rng = random.Random(28)
    out = tmp_path / "killed"
    for queries in sorted(rng.sample(range(1, 6), 3)):  # three kills, anywhere after 1 to 5 queries
        _kill_after(out, command_env, queries, delay=rng.uniform(0, 1.5))
    _finish(out, command_env)
    assert _queries(out) == _queries(tmp_path / "straight")


def test_the_issues_two_cases_give_the_six_undisturbed_queries(tmp_path, command_env):
    """`run --seeds 0 --budget 6` killed after 3 queries, then (a) 8 bytes of state.pt overwritten, (b) the last 20
    bytes of queries.jsonl cut; the same command again names the file and ends with the six queries."""
    _finish(tmp_path / "straight", command_env)
    _kill_after(tmp_path / "killed", command_env, 3, delay=0)
    cases = {"state": tmp_path / "state", "torn": tmp_path / "torn"}
    for out in cases.values():
        shutil.copytree(tmp_path / "killed", out)
    _overwrite(cases["state"] / "seed0" / STATE, 70)
    queries = cases["torn"] / "seed0" / QUERIES
    queries.write_bytes(queries.read_bytes()[:-20])
    said = {name: _finish(out, command_env) for name, out in cases.items()}
    assert f"{STATE} cannot be read" in said["state"] and f"{CHECKPOINT} read instead" in said["state"]
    assert "1 of the 3 recorded queries come after the saved state (2 done): made again" in said["state"]
    assert "queries.jsonl: its last line is cut off" in said["torn"]
    for out in cases.values():
        assert _queries(out) == _queries(tmp_path / "straight") and len(_queries(out)) == 6


def test_a_state_written_before_states_kept_records_is_still_resumed(tmp_path, latent, oracle, straight, monkeypatch):
    """A run folder of the earlier layout (a bare state, the records only in queries.jsonl) resumes to the same
    queries; when its records file has lost one, the message says that such a state cannot restore it."""
    run = tmp_path / "run"
    _killed_after(run, latent, oracle, monkeypatch, 3)
    state = RunDir.existing(run).load_state()
    legacy = {k: v for k, v in state.items() if k not in ("records", "config")}
    records.torch.save(legacy, run / STATE)
    (run / CHECKPOINT).unlink()
    older = tmp_path / "older"
    shutil.copytree(run, older)
    assert len(RunDir.existing(run).records()) == 3
    assert _codes(run_loop(run, latent, CFG, oracle, progress=False).records) == straight
    (older / QUERIES).write_text("".join((older / QUERIES).read_text().splitlines(keepends=True)[:2]))
    with pytest.raises(RunDirError, match="holds 2 records and state.pt 3 queries, and this state "
                                          "\\(an older format\\) keeps no copy of them"):
        run_loop(older, latent, CFG, oracle, progress=False)


def test_a_file_system_without_locks_is_said_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    def no_locks(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(records.fcntl, "flock", no_locks)
    with RunDir(tmp_path / "run", {"a": 1}) as run:
        run.save_state({"done": 1, "records": [{"index": 0}]})
    assert "cannot lock run.lock (No locks available)" in capsys.readouterr().out
    assert RunDir.existing(tmp_path / "run").records() == [{"index": 0}]
