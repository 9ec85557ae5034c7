"""`arkops payments ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    ColumnsOption,
    Format,
    SinceOption,
    UntilOption,
    check_window,
    checked,
    emit_json,
    emit_line,
    emit_rows,
    group,
    runtime,
    say,
)
from arkops.core.billing import PaymentStatus

app = group("Payments: revenue, MRR and its movements, churn, failed payments.")
FormatOption = Annotated[Format, typer.Option("--format", help=FORMAT_HELP)]


@app.command("report")
def payments_report(
    ctx: typer.Context,
    *,
    months: Annotated[int, typer.Option(help="How many months to show.", min=1, max=1200)] = 12,
    currency: Annotated[
        str | None,
        typer.Option(help="Report in this currency (rates from [fx]).", parser=checked("arkops.money:currency_code")),
    ] = None,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """MRR, ARR, ARPU, LTV and month-by-month movements, churn and revenue.

    Example: arkops payments report --months 6 --format json
    """
    from arkops.core.billing.report import build_report

    rt = runtime(ctx)
    report = build_report(rt, now=rt.now(), months=months, currency=currency)
    if format is Format.json:
        emit_json(report)
        return
    if format is Format.table:
        from arkops.money import format_money

        cur = report["currency"]
        ltv = format_money(report["ltv"], cur) if report["ltv"] is not None else "n/a (no churn)"
        emit_line(
            f"as of {report['as_of']}: MRR {format_money(report['mrr'], cur)}, ARR {format_money(report['arr'], cur)}, "
            f"{report['paying_customers']} paying, ARPU {format_money(report['arpu'], cur)}, LTV {ltv}"
        )
    if report["not_converted"]:
        from arkops.core.billing.sections import not_converted_text

        text = not_converted_text(report["not_converted"], rt.config.operator_locale)
        say(rt, f"not converted (no [fx] rate, see `arkops doctor`): {text}")
    from arkops.core.sections import formats
    from arkops.money import format_money

    cur = report["currency"]
    money = {
        col: (lambda v: format_money(v, cur))
        for col in ("mrr", "new", "expansion", "contraction", "churn", "reactivation", "revenue")
    }
    emit_rows(
        report["months"],
        format,
        display={**money, "logo_churn_rate": formats(rt).percent, "revenue_churn_rate": formats(rt).percent},
        drop=("reactivation", "contraction", "expansion", "churned_customers", "revenue_churn_rate"),
        chosen=columns,
    )


@app.command("movements")
def payments_movements(
    ctx: typer.Context,
    *,
    since: SinceOption = None,
    until: UntilOption = None,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Each MRR change as it happened (new, expansion, contraction, churn, reactivation), not netted by month.

    Example: arkops payments movements --since 2026-09-01 --format json
    """
    from arkops.core.billing.changes import mrr_changes

    check_window(since, until)
    rt = runtime(ctx)
    emit_rows(
        mrr_changes(rt, now=rt.now(), since=since, until=until),
        format,
        ["date", "customer", "customer_email", "kind", "from", "to", "change", "currency"],
        money=("from", "to", "change"),
        drop=("customer", "currency", "from", "to"),
        chosen=columns,
    )


@app.command("list")
def payments_list(
    ctx: typer.Context,
    *,
    month: Annotated[
        str | None,
        typer.Option(
            help="Only this month, YYYY-MM (configured time zone).", parser=checked("arkops.clock:parse_month")
        ),
    ] = None,
    status: Annotated[PaymentStatus | None, typer.Option(help="Only invoices in this state.")] = None,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Invoices in the ledger.

    Example: arkops payments list --month 2026-03 --status paid
    """
    from arkops.core.billing.refunds import unlinked_note
    from arkops.core.billing.report import payment_rows

    rt = runtime(ctx)
    emit_rows(
        payment_rows(rt, month=month, status=status),
        format,
        ["invoice", "customer_email", "status", "amount", "refunded", "credited", "disputed", "currency", "paid_at"],
        money=("amount", "refunded", "credited", "disputed"),
        drop=("currency", "credited", "disputed", "refunded", "invoice"),
        chosen=columns,
    )
    if note := unlinked_note(rt):
        say(rt, note)


@app.command("failed")
def payments_failed(
    ctx: typer.Context,
    *,
    old: Annotated[
        bool, typer.Option("--old", help="Also the old failures (last failed over [billing] failed_open_days ago).")
    ] = False,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """Open dunning cases: unpaid invoices whose payment failed within [billing] failed_open_days (60).

    Example: arkops payments failed --format csv
    """
    from arkops.core.billing.report import failed_rows

    rt = runtime(ctx)
    emit_rows(
        failed_rows(rt, now=rt.now(), old=old),
        format,
        ["invoice", "customer_email", "amount", "currency", "attempts", "failed_at", "next_attempt"]
        + (["old"] if old else []),
        money=("amount",),
        drop=("currency", "invoice", "next_attempt"),
        chosen=columns,
    )


@app.command("import")
def payments_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A payments.json file (the older format).")],
) -> None:
    """Import the older payments.json format; idempotent by invoice id.

    Example: arkops payments import old/payments.json
    """
    from arkops.core.billing.service import import_payments

    rt = runtime(ctx)
    result = import_payments(rt, file, now=rt.now())
    say(rt, f"payments import: {result.applied} imported, {result.duplicates} already present")
