"""The notebooks and the package are one code path: what a notebook shows is package code the package runs, no
notebook redefines package code, and every Colab badge and install cell is the one `happy_utils.experiments.colab`
generates."""

import ast
import json
import re
from pathlib import Path

import pytest

from happy_utils.experiments.colab import sync_notebooks
from happy_utils.sourcecode import source_of

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PACKAGE_FILES = sorted((ROOT / "happy_utils").rglob("*.py"))
MAGIC = re.compile(r"^(\s*)[!%].*$", re.MULTILINE)


def notebook_code(path: Path) -> ast.Module:
    """A notebook's code cells as one module; IPython's `!` and `%` lines become `pass`."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    return ast.parse("\n\n".join(MAGIC.sub(r"\1pass", "".join(c["source"])) for c in cells), filename=str(path))


def shown_objects(path: Path) -> list:
    """The objects a notebook passes to `show_source`, resolved through the notebook's own imports."""
    tree = notebook_code(path)
    namespace: dict = {}
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), namespace)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "show_source"]
    return [eval(compile(ast.Expression(arg), str(path), "eval"), namespace) for call in calls for arg in call.args]


def referenced(tree: ast.Module, name: str) -> bool:
    """Whether code in `tree` uses `name` (reads it, calls it, reads it as an attribute), outside its own definition:
    an import, a docstring or a comment that mentions it is no use."""
    own = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name]
    inside = {id(n) for d in own for n in ast.walk(d)}
    return any(id(n) not in inside and ((isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load))
                                        or (isinstance(n, ast.Attribute) and n.attr == name))
               for n in ast.walk(tree))


def test_only_code_that_uses_a_name_counts_as_running_it():
    assert referenced(ast.parse("def f():\n    return g(1)\n"), "g")
    assert referenced(ast.parse("import m\nm.g()\n"), "g")
    assert not referenced(ast.parse('def f():\n    """Calls g, say."""\n    # g\n'), "g")  # a mention
    assert not referenced(ast.parse("from m import g\n"), "g")  # imported, never used
    assert not referenced(ast.parse("def g(n):\n    return g(n - 1) if n else 0\n"), "g")  # only itself


def test_badges_and_install_cells_match_the_package():
    assert sync_notebooks(ROOT / "notebooks", write=False) == {}, "run `python -m happy_utils notebooks --sync`"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] in {"02", "03", "04", "05", "06"}],
                         ids=lambda p: p.name)
def test_a_notebook_shows_package_code_that_the_package_itself_runs(path):
    shown = shown_objects(path)
    assert shown, f"{path.name} shows no package code with show_source"
    trees = [ast.parse(p.read_text()) for p in PACKAGE_FILES]
    for obj in shown:
        where, _ = source_of(obj)  # raises unless it is defined in happy_utils
        assert any(referenced(tree, obj.__name__) for tree in trees), (
            f"{path.name} shows {obj.__name__} ({where}), which no package code uses: the CLI would not run it")


def test_no_notebook_redefines_package_code():
    package_names = set()
    for p in PACKAGE_FILES:
        package_names |= {n.name for n in ast.parse(p.read_text()).body
                          if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")}
    for path in NOTEBOOKS:
        defined = {n.name for n in ast.walk(notebook_code(path)) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert not defined & package_names, f"{path.name} redefines package code: {sorted(defined & package_names)}"

