"""`arkops billing ...` commands of the plans domain: the plans in Stripe, checkout and portal links,
cancel, the subscription of one customer, plan migration. They sit under `arkops billing` beside the
billing domain's own `billing subscriptions` (`arkops/cli/billing.py`): both domains declare the group.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    ColumnsOption,
    Format,
    PlanOption,
    emit_json,
    emit_rows,
    group,
    one_of,
    runtime,
    say,
)
from arkops.errors import ExitCode, UsageError
from arkops.money import format_money
from arkops.runtime import Runtime

if TYPE_CHECKING:  # kept out of `arkops --help`
    from arkops.core.plans.stripe_ops import Link

app = group("Plans in Stripe, checkout and portal links, cancel, subscription, plan migration.")

FormatOption = Annotated[Format, typer.Option("--format", help=FORMAT_HELP)]
EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The customer's email address.")]
LiveOption = Annotated[
    bool,
    typer.Option("--live", help="Allow writing to Stripe with a live key (sk_live_); also ARKOPS_ALLOW_LIVE=1."),
]


class PlansAction(StrEnum):
    push = "push"


def _planned(rt: Runtime, planned: list[str]) -> None:
    """Under --dry-run, the requests that were not sent, one a line on stdout."""
    for line in planned:
        print(f"dry-run: {line}")


@app.command("plans")
def billing_plans(
    ctx: typer.Context,
    action: Annotated[
        PlansAction | None,
        typer.Argument(
            help="push: create in Stripe the products and prices of the plans without a stripe_price, and record them."
        ),
    ] = None,
    *,
    live: LiveOption = False,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """The plans with their price, Stripe price id, limits and customers; `push` creates the missing prices in Stripe.

    Example: arkops billing plans --format json
    """
    from arkops.core.plans.stripe_ops import plan_rows, push

    rt = runtime(ctx)
    if action is PlansAction.push:
        result = push(rt, live=live, now=rt.now())
        _planned(rt, result.planned)
        say(rt, f"plans push: {result.summary()}")
        return
    emit_rows(
        plan_rows(rt),
        format,
        ["plan", "name", "price", "currency", "interval", "stripe_price", "limits", "customers"],
        money=("price",),
        drop=("currency", "name", "limits"),
        chosen=columns,
    )


@app.command("checkout")
def billing_checkout(
    ctx: typer.Context,
    email: EmailArgument,
    *,
    plan: PlanOption,
    trial_days: Annotated[
        int | None,
        typer.Option(help="Trial days without card (default: [billing] checkout_trial_days).", min=0, max=730),
    ] = None,
    promo: Annotated[
        str | None, typer.Option(help="A promotion code to apply (else the customer may enter one).")
    ] = None,
    success_url: Annotated[
        str | None, typer.Option(help="Where Stripe sends the customer after paying (default from [billing]).")
    ] = None,
    cancel_url: Annotated[
        str | None, typer.Option(help="Where Stripe sends a customer who turns back (default from [billing]).")
    ] = None,
    live: LiveOption = False,
    format: Annotated[Format, typer.Option("--format", help="table prints the URL; json: id, url, expires_at.")] = (
        Format.table
    ),
) -> None:
    """A Stripe Checkout link for a plan: prints the URL (json: id, url, expires_at).

    Example: arkops billing checkout ana@example.com --plan pro --trial-days 14 --promo LAUNCH30
    """
    from arkops.core.plans.stripe_ops import checkout

    rt = runtime(ctx)
    link = checkout(
        rt,
        email,
        plan,
        trial_days=trial_days,
        promo=promo,
        success_url=_url(success_url, "--success-url"),
        cancel_url=_url(cancel_url, "--cancel-url"),
        live=live,
        now=rt.now(),
    )
    _link(rt, link, format)


def _url(value: str | None, option: str) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise typer.BadParameter(f"{value!r} is not an http(s) URL", param_hint=option)
    return value


def _link(rt: Runtime, link: Link, format: Format) -> None:
    if link.planned:
        _planned(rt, link.planned)
    elif format is Format.json:
        emit_json(link.as_dict())
    else:
        print(link.url)


@app.command("portal")
def billing_portal(
    ctx: typer.Context,
    email: EmailArgument,
    *,
    live: LiveOption = False,
    format: Annotated[Format, typer.Option("--format", help="table prints the URL; json: id, url.")] = Format.table,
) -> None:
    """A Stripe billing-portal link for a customer: prints the URL.

    Example: arkops billing portal ana@example.com
    """
    from arkops.core.plans.stripe_ops import portal

    rt = runtime(ctx)
    _link(rt, portal(rt, email, live=live, now=rt.now()), format)


@app.command("cancel")
def billing_cancel(
    ctx: typer.Context,
    email: EmailArgument,
    *,
    now: Annotated[bool, typer.Option("--now", help="Cancel immediately instead of at the period's end.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    live: LiveOption = False,
) -> None:
    """Cancel a customer's subscription at the period's end (or --now); asks first unless --yes.

    Example: arkops billing cancel ana@example.com --now --yes
    """
    import sys

    from arkops.core.plans.stripe_ops import cancel, cancel_target

    rt = runtime(ctx)
    target = cancel_target(rt, email)
    sub_id = target.subscription["id"] if target.subscription else None
    if not yes and not rt.dry_run:
        if not sys.stdin.isatty():
            raise UsageError("stdin is not a terminal, so arkops cannot ask: add --yes to cancel")
        when = "now" if now else "at the end of the current period"
        if not typer.confirm(f"Cancel {sub_id} of {target.email} {when}?", err=True):
            say(rt, "nothing canceled")
            raise typer.Exit(ExitCode.OK)
    done = cancel(rt, email, immediately=now, live=live, now=rt.now())
    if done.planned:
        _planned(rt, done.planned)
        return
    if done.at_period_end:
        ends = f" on {done.period_end}" if done.period_end else ""
        say(rt, f"{done.subscription} of {done.email} cancels at the period's end{ends}")
    else:
        say(rt, f"{done.subscription} of {done.email} canceled now ({done.status})")


@app.command("subscription")
def billing_subscription(
    ctx: typer.Context,
    email: EmailArgument,
    *,
    refresh: Annotated[bool, typer.Option("--refresh", help="Read Stripe first and update the ledger.")] = False,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """A customer's subscription: status, plan, period end, cancel at period end, discount.

    Example: arkops billing subscription ana@example.com --refresh
    """
    from arkops.core.plans.stripe_ops import subscription

    rt = runtime(ctx)
    info = subscription(rt, email, refresh=refresh, now=rt.now())
    if format is Format.json:
        emit_json(info)
    else:
        emit_rows([info], format, list(info), chosen=columns)


@app.command("migrate")
def billing_migrate(
    ctx: typer.Context,
    *,
    map: Annotated[
        list[str],
        typer.Option(
            "--map",
            help="OLD=NEW plan ids, e.g. starter=pro (repeatable).",
            **one_of("arkops.cli._output:plan_ids", split="=", parts=2),
        ),
    ],
    apply: Annotated[bool, typer.Option("--apply", help="Move the subscriptions in Stripe (else only the plan).")] = (
        False
    ),
    prorate: Annotated[bool, typer.Option("--prorate", help="Let Stripe prorate the change (default: none).")] = False,
    live: LiveOption = False,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Move existing customers to another plan: the plan of changes with MRR before and after; --apply does it.

    Example: arkops billing migrate --map starter=pro
    """
    from arkops.core.plans.stripe_ops import migrate, parse_map

    rt = runtime(ctx)
    mapping = parse_map(map, rt)
    result = migrate(
        rt, mapping, apply=apply, prorate=prorate, live=live, now=rt.now(), progress=lambda line: say(rt, line)
    )
    _planned(rt, result.planned)
    rows = [change.as_row() for change in result.changes]
    if format is Format.json:
        emit_json({"changes": rows, "mrr_change": result.mrr_change, "currency": result.currency})
    else:
        emit_rows(
            rows,
            format,
            ["customer_email", "subscription", "old_plan", "new_plan", "mrr_before", "mrr_after", "currency", "state"],
            money=("mrr_before", "mrr_after"),
            drop=("currency", "subscription"),
            chosen=columns,
        )
        say(rt, f"MRR change: {format_money(result.mrr_change, result.currency)} ({result.summary()})")
