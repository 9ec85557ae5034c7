"""Trials' retention rule: finished trials move to archive/trials/<signup month>.json.

A trial is finished when it ended (`trial_ends_at`) more than
`[trials] archive_after_days` ago (at least `grace_days` + 1, so every
lifecycle email has had its chance) and `track` has recorded its
activation and conversion. It moves with its activity and step records;
`archive/trials/index.json` maps its email to the month, so a signup of the
same email stays a duplicate and `trials show` still finds it. Its state is
derived when read, as for a hot trial: a payment after the archive still
shows it converted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from arkops.clock import parse_iso
from arkops.core.trials import TRIALS_DB
from arkops.core.trials.state import ACTIVITY, STEP_RECORDS, TRIALS, Trial, conversions, refresh
from arkops.runtime import Runtime
from arkops.store.archive import Archive, ArchiveIndex

if TYPE_CHECKING:
    from arkops.store import Db

BATCH = 2000  # trials per transaction: the lock is released between batches


def archive_finished(rt: Runtime, *, now: datetime) -> dict[str, int]:
    if not rt.store.path(TRIALS_DB).exists():
        return {}
    config = rt.config["trials"]
    age = timedelta(days=max(config["archive_after_days"], config["grace_days"] + 1))
    paid = conversions(rt)
    archive = Archive(rt.store, TRIALS_DB)
    index = ArchiveIndex(archive)
    moved = 0
    while True:
        with rt.store.transaction(TRIALS_DB) as db:
            due = [email for email, trial in TRIALS.items(db) if _finished(trial, now, age, paid)]
            if rt.dry_run:
                return {"trials archived": len(due)}
            batch = set(due[:BATCH])
            if not batch:
                break
            _move(db, batch, archive, index)
            moved += len(batch)
        if len(due) <= BATCH:
            break
    return {"trials archived": moved}


def _finished(trial: Trial, now: datetime, age: timedelta, paid: dict[str, int]) -> bool:
    if now - parse_iso(trial["trial_ends_at"]) <= age:
        return False
    refresh(trial, now, paid)
    flags = trial.get("alerted", {})
    return all(
        flags.get(kind)
        for kind, moment in (("activated", "activated_at"), ("converted", "converted_at"))
        if trial.get(moment)
    )


def _move(db: Db, batch: set[str], archive: Archive, index: ArchiveIndex) -> None:
    months: dict[str, dict[str, dict[str, dict]]] = {}
    month_of: dict[str, str] = {}
    for email in batch:
        trial = cast(dict, TRIALS.get(db, email))
        month = month_of[email] = trial["signed_up_at"][:7]
        months.setdefault(month, {"trials": {}, "steps": {}, "activity": {}})["trials"][email] = trial
    for table in (STEP_RECORDS, ACTIVITY):
        for key, record in table.items(db):
            if record["email"] in batch:
                months[month_of[record["email"]]][table.name][key] = cast(dict, record)
    archive.move(db, months, index, month_of)
