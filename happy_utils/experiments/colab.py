"""Where the notebooks get the package from on Colab: the repository URL and the pinned ref, set here once.

Why: a Colab runtime starts without this package, and the notebooks import it in the same kernel that installs it.
An editable install is not importable there (its `.pth` file is read only when Python starts), so the install cell
clones the repository at a pinned ref and installs it as a regular package, whose folder is already on `sys.path`.
The badges (in the notebooks and the README) and every notebook's install cell are generated from this module
(`python -m happy_utils notebooks --sync`; a test fails when a notebook differs), so a release changes one constant.
A fork or a local clone is used by setting $HAPPY_REPO_URL and $HAPPY_REPO_REF in the runtime before the first cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

#: The public repository, and the release its notebooks install: the tag `v` + the package's version, cut on the
#: commit that sets it here (release: bump the version, set REPO_REF, `python -m happy_utils notebooks --sync`, commit,
#: tag).
REPO_URL = "https://github.com/happy-people/happy-people"
REPO_REF = "v0.2.0"
URL_ENV, REF_ENV, CLONE_ENV = "HAPPY_REPO_URL", "HAPPY_REPO_REF", "HAPPY_CLONE_DIR"

INSTALL_MARK = "# Colab: install happy_utils"
BADGE_PATTERN = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")

INSTALL_CELL = f'''{INSTALL_MARK} from the repository at a pinned release (Colab keeps its torch). Elsewhere: nothing.
# A fork or a clone: set os.environ["{URL_ENV}"] (and "{REF_ENV}": tag, branch or commit) before this cell.
import importlib
import os
import sys

if "google.colab" in sys.modules:
    repo_url = os.environ.get("{URL_ENV}", "{REPO_URL}.git")
    repo_ref = os.environ.get("{REF_ENV}", "{REPO_REF}")
    clone = os.environ.get("{CLONE_ENV}", "/content/happy-people")
    if not os.path.isdir(clone):
        !git clone -q {{repo_url}} {{clone}}
    !git -C {{clone}} checkout -q {{repo_ref}}
    %pip install -q {{clone}}
    importlib.invalidate_caches()  # the new package is importable in this kernel: no restart
    %cd {{clone}}/notebooks'''


def badge(notebook: str) -> str:
    """The "Open in Colab" badge of a notebook, at the pinned ref."""
    path = REPO_URL.removeprefix("https://github.com/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/{REPO_REF}/notebooks/{notebook})")


def _synced(path: Path) -> tuple[dict, list[str]]:
    """The notebook with its badge and install cell as generated here, and what differed."""
    nb = json.loads(path.read_text())
    differs = []
    cells = nb["cells"]
    title = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else ""
    if not BADGE_PATTERN.search(title):
        raise ValueError(f"{path}: its first cell has no Colab badge to keep in sync; add one "
                         f"({badge(path.name)}) and run `python -m happy_utils notebooks --sync`")
    new_title = BADGE_PATTERN.sub(lambda _: badge(path.name), title)
    if new_title != title:
        differs.append("badge")
        cells[0]["source"] = new_title.splitlines(keepends=True)
    installs = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith(INSTALL_MARK)]
    if len(installs) != 1:
        raise ValueError(f"{path}: expected one install cell starting with {INSTALL_MARK!r}, found {len(installs)}")
    if "".join(installs[0]["source"]) != INSTALL_CELL:
        differs.append("install cell")
        installs[0]["source"] = INSTALL_CELL.splitlines(keepends=True)
    return nb, differs


def _readme_synced(text: str) -> str:
    """The README with every notebook badge pointing at the pinned ref."""
    return BADGE_PATTERN.sub(lambda m: badge(re.search(r"notebooks/([^/)]+\.ipynb)\)$", m.group(0)).group(1)), text)


def sync_notebooks(folder: Path, write: bool) -> dict[str, list[str]]:
    """Which notebooks' badge or install cell, or the README's badges (README.md beside the folder), differ from this
    module's; with `write`, rewrite them."""
    out = {}
    readme = Path(folder).parent / "README.md"
    if readme.exists() and _readme_synced(readme.read_text()) != readme.read_text():
        out[readme.name] = ["badges"]
        if write:
            readme.write_text(_readme_synced(readme.read_text()))
    for path in sorted(Path(folder).glob("*.ipynb")):
        nb, differs = _synced(path)
        if differs:
            out[path.name] = differs
            if write:
                path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return out
