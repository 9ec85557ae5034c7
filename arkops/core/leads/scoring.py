"""Visitors, their scores, and the listings built on them (`leads list`, `show`, `stats`).

A lead is a visitor (whole IP and user agent, `visits.VisitorIds`) or,
once linked, an email: a visit that carried `?email=` (or an email as
`ref`), or an imported demo request with the visitor's IP and user agent,
links every visit of that visitor to the email. The score is the sum of
the visits' page weights, each halved every `half_life_days` since the
visit; a lead is hot when the score reaches `hot_score` or they opened
/trial. Visits older than eight half-lives (each worth less than 1/256 of
its weight) are not read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from arkops.clock import iso, parse_iso
from arkops.core.leads.visits import match_page, read_visits, tracked_pages
from arkops.errors import DataError
from arkops.runtime import Runtime

HALF_LIVES_READ = 8


@dataclass
class Lead:
    key: str  # the email when linked, else the visitor id
    email: str | None
    visitors: set[str] = field(default_factory=set)
    visits: list[dict] = field(default_factory=list)  # oldest first, each with "label" and "weight"
    score: float = 0.0
    hot_visit: dict | None = None  # the first visit to a hot page in the window read

    def hot(self, threshold: float) -> bool:
        return self.hot_visit is not None or self.score >= threshold

    def hot_rule(self, threshold: float) -> str:
        """Which rule makes the lead hot ("" when neither): the hot page (it fires first), or the score."""
        if self.hot_visit is not None:
            return f"hot page {self.hot_visit['label']} at {self.hot_visit['at']}"
        if self.score >= threshold:
            return f"score {self.score:.2f} >= hot_score {threshold:g}"
        return ""

    @property
    def last(self) -> dict:
        return self.visits[-1]

    def source(self) -> str:
        for visit in self.visits:
            if visit.get("utm_source"):
                return visit["utm_source"]
        for visit in self.visits:
            if visit.get("referrer_domain"):
                return visit["referrer_domain"]
        return "direct"


def horizon(rt: Runtime, now: datetime) -> datetime:
    config = rt.config["leads"]
    days = min(config["half_life_days"] * HALF_LIVES_READ, config["retention_days"])
    return now - timedelta(days=days)


def links(rt: Runtime, visits: list[dict]) -> dict[str, str]:
    """visitor id -> email, from visits that carried one and from imported leads with the visitor's address."""
    from arkops.core.leads.imports import linked_visitors

    found = linked_visitors(rt)
    for visit in visits:
        if visit.get("email"):
            found[visit["visitor"]] = visit["email"]
    return found


def collect(rt: Runtime, *, since: datetime, now: datetime, until: datetime | None = None) -> dict[str, Lead]:
    """Every lead with a visit to a tracked page in [since, until) (until: up to `now`), scored at `now`."""
    pages = tracked_pages(rt)
    half_life = rt.config["leads"]["half_life_days"]
    visits = sorted(read_visits(rt, since, until or now + timedelta(seconds=1)), key=lambda v: v["at"])
    linked = links(rt, visits)
    leads: dict[str, Lead] = {}
    stamp_cache: dict[str, datetime] = {}
    for visit in visits:
        page = match_page(pages, visit["path"])
        if page is None:
            continue  # a page no longer tracked
        email = linked.get(visit["visitor"])
        key = email or visit["visitor"]
        lead = leads.get(key) or leads.setdefault(key, Lead(key, email))
        lead.visitors.add(visit["visitor"])
        seen = {**visit, "label": page.label, "weight": page.weight}
        lead.visits.append(seen)
        if page.hot and lead.hot_visit is None:
            lead.hot_visit = seen
        at = stamp_cache.get(visit["at"]) or stamp_cache.setdefault(visit["at"], parse_iso(visit["at"]))
        age_days = max((now - at).total_seconds(), 0) / 86_400
        lead.score += page.weight * 0.5 ** (age_days / half_life)
    return leads


def lead_row(lead: Lead, threshold: float) -> dict:
    last = lead.last
    return {
        "lead": lead.key,
        "email": lead.email,
        "score": round(lead.score, 2),
        "hot": lead.hot(threshold),
        "visits": len(lead.visits),
        "first_visit": lead.visits[0]["at"],
        "last_visit": last["at"],
        "last_page": last["label"],
        "source": lead.source(),
        "referrer": last.get("referrer_domain") or "",
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
    """Leads with visits in [since, until) (default: from the scoring horizon to now), hottest first."""
    threshold = rt.config["leads"]["hot_score"]
    found = collect(rt, since=since or horizon(rt, now), now=now, until=until)
    rows = [lead_row(lead, threshold) for lead in found.values()]
    if min_score is not None:
        rows = [r for r in rows if r["score"] >= min_score]
    if hot:
        rows = [r for r in rows if r["hot"]]
    return sorted(rows, key=lambda r: (-r["score"], r["lead"]))


def show_lead(rt: Runtime, who: str, *, now: datetime) -> dict:
    """One lead (visitor id or email) with its visit timeline over the retention period."""
    since = now - timedelta(days=rt.config["leads"]["retention_days"])
    leads = collect(rt, since=since, now=now)
    wanted = who.strip().lower() if "@" in who else who.strip()
    lead = leads.get(wanted) or next((lead for lead in leads.values() if wanted in lead.visitors), None)
    if lead is None:
        raise DataError(f"no visits from {who!r} in the last {rt.config['leads']['retention_days']} days")
    threshold = rt.config["leads"]["hot_score"]
    row = lead_row(lead, threshold)
    row["hot_rule"] = lead.hot_rule(threshold)
    row["visitors"] = sorted(lead.visitors)
    row["timeline"] = [
        {
            "at": v["at"],
            "page": v["label"],
            "path": v["path"],
            "source": v.get("utm_source") or "",
            "campaign": v.get("utm_campaign") or "",
            "referrer": v.get("referrer_domain") or "",
            "user_agent": v.get("user_agent") or "",
        }
        for v in lead.visits
    ]
    return row


def page_stats(rt: Runtime, *, now: datetime, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Per tracked page in [since, until) (default: the last 7 days): hits, visitors (distinct per day,
    summed), last hour, top referrers and sources."""
    start = since or now - timedelta(days=7)
    end = until or now + timedelta(seconds=1)
    pages = sorted(tracked_pages(rt), key=lambda p: p.path)
    tz = rt.config.tz
    hour_ago = iso(now - timedelta(hours=1)) or ""
    hits: Counter[str] = Counter()
    last_hour: Counter[str] = Counter()
    daily: dict[str, set[tuple[str, str]]] = {p.path: set() for p in pages}
    referrers: dict[str, Counter[str]] = {p.path: Counter() for p in pages}
    sources: dict[str, Counter[str]] = {p.path: Counter() for p in pages}
    for visit in read_visits(rt, start, end):
        page = match_page(pages, visit["path"])
        if page is None:
            continue
        hits[page.path] += 1
        if visit["at"] >= hour_ago:
            last_hour[page.path] += 1
        day = parse_iso(visit["at"]).astimezone(tz).date().isoformat()
        daily[page.path].add((day, visit["visitor"]))
        if visit.get("referrer_domain"):
            referrers[page.path][visit["referrer_domain"]] += 1
        if visit.get("utm_source"):
            sources[page.path][visit["utm_source"]] += 1
    return {
        "since": iso(start),
        "until": iso(until or now),
        "pages": [
            {
                "path": p.path,
                "label": p.label,
                "hits": hits[p.path],
                "visitors": len(daily[p.path]),
                "last_hour": last_hour[p.path],
                "referrers": [{"domain": d, "hits": n} for d, n in _top(referrers[p.path])],
                "sources": [{"source": s, "hits": n} for s, n in _top(sources[p.path])],
            }
            for p in pages
        ],
    }


def _top(counter: Counter[str], limit: int = 5) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]
