"""`arkops serve` as a real process: the errors, the token, limits, request ids, webhooks, events, the stop."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time

import pytest
import stripe
from conftest import run_arkops, write_config
from serve_client import TOKEN, WEBHOOK_SECRET, Server
from stripe_shapes import event, invoice, ts


@pytest.fixture
def server(workspace):
    running = Server(workspace, env={"ARKOPS_NOW": "2026-03-01T00:01:00Z"})
    yield running
    running.stop()


def signed(evt: dict) -> tuple[bytes, str]:
    payload = json.dumps(evt)
    return payload.encode(), stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)


def paid(number: int = 1) -> dict:
    return event(
        f"evt_{number}",
        "invoice.paid",
        invoice(f"in_{number}", f"cus_{number}", 2900, paid_at=ts("2026-03-01")),
        ts("2026-03-01"),
    )


def post_webhook(server: Server, evt: dict, timeout: float = 15) -> int:
    payload, header = signed(evt)
    return server.request(
        "POST", "/webhooks/stripe", raw=payload, token=None, headers={"Stripe-Signature": header}, timeout=timeout
    ).status


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def raw_answer(port: int, data: bytes) -> tuple[str, dict[str, str], dict]:
    """(status line, headers, JSON body) of the server's answer to raw bytes."""
    head, _, body = raw_exchange(port, data).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, json.loads(body)


def test_errors_are_json_with_a_code_and_a_request_id(server):
    missing = server.request("GET", "/nowhere")
    assert missing.status == 404 and missing.json == {"error": "no route /nowhere", "code": "not_found"}
    assert len(missing.headers["X-Request-Id"]) == 16
    wrong_method = server.request("GET", "/api/events")
    assert wrong_method.status == 405 and wrong_method.json["code"] == "method_not_allowed"
    assert wrong_method.headers["Allow"] == "POST"
    echoed = server.request("GET", "/nowhere", headers={"X-Request-Id": "app-42"})
    assert echoed.headers["X-Request-Id"] == "app-42"
    forged = server.request("GET", "/nowhere", headers={"X-Request-Id": "no spaces\tor tabs"})
    assert forged.headers["X-Request-Id"] != "no spaces\tor tabs"


def test_token_routes_refuse_a_missing_or_wrong_token(server):
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
        answer = server.request("POST", "/api/events", {"type": "signup"}, token=token)
        assert answer.status == 401, token
        assert answer.json == {
            "error": "a valid bearer token is required (Authorization: Bearer ...)",
            "code": "unauthorized",
        }
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="arkops"'
    basic = server.request("POST", "/api/events", {}, token=None, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status == 401


def test_bad_json_too_big_and_too_deep_are_refused(server):
    bad = server.request("POST", "/api/events", raw=b"{not json")
    assert bad.status == 400 and bad.json["code"] == "bad_json" and "not JSON" in bad.json["error"]
    empty = server.request("POST", "/api/events", raw=b"")
    assert empty.status == 400 and empty.json == {"error": "a JSON body is required", "code": "bad_json"}
    deep = server.request("POST", "/api/events", raw=b"[" * 100_000 + b"]" * 100_000)
    assert deep.status == 400 and "nested deeper than 64 levels" in deep.json["error"]
    big = server.request("POST", "/api/events", raw=b"[" + b" " * (1 << 20) + b"]")
    assert big.status == 413 and big.json == {"error": "the body is over 1,048,576 bytes", "code": "too_large"}
    huge = b"POST /api/events HTTP/1.1\r\nX-Request-Id: big-1\r\nContent-Length: 3145728\r\n\r\n"
    status, headers, body = raw_answer(server.port, huge)  # refused by waitress before a byte of the body is read
    assert status == "HTTP/1.1 413 Content Too Large"
    assert headers["content-type"] == "application/json" and headers["x-request-id"] == "big-1"
    assert body == {"error": "exceeds max_body of 2097152", "code": "too_large"}
    too_many = server.request("POST", "/api/events", [{"type": "signup"}] * 1001)
    assert too_many.status == 400 and too_many.json["error"] == "1,001 events in one request; at most 1,000"


def test_the_access_log_is_combined_format_with_the_request_id_and_no_secret(server):
    server.request("GET", "/nowhere?x=1", headers={"User-Agent": 'agent "quoted"', "X-Request-Id": "rid-1"})
    server.request("POST", "/api/events", raw=b"{bad", token=TOKEN)
    err = server.stop()
    line = next(line for line in err.splitlines() if "rid=rid-1" in line)
    assert line.startswith("127.0.0.1 - - [")
    assert '] "GET /nowhere?x=1 HTTP/1.1" 404 ' in line
    assert '"-" "agent \\"quoted\\"" rid=rid-1 ' in line
    assert TOKEN not in err and "Traceback" not in err
    assert "stopping on SIGTERM" in err and err.rstrip().endswith("arkops: stopped by SIGTERM")
    assert server.proc.returncode == 143


def test_webhooks_are_applied_once_and_bad_ones_refused(server, workspace):
    payload, header = signed(paid())
    first = server.request("POST", "/webhooks/stripe", raw=payload, token=None, headers={"Stripe-Signature": header})
    assert first.status == 200 and first.json == {"received": True, "duplicate": False, "ignored": False}
    again = server.request("POST", "/webhooks/stripe", raw=payload, token=None, headers={"Stripe-Signature": header})
    assert again.json == {"received": True, "duplicate": True, "ignored": False}
    forged = server.request(
        "POST", "/webhooks/stripe", raw=payload, token=None, headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert forged.status == 400 and forged.json["code"] == "bad_data"
    assert forged.json["error"].startswith("webhook refused")
    shapeless, shapeless_header = signed({**paid(2), "data": []})
    refused = server.request(
        "POST", "/webhooks/stripe", raw=shapeless, token=None, headers={"Stripe-Signature": shapeless_header}
    )
    assert refused.status == 400 and "data.object is not an object" in refused.json["error"]
    deep_text = '{"id": "evt_deep", "type": "invoice.paid", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    deep = stripe.WebhookSignature.generate_signature_header(deep_text, WEBHOOK_SECRET)
    nested = server.request(
        "POST", "/webhooks/stripe", raw=deep_text.encode(), token=None, headers={"Stripe-Signature": deep}
    )
    assert nested.status == 400 and "nested deeper than 64 levels" in nested.json["error"]
    ledger = json.loads((workspace / "data" / "ledger.json").read_text())
    assert list(ledger["invoices"]) == ["in_1"]


def test_malformed_requests_and_vanishing_clients_leave_no_traceback(server):
    status, headers, body = raw_answer(server.port, b"POST /webhooks/stripe HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
    assert status == "HTTP/1.1 400 Bad Request" and headers["content-type"] == "application/json"
    assert body == {"error": "Content-Length is invalid", "code": "bad_request"}
    assert len(headers["x-request-id"]) == 16
    status, _, body = raw_answer(server.port, b"G@T /healthz HTTP/1.1\r\n\r\n")
    assert status == "HTTP/1.0 400 Bad Request"  # refused at its first line: its HTTP version is unknown
    assert body == {"error": "Start line is invalid", "code": "bad_request"}
    with socket.create_connection(("127.0.0.1", server.port)) as conn:  # goes away mid-body
        conn.sendall(b'POST /webhooks/stripe HTTP/1.1\r\nContent-Length: 500\r\n\r\n{"id": ')
    assert post_webhook(server, paid()) == 200
    err = server.stop()
    assert "Traceback" not in err
    assert '"POST /webhooks/stripe HTTP/1.1" 400 ' in err  # waitress's refusals are in the access log too


def test_a_port_in_use_is_a_usage_error(server, workspace):
    result = run_arkops("serve", "--port", str(server.port), cwd=workspace, env={"ARKOPS_SERVE_TOKEN": TOKEN})
    assert result.code == 2
    assert result.err.endswith(f"arkops: error: 127.0.0.1:{server.port} is already in use; choose another --port\n")


def test_webhooks_serve_is_an_alias_that_says_where_it_went(workspace):
    from conftest import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "arkops", "webhooks", "serve", "--port", str(port)],
        cwd=workspace,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr.readline() == (
            "`arkops webhooks serve` is now `arkops serve`: starting it (POST /webhooks/stripe as before)\n"
        )
        assert proc.stderr.readline().startswith("warning: ARKOPS_SERVE_TOKEN is not set")
        assert proc.stderr.readline() == f"listening on http://127.0.0.1:{port}\n"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_sigterm_lets_the_request_in_flight_finish(workspace):
    """A request being answered when SIGTERM comes gets its answer; the server then exits 143."""
    write_config(workspace, "[serve]\nthreads = 2\n")
    running = Server(workspace)
    (workspace / "data" / "locks").mkdir(exist_ok=True)
    done: dict = {}
    lock = workspace / "data" / "locks" / "trials.lock"
    holder = subprocess.Popen(  # holds the trials lock for 2 s: the signup waits on it, in flight
        [
            sys.executable,
            "-c",
            "import sys, time, filelock; l = filelock.FileLock(sys.argv[1]); l.acquire(); "
            "print('held', flush=True); time.sleep(2); l.release()",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"

    def post() -> None:
        done["answer"] = running.request("POST", "/api/events", {"type": "signup", "email": "a@b.co", "plan": "pro"})

    client = threading.Thread(target=post)
    client.start()
    time.sleep(0.5)
    running.proc.terminate()
    client.join(15)
    holder.wait(10)
    _, err = running.proc.communicate(timeout=20)  # one SIGTERM only: a second one would stop it at once
    assert done["answer"].status == 202, err
    assert done["answer"].json["results"][0]["status"] == "stored"
    assert "finishing 1 request(s) in flight" in err
    assert running.proc.returncode == 143


@pytest.mark.slow
def test_slow_clients_never_hold_a_webhook(workspace):
    """100 connections dripping one header line every 4 s; signed webhooks every 0.5 s: every one answered 2xx
    within 5 s (the old server answered them 503 for as long as the drip lasted)."""
    running = Server(workspace)
    stop = threading.Event()
    drippers = []
    for _ in range(100):
        conn = socket.create_connection(("127.0.0.1", running.port))
        conn.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n")
        drippers.append(conn)

    def drip() -> None:
        number = 0
        while not stop.wait(4):
            number += 1
            for conn in drippers:
                with contextlib.suppress(OSError):
                    conn.sendall(f"X-Drip-{number}: still here\r\n".encode())

    dripping = threading.Thread(target=drip, daemon=True)
    dripping.start()
    times = []
    try:
        for number in range(1, 31):  # 15 s of webhooks, while the drip goes on
            started = time.monotonic()
            status = post_webhook(running, paid(number), timeout=5)
            took = time.monotonic() - started
            times.append(took)
            assert 200 <= status < 300 and took < 5, (number, status, took)
            time.sleep(max(0.0, 0.5 - took))
        alive = sum(1 for conn in drippers if conn.fileno() != -1)
        assert alive == 100
    finally:
        stop.set()
        for conn in drippers:
            conn.close()
        err = running.stop()
    ledger = json.loads((workspace / "data" / "ledger.json").read_text())
    assert len(ledger["invoices"]) == 30, err
    assert max(times) < 5


def test_events_are_stored_through_the_file_imports_checks(server, workspace):
    events = [
        {"type": "signup", "id": "s1", "email": "ana@example.com", "plan": "pro", "source": "ads"},
        {"type": "signup", "id": "s2", "email": "not an email", "plan": "pro"},
        {"type": "activity", "id": "a1", "email": "ana@example.com", "kind": "login"},
        {"type": "activity", "email": "nobody@example.com", "kind": "login"},
        {
            "type": "visit",
            "timestamp": "2026-02-28T10:00:00Z",
            "page": "/pricing",
            "ip": "203.0.113.9",
            "user_agent": "Mozilla/5.0",
        },
        {
            "type": "visit",
            "timestamp": "2026-02-28T10:00:00Z",
            "page": "/pricing",
            "ip": "203.0.113.9",
            "user_agent": "Googlebot/2.1",
        },
        {"type": "visit", "page": "/pricing"},
        {"type": "demo_request", "email": "bo@example.com", "name": "Bo", "company": "Acme"},
        {"type": "usage", "email": "ana@example.com", "metric": "seats", "value": 3},
        {"type": "usage", "email": "ana@example.com", "metric": "Seats!", "value": 3},
        {"type": "refund", "id": "x"},
        "not an object",
    ]
    answer = server.request("POST", "/api/events", events)
    assert answer.status == 202
    results = answer.json["results"]
    assert [r["status"] for r in results] == [
        "stored",
        "refused",
        "stored",
        "refused",
        "stored",
        "ignored",
        "refused",
        "stored",
        "stored",
        "refused",
        "refused",
        "refused",
    ]
    assert results[1]["reason"].startswith("email: 'not an email' is not a valid email address")
    assert results[3]["reason"] == "no trial for nobody@example.com; record the signup first"
    assert results[5]["reason"] == "a bot's user agent"
    assert results[6]["reason"] == "no timestamp"
    assert results[10]["reason"] == "type: 'refund' is not one of signup, activity, visit, demo_request, usage"
    assert results[11] == {"index": 11, "id": None, "type": None, "status": "refused", "reason": "not an object"}
    assert answer.json["counts"] == {"stored": 5, "refused": 6, "ignored": 1}
    trials = json.loads((workspace / "data" / "trials.json").read_text())
    assert list(trials["trials"]) == ["ana@example.com"] and trials["trials"]["ana@example.com"]["activity_total"] == 1
    visits = [json.loads(line) for f in (workspace / "data").glob("visits/**/*.jsonl") for line in f.open()]
    assert [v["path"] for v in visits] == ["/pricing"]
    leads = json.loads((workspace / "data" / "leads.json").read_text())
    assert [lead["email"] for lead in leads["imports"].values()] == ["bo@example.com"]
    assert run_arkops("usage", "show", "ana@example.com", "--format", "json", cwd=workspace).code == 0


def test_event_ids_and_idempotency_keys_replay_the_first_answer(server, workspace):
    visit = {
        "type": "visit",
        "id": "v1",
        "timestamp": "2026-02-28T10:00:00Z",
        "page": "/pricing",
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
    }
    first = server.request("POST", "/api/events", visit)
    assert first.json["results"] == [{"index": 0, "id": "v1", "type": "visit", "status": "stored"}]
    again = server.request("POST", "/api/events", [visit, {**visit, "id": "v2"}, visit])
    assert [(r["id"], r["status"], r.get("replay")) for r in again.json["results"]] == [
        ("v1", "stored", True),
        ("v2", "stored", None),
        ("v1", "stored", True),
    ]
    visits = [line for f in (workspace / "data").glob("visits/**/*.jsonl") for line in f.open()]
    assert len(visits) == 2  # v1 once, v2 once

    keyed = {"Idempotency-Key": "batch-7"}
    signup = {"type": "signup", "email": "cy@example.com", "plan": "pro"}
    one = server.request("POST", "/api/events", [signup], headers=keyed)
    assert one.status == 202 and one.headers["Idempotent-Replayed"] == "false"
    two = server.request(
        "POST", "/api/events", [signup, {"type": "signup", "email": "other@example.com", "plan": "pro"}], headers=keyed
    )
    assert two.status == 202 and two.headers["Idempotent-Replayed"] == "true" and two.json == one.json
    trials = json.loads((workspace / "data" / "trials.json").read_text())
    assert sorted(trials["trials"]) == ["cy@example.com"]
    refused_then_fixed = server.request(
        "POST", "/api/events", {"type": "signup", "id": "s9", "email": "x", "plan": "pro"}
    )
    assert refused_then_fixed.json["results"][0]["status"] == "refused"
    fixed = server.request(
        "POST", "/api/events", {"type": "signup", "id": "s9", "email": "x@example.com", "plan": "pro"}
    )
    assert fixed.json["results"][0]["status"] == "stored" and "replay" not in fixed.json["results"][0]


def visit_event(event_id: str) -> dict:
    return {
        "type": "visit",
        "id": event_id,
        "timestamp": "2026-02-28T10:00:00Z",
        "page": "/pricing",
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0",
    }


def test_two_servers_on_one_data_directory_share_event_ids_and_keys(server, workspace):
    """Each server reads what the other appended since it last looked: a replay to either is known as one."""
    other = Server(workspace, env={"ARKOPS_NOW": "2026-03-01T00:01:00Z"})
    try:
        assert server.request("POST", "/api/events", visit_event("v1")).json["results"][0].get("replay") is None
        on_other = other.request("POST", "/api/events", [visit_event("v1"), visit_event("v2")]).json["results"]
        assert [(r["id"], r["status"], r.get("replay")) for r in on_other] == [
            ("v1", "stored", True),
            ("v2", "stored", None),
        ]
        back = server.request("POST", "/api/events", visit_event("v2")).json["results"]
        assert back == [{"index": 0, "id": "v2", "type": "visit", "status": "stored", "replay": True}]
        keyed = {"Idempotency-Key": "k-1"}
        first = other.request("POST", "/api/events", visit_event("v3"), headers=keyed)
        again = server.request("POST", "/api/events", visit_event("v4"), headers=keyed)
        assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    finally:
        other.stop()
    visits = [line for f in (workspace / "data").glob("visits/**/*.jsonl") for line in f.open()]
    assert len(visits) == 3  # v1, v2, v3 once each; v4 never ran
    # Each id is one line in the day's file, written once: a batch appends its own records and nothing else.
    day = workspace / "data" / "serve-events" / "2026-03-01.jsonl"
    assert [json.loads(line)["key"] for line in day.open()] == ["v1", "v2", "v3"]
    assert not (workspace / "data" / "serve.json").exists()


def test_retention_drops_day_files_past_the_window_and_the_id_is_new_again(workspace):
    running = Server(workspace, env={"ARKOPS_NOW": "2026-03-01T00:01:00Z"})
    try:
        assert running.request("POST", "/api/events", visit_event("v1")).status == 202
        too_soon = run_arkops("retention", cwd=workspace, env={"ARKOPS_NOW": "2026-03-03T23:00:00Z"})  # 71 h on
        assert too_soon.code == 0 and "event ids dropped" not in too_soon.out, too_soon.out
        assert running.request("POST", "/api/events", visit_event("v1")).json["results"][0]["replay"] is True
        later = run_arkops("retention", cwd=workspace, env={"ARKOPS_NOW": "2026-03-04T00:30:00Z"})
        assert later.code == 0 and "1 event ids dropped" in later.out, later.out
        assert not (workspace / "data" / "serve-events" / "2026-03-01.jsonl").exists()
        fresh = running.request("POST", "/api/events", visit_event("v1")).json["results"][0]
        assert fresh["status"] == "stored" and "replay" not in fresh  # past the window: a new event
    finally:
        running.stop()


def test_privacy_forget_reaches_the_kept_answers_and_the_server_notices(server, workspace):
    """An answer kept for its Idempotency-Key names the person; forget rewrites its day file, and the running
    server reads the file again: the key is free, nothing of the person is replayed."""
    keyed = {"Idempotency-Key": "batch-ana"}
    batch = [{"type": "activity", "email": "ana@example.com", "kind": "login"}, visit_event("v1")]
    first = server.request("POST", "/api/events", batch, headers=keyed)
    assert first.json["results"][0]["reason"] == "no trial for ana@example.com; record the signup first"
    assert server.request("POST", "/api/events", batch, headers=keyed).headers["Idempotent-Replayed"] == "true"
    forgot = run_arkops("privacy", "forget", "ana@example.com", "--yes", cwd=workspace)
    assert forgot.code == 0 and "serve-answers records" in forgot.err + forgot.out, forgot.err + forgot.out
    answers = (workspace / "data" / "serve-answers" / "2026-03-01.jsonl").read_text()
    assert "ana@example.com" not in answers
    again = server.request("POST", "/api/events", batch, headers=keyed)
    assert again.headers["Idempotent-Replayed"] == "false"  # the key's answer is gone: the batch ran again
    assert [r.get("replay") for r in again.json["results"]] == [None, True]  # v1's id is still known
