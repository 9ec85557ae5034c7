"""`leads import`: demo requests and other lead lists the web app writes.

A file is a JSON list or JSON Lines of objects with `email`, `name`,
`company`, `source`, `created_at` (ISO 8601 or seconds), and optionally
the visitor's `ip` and `user_agent`, which link that visitor's visits to
the email. One record per (email, created_at): importing a file again adds
nothing. A record that cannot be used is skipped and reported. A lead
whose email `privacy forget` erased is not recorded (only counted); an
erased address is left out of another person's lead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from arkops.clock import from_seconds, iso, parse_iso
from arkops.core.leads import LEADS_DB
from arkops.core.leads.visits import VisitorIds, email_in, visitor_key
from arkops.core.privacy.addresses import store_ip
from arkops.core.privacy.person import erased_check
from arkops.core.watch import WatchReport
from arkops.errors import DataError, UsageError
from arkops.runtime import Runtime
from arkops.store import Db
from arkops.text import Skipped

IMPORTS = "imports"
FIELDS = {"email", "name", "company", "source", "created_at", "timestamp", "ip", "user_agent", "kind"}


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    skipped: Skipped = field(default_factory=Skipped)
    erased: int = 0  # leads of erased people, not recorded


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) pairs of a JSON list or JSON Lines file (gzipped or not), streamed; a record that cannot
    be read (not JSON, too long, too deep) comes as its DataError, to skip and report."""
    from arkops.sources.json_files import records

    if not path.exists():
        raise UsageError(f"{path}: no such file")
    for found in records(path):
        if isinstance(found.value, DataError):
            yield path.name, found.value
        elif found.line is None:
            yield f"{path.name} record {found.index + 1}", found.value
        else:
            yield f"{path.name} line {found.line}", found.value


def _text(record: dict, key: str, limit: int = 200) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise DataError(f"{key}: {value!r} is not a one-line text")
    return value.strip()[:limit]


def _lead(
    record: Any, full_ip: bool, ids: VisitorIds, now: datetime, erased: Callable[[str], bool] | None
) -> dict | None:
    """The lead to store, None for an erased person's (DataError when the record cannot be used)."""
    if not isinstance(record, dict):
        raise DataError("not a JSON object")
    email = email_in(record.get("email") or "") if isinstance(record.get("email"), str) else None
    if email is None:
        raise DataError(f"email: {record.get('email')!r} is not an email address")
    if erased is not None and erased(email):
        return None
    raw_at = record.get("created_at", record.get("timestamp"))
    if raw_at is None:
        at = now
    elif isinstance(raw_at, (int, float)) and not isinstance(raw_at, bool):
        at = from_seconds(raw_at, what="created_at")
    elif isinstance(raw_at, str):
        at = parse_iso(raw_at, what="created_at")
    else:
        raise DataError(f"created_at: {raw_at!r} is not a date")
    lead = {
        "email": email,
        "name": _text(record, "name"),
        "company": _text(record, "company"),
        "source": _text(record, "source", 100),
        "kind": _text(record, "kind", 50) or "demo_request",
        "created_at": iso(at),
        "imported_at": iso(now),
    }
    ip = _text(record, "ip", 64)
    agent = _text(record, "user_agent", 500)
    if ip and agent and not (erased is not None and erased(ip)):
        stored = store_ip(ip, full_ip)
        if stored:
            lead["ip"], lead["user_agent"] = stored, agent
            lead["visitor"] = ids(store_ip(ip, True), agent)
    return lead


def import_files(rt: Runtime, paths: list[Path], *, now: datetime) -> ImportReport:
    """Read every file, then store the new leads in one transaction (nothing is written if a file is unreadable)."""
    report = ImportReport()
    with rt.store.transaction(LEADS_DB) as db:  # written only if every file reads to its end
        _import_batch(rt, db, (item for path in paths for item in _records(path)), report, now)
    return report


def take(rt: Runtime, records: list[Any], *, now: datetime) -> list[tuple[str, str | None]]:
    """Demo requests posted by the web app (`arkops serve`'s /api/events): the checks of `leads import`, one
    transaction, one outcome per record in order ("stored", "duplicate", "ignored", "refused", and why)."""
    full_ip = rt.config["leads"]["ip_storage"] == "full"
    ids = VisitorIds(visitor_key(rt))
    erased = erased_check(rt)
    outcomes: list[tuple[str, str | None]] = []
    with rt.store.transaction(LEADS_DB) as db:
        for record in records:
            try:
                lead = _lead(record, full_ip, ids, now, erased)
            except DataError as exc:
                outcomes.append(("refused", str(exc)))
                continue
            if lead is None:
                outcomes.append(("ignored", "erased by privacy forget: not recorded"))
            else:
                outcomes.append(("stored", None) if _insert(db, lead) else ("duplicate", None))
    rt.memo.pop("leads:imports", None)
    return outcomes


def follow_files(rt: Runtime, *, now: datetime) -> tuple[ImportReport, WatchReport]:
    """What the web app added to `[leads] demo_request_files` since the last run (`leads scan` calls it)."""
    from arkops.core.watch import follow_files as follow

    report = ImportReport()
    watched = follow(
        rt,
        LEADS_DB,
        rt.config["leads"]["demo_request_files"],
        lambda db, records: _import_batch(rt, db, records, report, now),
        now=now,
    )
    return report, watched


def _import_batch(rt: Runtime, db: Db, records: Iterable[tuple[str, Any]], report: ImportReport, now: datetime) -> None:
    """Store the new leads of `records` (where, record; a DataError for a line that is not JSON)."""
    full_ip = rt.config["leads"]["ip_storage"] == "full"
    ids = VisitorIds(visitor_key(rt))
    erased = erased_check(rt)
    for where, record in records:
        try:
            if isinstance(record, DataError):
                raise record
            lead = _lead(record, full_ip, ids, now, erased)
        except DataError as exc:
            report.skipped.append(f"{where}: {exc}")
            continue
        if lead is None:
            report.erased += 1
            continue
        if _insert(db, lead):
            report.added += 1
        else:
            report.duplicates += 1
    rt.memo.pop("leads:imports", None)


def _insert(db: Db, lead: dict) -> bool:
    """Store a lead unless it is there already: one per email and created_at."""
    key = hashlib.sha256(f"{lead['email']}\0{lead['created_at']}".encode()).hexdigest()[:20]
    return db.insert_new(IMPORTS, key, lead)


def imported(rt: Runtime) -> list[dict]:
    """Every imported lead, oldest first: kept beside the leads database while it is unchanged, since that
    file also holds every alert ever recorded and most readers (each scan, `status`) want only these."""
    memo = rt.memo.get("leads:imports")
    if memo is None:
        memo = rt.memo["leads:imports"] = rt.store.derived("leads-imports", LEADS_DB, _all_imported) or []
    return memo


def _all_imported(db: Db) -> list[dict]:
    return sorted((dict(doc, key=key) for key, doc in db.items(IMPORTS)), key=lambda d: (d["created_at"], d["email"]))


def linked_visitors(rt: Runtime) -> dict[str, str]:
    return {lead["visitor"]: lead["email"] for lead in imported(rt) if lead.get("visitor")}
