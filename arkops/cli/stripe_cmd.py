"""`arkops stripe ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from arkops.cli._output import group, progress, runtime, say

app = group("Stripe: fill the ledger from the Events API.")


@app.command("sync")
def stripe_sync(
    ctx: typer.Context,
    *,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Rebuild from Stripe's lists (customers, subscriptions, invoices and their payments, charges, "
            "refunds, credit notes, disputes) when events are gone.",
        ),
    ] = False,
) -> None:
    """Pull new Stripe events (oldest first) and apply each once; cron runs it every 10 minutes.

    Example: arkops stripe sync
    """
    from arkops.core.billing.service import sync

    rt = runtime(ctx)
    with progress(rt) as shown:
        result = sync(rt, now=rt.now(), full=full, progress=shown)
    for line in result.undeliverable:
        say(rt, f"not queued: {line}")
    for line in result.notes:
        say(rt, line)
    say(rt, f"stripe sync: {result.summary()}")
