"""`leads scan`, every 15 minutes: ingest, find new hot leads and demo requests, queue ONE digest.

Each lead alerted is recorded in the `leads` database (table `alerts`, by
lead key) in the same transaction that queues the digest, so a scan run
twice, or two at once, alerts once. A lead is alerted again only after
`realert_hours` and only if its score grew since; at most
`max_alerts_per_hour` digests go out an hour, and leads found when the cap
is reached wait for the next scan. A hot lead whose last visit is older
than `realert_hours` when first seen (history ingested for the first time)
is recorded without an alert, and so is a demo request that old.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arkops.clock import iso, local_time, parse_iso
from arkops.core.leads import LEADS_DB
from arkops.core.leads.ingest import IngestReport, ingest
from arkops.core.leads.scoring import Lead, collect, horizon
from arkops.core.notify import batched, notify
from arkops.runtime import Runtime
from arkops.store import Db

ALERTS = "alerts"
META = "meta"
DIGESTS = "digests"
HISTORY_SHOWN = 8


@dataclass
class ScanReport:
    ingested: IngestReport | None = None
    hot: int = 0
    alerted: list[str] = field(default_factory=list)
    quiet: int = 0
    waiting: int = 0
    digest: bool = False

    def counts(self) -> dict[str, int]:
        counts = self.ingested.counts() if self.ingested else {}
        return {
            **counts,
            "hot": self.hot,
            "alerted": len(self.alerted),
            "not_alerted": self.quiet,
            "waiting": self.waiting,
        }

    def summary(self) -> str:
        parts = [f"ingest: {self.ingested.summary()}"] if self.ingested else []
        line = (
            f"{self.hot} hot lead(s), {len(self.alerted)} in a new digest"
            if self.digest
            else f"{self.hot} hot lead(s), nothing new"
        )
        parts.append(line)
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
    days = sorted({v["at"][:10] for v in lead.visits})
    return {
        "visitor": who,
        "score": round(lead.score, 1),
        "pages": sorted({v["label"] for v in lead.visits}),
        "page": last["label"],
        "time": _local(rt, last["at"]),
        "source": lead.source(),
        "referrer": last.get("referrer") or "direct",
        "user_agent": last.get("user_agent") or "",
        "visits": len(lead.visits),
        "days": len(days),
        "history": [f"{_local(rt, v['at'])} {v['label']}" for v in lead.visits[-HISTORY_SHOWN:]],
    }


def _describe_request(rt: Runtime, request: dict) -> dict[str, Any]:
    who = request["email"] + (f" ({request['name']}, {request['company']})" if request.get("company") else "")
    return {
        "visitor": who,
        "score": 0,
        "pages": [request["kind"].replace("_", " ")],
        "page": request["kind"].replace("_", " "),
        "time": _local(rt, request["created_at"]),
        "source": request.get("source") or "direct",
        "referrer": "",
        "user_agent": "",
        "visits": 0,
        "days": 0,
        "history": [],
    }


News = list[tuple[str, dict, dict[str, Any]]]  # (alert key, alert record, digest entry), one per lead to alert


def scan(rt: Runtime, *, now: datetime) -> ScanReport:
    """Ingest the configured sources, then queue one digest of what is newly hot (see the module)."""
    from arkops.core.leads.imports import imported

    report = ScanReport()
    if rt.config["leads"]["sources"]:
        report.ingested = ingest(rt, None, now=now)
    config = rt.config["leads"]
    realert = timedelta(hours=config["realert_hours"])
    leads = [lead for lead in collect(rt, since=horizon(rt, now), now=now).values() if lead.hot(config["hot_score"])]
    report.hot = len(leads)
    with rt.store.transaction(LEADS_DB) as db:
        sent = [t for t in (db.get(META, DIGESTS) or {}).get("at", []) if now - parse_iso(t) < timedelta(hours=1)]
        news = _hot_news(rt, db, leads, now, realert, report) + _request_news(
            rt, db, imported(rt), now, realert, report
        )
        if not news:
            return report
        if len(sent) >= config["max_alerts_per_hour"]:
            report.waiting = len(news)
            return report
        _queue_digest(rt, db, news, sent, now, report)
    return report


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
    seen = {"page": lead.last["label"]}
    for name in ("utm_source", "utm_campaign"):
        value = next((v[name] for v in lead.visits if v.get(name)), None)
        if value:
            seen[name] = value
    return seen


def _request_news(
    rt: Runtime, db: Db, requests: list[dict], now: datetime, realert: timedelta, report: ScanReport
) -> News:
    """Imported demo requests not alerted yet; one older than the re-alert window is recorded, not alerted."""
    news: News = []
    for request in requests:
        key = "import:" + request["key"]
        if db.get(ALERTS, key) is not None:
            continue
        record = {"score": 0, "at": iso(now), "last_visit": request["created_at"], "page": request["kind"]}
        if now - parse_iso(request["created_at"]) > realert:
            db.put(ALERTS, key, {**record, "alerted": False})
            report.quiet += 1
        else:
            news.append((key, {**record, "alerted": True}, _describe_request(rt, request)))
    return news


def _queue_digest(rt: Runtime, db: Db, news: News, sent: list[str], now: datetime, report: ScanReport) -> None:
    """One digest of `news`, highest score first, keyed by what it names (queued once); each lead recorded."""
    news.sort(key=lambda item: (-item[2]["score"], item[0]))
    names = "\n".join(f"{key}:{record['last_visit']}" for key, record, _ in news)
    digest_key = "leads:digest:" + hashlib.sha256(names.encode()).hexdigest()[:16]
    with batched(rt):
        notify(
            rt,
            "hot_leads",
            {"window": _window(now, news), "leads": [e for _, _, e in news]},
            key=digest_key,
            now=now,
        )
    for key, record, _ in news:
        db.put(ALERTS, key, record)
        report.alerted.append(key)
    db.put(META, DIGESTS, {"at": [*sent, iso(now)]})
    report.digest = True


def _window(now: datetime, news: News) -> str:
    oldest = min(parse_iso(record["last_visit"]) for _, record, _ in news)
    minutes = max(int((now - oldest).total_seconds() // 60), 1)
    return f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"


def scan_now(rt: Runtime, *, now: datetime) -> ScanReport:
    """`arkops leads scan`: the job, under its lock (a scheduled run in progress: exit 75)."""
    with rt.store.job_lock("leads-scan"):
        return scan(rt, now=now)
