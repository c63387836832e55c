"""The package's house: imports flow one way, from the command line down to the data, with no circle anywhere.

Imports inside functions count: a circle hidden in a function is still a circle.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "happy_utils"

#: Floors from the ground up; a module may import only from its own floor or below.
FLOORS = [
    {"config", "files", "images", "provenance", "records", "metrics", "colab", "sourcecode", "code_support"},
    {"data"},
    {"scorers", "plotting"},
    {"generators", "surrogates"},
    {"proposers"},
    {"latents", "artifacts"},
    {"loop"},
    {"experiments", "costs", "explorer"},
    {"bench", "constraints", "cli", "__main__", "__init__"},
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its body."""
    modules = _modules()
    graph = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
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
            graph[name] |= {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


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


def _floor(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, rooms in enumerate(FLOORS) if top in rooms)


def test_there_is_no_import_circle():
    assert _cycle(import_graph()) is None, f"import circle: {' -> '.join(_cycle(import_graph()))}"


def test_a_circle_would_be_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_imports_flow_down_the_floors():
    upward = [f"{m} -> {n}" for m, targets in import_graph().items() for n in targets if _floor(n) > _floor(m)]
    assert not upward, "imports from a lower floor to a higher one: " + ", ".join(sorted(upward))


def test_every_module_has_a_floor():
    for module in _modules():
        _floor(module)  # raises StopIteration for a module no floor names
