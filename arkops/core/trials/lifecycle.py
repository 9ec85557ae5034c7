"""Trial lifecycle: operator alerts for activations and conversions (`track`), customer emails by day (`nudge`).

Every alert and lifecycle email goes through `notify` with a per-trial key,
inside the trials transaction (one outbox write per batch of trials), so a
job that runs twice, or two at once, has no double effect.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import orjson

from arkops.clock import from_unix, iso, local_time, parse_iso
from arkops.core.notify import notify, queue_sender
from arkops.core.trials import TRIALS_DB
from arkops.core.trials.records import ImportReport, follow_files
from arkops.core.trials.state import (
    STEP_RECORDS,
    TRIALS,
    Trial,
    conversions,
    days_left,
    in_batches,
    plan_name,
    refresh,
)
from arkops.core.watch import WatchReport
from arkops.runtime import Runtime
from arkops.text import counted


@dataclass
class TrackReport:
    activated: list[str] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    quiet: int = 0  # transitions older than the alert window: recorded, not alerted
    imported: ImportReport | None = None  # what the watched app files brought (`[trials] signup_files`, ...)
    watched: WatchReport | None = None
    unchanged: bool = False  # nothing changed since the last run: no trial was read

    def counts(self) -> dict[str, int]:
        counts = {
            "activated": len(self.activated),
            "converted": len(self.converted),
            "expired": len(self.expired),
            "not_alerted": self.quiet,
        }
        if self.imported is not None:
            counts |= {"signups": self.imported.signups, "activities": self.imported.activities}
            counts["skipped_records"] = len(self.imported.skipped)
        return counts

    def summary(self) -> str:
        line = f"{len(self.activated)} activated, {len(self.converted)} converted, {len(self.expired)} expired"
        line += " (unchanged since the last run)" if self.unchanged else ""
        line += f" ({self.quiet} older than the alert window, not alerted)" if self.quiet else ""
        if self.imported is not None and self.watched is not None and (self.watched.files or self.watched.waiting):
            found = self.imported
            line = (
                f"{self.watched.summary()}: {counted(found.signups, 'signup')}, "
                f"{counted(found.activities, 'activity', 'activities')}, {found.duplicates} already known, "
                f"{len(found.skipped)} skipped" + "".join(f" ({why})" for why in found.skipped[:3]) + "; " + line
            )
        return line


def track(rt: Runtime, *, now: datetime) -> TrackReport:
    """Find new activations, conversions and expirations; tell the operator in one digest per run.

    Each transition is recorded once per trial, in the same transaction as the
    digest that names it, so overlapping runs never alert twice. Transitions
    older than `[trials] alert_window_hours` when first seen (an import of
    history) are recorded without an alert. The app's files (`[trials]
    signup_files`, `activity_files`) are followed first. Trials are worked through in
    batches of 2,000 (`state.in_batches`); a run with more than 2,000 recent
    transitions sends one digest per batch.

    A run with nothing to do reads no trial (the 10-minute cron run): each run
    keeps (`cache/trials-track.json`) the identity `trials.json` had before it
    was read, a digest of the first payments it applied, and the first moment
    time alone changes a trial (a running trial's end; a payment dated later).
    The next run that finds the same identity and payments before that moment
    has nothing to record and stops there.
    """
    report = TrackReport()
    if rt.config["trials"]["signup_files"] or rt.config["trials"]["activity_files"]:
        report.imported, report.watched = follow_files(rt, now=now)
    paid = conversions(rt)
    basis = [rt.store.identity(TRIALS_DB), hashlib.sha256(orjson.dumps(paid, option=orjson.OPT_SORT_KEYS)).hexdigest()]
    found, seen = rt.store.cached(TRACKED, basis, TRACKED)
    if found and isinstance(seen, dict) and cast(str, iso(now)) < str(seen.get("until", "")):
        report.unchanged = True
        return report
    until = [cast(str, iso(now + timedelta(days=30)))]
    stamp = cast(str, iso(now))
    window = timedelta(hours=rt.config["trials"]["alert_window_hours"])
    transitions = (("activated", "activated_at", _activation), ("converted", "converted_at", _conversion))
    for db, trials in in_batches(rt):
        news: dict[str, list[dict[str, Any]]] = {"activated": [], "converted": []}
        for email, trial in trials:
            before = trial["state"]
            refresh(trial, now, paid)
            until.append(_changes_at(trial, paid, now))
            changed = trial["state"] != before
            flags = trial.setdefault("alerted", {})
            for kind, moment_field, describe in transitions:
                moment = cast(str | None, trial.get(moment_field))
                if moment and not flags.get(kind):
                    flags[kind] = stamp
                    changed = True
                    getattr(report, kind).append(email)
                    if now - parse_iso(moment) <= window:
                        news[kind].append(describe(rt, email, trial))
                    else:
                        report.quiet += 1
            if trial["state"] == "expired" and before != "expired":
                report.expired.append(email)
            if changed:
                TRIALS.put(db, email, trial)
        if news["activated"] or news["converted"]:
            names = sorted(f"{t['email']}:{kind}" for kind, rows in news.items() for t in rows)
            key = "trials:updates:" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
            notify(rt, "trial_updates", news, key=key, now=now)
    rt.store.keep(TRACKED, basis, TRACKED, {"until": min(until)})
    return report


TRACKED = "trials-track"  # what the last `track` saw (see `track`), in cache/


def _changes_at(trial: Trial, paid: dict[str, int], now: datetime) -> str:
    """The first moment after `now` when time alone changes this trial's state: its end while it runs, a payment
    of its email dated later; far off otherwise."""
    moments = []
    if trial["state"] in ("signed_up", "active"):
        moments.append(trial["trial_ends_at"])
    paid_at = paid.get(trial["email"])
    if paid_at and paid_at > now.timestamp() and not trial["converted_at"]:
        moments.append(cast(str, iso(from_unix(paid_at))))
    return min(moments, default="9999")


def _activation(rt: Runtime, email: str, trial: Trial) -> dict[str, Any]:
    return {
        "email": email,
        "plan": plan_name(rt, trial["plan"]),
        "activity_kind": trial["activated_kind"],
        "activated_at": local_time(parse_iso(cast(str, trial["activated_at"])), rt.config.tz),
    }


def _conversion(rt: Runtime, email: str, trial: Trial) -> dict[str, Any]:
    converted_at = cast(str, trial["converted_at"])
    return {
        "email": email,
        "plan": plan_name(rt, trial["plan"]),
        "converted_at": local_time(parse_iso(converted_at), rt.config.tz),
        "days_in_trial": (parse_iso(converted_at) - parse_iso(trial["signed_up_at"])).days,
    }


STEPS = ("welcome", "day1", "day7", "day12", "day14")


@dataclass
class NudgeReport:
    queued: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"queued": len(self.queued), "skipped": len(self.skipped)}

    def summary(self) -> str:
        late = f", {len(self.skipped)} skipped (too late)" if self.skipped else ""
        return f"{counted(len(self.queued), 'email')} queued{late}"


def _step_message(rt: Runtime, step: str, trial: Trial, now: datetime) -> tuple[str, dict[str, Any]] | None:
    """The template and variables for a due step, or None when the step sends nothing for this trial."""
    config = rt.config["trials"]
    plan = plan_name(rt, trial["plan"])
    if step == "welcome":
        ends = parse_iso(trial["trial_ends_at"]).astimezone(rt.config.tz).strftime("%Y-%m-%d")
        return "trial_welcome", {"plan": plan, "trial_days": config["length_days"], "ends_on": ends}
    if step == "day1":
        count = key_activity_count(rt, trial)
        if count == 0:
            return "trial_day1_help", {"plan": plan}
        if count > config["demo_activity_threshold"]:
            return "trial_day1_demo", {
                "activity_count": count,
                "demo_url": config["demo_url"] or "mailto:" + queue_sender(),
            }
        return None
    if step == "day7":
        return "trial_day7", {
            "plan": plan,
            "activity_count": trial["activity_total"],
            "days_left": days_left(trial, now, rt.config.tz),
            "case_study_url": config["case_study_url"],
            "case_study_text": config["case_study_text"],
        }
    if step == "day12":
        return "trial_day12", {
            "plan": plan,
            "days_left": days_left(trial, now, rt.config.tz),
            "upgrade_url": upgrade_link(rt, trial, now),
            "offer_code": config["early_offer"],
        }
    if trial["state"] == "converted":
        return "trial_day14_converted", {"plan": plan}
    return "trial_day14_ended", {"plan": plan, "upgrade_url": upgrade_link(rt, trial, now)}


def key_activity_count(rt: Runtime, trial: Trial) -> int:
    """The activity that counts for day 1: of `[trials] key_activity`'s kind, or of any kind when it is empty."""
    kind = rt.config["trials"]["key_activity"]
    return trial["activity"].get(kind, 0) if kind else trial["activity_total"]


def upgrade_link(rt: Runtime, trial: Trial, now: datetime) -> str:
    """Where day 12 and day 14 send the customer: `[trials] upgrade_url`; else the signed `arkops serve` link
    that opens a Checkout of the trial's plan when clicked (`[serve] public_url` set); else a Stripe Checkout
    link made now (`billing checkout`'s, no trial days: the trial is ending), when Stripe is set up for it,
    which lives 24 hours (Stripe's limit); else a reply to the sender."""
    configured = rt.config["trials"]["upgrade_url"]
    if configured:
        return configured
    from arkops.core.plans.stripe_ops import checkout
    from arkops.core.plans.upgrade import serve_link

    if served := serve_link(rt, trial["email"], trial["plan"]):
        return served
    from arkops.errors import ArkopsError

    try:
        link = checkout(
            rt,
            trial["email"],
            trial["plan"],
            trial_days=0,
            promo=None,
            success_url=None,
            cancel_url=None,
            live=False,
            now=now,
        )
    except ArkopsError:  # no Stripe key, no price for the plan, a live key not allowed, Stripe down: reply instead
        link = None
    return (link.url if link is not None else None) or "mailto:" + queue_sender()


def nudge(rt: Runtime, *, now: datetime) -> NudgeReport:
    """Send each due lifecycle step once per trial; a step late by more than the grace period is skipped."""
    paid = conversions(rt)
    config = rt.config["trials"]
    schedule = config["schedule"]
    grace = config["grace_days"]
    tz = rt.config.tz
    today = now.astimezone(tz).date()
    stamp = cast(str, iso(now))
    report = NudgeReport()
    for db, trials in in_batches(rt):
        for email, trial in trials:
            before = (trial["state"], trial["converted_at"])
            refresh(trial, now, paid)
            if (trial["state"], trial["converted_at"]) != before:
                TRIALS.put(db, email, trial)
            signup_day = parse_iso(trial["signed_up_at"]).astimezone(tz).date()
            for step in STEPS:
                due: date = signup_day + timedelta(days=schedule[step])
                key = f"{email}:{step}"
                if today < due or STEP_RECORDS.get(db, key) is not None:
                    continue
                if trial["state"] == "converted" and step != "day14":
                    continue  # converted trials get no further reminders, only the day-14 thank-you
                if (today - due).days > grace:
                    STEP_RECORDS.put(
                        db, key, {"email": email, "step": step, "state": "skipped", "at": stamp, "due": due.isoformat()}
                    )
                    report.skipped.append(key)
                    continue
                message = _step_message(rt, step, trial, now)
                if message is None:
                    STEP_RECORDS.put(
                        db,
                        key,
                        {"email": email, "step": step, "state": "not needed", "at": stamp, "due": due.isoformat()},
                    )
                    continue
                template, variables = message
                notify(
                    rt, template, variables, key=f"trial:{email}:{step}", now=now, to=email, locale=trial.get("locale")
                )
                STEP_RECORDS.put(
                    db,
                    key,
                    {
                        "email": email,
                        "step": step,
                        "state": "queued",
                        "template": template,
                        "at": stamp,
                        "due": due.isoformat(),
                    },
                )
                report.queued.append(key)
    return report
