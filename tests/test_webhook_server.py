"""`webhooks serve` under hostile clients: malformed requests, disconnects, stalls, a busy server, a taken port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import stripe
from conftest import free_port, wait_until
from stripe_shapes import event, invoice, ts

SECRET = "whsec_" + "serving0123456789abcdefghij"


@pytest.fixture
def server(workspace):
    port = free_port()
    env = {**os.environ, "STRIPE_WEBHOOK_SECRET": SECRET, "ARKOPS_NOW": "2026-03-01T00:01:00Z"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "arkops", "webhooks", "serve", "--port", str(port), "--workers", "2"],
        cwd=workspace,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline().startswith("listening on http://127.0.0.1:")
    yield port, proc
    proc.terminate()
    proc.wait(timeout=10)


def raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        return conn.recv(65536) if read else b""


def post(port: int, payload: str, header: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/stripe", data=payload.encode(), headers={"Stripe-Signature": header}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def post_when_free(port: int, payload: str, header: str) -> tuple[int, dict, dict]:
    """Retry a 503 as Stripe does: a worker may still be finishing the previous client."""
    for _ in range(50):
        answer = post(port, payload, header)
        if answer[0] != 503:
            return answer
        time.sleep(0.1)
    return answer


def signed(evt: dict) -> tuple[str, str]:
    payload = json.dumps(evt)
    return payload, stripe.WebhookSignature.generate_signature_header(payload, SECRET)


def paid() -> dict:
    return event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 2900, paid_at=ts("2026-03-01")), ts("2026-03-01"))


def test_malformed_requests_get_400_and_disconnects_leave_no_traceback(server):
    port, proc = server
    assert raw(port, b"POST /webhooks/stripe HTTP/1.1\r\nContent-Length: abc\r\n\r\n").startswith(b"HTTP/1.0 400")
    assert raw(port, b"POST /webhooks/stripe HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").startswith(b"HTTP/1.0 400")
    raw(port, b'POST /webhooks/stripe HTTP/1.1\r\nContent-Length: 500\r\n\r\n{"id": ', read=False)  # goes away
    payload, header = signed({**paid(), "data": []})
    status, _, body = post_when_free(port, payload, header)
    assert status == 400 and "data.object is not an object" in body["error"]
    payload, header = signed(paid())
    assert post_when_free(port, payload, header)[0] == 200
    proc.terminate()
    err = proc.stderr.read()
    assert "Traceback" not in err


def test_a_busy_server_answers_503_with_retry_after(server):
    port, _ = server
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]  # hold both workers
    for conn in stalled:
        conn.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nContent-Length: 10\r\n\r\n")
    try:
        time.sleep(0.3)
        payload, header = signed(paid())
        status, headers, body = post(port, payload, header)
        assert status == 503 and headers["Retry-After"] == "5" and body == {"error": "busy, retry later"}
    finally:
        for conn in stalled:
            conn.close()
    assert wait_until(lambda: post(port, *signed(paid()))[0] == 200, timeout=15)


def test_a_port_in_use_is_a_usage_error(server, workspace):
    port, _ = server
    result = subprocess.run(
        [sys.executable, "-m", "arkops", "webhooks", "serve", "--port", str(port)],
        cwd=workspace,
        env={**os.environ, "STRIPE_WEBHOOK_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr == f"arkops: error: 127.0.0.1:{port} is already in use; choose another --port\n"
