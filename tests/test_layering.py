"""The import structure of ``python/sattn``: no cycles, no upward edges, imports at module level
(docs/architecture.md).

Every ``import`` / ``from ... import`` of a sattn module -- at module level or inside a
function, except under ``if TYPE_CHECKING:`` (annotations only, never executed) -- is an edge.
Each module belongs to one layer of :data:`LAYERS` (the longest matching prefix); an edge may
go sideways (same layer) or down, never up, and the graph has no cycle. A failure names the
offending edges with file and line. An import inside a function is allowed only for the heavy
optional dependencies of :data:`DEFERRED`; any other (a sattn module, numpy, xdsl, the standard
library) belongs at the top of its module, where it cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "python"

#: Lowest first. Data flows one way: ir -> precision -> specs -> reference -> selector ->
#: transforms -> frontend -> backends -> sweep -> api -> the command-line edge.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("sattn.errors", "sattn.result", "sattn.diagnostics", "sattn.toolrun",
              "sattn.launch", "sattn.guard")),
    ("ir", ("sattn.ir",)),
    ("precision", ("sattn.precision", "sattn.hw")),
    ("specs", ("sattn.specs",)),
    ("reference", ("sattn.reference", "sattn.resources")),
    ("selector", ("sattn.selector", "sattn.interop")),
    ("transforms", ("sattn.transforms",)),
    ("frontend", ("sattn.frontend",)),
    ("backends", ("sattn.backends", "sattn.viz")),
    ("sweep", ("sattn.sweep",)),
    ("api", ("sattn.api", "sattn.universe")),
    ("edge", ("sattn", "sattn.cli", "sattn.tools", "sattn.__main__")),
)


#: Top-level packages that may be imported inside a function, and why: each is an optional
#: extra of python/pyproject.toml, absent from a base install, and most cost a noticeable time
#: to import (measured on the dev machine), so the code paths that do not need one never load it.
DEFERRED: dict[str, str] = {
    "torch": "extras 'torch'/'capture'; ~1.5 s to import; only the torch interop and capture",
    "transformers": "extra 'capture'; ~0.7 s to import; only `sattn capture`",
    "safetensors": "extra 'capture'; only `sattn capture` (transformers reads weights with it)",
    "tokenizers": "extra 'capture' (a transformers dependency); ~0.35 s; the tiny capture models",
    "ray": "extra 'ray'; ~0.4 s to import; only `sattn sweep --executor ray`",
    "matplotlib": "extra 'plot'; ~0.5 s to import (pyplot); only the pictures",
    "iree": "extra 'iree'; only the IREE peer of bench/rvv_vs_iree.py",
}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """The ids of every node under an ``if TYPE_CHECKING:`` (never executed)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def _imports_in_functions(node: ast.AST, in_function: bool = False):
    """The import statements under ``node`` that sit inside a function or lambda."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
            yield child
        yield from _imports_in_functions(child, in_function or isinstance(
            child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))


def function_local_imports(root: Path = ROOT) -> list[str]:
    """Every import statement inside a function (or lambda) of a module under ``root/sattn``
    that loads anything but a :data:`DEFERRED` package, as ``file:line: statement``."""
    found: list[str] = []
    for path, _ in modules(root).values():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        for node in _imports_in_functions(tree):
            if isinstance(node, ast.Import):
                tops = {a.name.split(".")[0] for a in node.names}
            else:
                tops = {"sattn" if node.level else (node.module or "").split(".")[0]}
            if id(node) not in skip and not tops <= set(DEFERRED):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return found


def modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package) of every module under ``root/sattn``."""
    out = {}
    for path in sorted((root / "sattn").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _targets(mod: str, is_pkg: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    """The sattn modules an import statement loads (a ``from pkg import name`` loads the
    submodule ``pkg.name`` when there is one, else ``pkg``)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = mod.split(".") if is_pkg else mod.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            pkg = ".".join(base + ([node.module] if node.module else []))
        else:
            pkg = node.module or ""
        names = [f"{pkg}.{a.name}" if f"{pkg}.{a.name}" in known else pkg for a in node.names]
    out = []
    for name in names:
        while name and name not in known:  # ``import sattn.a.b`` of a non-module attribute
            name = name.rpartition(".")[0]
        if name.startswith("sattn") and name != mod:
            out.append(name)
    return out


def edges(root: Path = ROOT) -> dict[tuple[str, str], list[str]]:
    """(importer, imported) -> the ``file:line`` of each import statement."""
    mods = modules(root)
    known = set(mods)
    out: dict[tuple[str, str], list[str]] = {}
    for mod, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                for target in _targets(mod, is_pkg, node, known):
                    where = f"{path.relative_to(root)}:{node.lineno}"
                    seen = out.setdefault((mod, target), [])
                    if where not in seen:
                        seen.append(where)
    return out


def layer_of(mod: str) -> int:
    """The index in :data:`LAYERS` of the longest prefix that names ``mod``."""
    best, length = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > length:
                best, length = i, len(prefix)
    return best


def upward(graph: dict[tuple[str, str], list[str]]) -> list[str]:
    """Every edge to a higher layer, as ``importer (layer) -> imported (layer) at file:line``."""
    return [f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]}) at {', '.join(w)}"
            for (a, b), w in sorted(graph.items()) if layer_of(b) > layer_of(a)]


def cycles(graph: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    succ: dict[str, list[str]] = {}
    for a, b in graph:
        succ.setdefault(a, []).append(b)
        succ.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(succ):
        if start in index:
            continue
        work = [(start, iter(sorted(succ[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(succ[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _describe_cycle(comp: list[str], graph: dict[tuple[str, str], list[str]]) -> str:
    inside = set(comp)
    ties = [f"{a} -> {b} at {', '.join(w)}" for (a, b), w in sorted(graph.items())
            if a in inside and b in inside]
    return "cycle: " + "; ".join(ties)


def test_every_module_has_a_layer() -> None:
    assert [m for m in modules() if layer_of(m) < 0] == []


def test_no_import_cycles() -> None:
    graph = edges()
    assert [_describe_cycle(c, graph) for c in cycles(graph)] == []


def test_no_upward_imports() -> None:
    assert upward(edges()) == []


def test_the_checker_finds_a_cycle_and_an_upward_edge(tmp_path: Path) -> None:
    """The checks can fail: a tree with a cycle and an edge from specs up to the api."""
    pkg = tmp_path / "sattn"
    (pkg / "specs").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "specs" / "__init__.py").write_text("from sattn.specs import a\n")
    (pkg / "specs" / "a.py").write_text("def f():\n    from sattn.specs.b import g\n")
    (pkg / "specs" / "b.py").write_text("from . import a\nfrom typing import TYPE_CHECKING\n"
                                        "if TYPE_CHECKING:\n    from sattn.cli import x\n")
    (pkg / "api.py").write_text("from sattn.specs import a\n")
    (pkg / "cli.py").write_text("")
    (pkg / "specs" / "c.py").write_text("import sattn.api\n")
    graph = edges(tmp_path)
    assert cycles(graph) == [["sattn.specs.a", "sattn.specs.b"]]
    assert upward(graph) == ["sattn.specs.c (specs) -> sattn.api (api) at sattn/specs/c.py:1"]
    assert ("sattn.specs.b", "sattn.cli") not in graph  # TYPE_CHECKING imports are not edges


def test_imports_are_at_module_level() -> None:
    assert function_local_imports() == []


def test_the_checker_finds_a_function_local_import(tmp_path: Path) -> None:
    """The check can fail: a sattn module, numpy and the standard library inside functions are
    found; a deferred heavy package, a module-level import and a TYPE_CHECKING one are not."""
    pkg = tmp_path / "sattn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import os\n")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "def f():\n    from . import b\n    import torch\n"
        "def g():\n    if TYPE_CHECKING:\n        import numpy\n"
        "    h = lambda: __import__('x')\n"
        "    class C:\n        def m(self):\n            import numpy as np, ray\n"
        "    import matplotlib.pyplot as plt, json\n")
    (pkg / "b.py").write_text("")
    assert function_local_imports(tmp_path) == [
        "sattn/a.py:3: from . import b",
        "sattn/a.py:11: import numpy as np, ray",
        "sattn/a.py:12: import matplotlib.pyplot as plt, json",
    ]


@pytest.mark.parametrize("mod,layer", [("sattn.ir.schema", "ir"), ("sattn.specs.bsr", "specs"),
                                       ("sattn.tools.opt", "edge"), ("sattn", "edge"),
                                       ("sattn.backends.rocc.artifacts", "backends")])
def test_layer_of(mod: str, layer: str) -> None:
    assert LAYERS[layer_of(mod)][0] == layer
