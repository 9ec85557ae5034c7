"""The named steps of the revenue report and of applying an invoice, each on its own."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import write_config
from stripe_shapes import event, invoice, ts

from arkops.clock import parse_iso
from arkops.core.billing.report import (
    Ledger,
    MonthGrid,
    MonthMovement,
    customer_kinds,
    month_grid,
    month_movement,
    movements,
    revenue_by_month,
    summary,
)

PARIS = ZoneInfo("Europe/Paris")


def identity(minor: float, currency: str) -> float:
    return minor


def test_month_grid_runs_from_the_first_activity_to_now():
    now = parse_iso("2026-03-10T12:00:00Z")
    grid = month_grid(UTC, now, 1, ts("2026-01-20"))
    assert grid.names == ["2026-01", "2026-02", "2026-03"]
    assert grid.boundaries == [ts("2026-01-01"), ts("2026-02-01"), ts("2026-03-01"), ts("2026-04-01")]
    # a month's MRR is taken at its last second; the current month's now
    assert grid.instants == [ts("2026-02-01") - 1, ts("2026-03-01") - 1, int(now.timestamp())]
    assert grid.snapshot_points == [ts("2026-01-01") - 1, *grid.instants]


def test_month_grid_covers_the_months_shown_before_any_activity():
    now = parse_iso("2026-03-10T12:00:00Z")
    assert month_grid(UTC, now, 4, ts("2026-02-20")).names == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert month_grid(UTC, now, 2, None).names == ["2026-02", "2026-03"]


def test_month_grid_months_are_those_of_the_configured_time_zone():
    # 23:30 UTC on Jan 31 is already February 1 in Paris
    grid = month_grid(PARIS, parse_iso("2026-02-10T00:00:00Z"), 1, ts("2026-01-31") + 23 * 3600 + 1800)
    assert grid.names == ["2026-02"]
    assert grid.boundaries[0] == int(datetime(2026, 2, 1, tzinfo=PARIS).timestamp())


def grid_of(months: int) -> MonthGrid:
    return MonthGrid(names=[f"2026-{m:02d}" for m in range(1, months + 1)], boundaries=[], instants=[])


def test_each_customer_moves_mrr_in_one_way_a_month():
    snapshots = {
        "new": [0, 100],
        "back": [0, 50],
        "gone": [70, 0],
        "up": [10, 30],
        "down": [40, 25],
        "flat": [20, 20],
    }
    kinds = {"new": "new", "back": "reactivation", "gone": "churn", "up": "expansion", "down": "contraction"}
    moves = {customer: (kind, snapshots[customer][1] - snapshots[customer][0]) for customer, kind in kinds.items()}
    before, after = zip(*snapshots.values(), strict=True)
    row = month_movement("2026-01", before, after, moves, revenue=123.4)
    assert (row.new, row.reactivation, row.churn, row.expansion, row.contraction) == (100, 50, -70, 20, -15)
    assert (row.mrr, row.paying_customers, row.churned_customers, row.paying_before) == (225, 5, 1, 4)
    assert row.logo_churn_rate == 0.25
    assert row.as_row() == {
        "month": "2026-01",
        "mrr": 225,
        "new": 100,
        "expansion": 20,
        "contraction": -15,
        "churn": -70,
        "reactivation": 50,
        "paying_customers": 5,
        "churned_customers": 1,
        "logo_churn_rate": 0.25,
        "revenue_churn_rate": 0.6071,  # (70 + 15) lost of the 140 the month began with
        "revenue": 123,
        "customers": 5,
        "new_customers": 1,
        # start MRR: 70 + 10 + 40 + 20 = 140 (new and back paid nothing at the end of the month before)
        "nrr": 0.5357,  # (140 + 20 - 15 - 70) / 140 = 75 / 140
        "grr": 0.3929,  # (140 - 15 - 70) / 140 = 55 / 140
        "mrr_churn_rate": 0.6071,  # (70 + 15) / 140 = 85 / 140
        "net_mrr_churn_rate": 0.1071,  # (70 + 15 - 20 - 50) / 140 = 15 / 140
        "quick_ratio": 2.0,  # (100 + 20 + 50) / (70 + 15) = 170 / 85
    }


def test_customer_kinds_follow_each_customer_from_the_first_month():
    snapshots = {"new": [0, 100, 100], "back": [30, 0, 50], "gone": [70, 0, 0]}
    assert customer_kinds(snapshots, 2) == [{"new": "new", "back": "churn", "gone": "churn"}, {"back": "reactivation"}]


def test_paying_again_after_stopping_is_a_reactivation():
    rows = movements({"ana": [0.0, 10.0, 0.0, 10.0]}, grid_of(3), [0.0, 0.0, 0.0])
    assert [(r.new, r.churn, r.reactivation) for r in rows] == [(10, 0, 0), (0, -10, 0), (0, 0, 10)]
    # paying before the first month shown is not new either
    rows = movements({"ana": [10.0, 0.0, 10.0]}, grid_of(2), [0.0, 0.0])
    assert [(r.new, r.reactivation) for r in rows] == [(0, 0), (0, 10)]


def test_summary_takes_arpu_from_the_last_month_and_ltv_from_six_months_of_churn():
    # 8 months: one churned customer of 4 in each of the first two, of 2 in the last; 1 paying customer at 3000
    churned = {0: (1, 4), 1: (1, 4), 7: (1, 2)}
    rows = [
        MonthMovement(
            month=f"2026-{i + 1:02d}",
            mrr=3000.4 if i == 7 else 0.0,
            new=0.0,
            expansion=0.0,
            contraction=0.0,
            churn=0.0,
            reactivation=0.0,
            paying_customers=2 if i == 7 else 0,
            churned_customers=churned.get(i, (0, 0))[0],
            paying_before=churned.get(i, (0, 0))[1],
            revenue=0.0,
        )
        for i in range(8)
    ]
    report = summary(rows, shown=3, currency="EUR", now=parse_iso("2026-08-15T00:00:00Z"))
    assert {k: v for k, v in report.items() if k != "months"} == {
        "currency": "EUR",
        "as_of": "2026-08-15T00:00:00Z",
        "mrr": 3000,
        "arr": 36000,
        "paying_customers": 2,
        "arpu": 1500,
        "ltv": 18000,  # 1500 / (0.5 / 6): the 0.25 churn of months 1 and 2 is older than six months
        "nrr_ttm": None,  # given by `report_of` from each customer's MRR
        "grr_ttm": None,
    }
    assert [m["month"] for m in report["months"]] == ["2026-06", "2026-07", "2026-08"]
    without_churn = [replace(row, churned_customers=0) for row in rows]
    assert summary(without_churn, shown=1, currency="EUR", now=parse_iso("2026-08-15T00:00:00Z"))["ltv"] is None


def test_revenue_counts_paid_invoices_and_refunds_by_their_month():
    boundaries = [ts("2026-01-01"), ts("2026-02-01"), ts("2026-03-01")]
    paid = {"status": "paid", "amount_paid": 1000, "currency": "EUR"}
    ledger = Ledger(
        customers={},
        subscriptions={},
        history={},
        invoices=[
            {**paid, "paid_at": ts("2026-01-05")},
            {**paid, "paid_at": ts("2026-02-01")},
            {**paid, "paid_at": ts("2025-12-31")},  # before the grid
            {"status": "open", "amount_paid": 0, "currency": "EUR", "paid_at": None},
        ],
        refunds=[{"amount": 300, "currency": "EUR", "created": ts("2026-02-10")}],
    )
    assert revenue_by_month(ledger, boundaries, identity) == [1000, 700]


def apply_all(events: list[dict]):
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    return apply_events(rt, events, now=parse_iso("2026-06-15T12:00:00Z"))


def stored_invoice(workspace: Path, invoice_id: str) -> dict:
    return json.loads((workspace / "data" / "ledger.json").read_text())["invoices"][invoice_id]


def test_paid_is_final_when_a_failure_arrives_late(workspace):
    paid = invoice("in_1", "cus_1", 2900, paid_at=ts("2026-03-01"), email="ana@example.com")
    failed = invoice("in_1", "cus_1", 2900, email="ana@example.com", attempt_count=2, next_attempt=ts("2026-03-09"))
    apply_all(
        [
            event("e1", "invoice.paid", paid, ts("2026-03-01")),
            event("e2", "invoice.payment_failed", failed, ts("2026-03-02")),
        ]
    )
    state = stored_invoice(workspace, "in_1")
    assert (state["status"], state["paid_at"], state["amount_paid"]) == ("paid", ts("2026-03-01"), 2900)
    assert state["attempt_count"] == 2


@pytest.mark.parametrize("notify_customer", [False, True])
def test_a_failed_attempt_alerts_the_operator_and_optionally_the_customer(workspace, notify_customer):
    write_config(workspace, f"[billing]\nnotify_payment_failed_customer = {str(notify_customer).lower()}\n")
    failed = invoice("in_2", "cus_2", 2900, email="bob@example.com", attempt_count=3, next_attempt=ts("2026-03-09"))
    result = apply_all([event("e1", "invoice.payment_failed", failed, ts("2026-03-05"))])
    operator, *customer = result.alerts
    assert (operator.template, operator.key, operator.to) == ("payment_failed", "invoice:in_2:failed:3", None)
    assert operator.variables == {
        "email": "bob@example.com",
        "amount": "€29.00",
        "invoice_id": "in_2",
        "attempt_count": 3,
        "next_attempt": "2026-03-09",
    }
    if notify_customer:
        assert [(a.template, a.key, a.to) for a in customer] == [
            ("payment_failed_customer", "invoice:in_2:failed-customer:3", "bob@example.com")
        ]
        # minor units and currency: the customer's template writes the amount in the customer's locale
        assert customer[0].variables == {
            "amount": 2900,
            "currency": "EUR",
            "invoice_id": "in_2",
            "next_attempt": "2026-03-09",
        }
    else:
        assert customer == []


def test_a_paid_invoice_sends_a_receipt_when_enabled_and_first_revenue_once(workspace):
    write_config(workspace, "[billing]\nnotify_payment_received = true\n")
    result = apply_all(
        [
            event("e1", "invoice.paid", invoice("in_1", "cus_1", 900, paid_at=ts("2026-03-01")), ts("2026-03-01")),
            event(
                "e2",
                "invoice.paid",
                invoice("in_2", "cus_2", 2900, paid_at=ts("2026-03-02"), email="cy@example.com"),
                ts("2026-03-02"),
            ),
        ]
    )
    assert [(a.template, a.key, a.to) for a in result.alerts] == [
        ("first_revenue", "alert:first_revenue", None),
        ("payment_received", "invoice:in_2:received", "cy@example.com"),
    ]
    assert result.alerts[0].variables == {"email": "cus_1", "amount": "€9.00", "invoice_id": "in_1"}
