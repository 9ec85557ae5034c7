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
copy, so nothing is lost or counted twice. A record archived again under
another month (it came back to the hot file and changed) leaves its former
month file, so each record lives in one month file.

A month may keep a summary (`summaries/<YYYY-MM>.json`): a small value a
domain derives from the month file (the ledger: revenue by month), so a
report reads it instead of the whole month. It records the month file it
was made from (size, modification time, SHA-256) and how (`recipe`); when
the month file or the recipe differs it is stale, `summary` says None and
the reader reads the month itself. Summaries are disposable: deleted, they
are made again (`summarize`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arkops.errors import ArkopsError, CorruptFileError
from arkops.store.db import META, check_database, dump_json, parse_json_bytes, read_database_file
from arkops.store.files import atomic_write_bytes, ensure_dir
from arkops.store.schema import DatabaseName, database_name

if TYPE_CHECKING:
    from arkops.store.db import Db, Store

MONTH = re.compile(r"^\d{4}-\d{2}$")
ARCHIVE_SCHEMA = 1
INDEX = "index"
SUMMARIES = "summaries"


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
        return _checked(path, read_database_file(path))

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
            # A summary of what the month held is stale now; a summary may name people (trials' do), so one
            # of a month `privacy forget` rewrote must not outlive it: it is made again by its retention rule.
            self.summary_path(month).unlink(missing_ok=True)

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
        a kill in between leaves copies, never gaps. A document the index places in another month (it came
        back and changed) leaves that month file after the new one is written."""
        for month, tables in sorted(months.items()):
            self.merge(month, tables)
        former: dict[str, dict[str, list[str]]] = {}
        for month, tables in months.items():
            for name, documents in tables.items():
                for key in documents:
                    before = index.month_of(key)
                    if before is not None and before != month:
                        former.setdefault(before, {}).setdefault(name, []).append(key)
        for month, keys in sorted(former.items()):
            self.remove(month, keys)
        index.add(month_of)
        for tables in months.values():
            for name, documents in tables.items():
                for key in documents:
                    db.delete(name, key)

    def remove(self, month: str, tables: Mapping[str, list[str]]) -> None:
        """Drop documents from one month file (one atomic write when any was there); the caller holds the hot lock."""
        data = self.read(month)
        gone = [key for table, keys in tables.items() for key in keys if data.get(table, {}).pop(key, None)]
        if gone:
            self.write(month, data)

    def files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.json"))

    def summary_path(self, month: str) -> Path:
        return self.folder / SUMMARIES / self.path(month).name

    def summary(self, month: str, recipe: str) -> Any | None:
        """The value `summarize` kept for `month`, when it was made by `recipe` from the month file as it is now;
        None when there is none, it does not parse, or it is stale (the caller then reads the month itself).

        The month file is the one it was made from when its size and modification time (to the nanosecond)
        are those recorded; when only the time differs (a copy that did not keep it), when its SHA-256 is.
        """
        try:
            kept = parse_json_bytes(self.summary_path(month), self.summary_path(month).read_bytes())
            stat = self.path(month).stat()
        except (OSError, ArkopsError):
            return None
        if not isinstance(kept, dict) or kept.get("recipe") != recipe or not isinstance(kept.get("source"), dict):
            return None
        source = kept["source"]
        if source.get("size") != stat.st_size:
            return None
        if source.get("mtime_ns") != stat.st_mtime_ns:
            try:
                digest = hashlib.sha256(self.path(month).read_bytes()).hexdigest()
            except OSError:
                return None
            if source.get("sha256") != digest:
                return None
        return kept.get("value")

    def summarize(self, month: str, recipe: str, compute: Callable[[dict[str, dict[str, Any]]], Any]) -> Any:
        """`compute` of the month's tables, kept as its summary with what it was made from (the caller holds the
        hot database's lock, so the month file cannot change meanwhile); the value."""
        path = self.path(month)
        seen = path.stat()
        raw = path.read_bytes()
        value = compute(_checked(path, check_database(path, parse_json_bytes(path, raw))))
        if len(raw) == seen.st_size and path.stat().st_mtime_ns == seen.st_mtime_ns:  # what was read is what was seen
            source = {"size": len(raw), "mtime_ns": seen.st_mtime_ns, "sha256": hashlib.sha256(raw).hexdigest()}
            target = self.summary_path(month)
            payload = dump_json({"recipe": recipe, "source": source, "value": value})
            ensure_dir(target.parent)
            if not target.exists() or target.read_bytes() != payload:
                atomic_write_bytes(target, payload)
        return value

    def drop_summaries(self) -> int:
        """Delete every summary (they are made again from the month files); how many there were."""
        folder = self.folder / SUMMARIES
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
        for path in paths:
            path.unlink(missing_ok=True)
        return len(paths)


def _checked(path: Path, data: dict | None) -> dict[str, dict[str, Any]]:
    """A month file's tables, or CorruptFileError when it is not an arkops archive."""
    data = data or {}
    meta = data.get(META, {}).get("1")
    if data and (not isinstance(meta, dict) or meta.get("schema") != ARCHIVE_SCHEMA):
        raise CorruptFileError(path, f"not an arkops archive of schema {ARCHIVE_SCHEMA}")
    return data


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
