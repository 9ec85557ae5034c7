"""Privacy's retention rules, run by the daily `retention` job with every other domain's (`arkops privacy purge`).

Sent mail bodies and dry-run `.eml` files are the mail domain's rule
(`[mail] keep_bodies_days`); finished trials and Stripe event ids have
theirs. These add: day files of JSON Lines databases that declare
`keep_days` (a setting such as `leads.retention_days`), and temp files a
killed write left behind (`[privacy] keep_temp_hours`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from arkops.runtime import Runtime
from arkops.store.files import remove_file

DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")


def _setting(rt: Runtime, dotted: str) -> int:
    table, _, key = dotted.partition(".")
    return int(rt.config[table][key])


def day_files(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Remove `<name>/YYYY-MM-DD.jsonl` files older than the database's `keep_days` setting."""
    from arkops.core.registry import databases

    done: dict[str, int] = {}
    for name, (_, database) in databases().items():
        if database.kind != "jsonl" or not database.keep_days or not (rt.data_dir / name).is_dir():
            continue
        cutoff = (now - timedelta(days=_setting(rt, database.keep_days))).strftime("%Y-%m-%d")
        removed = 0
        with rt.store.lock(f"{name}.jsonl"):
            for path in sorted((rt.data_dir / name).rglob("*.jsonl")):
                match = DAY_FILE.match(path.name)
                if match and match.group(1) < cutoff:
                    if not rt.dry_run:
                        remove_file(path)
                    removed += 1
        done[f"{name} day files removed"] = removed
    return done


def temp_files(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Temp files (`.<name>.*.tmp`) older than `[privacy] keep_temp_hours`: a write killed before its rename."""
    if not rt.data_dir.is_dir():
        return {}
    cutoff = (now - timedelta(hours=rt.config["privacy"]["keep_temp_hours"])).timestamp()
    removed = 0
    for path in rt.data_dir.rglob(".*.tmp"):
        if path.is_file() and path.stat().st_mtime < cutoff:
            if not rt.dry_run:
                remove_file(path)
            removed += 1
    return {"temp files removed": removed}
