"""`constraints.txt`: the exact versions of every package the project installs, which the committed results and the
shipped generators were made with.

Why: pyproject.toml keeps lower bounds (Colab keeps its own torch and would otherwise restart or reinstall), so two
installs months apart resolve different releases; a rerun of the claims installs with `-c constraints.txt` to get the
ones they were made with. The file is written from the installed packages' own metadata, never by hand.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from ..files import write_text

DIST, EXTRAS = "happy-utils", ("lab", "test", "gurobi", "docs", "ray")
HEADER = """\
# The exact versions of happy-utils[lab,test,gurobi,docs,ray] and of everything they pull in, as installed on the
# project's machine (Linux x86_64, Python 3.11) from pyproject.toml's lower bounds. The committed claims
# (results/laptop) and the shipped generators (data/generators) were made with them: a rerun with them reproduces
# the committed queries (docs/results.md, "On another machine"). To install them:
#   pip install -e ".[lab,test,ray]" -c constraints.txt
# Written by `python -m happy_utils constraints` from an environment installed that way.
"""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions(dist: str = DIST, extras: tuple[str, ...] = EXTRAS) -> dict[str, str]:
    """The installed version of every package `dist` with `extras` needs, directly or through others, by normalised
    name."""
    found: dict[str, str] = {}

    def walk(name: str, wanted: tuple[str, ...]) -> None:
        if _normal(name) in found and not wanted:
            return
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return  # needed on another platform only
        found[_normal(name)] = installed.version
        for line in installed.requires or []:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *wanted)):
                walk(req.name, tuple(req.extras))

    walk(dist, extras)
    found.pop(_normal(dist))
    return dict(sorted(found.items()))


def write_constraints(path: Path) -> int:
    """Write the pins of this environment to `path`; the number of packages."""
    pins = pinned_versions()
    write_text(path, HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items()))
    return len(pins)
