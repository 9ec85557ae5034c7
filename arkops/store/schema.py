"""Schema versions of the databases, declared before any is opened.

Kept apart from `arkops.store.db` so that declaring a database (which every
command does, `--help` included) does not import TinyDB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from arkops.store.db import Db

Migrations = dict[int, Callable[["Db"], None]]


class Named(Protocol):
    """A declared database (`arkops.core.domain.Database`): the store needs only its name."""

    @property
    def name(self) -> str: ...


DatabaseName = str | Named  # what every Store method that opens a database takes


def database_name(database: DatabaseName) -> str:
    return database if isinstance(database, str) else database.name


class Schema:
    """A database's current version and its migrations: migrations[n] turns a version-n database into
    version n+1, in place; given as a dict, or as a function returning it so the code loads only when needed.
    (A plain class: every command reads this module, and a dataclass costs about a millisecond to define.)"""

    __slots__ = ("migrations", "version")

    def __init__(self, version: int, migrations: Migrations | Callable[[], Migrations] | None = None) -> None:
        self.version = version
        self.migrations: Migrations | Callable[[], Migrations] = migrations or {}

    def migration(self, version: int) -> Callable[[Db], None] | None:
        table: Any = self.migrations if isinstance(self.migrations, dict) else self.migrations()
        return table.get(version)


SCHEMAS: dict[str, Schema] = {}


def register_schema(name: str, version: int, migrations: Migrations | Callable[[], Migrations] | None = None) -> None:
    SCHEMAS[name] = Schema(version, migrations or {})
