"""Local stand-ins of the CRM endpoints arkops uses, on loopback, written from the providers' published references.

HubSpot (CRM API v3; developers.hubspot.com, "Contacts" batch upsert and
read, "Properties", "Notes" batch create and search, GDPR delete, and
"Private apps" access-token-info): bodies are `{"inputs": [...]}` of at
most 100 items; an upsert input is `{"id": <email>, "idProperty": "email",
"properties": {...}}`; answers carry `X-HubSpot-RateLimit-Max`,
`-Remaining` and `-Interval-Milliseconds`; errors are `{"status": "error",
"message", "category", "correlationId"}`, a rate limit is HTTP 429 with
`Retry-After` and `"errorType": "RATE_LIMIT"`. A property that does not
exist fails the whole batch with a VALIDATION_ERROR, as HubSpot does.

Pipedrive (API v1 for users, person fields and notes; API v2 for persons
and their search; developers.pipedrive.com): answers are `{"success": true,
"data": ..., "additional_data": ...}`, errors `{"success": false,
"error": ..., "errorCode": ...}`; every answer carries `x-ratelimit-limit`,
`x-ratelimit-remaining`, `x-ratelimit-reset`; the token comes in
`x-api-token` (or `api_token` in the query). Custom fields are keyed by a
40-character hash the server makes.

Both keep what a real account would (contacts/persons, notes, fields) and
record each request. Test hooks: `throttle` (answer the next N requests
with a 429 and a Retry-After), `hold` (a path whose request is applied,
then left unanswered until released, so a test can kill the client
mid-request).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "pat-na1-00000000-1111-2222-3333-444444444444"
PIPEDRIVE_TOKEN = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Request:
    method: str
    path: str
    query: dict
    body: object
    at: float


@dataclass
class Hooks:
    throttle: int = 0  # the next N requests get a 429
    retry_after: str = "1"
    hold: str | None = None  # a path: apply the request, then wait on `released` before answering
    released: threading.Event = field(default_factory=threading.Event)
    delay: float = 0.0  # seconds before answering each request (a slow network, for kill tests)


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.requests: list[Request] = []
        self.hooks = Hooks()
        self.lock = threading.Lock()
        self.ids = itertools.count(101)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]


class Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        pass

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        hooks = self.server.hooks
        if hooks.delay:
            time.sleep(hooks.delay)
        with self.server.lock:
            self.server.requests.append(Request(method, url.path, query, body, time.monotonic()))
            if hooks.throttle > 0:
                hooks.throttle -= 1
                self._send(*self.throttled(), extra={"Retry-After": hooks.retry_after})
                return
            status, answer = self.route(method, url.path, query, body)
        if hooks.hold and re.fullmatch(hooks.hold, url.path):
            hooks.released.wait(30)
        self._send(status, answer)

    def _send(self, status: int, answer: object, extra: dict | None = None) -> None:
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {**self.limits(), **(extra or {})}.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def throttled(self) -> tuple[int, object]:
        raise NotImplementedError

    def limits(self) -> dict[str, str]:
        return {}

    def route(self, method: str, path: str, query: dict, body: object) -> tuple[int, object]:
        raise NotImplementedError


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


# --- HubSpot -------------------------------------------------------------------------------------------------

BUILT_IN = [
    {"name": "email", "label": "Email", "type": "string", "fieldType": "text", "groupName": "contactinformation"},
    {
        "name": "firstname",
        "label": "First Name",
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation",
    },
    {
        "name": "lifecyclestage",
        "label": "Lifecycle Stage",
        "type": "enumeration",
        "fieldType": "radio",
        "groupName": "contactinformation",
    },
]
LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]


class HubSpotState:
    def __init__(self) -> None:
        self.properties = [dict(p) for p in BUILT_IN]
        self.groups = [
            {"name": "contactinformation", "label": "Contact information", "displayOrder": 0, "archived": False}
        ]
        self.contacts: dict[str, dict] = {}  # id -> {"id", "properties"}
        self.notes: dict[str, dict] = {}  # id -> {"id", "properties", "contact"}
        self.scopes = [
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "crm.schemas.contacts.read",
            "crm.schemas.contacts.write",
        ]
        self.remaining = 100
        # email -> (category, message): what HubSpot refuses of one input in a batch it otherwise takes, answered
        # as its multi-status 207 (an address its own validation rejects, a value a property does not allow)
        self.refuse: dict[str, tuple[str, str]] = {}

    def by_email(self, email: str) -> dict | None:
        return next((c for c in self.contacts.values() if c["properties"].get("email") == email), None)


def hubspot_error(status: int, category: str, message: str) -> tuple[int, dict]:
    return status, {"status": "error", "message": message, "category": category, "correlationId": "aaaaaaaa-0000"}


class HubSpotHandler(Handler):
    state: HubSpotState

    def throttled(self) -> tuple[int, object]:
        return 429, {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "bbbbbbbb-0000",
            "policyName": "TEN_SECONDLY_ROLLING",
        }

    def limits(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": str(self.state.remaining),
        }

    def route(self, method: str, path: str, query: dict, body: object) -> tuple[int, object]:
        state = self.state
        if path == "/oauth/v2/private-apps/get/access-token-info":
            if not isinstance(body, dict) or body.get("tokenKey") != TOKEN:
                return hubspot_error(400, "VALIDATION_ERROR", "invalid token")
            return 200, {"userId": 1, "hubId": 4242, "appId": 77, "scopes": state.scopes}
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return hubspot_error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        if path == "/crm/v3/properties/contacts" and method == "GET":
            return 200, {"results": state.properties}
        if path == "/crm/v3/properties/contacts/groups" and method == "GET":
            return 200, {"results": state.groups}
        if path == "/crm/v3/properties/contacts/groups" and method == "POST":
            group = {
                "name": body["name"],
                "label": body["label"],
                "displayOrder": body.get("displayOrder", -1),
                "archived": False,
            }
            state.groups.append(group)
            return 201, group
        if path == "/crm/v3/properties/contacts/batch/create":
            made = []
            for item in body["inputs"]:
                if any(p["name"] == item["name"] for p in state.properties):
                    return hubspot_error(
                        409, "OBJECT_ALREADY_EXISTS", f"A property named '{item['name']}' already exists."
                    )
                if item.get("groupName") not in {g["name"] for g in state.groups}:
                    return hubspot_error(400, "VALIDATION_ERROR", f"group {item.get('groupName')} does not exist")
                made.append({k: item[k] for k in ("name", "label", "type", "fieldType", "groupName")})
            state.properties += made
            return 201, {"status": "COMPLETE", "results": made, "startedAt": _now(), "completedAt": _now()}
        if path == "/crm/v3/objects/contacts/batch/upsert":
            return self.upsert(body)
        if path == "/crm/v3/objects/notes/batch/create":
            return self.create_notes(body)
        if path == "/crm/v3/objects/notes/search":
            return self.search_notes(body)
        if path == "/crm/v3/objects/contacts/gdpr-delete":
            found = (
                state.by_email(body["objectId"])
                if body.get("idProperty") == "email"
                else state.contacts.get(body["objectId"])
            )
            if found is None:
                return hubspot_error(404, "OBJECT_NOT_FOUND", "resource not found")
            del state.contacts[found["id"]]
            for key in [k for k, n in state.notes.items() if n["contact"] == found["id"]]:
                del state.notes[key]
            return 204, None
        return hubspot_error(404, "OBJECT_NOT_FOUND", f"no route {method} {path}")

    def upsert(self, body: object) -> tuple[int, object]:
        state = self.state
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return hubspot_error(400, "VALIDATION_ERROR", "inputs must hold 1 to 100 items")
        known = {p["name"] for p in state.properties}
        for item in inputs:
            if item.get("idProperty") != "email":
                return hubspot_error(400, "VALIDATION_ERROR", "idProperty must be a unique property (email)")
            unknown = sorted(set(item.get("properties", {})) - known)
            if unknown:
                return hubspot_error(400, "VALIDATION_ERROR", f"Property values were not valid: {unknown} do not exist")
            stage = item["properties"].get("lifecyclestage")
            if stage and stage not in LIFECYCLE:
                return hubspot_error(400, "VALIDATION_ERROR", f"{stage} is not a valid lifecycle stage")
        results, errors = [], []
        for item in inputs:
            email = item["id"].lower()
            if email in state.refuse:
                category, message = state.refuse[email]
                trace = [item["objectWriteTraceId"]] if item.get("objectWriteTraceId") else []
                errors.append(
                    {
                        "status": "error",
                        "category": category,
                        "message": message,
                        "context": {"objectWriteTraceId": trace},
                    }
                )
                continue
            contact = state.by_email(email)
            new = contact is None
            if contact is None:
                contact = {"id": str(next(self.server.ids)), "properties": {"email": email}, "createdAt": _now()}
                state.contacts[contact["id"]] = contact
            contact["properties"].update(item["properties"])
            results.append(
                {
                    "id": contact["id"],
                    "properties": dict(contact["properties"]),
                    "createdAt": contact["createdAt"],
                    "updatedAt": _now(),
                    "archived": False,
                    "new": new,
                }
            )
        answer = {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}
        if errors:  # HubSpot's multi-status answer: what was written, and each refused input by its trace id
            return 207, answer | {"numErrors": len(errors), "errors": errors}
        return 200, answer

    def create_notes(self, body: object) -> tuple[int, object]:
        state = self.state
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return hubspot_error(400, "VALIDATION_ERROR", "inputs must hold 1 to 100 items")
        results = []
        for item in inputs:
            (association,) = item["associations"]
            (kind,) = association["types"]
            if kind != {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}:
                return hubspot_error(400, "VALIDATION_ERROR", f"unexpected association type {kind}")
            contact = association["to"]["id"]
            if contact not in state.contacts:
                return hubspot_error(400, "VALIDATION_ERROR", f"contact {contact} does not exist")
            if "hs_timestamp" not in item["properties"]:
                return hubspot_error(400, "VALIDATION_ERROR", "hs_timestamp is required")
            note = {"id": str(next(self.server.ids)), "properties": dict(item["properties"]), "contact": contact}
            state.notes[note["id"]] = note
            results.append(
                {
                    "id": note["id"],
                    "properties": note["properties"],
                    "createdAt": _now(),
                    "updatedAt": _now(),
                    "archived": False,
                }
            )
        return 201, {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}

    def search_notes(self, body: object) -> tuple[int, object]:
        (group,) = body["filterGroups"]
        (condition,) = group["filters"]
        assert condition["propertyName"] == "associations.contact" and condition["operator"] == "EQ"
        found = [
            {
                "id": n["id"],
                "properties": {k: n["properties"].get(k) for k in body.get("properties", [])},
                "createdAt": _now(),
                "updatedAt": _now(),
                "archived": False,
            }
            for n in self.state.notes.values()
            if n["contact"] == condition["value"]
        ]
        return 200, {"total": len(found), "results": found}


def hubspot_server(port: int) -> tuple[StandIn, HubSpotState]:
    state = HubSpotState()
    handler = type("BoundHubSpot", (HubSpotHandler,), {"state": state})
    return StandIn(port, handler), state


# --- Pipedrive -----------------------------------------------------------------------------------------------


class PipedriveState:
    def __init__(self) -> None:
        self.fields = [
            {"id": 9001, "key": "name", "name": "Name", "field_type": "varchar"},
            {"id": 9002, "key": "email", "name": "Email", "field_type": "varchar"},
            {
                "id": 9003,
                "key": "label",
                "name": "Label",
                "field_type": "enum",
                "options": [
                    {"id": 5, "label": "Customer", "color": "green"},
                    {"id": 6, "label": "Hot lead", "color": "red"},
                ],
            },
        ]
        self.persons: dict[int, dict] = {}
        self.notes: dict[int, dict] = {}
        self.remaining = 40


def pipedrive_error(status: int, error: str) -> tuple[int, dict]:
    return status, {
        "success": False,
        "error": error,
        "errorCode": status,
        "error_info": "Please check the API reference.",
    }


def ok(data: object, **additional: object) -> tuple[int, dict]:
    return 200, {"success": True, "data": data, "additional_data": additional or None}


class PipedriveHandler(Handler):
    state: PipedriveState

    def throttled(self) -> tuple[int, object]:
        return pipedrive_error(429, "Too many requests")

    def limits(self) -> dict[str, str]:
        return {"x-ratelimit-limit": "40", "x-ratelimit-remaining": str(self.state.remaining), "x-ratelimit-reset": "2"}

    def route(self, method: str, path: str, query: dict, body: object) -> tuple[int, object]:
        state = self.state
        if (self.headers.get("x-api-token") or query.get("api_token")) != PIPEDRIVE_TOKEN:
            return pipedrive_error(401, "unauthorized access")
        if path == "/v1/users/me":
            return ok({"id": 1, "name": "Ops", "email": "ops@example.com", "company_id": 77})
        if path == "/v1/personFields" and method == "GET":
            return ok(state.fields, pagination={"start": 0, "limit": 500, "more_items_in_collection": False})
        if path == "/v1/personFields" and method == "POST":
            if body.get("field_type") not in ("varchar", "double", "date", "text", "monetary", "enum"):
                return pipedrive_error(400, "Invalid field_type")
            key = hashlib.sha1(body["name"].encode()).hexdigest()
            made = {"id": 9100 + len(state.fields), "key": key, "name": body["name"], "field_type": body["field_type"]}
            state.fields.append(made)
            return ok(made)
        if path == "/api/v2/persons/search":
            term = query.get("term", "")
            if len(term) < 1 or query.get("fields") != "email":
                return pipedrive_error(400, "term and fields=email required")
            items = [
                {
                    "result_score": 1.0,
                    "item": {
                        "id": p["id"],
                        "type": "person",
                        "name": p["name"],
                        "emails": [e["value"] for e in p["emails"]],
                        "phones": [],
                        "custom_fields": [],
                    },
                }
                for p in state.persons.values()
                if any(e["value"] == term for e in p["emails"])
            ]
            return ok({"items": items}, next_cursor=None)
        if path == "/api/v2/persons" and method == "POST":
            if not body.get("name"):
                return pipedrive_error(400, "Validation failed: name: Required")
            person = {
                "id": next(self.server.ids),
                "name": body["name"],
                "emails": [],
                "custom_fields": {},
                "label_ids": [],
            }
            return self.apply(person, body, created=True)
        match = re.fullmatch(r"/api/v2/persons/(\d+)", path)
        if match:
            person = state.persons.get(int(match[1]))
            if person is None:
                return pipedrive_error(404, "Person not found")
            if method == "DELETE":
                del state.persons[person["id"]]
                return ok({"id": person["id"]})
            return self.apply(person, body, created=False)
        if path == "/v1/notes" and method == "POST":
            if int(body.get("person_id") or 0) not in state.persons or not body.get("content"):
                return pipedrive_error(400, "content and an existing person_id are required")
            note = {"id": next(self.server.ids), "content": body["content"], "person_id": body["person_id"]}
            state.notes[note["id"]] = note
            return ok(note)
        if path == "/v1/notes" and method == "GET":
            found = [n for n in state.notes.values() if str(n["person_id"]) == query.get("person_id")]
            return ok(found or None, pagination={"start": 0, "limit": 500, "more_items_in_collection": False})
        return pipedrive_error(404, f"no route {method} {path}")

    def apply(self, person: dict, body: dict, *, created: bool) -> tuple[int, object]:
        keys = {f["key"] for f in self.state.fields}
        unknown = sorted(set(body.get("custom_fields") or {}) - keys)
        if unknown:
            return pipedrive_error(400, f"Unknown custom fields: {unknown}")
        if "emails" in body:
            person["emails"] = [
                {"value": e["value"], "primary": e.get("primary", False), "label": e.get("label", "work")}
                for e in body["emails"]
            ]
        person["custom_fields"].update(body.get("custom_fields") or {})
        if "label_ids" in body:
            person["label_ids"] = list(body["label_ids"])
        if "name" in body:
            person["name"] = body["name"]
        if created:
            self.state.persons[person["id"]] = person
        return ok(person)


def pipedrive_server(port: int) -> tuple[StandIn, PipedriveState]:
    state = PipedriveState()
    handler = type("BoundPipedrive", (PipedriveHandler,), {"state": state})
    return StandIn(port, handler), state
