"""Trials: signups, activity, activation, conversion (from the billing ledger) and lifecycle emails.

`state` holds the record and its derived state, `records` signups, activity
and imports, `lifecycle` the operator alerts and the emails by day,
`queries` the listings and the digest.
"""

from enum import StrEnum

from arkops.core.domain import Database, DemoPart, DoctorCheck, Domain, Job, Retention, SectionPart


class TrialState(StrEnum):
    """A trial's derived state (`arkops.core.trials.state.refresh`)."""

    signed_up = "signed_up"
    active = "active"
    converted = "converted"
    expired = "expired"


TRIALS_DB = Database(
    "trials",
    version=2,
    # watched: how far each of the app's files was read (`arkops.core.watch`): paths and offsets, nobody in it
    personal={
        "trials": ("email", "source", "extra"),
        "activity": ("email", "extra"),
        "steps": ("email",),
        "watched": (),
    },
    migrations="arkops.core.trials.state:MIGRATIONS",
    archive=True,
    forget="arkops.core.trials.summaries:forget",
)

DOMAIN = Domain(
    name="trials",
    summary="14-day trials: signups, activity, activation, conversion and the lifecycle emails.",
    commands={"trials": "arkops.cli.trials:app"},
    databases=(TRIALS_DB,),
    jobs=(
        Job(
            "trials-track",
            "alert new trial activations and conversions",
            "arkops.core.trials.lifecycle:track",
            every_minutes=10,
            order=20,
        ),
        Job(
            "trials-nudge",
            "queue the trial lifecycle emails that are due",
            "arkops.core.trials.lifecycle:nudge",
            daily_at="09:00",
            order=30,
        ),
    ),
    checks=(
        DoctorCheck("arkops.core.trials.checks:trial_links", order=40),
        DoctorCheck("arkops.core.trials.checks:watched_files", order=41),
    ),
    demo=DemoPart("arkops.core.trials.demo:build", order=10),
    templates="arkops.core.trials.messages:TEMPLATES",
    retention=(
        Retention("arkops.core.trials.retention:archive_finished", order=20),
        Retention("arkops.core.trials.summaries:refresh_summaries", order=21),
    ),
    status=SectionPart("arkops.core.trials.sections:status", order=20),
    report=SectionPart("arkops.core.trials.sections:report", order=20),
    order=60,
    audited=("trials signup", "trials activity", "trials import", "trials track", "trials nudge"),
    config="arkops.core.trials.settings:CONFIG",
)
