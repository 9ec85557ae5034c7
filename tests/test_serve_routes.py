"""Every route of `arkops serve`, good and bad input, against the real process; every answer is checked against
docs/openapi.json, and CORS headers appear only where they are allowed."""

from __future__ import annotations

import http.client
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ROOT, run_arkops, write_config
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from serve_client import Answer, Server
from stripe_server import stripe_server  # noqa: F401  (a fixture)

OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text())
LANDING = "https://www.example.com"
NOW = "2026-03-01T12:00:00Z"


def conforms(answer: Answer, path: str, method: str) -> None:
    """The answer's body is what docs/openapi.json says this route answers with this status."""
    responses = OPENAPI["paths"][path][method.lower()]["responses"]
    assert str(answer.status) in responses, f"{method} {path}: {answer.status} is not documented"
    spec = responses[str(answer.status)]
    if "$ref" in spec:
        spec = OPENAPI["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
    if "content" not in spec:  # a redirect: headers only
        assert answer.raw == b""
        return
    media, content = next(iter(spec["content"].items()))
    if media != "application/json":
        assert answer.headers["Content-Type"].startswith(media)
        return
    schema = {**content["schema"], "components": OPENAPI["components"]}
    Draft202012Validator(schema).validate(answer.json)


@pytest.fixture
def server(workspace):
    write_config(workspace, f'[serve]\ncors_origins = ["{LANDING}"]\nrate_per_minute = 5\n')
    assert (
        run_arkops(
            "promo",
            "create",
            "LAUNCH30",
            "--discount",
            "pro=30",
            "--months",
            "3",
            "--slots",
            "2",
            cwd=workspace,
            env={"ARKOPS_NOW": NOW},
        ).code
        == 0
    )
    running = Server(workspace, env={"ARKOPS_NOW": NOW})
    yield running
    running.stop()


def test_the_openapi_document_is_valid():
    validate_spec(OPENAPI)


def test_promo_routes_are_public_rate_limited_and_cors_only_for_the_landing_page(server):
    offer = server.request("GET", "/api/promo/launch30?plan=pro", token=None, headers={"Origin": LANDING})
    conforms(offer, "/api/promo/{code}", "GET")
    assert offer.status == 200 and offer.json["valid"] is True and offer.json["percent_off"] == 30
    assert offer.json["months"] == 3 and offer.json["discounted_price"] < offer.json["price"]
    assert offer.headers["Access-Control-Allow-Origin"] == LANDING and offer.headers["Vary"] == "Origin"
    stranger = server.request(
        "GET", "/api/promo/LAUNCH30/remaining", token=None, headers={"Origin": "https://evil.example"}
    )
    conforms(stranger, "/api/promo/{code}/remaining", "GET")
    assert stranger.json == {"code": "LAUNCH30", "remaining": 2, "total": 2, "used": 0, "percent_filled": 0.0}
    assert stranger.headers["Cache-Control"] == "public, max-age=5"
    assert "Access-Control-Allow-Origin" not in stranger.headers
    preflight = server.request("OPTIONS", "/api/promo/LAUNCH30/remaining", token=None, headers={"Origin": LANDING})
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    no_plan = server.request("GET", "/api/promo/LAUNCH30", token=None)
    conforms(no_plan, "/api/promo/{code}", "GET")
    assert no_plan.status == 400 and no_plan.json["code"] == "bad_data"
    assert server.request("GET", "/api/promo/LAUNCH30/remaining", token=None).status == 200  # the fifth in a minute
    limited = server.request("GET", "/api/promo/LAUNCH30/remaining", token=None, headers={"Origin": LANDING})
    conforms(limited, "/api/promo/{code}/remaining", "GET")
    assert limited.status == 429 and limited.headers["Retry-After"] == "5"  # the sixth request in a minute
    assert limited.headers["Access-Control-Allow-Origin"] == LANDING  # the page can read why


def test_token_routes_never_answer_cors(server):
    answer = server.request("POST", "/api/events", {"type": "usage"}, headers={"Origin": LANDING})
    assert answer.status == 202 and "Access-Control-Allow-Origin" not in answer.headers
    preflight = server.request("OPTIONS", "/api/events", token=None, headers={"Origin": LANDING})
    assert preflight.status == 405 and "Access-Control-Allow-Origin" not in preflight.headers


def test_redeem_takes_slots_once_per_key_and_says_why_not(server, workspace):
    body = {"email": "ana@example.com", "plan": "pro"}
    unauthorized = server.request("POST", "/api/promo/LAUNCH30/redeem", body, token=None)
    conforms(unauthorized, "/api/promo/{code}/redeem", "POST")
    assert unauthorized.status == 401
    first = server.request("POST", "/api/promo/LAUNCH30/redeem", body, headers={"Idempotency-Key": "r1"})
    conforms(first, "/api/promo/{code}/redeem", "POST")
    assert first.status == 200 and first.json["redeemed"] is True and first.json["remaining"] == 1
    replay = server.request(
        "POST", "/api/promo/LAUNCH30/redeem", {**body, "email": "x@example.com"}, headers={"Idempotency-Key": "r1"}
    )
    assert replay.status == 200 and replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    second = server.request("POST", "/api/promo/LAUNCH30/redeem", {**body, "email": "bo@example.com"})
    third = server.request("POST", "/api/promo/LAUNCH30/redeem", {**body, "email": "cy@example.com"})
    conforms(third, "/api/promo/{code}/redeem", "POST")
    assert second.status == 200 and third.status == 409 and third.json["reason"] == "no slots left"
    remaining = server.request("GET", "/api/promo/LAUNCH30/remaining", token=None)
    assert remaining.json["remaining"] == 0 and remaining.json["percent_filled"] == 100.0
    missing = server.request("POST", "/api/promo/LAUNCH30/redeem", {"plan": "pro"})
    conforms(missing, "/api/promo/{code}/redeem", "POST")
    assert missing.status == 400 and missing.json == {"error": "email: required, as text", "code": "bad_data"}
    not_object = server.request("POST", "/api/promo/LAUNCH30/redeem", [1])
    assert not_object.status == 400 and not_object.json["code"] == "bad_json"


def test_events_and_usage_answers_match_the_document(server):
    events = server.request(
        "POST",
        "/api/events",
        [
            {"type": "usage", "id": 7, "email": "ana@example.com", "metric": "seats", "value": 3},
            {"type": "usage", "email": "ana@example.com", "metric": "seats", "value": 3},
            {"type": "nope"},
        ],
    )
    conforms(events, "/api/events", "POST")
    assert [r["status"] for r in events.json["results"]] == ["stored", "duplicate", "refused"]
    assert events.json["results"][0]["id"] == "7"
    usage = server.request("GET", "/api/usage?email=ana@example.com")
    conforms(usage, "/api/usage", "GET")
    seats = next(row for row in usage.json["usage"] if row["metric"] == "seats")
    assert seats["used"] == 3
    bad = server.request("GET", "/api/usage?email=not-an-email")
    conforms(bad, "/api/usage", "GET")
    assert bad.status == 400 and bad.json["code"] == "bad_data"
    assert server.request("GET", "/api/usage").status == 400
    for answer in (server.request("POST", "/api/events", raw=b"nope"), server.request("POST", "/api/events", [])):
        conforms(answer, "/api/events", "POST")
        assert answer.status == 400


def test_billing_routes_need_the_token_and_refuse_what_the_commands_refuse(server):
    cases = [
        ("POST", "/api/billing/checkout", {"email": "ana@example.com", "plan": "free"}),
        ("POST", "/api/billing/checkout", {"email": "ana@example.com", "plan": "pro", "trial_days": -1}),
        ("POST", "/api/billing/portal", {"email": "nobody@example.com"}),
        ("POST", "/api/billing/cancel", {"email": "nobody@example.com"}),
        ("POST", "/api/billing/cancel", {"email": "nobody@example.com", "at_period_end": "yes"}),
        ("GET", "/api/billing/subscription?email=nobody@example.com", None),
    ]
    for method, path, body in cases:
        route = path.split("?")[0]
        assert server.request(method, path, body, token=None).status == 401
        answer = server.request(method, path, body)
        conforms(answer, route, method)
        assert answer.status == 400 and answer.json["code"] == "bad_data", (path, answer.json)
    portal = server.request("POST", "/api/billing/portal", {"email": "nobody@example.com"})
    assert portal.json["error"] == "no Stripe customer for nobody@example.com in the ledger (run `arkops stripe sync`)"
    assert server.request("POST", "/api/billing/portal", {}).json == {
        "error": "email: required, as text",
        "code": "bad_data",
    }


def test_healthz_says_why_until_cron_ticks_and_metrics_count(server, workspace):
    unhealthy = server.request("GET", "/healthz", token=None)
    conforms(unhealthy, "/healthz", "GET")
    assert unhealthy.status == 503
    assert unhealthy.json["reasons"] == ["`arkops run` has never run here: is the cron line installed?"]
    assert run_arkops("run", "--only", "funnel-check", cwd=workspace, env={"ARKOPS_NOW": NOW}).code == 0
    healthy = server.request("GET", "/healthz", token=None)
    conforms(healthy, "/healthz", "GET")
    assert healthy.status == 200 and healthy.json["status"] == "ok" and healthy.json["last_tick_age_seconds"] == 0
    server.request("POST", "/api/events", {"type": "usage", "email": "a@example.com", "metric": "seats", "value": 1})
    assert server.request("GET", "/metrics", token=None).status == 401
    metrics = server.request("GET", "/metrics")
    conforms(metrics, "/metrics", "GET")
    text = metrics.raw.decode()
    assert 'arkops_http_requests_total{route="/healthz",status="503"} 1' in text
    assert 'arkops_http_requests_total{route="/healthz",status="200"} 1' in text
    assert 'arkops_events_total{type="usage",status="stored"} 1' in text
    assert 'arkops_outbox_messages{state="pending"} ' in text
    assert "arkops_last_tick_age_seconds 0.0" in text


def test_doctor_checks_the_token_and_the_port(server, workspace):
    write_config(workspace, f"[serve]\nport = {server.port}\n")
    short = run_arkops("doctor", "--format", "json", cwd=workspace, env={"ARKOPS_SERVE_TOKEN": "short"})
    checks = {c["check"]: c for c in json.loads(short.out)}
    assert short.code == 1 and checks["serve token"]["status"] == "fail"
    assert checks["serve token"]["detail"].startswith("ARKOPS_SERVE_TOKEN has 5 characters; use at least 32")
    assert checks["serve port"]["status"] == "warn"  # ours, answering, unhealthy: cron never ran
    assert "short" not in short.out
    server.stop()
    free = run_arkops("doctor", "--format", "json", cwd=workspace, env={"ARKOPS_SERVE_TOKEN": "x" * 32})
    checks = {c["check"]: c for c in json.loads(free.out)}
    assert checks["serve token"]["status"] == "ok"
    assert checks["serve port"] == {
        "check": "serve port",
        "status": "ok",
        "detail": f"127.0.0.1:{server.port} is free for `arkops serve`",
    }


def test_behind_a_trusted_proxy_the_rate_limit_counts_the_forwarded_clients(workspace):
    write_config(workspace, '[serve]\nrate_per_minute = 2\ntrusted_proxy = "127.0.0.1"\n')
    assert run_arkops("promo", "create", "LAUNCH30", "--discount", "pro=30", "--slots", "2", cwd=workspace).code == 0
    running = Server(workspace)
    try:

        def remaining(client: str) -> int:
            return running.request(
                "GET", "/api/promo/LAUNCH30/remaining", token=None, headers={"X-Forwarded-For": client}
            ).status

        assert [remaining("198.51.100.1") for _ in range(3)] == [200, 200, 429]
        assert remaining("198.51.100.2") == 200  # another visitor behind the same proxy has their own bucket
    finally:
        err = running.stop()
    assert "198.51.100.2 - - [" in err  # the access log names the client, not the proxy


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(workspace):
    write_config(workspace, "[serve]\nrate_per_minute = 2\n")
    assert run_arkops("promo", "create", "LAUNCH30", "--discount", "pro=30", "--slots", "2", cwd=workspace).code == 0
    running = Server(workspace)
    try:
        statuses = [
            running.request(
                "GET", "/api/promo/LAUNCH30/remaining", token=None, headers={"X-Forwarded-For": f"198.51.100.{n}"}
            ).status
            for n in range(3)
        ]
    finally:
        err = running.stop()
    assert statuses == [200, 200, 429]  # a client cannot take a new bucket by naming another address
    assert "198.51.100." not in err


def test_the_trial_emails_upgrade_link_opens_a_fresh_checkout_through_serve(
    cli,
    workspace,
    stripe_server,  # noqa: F811  (the fixture imported above)
):
    from stripe_shapes import fixture

    write_config(
        workspace,
        '[serve]\npublic_url = "https://ops.example.com/"\n'
        '[billing]\ncheckout_success_url = "https://app.example.com/welcome"\n'
        '[plans.pro]\nname = "Pro"\nprice = 2900\nstripe_price = "price_pro"\n'
        '[plans.starter]\nname = "Starter"\nprice = 900\n',  # no Stripe price: no link through serve
    )

    def session(params: dict) -> dict:
        return {
            **fixture("checkout.session"),
            "id": "cs_test_up",
            "url": "https://checkout.stripe.com/c/pay/cs_test_up",
        }

    stripe_server.responders["/v1/checkout/sessions"] = session
    for who, plan in (("ana@example.com", "pro"), ("bo@example.com", "starter")):
        assert cli("trials", "signup", who, "--plan", plan, "--at", "2026-03-02T10:00:00Z").code == 0
    running = Server(workspace, env={"ARKOPS_NOW": "2026-03-14T09:00:00Z"})
    try:
        assert run_arkops("trials", "nudge", cwd=workspace, env={"ARKOPS_NOW": "2026-03-14T09:00:00Z"}).code == 0
        assert stripe_server.sent("/v1/checkout/sessions") == []  # no session until the link is clicked
        sent = {m["to"]: m["text"] for m in json.loads(cli("mail", "outbox", "--format", "json").out)}
        (link,) = [
            word for word in sent["ana@example.com"].split() if word.startswith("https://ops.example.com/upgrade")
        ]
        assert link.startswith("https://ops.example.com/upgrade?email=ana%40example.com&plan=pro&sig=")
        assert "mailto:ops@example.com" in sent["bo@example.com"]

        def click(path: str) -> Answer:
            connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=15)
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                return Answer(response.status, response.msg, response.read())
            finally:
                connection.close()

        target = urlsplit(link)
        opened = click(f"{target.path}?{target.query}")
        conforms(opened, "/upgrade", "GET")
        assert opened.status == 302 and opened.headers["Location"] == "https://checkout.stripe.com/c/pay/cs_test_up"
        (made,) = stripe_server.sent("/v1/checkout/sessions")
        assert made.fields["customer_email"] == "ana@example.com" and made.fields["line_items[0][price]"] == "price_pro"
        assert "subscription_data[trial_period_days]" not in made.fields  # the trial is ending: pay now

        query = parse_qs(target.query)
        for forged in (
            f"/upgrade?email=bo%40example.com&plan=pro&sig={query['sig'][0]}",  # another address, the same signature
            f"/upgrade?email=ana%40example.com&plan=pro&sig={'0' * 32}",
            "/upgrade?email=ana%40example.com&plan=pro",
        ):
            refused = click(forged)
            conforms(refused, "/upgrade", "GET")
            assert refused.status == 400 and refused.json["code"] == "bad_data", forged
        assert len(stripe_server.sent("/v1/checkout/sessions")) == 1
    finally:
        running.stop()
