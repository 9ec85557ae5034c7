"""`arkops promo ...`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    ColumnsOption,
    Format,
    Moment,
    PlanOption,
    check_combinations,
    emit_json,
    emit_line,
    emit_rows,
    group,
    one_of,
    runtime,
    say,
)
from arkops.errors import ExitCode
from arkops.text import Locale

if TYPE_CHECKING:
    from arkops.core.promo.redeem import Verdict

app = group("Promo codes: create, validate, redeem atomically, the landing page's counter, stats, Stripe.")
FormatOption = Annotated[Format, typer.Option("--format", help=FORMAT_HELP)]
CodeArgument = Annotated[str, typer.Argument(metavar="CODE", help="The promo code (any case).")]
EmailOption = Annotated[str, typer.Option("--email", help="The customer's email address.")]


@app.command("create")
def promo_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(metavar="CODE", help="Letters, digits, - and _ (stored upper-case).")],
    *,
    discount: Annotated[
        list[str] | None,
        typer.Option(
            "--discount",
            help="PLAN=PERCENT off, once per plan it covers (e.g. pro=33).",
            **one_of("arkops.cli._output:plan_ids", split="=", rest="arkops.core.promo.codes:percent_text"),
        ),
    ] = None,
    amount_off: Annotated[
        int | None,
        typer.Option(
            "--amount-off",
            help="A fixed amount off each invoice, in minor units (500 = 5.00).",
            min=1,
            max=1_000_000_000,
        ),
    ] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="The currency of --amount-off (ISO 4217).")] = None,
    plan: Annotated[
        list[str] | None,
        typer.Option(
            "--plan",
            help="With --amount-off: a plan it covers (default: every plan in its currency).",
            **one_of("arkops.cli._output:plan_ids"),
        ),
    ] = None,
    months: Annotated[
        # a launch offer discounted for more than three years is a typo
        int | None, typer.Option("--months", help="The discount lasts N months (a repeating coupon).", min=1, max=36)
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="The discount applies to the first invoice only (the default).")
    ] = False,
    forever: Annotated[bool, typer.Option("--forever", help="The discount lasts as long as the subscription.")] = False,
    slots: Annotated[
        int | None, typer.Option("--slots", help="Maximum redemptions (default: unlimited).", min=1, max=1_000_000)
    ] = None,
    valid_from: Annotated[
        datetime | None,
        typer.Option(
            "--valid-from",
            metavar="TIME",
            help="First day (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM) in the configured time zone, or a span (7d).",
            parser=Moment(),
        ),
    ] = None,
    valid_until: Annotated[
        datetime | None,
        typer.Option(
            "--valid-until",
            metavar="TIME",
            help="Last day (valid through its end) or the time it stops, in the configured time zone.",
            parser=Moment(end_of_day=True),
        ),
    ] = None,
) -> None:
    """Create a promo code: a discount per plan or an amount off, a duration, slots and a validity window.

    Example: arkops promo create SPRING20 --discount starter=20 --discount pro=20 --slots 50
    """
    check_combinations(
        ctx,
        [
            (
                bool(discount) == (amount_off is not None),
                "give either --discount PLAN=PERCENT (once per plan) or --amount-off with --currency",
            ),
            (
                bool(discount) and bool(plan or currency),
                "--plan and --currency go with --amount-off; --discount names its plans itself",
            ),
            (
                amount_off is not None and not currency,
                "--amount-off needs --currency (the amount is in its minor units)",
            ),
            (sum((months is not None, once, forever)) > 1, "give one duration: --months N, --once or --forever"),
            (
                valid_from is not None and valid_until is not None and valid_until <= valid_from,
                "--valid-until must be after --valid-from",
            ),
        ],
    )
    from arkops.core.promo.codes import create, new_code

    rt = runtime(ctx)
    record = new_code(
        rt,
        code,
        discounts=discount or [],
        amount_off=amount_off,
        currency=currency,
        plans=plan or [],
        months=months,
        forever=forever,
        slots=slots,
        valid_from=valid_from,
        valid_until=valid_until,
        now=rt.now(),
    )
    create(rt, record)
    say(rt, f"promo code {record['code']} created")


def _set_active(ctx: typer.Context, code: str, active: bool) -> None:
    from arkops.core.promo.codes import normalize_code, set_active

    rt = runtime(ctx)
    changed = set_active(rt, code, active, now=rt.now())
    state = "enabled" if active else "disabled"
    say(
        rt,
        f"promo code {normalize_code(code)} {state}"
        if changed
        else f"promo code {normalize_code(code)} was already {state}",
    )


@app.command("disable")
def promo_disable(ctx: typer.Context, code: CodeArgument) -> None:
    """Disable a code: validation and redemption refuse it (run `promo push` to disable it at Stripe too).

    Example: arkops promo disable LAUNCH30
    """
    _set_active(ctx, code, False)


@app.command("enable")
def promo_enable(ctx: typer.Context, code: CodeArgument) -> None:
    """Enable a disabled code again.

    Example: arkops promo enable LAUNCH30
    """
    _set_active(ctx, code, True)


@app.command("list")
def promo_list(ctx: typer.Context, *, format: FormatOption = Format.table, columns: ColumnsOption = None) -> None:
    """Promo codes with their discount, duration, slots, validity and counts.

    Example: arkops promo list --format json
    """
    from arkops.core.promo.queries import list_codes

    emit_rows(
        list_codes(runtime(ctx)),
        format,
        [
            "code",
            "discount",
            "plans",
            "duration",
            "slots",
            "used",
            "remaining",
            "valid_from",
            "valid_until",
            "active",
            "stripe",
        ],
        drop=("stripe", "plans", "valid_from", "valid_until", "duration"),
        chosen=columns,
    )


@app.command("show")
def promo_show(
    ctx: typer.Context, code: CodeArgument, *, format: FormatOption = Format.table, columns: ColumnsOption = None
) -> None:
    """One code: its settings, counts by plan, and every redemption.

    Example: arkops promo show LAUNCH30
    """
    from arkops.core.promo.queries import show

    result = show(runtime(ctx), code)
    if format is Format.json:
        emit_json(result)
        return
    if format is Format.table:
        slots = (
            "unlimited"
            if result["slots"] is None
            else f"{result['used']} of {result['slots']} used, {result['remaining']} left"
        )
        emit_line(
            f"{result['code']}: {result['discount']} for {result['duration']}, {slots}, "
            f"{'active' if result['active'] else 'disabled'}, valid {result['valid_from'] or '-'} to {result['valid_until'] or '-'}"
        )
        emit_line("by plan: " + (", ".join(f"{p} {n}" for p, n in result["by_plan"].items()) or "none"))
    emit_rows(
        result["redemptions"],
        format,
        ["email", "plan", "state", "source", "redeemed_at", "released_at"],
        drop=("released_at", "source"),
        chosen=columns,
    )


def _verdict_out(verdict: Verdict, format: Format) -> None:
    from arkops.money import format_money

    if format is Format.json:
        emit_json(verdict.as_dict())
    elif verdict.valid:
        print(
            f"{verdict.code} applies to {verdict.plan}: {format_money(verdict.discounted_price, verdict.currency)} "
            f"instead of {format_money(verdict.price, verdict.currency)} per {verdict.interval}"
        )
    else:
        print(f"{verdict.code} does not apply to {verdict.plan}: {verdict.reason}")


@app.command("validate")
def promo_validate(
    ctx: typer.Context,
    code: CodeArgument,
    *,
    plan: PlanOption,
    email: Annotated[str | None, typer.Option("--email", help="Also check this email has not used it.")] = None,
    format: Annotated[Format, typer.Option("--format", help="Output format: table (one line) or json.")] = Format.table,
) -> None:
    """Whether a code applies to a plan now and the discounted price, or why not (exit 0 valid, 1 not).

    Example: arkops promo validate LAUNCH30 --plan pro --email ana@example.com
    """
    from arkops.core.promo.redeem import validate

    rt = runtime(ctx)
    verdict = validate(rt, code, plan, email, now=rt.now())
    _verdict_out(verdict, format)
    raise typer.Exit(ExitCode.OK if verdict.valid else ExitCode.CHECK_FAILED)


class Segment(StrEnum):
    trials = "trials"
    leads = "leads"
    customers = "customers"


@app.command("announce")
def promo_announce(
    ctx: typer.Context,
    code: CodeArgument,
    *,
    to: Annotated[
        Path | None,
        typer.Option("--to", help="A CSV of recipients: an `email` column (and `locale`), or one address a line."),
    ] = None,
    segment: Annotated[
        Segment | None,
        typer.Option(
            "--segment",
            help="trials (not converted), leads (with an email) or customers (a current subscription).",
        ),
    ] = None,
    when: Annotated[
        datetime | None,
        typer.Option(
            "--when",
            metavar="TIME",
            help="When it goes out (default: now): a day (its start) or YYYY-MM-DDTHH:MM, in the configured time zone.",
            parser=Moment(),
        ),
    ] = None,
    follow_up_days: Annotated[
        int | None,
        typer.Option(
            "--follow-up-days",
            help="N days later, a reminder to those who have not redeemed (sent by the promo-sync job).",
            min=1,
            max=60,
        ),
    ] = None,
) -> None:
    """Queue the announcement of a code to a CSV's addresses or a segment, and optionally its follow-up.

    Example: arkops promo announce LAUNCH30 --segment trials --follow-up-days 3
    """
    check_combinations(ctx, [((to is None) == (segment is None), "give one of --to FILE.csv or --segment")])
    from arkops.core.promo.announce import announce

    rt = runtime(ctx)
    report = announce(
        rt,
        code,
        to_file=to,
        segment=segment.value if segment else None,
        when=when,
        follow_up_days=follow_up_days,
        now=rt.now(),
    )
    for line in report.skipped:
        say(rt, f"skipped {line}")
    say(rt, f"promo announce: {report.summary()}")
    raise typer.Exit(ExitCode.BAD_DATA if report.skipped else ExitCode.OK)


@app.command("redeem")
def promo_redeem(
    ctx: typer.Context,
    code: CodeArgument,
    *,
    email: EmailOption,
    plan: PlanOption,
    locale: Annotated[Locale | None, typer.Option(help="The customer's language for the confirmation email.")] = None,
    format: Annotated[Format, typer.Option("--format", help="Output format: table (one line) or json.")] = Format.table,
) -> None:
    """Redeem a code for an email and plan, atomically (exit 0 redeemed, 1 refused with the reason, 3 bad input).

    Example: arkops promo redeem LAUNCH30 --email ana@example.com --plan pro
    """
    from arkops.core.promo.redeem import redeem

    rt = runtime(ctx)
    verdict = redeem(rt, code, email, plan, locale=locale, now=rt.now())
    for warning in verdict.warnings:
        say(rt, f"warning: {warning}")
    _verdict_out(verdict, format)
    if verdict.valid:
        say(
            rt,
            f"{verdict.email} redeemed {verdict.code}"
            + ("" if verdict.remaining is None else f", {verdict.remaining} left"),
        )
    raise typer.Exit(ExitCode.OK if verdict.valid else ExitCode.CHECK_FAILED)


@app.command("release")
def promo_release(ctx: typer.Context, code: CodeArgument, *, email: EmailOption) -> None:
    """Give a redemption's slot back (a refunded or abandoned checkout); the release is recorded.

    Example: arkops promo release LAUNCH30 --email ana@example.com
    """
    from arkops.core.promo.redeem import release

    rt = runtime(ctx)
    result = release(rt, code, email, now=rt.now())
    for warning in result.warnings:
        say(rt, f"warning: {warning}")
    say(
        rt,
        f"{result.email}'s slot of {result.code} released"
        if result.released
        else f"{result.email}'s slot of {result.code} was already released",
    )


@app.command("remaining")
def promo_remaining(
    ctx: typer.Context,
    code: CodeArgument,
    *,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            help="Also write the JSON to FILE (atomically), and rewrite it after every redemption and release.",
        ),
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="Output format: table (one line) or json.")] = Format.table,
) -> None:
    """Slots used and left, for the landing page's counter: JSON {code, slots, used, remaining, percent_filled}.

    Example: arkops promo remaining LAUNCH30 --format json --write app/promo-launch30.json
    """
    from arkops.core.promo.redeem import remaining

    rt = runtime(ctx)
    doc, problems = remaining(rt, code, write=write)
    for problem in problems:
        say(rt, f"warning: {problem}")
    if format is Format.json:
        emit_json(doc)
    elif doc["slots"] is None:
        print(f"{doc['code']}: {doc['used']} used, unlimited")
    else:
        print(
            f"{doc['code']}: {doc['remaining']} of {doc['slots']} left ({doc['used']} used, {doc['percent_filled']} % filled)"
        )
    raise typer.Exit(ExitCode.BAD_DATA if problems else ExitCode.OK)


@app.command("stats")
def promo_stats(
    ctx: typer.Context,
    code: Annotated[str | None, typer.Argument(metavar="CODE", help="One code (default: every code).")] = None,
    *,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Redemptions by plan and day, slots left, revenue after discount, and from the ledger who pays and who left.

    Example: arkops promo stats LAUNCH30 --format json
    """
    from arkops.core.promo.stats import stats

    rt = runtime(ctx)
    rows = stats(rt, code, now=rt.now())
    if format is Format.json:
        emit_json(rows)
        return
    emit_rows(
        rows,
        format,
        [
            "code",
            "used",
            "remaining",
            "by_plan",
            "by_day",
            "monthly_revenue_after_discount",
            "paying_now",
            "paid",
            "churned",
            "churned_at_discount_end",
        ],
        money=("monthly_revenue_after_discount", "paid"),
        drop=("by_day", "by_plan", "churned_at_discount_end", "paid", "churned"),
        chosen=columns,
    )


@app.command("push")
def promo_push(
    ctx: typer.Context,
    code: CodeArgument,
    *,
    live: Annotated[
        bool, typer.Option("--live", help="Allow writes with a live key (sk_live_); or set ARKOPS_ALLOW_LIVE=1.")
    ] = False,
) -> None:
    """Create the code's Stripe coupon and promotion code (a second push sends nothing; --dry-run prints the requests).

    Example: arkops promo push LAUNCH30
    """
    from arkops.core.promo.push import push

    rt = runtime(ctx)
    result = push(rt, code, live=live, now=rt.now())
    for warning in result.warnings:
        say(rt, f"warning: {warning}")
    for line in result.planned:
        print(line)
    if rt.dry_run:
        say(rt, f"promo push {result.code}: dry run, {len(result.planned)} requests not sent")
    else:
        say(
            rt,
            f"promo push {result.code}: "
            + (", ".join(result.created) + " at Stripe" if result.created else "Stripe already matches, nothing sent"),
        )


@app.command("export")
def promo_export(
    ctx: typer.Context,
    *,
    format: Annotated[
        Format, typer.Option("--format", help="Output format: csv (default), json or table.")
    ] = Format.csv,
    columns: ColumnsOption = None,
) -> None:
    """Every redemption of every code (through arkops and seen at Stripe).

    Example: arkops promo export --format json
    """
    from arkops.core.promo.queries import export

    emit_rows(
        export(runtime(ctx)),
        format,
        ["code", "email", "plan", "state", "source", "redeemed_at", "released_at"],
        drop=("released_at", "source"),
        chosen=columns,
    )
