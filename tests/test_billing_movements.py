"""`payments movements`: each MRR change as it happened, next to the report's month-end netting.

Events are Stripe's published shapes (tests/fixtures/stripe/versions) delivered as signed webhooks.
"""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json

from stripe_shapes import event, shape, shaped_coupon, shaped_discount, shaped_subscription, ts
from test_billing import signed  # noqa: F401  (a fixture)
from test_billing_shapes import deliver

VERSION = "2025-09-30"


def customer_created(customer_id: str, email: str, day: str) -> dict:
    obj = shape(VERSION, "customer")
    obj.update(id=customer_id, email=email, name=email.split("@")[0], created=ts(day), discount=None)
    return event(f"evt_{customer_id}", "customer.created", obj, ts(day))


def updated(event_id: str, before: dict, after: dict, day: str) -> dict:
    """customer.subscription.updated with the `previous_attributes` Stripe sends: the old top-level values."""
    evt = event(event_id, "customer.subscription.updated", after, ts(day))
    evt["data"]["previous_attributes"] = {key: value for key, value in before.items() if after.get(key) != value}
    return evt


def movements(cli, *args: str) -> list[dict]:
    result = cli("payments", "movements", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def report_months(cli, months: int) -> list[dict]:
    result = cli("payments", "report", "--months", str(months), "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)["months"]


def moves(rows: list[dict]) -> list[tuple]:
    return [(row["date"][:10], row["customer"], row["kind"], row["from"], row["to"]) for row in rows]


def test_an_upgrade_then_a_downgrade_in_one_month_are_two_movements_the_report_nets(
    cli, workspace, signed, monkeypatch
):
    starter = shaped_subscription(VERSION, "sub_1", "cus_1", amount=2900, price={"id": "price_starter"})
    business = shaped_subscription(VERSION, "sub_1", "cus_1", amount=9900, price={"id": "price_business"})
    deliver(
        cli,
        workspace,
        signed,
        customer_created("cus_1", "ana@example.com", "2026-01-05"),
        event("evt_1", "customer.subscription.created", starter, ts("2026-01-05")),
        updated("evt_2", starter, business, "2026-02-10"),
        updated("evt_3", business, starter, "2026-02-20"),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-15T00:00:00Z")
    rows = movements(cli)
    assert moves(rows) == [
        ("2026-01-05", "cus_1", "new", 0, 2900),
        ("2026-02-10", "cus_1", "expansion", 2900, 9900),
        ("2026-02-20", "cus_1", "contraction", 9900, 2900),
    ]
    assert rows[1] == {
        "date": "2026-02-10T00:00:00Z",
        "customer": "cus_1",
        "customer_email": "ana@example.com",
        "kind": "expansion",
        "from": 2900,
        "to": 9900,
        "change": 7000,
        "currency": "EUR",
    }
    assert moves(movements(cli, "--since", "2026-02-15")) == [("2026-02-20", "cus_1", "contraction", 9900, 2900)]
    january, february, march = report_months(cli, 3)
    assert (january["new"], february["expansion"], february["contraction"], february["mrr"]) == (2900, 0, 0, 2900)
    assert march == {**march, "new": 0, "expansion": 0, "contraction": 0}

    table = cli("payments", "movements", "--since", "2026-02-01")
    assert table.code == 0, table.err
    assert "€29.00" in table.out and "€99.00" in table.out and "-€70.00" in table.out
    csv = cli("payments", "movements", "--format", "csv").out.splitlines()
    assert csv[0] == "date,customer,customer_email,kind,from,to,change,currency"
    assert csv[2] == "2026-02-10T00:00:00Z,cus_1,ana@example.com,expansion,2900,9900,7000,EUR"


def test_a_cancellation_then_a_new_subscription_is_churn_then_reactivation(cli, workspace, signed, monkeypatch):
    first = shaped_subscription(VERSION, "sub_a", "cus_2", amount=2900)
    ended = {**first, "status": "canceled", "ended_at": ts("2026-02-05"), "canceled_at": ts("2026-02-05")}
    second = shaped_subscription(VERSION, "sub_b", "cus_2", amount=4900, start="2026-03-10")
    deliver(
        cli,
        workspace,
        signed,
        event("evt_a1", "customer.subscription.created", first, ts("2026-01-01")),
        event("evt_a2", "customer.subscription.deleted", ended, ts("2026-02-05")),
        event("evt_b1", "customer.subscription.created", second, ts("2026-03-10")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-20T00:00:00Z")
    assert moves(movements(cli)) == [
        ("2026-01-01", "cus_2", "new", 0, 2900),
        ("2026-02-05", "cus_2", "churn", 2900, 0),
        ("2026-03-10", "cus_2", "reactivation", 0, 4900),
    ]
    # classified against the whole history, also when the listing starts after the churn
    assert moves(movements(cli, "--since", "2026-03-01")) == [("2026-03-10", "cus_2", "reactivation", 0, 4900)]
    january, february, march = report_months(cli, 3)
    assert (january["new"], february["churn"], march["reactivation"]) == (2900, -2900, 4900)


def test_a_coupon_starting_and_ending_moves_mrr_when_it_takes_effect(cli, workspace, signed, monkeypatch):
    plain = shaped_subscription(VERSION, "sub_3", "cus_3", amount=5000)
    coupon = shaped_coupon(VERSION, "co_20", percent_off=20, months=2)
    discount = shaped_discount(VERSION, "di_3", coupon, "2026-02-15", subscription="sub_3", customer="cus_3")
    discounted = shaped_subscription(VERSION, "sub_3", "cus_3", amount=5000, discounts=[discount])
    deliver(
        cli,
        workspace,
        signed,
        event("evt_c1", "customer.subscription.created", plain, ts("2026-01-01")),
        updated("evt_c2", plain, discounted, "2026-02-15"),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-05-01T00:00:00Z")
    # the repeating coupon ends on 2026-04-15 without an event: MRR goes back up then
    assert moves(movements(cli)) == [
        ("2026-01-01", "cus_3", "new", 0, 5000),
        ("2026-02-15", "cus_3", "contraction", 5000, 4000),
        ("2026-04-15", "cus_3", "expansion", 4000, 5000),
    ]
    monkeypatch.setenv("ARKOPS_NOW", "2026-04-01T00:00:00Z")
    assert moves(movements(cli, "--since", "2026-02-01")) == [("2026-02-15", "cus_3", "contraction", 5000, 4000)]


def test_a_month_of_changes_adds_up_to_the_reports_net_movement(cli, workspace, signed, monkeypatch):
    deliver(cli, workspace, signed, customer_created("cus_1", "ana@example.com", "2026-01-01"))
    states = [(2900, 1), (2900, 3), (9900, 1), (900, 2), (9900, 2)]
    subs = [shaped_subscription(VERSION, "sub_1", "cus_1", amount=a, quantity=q) for a, q in states]
    other = shaped_subscription(VERSION, "sub_2", "cus_2", amount=1500, start="2026-02-03")
    gone = {**other, "status": "canceled", "ended_at": ts("2026-02-25")}
    deliver(
        cli,
        workspace,
        signed,
        event("evt_0", "customer.subscription.created", subs[0], ts("2026-01-01")),
        *(updated(f"evt_{n}", subs[n - 1], subs[n], f"2026-02-{2 * n + 1:02d}") for n in range(1, len(subs))),
        event("evt_o1", "customer.subscription.created", other, ts("2026-02-03")),
        event("evt_o2", "customer.subscription.deleted", gone, ts("2026-02-25")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-10T00:00:00Z")
    february = [row for row in movements(cli, "--since", "2026-02-01") if row["date"] < "2026-03"]
    assert len(february) == 6  # four changes of sub_1, and cus_2 in and out
    net = report_months(cli, 2)[0]
    assert net["month"] == "2026-02"
    moved = sum(net[kind] for kind in ("new", "expansion", "contraction", "churn", "reactivation"))
    assert sum(row["change"] for row in february) == moved == 19800 - 2900
    assert (net["new"], net["churn"]) == (0, 0)  # cus_2 started and left inside the month: no month-end movement


def test_since_takes_the_time_forms_of_every_command(cli, workspace):
    result = cli("payments", "movements", "--since", "2026-02")
    assert result.code == 2
    assert "'2026-02' is not a span back from now (90m, 12h, 7d, 6w, 6mo, 1y), a date YYYY-MM-DD" in result.err
    assert len(result.err.strip().splitlines()) == 1
