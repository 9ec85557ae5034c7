"""The leads domain's read API for other domains (the funnel): use these, never the files.

Every function takes `now`-independent windows `[since, until)` as aware
datetimes and returns plain dicts with ISO 8601 UTC times, oldest first.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import compress

from arkops.clock import parse_iso
from arkops.core.leads import daily
from arkops.core.leads.visits import day_files
from arkops.runtime import Runtime


@dataclass
class WindowPeople:
    """The visits of a window as the funnel counts them: a person is the email linked to the visitor (by a
    visit of the window or an imported lead), else the visitor id; each keeps its first moment, first
    utm_source and first referrer domain in the window."""

    visits: int = 0  # visits to tracked pages
    page_visits: int = 0  # visits to the page asked for
    first: dict[str, datetime] = field(default_factory=dict)
    page_first: dict[str, datetime] = field(default_factory=dict)  # each person's first visit to that page
    utm_source: dict[str, str] = field(default_factory=dict)
    referrer_domain: dict[str, str] = field(default_factory=dict)


def people(rt: Runtime, *, since: datetime, until: datetime, page: str) -> WindowPeople:
    """What `visits()` tells the funnel, read from the days' aggregates (`daily`): each day's columns
    merged with set and dict operations, the visits of the few linked visitors one by one."""
    from arkops.core.leads.imports import linked_visitors

    found = WindowPeople()
    window = list(daily.days(rt, since, until))
    links = {daily.visitor_number(visitor): email for visitor, email in linked_visitors(rt).items()}
    names: dict[int, str] = {}
    for day, lo, hi in window:  # the latest email of the window wins, as `scoring.links` reads them in order
        names.update(day.odd)
        for row in compress(range(lo, hi), day.emails[lo:hi]):
            links[day.visitors[row]] = day.strings[day.emails[row]] or ""
    order = [p.path for p in daily.page_order(rt)]
    wanted = daily.only(order.index(page)) if page in order else bytes(256)
    first: dict[int, int] = {}
    page_first: dict[int, int] = {}
    utm: dict[int, str | None] = {}
    referrer: dict[int, str | None] = {}
    linked_rows: list[tuple[daily.Day, bytes, int, int]] = []
    for day, lo, hi in reversed(window):  # the newest first: an older day's value replaces a newer one's
        pages, visitors = day.pages[lo:hi], day.visitors[lo:hi]
        tracked = bytes(pages.translate(daily.TRACKED))
        on_page = bytes(pages.translate(wanted))
        found.visits += tracked.count(1)
        found.page_visits += on_page.count(1)
        if links:
            linked = bytes(map(links.__contains__, visitors))
            linked_rows.append((day, daily.both(tracked, linked), lo, hi))
            tracked = daily.both(tracked, linked, without=True)
        on_page = daily.both(on_page, tracked)
        _earliest(first, visitors, day.ats[lo:hi], tracked)
        _earliest(page_first, visitors, day.ats[lo:hi], on_page)
        for column, into in ((day.sources, utm), (day.referrers, referrer)):
            values = column[lo:hi]
            chosen = daily.both(tracked, daily.nonzero(values))
            into.update(
                zip(
                    reversed(array("Q", compress(visitors, chosen))),
                    map(day.strings.__getitem__, reversed(array("I", compress(values, chosen)))),
                    strict=True,
                )
            )
    name = partial(_name, names) if names else "v{:011x}".format
    moment = partial(datetime.fromtimestamp, tz=UTC)
    found.first = dict(zip(map(name, first), map(moment, first.values()), strict=True))
    found.page_first = dict(zip(map(name, page_first), map(moment, page_first.values()), strict=True))
    found.utm_source = {name(visitor): value for visitor, value in utm.items() if value}
    found.referrer_domain = {name(visitor): value for visitor, value in referrer.items() if value}
    for day, rows, lo, hi in reversed(linked_rows):  # oldest first, in order: the few linked visitors' visits
        for row in compress(range(lo, hi), rows):
            person = links[day.visitors[row]].lower()
            at = moment(day.ats[row])
            if person not in found.first or at < found.first[person]:
                found.first[person] = at
            if order[day.pages[row]] == page and (person not in found.page_first or at < found.page_first[person]):
                found.page_first[person] = at
            for column, firsts in ((day.sources, found.utm_source), (day.referrers, found.referrer_domain)):
                if column[row]:
                    firsts.setdefault(person, day.strings[column[row]] or "")
    return found


def _name(odd: dict[int, str], visitor: int) -> str:
    return odd.get(visitor) or f"v{visitor:011x}"


def _earliest(into: dict[int, int], visitors: array, ats: array, mask: bytes | bytearray) -> None:
    """Each masked row's visitor -> the first of its seconds (rows in time order), replacing what `into` holds."""
    into.update(
        zip(reversed(array("Q", compress(visitors, mask))), reversed(array("I", compress(ats, mask))), strict=True)
    )


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

    Reads the days' aggregates (`daily`), whose rows are in time order: the newest day's last row.
    """
    for day, _ in reversed(day_files(rt)):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for rows, _, hi in daily.days(rt, start, start + timedelta(days=1)):
            return datetime.fromtimestamp(rows.ats[hi - 1], UTC)
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
