"""A local Stripe-shaped API on loopback for what localstripe does not serve (expanded discounts, prices
with tiers, coupons, disputes, credit notes, invoice payments): objects by path, lists with Stripe's
pagination and expansion, every request recorded. Tests put Stripe-shaped JSON in it (built from
tests/fixtures/stripe)."""

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
    # "/v1/subscriptions" -> fields of each listed object that Stripe sends as ids unless `expand[]=data.<field>`
    # asks for the object ("discounts", "discounts.source.coupon"); listed objects are stored expanded
    expandable: dict[str, list[str]] = field(default_factory=dict)
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


def _collapse(value: object, path: list[str]) -> object:
    """`value` with the objects at `path` replaced by their ids, as Stripe sends what was not expanded."""
    if isinstance(value, list):
        return [_collapse(entry, path) for entry in value]
    if not path:
        return value["id"] if isinstance(value, dict) and "id" in value else value
    if not isinstance(value, dict) or value.get(path[0]) is None:
        return value
    return {**value, path[0]: _collapse(value[path[0]], path[1:])}


def _as_listed(obj: dict, expandable: list[str], asked: list[str]) -> dict:
    for path in sorted(expandable, key=lambda p: -p.count(".")):  # the deepest first
        full = f"data.{path}"
        if not any(a == full or a.startswith(f"{full}.") for a in asked):
            obj = _collapse(obj, path.split("."))  # type: ignore[assignment]
    return obj


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
                asked = [v for k, vs in query.items() if k.startswith("expand") for v in vs]
                if any(a.count(".") > 3 for a in asked):
                    message = "You cannot expand more than 4 levels of a property"
                    self.reply(400, {"error": {"type": "invalid_request_error", "message": message}})
                    return
                page = [_as_listed(i, state.expandable.get(url.path, []), asked) for i in items[:limit]]
                self.reply(200, {"object": "list", "url": url.path, "has_more": len(items) > limit, "data": page})
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
