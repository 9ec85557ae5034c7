"""Retention: the daily job (and `arkops retention`) that applies every domain's rules.

Each domain declares its rules (`arkops.core.domain.Retention`): finished
trials and sent mail move to monthly archives, old message bodies and
dry-run files go, Stripe event ids past the redelivery window are folded
away. Each rule works in bounded batches and is safe to interrupt; the
report says what each one moved or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from arkops.core.domain import resolve
from arkops.runtime import Runtime


@dataclass
class RetentionReport:
    done: dict[str, int] = field(default_factory=dict)  # "trials archived" -> 812
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        return dict(self.done)

    def summary(self) -> str:
        moved = [f"{count} {what}" for what, count in self.done.items() if count]
        if not moved:
            return "nothing past its age"
        return ("would move or remove: " if self.dry_run else "") + ", ".join(moved)


def run(rt: Runtime, *, now: datetime) -> RetentionReport:
    from arkops.core.registry import retention_rules

    report = RetentionReport(dry_run=rt.dry_run)
    for _, rule in retention_rules():
        for what, count in resolve(rule.target)(rt, now=now).items():
            report.done[what] = report.done.get(what, 0) + count
    return report


def run_now(rt: Runtime, *, now: datetime, rebuild_summaries: bool = False) -> RetentionReport:
    """`arkops retention`: the same rules under the job's lock (a scheduled run in progress: exit 75).

    `rebuild_summaries` first drops every archive's month summaries (`arkops.store.archive`); the rules that
    keep them make them again from the month files.
    """
    with rt.store.job_lock("retention"):
        dropped = drop_summaries(rt) if rebuild_summaries and not rt.dry_run else 0
        report = run(rt, now=now)
        if dropped:
            report.done = {"archive summaries dropped": dropped, **report.done}
        return report


def drop_summaries(rt: Runtime) -> int:
    """Delete the month summaries of every archived database, each under its database's lock."""
    from arkops.core.registry import databases
    from arkops.store.archive import Archive

    dropped = 0
    for name, (_, database) in databases().items():
        if database.archive:
            with rt.store.lock(name):
                dropped += Archive(rt.store, name).drop_summaries()
    return dropped
