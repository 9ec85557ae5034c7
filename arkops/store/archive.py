"""Archives: finished records moved out of a hot database, one file per month.

A hot database (`trials.json`, `outbox.json`) holds what is still being
worked on; what is finished moves to `archive/<database>/<YYYY-MM>.json`,
in the same layout as a database (`{table: {key: document}}` with
`_meta.schema`), so any JSON tool reads it. Only commands that need history
(reports, `show`, export) open archives; nothing on a cron path does.

Writes happen only while the hot database's lock is held (the caller's
transaction): the archive is written first, then the hot database drops the
records. A run killed in between leaves a record in both places; the next
run archives it again (same key, same document) and readers prefer the hot
copy, so nothing is lost or counted twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arkops.errors import CorruptFileError
from arkops.store.db import META, dump_json, read_database_file
from arkops.store.files import atomic_write_bytes, ensure_dir
from arkops.store.schema import DatabaseName, database_name

if TYPE_CHECKING:
    from arkops.store.db import Db, Store

MONTH = re.compile(r"^\d{4}-\d{2}$")
ARCHIVE_SCHEMA = 1
INDEX = "index"


class Archive:
    """The month files of one hot database."""

    def __init__(self, store: Store, database: DatabaseName) -> None:
        self.folder = store.data_dir / "archive" / database_name(database)

    @classmethod
    def of(cls, db: Db) -> Archive:
        """The archive of the database open in `db` (read inside its transaction, under its lock)."""
        archive = cls.__new__(cls)
        archive.folder = db.path.parent / "archive" / db.name
        return archive

    def path(self, month: str) -> Path:
        if not MONTH.match(month):
            raise ValueError(f"archive month {month!r} is not YYYY-MM")
        return self.folder / f"{month}.json"

    def months(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if MONTH.match(p.stem))

    def read(self, month: str) -> dict[str, dict[str, Any]]:
        path = self.path(month)
        data = read_database_file(path) or {}
        meta = data.get(META, {}).get("1")
        if data and (not isinstance(meta, dict) or meta.get("schema") != ARCHIVE_SCHEMA):
            raise CorruptFileError(path, f"not an arkops archive of schema {ARCHIVE_SCHEMA}")
        return data

    def values(self, table: str, months: list[str] | None = None) -> Iterator[dict[str, Any]]:
        for month in self.months() if months is None else months:
            yield from self.read(month).get(table, {}).values()

    def merge(self, month: str, tables: Mapping[str, Mapping[str, dict]]) -> None:
        """Add or replace documents in one month file (one atomic write); the caller holds the hot lock."""
        data = self.read(month)
        for table, documents in tables.items():
            if documents:
                data.setdefault(table, {}).update(documents)
        self.write(month, data)

    def write(self, month: str, data: dict[str, dict[str, Any]]) -> None:
        data[META] = {"1": {"schema": ARCHIVE_SCHEMA}}
        payload = dump_json(data)
        path = self.path(month)
        ensure_dir(path.parent)
        if not path.exists() or path.read_bytes() != payload:
            atomic_write_bytes(path, payload)

    def find(self, table: str, key: str, index: ArchiveIndex) -> dict[str, Any] | None:
        """One archived document, by the month `index` gives its key (None when never archived)."""
        month = index.month_of(key)
        if month is None:
            return None
        return self.read(month).get(table, {}).get(key)

    def move(
        self,
        db: Db,
        months: Mapping[str, Mapping[str, Mapping[str, dict]]],
        index: ArchiveIndex,
        month_of: Mapping[str, str],
    ) -> None:
        """Move documents out of the hot database `db` (whose lock the caller holds): `months` maps a month to
        its tables' documents. The archive and its index are written first, then the hot file lets them go:
        a kill in between leaves copies, never gaps."""
        for month, tables in sorted(months.items()):
            self.merge(month, tables)
        index.add(month_of)
        for tables in months.values():
            for name, documents in tables.items():
                for key in documents:
                    db.delete(name, key)

    def files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.json"))


class ArchiveIndex:
    """`archive/<database>/index.json`: which month holds a key, for records found by key (a trial by email)."""

    def __init__(self, archive: Archive) -> None:
        self.path = archive.folder / f"{INDEX}.json"
        self._data: dict[str, str] | None = None
        self._signature: tuple[int, int, int] | None = None

    def load(self) -> dict[str, str]:
        """The index, read again only when the file changed (another process archived more since)."""
        try:
            stat = self.path.stat()
            signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            signature = None
        if self._data is None or signature != self._signature:
            data = (read_database_file(self.path) or {}) if signature else {}
            self._data, self._signature = dict(data.get("months", {})), signature
        return self._data

    def month_of(self, key: str) -> str | None:
        return self.load().get(key)

    def add(self, months: Mapping[str, str]) -> None:
        """Record keys' months (one atomic write); the caller holds the hot lock."""
        data = self.load()
        if all(data.get(k) == m for k, m in months.items()):
            return
        data.update(months)
        ensure_dir(self.path.parent)
        atomic_write_bytes(self.path, dump_json({"months": data, META: {"1": {"schema": ARCHIVE_SCHEMA}}}))
        stat = self.path.stat()
        self._signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def drop(self, keys: list[str]) -> int:
        """Forget keys (`privacy forget`); one atomic write when any was there. The caller holds the hot lock."""
        data = self.load()
        gone = [key for key in keys if key in data]
        if gone:
            for key in gone:
                del data[key]
            atomic_write_bytes(self.path, dump_json({"months": data, META: {"1": {"schema": ARCHIVE_SCHEMA}}}))
        return len(gone)
