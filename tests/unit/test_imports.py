"""No import circles among drift's modules, read statically (`ast`) from drift/.

An edge A -> B is an `import B` or `from B import x` in A (B.x when x is a module of its own;
an import of drift.a.b is not counted as one of drift.a, whose __init__ Python runs first).
Imports under `if TYPE_CHECKING:` are never run and do not count.

Two readings:
- module-level imports (those run when A is imported, `try`/`if` blocks included): no circle
  at all;
- also imports inside functions (run when the function is called; drift imports lazily to start
  fast): no circle but the KNOWN ones below. KNOWN is exact: a circle broken must leave it, so
  it only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "drift"

# Circles through imports inside functions that are still there (issue 20, item 3: rooms by
# command), each with why it is there.
KNOWN: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.Module, *, in_functions: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if not in_functions and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _edges(name: str, path: Path, modules: dict[str, Path], *, in_functions: bool) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path)), in_functions=in_functions):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in out if m in modules and m != name}


def _circles(*, in_functions: bool) -> dict[frozenset[str], list[str]]:
    """Each circle (a strongly connected set of more than one module) and a way round it."""
    modules = _modules()
    graph = {m: _edges(m, p, modules, in_functions=in_functions) for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return {frozenset(group): _path(group, graph) for group in groups}


def _path(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest way round the circle from its first module (A -> B -> A), for the message."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"no way round {sorted(group)}")


def _show(circles: dict[frozenset[str], list[str]]) -> str:
    return "; ".join(
        " -> ".join(way) + (f" (and {', '.join(sorted(group - set(way)))})" if group - set(way) else "")
        for group, way in circles.items()
    )


def test_the_walk_sees_imports() -> None:
    """The reading itself: edges it must find (module level, in a function, a submodule by name)."""
    modules = _modules()
    assert "drift.store.dialect" in _edges("drift.store", PACKAGE / "store/__init__.py", modules, in_functions=False)
    cli = _edges("drift.cli", PACKAGE / "cli.py", modules, in_functions=True)
    assert {"drift.report.cli", "drift.console", "drift.inventory", "drift.render.table"} <= cli
    assert "drift.inventory" not in _edges("drift.cli", PACKAGE / "cli.py", modules, in_functions=False)
    assert "drift.severity" not in _edges("drift.model", PACKAGE / "model.py", modules, in_functions=False)


def test_no_circle_at_module_level() -> None:
    circles = _circles(in_functions=False)
    assert not circles, f"import circle(s) at module level: {_show(circles)}"


def test_no_circle_through_imports_in_functions_but_the_known() -> None:
    circles = _circles(in_functions=True)
    new = {group: way for group, way in circles.items() if group not in KNOWN}
    assert not new, f"import circle(s): {_show(new)}"
    gone = KNOWN - set(circles)
    assert not gone, f"circle(s) in KNOWN no longer there: take them out: {[sorted(g) for g in gone]}"


# Engine kinds are rooms (issue 17, item 6): the Docker API (docker.py, dockerlib.py), Podman
# (podman.py) and containerd (containerd/) are reached from above sources/ only through the one
# interface (drift.sources, sources.engine_kinds, and the engine object it hands out).
KIND_MODULES = ("drift.sources.docker", "drift.sources.podman", "drift.sources.containerd")
KIND_ALLOWED: set[tuple[str, str]] = set()


def test_nothing_above_sources_imports_an_engine_kind() -> None:
    modules = _modules()
    found = []
    for name, path in sorted(modules.items()):
        if name == "drift.sources" or name.startswith("drift.sources."):
            continue
        for target in sorted(_edges(name, path, modules, in_functions=True)):
            kind = target.startswith(KIND_MODULES) or target == "drift.sources.dockerlib"
            if kind and (name, target) not in KIND_ALLOWED:
                found.append(f"{name} -> {target}")
    assert not found, "engine kinds reached past drift.sources.engine_kinds: " + ", ".join(found)
