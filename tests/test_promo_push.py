"""`promo push` against the local Stripe-shaped server: the exact form sent, nothing sent twice, the live-key
guard, --dry-run, the doctor check; and redemptions at Stripe Checkout seen in the ledger count as used."""

# ruff: noqa: F811  (tests take the fixture imported below as an argument)
from __future__ import annotations

import json
from datetime import UTC, datetime

from conftest import write_config
from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import customer, event, fixture, invoice, subscription, ts

CONFIG = """\
timezone = "Europe/Paris"
[plans.starter]
price = 900
stripe_price = "price_starter_m"
[plans.pro]
price = 2900
stripe_price = "price_pro_m"
[plans.business]
price = 9900
"""

# 2026-12-31 is the last valid day in Paris: the code stops at midnight there, 23:00 UTC
UNTIL = int(datetime(2026, 12, 31, 23, 0, tzinfo=UTC).timestamp())


def prices(server) -> None:
    for plan in ("starter", "pro"):
        price = fixture("subscription")["items"]["data"][0]["price"]
        price.update(id=f"price_{plan}_m", product=f"prod_{plan}", unit_amount=900 if plan == "starter" else 2900)
        server.objects[f"/v1/prices/price_{plan}_m"] = price


def create(cli, *args: str) -> None:
    result = cli("promo", "create", "LAUNCH30", "--months", "6", "--slots", "30", "--valid-until", "2026-12-31", *args)
    assert result.code == 0, result.err


def test_push_sends_the_exact_coupon_and_promotion_code_then_nothing(cli, workspace, stripe_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-01T10:00:00Z")
    write_config(workspace, CONFIG)
    prices(stripe_server)
    create(cli, "--discount", "starter=25", "--discount", "pro=25")
    pushed = cli("promo", "push", "launch30")
    assert pushed.code == 0, pushed.err
    assert "coupon LAUNCH30, promotion code LAUNCH30 at Stripe" in pushed.err
    (coupon,) = stripe_server.sent("/v1/coupons")
    assert coupon.form == [
        ("id", "LAUNCH30"),
        ("name", "LAUNCH30 (pro, starter)"),
        ("percent_off", "25"),
        ("duration", "repeating"),
        ("duration_in_months", "6"),
        ("max_redemptions", "30"),
        ("redeem_by", str(UNTIL)),
        ("applies_to[products][0]", "prod_pro"),
        ("applies_to[products][1]", "prod_starter"),
        ("metadata[arkops_code]", "LAUNCH30"),
    ]
    (promo,) = stripe_server.sent("/v1/promotion_codes")
    assert promo.form == [
        ("promotion[type]", "coupon"),
        ("promotion[coupon]", "LAUNCH30"),
        ("code", "LAUNCH30"),
        ("expires_at", str(UNTIL)),
        ("active", "true"),
        ("metadata[arkops_code]", "LAUNCH30"),
    ]
    assert coupon.idempotency_key.startswith("arkops-promo-push-LAUNCH30-")
    assert promo.idempotency_key != coupon.idempotency_key
    shown = json.loads(cli("promo", "show", "LAUNCH30", "--format", "json").out)
    promo_id = shown["stripe_groups"][0]["promotion_code"]
    assert promo_id.startswith("promo_") and shown["stripe"] == [promo_id]

    again = cli("promo", "push", "LAUNCH30")
    assert again.code == 0 and "nothing sent" in again.err
    assert len(stripe_server.sent()) == 2  # the second push only read

    assert cli("promo", "disable", "LAUNCH30").code == 0
    assert cli("promo", "push", "LAUNCH30").code == 0
    (update,) = stripe_server.sent(f"/v1/promotion_codes/{promo_id}")
    assert update.form == [("active", "false")]
    assert cli("promo", "push", "LAUNCH30").code == 0
    assert len(stripe_server.sent()) == 3

    doctor = json.loads(cli("doctor", "--stripe", "--format", "json").out)
    check = next(c for c in doctor if c["check"] == "promo coupons")
    assert check["status"] == "ok"
    del stripe_server.objects["/v1/coupons/LAUNCH30"]
    doctor = json.loads(cli("doctor", "--stripe", "--format", "json").out)
    check = next(c for c in doctor if c["check"] == "promo coupons")
    assert check["status"] == "fail" and "coupon LAUNCH30 missing at Stripe" in check["detail"]


def test_a_discount_per_plan_is_one_coupon_per_discount_limited_to_its_products(
    cli, workspace, stripe_server, monkeypatch
):
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-01T10:00:00Z")
    write_config(workspace, CONFIG)
    prices(stripe_server)
    create(cli, "--discount", "starter=25", "--discount", "pro=33")
    assert cli("promo", "push", "LAUNCH30").code == 0
    coupons = {w.fields["id"]: w.fields for w in stripe_server.sent("/v1/coupons")}
    assert coupons["LAUNCH30-PRO"]["percent_off"] == "33"
    assert coupons["LAUNCH30-PRO"]["applies_to[products][0]"] == "prod_pro"
    assert coupons["LAUNCH30-STARTER"]["percent_off"] == "25"
    assert coupons["LAUNCH30-STARTER"]["applies_to[products][0]"] == "prod_starter"
    codes = sorted(w.fields["code"] for w in stripe_server.sent("/v1/promotion_codes"))
    assert codes == ["LAUNCH30-PRO", "LAUNCH30-STARTER"]


def test_products_unknown_for_some_plans_is_refused_before_anything_is_sent(cli, workspace, stripe_server):
    write_config(workspace, CONFIG.replace('stripe_price = "price_pro_m"', ""))
    prices(stripe_server)
    create(cli, "--discount", "starter=25", "--discount", "pro=33")
    refused = cli("promo", "push", "LAUNCH30")
    assert refused.code == 3 and "set [plans.<id>] stripe_price for pro" in refused.err
    assert stripe_server.sent() == []


def test_a_live_key_without_live_sends_nothing_and_dry_run_prints_the_requests(
    cli, workspace, stripe_server, monkeypatch
):
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-01T10:00:00Z")
    write_config(workspace, CONFIG)
    prices(stripe_server)
    create(cli, "--discount", "starter=25", "--discount", "pro=25")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_" + "x" * 24)
    monkeypatch.delenv("ARKOPS_ALLOW_LIVE", raising=False)
    refused = cli("promo", "push", "LAUNCH30")
    assert refused.code == 3 and "--live" in refused.err and "nothing was sent" in refused.err
    assert stripe_server.sent() == []
    dry = cli("--dry-run", "promo", "push", "LAUNCH30")
    assert dry.code == 0
    lines = dry.out.splitlines()
    assert lines[0].startswith("POST /v1/coupons id=LAUNCH30 name=LAUNCH30 (pro, starter) percent_off=25")
    assert lines[1].startswith("POST /v1/promotion_codes promotion[type]=coupon promotion[coupon]=LAUNCH30")
    assert stripe_server.sent() == []
    assert "stripe_groups" in (shown := json.loads(cli("promo", "show", "LAUNCH30", "--format", "json").out))
    assert shown["stripe_groups"] == []  # a dry run stores nothing
    assert cli("promo", "push", "LAUNCH30", "--live").code == 0
    assert len(stripe_server.sent()) == 2


def test_a_coupon_at_stripe_with_other_terms_is_refused(cli, workspace, stripe_server):
    write_config(workspace, CONFIG)
    prices(stripe_server)
    create(cli, "--discount", "starter=25", "--discount", "pro=25")
    stripe_server.objects["/v1/coupons/LAUNCH30"] = {**fixture_coupon(), "id": "LAUNCH30", "percent_off": 50}
    refused = cli("promo", "push", "LAUNCH30")
    assert refused.code == 3 and "exists with other terms (percent_off 50 instead of 25" in refused.err
    assert stripe_server.sent() == []


def fixture_coupon() -> dict:
    return json.loads((__import__("pathlib").Path("/work/shared/fixtures/stripe/coupon.json")).read_text())


def apply(workspace, events, now: str) -> None:
    from pathlib import Path

    from arkops.clock import parse_iso
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    apply_events(Runtime(Path("data"), Path("arkops.toml"), Path(".env")), events, now=parse_iso(now))


def checkout(n: int, email: str, promo_id: str, start: str, *, plan: str = "pro", amount: int = 2900) -> list[dict]:
    """What Stripe sends when someone subscribes at Checkout with the promotion code."""
    discount = {
        "id": f"di_{n}",
        "object": "discount",
        "promotion_code": promo_id,
        "source": {
            "type": "coupon",
            "coupon": {
                **fixture_coupon(),
                "id": "LAUNCH30",
                "percent_off": 25,
                "duration": "repeating",
                "duration_in_months": 6,
            },
        },
        "start": ts(start),
        "end": None,
    }
    sub = subscription(
        f"sub_{n}", f"cus_{n}", [(amount, "eur", "month", 1, 1, f"prod_{plan}")], start=start, discounts=[discount]
    )
    paid = invoice(f"in_{n}", f"cus_{n}", amount * 3 // 4, paid_at=ts(start) + 5, email=email, subscription=f"sub_{n}")
    paid["discounts"] = [discount]
    return [
        event(f"evt_{n}_c", "customer.created", customer(f"cus_{n}", email), ts(start)),
        event(f"evt_{n}_s", "customer.subscription.created", sub, ts(start) + 1),
        event(f"evt_{n}_i", "invoice.paid", paid, ts(start) + 5),
    ]


def test_redemptions_at_stripe_checkout_count_once_with_arkops_ones(cli, workspace, stripe_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-01T10:00:00Z")
    write_config(workspace, CONFIG)
    prices(stripe_server)
    cli(
        "promo",
        "create",
        "LAUNCH30",
        "--discount",
        "starter=25",
        "--discount",
        "pro=25",
        "--months",
        "6",
        "--slots",
        "3",
    )
    assert cli("promo", "push", "LAUNCH30").code == 0
    promo_id = json.loads(cli("promo", "show", "LAUNCH30", "--format", "json").out)["stripe"][0]
    counter = workspace / "counter.json"
    assert cli("promo", "remaining", "LAUNCH30", "--write", str(counter)).code == 0
    assert cli("promo", "redeem", "LAUNCH30", "--email", "ana@example.com", "--plan", "pro").code == 0
    # ana then pays at Checkout with the code (counted once), bo redeems only at Checkout
    apply(workspace, checkout(1, "ana@example.com", promo_id, "2026-11-01T10:05:00"), "2026-11-01T10:10:00Z")
    apply(workspace, checkout(2, "Bo@Example.com", promo_id, "2026-11-01T10:06:00"), "2026-11-01T10:10:00Z")
    doc = json.loads(cli("promo", "remaining", "LAUNCH30", "--format", "json").out)
    assert (doc["used"], doc["remaining"]) == (2, 1)
    again = cli("promo", "redeem", "LAUNCH30", "--email", "bo@example.com", "--plan", "pro")
    assert again.code == 1 and "already used by this email" in again.out
    assert cli("run", "--only", "promo-sync", "--force").code == 0
    assert json.loads(counter.read_text())["used"] == 2  # the cron job brought the Checkout redemption to the page
    assert cli("promo", "redeem", "LAUNCH30", "--email", "cy@example.com", "--plan", "starter").code == 0
    assert cli("promo", "redeem", "LAUNCH30", "--email", "di@example.com", "--plan", "starter").code == 1
    exported = json.loads(cli("promo", "export", "--format", "json").out)
    assert sorted((r["email"], r["source"]) for r in exported) == [
        ("ana@example.com", "arkops"),
        ("bo@example.com", "stripe"),
        ("cy@example.com", "arkops"),
    ]
    stats = json.loads(cli("promo", "stats", "LAUNCH30", "--format", "json").out)[0]
    assert stats["used"] == 3 and stats["redeemed_through_stripe"] == 1
    assert stats["by_plan"] == {"pro": 2, "starter": 1}
    assert stats["monthly_revenue_after_discount"] == 2175 * 2 + 675
    assert stats["paying_now"] == 2 and stats["paid"] == 2175 * 2


def test_a_discount_sent_by_id_counts_once_sync_reads_its_promotion_code(cli, workspace, stripe_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-01T10:00:00Z")
    write_config(workspace, CONFIG)
    prices(stripe_server)
    cli(
        "promo",
        "create",
        "LAUNCH30",
        "--discount",
        "starter=25",
        "--discount",
        "pro=25",
        "--months",
        "6",
        "--slots",
        "3",
    )
    assert cli("promo", "push", "LAUNCH30").code == 0
    promo_id = json.loads(cli("promo", "show", "LAUNCH30", "--format", "json").out)["stripe"][0]
    created, subscribed, _ = checkout(7, "eve@example.com", promo_id, "2026-11-01T09:00:00")
    expanded = subscribed["data"]["object"]
    ids_only = {**expanded, "discounts": ["di_7"]}  # event payloads since 2024-06-20 name discounts by id
    apply(workspace, [created, {**subscribed, "data": {"object": ids_only}}], "2026-11-01T09:30:00Z")
    assert json.loads(cli("promo", "remaining", "LAUNCH30", "--format", "json").out)["used"] == 0
    stripe_server.objects["/v1/subscriptions/sub_7"] = expanded
    stripe_server.objects["/v1/customers/cus_7"] = created["data"]["object"]
    assert cli("stripe", "sync").code == 0
    assert json.loads(cli("promo", "remaining", "LAUNCH30", "--format", "json").out)["used"] == 1
    refused = cli("promo", "redeem", "LAUNCH30", "--email", "eve@example.com", "--plan", "pro")
    assert refused.code == 1 and "already used by this email" in refused.out
