"""Billing's part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arkops.clock import local_time, parse_iso
from arkops.core.billing import CohortMetric
from arkops.core.billing.cohorts import cohort_rows
from arkops.core.billing.report import MOVEMENT_KINDS, History, failed_rows, history, report_of
from arkops.core.sections import Chart, Figure, Formats, Section, Table, formats, table
from arkops.money import format_money
from arkops.runtime import Runtime

GRAPH_MONTHS = 12
STATUS_COHORTS = 6  # status: the cohorts of the last six months, months 0 to 5; the report: twelve, 0 to 11


def _figures(rt: Runtime, report: dict[str, Any], failures: list[dict], fmt: Formats) -> list[Figure]:
    cur = report["currency"]
    month = report["months"][-1]
    moved = {kind: month[kind] for kind in MOVEMENT_KINDS}
    moved_text = ", ".join(f"{kind} {fmt.money(v, signed=True)}" for kind, v in moved.items() if v) or "no movement"
    figures = [
        Figure("mrr", "MRR", report["mrr"], fmt.money(report["mrr"]), currency=cur),
        Figure("movements", f"Movements {month['month']}", moved, moved_text, currency=cur),
        Figure(
            "net_movement",
            "Net this month",
            sum(moved.values()),
            fmt.money(sum(moved.values()), signed=True),
            currency=cur,
        ),
        Figure(
            "revenue_month", f"Revenue {month['month']}", month["revenue"], fmt.money(month["revenue"]), currency=cur
        ),
    ]
    goal = rt.config["goals"]["mrr"]
    if goal:
        progress = report["mrr"] / goal
        figures.append(
            Figure("goal", "Towards the MRR goal", round(progress, 4), f"{fmt.percent(progress)} of {fmt.money(goal)}")
        )
    failed = [row for row in failures if not row["old"]]
    old = [row for row in failures if row["old"]]
    owed = sum(row["amount"] for row in failed if row["currency"].upper() == cur)
    figures += [
        Figure(
            "paying_customers", "Paying customers", report["paying_customers"], fmt.number(report["paying_customers"])
        ),
        Figure("arpu", "ARPU", report["arpu"], fmt.money(report["arpu"]), currency=cur),
        Figure(
            "logo_churn_rate",
            f"Logo churn {month['month']}",
            month["logo_churn_rate"],
            f"{fmt.percent(month['logo_churn_rate'])} ({month['churned_customers']} left)",
        ),
        Figure(
            "failed_payments",
            "Failed payments open",
            len(failed),
            f"{len(failed)} ({fmt.money(owed)})" if failed else "0",
            red=bool(failed),
            note="see `arkops payments failed`" if failed else "",
        ),
    ]
    if old:
        days = rt.config["billing"]["failed_open_days"]
        figures.append(
            Figure(
                "old_failures", "Old failures", len(old), fmt.number(len(old)), note=f"last failed over {days} days ago"
            )
        )
    if report["not_converted"]:
        figures.append(
            Figure(
                "not_converted",
                "Not converted",
                report["not_converted"],
                not_converted_text(report["not_converted"], fmt.locale),
                note="no [fx] rate: add it to arkops.toml (see `arkops doctor`)",
            )
        )
    return figures


def _yearly_figures(report: dict[str, Any], fmt: Formats) -> list[Figure]:
    """The report's cards beside status's: ARR, LTV, and the month's revenue churn (logo churn is status's)."""
    cur = report["currency"]
    month = report["months"][-1]
    ltv = report["ltv"]
    return [
        Figure("arr", "ARR", report["arr"], fmt.money(report["arr"]), currency=cur, note="12 x MRR"),
        Figure(
            "ltv",
            "LTV",
            ltv,
            fmt.money(ltv) if ltv is not None else "n/a",
            currency=cur,
            note="ARPU / average logo churn of the last 6 months" if ltv is not None else "no churn yet",
        ),
        Figure(
            "revenue_churn_rate",
            f"Revenue churn {month['month']}",
            month["revenue_churn_rate"],
            fmt.percent(month["revenue_churn_rate"]),
            note="MRR lost to churn and contraction, of the month's opening MRR",
        ),
    ]


def not_converted_text(amounts: list[dict[str, Any]], locale: str) -> str:
    """`revenue JPY 1,000, MRR JPY 500`: what `report.not_converted` leaves out of the figures."""
    names = {"mrr": "MRR", "revenue": "revenue"}
    return ", ".join(
        f"{names[a['figure']]} {format_money(a['amount_minor'], a['currency'], locale, code=True)}" for a in amounts
    )


def _mrr_chart(report: dict[str, Any], fmt: Formats, *, movements: bool) -> Chart:
    months = report["months"]
    labels = [m["month"] for m in months]
    first, last = months[0], months[-1]
    alt = (
        f"MRR from {fmt.money(first['mrr'])} in {first['month']} to {fmt.money(last['mrr'])} in {last['month']}"
        f" (highest {fmt.money(max(m['mrr'] for m in months))})."
    )
    series: dict[str, list[float]] = {"mrr": [m["mrr"] for m in months]}
    if movements:
        series.update({kind: [m[kind] for m in months] for kind in MOVEMENT_KINDS})
        alt += " Bars: each month's new, expansion and reactivation above zero, contraction and churn below."
    return Chart(
        "mrr",
        "MRR and its movements" if movements else "MRR, 12 months",
        "stacked" if movements else "line",
        labels,
        series,
        "money",
        alt,
        currency=report["currency"],
        line="mrr",
    )


def _retention_figures(report: dict[str, Any], fmt: Formats) -> list[Figure]:
    """This month's NRR, GRR and quick ratio, then the trailing twelve months' NRR and GRR (docs/billing.md)."""
    month = report["months"][-1]
    name = month["month"]
    quick = month["quick_ratio"]
    return [
        Figure("nrr", f"NRR {name}", month["nrr"], fmt.percent(month["nrr"])),
        Figure("grr", f"GRR {name}", month["grr"], fmt.percent(month["grr"])),
        Figure(
            "quick_ratio",
            f"Quick ratio {name}",
            quick,
            fmt.ratio(quick) if quick is not None else "n/a (nothing lost)",
            note="MRR gained / MRR lost",
        ),
        Figure("nrr_ttm", "NRR, 12 months", report["nrr_ttm"], fmt.percent(report["nrr_ttm"])),
        Figure("grr_ttm", "GRR, 12 months", report["grr_ttm"], fmt.percent(report["grr_ttm"])),
    ]


def _cohort_table(built: History, fmt: Formats, count: int) -> Table:
    """The cohorts of the last `count` months: customers still paying, month 0 to `count` - 1, as a heat table."""
    rows = cohort_rows(built, CohortMetric.customers, last=count)
    months = [f"m{k}" for k in range(count)]
    shown = [
        {
            "cohort": row["cohort"],
            "customers": row["customers"],
            **{f"m{cell['months_since']}": cell["percent"] for cell in row["months"][:count]},
        }
        for row in rows
    ]
    return table(
        "retention_cohorts",
        "Customers still paying, by month of first payment",
        [("cohort", "Cohort"), ("customers", "Customers"), *((m, m.upper()) for m in months)],
        shown,
        {**dict.fromkeys(months, fmt.percent), "customers": fmt.number},
        empty="nobody has paid yet",
        heat=months,
    )


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    built = history(rt, now=now, months=GRAPH_MONTHS)
    report = report_of(built, shown=GRAPH_MONTHS, now=now)
    fmt = formats(rt)
    return [
        Section(
            "revenue",
            "Revenue",
            _figures(rt, report, failed_rows(rt, built.ledger, now=now, old=True), fmt)
            + _retention_figures(report, fmt),
            charts=[_mrr_chart(report, fmt, movements=False)],
            tables=[_cohort_table(built, fmt, STATUS_COHORTS)],
        )
    ]


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    built = history(rt, now=now, months=months)
    report = report_of(built, shown=months, now=now)
    failures = failed_rows(rt, built.ledger, now=now, old=True)
    failed = [row for row in failures if not row["old"]]
    fmt = formats(rt)
    cur = report["currency"]
    rows = report["months"]
    revenue = Chart(
        "revenue",
        "Revenue per month",
        "bars",
        [m["month"] for m in rows],
        {"revenue": [m["revenue"] for m in rows]},
        "money",
        f"{fmt.money(sum(m['revenue'] for m in rows))} over {len(rows)} months, "
        f"{fmt.money(rows[-1]['revenue'])} in {rows[-1]['month']}.",
        currency=cur,
    )

    def local(moment: str) -> str:
        return local_time(parse_iso(moment), rt.config.tz)

    shown = {"amount": fmt.money, "failed_at": local, "next_attempt": local}
    failed_table = table(
        "failed_payments",
        "Failed payments open",
        [
            ("customer_email", "Customer"),
            ("amount", "Amount"),
            ("attempts", "Attempts"),
            ("failed_at", "Last failed"),
            ("next_attempt", "Next attempt"),
        ],
        failed,
        shown,
        red=list(range(len(failed))),
        empty="no failed payment open",
    )
    return [
        Section(
            "revenue",
            "Revenue",
            [*_figures(rt, report, failures, fmt), *_yearly_figures(report, fmt), *_retention_figures(report, fmt)],
            charts=[_mrr_chart(report, fmt, movements=True), revenue],
            tables=[_cohort_table(built, fmt, GRAPH_MONTHS), failed_table],
        )
    ]
