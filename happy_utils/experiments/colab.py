"""Where the notebooks get the package from on Colab: the repository URL and the pinned commit, set here once.

Why: a Colab runtime starts without this package, and the notebooks import it in the same kernel that installs it.
An editable install is not importable there (its `.pth` file is read only when Python starts), so the install cell
clones the repository at a pinned commit and installs it as a regular package, whose folder is already on `sys.path`.
A step that fails (the clone, the checkout, pip) stops the cell with the URL and ref it tried, not a
ModuleNotFoundError cells later. The badges (in the notebooks and the README) and every notebook's install cell are
generated from this module (`python -m happy_utils notebooks --sync`; a test fails when a notebook differs).
A fork or a local clone is used by setting $HAPPY_REPO_URL and $HAPPY_REPO_REF in the runtime before the first cell.

The ref is a commit, not a tag: tags are not published with this repository, and a commit's hash cannot change. A
notebook cannot name the commit it is in, so a release takes two commits, each setting REPO_REF to HEAD
(`git rev-parse HEAD`), running `python -m happy_utils notebooks --sync` and committing: after the first (HEAD = the
code to release) the notebooks install that code; after the second the badges open the first one's notebooks, which
install the code they were written with (the first changed only this constant and the cells). Merge such commits,
never squash or rebase them: `tests/test_colab.py` checks that the pinned commit is on this repository's history and
that its notebooks install the package, data and requirements it holds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..config import CACHE_ENV, RUNS_ENV
from ..files import write_text

#: The public repository, and the commit its badges open and its install cells install (a release: see above).
REPO_URL = "https://github.com/happy-people/happy-people"
REPO_REF = "afdb78026a197560232186d560f01f4c237d449c"
URL_ENV, REF_ENV, CLONE_ENV = "HAPPY_REPO_URL", "HAPPY_REPO_REF", "HAPPY_CLONE_DIR"

INSTALL_MARK = "# Colab: install happy_utils"
BADGE_PATTERN = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")

INSTALL_CELL = f'''{INSTALL_MARK} from the repository at a pinned commit (Colab keeps its torch). Elsewhere: nothing.
# A fork or a clone: set os.environ["{URL_ENV}"] (and "{REF_ENV}": commit, branch or tag) before this cell.
import importlib
import os
import subprocess
import sys

DRIVE = ""  # a Google Drive folder that keeps the runs and caches across sessions: "/content/drive/MyDrive/happy"

if "google.colab" in sys.modules:
    if DRIVE:  # 04 finds 03's surrogate, 06 finds 05's run, and no model is trained twice
        from google.colab import drive
        drive.mount("/content/drive")
        os.environ["{RUNS_ENV}"] = f"{{DRIVE}}/runs"
        os.environ["{CACHE_ENV}"] = f"{{DRIVE}}/cache"
    repo_url = os.environ.get("{URL_ENV}", "{REPO_URL}.git")
    repo_ref = os.environ.get("{REF_ENV}", "{REPO_REF}")
    clone = os.environ.get("{CLONE_ENV}", "/content/happy-people")
    steps = [] if os.path.isdir(clone) else [["git", "clone", "-q", repo_url, clone]]
    steps += [["git", "-C", clone, "checkout", "-q", repo_ref], [sys.executable, "-m", "pip", "install", "-q", clone]]
    for step in steps:  # GIT_TERMINAL_PROMPT=0: a wrong URL fails instead of asking for a password
        done = subprocess.run(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={{**os.environ, "GIT_TERMINAL_PROMPT": "0"}})
        if done.returncode:
            raise RuntimeError(f"could not install happy_utils from {{repo_url}} at {{repo_ref}}: {{' '.join(step)}}\\n"
                               f"{{done.stdout.strip()}}\\nSet ${URL_ENV} and ${REF_ENV} to a repository and "
                               f"one of its commits (delete {{clone}} to clone another URL), then run this cell again")
    importlib.invalidate_caches()  # the new package is importable in this kernel: no restart
    %cd {{clone}}/notebooks'''


#: Where a notebook names the pinned ref: its install cell's default and its badge's URL.
_PINNED = (re.compile(rf'(os\.environ\.get\("{REF_ENV}", ")[^"]*(")'), re.compile(r"(/blob/)[^/]+(/notebooks/)"))


def unpinned(text: str) -> str:
    """A cell's text with the pinned ref left out: what a release changes in every notebook, and what does nothing off
    Colab (so an executed copy made before a release still shows its source's code)."""
    for pattern in _PINNED:
        text = pattern.sub(r"\1REF\2", text)
    return text


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
            write_text(readme, _readme_synced(readme.read_text()))
    for path in sorted(Path(folder).glob("*.ipynb")):
        nb, differs = _synced(path)
        if differs:
            out[path.name] = differs
            if write:
                write_text(path, json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return out
