"""The leads domain's read API for other domains (the funnel): use these, never the files.

Every function takes `now`-independent windows `[since, until)` as aware
datetimes and returns plain dicts with ISO 8601 UTC times, oldest first.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import compress

from arkops.clock import parse_iso
from arkops.core.leads import daily
from arkops.core.leads.visits import day_files
from arkops.runtime import Runtime

Person = str | int  # the email linked to a visitor, else the visitor's number (`daily.visitor_number`)
Rows = list[tuple[daily.Day, int, int, bytes]]  # days, the window's rows in each, a mask of the rows wanted


class FirstSeen(MutableMapping[Person, datetime]):
    """Person -> their first moment in a window. The visitors' set is made from the days' columns at once
    (a set union); their moments only if one is asked for (a week's grouping, a cohort), since counting
    people and knowing who is in the stage need none. Emails (linked visitors, demo requests) are plain."""

    def __init__(self, visitors: set[int], rows: Rows) -> None:
        self.visitors, self.rows = visitors, rows
        self.moments: dict[Person, datetime] | None = None
        self.others: dict[Person, datetime] = {}

    def _made(self) -> dict[Person, datetime]:
        if self.moments is None:
            first: dict[int, int] = {}
            for day, lo, hi, wanted in reversed(self.rows):  # the oldest day last: its moment stays
                back = wanted[::-1]  # read backwards: a dict keeps the last value it is given, the day's first
                first.update(
                    zip(compress(day.visitors[lo:hi][::-1], back), compress(day.ats[lo:hi][::-1], back), strict=True)
                )
            self.moments = dict(zip(first, map(partial(datetime.fromtimestamp, tz=UTC), first.values()), strict=True))
        return self.moments

    def __len__(self) -> int:
        return len(self.visitors) + len(self.others)

    def __contains__(self, person: object) -> bool:
        return person in self.others or person in self.visitors

    def __iter__(self) -> Iterator[Person]:
        yield from self.visitors
        yield from self.others

    def __getitem__(self, person: Person) -> datetime:
        if person in self.others:
            return self.others[person]
        if person in self.visitors:
            return self._made()[person]
        raise KeyError(person)

    def __setitem__(self, person: Person, at: datetime) -> None:
        if person in self.visitors:
            self._made()[person] = at
        else:
            self.others[person] = at

    def __delitem__(self, person: Person) -> None:
        if person in self.visitors:
            self.visitors.discard(person)  # type: ignore[arg-type,unused-ignore]
            self._made().pop(person)
        else:
            del self.others[person]


class FirstValue(Mapping[Person, str]):
    """Person -> the first value of a column (utm_source, referrer domain) in a window, made when first read."""

    def __init__(self, rows: Rows, column: str) -> None:
        self.rows, self.column = rows, column
        self.made: dict[Person, str] | None = None
        self.others: dict[Person, str] = {}

    def _made(self) -> dict[Person, str]:
        if self.made is None:
            found: dict[Person, str] = {}
            for day, lo, hi, wanted in reversed(self.rows):
                values = getattr(day, self.column)[lo:hi][::-1]
                chosen = daily.both(wanted[::-1], daily.nonzero(values))
                texts = map(day.strings.__getitem__, compress(values, chosen))
                found.update(zip(compress(day.visitors[lo:hi][::-1], chosen), texts, strict=True))  # type: ignore[arg-type]
            self.made = found | self.others
        return self.made

    def __getitem__(self, person: Person) -> str:
        return self.others[person] if isinstance(person, str) else self._made()[person]

    def __iter__(self) -> Iterator[Person]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())

    def items(self) -> ItemsView[Person, str]:
        return self._made().items()  # a dict's view: another dict takes it in at C speed


@dataclass
class WindowPeople:
    """The visits of a window as the funnel counts them: a person is the email linked to the visitor (by a
    visit of the window or an imported lead), else the visitor (its number: an int, never equal to an
    email, cheaper than the id's text); each keeps its first moment, first utm_source and first referrer
    domain in the window."""

    visits: int
    page_visits: int  # visits to the page asked for
    first: FirstSeen
    page_first: FirstSeen  # each person's first visit to that page
    utm_source: FirstValue
    referrer_domain: FirstValue


def people(rt: Runtime, *, since: datetime, until: datetime, page: str) -> WindowPeople:
    """The funnel's visits of `[since, until)`, from the days' aggregates (`daily`): sets and masks of each
    day's columns; the visits of the few visitors linked to an email one by one, in order."""
    from arkops.core.leads.imports import linked_visitors

    window = list(daily.days(rt, since, until))
    links = {daily.visitor_number(visitor): email for visitor, email in linked_visitors(rt).items()}
    for day, lo, hi in window:  # the latest email of the window wins, as `scoring.links` reads them in order
        for row in compress(range(lo, hi), day.emails[lo:hi]):
            links[day.visitors[row]] = day.strings[day.emails[row]] or ""
    order = [p.path for p in daily.page_order(rt)]
    wanted = daily.only(order.index(page)) if page in order else bytes(256)
    visits = page_visits = 0
    tracked_rows: Rows = []
    page_rows: Rows = []
    linked_rows: Rows = []
    for day, lo, hi in window:
        pages = day.pages[lo:hi]
        tracked = bytes(pages.translate(daily.TRACKED))
        on_page = bytes(pages.translate(wanted))
        visits += tracked.count(1)
        page_visits += on_page.count(1)
        if links:
            linked = bytes(map(links.__contains__, day.visitors[lo:hi]))
            linked_rows.append((day, lo, hi, daily.both(tracked, linked)))
            tracked = daily.both(tracked, linked, without=True)
            on_page = daily.both(on_page, tracked)
        tracked_rows.append((day, lo, hi, tracked))
        page_rows.append((day, lo, hi, on_page))
    found = WindowPeople(
        visits,
        page_visits,
        FirstSeen(_union(tracked_rows), tracked_rows),
        FirstSeen(_union(page_rows), page_rows),
        FirstValue(tracked_rows, "sources"),
        FirstValue(tracked_rows, "referrers"),
    )
    for day, lo, hi, rows in linked_rows:  # oldest first, in order: the few linked visitors' visits
        for row in compress(range(lo, hi), rows):
            person = links[day.visitors[row]].lower()
            at = datetime.fromtimestamp(day.ats[row], UTC)
            if person not in found.first or at < found.first[person]:
                found.first[person] = at
            if order[day.pages[row]] == page and (person not in found.page_first or at < found.page_first[person]):
                found.page_first[person] = at
            for column, firsts in ((day.sources, found.utm_source), (day.referrers, found.referrer_domain)):
                if column[row]:
                    firsts.others.setdefault(person, day.strings[column[row]] or "")
    return found


def _union(rows: Rows) -> set[int]:
    found: set[int] = set()
    for day, lo, hi, wanted in rows:
        found.update(compress(day.visitors[lo:hi], wanted))
    return found


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
