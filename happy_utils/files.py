"""Files that must never be half-written, and shipped files that must be what the repository says they are.

Why: a run is killed at any moment (a laptop lid, a Colab timeout, Ray retrying a task), and whatever it was writing
must either be the old file or the new one. Every write of a result, a cache, a checkpoint or a state goes through
`atomic_path`; every file the repository ships (scorer weights) is checked against `SHA256SUMS` beside it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHECKSUMS = "SHA256SUMS"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; it replaces `path` when the block ends without an error.

    The temporary name keeps the suffix (np.savez adds '.npz' otherwise) and carries the process id, so two processes
    that build the same cache never write into one temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksum(path: Path) -> None:
    """Record a file's sha256 in the SHA256SUMS file beside it (the format of `sha256sum`)."""
    sums = Path(path).parent / CHECKSUMS
    lines = [ln for ln in (sums.read_text().splitlines() if sums.exists() else [])
             if ln.strip() and ln.split()[-1] != Path(path).name]
    write_text(sums, "\n".join(sorted(lines + [f"{sha256(path)}  {Path(path).name}"])) + "\n")


def verify_checksum(path: Path, remedy: str) -> None:
    """Fail clearly when a shipped file does not match the checksum written beside it; `remedy` says how to remake
    it."""
    path = Path(path)
    sums = path.parent / CHECKSUMS
    expected = {ln.split()[-1]: ln.split()[0] for ln in sums.read_text().splitlines() if ln.strip()} \
        if sums.exists() else {}
    if path.name not in expected:
        raise FileNotFoundError(f"no checksum for {path} in {sums}; {remedy}, which writes both")
    if sha256(path) != expected[path.name]:
        raise ValueError(f"{path} does not match its checksum in {sums}: the file is damaged or was replaced. "
                         f"Restore it with `git checkout -- {path.name}` in {path.parent}, or {remedy}")
