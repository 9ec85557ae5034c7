"""Cron: `arkops run` runs the jobs every domain declares (`runner`); `cronline` prints the crontab line."""

from arkops.core.domain import Database, Domain

DOMAIN = Domain(
    name="jobs",
    summary="One cron entry: `arkops run`, the job table and the crontab line.",
    commands={
        "run": "arkops.cli.jobs:run",
        "jobs": "arkops.cli.jobs:jobs",
        "cron": "arkops.cli.jobs:cron_app",
    },
    databases=(Database("jobs", version=1, personal={}),),
    order=20,
)
