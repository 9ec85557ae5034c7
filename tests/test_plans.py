"""Plans against the local Stripe-shaped server: plans push, checkout, portal, cancel, subscription, migrate.

Each test asserts the exact form the stripe library sent (through `StripeWriter`), its idempotency key,
and what a live key without --live, a Stripe error or an interrupted migrate leave behind."""

# ruff: noqa: F811  (tests take the fixture imported below as an argument)
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_arkops, write_config
from stripe_server import KEY, stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import customer, event, fixture, subscription, ts

from arkops.runtime import Runtime

NOW = "2026-11-20T10:00:00Z"
CONFIG = """\
[billing]
checkout_success_url = "https://app.example.com/welcome"
checkout_cancel_url = "https://app.example.com/pricing"
stripe_retry_seconds = [0.0, 0.0]

[plans.free]
name = "Free"
price = 0
limits = { watches = 3 }

[plans.starter]
name = "Starter"
price = 900
stripe_price = "price_prod_starter_month1"
limits = { watches = 10, api_calls = 10000 }

[plans.pro]
name = "Pro"
price = 2900
stripe_price = "price_prod_pro_month1"
limits = { watches = 50, api_calls = 100000 }
"""
PERIOD = (ts("2026-11-05"), ts("2026-12-05"))


def stripe_subscription(sub_id: str, customer_id: str, product: str, amount: int, **options) -> dict:
    sub = subscription(sub_id, customer_id, [(amount, "eur", "month", 1, 1, product)], **options)
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = PERIOD
    return sub


def seed(workspace: Path, people: list[tuple[str, str, str, int]], *, first: int = 0) -> list[dict]:
    """Customers and their subscriptions in the ledger, through its one apply path: (email, sub id, product, amount)."""
    from arkops.clock import parse_iso
    from arkops.core.billing.service import apply_events

    events, subs = [], []
    for n, (email, sub_id, product, amount) in enumerate(people, first):
        events.append(event(f"evt_c{n}", "customer.created", customer(f"cus_{n}", email), ts("2026-01-01")))
        subs.append(stripe_subscription(sub_id, f"cus_{n}", product, amount))
        events.append(event(f"evt_s{n}", "customer.subscription.created", subs[-1], ts("2026-01-02")))
    rt = Runtime(workspace / "data", workspace / "arkops.toml", workspace / ".env")
    apply_events(rt, events, now=parse_iso(NOW))
    return subs


def answer_like_stripe(server, sub: dict) -> None:
    """Stripe answers a subscription update or cancel with the whole subscription, prices expanded."""
    state = {"sub": sub}

    def respond(params: dict) -> dict:
        current = dict(state["sub"])
        if not params:  # DELETE: canceled now
            current.update(status="canceled", ended_at=ts("2026-11-20T10:00:00"), canceled_at=ts("2026-11-20T10:00:00"))
        if "cancel_at_period_end" in params:
            current["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        if "items" in params:
            product = params["items"][0]["price"].removeprefix("price_").removesuffix("_month1")
            amount = {"prod_starter": 900, "prod_pro": 2900}[product]
            current = stripe_subscription(current["id"], current["customer"], product, amount)
        state["sub"] = current
        return current

    server.responders[f"/v1/subscriptions/{sub['id']}"] = respond


@pytest.fixture
def shop(workspace, monkeypatch, stripe_server):
    write_config(workspace, CONFIG)
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    for sub in seed(
        workspace, [("ana@example.com", "sub_ana", "prod_starter", 900), ("bo@example.com", "sub_bo", "prod_pro", 2900)]
    ):
        answer_like_stripe(stripe_server, sub)
    return stripe_server


def session_responder(params: dict) -> dict:
    session = fixture("checkout.session")
    session.update(
        id="cs_test_a1", url="https://checkout.stripe.com/c/pay/cs_test_a1", expires_at=ts("2026-11-21T10:00:00")
    )
    return session


def test_checkout_sends_a_subscription_session_for_the_plans_price_and_prints_its_url(cli, shop):
    shop.responders["/v1/checkout/sessions"] = session_responder
    result = cli("billing", "checkout", "New@Example.com", "--plan", "pro", "--trial-days", "14", "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "id": "cs_test_a1",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1",
        "expires_at": "2026-11-21T10:00:00Z",
    }
    (sent,) = shop.sent("/v1/checkout/sessions")
    assert sent.form == [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_prod_pro_month1"),
        ("line_items[0][quantity]", "1"),
        ("success_url", "https://app.example.com/welcome"),
        ("cancel_url", "https://app.example.com/pricing"),
        ("customer_email", "new@example.com"),
        ("subscription_data[trial_period_days]", "14"),
        ("payment_method_collection", "if_required"),
        ("allow_promotion_codes", "true"),
        ("metadata[arkops_plan]", "pro"),
    ]
    assert sent.idempotency_key.startswith("arkops-checkout-") and sent.idempotency_key.endswith("-2026-11-20")
    again = cli("billing", "checkout", "new@example.com", "--plan", "pro", "--trial-days", "14")
    assert again.out.strip() == "https://checkout.stripe.com/c/pay/cs_test_a1"
    assert shop.sent()[-1].idempotency_key == sent.idempotency_key  # a retry: Stripe answers the first session
    assert len(shop.lists.get("/v1/checkout/sessions", [])) == 0 and len(shop.answered) == 1


def test_checkout_applies_a_promotion_code_found_in_stripe_for_an_existing_customer(cli, shop):
    shop.responders["/v1/checkout/sessions"] = session_responder
    promo = fixture("promotion_code")
    promo.update(id="promo_launch", code="LAUNCH30", active=True)
    shop.lists["/v1/promotion_codes"] = [promo]
    result = cli("billing", "checkout", "ana@example.com", "--plan", "pro", "--promo", "LAUNCH30")
    assert result.code == 0, result.err
    fields = shop.sent("/v1/checkout/sessions")[0].fields
    assert fields["customer"] == "cus_0" and "customer_email" not in fields
    assert fields["discounts[0][promotion_code]"] == "promo_launch" and "allow_promotion_codes" not in fields
    assert (
        fields["subscription_data[trial_period_days]"] == "14" and fields["payment_method_collection"] == "if_required"
    )
    assert ("/v1/promotion_codes", {"code": ["LAUNCH30"], "active": ["true"], "limit": ["100"]}) in shop.requests
    shop.lists["/v1/promotion_codes"] = []
    missing = cli("billing", "checkout", "ana@example.com", "--plan", "pro", "--promo", "NOPE")
    assert missing.code == 3 and "no active promotion code 'NOPE'" in missing.err
    assert len(shop.sent("/v1/checkout/sessions")) == 1


def test_a_live_key_without_live_sends_nothing_and_exits_3(cli, shop, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_" + "y" * 24)
    monkeypatch.delenv("ARKOPS_ALLOW_LIVE", raising=False)
    for args in (
        ("billing", "checkout", "ana@example.com", "--plan", "pro"),
        ("billing", "portal", "ana@example.com"),
        ("billing", "cancel", "ana@example.com", "--yes"),
        ("billing", "plans", "push"),
        ("billing", "migrate", "--map", "starter=pro", "--apply"),
    ):
        result = cli(*args)
        assert result.code == 3, (args, result.err)
        assert "live key: add --live" in result.err and "yyyy" not in result.err
    assert shop.sent() == []
    shop.responders["/v1/checkout/sessions"] = session_responder
    assert cli("billing", "checkout", "ana@example.com", "--plan", "pro", "--live").code == 0
    assert len(shop.sent()) == 1


def test_dry_run_prints_the_request_and_sends_nothing(cli, shop):
    result = cli("--dry-run", "billing", "checkout", "ana@example.com", "--plan", "starter")
    assert result.code == 0, result.err
    assert result.out.startswith(
        "dry-run: POST /v1/checkout/sessions mode=subscription line_items[0][price]=price_prod_starter_month1"
    )
    assert "(Idempotency-Key: arkops-checkout-" in result.out
    # By default a checkout is the origin's "14 days free, no card".
    assert " subscription_data[trial_period_days]=14 payment_method_collection=if_required " in result.out
    assert shop.sent() == []
    paying = cli("--dry-run", "billing", "checkout", "ana@example.com", "--plan", "starter", "--trial-days", "0")
    assert "trial_period_days" not in paying.out and "payment_method_collection" not in paying.out


def test_checkout_refuses_a_free_plan_and_a_missing_success_url(cli, shop, workspace):
    free = cli("billing", "checkout", "ana@example.com", "--plan", "free")
    assert free.code == 3 and "plan 'free' is free" in free.err
    write_config(workspace, CONFIG.replace('checkout_success_url = "https://app.example.com/welcome"\n', ""))
    no_url = cli("billing", "checkout", "ana@example.com", "--plan", "pro")
    assert no_url.code == 3 and "checkout_success_url" in no_url.err
    bad = cli("billing", "checkout", "ana@example.com", "--plan", "pro", "--success-url", "ftp://x")
    assert bad.code == 2
    assert shop.sent() == []


def test_a_stripe_rejection_is_one_line_with_the_request_id_exit_3(cli, shop):
    shop.fail.append((400, {"error": {"type": "invalid_request_error", "message": "No such price: 'price_x'"}}))
    result = cli("billing", "checkout", "ana@example.com", "--plan", "pro")
    assert result.code == 3
    assert result.err.count("\n") == 1 and "No such price: 'price_x'" in result.err


def test_a_stripe_outage_is_exit_4_after_retries(cli, shop):
    shop.fail.extend([(503, {"error": {"type": "api_error", "message": "down"}})] * 3)
    result = cli("billing", "portal", "ana@example.com")
    assert result.code == 4 and "after 3 attempts" in result.err


def test_portal_sends_the_customer_and_prints_the_url(cli, shop):
    def responder(params: dict) -> dict:
        session = fixture("billing_portal.session")
        session.update(id="bps_1", url="https://billing.stripe.com/p/session/bps_1", customer=params["customer"])
        return session

    shop.responders["/v1/billing_portal/sessions"] = responder
    result = cli("billing", "portal", "bo@example.com")
    assert result.code == 0, result.err
    assert result.out.strip() == "https://billing.stripe.com/p/session/bps_1"
    (sent,) = shop.sent("/v1/billing_portal/sessions")
    assert sent.form == [("customer", "cus_1")]
    assert sent.idempotency_key == f"arkops-portal-cus_1-{ts('2026-11-20T10:00:00') // 300}"
    unknown = cli("billing", "portal", "nobody@example.com")
    assert unknown.code == 3 and "no Stripe customer for nobody@example.com" in unknown.err


def test_cancel_at_period_end_by_default_and_the_ledger_learns_it(cli, shop):
    result = cli("billing", "cancel", "ana@example.com", "--yes")
    assert result.code == 0, result.err
    (sent,) = shop.sent("/v1/subscriptions/sub_ana")
    assert (sent.method, sent.form) == ("post", [("cancel_at_period_end", "true")])
    assert sent.idempotency_key == "arkops-cancel-sub_ana-period-end"
    assert "cancels at the period's end on 2026-12-05T00:00:00Z" in result.err
    shown = json.loads(cli("billing", "subscription", "ana@example.com", "--format", "json").out)
    assert shown["cancel_at_period_end"] is True and shown["plan"] == "starter"
    assert shown["current_period_end"] == "2026-12-05T00:00:00Z"


def test_cancel_now_deletes_the_subscription_once(cli, shop):
    assert cli("billing", "cancel", "bo@example.com", "--now", "--yes").code == 0
    (sent,) = shop.sent("/v1/subscriptions/sub_bo")
    assert (sent.method, sent.form, sent.idempotency_key) == ("delete", [], "arkops-cancel-sub_bo-now")
    gone = cli("billing", "cancel", "bo@example.com", "--now", "--yes")
    assert gone.code == 3 and "no current subscription" in gone.err  # the ledger learned it is canceled
    assert len(shop.sent()) == 1


def test_cancel_without_yes_and_without_a_terminal_refuses_to_ask(shop, workspace):
    result = run_arkops("billing", "cancel", "ana@example.com", input="y\n")
    assert result.code == 2
    assert "stdin is not a terminal" in result.err and "--yes" in result.err
    assert shop.sent() == []


def test_subscription_refresh_reads_stripe_into_the_ledger(cli, shop):
    sub = subscription("sub_ana", "cus_0", [(900, "eur", "month", 1, 1, "prod_starter")], status="past_due")
    shop.lists["/v1/subscriptions"] = [sub]
    assert json.loads(cli("billing", "subscription", "ana@example.com", "--format", "json").out)["status"] == "active"
    refreshed = cli("billing", "subscription", "ana@example.com", "--refresh", "--format", "json")
    assert refreshed.code == 0, refreshed.err
    assert json.loads(refreshed.out)["status"] == "past_due"
    assert ("/v1/subscriptions", {"customer": ["cus_0"], "status": ["all"], "limit": ["100"]}) in shop.requests
    assert shop.sent() == []


def test_plans_push_creates_the_missing_prices_once_and_lists_them(cli, shop, workspace):
    write_config(workspace, CONFIG.replace('stripe_price = "price_prod_pro_month1"\n', ""))
    shop.lists["/v1/prices"] = []  # an account without prices yet
    result = cli("billing", "plans", "push")
    assert result.code == 0, result.err
    assert "1 created, 0 found in Stripe, 1 set in arkops.toml, 1 free" in result.err
    (product,) = shop.sent("/v1/products")
    assert product.form == [("name", "Pro"), ("metadata[arkops_plan]", "pro")]
    assert product.idempotency_key == "arkops-plans-push-pro-product"
    (price,) = shop.sent("/v1/prices")
    product_id = shop.lists["/v1/products"][0]["id"]
    assert price.form == [
        ("product", product_id),
        ("unit_amount", "2900"),
        ("currency", "eur"),
        ("recurring[interval]", "month"),
        ("lookup_key", "arkops_pro"),
        ("transfer_lookup_key", "false"),
        ("nickname", "Pro"),
        ("metadata[arkops_plan]", "pro"),
    ]
    assert price.idempotency_key == "arkops-plans-push-pro-price-2900-EUR-month"
    # Stripe's answer to a form carries strings; a real price has numbers: as the server stores it, made numeric
    created = shop.lists["/v1/prices"][0]
    created.update(unit_amount=2900, recurring={"interval": "month", "interval_count": 1}, active=True)
    (workspace / "data" / "plans.json").unlink()  # a new installation finds it again by lookup key
    again = cli("billing", "plans", "push")
    assert "0 created, 1 found in Stripe" in again.err
    assert len(shop.sent()) == 2
    rows = {r["plan"]: r for r in json.loads(cli("billing", "plans", "--format", "json").out)}
    assert rows["pro"]["stripe_price"] == created["id"]
    assert rows["starter"] == {
        "plan": "starter",
        "name": "Starter",
        "price": 900,
        "currency": "EUR",
        "interval": "month",
        "stripe_price": "price_prod_starter_month1",
        "limits": {"watches": 10, "api_calls": 10000},
        "customers": 1,
    }


def test_doctor_stripe_checks_each_price_against_the_config(cli, shop):
    for plan, amount, interval in (("starter", 900, "month"), ("pro", 2500, "month")):
        price = fixture("price")
        price.update(id=f"price_prod_{plan}_month1", unit_amount=amount, currency="eur")
        price["recurring"]["interval"] = interval
        shop.objects[f"/v1/prices/{price['id']}"] = price
    result = cli("doctor", "--stripe", "--format", "json")
    check = next(c for c in json.loads(result.out) if c["check"] == "stripe prices")
    assert check["status"] == "fail"
    assert "pro: price_prod_pro_month1 bills 2500 EUR/month, arkops.toml says 2900 EUR/month" in check["detail"]
    assert "starter" not in check["detail"]


def test_migrate_plans_then_applies_once_per_customer_and_resumes_after_an_interruption(
    cli, shop, smtp_server, workspace
):
    for sub in seed(
        workspace,
        [("cy@example.com", "sub_cy", "prod_starter", 900), ("dee@example.com", "sub_dee", "prod_starter", 900)],
        first=2,
    ):
        answer_like_stripe(shop, sub)
    planned = cli("billing", "migrate", "--map", "starter=pro", "--format", "json")
    assert planned.code == 0, planned.err
    document = json.loads(planned.out)
    assert [(c["subscription"], c["mrr_before"], c["mrr_after"], c["state"]) for c in document["changes"]] == [
        ("sub_ana", 900, 2900, "planned"),
        ("sub_cy", 900, 2900, "planned"),
        ("sub_dee", 900, 2900, "planned"),
    ]
    assert document["mrr_change"] == 6000 and document["currency"] == "EUR"
    assert shop.sent() == []

    # Stripe stops answering while sub_cy is moved (the connection drops on every attempt): exit 4, sub_dee untouched
    working = shop.responders["/v1/subscriptions/sub_cy"]

    def drop(params: dict) -> dict:
        raise ConnectionAbortedError("the network went away")

    shop.responders["/v1/subscriptions/sub_cy"] = drop
    first = cli("billing", "migrate", "--map", "starter=pro", "--apply")
    assert first.code == 4 and "moving sub_cy to pro" in first.err
    assert [w.path for w in shop.sent()] == ["/v1/subscriptions/sub_ana"] + ["/v1/subscriptions/sub_cy"] * 3

    shop.responders["/v1/subscriptions/sub_cy"] = working
    second = cli("billing", "migrate", "--map", "starter=pro", "--apply", "--format", "json")
    assert second.code == 0, second.err
    states = {c["subscription"]: c["state"] for c in json.loads(second.out)["changes"]}
    assert states == {"sub_cy": "migrated", "sub_dee": "migrated"}  # sub_ana is on pro in the ledger already
    by_sub: dict[str, set] = {}
    for write in shop.sent():
        by_sub.setdefault(write.path, set()).add(write.idempotency_key)
        assert write.form == [
            ("items[0][id]", f"si_{write.path.rsplit('/', 1)[1]}_0"),
            ("items[0][price]", "price_prod_pro_month1"),
            ("proration_behavior", "none"),
            ("metadata[arkops_plan]", "pro"),
        ]
    assert {path: len(keys) for path, keys in by_sub.items()} == {
        "/v1/subscriptions/sub_ana": 1,
        "/v1/subscriptions/sub_cy": 1,
        "/v1/subscriptions/sub_dee": 1,
    }
    assert len(shop.sent("/v1/subscriptions/sub_ana")) == 1  # done before: not touched again
    third = cli("billing", "migrate", "--map", "starter=pro", "--apply", "--format", "json")
    assert json.loads(third.out)["changes"] == []  # the ledger has them on pro now
    assert cli("mail", "flush").code == 0
    emails = [m.decode() if isinstance(m, bytes) else m for m in smtp_server.received]
    assert len(emails) == 3 and all("Your plan changes on November 20, 2026" in m for m in emails)
    assert json.loads(cli("billing", "subscription", "ana@example.com", "--format", "json").out)["plan"] == "pro"


def test_migrate_prorates_only_when_asked(cli, shop):
    assert cli("billing", "migrate", "--map", "starter=pro", "--apply", "--prorate").code == 0
    assert shop.sent("/v1/subscriptions/sub_ana")[0].fields["proration_behavior"] == "create_prorations"
    bad = cli("billing", "migrate", "--map", "starter")
    assert bad.code == 2 and "expected OLD=NEW" in bad.err
    unknown = cli("billing", "migrate", "--map", "starter=gold")
    assert (
        unknown.code == 2 and "Invalid value for '--map': 'gold' is not one of 'free', 'pro', 'starter'." in unknown.err
    )


def test_a_migrate_killed_after_stripe_answered_resends_the_same_key_and_emails_once(
    cli, shop, smtp_server, monkeypatch
):
    import arkops.core.notify

    answers = {"n": 0}
    respond = shop.responders["/v1/subscriptions/sub_ana"]

    def counting(params: dict) -> dict:
        answers["n"] += 1
        return respond(params)

    shop.responders["/v1/subscriptions/sub_ana"] = counting
    real_notify = arkops.core.notify.notify

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after Stripe's answer, before its record is committed

    monkeypatch.setattr(arkops.core.notify, "notify", killed)
    assert cli("billing", "migrate", "--map", "starter=pro", "--apply").code == 130
    monkeypatch.setattr(arkops.core.notify, "notify", real_notify)
    again = cli("billing", "migrate", "--map", "starter=pro", "--apply", "--format", "json")
    assert again.code == 0, again.err
    assert [c["state"] for c in json.loads(again.out)["changes"]] == ["migrated"]
    first, second = shop.sent("/v1/subscriptions/sub_ana")
    assert (
        first.idempotency_key
        == second.idempotency_key
        == "arkops-migrate-sub_ana-price_prod_starter_month1-price_prod_pro_month1"
    )
    assert answers["n"] == 1  # the second request got Stripe's first answer back: moved once
    assert cli("mail", "flush").code == 0
    assert len(smtp_server.received) == 1


def test_the_portal_link_of_an_email_opens_a_fresh_session_by_redirect(cli, workspace, shop):
    import http.client
    from datetime import timedelta

    from serve_client import Server

    from arkops.clock import parse_iso
    from arkops.core.links import portal_link

    write_config(workspace, CONFIG + '[serve]\npublic_url = "https://acme.example"\n')
    shop.responders["/v1/billing_portal/sessions"] = lambda params: {
        **fixture("billing_portal.session"),
        "id": "bps_2",
        "url": "https://billing.stripe.com/p/session/bps_2",
        "customer": params["customer"],
    }
    rt = Runtime(workspace / "data", workspace / "arkops.toml", workspace / ".env")
    link = portal_link(rt, "bo@example.com", now=parse_iso(NOW))
    stale = portal_link(rt, "bo@example.com", now=parse_iso(NOW) - timedelta(days=46))
    assert link is not None and stale is not None and link.startswith("https://acme.example/billing/portal/")
    server = Server(workspace, env={"ARKOPS_NOW": NOW})
    try:

        def get(path: str) -> http.client.HTTPResponse:  # no redirect followed: the answer itself
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
            connection.request("GET", path)
            return connection.getresponse()

        answer = get(link.removeprefix("https://acme.example"))
        assert answer.status == 303 and answer.headers["Location"] == "https://billing.stripe.com/p/session/bps_2"
        (sent,) = shop.sent("/v1/billing_portal/sessions")
        assert sent.form == [("customer", "cus_1")]
        expired = get(stale.removeprefix("https://acme.example"))
        assert expired.status == 400 and b"expired" in expired.read()
        forged = get(link.removeprefix("https://acme.example").replace(".", "x.", 1))
        assert forged.status == 400 and b"not valid" in forged.read()
    finally:
        server.stop()
    assert len(shop.sent("/v1/billing_portal/sessions")) == 1
