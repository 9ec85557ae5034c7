"""Hostile inputs: a payload nested 100,000 deep, logs with huge lines, gzip bombs, a truncated gzip.

Every reader keeps its memory bounded whatever a file holds, and one bad file, record or line is
reported and skipped, never the whole run.
"""

from __future__ import annotations

import json

import stripe
from stripe_shapes import event, invoice, ts

SECRET = "whsec_" + "boundedinputs0123456789abc"


def signed_ingest(cli, workspace, payload: str):
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    (workspace / "event.json").write_text(payload)
    return cli("webhooks", "ingest", "event.json", "--signature", header)


def test_a_webhook_nested_100000_deep_is_a_bad_payload(cli, workspace, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-01T00:01:00Z")
    deep = "[" * 100_000 + "]" * 100_000
    payload = '{"id": "evt_deep", "object": "event", "type": "invoice.paid", "data": {"object": ' + deep + "}}"
    refused = signed_ingest(cli, workspace, payload)
    assert refused.code == 3, refused.err
    assert refused.err == "arkops: error: webhook refused: payload: nested deeper than 64 levels\n"
    assert not (workspace / "data" / "ledger.json").exists()
    # Nesting as deep as real events go, in a field arkops does not read, is applied.
    paid = event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 2900, paid_at=ts("2026-03-01")), ts("2026-03-01"))
    nested: dict = {}
    for _ in range(20):
        nested = {"inner": nested}
    paid["data"]["object"]["metadata"] = {"deep": json.dumps(nested)}
    paid["data"]["object"]["custom_fields"] = [nested]
    applied = signed_ingest(cli, workspace, json.dumps(paid))
    assert applied.code == 0 and "applied" in applied.err, applied.err
