"""Analytics: web-analytics aggregates (Plausible, GA4) as a second source beside the access logs.

`aggregates` asks the configured provider for unique visitors of the
tracked pages in a window (in all, per page, per week, per source, per day)
and gives them to the funnel (`funnel report --visitors-from analytics`)
and to `leads stats --compare`; `checks` the doctor check. Aggregates name
no individual, so hot leads stay built from the logs and events: see
docs/analytics.md. Nothing is stored: every report asks the provider.
"""

from arkops.core.domain import DoctorCheck, Domain

DOMAIN = Domain(
    name="analytics",
    summary="Web analytics (Plausible, GA4): visitors per page, day and source beside the access logs' counts.",
    checks=(DoctorCheck("arkops.core.analytics.checks:settings", order=72),),
    order=71,
    config="arkops.core.analytics.settings:CONFIG",
)
