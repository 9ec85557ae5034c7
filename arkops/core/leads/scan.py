"""`leads scan`, every 15 minutes: ingest, then queue a digest of new leads and one of new hot leads.

New leads are trial signups (the trials domain) and demo requests (`leads
import`, and `[leads] demo_request_files` followed here): each is named
once in a `new_leads` digest, with its plan, source, and the tracked pages
its visitor saw first. Hot leads are visitors who opened a hot page or whose
score reached `hot_score` (`scoring`): a `hot_leads` digest names each new
one, and one alerted before again only after `realert_hours` and only if its
score grew since. Each lead alerted is recorded in the `leads` database
(table `alerts`, by lead key) in the same transaction that queues its
digest, so a scan run twice, or two at once, alerts once. At most
`max_alerts_per_hour` digests go out an hour, both kinds together (new leads
first); leads found when the cap is reached wait for the next scan. A
digest names at most `digest_max` leads, the hottest (or earliest) first,
and counts the rest. A hot lead whose last visit is older than
`realert_hours` when first seen (history ingested for the first time) is
recorded without an alert; a signup or demo request that old is never news.

A scan with nothing new reads no lead (the 15-minute cron run on a quiet
site): each scan records, with its alerts, what it saw (the kept state's
header, the settings the alerts depend on), how many leads were hot, the new
leads it named, and until when that stays true with no new visit. Until
then, a lead's score only decays and no lead can become news, unless it
crosses below `hot_score` (the earliest such moment ends it), an alerted
lead's re-alert window ends with a score above the one alerted (idem), or
leads were left waiting for the hourly cap (then there is no such moment).
A scan that finds the state, the links, the settings and the candidates
for a new-leads digest unchanged before that moment reports the recorded
count and reads nothing else.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from arkops.clock import iso, local_time, parse_iso
from arkops.core.leads import LEADS_DB
from arkops.core.leads.imports import ImportReport
from arkops.core.leads.ingest import IngestReport, ingest
from arkops.core.leads.scoring import Glance, Lead, kept_leads
from arkops.core.leads.state import Refreshed, refresh, state_header
from arkops.core.notify import batched, notify
from arkops.core.watch import WatchReport
from arkops.runtime import Runtime
from arkops.store import Db

ALERTS = "alerts"
META = "meta"
DIGESTS = "digests"
SEEN = "scan"  # in META: what the last scan saw, and until when a scan with nothing new need not read a lead
SEEN_FOR = timedelta(days=7)  # the longest a scan's record stands without any change
HISTORY_SHOWN = 8
FIRST_PAGES = 5  # the tracked pages a new lead's visitor saw first, as the digest shows them


@dataclass
class ScanReport:
    ingested: IngestReport | None = None
    requests: ImportReport | None = None  # from `[leads] demo_request_files`
    watched: WatchReport | None = None
    hot: int = 0
    alerted: list[str] = field(default_factory=list)  # hot leads in a new digest
    new_leads: list[str] = field(default_factory=list)  # signups and demo requests in a new digest
    quiet: int = 0
    waiting: int = 0
    digest: bool = False
    leads_read: int = 0  # leads whose whole records were read
    unchanged: bool = False  # nothing that could make news changed since the last scan: no lead was read

    def counts(self) -> dict[str, int]:
        counts = self.ingested.counts() if self.ingested else {}
        if self.requests is not None:
            counts |= {"demo_requests": self.requests.added, "skipped_records": len(self.requests.skipped)}
        return {
            **counts,
            "hot": self.hot,
            "alerted": len(self.alerted),
            "new_leads": len(self.new_leads),
            "not_alerted": self.quiet,
            "waiting": self.waiting,
            "leads_read": self.leads_read,
        }

    def summary(self) -> str:
        parts = [f"ingest: {self.ingested.summary()}"] if self.ingested else []
        if self.requests is not None and self.watched is not None and (self.watched.files or self.watched.waiting):
            found = self.requests
            parts.append(
                f"{self.watched.summary()}: {found.added} demo request(s) added, {found.duplicates} already "
                f"present, {len(found.skipped)} skipped" + "".join(f" ({why})" for why in found.skipped[:3])
            )
        line = (
            f"{self.hot} hot lead(s), {len(self.alerted)} in a new digest"
            if self.alerted
            else f"{self.hot} hot lead(s), nothing new" + (" (unchanged since the last scan)" if self.unchanged else "")
        )
        parts.append(line)
        if self.new_leads:
            parts.append(f"{len(self.new_leads)} new lead(s) (signups, demo requests) in a new digest")
        if self.quiet:
            parts.append(f"{self.quiet} older than the re-alert window recorded, not alerted")
        if self.waiting:
            parts.append(f"{self.waiting} waiting: the hourly digest cap is reached")
        return "; ".join(parts)


def _local(rt: Runtime, moment: str) -> str:
    return local_time(parse_iso(moment), rt.config.tz)


def _describe(rt: Runtime, lead: Lead) -> dict[str, Any]:
    last = lead.last
    who = lead.email or f"{last.get('ip') or 'unknown address'} ({lead.key})"
    return {
        "visitor": who,
        "score": round(lead.score, 1),
        "hot_page": lead.hot_visit["label"] if lead.hot_visit else "",  # "": hot by its score
        "pages": sorted(lead.pages),
        "page": last.get("label", ""),
        "time": _local(rt, last["at"]),
        "source": lead.source(),
        "referrer": last.get("referrer") or "direct",
        "user_agent": last.get("user_agent") or "",
        "visits": lead.count,
        "days": len(lead.days),
        "history": [f"{_local(rt, at)} {label}" for at, label in lead.history[-HISTORY_SHOWN:]],
    }


def _first_pages(rt: Runtime, lead: Lead | None) -> tuple[list[str], str]:
    """The tracked pages a lead's visitor saw first (each once, in order) and when, or nothing unknown."""
    if lead is None:
        return [], ""
    return lead.pages[:FIRST_PAGES], _local(rt, lead.first_at)


def _describe_signup(rt: Runtime, signup: dict, lead: Lead | None) -> dict[str, Any]:
    pages, first_seen = _first_pages(rt, lead)
    return {
        "who": signup["email"],
        "kind": "trial",
        "plan": signup["plan"],
        "source": signup["utm_source"] or signup["source"] or (lead.source() if lead else "direct"),
        "campaign": signup["utm_campaign"] or "",
        "time": _local(rt, signup["signed_up_at"]),
        "pages": pages,
        "first_seen": first_seen,
        "show": f"arkops leads show {signup['email']}",
    }


def _describe_request(rt: Runtime, request: dict, lead: Lead | None) -> dict[str, Any]:
    pages, first_seen = _first_pages(rt, lead)
    who = request["email"] + (f" ({request['name']}, {request['company']})" if request.get("company") else "")
    return {
        "who": who,
        "kind": request["kind"].replace("_", " "),
        "plan": "",
        "source": request.get("source") or (lead.source() if lead else "direct"),
        "campaign": "",
        "time": _local(rt, request["created_at"]),
        "pages": pages,
        "first_seen": first_seen,
        "show": f"arkops leads show {request['email']}",
    }


News = list[tuple[str, dict, dict[str, Any]]]  # (alert key, alert record, digest entry), one per lead to alert


def scan(rt: Runtime, *, now: datetime) -> ScanReport:
    """Ingest the configured sources, then queue the digests of what is new (see the module)."""
    from arkops.core.leads.imports import follow_files, imported
    from arkops.core.trials.queries import recent_signups

    report = ScanReport()
    config = rt.config["leads"]
    if config["sources"]:
        report.ingested = ingest(rt, None, now=now)
    if config["demo_request_files"]:
        report.requests, report.watched = follow_files(rt, now=now)
    realert = timedelta(hours=config["realert_hours"])
    signups = recent_signups(rt, since=now - realert)
    requests = imported(rt)
    candidates = {"trial:" + s["email"] for s in signups}
    candidates |= {"import:" + r["key"] for r in requests if now - parse_iso(r["created_at"]) <= realert}
    touched = refresh(rt)
    basis = _basis(rt, config)
    seen = None if touched.visitors or touched.rebuilt else last_seen(rt)
    if seen is not None and _still(seen, basis, iso(now) or "", _digest(candidates)):
        report.hot, report.unchanged = seen["hot"], True  # nothing changed that could make news: no lead read
        return report
    wanted = {s["email"] for s in signups} | {r["email"] for r in requests}
    leads, collected, until = _possible_news(rt, report, touched, wanted, now=now)
    with rt.store.transaction(LEADS_DB) as db, batched(rt):
        digests = (
            ("new_leads", _new_leads(rt, db, signups, requests, collected, now, realert), report.new_leads),
            ("hot_leads", _hot_news(rt, db, leads, now, realert, report), report.alerted),
        )
        _queue_digests(rt, db, digests, report, now)
        until.extend(_realert_due(db, leads, now, realert, config["half_life_days"] * 86_400))
        seen = {
            "basis": basis,
            "hot": report.hot,
            "until": iso(now if report.waiting else min(until)),  # leads waiting: the next scan reads them
            "named": _digest({key for key in candidates if db.get(ALERTS, key) is not None}),
        }
        db.put(META, SEEN, seen)
    rt.memo.pop("leads:imports", None)  # made again from the database just written, as the next readers want it:
    imported(rt)  # the next scan (and a reader) reads these, not the leads database
    last_seen(rt)
    return report


def _possible_news(
    rt: Runtime, report: ScanReport, touched: Refreshed, wanted: set[str], *, now: datetime
) -> tuple[list[Lead], dict[str | None, Lead], list[datetime]]:
    """The hot leads that can be news and the leads the new leads name, read whole; the hot leads counted; and
    the moments a lead hot by its score alone stops being hot (`SEEN`)."""
    config = rt.config["leads"]
    threshold, half_life = config["hot_score"], config["half_life_days"] * 86_400
    recent = iso(now - timedelta(hours=config["realert_hours"])) or ""
    until = [now + SEEN_FOR]
    leads: list[Lead] = []
    collected: dict[str | None, Lead] = {}

    def news_possible(glance: Glance) -> bool:
        """A hot lead can be news only with a visit in the re-alert window, or one this scan brought (history
        recorded quietly); the leads the new leads name are read too. The others are only counted."""
        if not glance.hot(threshold):
            return glance.email in wanted
        report.hot += 1
        if not glance.hot_page:  # hot by its score: no longer hot once it decays below the threshold
            until.append(now + timedelta(seconds=half_life * math.log2(glance.score / threshold)))
        return (
            glance.last >= recent
            or touched.rebuilt
            or any(v in touched.updated for v in glance.visitors)
            or glance.email in wanted
        )

    for lead in kept_leads(rt, now=now, wanted=news_possible, hot=True):  # only those leads' records are read
        report.leads_read += 1
        if lead.hot(threshold):
            leads.append(lead)
        if lead.email in wanted:
            collected[lead.email] = lead
    return leads, collected, until


def _queue_digests(
    rt: Runtime, db: Db, digests: tuple[tuple[str, News, list[str]], ...], report: ScanReport, now: datetime
) -> None:
    """Queue each digest with news (new leads first) within the hourly cap; the rest wait for the next scan."""
    config = rt.config["leads"]
    sent = [t for t in (db.get(META, DIGESTS) or {}).get("at", []) if now - parse_iso(t) < timedelta(hours=1)]
    for template, news, named in digests:
        if not news:
            continue
        if len(sent) >= config["max_alerts_per_hour"]:
            report.waiting += len(news)
            continue
        _queue_digest(rt, db, template, news, now, config["digest_max"])
        named.extend(key for key, _, _ in news)
        sent.append(iso(now) or "")
        db.put(META, DIGESTS, {"at": sent})
        report.digest = True


def _basis(rt: Runtime, config: dict) -> str:
    """What a scan's record of what it saw rests on: the kept state's header (how far each day file was
    applied, the links, the scoring settings) and the settings alerts depend on."""
    text = orjson.dumps([state_header(rt).hex(), config["hot_score"], config["realert_hours"]])
    return hashlib.sha256(text).hexdigest()[:16]


def _still(seen: Any, basis: str, now: str, named: str) -> bool:
    """Whether the last scan's record (`SEEN`) still holds: the same basis and new leads, before its end (a record
    not of this shape, written by hand or by another version, does not)."""
    return (
        isinstance(seen, dict)
        and seen.get("basis") == basis
        and isinstance(seen.get("until"), str)
        and now < seen["until"]
        and seen.get("named") == named
        and isinstance(seen.get("hot"), int)
    )


def _digest(keys: set[str]) -> str:
    """The new leads a scan named, as a digest: it says whether the candidates are the same, and names nobody."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


def last_seen(rt: Runtime) -> dict | None:
    """The last scan's record of what it saw (`SEEN`), kept beside the leads database so that a scan with
    nothing new does not parse it (it holds every alert ever recorded)."""
    return rt.store.derived("leads-scan-seen", LEADS_DB, lambda db: db.get(META, SEEN))


def _realert_due(db: Db, leads: list[Lead], now: datetime, realert: timedelta, half_life: float) -> list[datetime]:
    """When alerted leads may be alerted again with no new visit: at their window's end, if their score, decaying
    until then, still exceeds the one alerted."""
    due = []
    for lead in leads:
        alert = db.get(ALERTS, lead.key) or next(
            (a for v in sorted(lead.visitors) if (a := db.get(ALERTS, v)) is not None), None
        )
        if alert is None:
            continue
        moment = max(parse_iso(alert["at"]) + realert, now)
        if lead.score * 0.5 ** ((moment - now).total_seconds() / half_life) > alert["score"] + 1e-6:
            due.append(moment)
    return due


def _hot_news(rt: Runtime, db: Db, leads: list[Lead], now: datetime, realert: timedelta, report: ScanReport) -> News:
    """Hot leads never alerted, or alerted before the re-alert window and scoring higher since; one first seen
    with a last visit older than the window is recorded, not alerted."""
    news: News = []
    stamp = iso(now)
    for lead in leads:
        alert = db.get(ALERTS, lead.key) or next(
            (a for v in sorted(lead.visitors) if (a := db.get(ALERTS, v)) is not None), None
        )
        record = {"score": round(lead.score, 4), "at": stamp, "last_visit": lead.last["at"], **_seen(lead)}
        if alert is None and now - parse_iso(lead.last["at"]) > realert:
            db.put(ALERTS, lead.key, {**record, "alerted": False})
            report.quiet += 1
        elif alert is None or (now - parse_iso(alert["at"]) >= realert and lead.score > alert["score"] + 1e-6):
            news.append((lead.key, {**record, "alerted": True}, _describe(rt, lead)))
    return news


def _seen(lead: Lead) -> dict[str, str]:
    """What the CRM push (`arkops.core.crm`) tells of a digest entry: the last page, the first UTM source and
    campaign the lead came with."""
    seen = {"page": lead.last.get("label", "")}
    for name, value in (("utm_source", lead.first_utm_source), ("utm_campaign", lead.first_campaign)):
        if value:
            seen[name] = value
    return seen


def _new_leads(
    rt: Runtime,
    db: Db,
    signups: list[dict],
    requests: list[dict],
    collected: dict[str | None, Lead],
    now: datetime,
    realert: timedelta,
) -> News:
    """Trial signups and demo requests not named yet, from the last `realert_hours` (older ones are history)."""
    news: News = []
    for signup in signups:
        key = "trial:" + signup["email"]
        if db.get(ALERTS, key) is None:
            record = {"score": 0, "at": iso(now), "last_visit": signup["signed_up_at"], "alerted": True}
            news.append((key, record, _describe_signup(rt, signup, collected.get(signup["email"]))))
    for request in requests:
        key = "import:" + request["key"]  # the key the hot-lead digest used for demo requests: none named twice
        if db.get(ALERTS, key) is None and now - parse_iso(request["created_at"]) <= realert:
            record = {"score": 0, "at": iso(now), "last_visit": request["created_at"], "alerted": True}
            record["page"] = request["kind"]  # what the CRM push (`arkops.core.crm`) tells of the request
            news.append((key, record, _describe_request(rt, request, collected.get(request["email"]))))
    return news


def _queue_digest(rt: Runtime, db: Db, template: str, news: News, now: datetime, most: int) -> None:
    """One digest of `news` (hot leads highest score first, new leads earliest first), keyed by what it names
    (queued once), naming at most `most` of them; each lead recorded."""
    if template == "hot_leads":
        news.sort(key=lambda item: (-item[2]["score"], item[0]))
    else:
        news.sort(key=lambda item: (item[1]["last_visit"], item[0]))
    names = "\n".join(f"{key}:{record['last_visit']}" for key, record, _ in news)
    prefix = "leads:digest:" if template == "hot_leads" else "leads:new:"
    digest_key = prefix + hashlib.sha256(names.encode()).hexdigest()[:16]
    variables = {
        "window": _window(now, news),
        "leads": [e for _, _, e in news[:most]],
        "more": max(len(news) - most, 0),
    }
    notify(rt, template, variables, key=digest_key, now=now)
    for key, record, _ in news:
        db.put(ALERTS, key, record)


def _window(now: datetime, news: News) -> str:
    oldest = min(parse_iso(record["last_visit"]) for _, record, _ in news)
    minutes = max(int((now - oldest).total_seconds() // 60), 1)
    return f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"


def scan_now(rt: Runtime, *, now: datetime) -> ScanReport:
    """`arkops leads scan`: the job, under its lock (a scheduled run in progress: exit 75)."""
    with rt.store.job_lock("leads-scan"):
        return scan(rt, now=now)
