"""The notebooks executed once at a chosen preset, kept beside their stripped sources so that a reader sees every
figure without running anything.

Why: the sources in `notebooks/` are committed without outputs (diffs stay readable, nbmake runs them at the smoke
preset), so on GitHub they show no picture. `python -m happy_utils notebooks --execute` runs each source in a fresh
kernel (at the laptop preset by default) and writes the executed copy to `docs/notebooks/`, which GitHub renders and
the docs site shows as it is, without executing again (one execution of each notebook in CI: nbmake's). Each copy
records what made it (preset, package version, commit); `stale` finds a copy whose cells are no longer its source's.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from happy_utils import __version__

from ..files import write_text
from .colab import unpinned

#: Where the executed copies are, from the repository's top.
EXECUTED_DIR = "docs/notebooks"
#: Where a copy records what made it.
METADATA_KEY = "happy_people"


def _cells(nb: dict) -> list[tuple[str, str]]:
    """Each cell's type and text, the pinned Colab ref left out (a release changes it in every notebook)."""
    return [(c["cell_type"], unpinned("".join(c["source"]))) for c in nb["cells"]]


def _commit(root: Path) -> str:
    """HEAD's commit, with '+changes' when the notebooks or the package differ from it (the copy then shows code
    that no commit holds yet)."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "notebooks", "happy_utils"],
                               check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+changes" if dirty else "")


def execute(source: Path, out: Path, preset: str, runs_dir: Path, timeout: int = 7200) -> Path:
    """Execute one notebook in a fresh python3 kernel, from its own folder, at `preset` and with its runs (03's
    surrogate, 05's run, ...) in `runs_dir`, and write the executed copy to `out` (a folder) with what made it in its
    metadata. A fresh `runs_dir` shows what a reader running it from the top sees, not a resumed run."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    env = {**os.environ, "HAPPY_PRESET": preset, "HAPPY_RUNS_DIR": str(runs_dir)}
    started = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute(env=env)
    nb.metadata[METADATA_KEY] = {"source": f"notebooks/{source.name}", "preset": preset, "package_version": __version__,
                                 "commit": _commit(source.parent.parent),
                                 "made": time.strftime("%Y-%m-%d", time.gmtime()),
                                 "seconds": round(time.time() - started)}
    out.mkdir(parents=True, exist_ok=True)
    target = out / source.name
    write_text(target, nbformat.writes(nb) + "\n")  # atomic: a run killed while writing leaves the former copy whole
    return target


def stale(sources: Path, copies: Path) -> dict[str, str]:
    """Per source notebook whose executed copy is missing or out of date, why: a cell that differs (type or text),
    another package version, no record of what made it, or an output that is an error. The pinned Colab ref is not
    compared: it does nothing off Colab, and a release changes it."""
    out = {}
    for source in sorted(Path(sources).glob("*.ipynb")):
        made = Path(copies) / source.name
        if not made.exists():
            out[source.name] = f"no executed copy in {copies}"
            continue
        nb = json.loads(made.read_text())
        record = nb.get("metadata", {}).get(METADATA_KEY)
        want, have = _cells(json.loads(source.read_text())), _cells(nb)
        if want != have:
            first = next((i for i, (a, b) in enumerate(zip(want, have)) if a != b), min(len(want), len(have)))
            out[source.name] = f"cell {first} differs from the source's ({len(have)} cells, the source {len(want)})"
        elif not record:
            out[source.name] = f"no '{METADATA_KEY}' metadata: not made by `python -m happy_utils notebooks --execute`"
        elif record.get("package_version") != __version__:
            out[source.name] = f"made with happy_utils {record.get('package_version')}, this is {__version__}"
        elif any(o.get("output_type") == "error" for c in nb["cells"] for o in c.get("outputs", [])):
            out[source.name] = "an output is an error"
        elif any(c["cell_type"] == "code" and c["source"] and c.get("execution_count") is None for c in nb["cells"]):
            out[source.name] = "a code cell was not executed"
    return out

