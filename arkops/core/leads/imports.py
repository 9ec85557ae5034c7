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
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from arkops.clock import from_seconds, iso, parse_iso
from arkops.core.leads import LEADS_DB
from arkops.core.leads.visits import email_in, visitor_id
from arkops.core.privacy.addresses import store_ip
from arkops.core.privacy.person import erased_check
from arkops.errors import DataError, UsageError
from arkops.runtime import Runtime

IMPORTS = "imports"
FIELDS = {"email", "name", "company", "source", "created_at", "timestamp", "ip", "user_agent", "kind"}


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)
    erased: int = 0  # leads of erased people, not recorded


def _records(path: Path) -> list[tuple[str, Any]]:
    """(where, record) pairs of a JSON list or JSON Lines file; a line that is not JSON is a record to skip."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not JSON ({exc})") from None
        return [(f"{path.name} record {n}", r) for n, r in enumerate(records, 1)]
    found: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.append((f"{path.name} line {number}", json.loads(line)))
        except json.JSONDecodeError:
            found.append((f"{path.name} line {number}", None))
    return found


def _text(record: dict, key: str, limit: int = 200) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise DataError(f"{key}: {value!r} is not a one-line text")
    return value.strip()[:limit]


def _lead(record: Any, full_ip: bool, now: datetime, erased: Callable[[str], bool] | None) -> dict | None:
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
            lead["ip"], lead["user_agent"], lead["visitor"] = stored, agent, visitor_id(stored, agent)
    return lead


def import_files(rt: Runtime, paths: list[Path], *, now: datetime) -> ImportReport:
    """Read every file, then store the new leads in one transaction (nothing is written if a file is unreadable)."""
    full_ip = rt.config["leads"]["ip_storage"] == "full"
    report = ImportReport()
    leads: list[dict] = []
    erased = erased_check(rt)
    for path in paths:
        for where, record in _records(path):
            try:
                lead = _lead(record, full_ip, now, erased)
            except DataError as exc:
                report.skipped.append(f"{where}: {exc}")
                continue
            if lead is None:
                report.erased += 1
            else:
                leads.append(lead)
    for added in _store(rt, leads):
        report.added += added
        report.duplicates += not added
    return report


def _store(rt: Runtime, leads: list[dict]) -> list[bool]:
    """Store the leads in one transaction: for each, whether it was new (one per email and created_at)."""
    added = []
    with rt.store.transaction(LEADS_DB) as db:
        for lead in leads:
            key = hashlib.sha256(f"{lead['email']}\0{lead['created_at']}".encode()).hexdigest()[:20]
            added.append(db.insert_new(IMPORTS, key, lead))
    rt.memo.pop("leads:imports", None)
    return added


def take(rt: Runtime, records: list[Any], *, now: datetime) -> list[tuple[str, str | None]]:
    """Demo requests posted by the web app (`arkops serve`'s /api/events): the checks of `leads import`, one
    transaction, one outcome per record in order ("stored", "duplicate", "ignored", "refused", and why)."""
    full_ip = rt.config["leads"]["ip_storage"] == "full"
    erased = erased_check(rt)
    outcomes: list[tuple[str, str | None]] = []
    leads: list[tuple[int, dict]] = []
    for record in records:
        try:
            lead = _lead(record, full_ip, now, erased)
        except DataError as exc:
            outcomes.append(("refused", str(exc)))
            continue
        if lead is None:
            outcomes.append(("ignored", "erased by privacy forget: not recorded"))
        else:
            leads.append((len(outcomes), lead))
            outcomes.append(("stored", None))
    for (index, _), added in zip(leads, _store(rt, [lead for _, lead in leads]), strict=True):
        if not added:
            outcomes[index] = ("duplicate", None)
    return outcomes


def imported(rt: Runtime) -> list[dict]:
    """Every imported lead, oldest first."""
    memo = rt.memo.get("leads:imports")
    if memo is None:
        with rt.store.transaction(LEADS_DB) as db:
            memo = [dict(doc, key=key) for key, doc in db.items(IMPORTS)]
        memo.sort(key=lambda d: (d["created_at"], d["email"]))
        rt.memo["leads:imports"] = memo
    return memo


def linked_visitors(rt: Runtime) -> dict[str, str]:
    return {lead["visitor"]: lead["email"] for lead in imported(rt) if lead.get("visitor")}
