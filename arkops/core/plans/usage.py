"""Usage against the plans' limits: records, the app's export, the hourly quota check, the reports.

A value belongs to one customer, one metric and one billing period: the subscription's current
period when the ledger knows it, else the calendar month in the configured time zone. It is stored
under `<email>|<metric>|<period start>`, so a new period starts from nothing and its quotas are
emailed again. The check queues `quota_80` at 80 % and `quota_100` at 100 % once per customer,
metric, period and threshold (a customer who jumps past 100 % gets `quota_100` only), and one
`quota_reached` digest to the operator per run that found any customer newly at 100 %.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, TypedDict, cast

from arkops.clock import from_seconds, iso, parse_iso
from arkops.core.plans import USAGE_DB
from arkops.core.plans.catalog import Account, Plan, accounts, free_plan, plans
from arkops.core.privacy import refuse_erased
from arkops.core.watch import WatchReport
from arkops.errors import DataError, ErasedError
from arkops.mail.address import normalize_email
from arkops.runtime import Runtime
from arkops.store.tables import Table
from arkops.text import Skipped

THRESHOLDS = (80, 100)
MAX_VALUE = 10**12
BATCH = 2000
DIGEST_ROWS = 50  # the operator's digest lists this many customers, then says how many more


class Usage(TypedDict):
    email: str
    metric: str
    value: int
    period_start: str
    period_end: str
    at: str  # the newest record's time


class QuotaSent(TypedDict):
    email: str
    metric: str
    period_start: str
    threshold: int
    template: str | None  # None: passed over (a customer who went from under 80 % past 100 % hears 100 % only)
    used: int
    limit: int
    at: str


USAGE = Table[Usage]("usage")
QUOTA = Table[QuotaSent]("quota")


def _metric(value: Any) -> str:
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", value):
        raise DataError(f"metric: {value!r} is not a metric name (lowercase letters, digits, - or _)")
    return value


def _value(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        raise DataError(f"value: {value!r} is not a whole number from 0 to 10^12")
    return value


def _moment(value: Any, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_seconds(value, what="timestamp")
    if not isinstance(value, str):
        raise DataError(f"timestamp: {value!r} is not a date")
    return parse_iso(value, what="timestamp")


@dataclass
class Context:
    """What a batch of usage work reads once: the plans, who is on which, the time zone."""

    known: dict[str, Plan]
    on_plan: dict[str, Account]
    free: Plan | None
    tz: Any

    def account(self, email: str) -> Account:
        return self.on_plan.get(email) or Account(email, self.free, "free", None, None)


def context(rt: Runtime) -> Context:
    known = plans(rt)
    return Context(known, accounts(rt, known), free_plan(known), rt.config.tz)


def _key(email: str, metric: str, start: str) -> str:
    return f"{email}|{metric}|{start}"


def _store(db: Any, ctx: Context, email: str, metric: str, value: int, at: datetime, *, add: bool) -> bool:
    start, end = ctx.account(email).period(at, ctx.tz)
    key = _key(email, metric, cast(str, iso(start)))
    current = USAGE.get(db, key)
    stamp = cast(str, iso(at))
    if current is not None and not add and current["at"] > stamp:
        return False  # an older export replayed: the newer value stands
    new_value = min((current["value"] if current and add else 0) + value, MAX_VALUE)
    record: Usage = {
        "email": email,
        "metric": metric,
        "value": new_value,
        "period_start": cast(str, iso(start)),
        "period_end": cast(str, iso(end)),
        "at": max(stamp, current["at"]) if current else stamp,
    }
    if record == current:
        return False
    USAGE.put(db, key, record)
    return True


def record(rt: Runtime, email: str, metric: str, value: int, *, at: datetime | None, add: bool, now: datetime) -> Usage:
    """Set (or with `add`, add to) the customer's value of `metric` in the period holding `at` (default: now)."""
    email, metric, value = normalize_email(email), _metric(metric), _value(value)
    refuse_erased(rt, email)
    moment = at or now
    ctx = context(rt)
    with rt.store.transaction(USAGE_DB) as db:
        _store(db, ctx, email, metric, value, moment, add=add)
        start, _ = ctx.account(email).period(moment, ctx.tz)
        return cast(Usage, USAGE.get(db, _key(email, metric, cast(str, iso(start)))))


@dataclass
class ImportReport:
    recorded: int = 0
    unchanged: int = 0
    skipped: Skipped = field(default_factory=Skipped)
    erased: int = 0  # values of people `privacy forget` erased: not recorded


def read_export(path: Path) -> Iterator[Any]:
    """The app's export, streamed: a JSON list, or JSON Lines (one object a line), gzipped or not; a record
    that cannot be read (not JSON, too long, too deep) comes as the DataError to report, not a reason to refuse
    the file."""
    from arkops.sources.json_files import records

    return (found.value for found in records(path, items="usage records"))


def import_file(rt: Runtime, path: Path, *, now: datetime) -> ImportReport:
    """Each {email, metric, value, timestamp} sets that value in its period; malformed records are skipped.

    The file is read through once before anything is written (a list that breaks off writes nothing), then
    again in batches of `BATCH`, one transaction each."""
    for _ in read_export(path):
        pass
    report = ImportReport()
    ctx = context(rt)
    exported = enumerate(read_export(path))
    while batch := list(islice(exported, BATCH)):
        with rt.store.transaction(USAGE_DB) as db:
            _import_batch(rt, db, ctx, [(f"{path}[{index}]", item) for index, item in batch], report, now)
    return report


def follow_files(rt: Runtime, *, now: datetime) -> tuple[ImportReport, WatchReport]:
    """What the web app added to `[usage] files` since the last run (the `usage-check` job calls it)."""
    from arkops.core.watch import follow_files as follow

    report = ImportReport()
    ctx = context(rt)
    watched = follow(
        rt,
        USAGE_DB,
        rt.config["usage"]["files"],
        lambda db, records: _import_batch(rt, db, ctx, records, report, now),
        now=now,
    )
    return report, watched


def _import_batch(
    rt: Runtime, db: Any, ctx: Context, records: list[tuple[str, Any]], report: ImportReport, now: datetime
) -> None:
    for where, item in records:
        try:
            email, metric, value, moment = _checked(rt, item, now)
        except ErasedError:
            report.erased += 1
            continue
        except DataError as exc:
            report.skipped.append(f"{where}: {exc}")
            continue
        if _store(db, ctx, email, metric, value, moment, add=False):
            report.recorded += 1
        else:
            report.unchanged += 1


def _checked(rt: Runtime, item: Any, now: datetime) -> tuple[str, str, int, datetime]:
    """One record of the app's export, checked: (email, metric, value, moment); DataError says why not."""
    if isinstance(item, DataError):
        raise item
    if not isinstance(item, dict):
        raise DataError("not an object")
    email, metric = normalize_email(item.get("email")), _metric(item.get("metric"))
    value = _value(item.get("value"))
    if "timestamp" in item and item["timestamp"] in (None, ""):  # a broken export, not "now"
        raise DataError(f"timestamp: {item['timestamp']!r} is not a date (leave it out for now)")
    moment = _moment(item.get("timestamp"), now)
    if moment > now:
        raise DataError(f"timestamp: {item.get('timestamp')!r} is in the future")
    refuse_erased(rt, email)
    return email, metric, value, moment


def take(rt: Runtime, records: list[Any], *, now: datetime) -> list[tuple[str, str | None]]:
    """Usage values posted by the web app (`arkops serve`'s /api/events): the checks of `usage import`, one
    transaction, one outcome per record in order ("stored", "duplicate" when the value was already so,
    "ignored", "refused", and why)."""
    ctx = context(rt)
    outcomes: list[tuple[str, str | None]] = []
    with rt.store.transaction(USAGE_DB) as db:
        for item in records:
            try:
                email, metric, value, moment = _checked(rt, item, now)
            except ErasedError:
                outcomes.append(("ignored", "erased by privacy forget: not recorded"))
                continue
            except DataError as exc:
                outcomes.append(("refused", str(exc)))
                continue
            changed = _store(db, ctx, email, metric, value, moment, add=False)
            outcomes.append(("stored", None) if changed else ("duplicate", None))
    return outcomes


def _row(ctx: Context, found: Account, metric: str, usage: Usage | None, start: datetime, end: datetime) -> dict:
    limit = found.plan.limits.get(metric) if found.plan else None
    used = usage["value"] if usage else 0
    return {
        "email": found.email,
        "plan": found.plan.id if found.plan else None,
        "status": found.status,
        "metric": metric,
        "used": used,
        "limit": limit,
        "percent": round(used * 100 / limit, 1) if limit else None,
        "period_start": iso(start),
        "period_end": iso(end),
        "updated_at": usage["at"] if usage else None,
    }


def show(rt: Runtime, email: str, *, now: datetime) -> list[dict]:
    """The customer's usage of each metric (their plan's limits, and any other metric recorded) this period."""
    email = normalize_email(email)
    ctx = context(rt)
    found = ctx.account(email)
    start, end = found.period(now, ctx.tz)
    with rt.store.transaction(USAGE_DB) as db:
        current = {u["metric"]: u for u in USAGE.values(db) if u["email"] == email and u["period_start"] == iso(start)}
    metrics = list(found.plan.limits) if found.plan else []
    metrics += sorted(m for m in current if m not in metrics)
    return [_row(ctx, found, metric, current.get(metric), start, end) for metric in metrics]


def _current_rows(values: list[Usage], ctx: Context, now: datetime) -> list[dict]:
    """This period's usage of every customer on a plan (paying, trialing, or free with usage), each limited metric."""
    by_key = {(u["email"], u["metric"], u["period_start"]): u for u in values}
    rows = []
    for email in sorted({u["email"] for u in values} | set(ctx.on_plan)):
        found = ctx.account(email)
        if found.plan is None or found.status not in ("active", "trialing", "past_due", "free"):
            continue
        start, end = found.period(now, ctx.tz)
        for metric in found.plan.limits:
            usage = by_key.get((email, metric, cast(str, iso(start))))
            rows.append(_row(ctx, found, metric, usage, start, end))
    return rows


@dataclass
class CheckResult:
    checked: int = 0  # customer-metric pairs with a limit
    queued: dict[int, int] = field(default_factory=lambda: {80: 0, 100: 0})
    reached: list[dict] = field(default_factory=list)  # newly at 100 %: the operator's digest
    undeliverable: list[str] = field(default_factory=list)  # quota emails not queued: the address is refused
    imported: ImportReport | None = None  # what `[usage] files` brought (the job only)
    watched: WatchReport | None = None

    def summary(self) -> str:
        text = (
            f"{self.checked} quotas checked, {self.queued[80]} at 80 % and {self.queued[100]} at 100 % emailed, "
            f"operator {'told' if self.reached else 'not told'}"
        )
        if self.undeliverable:
            text += f"; {len(self.undeliverable)} not emailed (" + "; ".join(self.undeliverable[:3]) + ")"
        if self.imported is not None and self.watched is not None and (self.watched.files or self.watched.waiting):
            found = self.imported
            text = (
                f"{self.watched.summary()}: {found.recorded} recorded, {found.unchanged} unchanged, "
                f"{len(found.skipped)} skipped" + "".join(f" ({why})" for why in found.skipped[:3]) + "; " + text
            )
        return text

    def counts(self) -> dict[str, int]:
        counts = {"checked": self.checked, "quota_80": self.queued[80], "quota_100": self.queued[100]}
        if self.imported is not None:
            counts |= {"recorded": self.imported.recorded, "skipped_records": len(self.imported.skipped)}
        return counts


def _refused(email: str, *, allow_local_domains: bool) -> str | None:
    """Why a customer address gets no quota email (not a real top-level domain, a likely typo), or None."""
    from arkops.errors import ConfigError, DataError
    from arkops.mail.address import normalize_customer_address

    try:
        normalize_customer_address(email, field="customer email", allow_local_domains=allow_local_domains)
    except ConfigError:
        raise
    except DataError as exc:
        return str(exc)
    return None


def upgrade_url(rt: Runtime) -> str:
    from arkops.core.notify import queue_sender

    return rt.config["usage"]["upgrade_url"] or rt.config["trials"]["upgrade_url"] or "mailto:" + queue_sender()


def metric_label(rt: Runtime, metric: str) -> str:
    """What customers call a metric: `[usage.labels]`, else its name with spaces ("api_calls": "api calls")."""
    return rt.config["usage"]["labels"].get(metric) or metric.replace("_", " ")


def next_plan(known: dict[str, Plan], current: Plan) -> dict[str, Any]:
    """The quota emails' offer: the cheapest plan above `current` on the same billing interval, with its price;
    none (`next_plan` empty) on the top plan, whose emails point to support instead."""
    above = [p for p in known.values() if p.interval == current.interval and p.price > current.price]
    if not above:
        return {"next_plan": ""}
    offer = min(above, key=lambda p: (p.price, p.id))
    return {"next_plan": offer.name, "next_price": offer.price, "currency": offer.currency, "interval": offer.interval}


def check(rt: Runtime, *, now: datetime) -> CheckResult:
    """Queue each quota email that is due, once per customer, metric, period and threshold (job: hourly).

    One usage transaction for the run, the emails stored with it (`batched`): two runs at once take
    turns, and the second finds every threshold already recorded.
    """
    from arkops.core.notify import batched, notify

    result = CheckResult()
    ctx = context(rt)
    link = upgrade_url(rt)
    local = rt.config["mail"]["allow_local_domains"]
    with rt.store.transaction(USAGE_DB) as db, batched(rt):
        for row in _current_rows(USAGE.values(db), ctx, now):
            if not row["limit"]:
                continue  # a limit of 0, or no limit: nothing to warn about
            result.checked += 1
            due = [t for t in THRESHOLDS if row["used"] * 100 >= t * row["limit"]]
            if not due:
                continue
            top = due[-1]
            for threshold in due:
                key = f"quota:{row['email']}:{row['metric']}:{row['period_start']}:{threshold}"
                if QUOTA.get(db, key) is not None:
                    continue
                template = f"quota_{threshold}" if threshold == top else None
                refused = _refused(row["email"], allow_local_domains=local) if template else None
                if refused:  # recorded all the same: one bad address neither stops the run nor comes back hourly
                    result.undeliverable.append(f"{template} to {row['email']!r}: {refused}")
                    if threshold == 100:
                        result.reached.append(row)  # the operator still hears of it
                    template = None
                if template:
                    variables = {
                        "metric": metric_label(rt, row["metric"]),
                        "used": row["used"],
                        "limit": row["limit"],
                        "upgrade_url": link,
                        "plan": ctx.known[row["plan"]].name,
                        **next_plan(ctx.known, ctx.known[row["plan"]]),
                    }
                    notify(rt, template, variables, key=key, now=now, to=row["email"])
                    result.queued[threshold] += 1
                    if threshold == 100:
                        result.reached.append(row)
                QUOTA.put(
                    db,
                    key,
                    {
                        "email": row["email"],
                        "metric": row["metric"],
                        "period_start": row["period_start"],
                        "threshold": threshold,
                        "template": template,
                        "used": row["used"],
                        "limit": row["limit"],
                        "at": cast(str, iso(now)),
                    },
                )
        if result.reached:
            reached = [
                {
                    "customer": r["email"],
                    "plan": r["plan"],
                    "metric": r["metric"],
                    "used": r["used"],
                    "limit": r["limit"],
                }
                for r in result.reached
            ]
            first = reached[0]
            digest = hashlib.sha256(
                json.dumps(
                    [(r["customer"], r["metric"]) for r in reached] + [result.reached[0]["period_start"]]
                ).encode()
            ).hexdigest()[:16]
            variables = {**first, "reached": reached[:DIGEST_ROWS], "more": max(len(reached) - DIGEST_ROWS, 0)}
            notify(rt, "quota_reached", variables, key=f"quota_reached:{digest}", now=now)
    return result


def check_job(rt: Runtime, *, now: datetime) -> CheckResult:
    """The `usage-check` job: the app's usage files first (`[usage] files`), then the quota check."""
    imported = watched = None
    if rt.config["usage"]["files"]:
        imported, watched = follow_files(rt, now=now)
    result = check(rt, now=now)
    result.imported, result.watched = imported, watched
    return result


def current_usage(rt: Runtime, *, now: datetime) -> list[dict]:
    """This period's use of each limited metric by every customer on a plan (the rows `report` counts)."""
    ctx = context(rt)
    with rt.store.transaction(USAGE_DB) as db:
        return _current_rows(USAGE.values(db), ctx, now)


def report(rt: Runtime, *, now: datetime) -> list[dict]:
    """Per plan and limited metric: customers, total and average use, how many above 80 % and 100 %."""
    ctx = context(rt)
    with rt.store.transaction(USAGE_DB) as db:
        rows = _current_rows(USAGE.values(db), ctx, now)
    out = []
    for plan in ctx.known.values():
        for metric, limit in plan.limits.items():
            mine = [r for r in rows if r["plan"] == plan.id and r["metric"] == metric]
            total = sum(r["used"] for r in mine)
            out.append(
                {
                    "plan": plan.id,
                    "metric": metric,
                    "limit": limit,
                    "customers": len(mine),
                    "total": total,
                    "average": round(total / len(mine), 1) if mine else None,
                    "over_80": sum(1 for r in mine if limit and r["used"] * 100 >= 80 * limit),
                    "over_100": sum(1 for r in mine if limit and r["used"] >= limit),
                }
            )
    return out


def export(rt: Runtime, *, since: datetime | None, until: datetime | None) -> list[dict]:
    """One row per customer, metric and billing period kept, those overlapping [since, until), by customer.

    The limit and plan are the customer's plan now (the ledger keeps no plan history per period); percent
    is of that limit, None without one.
    """
    ctx = context(rt)
    low, high = (iso(since) or "") if since else "", (iso(until) or "~") if until else "~"
    with rt.store.transaction(USAGE_DB) as db:
        values = [u for u in USAGE.values(db) if u["period_start"] < high and u["period_end"] > low]
    values.sort(key=lambda u: (u["email"], u["metric"], u["period_start"]))
    rows = []
    for usage in values:
        found = ctx.account(usage["email"])
        limit = found.plan.limits.get(usage["metric"]) if found.plan else None
        rows.append(
            {
                "email": usage["email"],
                "plan": found.plan.id if found.plan else None,
                "metric": usage["metric"],
                "period_start": usage["period_start"],
                "period_end": usage["period_end"],
                "limit": limit,
                "used": usage["value"],
                "percent": round(usage["value"] * 100 / limit, 1) if limit else None,
                "updated_at": usage["at"],
            }
        )
    return rows


KEEP_PERIODS = timedelta(days=400)  # a year of past periods stays for `usage show --at`-style questions and reports


def drop_old_periods(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Retention: usage values and quota records of periods that ended more than 400 days ago are removed.

    The quota records must outlive their period (a replayed old export would otherwise email again), and
    a period that ended over a year ago cannot be emailed about any more: `check` looks at current periods.
    """
    if not rt.store.path(USAGE_DB).exists():
        return {}
    horizon = cast(str, iso(now - KEEP_PERIODS))
    with rt.store.transaction(USAGE_DB) as db:
        old = {
            key: (u["email"], u["metric"], u["period_start"]) for key, u in USAGE.items(db) if u["period_end"] < horizon
        }
        ended = set(old.values())
        old_quota = [key for key, q in QUOTA.items(db) if (q["email"], q["metric"], q["period_start"]) in ended]
        old_usage = list(old)
        if not rt.dry_run:
            for key in old_usage:
                USAGE.delete(db, key)
            for key in old_quota:
                QUOTA.delete(db, key)
    return {"usage values removed": len(old_usage), "quota records removed": len(old_quota)}
