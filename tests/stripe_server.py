"""A local Stripe-shaped API on loopback for what localstripe does not serve (expanded discounts, prices
with tiers, coupons, disputes, credit notes): objects by path, lists with Stripe's pagination, every
request recorded. Tests put Stripe-shaped JSON in it (built from tests/fixtures/stripe)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import pytest

KEY = "sk_test_" + "shapedserver0123456789"


@dataclass
class StripeShaped:
    base: str = ""
    objects: dict[str, dict] = field(default_factory=dict)  # "/v1/subscriptions/sub_1" -> object
    lists: dict[str, list[dict]] = field(default_factory=dict)  # "/v1/events" -> objects, newest first
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def expands(self, path: str) -> list[str]:
        """The expand[] values of every request made to `path`."""
        return [
            v
            for p, query in self.requests
            if p == path
            for k, vs in query.items()
            if k.startswith("expand")
            for v in vs
        ]


def _handler(state: StripeShaped) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query: dict[str, list[str]] = {}
            for key, value in parse_qsl(url.query):
                query.setdefault(key, []).append(value)
            state.requests.append((url.path, query))
            if url.path in state.objects:
                self.reply(200, state.objects[url.path])
            elif url.path in state.lists:
                items = state.lists[url.path]
                after = query.get("starting_after", [None])[0]
                if after is not None:
                    items = items[[i["id"] for i in items].index(after) + 1 :]
                limit = int(query.get("limit", ["10"])[0])
                self.reply(
                    200, {"object": "list", "url": url.path, "has_more": len(items) > limit, "data": items[:limit]}
                )
            else:
                self.reply(404, {"error": {"type": "invalid_request_error", "message": f"No such object: {url.path}"}})

    return Handler


@pytest.fixture
def stripe_server(workspace, monkeypatch):
    state = StripeShaped()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    state.lists["/v1/events"] = []
    monkeypatch.setenv("STRIPE_API_BASE", state.base)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    yield state
    server.shutdown()
    server.server_close()
