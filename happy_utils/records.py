"""Run directories: the config a run was started with, a record of every query, and the state to resume from.

Why: an experiment of hundreds of queries per seed must survive being killed at any point without losing or
repeating a query, and the evaluation must read what happened from the records, never recompute it. A run directory
holds `config.json` (refused if another config is asked of it), `queries.jsonl` (one JSON object per query, appended
and flushed before the state moves on) and `state.pt` (written atomically after each query).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .files import atomic_path, write_text

CONFIG, QUERIES, STATE = "config.json", "queries.jsonl", "state.pt"


class RunDirError(ValueError):
    """A run directory that cannot be used for this run; nothing in it was changed."""


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


class RunDir:
    """One run's folder. Opening it with a config either starts it, or resumes it if the config is the same."""

    def __init__(self, path: Path, config: dict):
        self.path = Path(path)
        self.config = json.loads(json.dumps(config))  # as it will read back from disk
        existing = self.path / CONFIG
        if existing.exists():
            try:
                stored = json.loads(existing.read_text())
            except json.JSONDecodeError as err:
                raise RunDirError(f"{existing} is not valid JSON ({err}); this is not a run directory of "
                                  "happy-people, or it was damaged: choose another --out") from err
            if stored != self.config:
                raise RunDirError(f"{self.path} holds a run with another config, which would be overwritten; "
                                  "choose another --out, or repeat the original settings to resume it. "
                                  f"Differences: {'; '.join(_differences(stored, self.config))}")
        elif self.path.exists() and any(self.path.iterdir()):
            raise RunDirError(f"{self.path} exists, is not empty and has no {CONFIG}: it is not a run directory; "
                              "choose another --out")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            write_text(existing, json.dumps(self.config, indent=2))

    @classmethod
    def existing(cls, path: Path) -> RunDir:
        """A run directory opened to read it, with the config it holds; nothing is written."""
        path = Path(path)
        if not (path / CONFIG).exists():
            raise RunDirError(f"{path} is not a run directory (no {CONFIG}): run `python -m happy_utils run` first")
        return cls(path, json.loads((path / CONFIG).read_text()))

    # ------------------------------------------------------------------------------------------------ the records
    @property
    def queries_path(self) -> Path:
        return self.path / QUERIES

    def records(self) -> list[dict]:
        """Every complete record, in order; a last line cut off by a crash is ignored."""
        if not self.queries_path.exists():
            return []
        out = []
        for line in self.queries_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return out

    def append(self, record: dict) -> None:
        """Append one record and make sure it is on disk before the run moves on."""
        with open(self.queries_path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def keep_records(self, n: int) -> None:
        """Keep the first n records: those the saved state accounts for (a later one is made again on resume)."""
        records = self.records()
        if len(records) != n or self.queries_path.exists() and not self.queries_path.read_text().endswith("\n"):
            write_text(self.queries_path, "".join(json.dumps(r) + "\n" for r in records[:n]))

    # -------------------------------------------------------------------------------------------------- the state
    def save_state(self, state: dict) -> None:
        with atomic_path(self.path / STATE) as tmp:
            torch.save(state, tmp)

    def load_state(self) -> dict | None:
        path = self.path / STATE
        return torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None

