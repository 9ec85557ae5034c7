"""Retention rules: visit day files older than `[leads] retention_days` are deleted, and so are the scan's alert
records of leads that no kept visit names any more."""

from __future__ import annotations

from datetime import datetime, timedelta

from arkops.core.leads import daily
from arkops.core.leads.state import drop_days
from arkops.core.leads.visits import day_files
from arkops.errors import CorruptFileError
from arkops.runtime import Runtime
from arkops.store.files import remove_file


def drop_old_visits(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Delete whole day files past the retention period (under --dry-run, only count them)."""
    oldest_kept = (now - timedelta(days=rt.config["leads"]["retention_days"])).date()
    old = [path for day, path in day_files(rt) if day < oldest_kept]
    if not rt.dry_run:
        with rt.store.lock("leads-ingest", what="leads ingest"):
            for path in old:
                remove_file(path)
        if old:
            daily.refresh(rt)  # their days' aggregates go with them
            drop_days(rt, {path.stem for path in old})  # and their visits leave the kept scores
    return {"visit day files deleted": len(old)}


def drop_old_alerts(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """The scan's alert records (`scan.ALERTS`: one per lead it named or recorded) of leads with no visit kept,
    last touched more than `retention_days` ago (or `realert_hours`, when longer); signups and demo requests
    that old alike. None can be news again as it was (a lead seen again later is a new one), and each names a
    visitor or an email: kept, they would outlive the visits by years and grow the file every scan rewrites.
    A lead still seen keeps its record, however old, so it is not alerted again as new."""
    from arkops.clock import iso
    from arkops.core.leads import LEADS_DB
    from arkops.core.leads.scan import ALERTS
    from arkops.core.leads.scoring import glances

    if not rt.store.path(LEADS_DB).exists():
        return {"lead alert records forgotten": 0}
    config = rt.config["leads"]
    age = max(timedelta(days=config["retention_days"]), timedelta(hours=config["realert_hours"]))
    cutoff = iso(now - age) or ""
    seen: set[str] = set()
    try:
        for glance in glances(rt, now=now):  # every lead kept: by its key (email or visitor) and its visitors
            seen.add(glance.key)
            seen.update(glance.visitors)
    except CorruptFileError:
        # Which leads are still seen is unknown: forget none this run, and let the other rules run (every leads
        # command names the unreadable file, and the next reader makes it again once it is moved aside).
        return {"lead alert records forgotten": 0}
    with rt.store.transaction(LEADS_DB) as db:
        old = [
            key
            for key, alert in db.items(ALERTS)
            if key not in seen and max(str(alert.get("at") or ""), str(alert.get("last_visit") or "")) < cutoff
        ]
        if not rt.dry_run:
            for key in old:
                db.delete(ALERTS, key)
    return {"lead alert records forgotten": len(old)}
