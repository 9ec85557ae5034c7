"""`arkops run`: every job that is due, each under its own lock, its outcome recorded.

Each domain declares its jobs in its `DOMAIN` (`arkops.core.domain.Job`): a
name, a default schedule (every N minutes, or daily at HH:MM local time) and
the core function to call. `[jobs.<name>]` in arkops.toml changes
the schedule or disables a job. Each run holds the job's own lock, records
its start, end, outcome and summary, and a job failing 3 runs in a row
alerts the operator once, then once more when it recovers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from arkops.clock import iso, parse_iso
from arkops.core.domain import Job, JobOutcome, resolve
from arkops.core.jobs import JOBS_DB
from arkops.errors import ArkopsError, ConfigError, Interrupted, LockBusyError, redact
from arkops.runtime import Runtime
from arkops.store.files import changes

ALERT_AFTER_FAILURES = 3


@dataclass
class Schedule:
    enabled: bool
    every_minutes: int | None
    daily_at: str | None
    weekday: int | None = None  # with daily_at: weekly, on this day (0 = Monday)

    def describe(self) -> str:
        if not self.enabled:
            return "disabled"
        return describe_schedule(self.every_minutes, self.daily_at, self.weekday)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe_schedule(every_minutes: int | None, daily_at: str | None, weekday: int | None) -> str:
    if every_minutes:
        return f"every {every_minutes} min"
    return f"weekly {WEEKDAYS[weekday]} {daily_at}" if weekday is not None else f"daily {daily_at}"


def load_jobs() -> list[Job]:
    from arkops.core.registry import jobs

    return jobs()


def schedule_of(rt: Runtime, job: Job) -> Schedule:
    override = rt.config["jobs"].get(job.name, {})
    every = override.get("every_minutes") or None
    at = override.get("at") or None
    if every and at:
        raise ConfigError(rt.config.path, f"jobs.{job.name}", "set every_minutes or at, not both")
    if not every and not at:
        every, at = job.every_minutes, job.daily_at
    return Schedule(override.get("enabled", True), every, at, None if every else job.weekday)


def check_job_names(rt: Runtime, jobs: list[Job]) -> None:
    known = {j.name for j in jobs}
    for name in rt.config["jobs"]:
        if name not in known:
            raise ConfigError(rt.config.path, f"jobs.{name}", f"no such job (known: {', '.join(sorted(known))})")


def next_due(rt: Runtime, schedule: Schedule, last_start: str | None, now: datetime) -> datetime | None:
    """When the job is next due; None means due now. Interval jobs run once per aligned slot, daily jobs once a local day."""
    if schedule.every_minutes:
        slot = schedule.every_minutes * 60
        if last_start is None:
            return None
        current_slot = int(now.timestamp()) // slot
        if int(parse_iso(last_start).timestamp()) // slot < current_slot:
            return None
        return datetime.fromtimestamp((current_slot + 1) * slot, tz=now.tzinfo)
    today_at, period = scheduled_time(rt, schedule, now)
    if now < today_at:
        return today_at
    if last_start is None or parse_iso(last_start) < today_at:
        return None
    return today_at + period


def scheduled_time(rt: Runtime, schedule: Schedule, now: datetime) -> tuple[datetime, timedelta]:
    """A daily (or weekly) job's time in the current day (or week), local, and its period."""
    hour, minute = map(int, (schedule.daily_at or "00:00").split(":"))
    local = now.astimezone(rt.config.tz)
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if schedule.weekday is None:
        return at, timedelta(days=1)
    return at - timedelta(days=(local.weekday() - schedule.weekday) % 7), timedelta(days=7)


@dataclass
class JobResult:
    name: str
    status: str  # ok, failed, skipped
    detail: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    changed: bool = False  # it wrote, appended to or removed a file (data, outbox, a counter file)

    @property
    def locked(self) -> bool:
        return self.status == "skipped" and self.detail.startswith("locked")

    @property
    def did_something(self) -> bool:
        """Failed, or ran and changed a file (what it queued, sent, recorded or archived): what a quiet cron log
        shows. A job with nothing to do writes nothing (no write without a change), whatever its counts say."""
        return self.status == "failed" or (self.status == "ok" and self.changed)

    def as_dict(self) -> dict:
        return {
            "job": self.name,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "counts": self.counts,
        }


@dataclass
class RunReport:
    results: list[JobResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        from arkops.errors import ExitCode

        if any(r.status == "failed" for r in self.results):
            return ExitCode.CHECK_FAILED
        ran = [r for r in self.results if r.status == "ok"]
        locked = [r for r in self.results if r.locked]
        if locked and not ran:
            return ExitCode.LOCKED
        return ExitCode.OK


def _record(rt: Runtime, name: str, update: Callable[[dict], None]) -> dict:
    with rt.store.transaction(JOBS_DB) as db:
        state = db.get("runs", name) or {"consecutive_failures": 0, "alerted": False}
        update(state)
        db.put("runs", name, state)
        return state


def _alert(rt: Runtime, name: str, state: dict, now: datetime, *, recovered: bool, error: str) -> None:
    from arkops.core.notify import notify

    failures = state["consecutive_failures"]
    since = state.get("failing_since") or iso(now)
    notify(
        rt,
        "job_failed",
        {"job": name, "failures": failures, "error": error, "recovered": recovered},
        key=f"alert:job:{name}:{'recovered' if recovered else 'failing'}:{since}",
        now=now,
    )


def run_due(rt: Runtime, *, now: datetime, only: str | None = None, force: bool = False) -> RunReport:
    jobs = load_jobs()
    check_job_names(rt, jobs)
    if only is not None and only not in {j.name for j in jobs}:
        raise ConfigError("--only", only, f"no such job (known: {', '.join(j.name for j in jobs)})")
    report = RunReport()
    states = job_states(rt)  # read once: a job that ran meanwhile is caught by its own lock, not by this view
    for job in jobs:
        if only is not None and job.name != only:
            continue
        report.results.append(_run_one(rt, job, states.get(job.name, {}), now=now, force=force))
    return report


def why_not(rt: Runtime, job: Job, schedule: Schedule, last: dict, *, now: datetime, force: bool) -> str | None:
    """Why a tick at `now` would not run the job (disabled, what it needs missing, not due), or None: it runs."""
    if not schedule.enabled and not force:
        return "disabled in arkops.toml"
    reason = resolve(job.skip_reason)(rt) if job.skip_reason else None
    if reason:
        return str(reason)
    due_at = None if force else next_due(rt, schedule, last.get("last_start"), now)
    if due_at is not None:
        return f"not due until {due_at.astimezone(rt.config.tz).strftime('%Y-%m-%d %H:%M')}"
    return None


def why_due(rt: Runtime, schedule: Schedule, last: dict, now: datetime) -> str:
    """Why a due job runs: it never ran, or its slot or its time came since its last run."""
    started = last.get("last_start")
    if started is None:
        return f"never ran ({schedule.describe()})"
    when = parse_iso(started).astimezone(rt.config.tz).strftime("%Y-%m-%d %H:%M")
    return f"{schedule.describe()}, last ran {when}"


def next_tick(rt: Runtime, *, now: datetime) -> list[dict]:
    """What `arkops run` at `now` would run, and why, without running anything (`arkops jobs --next`)."""
    jobs = load_jobs()
    check_job_names(rt, jobs)
    states = job_states(rt)
    rows = []
    for job in jobs:
        schedule, last = schedule_of(rt, job), states.get(job.name, {})
        reason = why_not(rt, job, schedule, last, now=now, force=False)
        rows.append({"job": job.name, "runs": reason is None, "why": reason or why_due(rt, schedule, last, now)})
    return rows


def _run_one(rt: Runtime, job: Job, last: dict, *, now: datetime, force: bool) -> JobResult:
    schedule = schedule_of(rt, job)
    reason = why_not(rt, job, schedule, last, now=now, force=force)
    if reason is not None:
        return JobResult(job.name, "skipped", reason)
    try:
        with rt.store.job_lock(job.name):
            return _execute(rt, job, schedule, now, force)
    except LockBusyError:
        return JobResult(job.name, "skipped", "locked: still running from an earlier tick")


def _execute(rt: Runtime, job: Job, schedule: Schedule, now: datetime, force: bool) -> JobResult:
    due = [force]

    def start(state: dict) -> None:
        due[0] = force or next_due(rt, schedule, state.get("last_start"), now) is None
        if due[0]:
            state.update(last_start=iso(now), running=True)

    # Due-ness is checked again under the job's lock: an overlapping tick may have just run it.
    state = _record(rt, job.name, start)
    if not due[0]:
        return JobResult(job.name, "skipped", "ran meanwhile in an overlapping tick")
    started, writes = time.monotonic(), changes()
    try:
        outcome = resolve(job.run)(rt, now=now)
        if not isinstance(outcome, JobOutcome):
            raise TypeError(f"job {job.name}: {job.run} returned {type(outcome).__name__}, not a JobOutcome")
        summary, counts, changed = outcome.summary(), outcome.counts(), changes() > writes
    except (Interrupted, KeyboardInterrupt) as exc:  # SIGTERM or Ctrl-C: say so in the job's record, then stop
        stopped = str(exc) if isinstance(exc, Interrupted) else "stopped by SIGINT"
        _record(
            rt,
            job.name,
            lambda s: s.update(
                last_end=iso(rt.now()),
                running=False,
                outcome="interrupted",
                detail=f"{stopped}; what it had committed stays, the rest is done at its next run",
                seconds=round(time.monotonic() - started, 3),
            ),
        )
        raise
    except Exception as exc:  # one failing job must not stop the others
        error = redact(str(exc) if isinstance(exc, ArkopsError) else f"{type(exc).__name__}: {exc}")
        seconds = time.monotonic() - started

        def failed(state: dict) -> None:
            state.update(
                last_end=iso(rt.now()), running=False, outcome="failed", detail=error, seconds=round(seconds, 3)
            )
            state["consecutive_failures"] = state.get("consecutive_failures", 0) + 1
            if state["consecutive_failures"] == 1:
                state["failing_since"] = iso(now)

        state = _record(rt, job.name, failed)
        if state["consecutive_failures"] >= ALERT_AFTER_FAILURES and not state.get("alerted"):
            try:
                _alert(rt, job.name, state, now, recovered=False, error=error)
                _record(rt, job.name, lambda s: s.update(alerted=True))
            except ArkopsError as alert_error:
                error += f" (alert not queued: {alert_error})"
        return JobResult(job.name, "failed", error, seconds)
    seconds = time.monotonic() - started
    if state.get("alerted"):
        with contextlib.suppress(ArkopsError):  # the recovery note is a courtesy; the job itself worked
            _alert(rt, job.name, state, now, recovered=True, error="")
    _record(
        rt,
        job.name,
        lambda s: s.update(
            last_end=iso(rt.now()),
            running=False,
            outcome="ok",
            detail=summary,
            counts=counts,
            seconds=round(seconds, 3),
            consecutive_failures=0,
            alerted=False,
            failing_since=None,
            last_success=iso(now),
        ),
    )
    return JobResult(job.name, "ok", summary, seconds, counts, changed=changed)


def job_states(rt: Runtime) -> dict[str, dict]:
    with rt.store.transaction(JOBS_DB) as db:
        return dict(db.items("runs"))


def list_jobs(rt: Runtime, *, now: datetime) -> list[dict]:
    jobs = load_jobs()
    check_job_names(rt, jobs)
    states = job_states(rt)
    rows = []
    for job in jobs:
        schedule = schedule_of(rt, job)
        state = states.get(job.name, {})
        due = next_due(rt, schedule, state.get("last_start"), now) if schedule.enabled else None
        rows.append(
            {
                "job": job.name,
                "schedule": schedule.describe(),
                "description": job.description,
                "last_start": state.get("last_start"),
                "last_end": state.get("last_end"),
                "outcome": state.get("outcome"),
                "detail": state.get("detail"),
                "counts": state.get("counts", {}),
                "consecutive_failures": state.get("consecutive_failures", 0),
                "next_due": None if not schedule.enabled else (iso(due) if due else "now"),
            }
        )
    return rows
