"""`arkops payments ...`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from arkops.cli._output import (
    FORMAT_HELP,
    ColumnsOption,
    Format,
    SinceOption,
    UntilOption,
    check_combinations,
    check_window,
    checked,
    emit_json,
    emit_line,
    emit_rows,
    group,
    runtime,
    say,
)
from arkops.core.billing import CohortMetric, PaymentStatus, ReportBy

if TYPE_CHECKING:
    from arkops.runtime import Runtime

app = group("Payments: revenue, MRR and its movements, churn, failed payments.")
FormatOption = Annotated[Format, typer.Option("--format", help=FORMAT_HELP)]


REPORT_COLUMNS = [
    "month",
    "mrr",
    "new",
    "expansion",
    "contraction",
    "churn",
    "reactivation",
    "paying_customers",
    "new_customers",
    "churned_customers",
    "logo_churn_rate",
    "revenue_churn_rate",
    "nrr",
    "grr",
    "mrr_churn_rate",
    "net_mrr_churn_rate",
    "quick_ratio",
    "revenue",
]
MOVEMENT_COLUMNS = ["mrr", "new", "expansion", "contraction", "churn", "reactivation"]
RATE_COLUMNS = ["logo_churn_rate", "nrr", "grr", "mrr_churn_rate", "net_mrr_churn_rate"]


@app.command("report")
def payments_report(
    ctx: typer.Context,
    *,
    months: Annotated[int, typer.Option(help="How many months to show.", min=1, max=1200)] = 12,
    currency: Annotated[
        str | None,
        typer.Option(help="Report in this currency (rates from [fx]).", parser=checked("arkops.money:currency_code")),
    ] = None,
    by: Annotated[
        ReportBy | None,
        typer.Option(
            help="Split by plan (the plans of arkops.toml; 'other' for prices no plan names) "
            "or by the currency billed (each in its own currency)."
        ),
    ] = None,
    format: FormatOption = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """MRR, ARR, ARPU, LTV, retention (NRR, GRR, quick ratio) and month-by-month movements, churn and revenue.

    Example: arkops payments report --months 6 --format json
    """
    check_combinations(
        ctx, [(by is ReportBy.currency and currency is not None, "--currency does not go with --by currency")]
    )
    rt = runtime(ctx)
    if by is not None:
        _segments(rt, by, months=months, currency=currency, format=format)
        return
    from arkops.core.billing.report import build_report

    report = build_report(rt, now=rt.now(), months=months, currency=currency)
    if format is Format.json:
        emit_json(report)
        return
    cur = report["currency"]
    rows = report["months"]
    if report["not_converted"]:
        from arkops.core.billing.sections import not_converted_text

        text = not_converted_text(report["not_converted"], rt.config.operator_locale)
        say(rt, f"not converted (no [fx] rate, see `arkops doctor`): {text}")
    if format is Format.csv:
        emit_csv(rows, list(rows[0]), [*MOVEMENT_COLUMNS, "revenue"], cur)
        return
    from arkops.core.sections import formats
    from arkops.money import format_money

    fmt = formats(rt)
    ltv = format_money(report["ltv"], cur) if report["ltv"] is not None else "n/a (no churn)"
    emit_line(
        f"as of {report['as_of']}: MRR {format_money(report['mrr'], cur)}, ARR {format_money(report['arr'], cur)}, "
        f"{report['paying_customers']} paying, ARPU {format_money(report['arpu'], cur)}, LTV {ltv}; "
        f"trailing 12 months: NRR {fmt.percent(report['nrr_ttm'])}, GRR {fmt.percent(report['grr_ttm'])}"
        + _recovered_text(report["recovered"], cur)
    )
    money = {col: (lambda v: format_money(v, cur)) for col in [*MOVEMENT_COLUMNS, "revenue"]}
    rates = dict.fromkeys([*RATE_COLUMNS, "revenue_churn_rate"], fmt.percent)
    emit_rows(
        rows,
        format,
        REPORT_COLUMNS,
        display={**money, **rates, "quick_ratio": fmt.ratio},
        # a narrow terminal leaves these out first (--columns chooses); CSV and JSON have every column
        drop=(
            "reactivation",
            "contraction",
            "expansion",
            "churned_customers",
            "new_customers",
            "mrr_churn_rate",
            "net_mrr_churn_rate",
            "revenue_churn_rate",
            "grr",
        ),
        chosen=columns,
    )


def _segments(rt: Runtime, by: ReportBy, *, months: int, currency: str | None, format: Format) -> None:
    """`payments report --by plan|currency`: one document in JSON, one row per segment and month otherwise."""
    if by is ReportBy.plan:
        from arkops.core.plans.revenue import by_plan

        report = by_plan(rt, now=rt.now(), months=months, currency=currency)
    else:
        from arkops.core.billing.segments import by_currency

        report = by_currency(rt, now=rt.now(), months=months)
    if format is Format.json:
        emit_json(report)
        return
    rows = [
        {"segment": s["segment"], "name": s["name"], **month, "currency": s["currency"]}
        for s in report["segments"]
        for month in s["months"]
    ]
    revenue = ["revenue"] if by is ReportBy.currency else []
    columns = ["segment", "name", "month", "mrr", "customers", "arpu", *MOVEMENT_COLUMNS[1:], *revenue, "currency"]
    money = [*MOVEMENT_COLUMNS, "arpu", *revenue]
    if format is Format.csv:
        emit_csv(rows, columns, money, None if by is ReportBy.currency else report["currency"])
        return
    emit_rows(rows, format, columns, money=money)


def emit_csv(rows: list[dict[str, Any]], columns: list[str], money: list[str], currency: str | None) -> None:
    """CSV for a spreadsheet: a header row that says amounts are integer minor units, and of which currency
    (`mrr (EUR minor units)`; `mrr (minor units of currency)` when each row names its own)."""
    unit = f"{currency} minor units" if currency else "minor units of currency"
    named = {column: f"{column} ({unit})" for column in money}
    emit_rows(
        [{named.get(k, k): v for k, v in row.items()} for row in rows], Format.csv, [named.get(c, c) for c in columns]
    )


@app.command("cohorts")
def payments_cohorts(
    ctx: typer.Context,
    *,
    metric: Annotated[
        CohortMetric, typer.Option(help="What a cell counts: customers still paying, or their MRR.")
    ] = CohortMetric.customers,
    since: SinceOption = None,
    until: UntilOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Customers by the month they first paid, and how many of them (or how much MRR) remain each month after.

    Rows are cohorts, columns months since the first (0, 1, 2, ...), cells the
    customers still paying (or their MRR) and their share of month 0. A
    customer who left and came back counts again from their return.

    Example: arkops payments cohorts --metric mrr --since 2026-01-01 --format csv
    """
    from arkops.core.billing.cohorts import cohort_report

    check_window(since, until)
    rt = runtime(ctx)
    report = cohort_report(rt, now=rt.now(), metric=metric, since=since, until=until)
    if format is Format.json:
        emit_json(report)
        return
    cur = report["currency"]
    if format is Format.csv:
        value = "customers" if metric is CohortMetric.customers else "mrr"
        rows = [
            {"cohort": c["cohort"], **{k: v for k, v in m.items() if k != "value"}, value: m["value"]}
            for c in report["cohorts"]
            for m in c["months"]
        ]
        columns = ["cohort", "months_since", "month", value, "percent"]
        emit_csv(rows, columns, [value] if value == "mrr" else [], cur)
        return
    from arkops.core.sections import formats
    from arkops.money import format_money

    fmt = formats(rt)
    size = "customers" if metric is CohortMetric.customers else "mrr"
    width = max((len(c["months"]) for c in report["cohorts"]), default=0)
    rows = [
        {"cohort": c["cohort"], size: c[size], **{str(m["months_since"]): m["percent"] for m in c["months"]}}
        for c in report["cohorts"]
    ]
    display: dict[str, Any] = dict.fromkeys((str(k) for k in range(width)), fmt.percent)
    if size == "mrr":
        display["mrr"] = lambda v: format_money(v, cur)
    emit_rows(rows, format, ["cohort", size, *(str(k) for k in range(width))], display=display)


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


def _recovered_text(recovered: dict, currency: str) -> str:
    """The report line's account of this month's recovered payments (nothing while there is none)."""
    from arkops.money import format_money
    from arkops.text import counted

    if not recovered["invoices"]:
        return ""
    invoices = counted(recovered["invoices"], "invoice")
    return f"; recovered this month: {format_money(recovered['mrr'], currency)} MRR ({invoices})"
