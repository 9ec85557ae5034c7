"""A trial's record and its derived state, shared by every part of the trials domain.

A trial is keyed by its normalised email. Its state is derived, never
stored blindly: `converted` when the billing ledger shows the email paying,
else `expired` once `trial_ends_at` has passed, else `active` after a first
activity, else `signed_up`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from arkops.clock import from_unix, iso, parse_iso
from arkops.core.trials import TRIALS_DB, TrialState
from arkops.runtime import Runtime
from arkops.store.tables import Table

if TYPE_CHECKING:
    from arkops.store import Db

STATES = tuple(TrialState)
BATCH = 2000  # trials per transaction in track and nudge: the lock is released between batches


class Trial(TypedDict):
    """One trial as stored in trials.json; times are ISO 8601 in UTC."""

    email: str  # normalised: the key
    plan: str
    source: str | None
    locale: str | None  # the customer's emails' language, when the signup gave one
    signed_up_at: str
    trial_ends_at: str
    activity: dict[str, int]  # count by kind
    activity_total: int
    activated_at: str | None  # the earliest activity
    activated_kind: str | None
    converted_at: str | None
    state: str  # one of STATES, as of the last refresh
    extra: dict[str, Any]  # the signup's other fields, kept as given
    alerted: NotRequired[dict[str, str]]  # operator alerts sent (activated, converted) and when


class Activity(TypedDict):
    """One activity record, keyed by a hash of its email, kind, count and time (a replay adds nothing)."""

    email: str
    kind: str
    count: int
    at: str
    extra: dict[str, Any]


class StepRecord(TypedDict):
    """What a lifecycle step did for one trial (queued, skipped or not needed), keyed by `email:step`."""

    email: str
    step: str
    state: str
    template: NotRequired[str]  # the message queued
    at: str
    due: str  # the local date the step was due


TRIALS = Table[Trial]("trials")
ACTIVITY = Table[Activity]("activity")
STEP_RECORDS = Table[StepRecord]("steps")


def conversions(rt: Runtime) -> dict[str, int]:
    """When each email first paid, from the billing ledger: parsed once per ledger change, not once per job."""
    from arkops.core.billing import LEDGER_DB
    from arkops.core.billing.ledger import first_payment_by_email

    return rt.store.derived("first-payments", LEDGER_DB, first_payment_by_email) or {}


def hot_trials(rt: Runtime) -> list[Trial]:
    """The trials in `trials.json`, read once per invocation while the file is unchanged (`status`'s trials and
    funnel sections share them, as its billing sections share the ledger)."""

    def read() -> list[Trial]:
        with rt.store.transaction(TRIALS_DB) as db:
            return list(TRIALS.values(db))

    return cast(list[Trial], rt.store.memoized(rt.memo, "trials-hot", TRIALS_DB, read))


def converted_at(
    email: str, signed_up_at: str, recorded: str | None, paid: dict[str, int], now: datetime
) -> str | None:
    """A trial's conversion: the one recorded, else its email's first payment by `now` (never before the signup)."""
    paid_at = paid.get(email)
    if paid_at and paid_at <= now.timestamp() and not recorded:
        return iso(from_unix(max(paid_at, int(parse_iso(signed_up_at).timestamp()))))
    return recorded


def refresh(trial: Trial, now: datetime, paid: dict[str, int]) -> Trial:
    trial["converted_at"] = converted_at(trial["email"], trial["signed_up_at"], trial["converted_at"], paid, now)
    if trial["converted_at"]:
        trial["state"] = "converted"
    elif now >= parse_iso(trial["trial_ends_at"]):
        trial["state"] = "expired"
    elif trial["activated_at"]:
        trial["state"] = "active"
    else:
        trial["state"] = "signed_up"
    return trial


def days_left(trial: Trial, now: datetime, tz: tzinfo) -> int:
    """Calendar days until the trial's last day, in the configured time zone (day 12 of 14 -> 2)."""
    ends = parse_iso(trial["trial_ends_at"]).astimezone(tz).date()
    return max(0, (ends - now.astimezone(tz).date()).days)


def plan_name(rt: Runtime, plan: str) -> str:
    """The plan as people read it ("Pro"), not its id ("pro")."""
    return (rt.config["plans"].get(plan) or {}).get("name") or plan


def in_batches(rt: Runtime, size: int = BATCH) -> Iterator[tuple[Db, list[tuple[str, Trial]]]]:
    """Every trial, by email, in transactions of `size` trials with the lock released between them.

    A first run after a bulk import works through thousands of trials while
    signups and activity from the web app still get the lock within
    moments. Messages `notify` queues for a batch are stored in one outbox
    write before that batch commits. Trials signed up meanwhile with an
    email already passed are handled by the next run. The caller must not
    leave the loop early: the open batch would not be committed.
    """
    from arkops.core.notify import batched

    last = ""
    while True:
        with rt.store.transaction(TRIALS_DB) as db, batched(rt):
            emails = sorted(email for email, _ in TRIALS.items(db) if email > last)
            chunk = emails[:size]
            yield db, [(email, trial) for email in chunk if (trial := TRIALS.get(db, email)) is not None]
        if len(emails) <= size:
            return
        last = chunk[-1]


def archived_month(rt: Runtime, email: str) -> str | None:
    """The archive month of a finished trial (`trials.retention`), or None when it was never archived."""
    from arkops.store.archive import Archive, ArchiveIndex

    index = ArchiveIndex(Archive(rt.store, TRIALS_DB))
    try:
        stat = index.path.stat()
    except FileNotFoundError:
        return None
    signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    known = rt.memo.get("trials-archive-index")
    if known is None or known[0] != signature:  # read once per process, again only if the file changed
        known = rt.memo["trials-archive-index"] = (signature, index.load())
    return known[1].get(email)


def _archives_begin(db: Db) -> None:
    """Version 2 changes no record: it says finished trials may have moved to archive/trials/, which an older
    arkops would not look in (it would take their emails for new signups), so it refuses the file."""


MIGRATIONS = {1: _archives_begin}
