"""Retention rule: visit day files older than `[leads] retention_days` are deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

from arkops.core.leads import daily
from arkops.core.leads.state import drop_days
from arkops.core.leads.visits import day_files
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
