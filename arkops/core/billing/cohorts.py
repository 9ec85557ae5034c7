"""`payments cohorts`: customers grouped by the month they first paid, and how many of them (or how much of
their MRR) are still there each month after (ChartMogul's customer and net MRR retention cohorts).

A customer's cohort is the first month that ends with their MRR above 0: the month `payments report`
counts them as new (a customer who starts and leaves inside one month is in no cohort, as they are never
new there). Month k of a cohort counts its customers paying at the end of its k-th month after (k = 0 is
the cohort's own month; the current month counts at `now`), or sums their MRR then. A customer who left
and came back counts again from the month they returned, in their first cohort. Definitions and JSON
fields: docs/billing.md, "Cohorts".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from arkops.clock import iso
from arkops.core.billing import CohortMetric
from arkops.core.billing.report import History, fraction, history
from arkops.runtime import Runtime


def cohort_report(
    rt: Runtime,
    *,
    now: datetime,
    metric: CohortMetric = CohortMetric.customers,
    since: datetime | None = None,
    until: datetime | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    """The cohorts whose month lies in [since, until) (every cohort by default), with each month since."""
    built = history(rt, now=now, months=1, currency=currency)
    tz = rt.config.tz
    first = since.astimezone(tz).strftime("%Y-%m") if since else None
    last = (until - timedelta(seconds=1)).astimezone(tz).strftime("%Y-%m") if until else None
    cohorts = [
        cohort
        for cohort in cohort_rows(built, metric)
        if (first is None or cohort["cohort"] >= first) and (last is None or cohort["cohort"] <= last)
    ]
    return {"metric": str(metric), "currency": built.currency, "as_of": iso(now), "cohorts": cohorts}


def cohort_rows(built: History, metric: CohortMetric, *, last: int | None = None) -> list[dict[str, Any]]:
    """One row per month that has new customers, oldest first: its size both ways and each month since; only the
    cohorts of the `last` months of the grid when given."""
    names = built.grid.names
    first = 0 if last is None else max(len(names) - last, 0)
    customers: list[list[int]] = [[0] * (len(names) - i) for i in range(len(names))]
    mrr: list[list[float]] = [[0.0] * (len(names) - i) for i in range(len(names))]
    for snap in built.snapshots.values():
        month_ends = snap[1:]  # snapshot i + 1 is the end of month i
        start = next((i for i, value in enumerate(month_ends) if value > 0), None)
        if start is None or start < first:
            continue
        for k, value in enumerate(month_ends[start:]):
            customers[start][k] += value > 0
            mrr[start][k] += value
    rows = []
    for i, name in enumerate(names):
        if not customers[i][0]:
            continue
        values: list[float] = customers[i] if metric is CohortMetric.customers else mrr[i]  # type: ignore[assignment]
        rows.append(
            {
                "cohort": name,
                "customers": customers[i][0],
                "mrr": round(mrr[i][0]),
                "months": [
                    {
                        "months_since": k,
                        "month": names[i + k],
                        "value": value if metric is CohortMetric.customers else round(value),
                        "percent": fraction(value, values[0]),
                    }
                    for k, value in enumerate(values)
                ],
            }
        )
    return rows
