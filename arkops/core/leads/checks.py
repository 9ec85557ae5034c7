"""The leads domain's `doctor` check: sources readable, last ingest recent."""

from __future__ import annotations

import os
from datetime import timedelta

from arkops.clock import parse_iso
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.core.leads import LEADS_DB
from arkops.runtime import Runtime

STALE_AFTER = timedelta(hours=1)  # the scan runs every 15 minutes


def sources(rt: Runtime) -> Check:
    from arkops.core.leads.ingest import SOURCES, source_files

    configured = rt.config["leads"]["sources"]
    if not configured:
        return Check("lead sources", WARN, "[leads] sources not set: `leads scan` reads no access log")
    files, missing = source_files(rt, None)
    unreadable = [str(p) for p in files if not os.access(p, os.R_OK)]
    if unreadable or missing:
        return Check("lead sources", FAIL, "cannot read " + ", ".join([*missing, *unreadable][:5]))
    seen = []
    if rt.store.path(LEADS_DB).exists():
        with rt.store.transaction(LEADS_DB) as db:
            seen = [entry["seen"] for entry in db.values(SOURCES) if entry.get("seen")]
    if not seen:
        return Check("lead sources", WARN, f"{len(files)} file(s) readable, never ingested (run `arkops leads scan`)")
    last = max(seen)
    if rt.now() - parse_iso(last) > STALE_AFTER:
        return Check("lead sources", WARN, f"{len(files)} file(s) readable; last ingest {last}, over an hour ago")
    return Check("lead sources", OK, f"{len(files)} file(s) readable, last ingest {last}")


def demo_request_files(rt: Runtime) -> list[Check]:
    """The app's demo request files `leads scan` follows: readable, and written lately."""
    from arkops.core.watch import freshness_checks

    config = rt.config["leads"]
    return freshness_checks(rt, {"demo request files": config["demo_request_files"]}, config["files_stale_hours"])
