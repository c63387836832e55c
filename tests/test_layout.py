"""The package's house: imports flow one way, from the command line down to the data, with no circle anywhere;
the method (what the notebooks import) never imports the experiment harness (`happy_utils.experiments`).

Imports inside functions count: a circle hidden in a function is still a circle.
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "happy_utils"
HARNESS = "happy_utils.experiments"  # runs, fan-out, claims, reports, benchmarks, costs and the command line

#: Floors from the ground up; a module may import only from its own floor or below.
FLOORS = [
    {"config", "files", "images", "provenance", "records", "metrics", "progress", "sourcecode", "code_support",
     "results"},
    {"data"},
    {"scorers", "plotting"},
    {"generators", "surrogates"},
    {"proposers"},
    {"latents", "artifacts"},
    {"loop"},
    {"explorer"},
    {"experiments"},
    {"__main__", "__init__"},
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imported(source: str, package: str, modules: dict) -> set[str]:
    """The package's modules that `source` (in `package`) imports, anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its body."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {t for t in _imported(path.read_text(), package, modules)
                       if t != name and not name.startswith(t + ".")}
    return graph


def _in_harness(module: str) -> bool:
    return module == HARNESS or module.startswith(HARNESS + ".")


def harness_imports(graph: dict[str, set[str]]) -> list[str]:
    """`module -> harness module` for every import of the harness from outside it (`__main__` runs the harness's
    command line: it is the harness's door, not the method)."""
    return sorted(f"{m} -> {n}" for m, targets in graph.items() for n in targets
                  if _in_harness(n) and not _in_harness(m) and m != "happy_utils.__main__")


def _notebook_code(path: Path) -> str:
    """A notebook's code cells as Python, IPython's magics and shell lines as `pass`."""
    lines = [line for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
             for line in "".join(c["source"]).splitlines()]
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in lines)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def _floor(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else "__init__"
    return next((i for i, rooms in enumerate(FLOORS) if top in rooms), None)


def test_there_is_no_import_circle():
    assert _cycle(import_graph()) is None, f"import circle: {' -> '.join(_cycle(import_graph()))}"


def test_a_circle_would_be_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_imports_flow_down_the_floors():
    upward = [f"{m} -> {n}" for m, targets in import_graph().items() for n in targets if _floor(n) > _floor(m)]
    assert not upward, "imports from a lower floor to a higher one: " + ", ".join(sorted(upward))


def test_every_module_has_a_floor():
    assert [m for m in _modules() if _floor(m) is None] == []


def test_the_method_never_imports_the_harness():
    assert harness_imports(import_graph()) == []


def test_an_import_of_the_harness_would_be_found():
    planted = {"happy_utils.loop": {"happy_utils.experiments.spec"},
               "happy_utils.experiments.cli": {"happy_utils.loop"},
               "happy_utils.__main__": {"happy_utils.experiments.cli"}}
    assert harness_imports(planted) == ["happy_utils.loop -> happy_utils.experiments.spec"]


def _harness_in(source: str) -> list[str]:
    return sorted(m for m in _imported(source, "", _modules()) if _in_harness(m))


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_the_notebooks_import_only_the_method(notebook):
    code = _notebook_code(notebook)
    assert "from happy_utils" in code and _harness_in(code) == []


def test_a_notebook_importing_the_harness_would_be_found():
    planted = "import os\nfrom happy_utils.experiments.spec import RunSpec\n"
    assert _harness_in(planted) == ["happy_utils.experiments.spec"]
