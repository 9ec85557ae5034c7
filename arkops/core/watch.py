"""The web app's files that arkops follows by itself: signups, activity, demo requests, usage.

A domain names the files in its settings (globs relative to arkops.toml:
`[trials] signup_files` and `activity_files`, `[leads] demo_request_files`,
`[plans] usage_files`) and its job calls `follow` with what to do with each
batch of new records: the records its import command reads (a JSON array or
JSON Lines of objects). Which records are new is the follower's
(`arkops.sources.follow`: positions keyed by content, rotated siblings,
half-written lines and arrays left for the next run). Each batch and the
file's new position are committed in one transaction of the domain's
database, so every record is taken once: a run killed in between commits
neither, and the next run reads the same records again.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.core.domain import Database
from arkops.errors import DataError
from arkops.runtime import Runtime
from arkops.sources import access_log, follow
from arkops.store import Db
from arkops.text import counted

WATCHED = "watched"  # the table of positions in the owning domain's database
BATCH = 2000  # records per transaction: the web app's own writes get the lock between them

Records = list[tuple[str, Any]]  # (where, record), a line that is not JSON as a DataError in place of its record


@dataclass
class WatchReport:
    files: int = 0  # files with something new
    records: int = 0
    waiting: list[str] = field(default_factory=list)  # files that cannot be read yet (a half-written array)
    missing: list[str] = field(default_factory=list)  # patterns that match no file

    def summary(self) -> str:
        text = f"{counted(self.files, 'watched file')}, {counted(self.records, 'new record')}"
        if self.waiting:
            text += f"; not read yet: {'; '.join(self.waiting[:3])}"
        return text


def watched_files(rt: Runtime, patterns: list[str]) -> tuple[list[Path], list[str]]:
    return follow.matching_files(rt.config.path.parent, patterns, explicit=False)


def follow_files(
    rt: Runtime,
    database: Database,
    patterns: list[str],
    apply: Callable[[Db, Records], None],
    *,
    now: datetime,
) -> WatchReport:
    """Hand each batch of new records of the files `patterns` match to `apply`, inside the transaction of
    `database` that records how far each file was read (see the module)."""
    report = WatchReport()
    if not patterns:
        return report
    files, report.missing = watched_files(rt, patterns)
    if not files:
        return report
    with rt.store.lock(f"watch-{database.name}"):
        with rt.store.transaction(database) as db:
            state = {key: dict(entry) for key, entry in db.items(WATCHED)}
        for path in files:
            _follow_file(rt, database, path, state, apply, report, now=now)
    return report


def _follow_file(
    rt: Runtime,
    database: Database,
    path: Path,
    state: dict[str, dict],
    apply: Callable[[Db, Records], None],
    report: WatchReport,
    *,
    now: datetime,
) -> None:
    """One file's new records, a batch at a time; a file that cannot be read (yet) keeps what was taken
    before the fault, and is read again from there at the next run."""
    try:
        kind = "json" if access_log.detect_format(path) == "json" else "jsonl"
        where = follow.position(path, kind, state)
    except (DataError, OSError, EOFError, zlib.error) as exc:
        report.waiting.append(f"{path.name}: {exc}")
        return
    if where is None:
        return
    pending: Records = []
    last: follow.Record | None = None
    try:
        for record in follow.new_records(where):
            pending.append((record.where, record.value))
            last = record
            if len(pending) >= BATCH:
                _commit(rt, database, apply, pending, _mark(where, state, last, now))
                report.records += len(pending)
                pending = []
    except (DataError, OSError, EOFError, zlib.error) as exc:
        report.waiting.append(f"{path.name}: {exc}")
    if last is None:
        return  # nothing new (or only the start of a line, still being written): nothing to record
    _commit(rt, database, apply, pending, _mark(where, state, last, now))
    report.records += len(pending)
    report.files += 1


def _mark(where: follow.Position, state: dict[str, dict], last: follow.Record, now: datetime) -> dict[str, dict]:
    return where.mark(state, last.after, now, skipping=last.skipping, digest=last.digest)


def _commit(
    rt: Runtime, database: Database, apply: Callable[[Db, Records], None], records: Records, entry: dict[str, dict]
) -> None:
    with rt.store.transaction(database) as db:
        if records:
            apply(db, records)
        for key, value in entry.items():
            db.put(WATCHED, key, value)


def freshness_checks(rt: Runtime, watched: dict[str, list[str]], stale_hours: int) -> list[Check]:
    """`doctor`: each setting's files exist and can be read, and the newest was written in the last `stale_hours`."""
    checks = []
    for name, patterns in watched.items():
        if not patterns:
            continue
        files, missing = watched_files(rt, patterns)
        unreadable = [p.name for p in files if not os.access(p, os.R_OK)]
        if missing or unreadable:
            checks.append(Check(name, FAIL, "cannot read " + ", ".join([*missing, *unreadable][:5])))
            continue
        age = rt.now().timestamp() - max(p.stat().st_mtime for p in files)
        if age > timedelta(hours=stale_hours).total_seconds():
            detail = f"{counted(len(files), 'file')} readable; none written in the last {stale_hours} hours"
            checks.append(Check(name, WARN, detail))
        else:
            minutes = max(int(age // 60), 0)
            checks.append(
                Check(name, OK, f"{counted(len(files), 'file')} readable, the newest written {minutes} min ago")
            )
    return checks
