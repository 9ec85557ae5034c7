"""`stripe sync --full` rebuilds the ledger the events build: one Stripe account, served by a local
Stripe-shaped server (tests/stripe_server.py) both as its Events API and as its list endpoints, synced
into two data directories, one event by event, one from the lists; every report must read the same.

The account, in Stripe's 2025-09-30 shapes (tests/fixtures/stripe/versions): a Checkout (incomplete
then active in one second), a trial with a forever coupon, a cancellation, a graduated tiered price
with a customer-level coupon; invoices paid, one failed then voided, one written off; a partial refund
and a failed one; a credit note to the customer's balance; a dispute lost and one won.
"""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json
from pathlib import Path

from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import event, shape, shaped_coupon, shaped_discount, shaped_subscription, ts

from arkops.store import Store

V = "2025-09-30"
TIERS = [
    {"up_to": 2, "unit_amount": 1000, "unit_amount_decimal": "1000", "flat_amount": None, "flat_amount_decimal": None},
    {"up_to": None, "unit_amount": 500, "unit_amount_decimal": "500", "flat_amount": None, "flat_amount_decimal": None},
]
TIERED = {"id": "price_tiered", "billing_scheme": "tiered", "tiers_mode": "graduated", "unit_amount": None}


class Account:
    """A Stripe account: its events in the order Stripe made them, and its objects as they are now."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.now: dict[str, dict[str, dict]] = {}  # list path -> id -> the object today

    def happen(self, event_type: str, obj: dict, day: str, **data: object) -> None:
        evt = event(f"evt_{len(self.events):03d}", event_type, json.loads(json.dumps(obj)), ts(day))
        evt["data"].update(data)
        self.events.append(evt)

    def keep(self, path: str, obj: dict) -> None:
        self.now.setdefault(path, {})[obj["id"]] = obj


def customer(customer_id: str, email: str, day: str, discount: dict | None = None) -> dict:
    obj = shape(V, "customer")
    obj.update(id=customer_id, email=email, name=email.split("@")[0], created=ts(day), discount=discount)
    return obj


def invoice(invoice_id: str, customer_id: str, sub: str, amount: int, day: str, status: str = "paid") -> dict:
    obj = shape(V, "invoice")
    paid = status == "paid"
    obj.update(
        id=invoice_id,
        customer=customer_id,
        customer_email=None,
        currency="eur",
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        status=status,
        attempt_count=1,
        attempted=True,
        next_payment_attempt=None,
        billing_reason="subscription_cycle",
        created=ts(day),
        lines={"object": "list", "data": [], "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines"},
        parent={"type": "subscription_details", "subscription_details": {"subscription": sub, "metadata": {}}},
    )
    obj["status_transitions"] = {
        "finalized_at": ts(day),
        "paid_at": ts(day) if paid else None,
        "voided_at": None,
        "marked_uncollectible_at": None,
    }
    return obj


def invoice_payment(invoice_id: str, intent: str, amount: int, day: str) -> dict:
    obj = shape(V, "invoice_payment")
    obj.update(
        id=f"inpay_{invoice_id}",
        invoice=invoice_id,
        amount_paid=amount,
        amount_requested=amount,
        currency="eur",
        status="paid",
        created=ts(day),
        payment={"type": "payment_intent", "payment_intent": intent},
        status_transitions={"paid_at": ts(day), "canceled_at": None},
    )
    return obj


def charge(charge_id: str, customer_id: str, intent: str, amount: int, day: str) -> dict:
    obj = shape(V, "charge")
    obj.update(
        id=charge_id,
        customer=customer_id,
        payment_intent=intent,
        amount=amount,
        amount_captured=amount,
        amount_refunded=0,
        refunded=False,
        disputed=False,
        currency="eur",
        status="succeeded",
        paid=True,
        created=ts(day),
        refunds=None,  # not sent since 2022-11-15 unless expanded
    )
    return obj


def refund(refund_id: str, charge_obj: dict, amount: int, day: str, status: str) -> dict:
    obj = shape(V, "refund")
    obj.update(
        id=refund_id,
        charge=charge_obj["id"],
        payment_intent=charge_obj["payment_intent"],
        amount=amount,
        currency="eur",
        created=ts(day),
        status=status,
    )
    return obj


def dispute(dispute_id: str, charge_obj: dict, day: str, status: str, moves: list[tuple[int, str]]) -> dict:
    obj = shape(V, "dispute")
    obj.update(
        id=dispute_id,
        charge=charge_obj["id"],
        payment_intent=charge_obj["payment_intent"],
        amount=charge_obj["amount"],
        currency="eur",
        created=ts(day),
        status=status,
        balance_transactions=[
            {
                "id": f"txn_{dispute_id}_{n}",
                "object": "balance_transaction",
                "amount": amount,
                "net": amount,
                "fee": 0,
                "currency": "eur",
                "created": ts(when),
                "available_on": ts(when),
                "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
                "type": "adjustment",
                "status": "available",
            }
            for n, (amount, when) in enumerate(moves)
        ],
    )
    return obj


def paid_invoice(account: Account, n: str, customer_id: str, sub: str, amount: int, day: str) -> dict:
    """Stripe's events for one paid invoice: the charge, the invoice paid, the invoice payment."""
    obj = invoice(f"in_{n}", customer_id, sub, amount, day)
    paid_by = charge(f"ch_{n}", customer_id, f"pi_{n}", amount, day)
    payment = invoice_payment(obj["id"], f"pi_{n}", amount, day)
    account.happen("charge.succeeded", paid_by, day)
    account.happen("invoice.paid", obj, day)
    account.happen("invoice_payment.paid", payment, day)
    account.keep("/v1/invoices", obj)
    account.keep("/v1/charges", paid_by)
    account.keep("/v1/invoice_payments", payment)
    return paid_by


def build_account() -> Account:
    account = Account()
    half = shaped_coupon(V, "co_20", percent_off=20)
    tenth = shaped_coupon(V, "co_10", percent_off=10)
    customers = [
        customer("cus_1", "ana@example.com", "2026-01-05"),
        customer("cus_2", "bob@example.com", "2026-01-10"),
        customer("cus_3", "cem@example.com", "2026-01-15"),
        customer("cus_4", "dee@example.com", "2026-01-20"),
    ]
    for obj in customers:
        account.happen("customer.created", obj, _day(obj["created"]))
        account.keep("/v1/customers", obj)

    # Checkout: created incomplete, paid, then active, in one second
    sub_1 = shaped_subscription(V, "sub_1", "cus_1", amount=2900, start="2026-01-05")
    account.happen("customer.subscription.created", {**sub_1, "status": "incomplete"}, "2026-01-05")
    paid_invoice(account, "1a", "cus_1", "sub_1", 2900, "2026-01-05")
    account.happen("customer.subscription.updated", sub_1, "2026-01-05", previous_attributes={"status": "incomplete"})
    account.keep("/v1/subscriptions", sub_1)

    # a 14-day trial with a forever 20 % coupon; events name the discount by id
    discount_2 = shaped_discount(V, "di_2", half, "2026-01-10", subscription="sub_2", customer="cus_2")
    sub_2 = shaped_subscription(V, "sub_2", "cus_2", amount=9900, start="2026-01-10", discounts=[discount_2])
    sub_2.update(trial_start=ts("2026-01-10"), trial_end=ts("2026-01-24"))
    by_id = {**sub_2, "discounts": ["di_2"]}
    account.happen("customer.subscription.created", {**by_id, "status": "trialing"}, "2026-01-10")
    account.happen("customer.subscription.updated", by_id, "2026-01-24", previous_attributes={"status": "trialing"})
    account.keep("/v1/subscriptions", sub_2)

    # monthly 9.00, canceled on 2026-03-03 after a failed renewal, which is voided
    sub_3 = shaped_subscription(V, "sub_3", "cus_3", amount=900, start="2026-01-15")
    account.happen("customer.subscription.created", sub_3, "2026-01-15")
    canceled = {**sub_3, "status": "canceled", "ended_at": ts("2026-03-03"), "canceled_at": ts("2026-03-03")}
    account.keep("/v1/subscriptions", canceled)

    # graduated tiers (2 x 10.00 + 3 x 5.00), which no payload carries, and the customer's own 10 % from February
    sub_4 = shaped_subscription(V, "sub_4", "cus_4", quantity=5, price=TIERED, start="2026-01-20")
    account.happen("customer.subscription.created", sub_4, "2026-01-20")
    account.keep("/v1/subscriptions", sub_4)
    customer_discount = shaped_discount(V, "di_4", tenth, "2026-02-01", customer="cus_4", subscription=None)
    account.happen(
        "customer.discount.created",
        shaped_discount(V, "di_4", tenth, "2026-02-01", coupon_as_id=True, customer="cus_4", subscription=None),
        "2026-02-01",
    )
    account.keep("/v1/customers", {**customers[3], "discount": customer_discount})

    charges = {}
    for n, (cus, sub, amount, day) in enumerate(
        [
            ("cus_3", "sub_3", 900, "2026-01-15"),
            ("cus_4", "sub_4", 3500, "2026-01-20"),
            ("cus_2", "sub_2", 7920, "2026-01-24"),
            ("cus_1", "sub_1", 2900, "2026-02-05"),
            ("cus_3", "sub_3", 900, "2026-02-15"),
            ("cus_4", "sub_4", 3150, "2026-02-20"),
            ("cus_2", "sub_2", 7920, "2026-02-24"),
            ("cus_1", "sub_1", 2900, "2026-03-05"),
            ("cus_4", "sub_4", 3150, "2026-03-20"),
            ("cus_2", "sub_2", 7920, "2026-03-24"),
        ]
    ):
        charges[f"{cus}:{day}"] = paid_invoice(account, f"{n}", cus, sub, amount, day)

    # cus_3's March renewal fails, the subscription is canceled and the invoice voided
    failed = invoice("in_3x", "cus_3", "sub_3", 900, "2026-03-01", status="open")
    failed["next_payment_attempt"] = ts("2026-03-04")
    account.happen("invoice.payment_failed", failed, "2026-03-01")
    account.happen("customer.subscription.deleted", canceled, "2026-03-03")
    voided = {**failed, "status": "void", "next_payment_attempt": None}
    voided["status_transitions"] = {**failed["status_transitions"], "voided_at": ts("2026-03-03")}
    account.happen("invoice.voided", voided, "2026-03-03")
    account.keep("/v1/invoices", voided)

    # a one-off invoice of cus_1 that is never paid and written off
    lost = invoice("in_1x", "cus_1", "sub_1", 1500, "2026-02-10", status="open")
    account.happen("invoice.payment_failed", lost, "2026-02-10")
    written_off = {**lost, "status": "uncollectible"}
    written_off["status_transitions"] = {**lost["status_transitions"], "marked_uncollectible_at": ts("2026-02-28")}
    account.happen("invoice.marked_uncollectible", written_off, "2026-02-28")
    account.keep("/v1/invoices", written_off)

    # 10.00 of ana's February payment refunded; a refund of dee's that fails
    partly = charges["cus_1:2026-02-05"]
    back = refund("re_1", partly, 1000, "2026-02-10", "succeeded")
    account.happen("charge.refunded", {**partly, "amount_refunded": 1000}, "2026-02-10")
    account.happen("refund.created", back, "2026-02-10")
    account.keep("/v1/charges", {**partly, "amount_refunded": 1000})
    account.keep("/v1/refunds", back)
    bounced = refund("re_2", charges["cus_4:2026-02-20"], 500, "2026-02-21", "pending")
    account.happen("refund.created", bounced, "2026-02-21")
    account.happen("refund.failed", {**bounced, "status": "failed"}, "2026-02-23")
    account.keep("/v1/refunds", {**bounced, "status": "failed"})

    # 5.00 of ana's March invoice credited to her balance (not a refund)
    note = shape(V, "credit_note")
    note.update(
        id="cn_1",
        invoice="in_7",
        customer="cus_1",
        amount=500,
        total=500,
        subtotal=500,
        currency="eur",
        created=ts("2026-03-08"),
        effective_at=ts("2026-03-08"),
        type="post_payment",
        status="issued",
        voided_at=None,
        refunds=[],
        post_payment_amount=500,
        pre_payment_amount=0,
        out_of_band_amount=0,
    )
    account.happen("credit_note.created", note, "2026-03-08")
    account.keep("/v1/credit_notes", note)

    # bob's January payment disputed and lost; cem's disputed and won
    lost_charge = charges["cus_2:2026-01-24"]
    account.happen(
        "charge.dispute.created", dispute("dp_1", lost_charge, "2026-02-01", "needs_response", []), "2026-02-01"
    )
    withdrawn = [(-7920, "2026-02-01")]
    account.happen(
        "charge.dispute.funds_withdrawn",
        dispute("dp_1", lost_charge, "2026-02-01", "needs_response", withdrawn),
        "2026-02-01",
    )
    final = dispute("dp_1", lost_charge, "2026-02-01", "lost", withdrawn)
    account.happen("charge.dispute.closed", final, "2026-02-20")
    account.keep("/v1/disputes", final)
    won_charge = charges["cus_3:2026-01-15"]
    account.happen(
        "charge.dispute.created", dispute("dp_2", won_charge, "2026-01-25", "needs_response", []), "2026-01-25"
    )
    out = [(-900, "2026-01-25")]
    account.happen(
        "charge.dispute.funds_withdrawn", dispute("dp_2", won_charge, "2026-01-25", "under_review", out), "2026-01-25"
    )
    back_in = [*out, (900, "2026-02-26")]
    final = dispute("dp_2", won_charge, "2026-01-25", "won", back_in)
    account.happen("charge.dispute.closed", final, "2026-02-26")
    account.happen("charge.dispute.funds_reinstated", final, "2026-02-26")
    account.keep("/v1/disputes", final)

    account.events.sort(key=lambda e: e["created"])  # stable: the order Stripe made them within a second
    return account


def _day(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def serve(stripe_server, account: Account) -> None:
    stripe_server.lists["/v1/events"] = list(reversed(account.events))  # the Events API lists newest first
    for path, objects in account.now.items():
        stripe_server.lists[path] = list(objects.values())
    stripe_server.expandable.update(
        {
            "/v1/subscriptions": ["discounts", "discounts.source.coupon", "items.data.discounts"],
            "/v1/customers": ["discount.source.coupon"],
        }
    )
    for sub in account.now["/v1/subscriptions"].values():
        stripe_server.objects[f"/v1/subscriptions/{sub['id']}"] = sub
    stripe_server.objects["/v1/coupons/co_10"] = shaped_coupon(V, "co_10", percent_off=10)
    price = {**account.now["/v1/subscriptions"]["sub_4"]["items"]["data"][0]["price"], "tiers": TIERS}
    stripe_server.objects["/v1/prices/price_tiered"] = price


def outputs(cli, data: Path) -> dict[str, object]:
    seen = {}
    for command in (
        ("payments", "report", "--months", "4"),
        ("billing", "subscriptions"),
        ("payments", "list"),
        ("payments", "failed"),
        ("payments", "movements"),
    ):
        result = cli("--data-dir", str(data), *command, "--format", "json")
        assert result.code == 0, result.err
        seen[" ".join(command[:2])] = json.loads(result.out)
    return seen


def test_a_full_rebuild_reads_the_same_as_the_events(cli, workspace, monkeypatch, stripe_server):
    monkeypatch.setenv("ARKOPS_NOW", "2026-04-10T00:00:00Z")
    serve(stripe_server, build_account())
    by_events, by_lists = workspace / "by-events", workspace / "by-lists"
    Store(by_events).initialise()
    Store(by_lists).initialise()

    synced = cli("--data-dir", str(by_events), "stripe", "sync")
    assert synced.code == 0, synced.err
    asked_before = len(stripe_server.requests)
    rebuilt = cli("--data-dir", str(by_lists), "stripe", "sync", "--full")
    assert rebuilt.code == 0, rebuilt.err
    events, lists = outputs(cli, by_events), outputs(cli, by_lists)
    assert lists == events
    assert "listed 2 disputes" in rebuilt.err
    # one request per list page: discounts come expanded, not fetched subscription by subscription
    assert "data.discounts.source.coupon" in stripe_server.expands("/v1/subscriptions")
    rebuild_asked = [path for path, _ in stripe_server.requests[asked_before:]]
    assert not [path for path in rebuild_asked if path.startswith("/v1/subscriptions/")]
    assert "/v1/prices/price_tiered" in rebuild_asked  # tiers are five levels deep: read by price
    report = events["payments report"]
    assert [m["mrr"] for m in report["months"]] == [
        2900 + 7920 + 900 + 3500,
        2900 + 7920 + 900 + 3150,
        2900 + 7920 + 3150,
        2900 + 7920 + 3150,
    ]
    assert [m["revenue"] for m in report["months"]] == [
        2900 + 900 + 3500 + 7920 - 900,  # cem's payment withdrawn by the dispute
        2900 + 900 + 3150 + 7920 - 1000 - 7920 + 900,  # refund, bob's dispute lost, cem's won
        2900 + 3150 + 7920 - 500,  # the credit note
        0,
    ]
    subs = {
        row["subscription"]: (row["status"], row["mrr"], row["unresolved"]) for row in events["billing subscriptions"]
    }
    assert subs == {
        "sub_1": ("active", 2900, None),
        "sub_2": ("active", 7920, None),
        "sub_3": ("canceled", 0, None),
        "sub_4": ("active", 3150, None),
    }
    statuses = {row["invoice"]: row["status"] for row in events["payments list"]}
    assert (statuses["in_3x"], statuses["in_1x"], statuses["in_2"], statuses["in_3"]) == (
        "void",
        "uncollectible",
        "disputed",
        "refunded",
    )
