"""The package's import graph follows its architecture (docs/architecture.md).

Every module under ``rlssm/`` is parsed with ``ast`` (nothing is imported) and every
import of an rlssm module is collected: absolute (``rlssm.x``) and relative (``.x``,
``..x``), at module level and inside functions and methods. Imports under
``if TYPE_CHECKING:`` are recorded apart: they never run, so they are exempt from the
cycle and layer rules (the underscore rule still applies). Three rules:

(a) no import cycle among rlssm modules, module-level and function-level imports alike;
(b) no module imports an underscore-prefixed name, or an underscore-prefixed module, of
    another *room* (the first component under ``rlssm/``: ``engine``, ``fitting``,
    ``model``, ...); the shared base modules ``rlssm._errors``, ``rlssm._types``,
    ``rlssm._precision`` and ``rlssm._spec`` may be imported everywhere; inside one
    room underscore imports are fine;
(c) a room imports only rooms of its layer or below (``LAYERS``). One exception: the
    facade methods of ``rlssm.model.RLSSM`` may import public names of
    ``rlssm.simulation`` and ``rlssm.hssm_bridge`` inside functions (as pandas'
    ``.plot`` accessor does); the package's ``__init__`` re-exports everything.

Importing ``a.b.c`` also runs the ``__init__`` of ``a.b``: such parent packages count as
imported, except the importer's own packages (a submodule importing a sibling does not
re-enter its own package's ``__init__``).

``test_checker_finds_violations`` feeds the checker a small synthetic package, so that
the checker is known to be able to fail.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rlssm"

# Room -> layer (docs/architecture.md). A room imports rooms of its layer or below.
LAYERS: dict[str, int] = {
    # L0 shared base, imported by every room
    "_errors": 0,
    "_types": 0,
    "_precision": 0,
    "_spec": 0,
    # L1 components
    "learning": 1,
    "mapping": 1,
    "decision": 1,
    "environments": 1,
    "boundaries": 1,
    # L2 data
    "data": 2,
    "io": 2,
    "screening": 2,
    # L3 engine and its semi-public re-export
    "engine": 3,
    "internal": 3,
    # L4 the model
    "model": 4,
    # L5 consumers: simulation, predictive checks, sharding
    "simulation": 5,
    "sharding": 5,
    "hbayesdm": 5,
    # L6 inference: the HSSM bridge
    "hssm_bridge": 6,
    # L7 inference: PyMC fit, range checks, comparison, HSSM defaults
    "fitting": 7,
    # L8 front ends, and calibration (prior draws, simulation and fits together)
    "plots": 8,
    "cli": 8,
    "calibration": 8,
    # the package's __init__: re-exports public names
    "__init__": 9,
}
BASE_ROOMS = frozenset(room for room, layer in LAYERS.items() if layer == 0)

# (importer room, imported room): allowed upward, inside functions only, public names only.
FACADE_EXCEPTIONS = frozenset({("model", "simulation"), ("model", "hssm_bridge")})

Where = Literal["module", "function", "type_checking"]


@dataclass(frozen=True)
class Import:
    """One rlssm module importing another."""

    importer: str
    """Dotted name of the importing module (a package is named by its ``__init__``)."""
    target: str
    """Dotted name of the imported module."""
    names: tuple[str, ...]
    """Names taken from ``target`` by ``from target import ...`` (empty otherwise)."""
    line: int
    where: Where
    """``module`` (runs on import), ``function`` (runs when called) or ``type_checking``."""
    implicit: bool = False
    """A parent package whose ``__init__`` runs because a submodule of it is imported."""

    def describe(self, paths: Mapping[str, str]) -> str:
        what = f"from {self.target} import {', '.join(self.names)}" if self.names else f"import {self.target}"
        if self.implicit:
            what = f"importing a submodule runs {self.target.replace('.', '/')}/__init__.py"
        return f"{paths.get(self.importer, self.importer)}:{self.line} [{self.where}] {what}"


# ---------------------------------------------------------------------------- collection


def room_of(module: str) -> str:
    """The first component under the package (``__init__`` for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def collect_imports(modules: Mapping[str, tuple[str, bool]]) -> list[Import]:
    """Every import of a module of ``modules`` by one of them.

    Parameters
    ----------
    modules
        ``dotted name -> (source, is_package)``; a package's source is its ``__init__``.
    """
    known = set(modules)
    found: list[Import] = []

    def add(importer: str, target: str, names: tuple[str, ...], line: int, where: Where) -> None:
        if target.split(".")[0] != PACKAGE:
            return
        found.append(Import(importer, target, names, line, where))
        own = set(_parents(importer)) | {importer}
        for parent in _parents(target):
            if parent not in own and parent in known:
                found.append(Import(importer, parent, (), line, where, implicit=True))

    for name, (source, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]

        def visit(node: ast.AST, where: Where, importer: str = name, package: str = package) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:
                    visit(child, "type_checking")
                for child in node.orelse:
                    visit(child, where)
                return
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and where == "module":
                where = "function"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(importer, alias.name, (), node.lineno, where)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = package.split(".")
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts)
                    source_module = f"{base}.{node.module}" if node.module else base
                else:
                    source_module = node.module or ""
                plain: list[str] = []
                for alias in node.names:
                    sub = f"{source_module}.{alias.name}"
                    if sub in known:  # `from . import data`: a submodule
                        add(importer, sub, (), node.lineno, where)
                    else:
                        plain.append(alias.name)
                if plain or not node.names:
                    add(importer, source_module, tuple(plain), node.lineno, where)
            for child in ast.iter_child_nodes(node):
                visit(child, where)

        visit(ast.parse(source, filename=name), "module")
    return found


def package_modules(root: Path = ROOT / PACKAGE) -> tuple[dict[str, tuple[str, bool]], dict[str, str]]:
    """The package's modules (``name -> (source, is_package)``) and their file paths."""
    modules: dict[str, tuple[str, bool]] = {}
    paths: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        parts = list(rel.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        modules[name] = (path.read_text(encoding="utf-8"), is_package)
        paths[name] = rel.as_posix()
    return modules, paths


# ---------------------------------------------------------------------------- rules


def find_cycles(imports: Iterable[Import]) -> list[tuple[list[str], list[Import]]]:
    """Each strongly connected group of modules (sorted names) with one of its cycles
    (the chain of imports), counting imports that run (module and function level, not
    ``TYPE_CHECKING``)."""
    edges: dict[str, dict[str, Import]] = defaultdict(dict)
    for imp in imports:
        if imp.where != "type_checking" and imp.importer != imp.target:
            edges[imp.importer].setdefault(imp.target, imp)

    # Tarjan's strongly connected components (iterative).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    nodes = sorted(set(edges) | {t for e in edges.values() for t in e})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    cycles = []
    for group in groups:
        members = set(group)
        first = group[0]
        # Shortest path first -> ... -> first inside the group (breadth first).
        previous: dict[str, Import] = {}
        frontier = [first]
        seen = {first}
        while frontier and first not in previous:
            nxt = []
            for node in frontier:
                for target, imp in sorted(edges[node].items()):
                    if target not in members:
                        continue
                    if target == first:
                        previous.setdefault(first, imp)
                    elif target not in seen:
                        seen.add(target)
                        previous[target] = imp
                        nxt.append(target)
            frontier = nxt
        chain = [previous[first]]
        while chain[-1].importer != first:
            chain.append(previous[chain[-1].importer])
        cycles.append((group, chain[::-1]))
    return cycles


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def underscore_violations(imports: Iterable[Import]) -> list[Import]:
    """Imports of a private name or a private module of another room."""
    bad = []
    for imp in imports:
        if imp.implicit or room_of(imp.importer) == room_of(imp.target):
            continue
        parts = imp.target.split(".")[1:]
        if room_of(imp.target) in BASE_ROOMS:
            parts = parts[1:]  # the base modules themselves are shared; their _names are not
        if any(_private(p) for p in parts) or any(_private(n) for n in imp.names):
            bad.append(imp)
    return bad


def layer_violations(imports: Iterable[Import], layers: Mapping[str, int] = LAYERS) -> list[tuple[Import, str]]:
    """Imports of a room above the importer's layer (or of a room with no layer)."""
    bad = []
    for imp in imports:
        if imp.where == "type_checking" or imp.implicit:  # a parent is in its child's room
            continue
        src, dst = room_of(imp.importer), room_of(imp.target)
        if src == dst or src == "__init__":
            continue
        if src not in layers or dst not in layers:
            missing = src if src not in layers else dst
            bad.append((imp, f"room {missing!r} has no layer in LAYERS (docs/architecture.md)"))
            continue
        if layers[dst] <= layers[src]:
            continue
        if (
            (src, dst) in FACADE_EXCEPTIONS
            and imp.where == "function"
            and not any(_private(n) for n in imp.names)
            and not any(_private(p) for p in imp.target.split("."))
        ):
            continue
        bad.append((imp, f"{src} (L{layers[src]}) imports {dst} (L{layers[dst]})"))
    return bad


# ---------------------------------------------------------------------------- tests


def _rlssm_imports() -> tuple[list[Import], dict[str, str]]:
    modules, paths = package_modules()
    assert f"{PACKAGE}.engine" in modules and f"{PACKAGE}.model" in modules, sorted(modules)
    return collect_imports(modules), paths


def test_no_import_cycles():
    imports, paths = _rlssm_imports()
    cycles = find_cycles(imports)
    report = [
        " -> ".join([chain[0].importer, *(imp.target for imp in chain)])
        + "".join(f"\n      {imp.describe(paths)}" for imp in chain)
        + (f"\n    (all modules of this cycle group: {', '.join(group)})" if len(group) > len(chain) else "")
        for group, chain in cycles
    ]
    assert not cycles, (
        "rlssm modules import each other in a cycle (function-level imports count: they run "
        "when called). Move the shared code down a layer, or pass it in:\n  "
        + "\n  ".join(report)
    )


def test_no_private_imports_across_rooms():
    imports, paths = _rlssm_imports()
    bad = underscore_violations(imports)
    assert not bad, (
        "These imports reach into another room's private (underscore) names or modules; "
        "export what is needed publicly (the engine's through rlssm.internal), or move it "
        "into the shared base (rlssm._errors/_types/_precision/_spec):\n  "
        + "\n  ".join(imp.describe(paths) for imp in bad)
    )


def test_rooms_import_only_their_layer_or_below():
    imports, paths = _rlssm_imports()
    modules, _ = package_modules()
    unplaced = sorted({room_of(m) for m in modules} - set(LAYERS))
    bad = layer_violations(imports)
    assert not unplaced and not bad, (
        "The import graph breaks the layers of docs/architecture.md "
        f"({', '.join(f'{r}=L{n}' for r, n in LAYERS.items())}).\n"
        + (f"Rooms with no layer (add them to LAYERS and the docs): {unplaced}\n" if unplaced else "")
        + "Upward imports (consumers may name higher rooms under TYPE_CHECKING only; only "
        "RLSSM's facade methods may import rlssm.simulation / rlssm.hssm_bridge lazily):\n  "
        + "\n  ".join(f"{imp.describe(paths)}: {why}" for imp, why in bad)
    )


def test_checker_finds_violations():
    """The checker on a synthetic package: a cycle through a function-level import, a
    private name and a private module of other rooms, an upward import; and what is
    allowed (TYPE_CHECKING, the facade, the base modules, one room's own privates)."""
    modules = {
        "rlssm": ("from .model import M\n", True),
        "rlssm._errors": ("class DataError(ValueError): ...\n", False),
        "rlssm.data": ("from ._errors import DataError\n", False),
        "rlssm.engine": ("from .core import run\n", True),
        "rlssm.engine.core": (
            "from ..data import DataError\nfrom ._helpers import _fast\n"
            "def run():\n    from ..fitting import fit\n",
            False,
        ),
        "rlssm.engine._helpers": ("def _fast(): ...\n", False),
        "rlssm.fitting": (
            "from typing import TYPE_CHECKING\nfrom ..engine.core import run\n"
            "from ..engine.core import _secret\nfrom ..engine._helpers import fast\n"
            "if TYPE_CHECKING:\n    from ..model import M\n",
            True,
        ),
        "rlssm.model": (
            "from .engine import run\nclass M:\n    def fit(self):\n        from .hssm_bridge import to_hssm\n",
            False,
        ),
        "rlssm.hssm_bridge": ("def to_hssm(): ...\n", True),
        "rlssm.simulation": ("from ..fitting import fit\n", True),
    }
    imports = collect_imports(modules)

    cycles = find_cycles(imports)
    assert len(cycles) == 1, cycles
    group, chain = cycles[0]
    assert group == ["rlssm.engine", "rlssm.engine.core", "rlssm.fitting"]
    assert chain[0].importer == chain[-1].target  # a closed path
    assert all(a.target == b.importer for a, b in zip(chain, chain[1:]))
    assert {"rlssm.engine.core", "rlssm.fitting"} <= {i.importer for i in chain}
    assert any(i.where == "function" for i in chain)  # function-level imports count

    private = {(i.importer, i.target, i.names) for i in underscore_violations(imports)}
    assert private == {
        ("rlssm.fitting", "rlssm.engine.core", ("_secret",)),
        ("rlssm.fitting", "rlssm.engine._helpers", ("fast",)),
    }

    upward = {(i.importer, i.target) for i, _ in layer_violations(imports)}
    assert upward == {("rlssm.engine.core", "rlssm.fitting"), ("rlssm.simulation", "rlssm.fitting")}
