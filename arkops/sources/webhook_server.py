"""A small HTTP receiver for Stripe webhooks: POST /webhooks/stripe."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/webhooks/stripe"
MAX_BODY = 1 << 20  # Stripe events are far smaller
Handler = Callable[[bytes, str | None], tuple[int, dict]]


def make_server(host: str, port: int, handle: Handler, log: Callable[[str], None]) -> ThreadingHTTPServer:
    class Receiver(BaseHTTPRequestHandler):
        server_version = "arkops"

        def _reply(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            if self.path.split("?")[0] != PATH:
                self._reply(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._reply(400, {"error": "missing or oversized body"})
                return
            status, body = handle(self.rfile.read(length), self.headers.get("Stripe-Signature"))
            self._reply(status, body)

        def do_GET(self) -> None:
            self._reply(405 if self.path.split("?")[0] == PATH else 404, {"error": "POST only"})

        def log_message(self, format: str, *args: object) -> None:
            log(f"{self.address_string()} {format % args}")

    return ThreadingHTTPServer((host, port), Receiver)
