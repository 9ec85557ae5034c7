"""`privacy export` and `privacy forget`, generic over every domain's declared personal data.

Each `Database` declaration (`arkops.core.domain`) lists, per table, the
fields holding personal data. A document names the person when one of
those fields (nested values included; `_key` for the document's key)
contains their email or IP address as a whole word. Export collects those
documents from the hot file and its monthly archives (JSON Lines: from
every `<name>.jsonl` and `<name>/**/*.jsonl`). Forget deletes them, unless
the database names its own handling (`Database.forget`: the outbox and the
ledger keep their records, pseudonymised). Derived caches naming the person
go too: they are rebuilt from the data on the next read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from arkops.clock import iso
from arkops.core.domain import Database, resolve
from arkops.core.privacy import PRIVACY_DB
from arkops.core.privacy.person import Person, person
from arkops.runtime import Runtime


def matches(person_: Person, key: str, document: Any, fields: tuple[str, ...]) -> bool:
    if not isinstance(document, dict):
        return False
    return any(person_.found_in(key if name == "_key" else document.get(name)) for name in fields)


def personal_databases() -> list[Database]:
    from arkops.core.registry import databases

    return [database for _, database in databases().values() if any(database.personal.values())]


def jsonl_files(rt: Runtime, name: str) -> list[Path]:
    """A JSON Lines database's files: `<name>.jsonl` and any under `<name>/` (one file per day, say)."""
    single = rt.data_dir / f"{name}.jsonl"
    folder = rt.data_dir / name
    nested = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
    return ([single] if single.is_file() else []) + nested


def _jsonl_fields(database: Database) -> tuple[str, ...]:
    return tuple(sorted({name for names in database.personal.values() for name in names}))


def _found(rt: Runtime, database: Database, who: Person) -> Iterator[tuple[str, str, dict]]:
    """(where, key, document) for every document of the database naming the person."""
    if database.kind == "jsonl":
        from arkops.store import JsonLines

        fields = _jsonl_fields(database)
        for path in jsonl_files(rt, database.name):
            where = str(path.relative_to(rt.data_dir))
            for number, record in enumerate(JsonLines(path).read()):
                if matches(who, "", record, fields):
                    yield where, str(number + 1), record
        return
    if not rt.store.path(database.name).exists():
        return
    with rt.store.transaction(database.name) as db:
        hot = [
            (t, k, d)
            for t, fields in database.personal.items()
            if fields  # a table declared with () holds nobody
            for k, d in db.items(t)
            if matches(who, k, d, fields)
        ]
    yield from hot
    if database.archive:
        from arkops.store.archive import Archive

        archive = Archive(rt.store, database.name)
        for month in archive.months():
            data = archive.read(month)
            for table, fields in database.personal.items():
                for key, document in data.get(table, {}).items() if fields else ():
                    if matches(who, key, document, fields):
                        yield f"{table} (archive {month})", key, document


def archived(rt: Runtime, database: Database) -> Iterator[tuple[str, str, str, dict]]:
    """(month, table, key, document) of every document in the database's monthly archives: what a store's
    own export reads besides its hot file (`Database.export`), so archives are never left out."""
    if not database.archive:
        return
    from arkops.store.archive import Archive

    archive = Archive(rt.store, database.name)
    for month in archive.months():
        for table, rows in archive.read(month).items():
            if not table.startswith("_"):
                for key, document in rows.items():
                    yield month, table, key, document


def rewrite_archived(rt: Runtime, database: Database, change: Callable[[str, str, dict], bool]) -> int:
    """Apply `change(table, key, document)` (True when it changed the document in place) to every archived
    document, under the database's lock, one write per month that changed: what a store's own forget
    (`Database.forget`) does to its archives as it does to its hot file. How many documents changed."""
    if not database.archive:
        return 0
    from arkops.store.archive import Archive

    archive = Archive(rt.store, database.name)
    changed = 0
    with rt.store.lock(database.name):
        for month in archive.months():
            data = archive.read(month)
            here = sum(
                change(table, key, document)
                for table, rows in data.items()
                if not table.startswith("_")
                for key, document in rows.items()
            )
            if here:
                archive.write(month, data)
                changed += here
    return changed


def export(rt: Runtime, text: str, *, now: datetime) -> dict[str, Any]:
    """Everything arkops holds about one person, by database and table, as one JSON document."""
    who = person(rt, text)
    stores: dict[str, dict[str, dict[str, Any]]] = {}
    for database in personal_databases():
        if database.export:
            found = resolve(database.export)(rt, who)
            if found:
                stores[database.name] = found
            continue
        for where, key, document in _found(rt, database, who):
            stores.setdefault(database.name, {}).setdefault(where, {})[key] = document
    return {"person": who.value, "kind": who.kind, "exported_at": iso(now), "stores": stores}


@dataclass
class ForgetReport:
    person: Person
    already_erased: bool = False
    done: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        return dict(self.done)

    def summary(self) -> str:
        found = [f"{count} {what}" for what, count in self.done.items() if count]
        if not found:
            return "nothing held about them" + (" (already erased)" if self.already_erased else "")
        return ("would erase: " if self.dry_run else "erased: ") + ", ".join(found)


def forget(rt: Runtime, text: str, *, now: datetime) -> ForgetReport:
    """Erase a person from every store; the erasure record (a keyed hash) is written first, so an import
    running meanwhile already refuses them. Running it again finds nothing and writes nothing."""
    who = person(rt, text)
    report = ForgetReport(who, dry_run=rt.dry_run)
    if rt.dry_run:
        for database in personal_databases():
            if database.export:  # a store that reaches the person by links too: its own export finds them all
                found = sum(len(documents) for documents in resolve(database.export)(rt, who).values())
            else:
                found = sum(1 for _ in _found(rt, database, who))
            report.done[f"{database.name} records"] = report.done.get(f"{database.name} records", 0) + found
        return report
    with rt.store.transaction(PRIVACY_DB) as db:
        report.already_erased = not db.insert_new("erasures", who.digest, {"kind": who.kind, "at": iso(now)})
    for database in personal_databases():
        if database.forget:
            counts = resolve(database.forget)(rt, who, now=now)
        elif database.kind == "jsonl":
            counts = _forget_jsonl(rt, database, who)
        else:
            counts = forget_documents(rt, database, who)
        for what, count in counts.items():
            report.done[what] = report.done.get(what, 0) + count
    report.done["cache files removed"] = _drop_caches(rt, who)
    return report


def forget_documents(rt: Runtime, database: Database, who: Person) -> dict[str, int]:
    """Delete the person's documents from a TinyDB store and its archive months: the erasure of a store without
    its own (`Database.forget`), and the part of one that adds to it (trials make their summaries again)."""
    from arkops.store.archive import Archive, ArchiveIndex

    if not rt.store.path(database.name).exists():
        return {}
    removed = 0
    with rt.store.transaction(database.name) as db:
        for table, fields in database.personal.items():
            for key, document in db.items(table):
                if matches(who, key, document, fields):
                    removed += db.delete(table, key)
    if database.archive:
        archive = Archive(rt.store, database.name)
        with rt.store.lock(database.name):
            for month in archive.months():
                data = archive.read(month)
                changed = False
                for table, fields in database.personal.items():
                    rows = data.get(table, {})
                    for key in [k for k, d in rows.items() if matches(who, k, d, fields)]:
                        del rows[key]
                        removed += 1
                        changed = True
                if changed:
                    archive.write(month, data)
            index = ArchiveIndex(archive)
            index.drop([key for key in index.load() if who.found_in(key)])
    return {f"{database.name} records": removed}


def _forget_jsonl(rt: Runtime, database: Database, who: Person) -> dict[str, int]:
    from arkops.store import JsonLines

    fields = _jsonl_fields(database)
    removed = 0
    with rt.store.lock(f"{database.name}.jsonl"):
        for path in jsonl_files(rt, database.name):
            records = list(JsonLines(path).read())
            kept = [r for r in records if not matches(who, "", r, fields)]
            if len(kept) != len(records):
                JsonLines(path).rewrite(kept)
                removed += len(records) - len(kept)
    return {f"{database.name} records": removed}


def _drop_caches(rt: Runtime, who: Person) -> int:
    """Derived caches (`cache/*.json`) are disposable: one naming the person is removed, and rebuilt when read."""
    folder = rt.data_dir / "cache"
    removed = 0
    if folder.is_dir():
        for path in folder.glob("*.json"):
            if who.found_in(path.read_text(errors="replace")):
                path.unlink(missing_ok=True)
                removed += 1
    return removed
