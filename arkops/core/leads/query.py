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


def digest_entries(rt: Runtime) -> list[dict]:
    """The hot leads with an email and the demo requests the digests named, each as last alerted (the CRM push);
    the trial signups the new-lead digest named are left out (the trials themselves say more).

    Each: `key` (the alert's: the email, or `import:...` for a demo request), `email`, `alerted_at`, `score`
    (at the alert), `last_visit`, `page` (the last page's label, or the request's kind), `utm_source`,
    `utm_campaign` (None when unknown). A lead alerted again replaces its entry.
    """
    from arkops.core.leads import LEADS_DB
    from arkops.core.leads.imports import imported

    requests = {"import:" + lead["key"]: lead["email"] for lead in imported(rt)}
    with rt.store.transaction(LEADS_DB) as db:
        alerts = db.items("alerts")
    return [
        {
            "key": key,
            "email": email,
            "alerted_at": alert["at"],
            "score": alert["score"],
            "last_visit": alert["last_visit"],
            "page": alert.get("page"),
            "utm_source": alert.get("utm_source"),
            "utm_campaign": alert.get("utm_campaign"),
        }
        for key, alert in alerts
        if alert.get("alerted")
        and not key.startswith("trial:")  # a trial signup named in the new-lead digest: the trial tells it
        and (email := requests.get(key) or (key if "@" in key else None))
    ]
