"""The HTTP receiver for Stripe webhooks: POST /webhooks/stripe.

A hardened `http.server` rather than a new dependency: the receiver does one
small thing (read at most 1 MiB, hand it to the ledger, answer JSON), and the
standard library's threading server covers it once it has what production
needs: a listen backlog of 128, a read timeout so a stalled client cannot
hold a thread, a body limit, a bounded number of workers (a request beyond
them gets 503 with Retry-After at once, which Stripe retries), 400 for any
malformed request, and no traceback when a client goes away.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/webhooks/stripe"
MAX_BODY = 1 << 20  # Stripe events are far smaller
READ_TIMEOUT = 10.0  # seconds a client may take to send its request
RETRY_AFTER = 5  # seconds, with a 503 when every worker is busy
Handler = Callable[[bytes, str | None], tuple[int, dict]]
GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


def _response(status: int, reason: str, body: dict, extra: str = "") -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        f"{extra}Connection: close\r\n\r\n"
    )
    return head.encode() + payload


BUSY = _response(503, "Service Unavailable", {"error": "busy, retry later"}, f"Retry-After: {RETRY_AFTER}\r\n")


class ReceiverServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], workers: int) -> None:
        self.slots = threading.BoundedSemaphore(workers)
        self.refusals = threading.BoundedSemaphore(workers * 4)  # threads that read a request only to say 503
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            if self.refusals.acquire(blocking=False):
                threading.Thread(target=self._refuse, args=(request,), daemon=True).start()
            else:  # flooded: close at once, the client retries
                self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def _refuse(self, request: Any) -> None:
        """Read the request (briefly) so the client sees the 503 and its Retry-After, not a reset connection."""
        try:
            request.settimeout(2.0)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = request.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(v)
                    for k, _, v in (line.partition(b":") for line in head.split(b"\r\n"))
                    if k.strip().lower() == b"content-length" and v.strip().isdigit()
                ),
                0,
            )
            while len(body) < min(length, MAX_BODY):
                chunk = request.recv(65536)
                if not chunk:
                    break
                body += chunk
            request.sendall(BUSY)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)
            self.refusals.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the handler logs what matters; a client that went away is not an error worth a traceback


def make_server(
    host: str, port: int, handle: Handler, log: Callable[[str], None], *, workers: int = 16
) -> ReceiverServer:
    class Receiver(BaseHTTPRequestHandler):
        server_version = "arkops"
        timeout = READ_TIMEOUT

        def _reply(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 503:
                self.send_header("Retry-After", str(RETRY_AFTER))
            self.end_headers()
            self.wfile.write(payload)

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except GONE:
                self.close_connection = True

        def do_POST(self) -> None:
            if self.path.split("?")[0] != PATH:
                self._reply(404, {"error": "not found"})
                return
            text = self.headers.get("Content-Length") or ""
            if not text.isdigit() or not 0 < int(text) <= MAX_BODY:
                self._reply(400, {"error": "a body of 1 byte to 1 MiB with a valid Content-Length is required"})
                return
            length = int(text)
            body = self.rfile.read(length)
            if len(body) != length:
                self.close_connection = True  # the client went away mid-body
                return
            status, answer = handle(body, self.headers.get("Stripe-Signature"))
            self._reply(status, answer)

        def do_GET(self) -> None:
            self._reply(405 if self.path.split("?")[0] == PATH else 404, {"error": "POST only"})

        def log_message(self, format: str, *args: object) -> None:
            log(f"{self.address_string()} {format % args}")

    return ReceiverServer((host, port), Receiver, workers)
