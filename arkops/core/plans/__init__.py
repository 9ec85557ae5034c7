"""Plans and usage: the plans in Stripe, checkout and portal links, subscription actions, plan migration,
usage against each plan's limits and the 80 %/100 % quota emails.

`catalog` knows the plans and who is on which, `stripe_ops` every write to Stripe (through
`StripeWriter`), `usage` the usage records, the quota check and the reports.
"""

from arkops.core.domain import Database, DemoPart, DoctorCheck, Domain, Job, Retention, SectionPart

# prices: the Stripe ids `billing plans push` created; migrations: subscriptions moved by `billing migrate`
PLANS_DB = Database("plans", version=1, personal={"prices": (), "migrations": ("email",)})
# usage: one value per customer, metric and period (keyed by them); quota: thresholds emailed, likewise;
# watched: how far each of the app's usage files was read (paths and offsets)
USAGE_DB = Database(
    "usage", version=1, personal={"usage": ("_key", "email"), "quota": ("_key", "email"), "watched": ()}
)

DOMAIN = Domain(
    name="plans",
    summary="Plans in Stripe, checkout and portal links, subscription actions, plan migration, usage quotas.",
    commands={"usage": "arkops.cli.usage:app", "billing": "arkops.cli.plans:app"},
    databases=(PLANS_DB, USAGE_DB),
    jobs=(
        Job(
            "usage-check",
            "queue the 80 % and 100 % quota emails",
            "arkops.core.plans.usage:check_job",
            every_minutes=60,
            order=35,
        ),
    ),
    checks=(
        DoctorCheck("arkops.core.plans.checks:usage_data", order=45),
        DoctorCheck("arkops.core.plans.checks:usage_files", order=45),
        DoctorCheck("arkops.core.plans.checks:stripe_prices", order=93, needs="stripe"),
    ),
    demo=DemoPart("arkops.core.plans.demo:build", order=40),
    templates="arkops.core.plans.messages:TEMPLATES",
    retention=(Retention("arkops.core.plans.usage:drop_old_periods", order=40),),
    status=SectionPart("arkops.core.plans.sections:status", order=50),
    report=SectionPart("arkops.core.plans.sections:report", order=50),
    order=55,
    audited=(
        "billing plans",
        "billing checkout",
        "billing portal",
        "billing cancel",
        "billing subscription",
        "billing migrate",
        "usage record",
        "usage import",
        "usage check",
    ),
    config="arkops.core.plans.settings:CONFIG",
)
