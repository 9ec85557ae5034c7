"""Typed tables: one table's documents seen as a domain record (a TypedDict).

A database stores plain JSON objects and `Db` hands out dicts. A domain
declares what a table holds once, `INVOICES = Table[Invoice]("invoices")`,
and reads and writes it through that declaration, so the type checker sees
records where TinyDB sees dicts. Nothing is checked at run time: every
document was written by the domain's own code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from arkops.store.db import Db

R = TypeVar("R", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Table(Generic[R]):
    name: str

    def get(self, db: Db, key: str) -> R | None:
        return cast("R | None", db.get(self.name, key))

    def put(self, db: Db, key: str, record: R) -> None:
        db.put(self.name, key, cast(dict, record))

    def insert_new(self, db: Db, key: str, record: R) -> bool:
        return db.insert_new(self.name, key, cast(dict, record))

    def delete(self, db: Db, key: str) -> bool:
        return db.delete(self.name, key)

    def items(self, db: Db) -> list[tuple[str, R]]:
        return cast("list[tuple[str, R]]", db.items(self.name))

    def values(self, db: Db) -> list[R]:
        return cast("list[R]", db.values(self.name))
