"""Stripe sync and webhooks against localstripe, a real Stripe-compatible server process on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest
import stripe
from conftest import free_port, run_arkops, wait_until, write_config

from arkops.errors import ServiceError

KEY = "sk_test_" + "localstripe0123456789"
SECRET = "whsec_" + "localstripe0123456789abcdef"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# localstripe saves its whole store to one fixed file, /tmp/localstripe.pickle,
# after every write (no option or environment variable moves it) and loads it
# again at start unless given --from-scratch. Started through this wrapper it
# starts empty and saves into the test's folder: parallel or repeated runs
# never share state, and nothing is written outside tmp_path.
LOCALSTRIPE = textwrap.dedent(
    """
    import pickle, sys
    from pathlib import Path
    from localstripe import resources, server
    state = Path(sys.argv.pop(1))
    def dump_to_disk(store):
        state.write_bytes(pickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL))
    resources.Store.dump_to_disk = dump_to_disk
    server.start()
    """
)


@pytest.fixture
def localstripe(workspace, monkeypatch):
    port = free_port()
    state, log_path = workspace / "localstripe.pickle", workspace / "localstripe.log"
    command = [sys.executable, "-c", LOCALSTRIPE, str(state), "--port", str(port), "--from-scratch"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: port_open(port), 20), f"localstripe did not start: {log_path.read_text()[-2000:]}"
        base = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("STRIPE_API_BASE", base)
        monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
        yield stripe.StripeClient(KEY, base_addresses={"api": base})
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def create_paying_customer(client, email: str, amount: int = 2900) -> None:
    product = client.v1.products.create({"name": "Pro"})
    plan = client.v1.plans.create({"product": product.id, "amount": amount, "currency": "eur", "interval": "month"})
    token = client.v1.tokens.create(
        {"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    customer = client.v1.customers.create({"email": email, "source": token.id})
    client.v1.subscriptions.create({"customer": customer.id, "items": [{"plan": plan.id}]})


def test_sync_pulls_events_and_applies_each_once(cli, localstripe):
    create_paying_customer(localstripe, "ana@example.com", 2900)
    create_paying_customer(localstripe, "bob@example.com", 9900)
    first = cli("stripe", "sync")
    assert first.code == 0, first.err
    subs = json.loads(cli("billing", "subscriptions", "--format", "json").out)
    assert sorted((s["customer_email"], s["status"], s["mrr"]) for s in subs) == [
        ("ana@example.com", "active", 2900),
        ("bob@example.com", "active", 9900),
    ]
    second = cli("stripe", "sync")
    assert second.code == 0 and "0 applied" in second.err
    messages = json.loads(cli("mail", "outbox", "--format", "json").out)
    assert [m["template"] for m in messages] == ["first_revenue"]
    paid = json.loads(cli("payments", "list", "--status", "paid", "--format", "json").out)
    assert sorted(p["amount"] for p in paid) == [2900, 9900]
    create_paying_customer(localstripe, "cem@example.com", 900)
    third = cli("stripe", "sync")
    assert third.code == 0
    assert len(json.loads(cli("billing", "subscriptions", "--format", "json").out)) == 3


# `stripe sync --full` is tested in test_billing_rebuild.py against the Stripe-shaped server: it lists
# subscriptions with `expand[]=data.discounts.source.coupon`, invoice payments, disputes and credit notes,
# which localstripe does not serve (its subscriptions have the singular `discount` of API versions
# before 2024-06-20).


@pytest.mark.slow
def test_sync_is_refused_while_another_sync_holds_the_lock(workspace, localstripe):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from arkops.store import Store
        with Store(Path(sys.argv[1])).job_lock("stripe-sync"):
            print("held", flush=True); time.sleep(30)
        """),
            str(workspace / "data"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = run_arkops("stripe", "sync", cwd=workspace)
        assert result.code == 75 and "job lock 'stripe-sync'" in result.err
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_unreachable_stripe_is_exit_4(cli, workspace, monkeypatch):
    write_config(workspace, "[billing]\nstripe_retry_seconds = [0.01, 0.01]\n")
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    result = cli("stripe", "sync")
    assert result.code == 4
    assert result.err.startswith("arkops: error: Stripe unreachable while listing events after 3 attempts: ")
    assert result.err.count("\n") == 1 and KEY not in result.err


@pytest.mark.parametrize(
    ("delays", "attempts"), [([], "1 attempt"), ([0.5, 1.0, 2.0], "4 attempts")], ids=["no-retry", "default-waits"]
)
def test_a_failing_request_is_retried_after_each_configured_wait(delays, attempts):
    from arkops.sources.stripe_api import call

    tries, waits = [], []

    def request():
        tries.append(len(waits))
        raise stripe.APIConnectionError("connection refused")

    with pytest.raises(
        ServiceError, match=f"^Stripe unreachable while listing events after {attempts}: connection refused$"
    ):
        call(request, what="listing events", delays=delays, sleep=waits.append)
    assert waits == delays and tries == list(range(len(delays) + 1))


def test_cursor_older_than_retention_alerts_and_points_to_full(cli, workspace, localstripe, monkeypatch):
    create_paying_customer(localstripe, "ana@example.com")
    assert cli("stripe", "sync").code == 0
    monkeypatch.setenv("ARKOPS_NOW", "2027-06-01T00:00:00Z")
    result = cli("stripe", "sync")
    assert result.code == 1 and "--full" in result.err and "30-day" in result.err
    templates = [m["template"] for m in json.loads(cli("mail", "outbox", "--format", "json").out)]
    assert templates.count("job_failed") == 1


def test_doctor_stripe_check_uses_the_local_server(cli, localstripe):
    result = cli("doctor", "--stripe", "--format", "json")
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert checks["stripe api"]["status"] == "ok", checks["stripe api"]


@pytest.mark.slow
def test_localstripe_delivers_signed_webhooks_to_serve(workspace, localstripe, monkeypatch):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "arkops", "serve", "--port", str(port)],
        cwd=workspace,
        env={**__import__("os").environ, "STRIPE_WEBHOOK_SECRET": SECRET},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: port_open(port), 20)
        api = __import__("os").environ["STRIPE_API_BASE"]
        body = f"url=http://127.0.0.1:{port}/webhooks/stripe&secret={SECRET}".encode()
        urllib.request.urlopen(
            urllib.request.Request(f"{api}/_config/webhooks/arkops", data=body, method="POST"), timeout=10
        )
        create_paying_customer(localstripe, "web@example.com", 2900)
        ledger = workspace / "data" / "ledger.json"

        def delivered() -> bool:  # localstripe posts each event on its own, in any order
            data = json.loads(ledger.read_text()) if ledger.exists() else {}
            return bool(data.get("subscriptions")) and bool(data.get("customers"))

        assert wait_until(delivered, 30)
        data = json.loads(ledger.read_text())
        assert [c["email"] for c in data["customers"].values()] == ["web@example.com"]
        bad = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/stripe",
            data=b'{"id": "evt_x", "type": "x"}',
            method="POST",
            headers={"Stripe-Signature": "t=1,v1=00"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=10)
        assert info.value.code == 400
    finally:
        server.terminate()
        server.wait(timeout=10)
