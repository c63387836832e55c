"""Run directories: the config a run was started with, the state to resume from, a record of every query; read and
written here only, so that a damaged file is named and, where its content survives elsewhere, repaired.

Why: an experiment of hundreds of queries per seed must survive being killed at any point, a crash in the middle of a
write, a full disk or a second process started on the same folder, without losing or repeating a query and without a
traceback for the user to decipher; and the evaluation must read what happened from the records, never recompute it.
A run directory holds:
- `config.json`: the settings (another config is refused; a copy rides in the state, which repairs a damaged file);
- `state.pt`: everything a resume needs, the records included, written atomically after every query with a
  checksum of its content; the state before it is kept as `state.prev.pt`, the checkpoint a damaged or missing
  state falls back to (one query is then made again, and said);
- `queries.jsonl`: one JSON object per query, rewritten atomically from the state's records after every query (for
  people and tools that read JSON lines; a torn or missing line is written again from the state);
- `run.lock`: held (`flock`) by the one process that writes the folder, and naming it; the operating system releases
  it when that process dies, so a lock left by a killed run is taken over.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import os
import socket
import time
from pathlib import Path
from typing import Self

import torch
from tqdm.auto import tqdm

from .files import atomic_path, write_text

CONFIG, QUERIES, STATE, CHECKPOINT, LOCK = "config.json", "queries.jsonl", "state.pt", "state.prev.pt", "run.lock"
SUMMARY = "summary.json"  # of a whole run (all its seeds), in the folder above the seeds'
STATE_FORMAT = "happy-run-state-v2"  # a checksummed state that keeps the config and the records


class RunDirError(ValueError):
    """A run directory that cannot be used as asked; the message names the file and what to do."""


def _say(folder: Path, message: str) -> None:
    """A line for the user about a run folder, above any progress bar."""
    tqdm.write(f"{folder}: {message}")


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The settings that differ, nested ones as dotted names."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} in the directory, {b!r} now")
    return out


class _Damaged(Exception):
    """A file of the run that cannot be read; its message says what is wrong with it."""


def _read_state(path: Path) -> dict:
    """A state file: its checksum checked (a state written before states had one is read as it is)."""
    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - an older state (numpy arrays: not weights-only), or a damaged one
        outer = None
    if isinstance(outer, dict) and outer.get("format") == STATE_FORMAT:
        if hashlib.sha256(outer["payload"]).hexdigest() != outer["sha256"]:
            raise _Damaged(f"{path.name} does not match its checksum (damaged)")
        return torch.load(io.BytesIO(outer["payload"]), map_location="cpu", weights_only=False)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # whatever the damage makes the unpickler do: a bad opcode, a module that does not exist
        raise _Damaged(f"{path.name} cannot be read ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or "done" not in state:
        raise _Damaged(f"{path.name} holds no run state")
    return state


def _disk_full(err: OSError, path: Path, what: str) -> RunDirError:
    return RunDirError(f"no space left on the device of {path} ({err.strerror}) while writing {what}: every query "
                       "saved before is kept; free some space and run the same command again to resume")


class RunLock:
    """This process's exclusive hold on a run folder: `flock` on its `run.lock`, which names the holder. A second
    process is refused with the holder's name; the lock of a process that died is free again (the operating system
    releases it) and is taken over, saying so."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._file = open(self.folder / LOCK, "a+")  # noqa: SIM115 - held open: the lock lives as long as the file
        self._locked = True
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            self._file.close()
            raise RunDirError(f"{self.folder} is in use by {holder or 'another process'} (it holds {LOCK}): two "
                              "processes must not write one run folder. Wait for it to end, or stop it, and run the "
                              "command again") from None
        except OSError as err:  # a file system without locks (some network and FUSE mounts)
            self._locked = False
            _say(self.folder, f"its file system cannot lock {LOCK} ({err.strerror}): nothing keeps a second process "
                              "from writing this folder; run one command on it at a time")
        left = self._holder()
        if left and self._locked:
            _say(self.folder, f"{LOCK} names {left}, which ended without releasing it: taken over")
        elif left:
            _say(self.folder, f"{LOCK} names {left}, which may still run: without locks it cannot be told")
        self._write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")

    def _holder(self) -> str:
        self._file.seek(0)
        return self._file.read().strip()

    def _write(self, text: str) -> None:
        self._file.seek(0)
        self._file.truncate()
        self._file.write(text + "\n" if text else "")
        self._file.flush()

    def release(self) -> None:
        """Free the folder (an empty lock file is a free one)."""
        if not self._file.closed:
            self._write("")
            if self._locked:
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()


class RunDir:
    """One run's folder. `RunDir(path, config)` opens it to write: it takes the folder's lock, and either starts the
    run or resumes it if the config is the same; `close()` frees it. `RunDir.existing(path)` opens it to read."""

    def __init__(self, path: Path, config: dict):
        self.path = Path(path)
        self.config = json.loads(json.dumps(config))  # as it will read back from disk
        self._state: dict | None = None
        self._fell_back = False  # the state came from the checkpoint, or from nowhere though files were there
        known = (CONFIG, STATE, CHECKPOINT, QUERIES)
        if self.path.exists() and not any((self.path / n).exists() for n in known) and \
                any(p.name != LOCK for p in self.path.iterdir()):
            raise RunDirError(f"{self.path} exists, is not empty and has no {CONFIG}: it is not a run directory; "
                              "choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock: RunLock | None = RunLock(self.path)
        try:
            stored = self._stored_config(repair=True)
            if stored is None:
                write_text(self.path / CONFIG, json.dumps(self.config, indent=2))
            elif stored != self.config:
                raise RunDirError(f"{self.path} holds a run with another config, which would be overwritten; "
                                  "choose another --out, or repeat the original settings to resume it. "
                                  f"Differences: {'; '.join(_differences(stored, self.config))}")
        except BaseException:
            self.close()
            raise

    @classmethod
    def existing(cls, path: Path) -> RunDir:
        """A run directory opened to read it, with the config it holds; nothing is written, no lock is taken."""
        run = cls.__new__(cls)
        run.path, run._state, run._lock, run._fell_back = Path(path), None, None, False
        stored = run._stored_config(repair=False)
        if stored is None:
            raise RunDirError(f"{path} is not a run directory (no {CONFIG}): run `python -m happy_utils run` first")
        run.config = stored
        return run

    def close(self) -> None:
        """Free the folder for another process."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _stored_config(self, repair: bool) -> dict | None:
        """The config the folder holds: `config.json`, or, when it is missing or damaged, the copy in the run's state
        (written back with `repair`); None for a folder where nothing was computed yet."""
        path = self.path / CONFIG
        if path.exists():
            try:
                return json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                problem = f"{CONFIG} is not valid JSON ({err})"
        elif any((self.path / n).exists() for n in (STATE, CHECKPOINT)):
            problem = f"{CONFIG} is missing"
        else:
            return None
        state = self.load_state()
        if state is not None and "config" in state:
            _say(self.path, f"{problem}: {'rewritten from' if repair else 'read from'} the copy in the run's state")
            if repair:
                write_text(path, json.dumps(state["config"], indent=2))
            return state["config"]
        if state is None and not (self.path / QUERIES).exists() and repair:
            _say(self.path, f"{problem}; no query of this folder depends on it: written anew")
            return None
        raise RunDirError(f"{self.path}: {problem}, and no state of the run keeps a copy of its settings: restore "
                          f"{path} (e.g. from a backup), or choose another --out")

    # -------------------------------------------------------------------------------------------------- the state
    def load_state(self) -> dict | None:
        """The latest readable state: `state.pt`, else its checkpoint `state.prev.pt` (said, with the query it is at),
        else None (said, where there were state files)."""
        if self._state is not None:
            return self._state
        self._fell_back = False
        problems = []
        for name in (STATE, CHECKPOINT):
            path = self.path / name
            if not path.exists():
                problems.append(f"{name} is missing")
                continue
            try:
                state = _read_state(path)
            except _Damaged as err:
                problems.append(str(err))
                continue
            if problems:
                _say(self.path, f"{'; '.join(problems)}: {name} read instead, saved with {state['done']} queries done")
                self._fell_back = True
            self._state = state
            return state
        if any((self.path / name).exists() for name in (STATE, CHECKPOINT)):
            _say(self.path, f"{'; '.join(problems)}: no state to go on from")
            self._fell_back = True
        return None

    def save_state(self, state: dict) -> None:
        """Save the state, with the run's config and its records (`state["records"]`), to a file that replaces
        `state.pt`, keeping the one before as `state.prev.pt`; then rewrite `queries.jsonl` from the records. A full
        disk is a clear error and leaves the last saved state as it was."""
        state = {**state, "config": self.config}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        payload = buffer.getvalue()
        try:
            with atomic_path(self.path / STATE) as tmp:
                torch.save({"format": STATE_FORMAT, "sha256": hashlib.sha256(payload).hexdigest(),
                            "payload": payload}, tmp)
                if (self.path / STATE).exists():
                    os.replace(self.path / STATE, self.path / CHECKPOINT)
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise _disk_full(err, self.path, f"{STATE} after query {state['done'] - 1}") from err
            raise
        self._state = state
        self._write_records(state["records"])

    # ------------------------------------------------------------------------------------------------ the records
    @property
    def queries_path(self) -> Path:
        return self.path / QUERIES

    def _file_records(self) -> tuple[list[dict], str | None]:
        """The complete records of `queries.jsonl`, in order, and what is wrong with the file, if anything."""
        if not self.queries_path.exists():
            return [], f"{QUERIES} is missing"
        out = []
        lines = self.queries_path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                where = "its last line is cut off" if i == len(lines) - 1 else f"line {i + 1} is damaged"
                return out, f"{QUERIES}: {where}"
        return out, None

    def _write_records(self, records: list[dict]) -> None:
        try:
            write_text(self.queries_path, "".join(json.dumps(r) + "\n" for r in records))
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise _disk_full(err, self.path, QUERIES) from err
            raise

    def records(self) -> list[dict]:
        """Every query's record: the state's (their source), else, for a state written before states kept them, the
        complete lines of `queries.jsonl`."""
        state = self.load_state()
        if state is not None and "records" in state:
            return state["records"]
        return self._file_records()[0]

    def resume(self) -> dict | None:
        """The state to go on from (None: start from the first query), with `queries.jsonl` made to hold exactly its
        records. What had to be repaired is said: a file rewritten from the state, the queries to be made again."""
        state = self.load_state()
        done = state["done"] if state is not None else 0
        recorded, problem = self._file_records()
        if state is not None and "records" not in state:  # written before states kept the records
            if len(recorded) < done:
                raise RunDirError(f"{self.path}: {problem or QUERIES + ' lacks records'}; it holds {len(recorded)} "
                                  f"records and {STATE} {done} queries, and this state (an older format) keeps no "
                                  f"copy of them: delete {self.path} to run the seed again")
            state["records"] = recorded[:done]
        records = state["records"] if state is not None else []
        if len(recorded) > done:
            _say(self.path, f"{len(recorded) - done} of the {len(recorded)} recorded queries come after the saved "
                            f"state ({done} done): made again")
        elif self._fell_back:
            _say(self.path, f"the run goes on after its first {done} queries: any it had saved after them are made "
                            "again")
        elif problem and state is not None:
            _say(self.path, f"{problem}: its {done} records written again from the state")
        elif len(recorded) < done:
            _say(self.path, f"{QUERIES} holds {len(recorded)} of the {done} records: written again from the state")
        if recorded != records or problem:
            self._write_records(records)
        return state


def read_summary(folder: Path) -> dict | None:
    """A whole run's `summary.json`: None when there is none yet, or when it is damaged (said: the run's finished seeds
    are read back and it is written anew)."""
    path = Path(folder) / SUMMARY
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        _say(Path(folder), f"{SUMMARY} is damaged ({err}): it is written anew from the seeds' records")
        return None
