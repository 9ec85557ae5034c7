"""Storage: locks, atomic writes, TinyDB databases with schema versions, JSON Lines."""

from arkops.store.db import SCHEMAS, Db, Store, read_json_file, register_schema
from arkops.store.files import atomic_write_bytes, ensure_dir
from arkops.store.jsonl import JsonLines

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
