"""Reading trials: the list, one trial's timeline, and the operator's digest."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

from arkops.clock import iso, parse_iso
from arkops.core.messaging import OUTBOX_DB
from arkops.core.trials import TRIALS_DB
from arkops.core.trials.state import (
    ACTIVITY,
    STATES,
    STEP_RECORDS,
    TRIALS,
    Activity,
    StepRecord,
    Trial,
    archived_month,
    conversions,
    days_left,
    hot_trials,
    refresh,
)
from arkops.errors import DataError
from arkops.mail.address import normalize_email
from arkops.runtime import Runtime
from arkops.store.archive import Archive


def _row(trial: Trial, now: datetime, tz: tzinfo) -> dict[str, Any]:
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


def recent_signups(rt: Runtime, *, since: datetime) -> list[dict[str, Any]]:
    """Trials signed up at `since` or later, oldest first (for the leads domain's new-lead digest).

    Each: `email`, `plan` (the plan's name), `source`, `utm_source`, `utm_campaign` (from the signup's
    other fields, when the app passed them) and `signed_up_at`.
    """
    from arkops.core.trials.state import plan_name

    if not rt.store.path(TRIALS_DB).exists():
        return []
    stamp = iso(since) or ""
    with rt.store.transaction(TRIALS_DB) as db:
        recent = [t for _, t in TRIALS.items(db) if t["signed_up_at"] >= stamp]
    recent.sort(key=lambda t: (t["signed_up_at"], t["email"]))
    return [
        {
            "email": t["email"],
            "plan": plan_name(rt, t["plan"]),
            "source": t["source"],
            "utm_source": _text(t["extra"].get("utm_source")),
            "utm_campaign": _text(t["extra"].get("utm_campaign")),
            "signed_up_at": t["signed_up_at"],
        }
        for t in recent
    ]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def list_trials(rt: Runtime, *, state: str | None, now: datetime, archived: bool = False) -> list[dict[str, Any]]:
    """Trials still in their lifecycle; with `archived`, the finished ones from archive/trials/ too."""
    if state is not None and state not in STATES:
        raise DataError(f"state {state!r} is not one of {', '.join(STATES)}")
    paid = conversions(rt)
    trials = {t["email"]: t for t in hot_trials(rt)}
    if archived:
        for trial in Archive(rt.store, TRIALS_DB).values(TRIALS.name):
            trials.setdefault(trial["email"], cast(Trial, trial))  # a copy left by an interrupted archive run
    rows = [_row(refresh(t, now, paid), now, rt.config.tz) for t in trials.values()]
    return sorted(
        (r for r in rows if state is None or r["state"] == state), key=lambda r: (r["signed_up_at"], r["email"])
    )


def show(rt: Runtime, email: str, *, now: datetime) -> dict[str, Any]:
    """`trials show`: the trial (still running, or archived) and its timeline of signup, activity, lifecycle
    steps, emails and conversion."""
    address = normalize_email(email)
    paid = conversions(rt)
    found = _trial_records(rt, address)
    if found.trial is None:
        raise DataError(f"no trial for {address}")
    refresh(found.trial, now, paid)
    return {"trial": _row(found.trial, now, rt.config.tz), "timeline": _timeline(rt, found.trial, found)}


@dataclass
class _Found:
    """One person's trial records, from the trials database or the month of the archive that holds them."""

    address: str
    trial: Trial | None
    activity: list[Activity]
    steps: list[StepRecord]
    archived: bool = False


def _trial_records(rt: Runtime, address: str) -> _Found:
    with rt.store.transaction(TRIALS_DB) as db:
        trial = TRIALS.get(db, address)
        activity = [a for a in ACTIVITY.values(db) if a["email"] == address]
        steps = [s for s in STEP_RECORDS.values(db) if s["email"] == address]
    month = archived_month(rt, address) if trial is None else None
    if month is None:
        return _Found(address, trial, activity, steps)
    tables = Archive(rt.store, TRIALS_DB).read(month)
    return _Found(
        address,
        cast("Trial | None", tables.get(TRIALS.name, {}).get(address)),
        [cast(Activity, a) for a in tables.get(ACTIVITY.name, {}).values() if a["email"] == address],
        [cast(StepRecord, s) for s in tables.get(STEP_RECORDS.name, {}).values() if s["email"] == address],
        archived=True,
    )


def _timeline(rt: Runtime, trial: Trial, found: _Found) -> list[dict[str, Any]]:
    """Every dated thing that happened to the trial, oldest first."""
    timeline = [
        {
            "at": trial["signed_up_at"],
            "what": "signup",
            "detail": f"plan {trial['plan']}, source {trial['source'] or '-'}",
        }
    ]
    timeline += [{"at": a["at"], "what": "activity", "detail": f"{a['kind']} x{a['count']}"} for a in found.activity]
    timeline += [
        {
            "at": s["at"],
            "what": f"step {s['step']}",
            "detail": s["state"] + (f" ({s['template']})" if s.get("template") else ""),
        }
        for s in found.steps
    ]
    timeline += _emails(rt, found)
    if trial["converted_at"]:
        timeline.append({"at": trial["converted_at"], "what": "converted", "detail": "paying in the billing ledger"})
    timeline.sort(key=lambda e: e["at"])
    return timeline


def _emails(rt: Runtime, found: _Found) -> list[dict[str, Any]]:
    """The trial's lifecycle emails in the outbox (its archive too, for an archived trial)."""
    from arkops.mail.outbox import list_messages

    if not rt.store.path(OUTBOX_DB).exists():
        return []
    prefix = f"trial:{found.address}:"
    return [
        {"at": m["sent_at"] or m["created_at"], "what": f"email {m['template']}", "detail": m["state"]}
        for m in list_messages(rt.store, archived=found.archived)
        if m["key"].startswith(prefix) and m["channel"] == "email"
    ]


def summary(rt: Runtime, *, now: datetime) -> dict[str, Any]:
    """The operator's digest line: last 24 h and 7 d, rates, activity, time to convert (archived trials included)."""
    trials = list_trials(rt, state=None, now=now, archived=True)

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
