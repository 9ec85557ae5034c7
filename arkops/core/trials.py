"""Trials: signups, activity, activation, conversion (from the billing ledger) and lifecycle emails.

A trial is keyed by its normalised email. Its state is derived, never
stored blindly: `converted` when the ledger shows the email paying, else
`expired` once `trial_ends_at` has passed, else `active` after a first
activity, else `signed_up`. Every alert and lifecycle email goes through
`notify` with a per-trial key, inside the trials transaction, so a job
that runs twice, or two at once, has no double effect.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from arkops.clock import from_unix, iso, parse_iso
from arkops.core.jobs import Job, register_job
from arkops.core.notify import notify
from arkops.errors import DataError
from arkops.mail.address import normalize_address
from arkops.runtime import Runtime
from arkops.store import Db, register_schema

DB = "trials"
register_schema(DB, 1)

STATES = ("signed_up", "active", "converted", "expired")
SIGNUP_FIELDS = {"email", "plan", "source", "created_at", "timestamp", "utm_source", "referrer", "locale"}
ACTIVITY_FIELDS = {"email", "kind", "action", "count", "timestamp", "created_at"}


def normalize_email(email: Any) -> str:
    """One person, one trial: trimmed, lower-cased, validated."""
    if not isinstance(email, str) or not email.strip():
        raise DataError(f"email: {email!r} is not an email address")
    return normalize_address(email.strip().lower(), field="email").lower()


def _check_plan(rt: Runtime, plan: Any) -> str:
    plans = rt.config["plans"]
    if not isinstance(plan, str) or plan not in plans:
        raise DataError(f"plan {plan!r} is not a configured plan ({', '.join(sorted(plans))})")
    return plan


def _at(value: Any, now: datetime, what: str) -> datetime:
    if value is None or value == "":
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_unix(value)  # type: ignore[return-value]
    return parse_iso(str(value), what=what)


def _new_trial(rt: Runtime, email: str, plan: str, source: str | None, at: datetime, extra: dict) -> dict:
    return {
        "email": email,
        "plan": plan,
        "source": source,
        "locale": extra.pop("locale", None),
        "signed_up_at": iso(at),
        "trial_ends_at": iso(at + timedelta(days=rt.config["trials"]["length_days"])),
        "activity": {},
        "activity_total": 0,
        "activated_at": None,
        "activated_kind": None,
        "converted_at": None,
        "state": "signed_up",
        "extra": extra,
    }


def _signup(db: Db, rt: Runtime, record: dict, now: datetime) -> bool:
    email = normalize_email(record.get("email"))
    plan = _check_plan(rt, record.get("plan"))
    at = _at(record.get("created_at", record.get("timestamp")), now, "created_at")
    source = record.get("source") or record.get("utm_source") or record.get("referrer")
    if source is not None and not isinstance(source, str):
        raise DataError(f"source: {source!r} is not text")
    locale = record.get("locale")
    if locale is not None and locale not in ("en", "fr"):
        raise DataError(f"locale: {locale!r} is not en or fr")
    extra = {k: v for k, v in record.items() if k not in SIGNUP_FIELDS}
    if locale:
        extra["locale"] = locale
    return db.insert_new("trials", email, _new_trial(rt, email, plan, source, at, extra))


def _activity(db: Db, record: dict, now: datetime) -> bool:
    email = normalize_email(record.get("email"))
    kind = record.get("kind") or record.get("action")
    if not isinstance(kind, str) or not kind.strip():
        raise DataError("kind: missing (kind or action)")
    count = record.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise DataError(f"count: {count!r} is not a positive whole number")
    at = _at(record.get("timestamp", record.get("created_at")), now, "timestamp")
    trial = db.get("trials", email)
    if trial is None:
        raise DataError(f"no trial for {email}; record the signup first")
    key = hashlib.sha256(json.dumps([email, kind, count, iso(at)]).encode()).hexdigest()[:24]
    extra = {k: v for k, v in record.items() if k not in ACTIVITY_FIELDS}
    if not db.insert_new(
        "activity", key, {"email": email, "kind": kind, "count": count, "at": iso(at), "extra": extra}
    ):
        return False
    trial["activity"][kind] = trial["activity"].get(kind, 0) + count
    trial["activity_total"] += count
    if trial["activated_at"] is None or parse_iso(trial["activated_at"]) > at:
        trial["activated_at"], trial["activated_kind"] = iso(at), kind
    db.put("trials", email, trial)
    return True


def signup(
    rt: Runtime, email: str, plan: str, *, source: str | None, at: str | None, locale: str | None, now: datetime
) -> bool:
    record = {"email": email, "plan": plan, "source": source, "created_at": iso(_at(at, now, "--at")), "locale": locale}
    with rt.store.transaction(DB) as db:  # invalid input raises before any write: nothing is committed
        return _signup(db, rt, {k: v for k, v in record.items() if v is not None}, now)


def activity(rt: Runtime, email: str, kind: str, *, count: int, at: str | None, now: datetime) -> bool:
    record = {"email": email, "kind": kind, "count": count, "timestamp": iso(_at(at, now, "--at"))}
    with rt.store.transaction(DB) as db:
        return _activity(db, {k: v for k, v in record.items() if v is not None}, now)


@dataclass
class ImportReport:
    signups: int = 0
    activities: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)


def import_files(rt: Runtime, paths: list[Path], *, now: datetime) -> ImportReport:
    """The web app's JSON files: signups and activity lists. Malformed records are skipped and reported."""
    from arkops.sources.json_files import read_json_list

    report = ImportReport()
    batches = [(path, read_json_list(path)) for path in paths]  # every file readable before anything is written
    with rt.store.transaction(DB) as db:
        # signups first, so activity in the same import finds its trial
        ordered = sorted(
            ((path, i, r) for path, records in batches for i, r in enumerate(records)),
            key=lambda item: 0 if isinstance(item[2], dict) and "plan" in item[2] else 1,
        )
        for path, index, record in ordered:
            try:
                if not isinstance(record, dict):
                    raise DataError("not an object")
                if "plan" in record:
                    added = _signup(db, rt, record, now)
                    report.signups += added
                elif "kind" in record or "action" in record:
                    added = _activity(db, record, now)
                    report.activities += added
                else:
                    raise DataError("neither a signup (plan) nor an activity (kind or action)")
                report.duplicates += not added
            except DataError as exc:
                report.skipped.append(f"{path}[{index}]: {exc}")
    return report


def _conversions(rt: Runtime) -> dict[str, int]:
    from arkops.core.billing.ledger import DB as LEDGER
    from arkops.core.billing.ledger import first_payment_by_email

    if not rt.store.path(LEDGER).exists():
        return {}
    with rt.store.transaction(LEDGER) as ledger:
        return first_payment_by_email(ledger)


def _refresh(trial: dict, now: datetime, paid: dict[str, int]) -> dict:
    paid_at = paid.get(trial["email"])
    if paid_at and paid_at <= now.timestamp() and not trial["converted_at"]:
        trial["converted_at"] = iso(from_unix(max(paid_at, int(parse_iso(trial["signed_up_at"]).timestamp()))))
    if trial["converted_at"]:
        trial["state"] = "converted"
    elif now >= parse_iso(trial["trial_ends_at"]):
        trial["state"] = "expired"
    elif trial["activated_at"]:
        trial["state"] = "active"
    else:
        trial["state"] = "signed_up"
    return trial


def days_left(trial: dict, now: datetime, tz) -> int:
    """Calendar days until the trial's last day, in the configured time zone (day 12 of 14 -> 2)."""
    ends = parse_iso(trial["trial_ends_at"]).astimezone(tz).date()
    return max(0, (ends - now.astimezone(tz).date()).days)


@dataclass
class TrackReport:
    activated: list[str] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


def track(rt: Runtime, *, now: datetime) -> TrackReport:
    """Find new activations, conversions and expirations; alert the operator once per trial."""
    paid = _conversions(rt)
    report = TrackReport()
    with rt.store.transaction(DB) as db:
        for email, trial in db.items("trials"):
            before = trial["state"]
            _refresh(trial, now, paid)
            flags = trial.setdefault("alerted", {})
            if trial["activated_at"] and not flags.get("activated"):
                notify(
                    rt,
                    "trial_activated",
                    {
                        "email": email,
                        "plan": trial["plan"],
                        "activity_kind": trial["activated_kind"],
                        "activated_at": _local(rt, trial["activated_at"]),
                    },
                    key=f"trial:{email}:activated",
                    now=now,
                )
                flags["activated"] = iso(now)
                report.activated.append(email)
            if trial["converted_at"] and not flags.get("converted"):
                days = (parse_iso(trial["converted_at"]) - parse_iso(trial["signed_up_at"])).days
                notify(
                    rt,
                    "trial_converted",
                    {
                        "email": email,
                        "plan": trial["plan"],
                        "converted_at": _local(rt, trial["converted_at"]),
                        "days_in_trial": days,
                    },
                    key=f"trial:{email}:converted",
                    now=now,
                )
                flags["converted"] = iso(now)
                report.converted.append(email)
            if trial["state"] == "expired" and before != "expired":
                report.expired.append(email)
            db.put("trials", email, trial)
    return report


def _local(rt: Runtime, moment: str) -> str:
    return parse_iso(moment).astimezone(rt.config.tz).strftime("%Y-%m-%d %H:%M %Z")


STEPS = ("welcome", "day1", "day7", "day12", "day14")


@dataclass
class NudgeReport:
    queued: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _step_message(rt: Runtime, step: str, trial: dict, now: datetime) -> tuple[str, dict] | None:
    """The template and variables for a due step, or None when the step sends nothing for this trial."""
    config = rt.config["trials"]
    plan = (rt.config["plans"].get(trial["plan"]) or {}).get("name") or trial["plan"]
    if step == "welcome":
        ends = parse_iso(trial["trial_ends_at"]).astimezone(rt.config.tz).strftime("%Y-%m-%d")
        return "trial_welcome", {"plan": plan, "trial_days": config["length_days"], "ends_on": ends}
    if step == "day1":
        if trial["activity_total"] == 0:
            return "trial_day1_help", {"plan": plan}
        if trial["activity_total"] > config["demo_activity_threshold"]:
            return "trial_day1_demo", {
                "activity_count": trial["activity_total"],
                "demo_url": config["demo_url"] or "mailto:" + _reply_to(),
            }
        return None
    if step == "day7":
        return "trial_day7", {
            "plan": plan,
            "activity_count": trial["activity_total"],
            "days_left": days_left(trial, now, rt.config.tz),
        }
    if step == "day12":
        return "trial_day12", {
            "plan": plan,
            "days_left": days_left(trial, now, rt.config.tz),
            "upgrade_url": config["upgrade_url"] or "mailto:" + _reply_to(),
        }
    if trial["state"] == "converted":
        return "trial_day14_converted", {"plan": plan}
    return "trial_day14_ended", {"plan": plan}


def _reply_to() -> str:
    from arkops.config import env

    return env("MAIL_FROM", "ops@localhost")


def nudge(rt: Runtime, *, now: datetime) -> NudgeReport:
    """Send each due lifecycle step once per trial; a step late by more than the grace period is skipped."""
    paid = _conversions(rt)
    config = rt.config["trials"]
    schedule = config["schedule"]
    grace = config["grace_days"]
    tz = rt.config.tz
    today = now.astimezone(tz).date()
    report = NudgeReport()
    with rt.store.transaction(DB) as db:
        for email, trial in db.items("trials"):
            _refresh(trial, now, paid)
            db.put("trials", email, trial)
            signup_day = parse_iso(trial["signed_up_at"]).astimezone(tz).date()
            for step in STEPS:
                due: date = signup_day + timedelta(days=schedule[step])
                key = f"{email}:{step}"
                if today < due or db.get("steps", key) is not None:
                    continue
                if trial["state"] == "converted" and step != "day14":
                    continue  # converted trials get no further reminders, only the day-14 thank-you
                if (today - due).days > grace:
                    db.put(
                        "steps",
                        key,
                        {"email": email, "step": step, "state": "skipped", "at": iso(now), "due": due.isoformat()},
                    )
                    report.skipped.append(key)
                    continue
                message = _step_message(rt, step, trial, now)
                if message is None:
                    db.put(
                        "steps",
                        key,
                        {"email": email, "step": step, "state": "not needed", "at": iso(now), "due": due.isoformat()},
                    )
                    continue
                template, variables = message
                notify(
                    rt, template, variables, key=f"trial:{email}:{step}", now=now, to=email, locale=trial.get("locale")
                )
                db.put(
                    "steps",
                    key,
                    {
                        "email": email,
                        "step": step,
                        "state": "queued",
                        "template": template,
                        "at": iso(now),
                        "due": due.isoformat(),
                    },
                )
                report.queued.append(key)
    return report


def _row(trial: dict, now: datetime, tz) -> dict:
    return {
        "email": trial["email"],
        "plan": trial["plan"],
        "source": trial["source"],
        "state": trial["state"],
        "signed_up_at": trial["signed_up_at"],
        "trial_ends_at": trial["trial_ends_at"],
        "activated_at": trial["activated_at"],
        "converted_at": trial["converted_at"],
        "days_left": 0 if trial["state"] in ("converted", "expired") else days_left(trial, now, tz),
        "activity": trial["activity"],
    }


def list_trials(rt: Runtime, *, state: str | None, now: datetime) -> list[dict]:
    if state is not None and state not in STATES:
        raise DataError(f"state {state!r} is not one of {', '.join(STATES)}")
    paid = _conversions(rt)
    with rt.store.transaction(DB) as db:
        trials = [_refresh(t, now, paid) for t in db.values("trials")]
    rows = [_row(t, now, rt.config.tz) for t in trials if state is None or t["state"] == state]
    return sorted(rows, key=lambda r: (r["signed_up_at"], r["email"]))


def show(rt: Runtime, email: str, *, now: datetime) -> dict:
    from arkops.mail.outbox import list_messages

    address = normalize_email(email)
    paid = _conversions(rt)
    with rt.store.transaction(DB) as db:
        trial = db.get("trials", address)
        if trial is None:
            raise DataError(f"no trial for {address}")
        _refresh(trial, now, paid)
        activity = [a for a in db.values("activity") if a["email"] == address]
        steps = [s for s in db.values("steps") if s["email"] == address]
    timeline = [
        {
            "at": trial["signed_up_at"],
            "what": "signup",
            "detail": f"plan {trial['plan']}, source {trial['source'] or '-'}",
        }
    ]
    timeline += [{"at": a["at"], "what": "activity", "detail": f"{a['kind']} x{a['count']}"} for a in activity]
    timeline += [
        {
            "at": s["at"],
            "what": f"step {s['step']}",
            "detail": s["state"] + (f" ({s['template']})" if s.get("template") else ""),
        }
        for s in steps
    ]
    prefix = f"trial:{address}:"
    if rt.store.path("outbox").exists():
        timeline += [
            {"at": m["sent_at"] or m["created_at"], "what": f"email {m['template']}", "detail": m["state"]}
            for m in list_messages(rt.store)
            if m["key"].startswith(prefix) and m["channel"] == "email"
        ]
    if trial["converted_at"]:
        timeline.append({"at": trial["converted_at"], "what": "converted", "detail": "paying in the billing ledger"})
    timeline.sort(key=lambda e: e["at"])
    return {"trial": _row(trial, now, rt.config.tz), "timeline": timeline}


def summary(rt: Runtime, *, now: datetime) -> dict:
    """The operator's digest line: last 24 h and 7 d, rates, activity, time to convert."""
    trials = list_trials(rt, state=None, now=now)

    def within(moment: str | None, span: timedelta) -> bool:
        return moment is not None and now - span <= parse_iso(moment) <= now

    counts = {}
    for label, span in (("24h", timedelta(hours=24)), ("7d", timedelta(days=7))):
        counts[label] = {
            "signups": sum(within(t["signed_up_at"], span) for t in trials),
            "activations": sum(within(t["activated_at"], span) for t in trials),
            "conversions": sum(within(t["converted_at"], span) for t in trials),
        }
    activated = sum(1 for t in trials if t["activated_at"])
    converted = [t for t in trials if t["converted_at"]]
    decided = len(converted) + sum(1 for t in trials if t["state"] == "expired")
    to_convert = [
        (parse_iso(t["converted_at"]) - parse_iso(t["activated_at"])).total_seconds() / 86400
        for t in converted
        if t["activated_at"]
    ]
    return {
        "as_of": iso(now),
        "trials": len(trials),
        "last_24h": counts["24h"],
        "last_7d": counts["7d"],
        "activation_rate": round(activated / len(trials), 4) if trials else None,
        "trial_to_paid_rate": round(len(converted) / decided, 4) if decided else None,
        "average_activity": round(sum(sum(t["activity"].values()) for t in trials) / len(trials), 2)
        if trials
        else None,
        "median_days_activation_to_conversion": round(statistics.median(to_convert), 2) if to_convert else None,
    }


def _track_job(rt: Runtime, now: datetime) -> tuple[str, dict]:
    report = track(rt, now=now)
    counts = {"activated": len(report.activated), "converted": len(report.converted), "expired": len(report.expired)}
    return f"{counts['activated']} activated, {counts['converted']} converted, {counts['expired']} expired", counts


def _nudge_job(rt: Runtime, now: datetime) -> tuple[str, dict]:
    report = nudge(rt, now=now)
    counts = {"queued": len(report.queued), "skipped": len(report.skipped)}
    return f"{counts['queued']} emails queued" + (
        f", {counts['skipped']} skipped (too late)" if report.skipped else ""
    ), counts


register_job(Job("trials-track", "alert new trial activations and conversions", _track_job, every_minutes=10, order=20))
register_job(
    Job("trials-nudge", "queue the trial lifecycle emails that are due", _nudge_job, daily_at="09:00", order=30)
)
