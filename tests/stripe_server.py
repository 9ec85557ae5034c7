"""A local Stripe-shaped API on loopback for what localstripe does not serve (expanded discounts, prices
with tiers, coupons, disputes, credit notes, invoice payments): objects by path, lists with Stripe's
pagination, expansion and the equality filters an endpoint documents (`GET /v1/invoice_payments` by
`invoice`, `status`, `payment[type]` and `payment[payment_intent]`), every request recorded. Tests put
Stripe-shaped JSON in it (built from tests/fixtures/stripe).

Writes: POST to a collection creates an object (its `id` from the form when given, as for coupons,
else a prefixed counter), POST to an object updates it, DELETE marks it deleted (a subscription is
canceled). Each write is recorded in `writes` with its form fields exactly as the stripe library sent
them and its headers; an Idempotency-Key seen before answers the first answer again, creating nothing,
as Stripe does. `fail` queues answers (status, body) given to the next writes instead (a 500, a 400).
`responders` lets a test answer a path its own way (a checkout session's url)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import pytest
from conftest import serving

KEY = "sk_test_" + "shapedserver0123456789"


@dataclass
class Write:
    method: str
    path: str
    form: list[tuple[str, str]]  # in the order sent
    headers: dict[str, str]

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.form)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


PREFIXES = {
    "coupons": "co_",
    "promotion_codes": "promo_",
    "products": "prod_",
    "prices": "price_",
    "customers": "cus_",
    "subscriptions": "sub_",
    "sessions": "cs_test_",
}

SINGULAR = {
    "coupons": "coupon",
    "promotion_codes": "promotion_code",
    "products": "product",
    "prices": "price",
    "customers": "customer",
    "subscriptions": "subscription",
}


def unflatten(form: list[tuple[str, str]]) -> dict:
    """Stripe's form fields (`a[b][0]=x`) back into nested JSON (lists where the keys are indexes)."""
    root: dict = {}
    for name, value in form:
        parts = name.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: object) -> object:
        if isinstance(node, dict):
            if node and all(k.isdigit() for k in node):
                return [lists(node[k]) for k in sorted(node, key=int)]
            return {k: lists(v) for k, v in node.items()}
        return node

    return lists(root)  # type: ignore[return-value]


@dataclass
class StripeShaped:
    base: str = ""
    objects: dict[str, dict] = field(default_factory=dict)  # "/v1/subscriptions/sub_1" -> object
    lists: dict[str, list[dict]] = field(default_factory=dict)  # "/v1/events" -> objects, newest first
    # "/v1/subscriptions" -> fields of each listed object that Stripe sends as ids unless `expand[]=data.<field>`
    # asks for the object ("discounts", "discounts.source.coupon"); listed objects are stored expanded
    expandable: dict[str, list[str]] = field(default_factory=dict)
    # "/v1/invoice_payments" -> the query parameters that list only the objects whose field equals the value
    # (`payment[payment_intent]` is `payment.payment_intent`), as Stripe's API reference lists them
    filters: dict[str, list[str]] = field(
        default_factory=lambda: {
            "/v1/invoice_payments": ["invoice", "status", "payment[type]", "payment[payment_intent]"],
        }
    )
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    fail: list[tuple[int, dict]] = field(default_factory=list)
    # path -> function(form pairs as a nested dict) -> the object to store and answer
    responders: dict[str, Callable[[dict], dict]] = field(default_factory=dict)
    answered: dict[str, tuple[int, dict]] = field(default_factory=dict)  # idempotency key -> first answer
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def sent(self, path: str | None = None) -> list[Write]:
        """The writes that reached the server (replays by idempotency key included), to `path` when given."""
        return [w for w in self.writes if path is None or w.path == path]

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
                items = [i for i in state.lists[url.path] if _matches(i, query, state.filters.get(url.path, []))]
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
                self.reply(404, _missing(url.path))

        def do_POST(self) -> None:
            self.write("post")

        def do_DELETE(self) -> None:
            self.write("delete")

        def write(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            url = urlparse(self.path)
            body = self.rfile.read(length).decode() if length else url.query
            form = parse_qsl(body, keep_blank_values=True)
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                state.writes.append(Write(method, url.path, form, headers))
                key = headers.get("idempotency-key")
                if key and key in state.answered:
                    self.reply(*state.answered[key])
                    return
                answer = state.fail.pop(0) if state.fail else _apply(state, method, url.path, unflatten(form))
                if key and answer[0] < 500:
                    state.answered[key] = answer
            self.reply(*answer)

    lock = threading.Lock()
    return Handler


def _matches(obj: dict, query: dict[str, list[str]], filters: list[str]) -> bool:
    """Whether `obj` passes the equality filters of the query (`payment[payment_intent]=pi_1`)."""
    for name in filters:
        if name not in query:
            continue
        value: object = obj
        for part in name.replace("]", "").split("["):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, dict):
            value = value.get("id")
        if value != query[name][0]:
            return False
    return True


def _missing(path: str) -> dict:
    return {
        "error": {"type": "invalid_request_error", "code": "resource_missing", "message": f"No such object: {path}"}
    }


def _apply(state: StripeShaped, method: str, path: str, params: dict) -> tuple[int, dict]:
    params.pop("expand", None)
    if path in state.responders:
        obj = state.responders[path](params)
        if "id" in obj:
            state.objects[f"{path}/{obj['id']}"] = obj
        return 200, obj
    if method == "delete":
        if path not in state.objects:
            return 404, _missing(path)
        obj = state.objects[path]
        if obj.get("object") == "subscription":
            state.objects[path] = obj = {**obj, "status": "canceled"}
            return 200, obj
        del state.objects[path]
        return 200, {"id": obj["id"], "object": obj.get("object"), "deleted": True}
    if path in state.objects:  # an update
        state.objects[path] = obj = _merge(state.objects[path], params)
        return 200, obj
    resource = path.rstrip("/").rsplit("/", 1)[-1]
    if path.count("/") != 2 and resource not in ("sessions",):
        return 404, _missing(path)
    ident = params.pop("id", None) or f"{PREFIXES.get(resource, 'obj_')}{next(state.counter):06d}"
    obj = {"id": ident, "object": SINGULAR.get(resource, resource.rstrip("s")), "livemode": False, **params}
    state.objects[f"{path}/{ident}"] = obj
    state.lists.setdefault(path, []).insert(0, obj)
    return 200, obj


def _merge(old: dict, new: dict) -> dict:
    merged = dict(old)
    for key, value in new.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


@pytest.fixture
def stripe_server(workspace, monkeypatch):
    state = StripeShaped()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    state.lists["/v1/events"] = []
    monkeypatch.setenv("STRIPE_API_BASE", state.base)
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    with serving(server):
        yield state
