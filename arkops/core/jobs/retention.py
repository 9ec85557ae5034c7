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


def run_now(rt: Runtime, *, now: datetime) -> RetentionReport:
    """`arkops retention`: the same rules under the job's lock (a scheduled run in progress: exit 75)."""
    with rt.store.job_lock("retention"):
        return run(rt, now=now)
