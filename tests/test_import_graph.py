"""The import graph of the whole cimscope package (every module, read with ast): no cycles, and no private
``_name`` imported from another module.

Modules are the files under cimscope/ and under the four folders setup.py maps into the namespace (arch/,
plugins/, workloads/, mappers/ as cimscope.arch ...). Edges are every internal import, at module top or
inside a function (an import deferred into a function still is a dependency).

The private-name rule holds for every module: no private name is imported from another module.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"cimscope": "cimscope", "cimscope.arch": "arch", "cimscope.plugins": "plugins",
            "cimscope.workloads": "workloads", "cimscope.mappers": "mappers"}


def modules() -> dict[str, Path]:
    out = {}
    for pkg, folder in PACKAGES.items():
        base = ROOT / folder
        for f in base.rglob("*.py"):
            rel = f.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            out[".".join([pkg] + parts)] = f
    return out


MODULES = modules()


def resolve(mod: str, node: ast.ImportFrom, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mod: str) -> list[tuple[str, str]]:
    """(imported module, name or "") for every internal import of ``mod``."""
    path = MODULES[mod]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names if a.name.startswith("cimscope")]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(mod, node, path.name == "__init__.py")
            if not target.startswith("cimscope"):
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub, "") if sub in MODULES else (target, a.name))
    return out


def graph() -> dict[str, set[str]]:
    g = {}
    for m in MODULES:
        deps = set()
        for target, _ in imports(m):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != m and not m.startswith(target + "."):
                deps.add(target)            # a package's __init__ importing its own parent is not a cycle
        g[m] = deps
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_whole_package():
    assert {"cimscope.study", "cimscope.pipeline.gemm", "cimscope.arch.placements", "cimscope.plugins.base",
            "cimscope.workloads.lower", "cimscope.mappers.search", "cimscope.model.fast"} <= set(MODULES)
    assert "cimscope.study" in graph()["cimscope.pipeline.gemm"]


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, f"import cycles: {found}"


def private_imports() -> set[tuple[str, str, str]]:
    found = set()
    for m in MODULES:
        for target, name in imports(m):
            if name.startswith("_") and not name.startswith("__") and target != m:
                found.add((m, target, name))
    return found


def test_no_private_names_imported_across_modules():
    found = private_imports()
    assert not found, f"private names imported across modules: {sorted(found)}"


def test_a_detected_cycle_fails():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
