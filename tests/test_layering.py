"""The layering of docs/architecture.md as an import contract over the source tree.

The rules are read from the doc's two tables ("Who may import whom" and "Third-party
imports"), so the doc and this test cannot say different things. Every import counts:
module level, inside functions, under `if TYPE_CHECKING:`, an `importlib.import_module`
of a literal module name, and the `archforge` package's lazy re-exports (`_EXPORTS`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
# Where each import name's source lives in the tree (plugins/ installs as archforge_plugins).
SOURCES = {"archforge": ROOT / "archforge", "archforge_plugins": ROOT / "plugins",
           "hydra_plugins": ROOT / "hydra_plugins"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or module.name for `from m import name`)
    line: int


def _table(title: str) -> list[list[str]]:
    """The rows of the Markdown table under the heading `title` (cells, backticks kept)."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    assert match, f"docs/architecture.md has no section {title!r}"
    rows = [line.strip().strip("|").split("|") for line in match.group(1).splitlines()
            if line.startswith("|")]
    return [[c.strip() for c in row] for row in rows[2:]]  # skip the header and the rule


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell) or [w.strip() for w in cell.split(",") if w.strip()]


@cache
def layers() -> dict[str, tuple[list[str], set[str]]]:
    """layer -> (its module prefixes, the layers it may import)."""
    out: dict[str, tuple[list[str], set[str]]] = {}
    for name, modules, allowed in _table("Who may import whom"):
        out[name] = (_names(modules), {n for n in _names(allowed) if n != "-"})
    return out


def layer_of(module: str) -> str | None:
    """The layer whose longest module prefix holds `module`."""
    best: tuple[int, str] | None = None
    for name, (prefixes, _) in layers().items():
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name)
    return best[1] if best else None


def modules() -> Iterator[tuple[str, Path]]:
    for top, folder in SOURCES.items():
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((top, *parts)), path


def _package(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for module, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [Import(module, a.name, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    pkg = _package(module, path).split(".")
                    base = ".".join([*pkg[:len(pkg) - node.level + 1], *([base] if base else [])])
                found += [Import(module, f"{base}.{a.name}", node.lineno) for a in node.names]
            elif (name := _literal_import_module(node)) is not None:
                found.append(Import(module, name, node.lineno))
    found += [Import("archforge", target, 0) for target in sorted(set(package_exports().values()))]
    return tuple(found)


def _literal_import_module(node: ast.AST) -> str | None:
    """The module named by `importlib.import_module("literal")` (or `import_module(...)`):
    an import all the same, which a cycle through it must not hide."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    named = (func.attr if isinstance(func, ast.Attribute) else
             func.id if isinstance(func, ast.Name) else "")
    arg = node.args[0]
    if named == "import_module" and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


@cache
def known_modules() -> frozenset[str]:
    return frozenset(m for m, _ in modules())


def resolve(target: str) -> str | None:
    """The project module an import names (`from pkg import mod` names pkg.mod), or None
    for a third-party import."""
    if target.split(".")[0] not in SOURCES:
        return None
    while target and target not in known_modules():
        target = target.rpartition(".")[0]
    return target or None


def test_every_module_belongs_to_one_layer() -> None:
    orphans = [m for m, _ in modules() if layer_of(m) is None]
    assert orphans == [], "add these to the table in docs/architecture.md"
    for name, (_, allowed) in layers().items():
        assert allowed <= set(layers()), f"layer {name} allows an unknown layer"


@cache
def package_exports() -> dict[str, str]:
    """`archforge`'s lazily re-exported names and the module each comes from (_EXPORTS)."""
    tree = ast.parse((SOURCES["archforge"] / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_EXPORTS":
            return dict(ast.literal_eval(node.value))  # type: ignore[arg-type]
    raise AssertionError("archforge/__init__.py has no _EXPORTS")


def violation(module: str, target: str) -> str | None:
    """Why `module` may not import `target` (a project module), or None when it may. A
    name taken from the `archforge` package counts as an import of the module behind it."""
    src = layer_of(module)
    named = target.removeprefix("archforge.")
    if resolve(target) == "archforge" and named in package_exports():
        target = package_exports()[named]
    dst = layer_of(resolve(target) or target)
    if src is None or dst is None:
        return f"{module} or {target} is in no layer"
    if src == dst or dst in layers()[src][1]:
        return None
    return f"{module} ({src}) imports {target} ({dst})"


def test_imports_follow_the_layers() -> None:
    bad = [f"{v} at line {imp.line}" for imp in imports() if resolve(imp.target) is not None
           and (v := violation(imp.module, imp.target)) is not None]
    assert bad == []


@pytest.mark.parametrize("module, target, allowed", [
    ("archforge.search.trial.objective", "archforge.config.run", True),
    ("archforge.model.builder", "archforge.config.compose", False),
    ("archforge.config.compose", "archforge.search.runtime.study", False),
    ("archforge.predict", "archforge.cli.command_args", False),
    ("archforge_plugins.resnet", "archforge.BLOCKS", True),
    ("archforge_plugins.resnet", "archforge.build", False),  # the API: Hydra behind it
    ("archforge_plugins.resnet", "archforge.PruningCallback", False),
    ("archforge.search.runtime.workers", "archforge.cli.train", False),
])
def test_the_contract_tells_allowed_from_refused(module: str, target: str, allowed: bool
                                                 ) -> None:
    assert (violation(module, target) is None) == allowed


@cache
def third_party_rules() -> list[tuple[str, list[str]]]:
    return [(_names(pkg)[0], _names(only)) for pkg, only in _table("Third-party imports")]


def _within(module: str, places: list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") or layer_of(module) == p
               for p in places)


def test_third_party_imports_stay_where_the_doc_puts_them() -> None:
    bad = []
    for imp in imports():
        for package, places in third_party_rules():
            if (imp.target == package or imp.target.startswith(package + ".")) \
                    and not _within(imp.module, places):
                bad.append(f"{imp.module}:{imp.line} imports {imp.target} (only {places})")
    assert bad == []


PRIVATE_OWNERS = {"hydra": "archforge.config.hydra_private", "omegaconf":
                  "archforge.config.hydra_private",
                  "optuna": "archforge.search.runtime.optuna_private"}


def _private_uses(path: Path) -> Iterator[tuple[str, str, int]]:
    """(package, what, line) for every private name of Hydra, OmegaConf or Optuna: an
    underscored module or name imported, or an underscored attribute of one of their
    names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            base = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                full = f"{base}.{alias.name}" if base else alias.name
                top = full.split(".")[0]
                if top not in PRIVATE_OWNERS:
                    continue
                bound[(alias.asname or alias.name).split(".")[0]] = top
                if any(p.startswith("_") for p in full.split(".")):
                    yield top, full, node.lineno
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            value = node.value
            while isinstance(value, ast.Attribute):
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                yield bound[value.id], f"{value.id}...{node.attr}", node.lineno


def test_private_framework_api_only_in_its_ledger() -> None:
    bad = []
    for module, path in modules():
        for package, what, line in _private_uses(path):
            if module != PRIVATE_OWNERS[package]:
                bad.append(f"{module}:{line} uses {what} (only {PRIVATE_OWNERS[package]})")
    assert bad == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for imp in imports():
        target = resolve(imp.target)
        if target is not None and target != imp.module:
            graph.setdefault(imp.module, set()).add(target)
    assert _cycle(graph) is None


@pytest.mark.parametrize("code, expected", [
    ('importlib.import_module("hydra_plugins.x.y")', "hydra_plugins.x.y"),
    ('import_module("archforge.cli.sweeper")', "archforge.cli.sweeper"),
    ("importlib.import_module(name)", None),
    ('print("archforge.cli.sweeper")', None),
])
def test_a_literal_import_module_counts_as_an_import(code: str, expected: str | None) -> None:
    assert _literal_import_module(ast.parse(code).body[0].value) == expected  # type: ignore[attr-defined]


def test_the_sweeper_plugin_and_the_cli_are_in_the_graph() -> None:
    """The plugin Hydra imports and archforge's registration of it are both edges the cycle
    check sees (a string-named import once hid the loop hydra_app -> plugin -> sweeper ->
    search -> hydra_app)."""
    edges = {(imp.module, resolve(imp.target)) for imp in imports()}
    plugin = "hydra_plugins.archforge_sweeper.archforge_sweeper"
    assert (plugin, "archforge.cli.sweeper") in edges
    assert any(dst == plugin and src.startswith("archforge.") for src, dst in edges)
    assert ("archforge", "archforge.cli.pruning") in edges


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[str] | None
                                       ) -> None:
    assert _cycle(graph) == expected
