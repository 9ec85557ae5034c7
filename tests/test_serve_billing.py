"""The billing routes of `arkops serve` on their good paths, against the local Stripe-shaped server the plans
tests use: what the route answers (checked against docs/openapi.json), what reached Stripe, and the live-key
guard and --dry-run as the commands have them."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)
from __future__ import annotations

import pytest
from serve_client import Server
from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import fixture
from test_plans import NOW, session_responder, shop  # noqa: F401  (shop is a fixture)
from test_serve_routes import conforms


@pytest.fixture
def served(shop, workspace):
    running = Server(workspace, env={"ARKOPS_NOW": NOW})
    yield running
    running.stop()


def test_checkout_answers_the_session_once_per_idempotency_key(served, shop):
    shop.responders["/v1/checkout/sessions"] = session_responder
    body = {"email": "New@Example.com", "plan": "pro", "trial_days": 14}
    answer = served.request("POST", "/api/billing/checkout", body, headers={"Idempotency-Key": "pricing-1"})
    conforms(answer, "/api/billing/checkout", "POST")
    assert answer.status == 200, answer.json
    assert answer.json == {
        "id": "cs_test_a1",
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1",
        "expires_at": "2026-11-21T10:00:00Z",
    }
    (sent,) = shop.sent("/v1/checkout/sessions")
    fields = sent.fields
    assert fields["line_items[0][price]"] == "price_prod_pro_month1" and fields["customer_email"] == "new@example.com"
    assert fields["subscription_data[trial_period_days]"] == "14"
    replay = served.request("POST", "/api/billing/checkout", body, headers={"Idempotency-Key": "pricing-1"})
    assert replay.json == answer.json and replay.headers["Idempotent-Replayed"] == "true"
    assert len(shop.sent("/v1/checkout/sessions")) == 1  # the replay did not reach Stripe


def test_portal_answers_a_session_url_for_the_ledgers_customer(served, shop):
    def responder(params: dict) -> dict:
        session = fixture("billing_portal.session")
        session.update(id="bps_1", url="https://billing.stripe.com/p/session/bps_1", customer=params["customer"])
        return session

    shop.responders["/v1/billing_portal/sessions"] = responder
    answer = served.request("POST", "/api/billing/portal", {"email": "bo@example.com"})
    conforms(answer, "/api/billing/portal", "POST")
    assert answer.status == 200 and answer.json["url"] == "https://billing.stripe.com/p/session/bps_1"
    (sent,) = shop.sent("/v1/billing_portal/sessions")
    assert sent.form == [("customer", "cus_1")]


def test_subscription_and_cancel_at_the_periods_end(served, shop):
    shown = served.request("GET", "/api/billing/subscription?email=ana@example.com")
    conforms(shown, "/api/billing/subscription", "GET")
    assert shown.status == 200 and shown.json["plan"] == "starter" and shown.json["status"] == "active"
    assert shown.json["cancel_at_period_end"] is False
    done = served.request("POST", "/api/billing/cancel", {"email": "ana@example.com", "at_period_end": True})
    conforms(done, "/api/billing/cancel", "POST")
    assert done.status == 200, done.json
    assert done.json == {
        "email": "ana@example.com",
        "subscription": "sub_ana",
        "at_period_end": True,
        "period_end": "2026-12-05T00:00:00Z",
        "status": "active",
    }
    (sent,) = shop.sent("/v1/subscriptions/sub_ana")
    assert (sent.method, sent.form) == ("post", [("cancel_at_period_end", "true")])
    after = served.request("GET", "/api/billing/subscription?email=ana@example.com")
    assert after.json["cancel_at_period_end"] is True  # the ledger learned it, as after `billing cancel`


def test_cancel_now_deletes_the_subscription(served, shop):
    done = served.request("POST", "/api/billing/cancel", {"email": "bo@example.com", "at_period_end": False})
    conforms(done, "/api/billing/cancel", "POST")
    assert done.status == 200 and done.json["at_period_end"] is False and done.json["status"] == "canceled"
    (sent,) = shop.sent("/v1/subscriptions/sub_bo")
    assert sent.method == "delete"


def test_a_live_key_writes_nothing_unless_the_server_is_allowed_to(shop, workspace, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_" + "shapedserver0123456789")
    refused_server = Server(workspace, env={"ARKOPS_NOW": NOW})
    try:
        refused = refused_server.request("POST", "/api/billing/portal", {"email": "bo@example.com"})
    finally:
        refused_server.stop()
    conforms(refused, "/api/billing/portal", "POST")
    assert refused.status == 400 and "STRIPE_SECRET_KEY is a live key" in refused.json["error"]
    assert shop.sent() == []
    shop.responders["/v1/checkout/sessions"] = session_responder
    allowed = Server(workspace, env={"ARKOPS_NOW": NOW, "ARKOPS_ALLOW_LIVE": "1"})
    try:
        answer = allowed.request("POST", "/api/billing/checkout", {"email": "new@example.com", "plan": "pro"})
    finally:
        allowed.stop()
    assert answer.status == 200 and answer.json["id"] == "cs_test_a1"
    assert len(shop.sent("/v1/checkout/sessions")) == 1


def test_dry_run_answers_what_would_be_asked_of_stripe(shop, workspace):
    running = Server(workspace, env={"ARKOPS_NOW": NOW}, global_args=("--dry-run",))
    try:
        answer = running.request("POST", "/api/billing/checkout", {"email": "new@example.com", "plan": "pro"})
    finally:
        running.stop()
    conforms(answer, "/api/billing/checkout", "POST")
    assert answer.status == 200 and answer.json["url"] is None
    (planned,) = answer.json["planned"]
    assert planned.startswith("POST /v1/checkout/sessions") and "price_prod_pro_month1" in planned, planned
    assert shop.sent() == []
