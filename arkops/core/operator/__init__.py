"""Operator views: `arkops status` (one screen), the HTML report and the weekly email, from every domain's sections.

`status` reads every domain's `Domain.status` sections on a read-only
store, `html` renders `Domain.report` sections as one self-contained page,
`weekly` sends that report by email once per ISO week (a job), `demo`
renders the report into the demo workspace.
"""

from arkops.core.billing import LEDGER_DB
from arkops.core.domain import DemoPart, Domain, Job
from arkops.core.trials import TRIALS_DB


def nothing_to_report(rt: object) -> str | None:
    """Why `weekly-email` is skipped: a workspace with no ledger and no trials yet has no week to tell."""
    store = rt.store  # type: ignore[attr-defined]
    if store.path(LEDGER_DB).exists() or store.path(TRIALS_DB).exists():
        return None
    return "nothing to report yet (no ledger, no trials)"


DOMAIN = Domain(
    name="operator",
    summary="The operator's views: status on one screen, the HTML report, the weekly email.",
    commands={"status": "arkops.cli.status:status", "report": "arkops.cli.status:report"},
    jobs=(
        Job(
            "weekly-email",
            "email the weekly report to the operator (once per ISO week)",
            "arkops.core.operator.weekly:send_weekly",
            daily_at="08:00",
            weekday=0,
            order=95,  # last of a tick: its jobs section shows the others done; the next tick's mail-flush sends it
            skip_reason="arkops.core.operator:nothing_to_report",
        ),
    ),
    demo=DemoPart("arkops.core.operator.demo:build", order=90, after_jobs=True),
    templates="arkops.core.operator.messages:TEMPLATES",
    order=15,
)
