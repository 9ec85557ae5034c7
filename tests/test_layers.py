"""The arrows point one way: cli -> core -> (store, sources, mail)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "arkops"

# what each layer may import from arkops (besides itself and the shared modules)
SHARED = {"arkops", "arkops.errors", "arkops.clock", "arkops.config", "arkops.runtime", "arkops.money", "arkops.text"}
# the shared modules sit below every layer: each may import only these
SHARED_MAY_IMPORT = {
    "errors": set(),
    "text": set(),
    "clock": {"arkops.errors"},
    "money": {"arkops.errors"},
    "config": {"arkops.errors", "arkops.text"},
    "runtime": {"arkops.config", "arkops.store", "arkops.clock"},
}
ALLOWED = {
    "cli": {"arkops.cli", "arkops.core", "arkops.serve"},
    "serve": {"arkops.serve", "arkops.core"},
    "core": {"arkops.core", "arkops.store", "arkops.sources", "arkops.mail"},
    "mail": {"arkops.mail", "arkops.store"},
    "sources": {"arkops.sources"},
    "store": {"arkops.store"},
}


def arkops_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "arkops":  # from arkops import clock
            names.update(f"arkops.{alias.name}" if alias.name != "__version__" else "arkops" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("arkops"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("arkops"))
    return names


def test_each_layer_imports_only_what_it_may():
    for layer, allowed in ALLOWED.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            for name in arkops_imports(path):
                ok = name in SHARED or any(name == prefix or name.startswith(prefix + ".") for prefix in allowed)
                assert ok, f"{path.relative_to(PACKAGE.parent)} imports {name}"


def test_shared_modules_import_only_below_them():
    assert {f"arkops.{name}" for name in SHARED_MAY_IMPORT} == SHARED - {"arkops"}
    for name, allowed in SHARED_MAY_IMPORT.items():
        imported = arkops_imports(PACKAGE / f"{name}.py")
        assert imported <= allowed, f"arkops/{name}.py imports {sorted(imported - allowed)}"


def test_core_never_prints_or_uses_typer_or_rich():
    for path in (PACKAGE / "core").rglob("*.py"):
        source = path.read_text()
        tree = ast.parse(source)
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"{path} prints"
        for name in ("typer", "rich"):
            assert f"import {name}" not in source and f"from {name}" not in source, f"{path} imports {name}"


def _core_module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_between_domains():
    """A domain may use another (trials reads the ledger), never in a circle: each could then not stand alone.

    Every import counts, those inside functions too. A domain package is one node; the other core modules
    (registry, notify, the demo's world and its runner, ...) are each their own.
    """
    from arkops.core.registry import DOMAINS

    def node(module: str) -> str:
        return next((d for d in DOMAINS if module == d or module.startswith(d + ".")), module)

    edges: dict[str, set[str]] = {}
    for path in (PACKAGE / "core").rglob("*.py"):
        source = node(_core_module(path))
        for name in arkops_imports(path):
            if name.startswith("arkops.core.") and node(name) != source:
                edges.setdefault(source, set()).add(node(name))

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cycles = sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if reaches(b, a))
    assert not cycles, f"import cycles: {cycles}"
