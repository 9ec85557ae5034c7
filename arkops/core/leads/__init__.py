"""Leads: visits to tracked pages from access logs and the app, bots filtered, visitors scored, hot leads emailed.

`visits` holds the tracked pages, the stored visit record and the day files,
`ingest` reads logs incrementally, `scoring` the visitors and their scores
(list, show, stats), `scan` the 15-minute digest, `imports` the app's lead
lists, and `query` the read API other domains (the funnel) use.
"""

from arkops.core.domain import Database, DemoPart, DoctorCheck, Domain, Job, Retention, SectionPart

# One JSON Lines file per UTC day under visits/; the referrer is stored without its query string.
# Privacy reaches a person's visits through their visitor ids too (`leads.privacy`): declared before
# `leads`, so the imported leads that link a visitor to an email still exist when it runs.
VISITS_DB = Database(
    "visits",
    version=1,
    kind="jsonl",
    personal={"visits": ("ip", "user_agent", "email", "referrer", "ref")},
    forget="arkops.core.leads.privacy:forget",
    export="arkops.core.leads.privacy:export",
)
LEADS_DB = Database(
    "leads",
    version=1,
    # imports: demo requests and lead lists; alerts: keyed by visitor id, email or "trial:<email>"; sources and
    # watched: how far each log and each demo request file was read (paths and offsets); meta: the ingest
    # journal and the digests' times.
    personal={
        "imports": ("_key", "email", "name", "company", "ip", "user_agent", "visitor"),
        "alerts": ("_key",),
        "sources": (),
        "watched": (),
        "meta": (),
    },
)

DOMAIN = Domain(
    name="leads",
    summary="Hot leads: visits from access logs and the app, bot filtering, scoring and 15-minute digests.",
    commands={"leads": "arkops.cli.leads:app"},
    databases=(VISITS_DB, LEADS_DB),
    jobs=(
        Job(
            "leads-scan",
            "ingest the access logs and email the new hot leads",
            "arkops.core.leads.scan:scan",
            every_minutes=15,
            order=25,
        ),
    ),
    checks=(
        DoctorCheck("arkops.core.leads.checks:sources", order=45),
        DoctorCheck("arkops.core.leads.checks:demo_request_files", order=45),
    ),
    demo=DemoPart("arkops.core.leads.demo:build", order=30),
    templates="arkops.core.leads.messages:TEMPLATES",
    retention=(
        Retention("arkops.core.leads.retention:drop_old_visits", order=30),
        Retention("arkops.core.leads.retention:drop_old_alerts", order=31),
    ),
    status=SectionPart("arkops.core.leads.sections:status", order=30),
    report=SectionPart("arkops.core.leads.sections:report", order=30),
    order=65,
    audited=("leads ingest", "leads import", "leads scan"),
    config="arkops.core.leads.settings:CONFIG",
)
