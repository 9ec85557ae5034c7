"""Billing: the ledger of Stripe customers, subscriptions, invoices and refunds, and its reports.

`ledger` is the one `apply(event)` path, `service` fills it (sync, webhooks,
imports), `report` turns it into MRR, movements, churn and revenue.
"""

from enum import StrEnum

from arkops.core.domain import Database, DemoPart, DoctorCheck, Domain, Job, Retention, SectionPart


class PaymentStatus(StrEnum):
    """How `payments list` sees an invoice."""

    paid = "paid"
    failed = "failed"
    refunded = "refunded"
    disputed = "disputed"
    void = "void"
    uncollectible = "uncollectible"


class ReportBy(StrEnum):
    """How `payments report --by` splits the ledger."""

    plan = "plan"
    currency = "currency"


class CohortMetric(StrEnum):
    """What a cell of `payments cohorts` counts."""

    customers = "customers"
    mrr = "mrr"


class SubscriptionStatus(StrEnum):
    """Stripe's subscription statuses."""

    incomplete = "incomplete"
    incomplete_expired = "incomplete_expired"
    trialing = "trialing"
    active = "active"
    past_due = "past_due"
    canceled = "canceled"
    unpaid = "unpaid"
    paused = "paused"


def no_stripe_key(rt: object) -> str | None:
    """Why `stripe-sync` is skipped; kept here so a tick with nothing due imports none of the billing code."""
    from arkops.config import env

    return None if env("STRIPE_SECRET_KEY") else "no STRIPE_SECRET_KEY set"


LEDGER_DB = Database(
    "ledger",
    version=3,
    # Only customers and invoices name a person; the other tables hold Stripe ids, amounts and dates
    # (events: applied event ids; sync: cursors; flags: one-time alerts; unresolved: ids still unknown;
    # skipped_fields: the fields an event was applied without, by object id and field name, never their values).
    personal={
        "customers": ("email", "name"),
        "invoices": ("customer_email",),
        **dict.fromkeys(
            (
                "subscriptions",
                "subscriptions_history",
                "refunds",
                "disputes",
                "credit_notes",
                "payment_links",
                "coupons",
                "discounts",
                "customer_discounts",
                "tax_rates",
                "events",
                "sync",
                "flags",
                "unresolved",
                "skipped_fields",
            ),
            (),
        ),
    },
    migrations="arkops.core.billing.ledger:MIGRATIONS",
    archive=True,
    forget="arkops.core.billing.privacy:forget",
    export="arkops.core.billing.privacy:export",
)

DOMAIN = Domain(
    name="billing",
    summary="The Stripe ledger (sync, webhooks, imports) and revenue reports.",
    commands={
        "stripe": "arkops.cli.stripe_cmd:app",
        "webhooks": "arkops.cli.webhooks:app",
        "payments": "arkops.cli.payments:app",
        "billing": "arkops.cli.billing:app",
    },
    databases=(LEDGER_DB,),
    jobs=(
        Job(
            "stripe-sync",
            "pull new Stripe events into the ledger",
            "arkops.core.billing.service:sync_job",
            every_minutes=10,
            order=10,
            skip_reason="arkops.core.billing:no_stripe_key",
        ),
        Job(
            "dunning",
            "remind customers of failed payments while the invoice stays open",
            "arkops.core.billing.dunning:run",
            every_minutes=60,
            order=80,  # after the jobs that fill the ledger, before mail-flush sends what it queued
        ),
    ),
    checks=(
        DoctorCheck("arkops.core.billing.checks:stripe_settings", order=30),
        DoctorCheck("arkops.core.billing.checks:ledger_unresolved", order=31),
        DoctorCheck("arkops.core.billing.checks:invoice_amounts", order=32),
        DoctorCheck("arkops.core.billing.checks:exchange_rates", order=33),
        DoctorCheck("arkops.core.billing.checks:skipped_fields", order=34),
        DoctorCheck("arkops.core.billing.checks:refunds_unlinked", order=35),
        DoctorCheck("arkops.core.billing.checks:stripe_api", order=92, needs="stripe"),
    ),
    demo=DemoPart("arkops.core.billing.demo:build", order=20),
    templates="arkops.core.billing.messages:TEMPLATES",
    retention=(
        Retention("arkops.core.billing.retention:fold_event_ids", order=30),
        Retention("arkops.core.billing.retention:archive_settled_invoices", order=31),
        Retention("arkops.core.billing.summaries:refresh_summaries", order=32),
    ),
    status=SectionPart("arkops.core.billing.sections:status", order=10),
    report=SectionPart("arkops.core.billing.sections:report", order=10),
    order=50,
    audited=("stripe sync", "webhooks ingest", "webhooks serve", "payments import"),
    config="arkops.core.billing.settings:CONFIG",
)
