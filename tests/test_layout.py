"""The layout keeps its promises: nncore's modules import one another without a cycle,
none grows past about 450 lines, and no developer tooling ships inside the package."""
from __future__ import annotations

import ast
import pathlib

import nncore

PACKAGE = pathlib.Path(nncore.__file__).resolve().parent
MAX_LINES = 450


def modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("nncore",) + path.relative_to(PACKAGE).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module-level imports between nncore's modules (``from nncore import x`` is an edge
    to ``nncore.x``); a package importing its own submodules is no edge back."""
    mods = modules()
    graph = {name: set() for name in mods}
    for name, path in mods.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nncore"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    graph[name].add(sub if sub in mods else node.module)
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in mods}
        graph[name] = {d for d in graph[name] if d != name and not d.startswith(name + ".")}
    return graph


def test_the_import_graph_is_acyclic():
    graph, done, active = import_graph(), set(), []

    def visit(name):
        if name in active:
            raise AssertionError("import cycle: " + " -> ".join(
                active[active.index(name):] + [name]))
        if name in done:
            return
        active.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        active.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_no_module_is_over_450_lines():
    sources = [p for pattern in ("*.py", "*.pyx", "*.pxi") for p in PACKAGE.rglob(pattern)]
    long = {str(p.relative_to(PACKAGE)): n for p in sources
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long


def test_no_benchmark_code_is_installed():
    assert not [p for p in PACKAGE.rglob("*.py") if "bench" in p.name]


def test_one_native_extension():
    """The compiled kernels are one extension module (its .pxi files included), so the C
    of csrc/ is compiled and linked once."""
    native = PACKAGE / "backends" / "native"
    assert [p.name for p in native.glob("*.pyx")] == ["_kernels.pyx"]
    assert not list(native.glob("*.pxd"))
