"""TinyDB databases held inside an exclusive lock, written atomically on commit.

A database is one JSON file in TinyDB's layout (`{table: {doc_id: doc}}`).
`Store.transaction(name)` takes the lock, opens a fresh TinyDB on a
transactional storage, and on a clean exit writes the whole file once with
`atomic_write_bytes`; on an exception nothing is written. Each database
carries `_meta.schema`; `register_schema` declares the current version and
the migrations that bring older files up to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage

from arkops.errors import CorruptFileError, DataError
from arkops.store.files import (
    FILE_MODE,
    atomic_write_bytes,
    ensure_dir,
    outside_data_dir,
    remove_stale_temps,
    write_output,
)
from arkops.store.jsonl import JsonLines
from arkops.store.locking import DATA_LOCK_WAIT, exclusive
from arkops.store.schema import SCHEMAS, DatabaseName, Schema, database_name

META = "_meta"
# Written by `arkops init` (and the demo) into the data directory: what makes it one.
MARKER = ".arkops"
MARKER_TEXT = b"This folder is an arkops data directory (see docs/architecture.md, Storage).\n"


def read_json_file(path: Path) -> Any:
    """Parse a data file, or raise CorruptFileError naming it; a missing file is None.

    An empty file is refused like a corrupt one: arkops never writes one (its
    writes are atomic), so something else truncated it, and treating it as a
    new database would overwrite whatever should be restored there.
    """
    raw = read_file_bytes(path)
    return None if raw is None else parse_json_bytes(path, raw)


def read_file_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise CorruptFileError(path, "is a folder, not a data file") from None


def parse_json_bytes(path: Path, raw: bytes) -> Any:
    if not raw.strip():
        raise CorruptFileError(path, "the file is empty")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:  # the standard library's parser says where a file is broken in the words people know
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptFileError(path, f"invalid JSON: {exc}") from None
    if data is None:
        raise CorruptFileError(path, "the file holds null")
    return data


def check_database(path: Path, data: Any) -> dict | None:
    """A database file holds TinyDB's layout ({table: {id: document}}); anything else is CorruptFileError."""
    if data is not None and (not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values())):
        raise CorruptFileError(path, "not a TinyDB document (expected {table: {id: document}})")
    return data


def read_database_file(path: Path) -> dict | None:
    """A database file in TinyDB's layout, or CorruptFileError; missing is None."""
    return check_database(path, read_json_file(path))


def dump_json(data: Any) -> bytes:
    """The one serialisation of every data file: compact UTF-8 JSON (so equal data gives equal bytes).

    orjson parses and writes data files several times faster than the
    standard library (a cron tick reads each hot file at least once); a
    value it cannot write (an integer beyond 64 bits) goes through `json`.
    """
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class TransactionalStorage(Storage):
    """TinyDB storage that reads once, keeps writes in memory, and writes the file on commit.

    A commit whose data serialises to the bytes that were read writes
    nothing: a run that changes nothing leaves the file, and its mtime, as
    they were.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.raw = read_file_bytes(self.path)
        self.data: dict | None = (
            None if self.raw is None else check_database(self.path, parse_json_bytes(self.path, self.raw))
        )
        self.dirty = False
        self.written = False

    def read(self) -> dict | None:
        return self.data

    def write(self, data: dict) -> None:
        self.data = data
        self.dirty = True

    def commit(self) -> None:
        if self.dirty and self.data is not None:
            payload = dump_json(self.data)
            if payload != self.raw:
                atomic_write_bytes(self.path, payload)
                self.raw, self.written = payload, True
            self.dirty = False

    def close(self) -> None:
        pass


class Db:
    """Keyed tables over one TinyDB file, valid only inside `Store.transaction`.

    Documents are addressed by their natural key (event id, customer id,
    idempotency key) so every lookup and write is O(1); TinyDB's own
    `Table` API rebuilds a table on each write, far too slow for a sync of
    thousands of events.
    """

    def __init__(self, name: str, tiny: TinyDB) -> None:
        self.name = name
        self.tiny = tiny
        self._storage: TransactionalStorage = tiny.storage  # type: ignore[assignment]
        if self._storage.data is None:
            self._storage.data = {}
        self._data: dict[str, dict[str, dict]] = self._storage.data
        self._archived: dict[str, Callable[[str], dict | None]] = {}

    def _table(self, table: str, create: bool = False) -> dict[str, dict]:
        if table not in self._data:
            if not create:
                return {}
            self._data[table] = {}
        return self._data[table]

    def get(self, table: str, key: str) -> dict | None:
        document = self._table(table).get(key)
        if document is None and table in self._archived:
            document = self._archived[table](key)
            if document is not None:
                self.put(table, key, document)
        return document

    @property
    def path(self) -> Path:
        """The database's file (its archive is `archive/<name>/` beside it)."""
        return self._storage.path

    def reach_archive(self, table: str, lookup: Callable[[str], dict | None] | None) -> None:
        """In this transaction, a `get` of a key that `table` lacks asks `lookup` (its archive) and brings the
        record back into the hot file: a late event about an archived record (a refund of an invoice paid
        months ago) updates it where readers look first, and retention archives it again later."""
        if lookup is None:
            self._archived.pop(table, None)
        else:
            self._archived[table] = lookup

    def put(self, table: str, key: str, document: dict) -> None:
        self._table(table, create=True)[key] = document
        self._storage.dirty = True

    def insert_new(self, table: str, key: str, document: dict) -> bool:
        """Insert unless the key exists; True when inserted (the idempotency primitive)."""
        rows = self._table(table, create=True)
        if key in rows:
            return False
        rows[key] = document
        self._storage.dirty = True
        return True

    def delete(self, table: str, key: str) -> bool:
        """Remove a document; True when it was there."""
        rows = self._table(table)
        if key not in rows:
            return False
        del rows[key]
        self._storage.dirty = True
        return True

    def drop_table(self, table: str) -> None:
        """Remove a whole table (a migration that retires one)."""
        if self._data.pop(table, None) is not None:
            self._storage.dirty = True

    def items(self, table: str) -> list[tuple[str, dict]]:
        return list(self._table(table).items())

    def values(self, table: str) -> list[dict]:
        return list(self._table(table).values())

    def tables(self) -> list[str]:
        return [name for name in self._data if name != META]

    @property
    def schema_version(self) -> int | None:
        meta = self._data.get(META, {}).get("1")
        return meta.get("schema") if isinstance(meta, dict) else None

    def set_schema_version(self, version: int) -> None:
        self.put(META, "1", {"schema": version})


def _signature(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


class Store:
    """The data directory: every read and write of arkops state goes through here.

    A read-only store (`arkops status`) takes no lock, applies schema
    migrations in memory only, writes no cache and commits nothing: data
    files are replaced atomically, so reading one without the lock sees a
    whole version of it.
    """

    def __init__(self, data_dir: Path, *, read_only: bool = False) -> None:
        self.data_dir = data_dir
        self.read_only = read_only

    @property
    def lock_dir(self) -> Path:
        return self.data_dir / "locks"

    def path(self, database: DatabaseName) -> Path:
        return self.data_dir / f"{database_name(database)}.json"

    def ensure(self) -> None:
        """The data directory must exist (`arkops init` creates it); its `locks/` folder is made on demand."""
        self._exists()
        if not self.read_only:
            ensure_dir(self.lock_dir)

    def check_initialised(self) -> None:
        """DataError (exit 3) unless this is an arkops data directory: `arkops init` marked it, or arkops
        wrote in it before the mark existed (its `locks/`). A wrong or empty `--data-dir` is told, never
        shown as an empty business."""
        self._exists()
        if not (self.data_dir / MARKER).is_file() and not self.lock_dir.is_dir():
            raise DataError(
                f"{self.data_dir} is not an arkops data directory (empty or not initialised): run `arkops init` "
                "here, or point --data-dir / ARKOPS_DATA_DIR at it"
            )

    def _exists(self) -> None:
        if not self.data_dir.is_dir():
            raise DataError(
                f"no arkops data directory at {self.data_dir}: run `arkops init` here, "
                "or point --data-dir / ARKOPS_DATA_DIR at it"
            )

    def initialise(self) -> None:
        """Make the data directory (0700) and mark it as arkops' (`check_initialised`)."""
        ensure_dir(self.data_dir)
        self.data_dir.chmod(0o700)
        marker = self.data_dir / MARKER
        if not marker.is_file():
            atomic_write_bytes(marker, MARKER_TEXT)

    @contextmanager
    def lock(self, name: DatabaseName, *, wait: float = DATA_LOCK_WAIT, what: str | None = None) -> Iterator[None]:
        """An exclusive lock: a database's own (the one its transactions take) or a named one ("leads-ingest")."""
        name = database_name(name)
        if self.read_only:
            raise RuntimeError(f"a read-only store takes no lock ({name})")
        self.ensure()
        with exclusive(self.lock_dir / f"{name}.lock", wait=wait, what=what or f"lock {name!r}"):
            yield

    @contextmanager
    def job_lock(self, job: str) -> Iterator[None]:
        """A job's run lock: when another run holds it, fail at once with exit 75."""
        with self.lock(f"job-{job}", wait=0, what=f"job lock {job!r}"):
            yield

    @contextmanager
    def transaction(self, database: DatabaseName) -> Iterator[Db]:
        """Lock, open a fresh TinyDB, yield it, write atomically on success, close before release."""
        name = database_name(database)
        schema = SCHEMAS.get(name)
        if schema is None:
            raise KeyError(f"database {name!r} has no registered schema")
        path = self.path(name)
        if self.read_only:
            self.ensure()
            tiny = TinyDB(str(path), storage=TransactionalStorage)
            try:
                db = Db(name, tiny)
                self._migrate(db, schema, path)  # in memory: the file stays as it is
                yield db
            finally:
                tiny.close()
            return
        with self.lock(name, what=f"database {path.name}"):
            remove_stale_temps(path)
            existed = path.exists()
            tiny = TinyDB(str(path), storage=TransactionalStorage)
            try:
                db = Db(name, tiny)
                self._migrate(db, schema, path)
                yield db
                if existed or db.tables():  # a read of a database that does not exist yet creates nothing
                    tiny.storage.commit()  # type: ignore[attr-defined]
            finally:
                tiny.close()

    def _migrate(self, db: Db, schema: Schema, path: Path) -> None:
        version = db.schema_version
        if version is None:
            if db.tables():
                raise CorruptFileError(path, "no schema version in _meta")
            db.set_schema_version(schema.version)
            return
        if version > schema.version:
            raise DataError(
                f"{path} has schema version {version}, newer than this arkops knows ({schema.version}); upgrade arkops"
            )
        while version < schema.version:
            migrate = schema.migration(version)
            if migrate is None:
                raise DataError(f"{path}: no migration from schema version {version}")
            migrate(db)
            version += 1
            db.set_schema_version(version)

    def memoized(self, memo: dict[str, Any], key: str, source: DatabaseName, read: Callable[[], Any]) -> Any:
        """`read()`, kept in `memo` (one invocation's) under `key` while database `source`'s file is unchanged:
        what one process's readers share (status's sections read the ledger and the trials once), where `derived`
        is what processes share. Its identity is taken before `read`, so a write meanwhile makes it read again."""
        signature = _signature(self.path(source))
        cached = memo.get(key)
        if cached is not None and signature is not None and cached[0] == signature:
            return cached[1]
        value = read()
        memo[key] = (signature, value)
        return value

    def derived(self, name: str, source: DatabaseName, compute: Callable[[Db], Any]) -> Any:
        """A small value computed from database `source`, kept in `cache/<name>.json` while that file is unchanged.

        Lets a cron tick learn, say, who pays from a large ledger without
        parsing it when nothing was written to it since the last time. The
        cache is disposable: unreadable or stale, it is computed again. The
        file's identity (inode, size, mtime) is taken inside the transaction
        that computes the value, so a write that lands later always
        invalidates it. None when `source` does not exist.
        """
        path = self.path(source)
        recipe = f"{compute.__module__}.{compute.__qualname__}"
        signature = _signature(path)
        if signature is None:
            return None
        found, value = self.cached(name, signature, recipe)
        if found:
            return value
        with self.transaction(source) as db:
            value = compute(db)
            signature = _signature(path)
        return self.keep(name, signature, recipe, value)

    def derived_from(self, name: str, source: DatabaseName, compute: Callable[[], Any]) -> Any:
        """As `derived`, computed by `compute()` from what this process read of `source` already (`memoized`)
        rather than by parsing it again. The file's identity is taken before `compute` reads anything, so a
        write meanwhile leaves the cache stale, never wrong. None when `source` does not exist."""
        recipe = f"{compute.__module__}.{compute.__qualname__}"
        signature = _signature(self.path(source))
        if signature is None:
            return None
        found, value = self.cached(name, signature, recipe)
        return value if found else self.keep(name, signature, recipe, compute())

    def identity(self, source: DatabaseName) -> list[int] | None:
        """A database file's identity (inode, size, modification time), None when it does not exist: take it
        before reading, so that a write meanwhile changes it."""
        return _signature(self.path(source))

    def cached(self, name: str, signature: Any, recipe: str) -> tuple[bool, Any]:
        """(True, the value) kept in `cache/<name>.json` for exactly this `signature` and `recipe`, else
        (False, None)."""
        try:
            cached = json.loads((self.data_dir / "cache" / f"{name}.json").read_bytes())
        except (OSError, ValueError):
            return False, None
        if isinstance(cached, dict) and cached.get("source") == signature and cached.get("recipe") == recipe:
            return True, cached.get("value")
        return False, None

    def keep(self, name: str, signature: Any, recipe: str, value: Any) -> Any:
        """A value derived from what `signature` names, written to its cache file (not by a read-only
        invocation; the cache is disposable: lost, it is computed again); returned as given."""
        if self.read_only:
            return value
        cache_path = self.data_dir / "cache" / f"{name}.json"
        ensure_dir(cache_path.parent)
        # disposable: not a change a job's cron line reports
        atomic_write_bytes(cache_path, dump_json({"source": signature, "recipe": recipe, "value": value}), change=False)
        return value

    def output_path(self, path: Path, *, what: str) -> Path:
        """A path the user named for arkops to write, checked to lie outside the data directory (DataError)."""
        return outside_data_dir(self.data_dir, path, what=what)

    def write_output(self, path: Path, data: bytes, *, what: str, mode: int = FILE_MODE) -> Path:
        """Write a user-named file (a report, a preview, a counter) atomically, never over a data file."""
        return write_output(self.data_dir, path, data, what=what, mode=mode)

    def jsonl(self, database: DatabaseName) -> JsonLines:
        return JsonLines(self.data_dir / f"{database_name(database)}.jsonl")

    def append(self, database: DatabaseName, records: list[dict]) -> int:
        self.ensure()
        with self.lock(f"{database_name(database)}.jsonl"):
            return self.jsonl(database).append(records)

    def data_files(self) -> list[Path]:
        if not self.data_dir.is_dir():
            return []
        return sorted(p for p in self.data_dir.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file())
