"""Cron: `arkops run` runs the jobs every domain declares (`runner`); `cronline` prints the crontab line;
`retention` applies every domain's retention rules, daily."""

from arkops.core.domain import Database, Domain, Job, SectionPart

JOBS_DB = Database("jobs", version=1, personal={"runs": ("detail",)}, forget="arkops.core.jobs.privacy:forget")

DOMAIN = Domain(
    name="jobs",
    summary="One cron entry: `arkops run`, the job table and the crontab line.",
    commands={
        "run": "arkops.cli.jobs:run",
        "jobs": "arkops.cli.jobs:jobs",
        "cron": "arkops.cli.jobs:cron_app",
        "retention": "arkops.cli.jobs:retention",
    },
    databases=(JOBS_DB,),
    jobs=(
        Job(
            "retention",
            "archive finished records, drop old bodies and event ids (every domain's retention rules)",
            "arkops.core.jobs.retention:run",
            daily_at="03:30",
            order=80,
        ),
    ),
    status=SectionPart("arkops.core.jobs.sections:status", order=90),
    report=SectionPart("arkops.core.jobs.sections:report", order=90),
    order=20,
    audited=("retention",),
    config="arkops.core.jobs.settings:CONFIG",
)
