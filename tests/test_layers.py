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
    "cli": {"arkops.cli", "arkops.core"},
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
