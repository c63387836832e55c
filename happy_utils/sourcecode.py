"""Show a package function's source in a notebook, next to its use: the code a learner reads is the code that runs.

Why: the method lives in small package functions that the command line also runs; a notebook that copied them would
drift from them. A notebook shows their source with `show_source` and then calls them (`tests/test_notebook_sync.py`
checks that every shown object is package code that the package itself calls, and that no notebook redefines one).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from IPython.display import Code, display

PACKAGE = Path(__file__).resolve().parent


def source_of(obj) -> tuple[str, str]:
    """Where `obj` is defined (file relative to the package's parent, line) and its source text."""
    path = Path(inspect.getsourcefile(obj)).resolve()
    lines, first = inspect.getsourcelines(obj)
    try:
        where = path.relative_to(PACKAGE.parent)
    except ValueError as err:
        raise ValueError(f"{obj!r} is not defined in happy_utils ({path}): show_source shows package code") from err
    return f"{where}, line {first}", "".join(lines)


def show_source(*objects) -> None:
    """Display the source of each object (a function, class or method of happy_utils), titled by its file."""
    for obj in objects:
        where, text = source_of(obj)
        display(Code(f"# {where}\n{text}", language="python"))
