"""Visitors, their scores, and the listings built on them (`leads list`, `show`, `stats`).

A lead is a visitor (whole IP and user agent, `visits.VisitorIds`) or,
once linked, an email: a visit that carried `?email=` (or an email as
`ref`), or an imported demo request with the visitor's IP and user agent,
links every visit of that visitor to the email. The score is the sum of
the visits' page weights, each halved every `half_life_days` since the
visit; a lead is hot when the score reaches `hot_score` or they opened
a hot page. Every stored visit counts: the scores are kept state
(`state`), brought up to date from the new visits only, so listing leads
costs the number of visitors, never the history's visits.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from itertools import compress, repeat

from arkops.clock import iso, parse_iso
from arkops.core.leads.state import HISTORY_KEPT, groups, score_at
from arkops.core.leads.visits import match_page, read_visits, tracked_pages
from arkops.errors import DataError
from arkops.runtime import Runtime


@dataclass
class Lead:
    """A lead as its kept visitor records make it (`state`): scored at the moment it was read for."""

    key: str  # the email when linked, else the visitor id
    email: str | None
    visitors: set[str] = field(default_factory=set)
    score: float = 0.0
    count: int = 0  # visits
    first_at: str = ""
    last: dict = field(default_factory=dict)  # the last visit: at, label, ip, user_agent, referrer(_domain)
    hot_visit: dict | None = None  # the first visit to a hot page: label, at
    first_source: str = ""  # the first UTM source, else the first referrer domain, else ""
    first_campaign: str = ""
    first_utm_source: str = ""
    pages: list[str] = field(default_factory=list)  # tracked pages by their first visit
    days: set[str] = field(default_factory=set)  # UTC days with a visit
    history: list[tuple[str, str]] = field(default_factory=list)  # the last visits (at, label), oldest first

    def hot(self, threshold: float) -> bool:
        return self.hot_visit is not None or self.score >= threshold

    def hot_rule(self, threshold: float) -> str:
        """Which rule makes the lead hot ("" when neither): the hot page (it fires first), or the score."""
        if self.hot_visit is not None:
            return f"hot page {self.hot_visit['label']} at {self.hot_visit['at']}"
        if self.score >= threshold:
            return f"score {self.score:.2f} >= hot_score {threshold:g}"
        return ""

    def source(self) -> str:
        return self.first_source or "direct"


def links(rt: Runtime, visits: list[dict]) -> dict[str, str]:
    """visitor id -> email, from visits that carried one and from imported leads with the visitor's address."""
    from arkops.core.leads.imports import linked_visitors

    found = linked_visitors(rt)
    for visit in visits:
        if visit.get("email"):
            found[visit["visitor"]] = visit["email"]
    return found


def _lead(group: list[dict], email: str | None, now_seconds: float, half_life_seconds: float) -> Lead:
    last = max(group, key=lambda r: r["l"])
    hot = min((r for r in group if "ha" in r), key=lambda r: (r["ha"], r["hp"]), default=None)

    def first_of(key: str) -> str:
        return min((r[key] for r in group if key in r), default=["", ""])[1]

    pages: dict[str, str] = {}
    for at, label in sorted(item for r in group for item in r.get("pg", [])):
        pages.setdefault(label, at)
    return Lead(
        key=email or group[0]["v"],
        email=email,
        visitors={r["v"] for r in group},
        score=sum(score_at(r, now_seconds, half_life_seconds) for r in group),
        count=sum(r["n"] for r in group),
        first_at=min(r["f"] for r in group),
        last={**last.get("lp", {}), "at": last["l"]},
        hot_visit={"label": hot["hp"], "at": hot["ha"]} if hot else None,
        first_source=first_of("us") or first_of("rd"),
        first_utm_source=first_of("us"),
        first_campaign=first_of("uc"),
        pages=list(pages),
        days={day for r in group for day in r.get("d", [])},
        history=[(at, label) for at, label in sorted(item for r in group for item in r.get("h", []))][-HISTORY_KEPT:],
    )


@dataclass(slots=True)  # not frozen: made once per lead read, and a frozen one costs 3x to make
class Glance:
    """What the kept summaries tell of a lead before its records are read."""

    key: str
    email: str | None
    visitors: tuple[str, ...]
    score: float
    last: str
    hot_page: bool
    count: int
    first_source: str  # as `Lead.first_source`
    first_at: str
    last_page: str  # the last visit's page label and referrer domain
    last_referrer: str

    def hot(self, threshold: float) -> bool:
        return self.hot_page or self.score >= threshold

    def source(self) -> str:
        return self.first_source or "direct"


def _first_source(utm: list | None, referrer: list | None) -> str:
    """The first UTM source, else the first referrer domain (each kept as [at, value]), else ""."""
    pair = utm or referrer
    return str(pair[1]) if pair else ""


def _glance(rows: list[list], email: str | None, now_seconds: float, half_life_seconds: float) -> Glance:
    if len(rows) == 1:  # most leads: one visitor
        visitor, score, last, hot_page, _, count, seconds, utm, referrer, first, page, domain = rows[0]
        score *= 0.5 ** (max(now_seconds - seconds, 0.0) / half_life_seconds)
        source = _first_source(utm, referrer)
        return Glance(email or visitor, email, (visitor,), score, last, hot_page, count, source, first, page, domain)
    utm = min((row[7] for row in rows if row[7]), default=None)
    referrer = min((row[8] for row in rows if row[8]), default=None)
    latest = max(rows, key=lambda row: row[2])
    return Glance(
        key=email or rows[0][0],
        email=email,
        visitors=tuple(row[0] for row in rows),
        score=sum(row[1] * 0.5 ** (max(now_seconds - row[6], 0.0) / half_life_seconds) for row in rows),
        last=latest[2],
        hot_page=any(row[3] for row in rows),
        count=sum(row[5] for row in rows),
        first_source=_first_source(utm, referrer),
        first_at=min(row[9] for row in rows),
        last_page=latest[10],
        last_referrer=latest[11],
    )


def kept_leads(
    rt: Runtime,
    *,
    now: datetime,
    wanted: Callable[[Glance], bool] | None = None,
    since: str = "",
    hot: bool = False,
) -> Iterator[Lead]:
    """The leads of the kept state (brought up to date with the stored visits) that `wanted` accepts (every one
    without it), scored at `now`; streamed, and only the accepted leads' records are read. With `since` (an
    `iso` moment), leads last seen before it may be left out unread, and with `hot`, leads that are not hot:
    `wanted` must refuse them anyway."""
    from arkops.core.leads.imports import linked_visitors

    links = linked_visitors(rt)
    half_life = rt.config["leads"]["half_life_days"] * 86_400
    moment = now.timestamp()

    for group in groups(rt, links, since, hot):
        rows = [row for row, _ in group]
        email = rows[0][4] or links.get(rows[0][0])
        if wanted is None or wanted(_glance(rows, email, moment, half_life)):
            yield _lead([read() for _, read in group], email, moment, half_life)


def glances(rt: Runtime, *, now: datetime, since: str = "", hot: bool = False) -> Iterator[Glance]:
    """Every lead's glance (score, last visit, hot page, visits, ...), no record read: the cheapest reading.
    With `since` or `hot`, leads last seen before it, or not hot, may be left out (as `kept_leads`)."""
    from arkops.core.leads.imports import linked_visitors

    links = linked_visitors(rt)
    half_life = rt.config["leads"]["half_life_days"] * 86_400
    moment = now.timestamp()
    for group in groups(rt, links, since, hot):
        rows = [row for row, _ in group]
        yield _glance(rows, rows[0][4] or links.get(rows[0][0]), moment, half_life)


def lead_row(lead: Lead | Glance, threshold: float) -> dict:
    """A lead as `leads list` shows it: from its records, or from its summaries alone (the same row)."""
    if isinstance(lead, Glance):
        last, page, referrer = lead.last, lead.last_page, lead.last_referrer
    else:
        last, page, referrer = lead.last["at"], lead.last.get("label", ""), lead.last.get("referrer_domain") or ""
    return {
        "lead": lead.key,
        "email": lead.email,
        "score": round(lead.score, 2),
        "hot": lead.hot(threshold),
        "visits": lead.count,
        "first_visit": lead.first_at,
        "last_visit": last,
        "last_page": page,
        "source": lead.source(),
        "referrer": referrer,
    }


def list_leads(
    rt: Runtime,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    min_score: float | None = None,
    hot: bool = False,
) -> list[dict]:
    """Leads whose last visit is in [since, until) (default: every lead kept), hottest first; scores count every
    stored visit (the kept state knows a lead's last visit, not every visit's time)."""
    start, end = iso(since) if since else "", iso(until) if until else ""
    threshold = rt.config["leads"]["hot_score"]

    def wanted(glance: Glance) -> bool:
        return not (
            (hot and not glance.hot(threshold))
            or (min_score is not None and glance.score < min_score)
            or (start and glance.last < start)
            or (end and glance.last >= end)
        )

    chosen = glances(rt, now=now, since=start or "", hot=hot)  # no record read: the summaries hold the row
    rows = [lead_row(glance, threshold) for glance in chosen if wanted(glance)]
    rows.sort(key=lambda r: (-r["score"], r["lead"]))
    return rows


def show_lead(rt: Runtime, who: str, *, now: datetime) -> dict:
    """One lead (visitor id or email) with its visit timeline over the retention period."""
    wanted = who.strip().lower() if "@" in who else who.strip()
    chosen = kept_leads(rt, now=now, wanted=lambda glance: wanted == glance.key or wanted in glance.visitors)
    lead = next(chosen, None)
    if lead is None:
        raise DataError(f"no visits from {who!r} in the last {rt.config['leads']['retention_days']} days")
    threshold = rt.config["leads"]["hot_score"]
    row = lead_row(lead, threshold)
    row["hot_rule"] = lead.hot_rule(threshold)
    row["visitors"] = sorted(lead.visitors)
    pages = tracked_pages(rt)
    first, last = parse_iso(lead.first_at), parse_iso(lead.last["at"])
    timeline = []
    for visit in read_visits(rt, first, last + timedelta(seconds=1)):  # only the days the lead visited in
        page = match_page(pages, visit["path"])
        if page is None or visit["visitor"] not in lead.visitors:
            continue
        timeline.append(
            {
                "at": visit["at"],
                "page": page.label,
                "path": visit["path"],
                "source": visit.get("utm_source") or "",
                "campaign": visit.get("utm_campaign") or "",
                "referrer": visit.get("referrer_domain") or "",
                "user_agent": visit.get("user_agent") or "",
            }
        )
    row["timeline"] = sorted(timeline, key=lambda v: v["at"])
    return row


def page_stats(rt: Runtime, *, now: datetime, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Per tracked page in [since, until) (default: the last 7 days): hits, visitors (distinct per day,
    summed), last hour, top referrers and sources."""
    from arkops.core.leads import daily

    start = since or now - timedelta(days=7)
    end = until or now + timedelta(seconds=1)
    pages = daily.page_order(rt)  # sorted by path, as the aggregates number them
    tz = rt.config.tz
    hour_ago = int((now - timedelta(hours=1)).timestamp())
    hits: Counter[str] = Counter()
    last_hour: Counter[str] = Counter()
    daily_visitors: dict[str, set[tuple[str, int]]] = {p.path: set() for p in pages}
    referrers: dict[str, Counter[str]] = {p.path: Counter() for p in pages}
    sources: dict[str, Counter[str]] = {p.path: Counter() for p in pages}
    masks = [daily.only(number) for number in range(len(pages))]
    for rows, lo, hi in daily.days(rt, start, end):
        recent = max(bisect_left(rows.ats, hour_ago, lo, hi), lo)
        for a, b, local_day in _local_days(rows.ats, lo, hi, tz):
            on_pages = rows.pages[a:b]
            for number, page in enumerate(pages):
                mask = on_pages.translate(masks[number])
                if not mask.count(1):
                    continue
                hits[page.path] += mask.count(1)
                daily_visitors[page.path].update(zip(repeat(local_day), compress(rows.visitors[a:b], mask)))
                for column, into in ((rows.referrers, referrers), (rows.sources, sources)):
                    for index, count in Counter(compress(column[a:b], mask)).items():
                        if index:
                            into[page.path][rows.strings[index] or ""] += count
        for number, page in enumerate(pages):
            last_hour[page.path] += rows.pages.count(number, recent, hi)
    return {
        "since": iso(start),
        "until": iso(until or now),
        "pages": [
            {
                "path": p.path,
                "label": p.label,
                "hits": hits[p.path],
                "visitors": len(daily_visitors[p.path]),
                "last_hour": last_hour[p.path],
                "referrers": [{"domain": d, "hits": n} for d, n in _top(referrers[p.path])],
                "sources": [{"source": s, "hits": n} for s, n in _top(sources[p.path])],
            }
            for p in pages
        ],
    }


def _local_days(ats: array, lo: int, hi: int, tz: tzinfo) -> Iterator[tuple[int, int, str]]:
    """The rows `[lo, hi)` of one UTC day (in time order) cut at the local midnights: (from, to, local day)."""
    while lo < hi:
        day = datetime.fromtimestamp(ats[lo], tz).date()
        midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
        cut = bisect_left(ats, int(midnight.timestamp()), lo, hi)
        yield lo, cut, day.isoformat()
        lo = cut


def _top(counter: Counter[str], limit: int = 5) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]
