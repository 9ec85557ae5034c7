"""The leads domain's read API for other domains (the funnel): use these, never the files.

Every function takes `now`-independent windows `[since, until)` as aware
datetimes and returns plain dicts with ISO 8601 UTC times, oldest first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from arkops.clock import parse_iso
from arkops.core.leads.visits import day_files, match_page, read_visits, tracked_pages
from arkops.runtime import Runtime


def visits(rt: Runtime, *, since: datetime, until: datetime) -> Iterator[dict]:
    """Visits to tracked pages with `since <= at < until`, oldest first (bots already left out at ingest).

    Each: `visitor` (id), `path` (request path), `page` (the tracked prefix),
    `label`, `at` (ISO 8601 UTC), `utm_source`, `utm_medium`, `utm_campaign`,
    `ref`, `referrer_domain` (None when absent), and `email`: the email linked
    to the visitor (by this visit, another of theirs, or an imported demo
    request), or None.
    """
    from arkops.core.leads.scoring import links

    pages = tracked_pages(rt)
    window = sorted(read_visits(rt, since, until), key=lambda v: v["at"])
    linked = links(rt, window)
    for visit in window:
        page = match_page(pages, visit["path"])
        if page is None:
            continue
        yield {
            "visitor": visit["visitor"],
            "path": visit["path"],
            "page": page.path,
            "label": page.label,
            "at": visit["at"],
            "utm_source": visit.get("utm_source"),
            "utm_medium": visit.get("utm_medium"),
            "utm_campaign": visit.get("utm_campaign"),
            "ref": visit.get("ref"),
            "referrer_domain": visit.get("referrer_domain"),
            "email": linked.get(visit["visitor"]),
        }


def demo_requests(rt: Runtime, *, since: datetime, until: datetime) -> list[dict]:
    """Leads imported with `leads import` created in `[since, until)`, oldest first.

    Each: `email`, `name`, `company`, `source`, `kind` (demo_request unless the
    file said otherwise), `created_at`, and `visitor` (id, or None when the
    record carried no IP and user agent).
    """
    from arkops.core.leads.imports import imported

    return [
        {
            "email": lead["email"],
            "name": lead["name"],
            "company": lead["company"],
            "source": lead["source"],
            "kind": lead["kind"],
            "created_at": lead["created_at"],
            "visitor": lead.get("visitor"),
        }
        for lead in imported(rt)
        if since <= parse_iso(lead["created_at"]) < until
    ]


def last_visit_at(rt: Runtime) -> datetime | None:
    """The time of the newest stored visit (for a no-data alarm), or None when none is stored.

    Reads only the newest day file that holds a visit.
    """
    for day, _ in reversed(day_files(rt)):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        newest = max((v["at"] for v in read_visits(rt, start, start + timedelta(days=1))), default=None)
        if newest:
            return parse_iso(newest)
    return None
