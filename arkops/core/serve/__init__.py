"""Serve: `arkops serve`, the HTTP face of arkops (the WSGI app lives in `arkops.serve`, beside the CLI).

This package declares what serving owns in the core: its command, its
`[serve]` settings, its doctor check, and the idempotency records that make
every write through HTTP safe to replay (`idempotency`): the first answer
to an `Idempotency-Key`, and each app event's id with its outcome. `events`
takes the web app's events (signups, activity, visits, demo requests,
usage) to the same core functions the file imports use; `health` says
whether the installation is fit to serve.
"""

from arkops.core.domain import Database, DoctorCheck, Domain, Retention

# JSON Lines day files of keyed records (`idempotency`): serve-answers holds the first response to an
# Idempotency-Key (its body may name the people it stored); serve-events each app event's id, its type and
# outcome (the reason can quote the event's email).
ANSWERS_DB = Database("serve-answers", version=1, kind="jsonl", personal={"answers": ("answer",)})
EVENTS_DB = Database("serve-events", version=1, kind="jsonl", personal={"events": ("reason",)})

DOMAIN = Domain(
    name="serve",
    summary="Serve: the HTTP endpoint for the web app, the landing page, Stripe and email recipients.",
    commands={"serve": "arkops.cli.serve:serve"},
    databases=(ANSWERS_DB, EVENTS_DB),
    checks=(DoctorCheck("arkops.core.serve.checks:serve", order=70),),
    retention=(Retention("arkops.core.serve.idempotency:drop_old", order=70),),
    order=95,
    config="arkops.core.serve.settings:CONFIG",
)
