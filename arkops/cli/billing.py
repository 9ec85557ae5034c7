"""`arkops billing subscriptions`: the billing domain's part of `arkops billing`.

The plans domain adds the group's other commands (checkout, portal, cancel,
subscription, migrate, plans) from `arkops/cli/plans.py`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from arkops.cli._output import FORMAT_HELP, ColumnsOption, Format, emit_rows, group, runtime
from arkops.core.billing import SubscriptionStatus

app = group("Billing: subscriptions, plans, checkout and portal links, cancel, plan migration.")


@app.command("subscriptions")
def billing_subscriptions(
    ctx: typer.Context,
    *,
    status: Annotated[
        SubscriptionStatus | None, typer.Option(help="Only subscriptions with this Stripe status.")
    ] = None,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Subscriptions with their current MRR, paused collection, and what Stripe has not told yet (run `stripe sync`).

    Example: arkops billing subscriptions --status active
    """
    from arkops.core.billing.report import subscription_rows

    rt = runtime(ctx)
    emit_rows(
        subscription_rows(rt, status=status, now=rt.now()),
        format,
        [
            "subscription",
            "customer_email",
            "status",
            "plan",
            "mrr",
            "currency",
            "paused",
            "unresolved",
            "cancel_at_period_end",
            "started",
            "ended",
        ],
        money=("mrr",),
        drop=("subscription", "unresolved", "paused", "cancel_at_period_end", "ended", "currency", "started"),
        chosen=columns,
    )
