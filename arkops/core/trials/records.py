"""Trial signups and activity: one at a time from the web app or the shell, or imported from its JSON files.

Each write goes through one trials transaction: invalid input raises before
anything is committed; an import skips and reports the records it cannot use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from arkops.clock import from_seconds, iso, parse_iso
from arkops.config import LOCALES
from arkops.core.privacy import refuse_erased
from arkops.core.progress import Progress, silent
from arkops.core.trials import TRIALS_DB
from arkops.core.trials.state import ACTIVITY, TRIALS, Trial, archived_month
from arkops.core.watch import WatchReport
from arkops.errors import DataError, ErasedError
from arkops.mail.address import normalize_email
from arkops.runtime import Runtime
from arkops.store import Db
from arkops.text import Skipped

SIGNUP_FIELDS = {"email", "plan", "source", "created_at", "timestamp", "utm_source", "referrer", "locale"}
ACTIVITY_FIELDS = {"email", "kind", "action", "count", "timestamp", "created_at"}


def _check_plan(rt: Runtime, plan: Any) -> str:
    plans = rt.config["plans"]
    if not isinstance(plan, str) or plan not in plans:
        raise DataError(f"plan {plan!r} is not a configured plan ({', '.join(sorted(plans))})")
    return plan


def _at(value: Any, now: datetime, what: str) -> datetime:
    if value is None or value == "":
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_seconds(value, what=what)
    if not isinstance(value, str):
        raise DataError(f"{what}: {value!r} is not a date")
    return parse_iso(value, what=what)


INT64 = 1 << 63


class ArchivedTrialError(DataError):
    """Activity for a trial that finished and was archived: the operator typing it is told; an import counts it."""


def _ips_as_stored(rt: Runtime, value: Any) -> Any:
    """IP addresses among the web app's other fields: dropped when erased, anonymized when so configured."""
    from arkops.core.privacy.person import erased, normalize_ip, stored_ip

    if isinstance(value, str) and normalize_ip(value) is not None:
        return None if erased(rt, value) else stored_ip(rt, value)
    if isinstance(value, dict):
        return {k: _ips_as_stored(rt, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ips_as_stored(rt, v) for v in value]
    return value


def _kept_as_given(extra: dict[str, Any]) -> dict[str, Any]:
    """The web app's other fields are stored as given, so they must read back as given: no integer beyond 64 bits."""

    def check(value: Any, where: str) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
            raise DataError(f"{where}: the number {value} is too large to keep")
        if isinstance(value, dict):
            for key, item in value.items():
                check(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                check(item, f"{where}[{index}]")

    for key, value in extra.items():
        check(value, key)
    return extra


def _new_trial(rt: Runtime, email: str, plan: str, source: str | None, at: datetime, extra: dict[str, Any]) -> Trial:
    ends = at + timedelta(days=rt.config["trials"]["length_days"])
    return {
        "email": email,
        "plan": plan,
        "source": source,
        "locale": extra.pop("locale", None),
        "signed_up_at": cast(str, iso(at)),
        "trial_ends_at": cast(str, iso(ends)),
        "activity": {},
        "activity_total": 0,
        "activated_at": None,
        "activated_kind": None,
        "converted_at": None,
        "state": "signed_up",
        "extra": extra,
    }


def _signup(db: Db, rt: Runtime, record: dict, now: datetime, *, force: bool = False) -> bool:
    local = rt.config["mail"]["allow_local_domains"]
    email = normalize_email(record.get("email"), allow_local_domains=local, intake=True, force=force)
    plan = _check_plan(rt, record.get("plan"))
    at = _at(record.get("created_at", record.get("timestamp")), now, "created_at")
    source = record.get("source") or record.get("utm_source") or record.get("referrer")
    if source is not None and not isinstance(source, str):
        raise DataError(f"source: {source!r} is not text")
    locale = record.get("locale")
    if locale is not None and locale not in LOCALES:
        raise DataError(f"locale: {locale!r} is not one of {', '.join(LOCALES)}")
    refuse_erased(rt, email)
    extra = _ips_as_stored(rt, _kept_as_given({k: v for k, v in record.items() if k not in SIGNUP_FIELDS}))
    if locale:
        extra["locale"] = locale
    if TRIALS.get(db, email) is not None or archived_month(rt, email):
        return False  # one trial per email, ever: a finished, archived one included
    return TRIALS.insert_new(db, email, _new_trial(rt, email, plan, source, at, extra))


def _activity(db: Db, rt: Runtime, record: dict, now: datetime) -> bool:
    email = normalize_email(record.get("email"))
    kind = record.get("kind") or record.get("action")
    if not isinstance(kind, str) or not kind.strip():
        raise DataError("kind: missing (kind or action)")
    count = record.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1_000_000:
        raise DataError(f"count: {count!r} is not a whole number from 1 to 1,000,000")
    at = _at(record.get("timestamp", record.get("created_at")), now, "timestamp")
    stamp = cast(str, iso(at))
    trial = TRIALS.get(db, email)
    if trial is None:
        refuse_erased(rt, email)
        month = archived_month(rt, email)
        if month:
            raise ArchivedTrialError(
                f"the trial of {email} ended and was archived ({month}); activity after it is not recorded"
            )
        raise DataError(f"no trial for {email}; record the signup first")
    key = hashlib.sha256(json.dumps([email, kind, count, stamp]).encode()).hexdigest()[:24]
    extra = _ips_as_stored(rt, _kept_as_given({k: v for k, v in record.items() if k not in ACTIVITY_FIELDS}))
    if not ACTIVITY.insert_new(db, key, {"email": email, "kind": kind, "count": count, "at": stamp, "extra": extra}):
        return False
    trial["activity"][kind] = trial["activity"].get(kind, 0) + count
    trial["activity_total"] += count
    counts = rt.config["trials"]["key_activity"] in ("", kind)  # activation is the product's key action
    if counts and (trial["activated_at"] is None or parse_iso(trial["activated_at"]) > at):
        trial["activated_at"], trial["activated_kind"] = stamp, kind
    TRIALS.put(db, email, trial)
    return True


def signup(
    rt: Runtime,
    email: str,
    plan: str,
    *,
    source: str | None,
    at: datetime | None,
    locale: str | None,
    now: datetime,
    force: bool = False,
) -> bool:
    """One signup from the command line; `force` takes an address that looks mistyped (the operator checked it)."""
    record = {"email": email, "plan": plan, "source": source, "created_at": iso(at or now), "locale": locale}
    with rt.store.transaction(TRIALS_DB) as db:  # invalid input raises before any write: nothing is committed
        return _signup(db, rt, {k: v for k, v in record.items() if v is not None}, now, force=force)


def activity(rt: Runtime, email: str, kind: str, *, count: int, at: datetime | None, now: datetime) -> bool:
    record = {"email": email, "kind": kind, "count": count, "timestamp": iso(at or now)}
    with rt.store.transaction(TRIALS_DB) as db:
        return _activity(db, rt, {k: v for k, v in record.items() if v is not None}, now)


@dataclass
class ImportReport:
    signups: int = 0
    activities: int = 0
    duplicates: int = 0
    after_archive: int = 0  # activity of trials already archived: not recorded, not an error
    erased: int = 0  # records of people erased by `privacy forget`: not recorded, not an error
    skipped: Skipped = field(default_factory=Skipped)


def import_files(rt: Runtime, paths: list[Path], *, now: datetime, progress: Progress = silent) -> ImportReport:
    """The web app's JSON files (gzipped or not): signups and activity lists. Malformed records are skipped and
    reported.

    Files are streamed, never held: read through once first, so that a file that is not a JSON list to its
    end writes nothing, then the signups of every file (so activity in the same import finds its trial), then
    the rest. `progress` hears each batch ("importing records", done, total)."""
    from arkops.sources.json_files import records

    report = ImportReport()
    total = sum(1 for path in paths for _ in records(path, lines=False))
    done = 0
    for signups in (True, False):
        batch: list[tuple[str, Any]] = []
        for path in paths:
            for found in records(path, lines=False):
                if (isinstance(found.value, dict) and "plan" in found.value) != signups:
                    continue
                batch.append((f"{path}[{found.index}]", found.value))
                if len(batch) == IMPORT_BATCH:
                    done = _commit_batch(rt, batch, report, now, progress, done, total)
                    batch = []
        if batch:
            done = _commit_batch(rt, batch, report, now, progress, done, total)
    return report


def _commit_batch(
    rt: Runtime,
    batch: list[tuple[str, Any]],
    report: ImportReport,
    now: datetime,
    progress: Progress,
    done: int,
    total: int,
) -> int:
    """One bounded transaction: signups from the web app get the lock between them. A kill mid-import keeps
    what was committed; running the import again adds only the rest (records are idempotent)."""
    with rt.store.transaction(TRIALS_DB) as db:
        _import_batch(db, rt, batch, report, now)
    progress("importing records", done + len(batch), total)
    return done + len(batch)


IMPORT_BATCH = 2000


def take(rt: Runtime, kind: str, records: list[Any], *, now: datetime) -> list[tuple[str, str | None]]:
    """Signups (`kind` "signup") or activity ("activity") posted by the web app (`arkops serve`'s
    /api/events): the checks of `trials import`, one transaction, one outcome per record in order:
    "stored", "duplicate", "ignored" or "refused", with the reason when not stored."""
    step = _signup if kind == "signup" else _activity
    outcomes: list[tuple[str, str | None]] = []
    with rt.store.transaction(TRIALS_DB) as db:
        for record in records:
            try:
                if not isinstance(record, dict):
                    raise DataError("not an object")
                outcomes.append(("stored", None) if step(db, rt, record, now) else ("duplicate", None))
            except ArchivedTrialError as exc:
                outcomes.append(("ignored", str(exc)))
            except ErasedError:
                outcomes.append(("ignored", "erased by privacy forget: not recorded"))
            except DataError as exc:
                outcomes.append(("refused", str(exc)))
    return outcomes


def follow_files(rt: Runtime, *, now: datetime) -> tuple[ImportReport, WatchReport]:
    """What the web app added to `[trials] signup_files`, then to `activity_files`, since the last run."""
    from arkops.core.watch import follow_files as follow

    report = ImportReport()
    watched = WatchReport()
    config = rt.config["trials"]
    for patterns in (config["signup_files"], config["activity_files"]):
        found = follow(
            rt, TRIALS_DB, patterns, lambda db, records: _import_batch(db, rt, records, report, now), now=now
        )
        watched.files += found.files
        watched.records += found.records
        watched.waiting += found.waiting
        watched.missing += found.missing
    return report, watched


def _import_batch(db: Db, rt: Runtime, records: list[tuple[str, Any]], report: ImportReport, now: datetime) -> None:
    for where, record in records:
        try:
            if isinstance(record, DataError):  # too long, too deep
                raise record
            if not isinstance(record, dict):
                raise DataError("not an object")
            if "plan" in record:
                added = _signup(db, rt, record, now)
                report.signups += added
            elif "kind" in record or "action" in record:
                added = _activity(db, rt, record, now)
                report.activities += added
            else:
                raise DataError("neither a signup (plan) nor an activity (kind or action)")
            report.duplicates += not added
        except ArchivedTrialError:
            report.after_archive += 1
        except ErasedError:
            report.erased += 1
        except DataError as exc:
            report.skipped.append(f"{where}: {exc}")
