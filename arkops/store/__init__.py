"""Storage: locks, atomic writes, TinyDB databases with schema versions, JSON Lines.

Names are loaded on first use (PEP 562), so that `arkops.store.schema`, which
every command reads, does not pull in TinyDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arkops.store.db import Db, Store, read_json_file
    from arkops.store.files import atomic_write_bytes, ensure_dir
    from arkops.store.jsonl import JsonLines
    from arkops.store.schema import SCHEMAS, register_schema

_HOMES = {
    "Db": "arkops.store.db",
    "Store": "arkops.store.db",
    "read_json_file": "arkops.store.db",
    "atomic_write_bytes": "arkops.store.files",
    "ensure_dir": "arkops.store.files",
    "JsonLines": "arkops.store.jsonl",
    "SCHEMAS": "arkops.store.schema",
    "register_schema": "arkops.store.schema",
}

__all__ = [
    "SCHEMAS",
    "Db",
    "JsonLines",
    "Store",
    "atomic_write_bytes",
    "ensure_dir",
    "read_json_file",
    "register_schema",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'arkops.store' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
