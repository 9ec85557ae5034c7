"""`StripeWriter`, the one path for writes to Stripe, against the local Stripe-shaped server: the form
the stripe library really sends, idempotency keys, the live-key guard, --dry-run, and Stripe's errors
turned into exit codes."""

# ruff: noqa: F811  (tests take the fixture imported below as an argument)
from __future__ import annotations

import pytest
from stripe_server import stripe_server  # noqa: F401  (a fixture)

from arkops.errors import ExitCode, ServiceError
from arkops.sources.stripe_api import LiveKeyRefused, StripeRejected, StripeWriter, form_pairs

COUPON = {
    "id": "LAUNCH30",
    "percent_off": 25,
    "duration": "repeating",
    "duration_in_months": 6,
    "max_redemptions": 30,
    "applies_to": {"products": ["prod_starter", "prod_pro"]},
    "metadata": {"arkops": "true"},
}


def writer(**kwargs) -> StripeWriter:
    return StripeWriter(timeout=5.0, delays=[0.0, 0.0], **kwargs)


def test_a_write_sends_stripes_form_with_its_idempotency_key(stripe_server):
    created = writer().post("/v1/coupons", COUPON, idempotency_key="arkops-promo-LAUNCH30", what="creating a coupon")
    assert created is not None and created["id"] == "LAUNCH30" and created["object"] == "coupon"
    (sent,) = stripe_server.sent("/v1/coupons")
    assert sent.form == [
        ("id", "LAUNCH30"),
        ("percent_off", "25"),
        ("duration", "repeating"),
        ("duration_in_months", "6"),
        ("max_redemptions", "30"),
        ("applies_to[products][0]", "prod_starter"),
        ("applies_to[products][1]", "prod_pro"),
        ("metadata[arkops]", "true"),
    ]
    assert sent.form == form_pairs(COUPON)  # what --dry-run prints is what is sent
    assert sent.idempotency_key == "arkops-promo-LAUNCH30"
    assert stripe_server.objects["/v1/coupons/LAUNCH30"]["applies_to"] == {"products": ["prod_starter", "prod_pro"]}


def test_the_same_idempotency_key_gets_the_first_answer_and_creates_nothing(stripe_server):
    first = writer().post("/v1/products", {"name": "Pro"}, idempotency_key="k1", what="creating a product")
    again = writer().post("/v1/products", {"name": "Pro"}, idempotency_key="k1", what="creating a product")
    assert first == again
    assert len(stripe_server.lists["/v1/products"]) == 1


def test_a_live_key_without_live_sends_nothing(stripe_server, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_" + "x" * 24)
    monkeypatch.delenv("ARKOPS_ALLOW_LIVE", raising=False)
    with pytest.raises(LiveKeyRefused) as refused:
        writer()
    assert refused.value.exit_code == ExitCode.BAD_DATA
    assert "--live" in str(refused.value) and "sk_live_x" not in str(refused.value)
    writer(dry_run=True)  # a dry run sends no write, so it needs no --live
    writer(live=True).post("/v1/products", {"name": "Pro"}, idempotency_key="k2", what="creating a product")
    monkeypatch.setenv("ARKOPS_ALLOW_LIVE", "1")
    writer().post("/v1/products", {"name": "Business"}, idempotency_key="k3", what="creating a product")
    assert [w.fields["name"] for w in stripe_server.sent()] == ["Pro", "Business"]


def test_dry_run_records_the_writes_and_sends_none(stripe_server):
    dry = writer(dry_run=True)
    assert dry.post("/v1/coupons", COUPON, idempotency_key="k", what="creating a coupon") is None
    assert stripe_server.sent() == []
    (planned,) = dry.planned
    assert planned.line().startswith("POST /v1/coupons id=LAUNCH30 percent_off=25 duration=repeating")
    assert planned.line().endswith("(Idempotency-Key: k)")


def test_a_rejected_request_is_exit_3_with_stripes_message_and_request_id(stripe_server):
    error = {"error": {"type": "invalid_request_error", "message": "Invalid integer: abc", "param": "percent_off"}}
    stripe_server.fail.append((400, error))
    with pytest.raises(StripeRejected) as rejected:
        writer().post("/v1/coupons", {"percent_off": "abc"}, idempotency_key="k", what="creating a coupon")
    assert rejected.value.exit_code == ExitCode.BAD_DATA
    assert "Invalid integer: abc" in str(rejected.value) and "\n" not in str(rejected.value)
    assert writer().find("/v1/coupons/NOPE", what="reading a coupon") is None


def test_a_server_error_is_retried_with_the_same_key_then_exit_4(stripe_server):
    down = {"error": {"type": "api_error", "message": "Something went wrong"}}
    stripe_server.fail.append((500, down))
    created = writer().post("/v1/products", {"name": "Pro"}, idempotency_key="k", what="creating a product")
    assert created is not None and created["name"] == "Pro"
    assert [w.idempotency_key for w in stripe_server.sent()] == ["k", "k"]
    stripe_server.fail.extend([(503, down)] * 3)
    with pytest.raises(ServiceError) as failed:
        writer().post("/v1/products", {"name": "Team"}, idempotency_key="k9", what="creating a product")
    assert failed.value.exit_code == ExitCode.SERVICE and "after 3 attempts" in str(failed.value)
