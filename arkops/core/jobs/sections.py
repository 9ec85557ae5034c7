"""The jobs' part of `arkops status` and the reports: each job's last run, outcome and next run; red when late or failing."""

from __future__ import annotations

from datetime import datetime, timedelta

from arkops.clock import iso, local_time, parse_iso
from arkops.core.domain import resolve
from arkops.core.jobs.runner import Schedule, job_states, load_jobs, next_due, schedule_of, scheduled_time
from arkops.core.sections import Section, table
from arkops.runtime import Runtime

DAILY_GRACE = timedelta(hours=1)  # a daily job not run an hour after its time is late
INTERVAL_GRACE = timedelta(minutes=10)  # an interval job is late after two of its intervals and this


def lateness(rt: Runtime, schedule: Schedule, last_start: str | None, now: datetime) -> str | None:
    """Why a due job is late (cron is not running it), or None."""
    if next_due(rt, schedule, last_start, now) is not None:
        return None
    if schedule.every_minutes:
        allowed = 2 * timedelta(minutes=schedule.every_minutes) + INTERVAL_GRACE
        if last_start is None:
            return "never ran"
        behind = now - parse_iso(last_start)
        return f"last ran {_ago(behind)} ago" if behind > allowed else None
    # Daily or weekly: due since its time this period (or the last one); late once that is more than the grace ago.
    at, period = scheduled_time(rt, schedule, now)
    missed = now - (at if now >= at else at - period)
    if missed <= DAILY_GRACE:
        return None
    return "never ran" if last_start is None else f"due {_ago(missed)} ago"


def _ago(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    tz = rt.config.tz
    states = job_states(rt)
    rows: list[dict] = []
    red: list[int] = []

    def local(moment: str | None) -> str | None:
        # arkops' own times (a next run computed past 2099 at the end of the range), not input to check
        return local_time(datetime.fromisoformat(moment), tz) if moment else None

    for job in load_jobs():
        schedule = schedule_of(rt, job)
        state = states.get(job.name, {})
        last = state.get("last_start")
        skipped = resolve(job.skip_reason)(rt) if job.skip_reason else None
        problem = None
        if not schedule.enabled:
            outcome = "disabled"
        elif skipped:
            outcome = f"skipped: {skipped}"
        else:
            outcome = state.get("outcome") or "never ran"
            if state.get("outcome") == "failed":
                problem = f"failing ({state.get('consecutive_failures', 1)} in a row): {state.get('detail')}"
            else:
                problem = lateness(rt, schedule, last, now)
        due = next_due(rt, schedule, last, now) if schedule.enabled and not skipped else None
        if problem:
            red.append(len(rows))
        rows.append(
            {
                "job": job.name,
                "schedule": schedule.describe(),
                "last_start": last,
                "outcome": outcome,
                "next_due": None if not schedule.enabled or skipped else (iso(due) if due else "now"),
                "problem": problem,
            }
        )
    show = {"last_start": local, "next_due": lambda v: "now" if v == "now" else local(v)}
    columns = [("job", "Job"), ("last_start", "Last run"), ("outcome", "Outcome"), ("next_due", "Next run")]
    columns.append(("problem", "Problem"))
    jobs_table = table("jobs", "Jobs", columns, rows, show, red=red, drop=["last_start", "next_due"])
    return [Section("jobs", "Jobs", tables=[jobs_table])]


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    return status(rt, now=now)
