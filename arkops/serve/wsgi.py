"""The WSGI application: routing, the bearer token, limits, CORS, request ids, the access log, errors as JSON.

Every answer is JSON (a route may answer a small HTML page or a redirect);
an error is `{"error": "...", "code": "..."}` with the HTTP status the
domain error's exit code means (`error_status`, written out in
docs/api.md). A 5xx never says more than its code and the request id; the
detail goes to the log line. The request id (the client's `X-Request-Id`
when it is a sane one, else a new one) is in the answer's headers and in
the access log, one line per request on stderr in the combined format
followed by the request id and the time taken.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from arkops.errors import (
    ArkopsError,
    CheckFailed,
    ConfigError,
    CorruptFileError,
    DataError,
    LockBusyError,
    ServiceError,
    UsageError,
    redact,
)
from arkops.runtime import Runtime

REASONS = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    501: "Not Implemented",
    503: "Service Unavailable",
}
# The codes of waitress's own refusals (`App.refused_by_server`), by status
SERVER_REFUSALS = {
    400: "bad_request",
    413: "too_large",
    431: "headers_too_large",
    500: "internal",
    501: "not_implemented",
}
RETRY_AFTER = "5"  # seconds: with a 503 (a busy lock, a data file to repair) and a 429
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class HttpError(Exception):
    """An answer other than success, raised anywhere in a route."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_status(exc: ArkopsError) -> tuple[int, str]:
    """The HTTP status and code of a domain error: the exit codes' meanings (docs/api.md, "Errors").

    Bad input (exit 2, 3) is the client's to fix: 400. Our side not ready (a bad arkops.toml, a data file
    to repair, a lock held too long: exit 3 or 75) is 503, which Stripe and a web app retry. An outside
    service down (exit 4) is 502; a check that found a problem (exit 1) is 409.
    """
    if isinstance(exc, LockBusyError):
        return 503, "busy"
    if isinstance(exc, (ConfigError, CorruptFileError)):
        return 503, "unavailable"
    if isinstance(exc, UsageError):
        return 400, "usage"
    if isinstance(exc, DataError):
        return 400, "bad_data"
    if isinstance(exc, ServiceError):
        return 502, "service"
    if isinstance(exc, CheckFailed):
        return 409, "check_failed"
    return 500, "internal"


@dataclass
class Request:
    environ: dict[str, Any]
    method: str
    path: str
    query: dict[str, str]
    client: str
    request_id: str
    max_body: int
    params: dict[str, str] = field(default_factory=dict)  # from the route's pattern
    _body: bytes | None = None

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    def body(self) -> bytes:
        """The whole body (waitress has read it before the app runs), at most `max_body` bytes, else 413."""
        if self._body is None:
            length = self.environ.get("CONTENT_LENGTH") or ""
            if length.isdigit() and int(length) > self.max_body:
                raise HttpError(413, "too_large", f"the body is over {self.max_body:,} bytes")
            data = self.environ["wsgi.input"].read(self.max_body + 1)
            if len(data) > self.max_body:
                raise HttpError(413, "too_large", f"the body is over {self.max_body:,} bytes")
            self._body = data
        return self._body

    def json(self) -> Any:
        """The JSON body (nesting limited as every outside JSON), else 400 with why."""
        from arkops.core.serve.events import parse_body

        raw = self.body()
        if not raw.strip():
            raise HttpError(400, "bad_json", "a JSON body is required")
        try:
            return parse_body(raw)
        except DataError as exc:
            raise HttpError(400, "bad_json", str(exc)) from None

    def json_object(self) -> dict[str, Any]:
        value = self.json()
        if not isinstance(value, dict):
            raise HttpError(400, "bad_json", "the body must be a JSON object")
        return value


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, or bytes with its own content type
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode()


Handler = Callable[[Runtime, Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    name: str  # the route as documented (/api/promo/{code}): the metrics' label
    # "token" (Authorization: Bearer), "public" (rate-limited, CORS), "link" (rate-limited: a link in an email,
    # its signed token is the authority) or "open" (own checks)
    access: str


def route(method: str, template: str, handler: Handler, access: str) -> Route:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{pattern}$"), handler, template, access)


class TokenBuckets:
    """Per client address: `rate` requests a minute, in bursts of up to `rate`; the oldest of many forgotten."""

    def __init__(self, rate: int, *, size: int = 10_000) -> None:
        self.rate, self.size = rate, size
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, client: str, now: float) -> bool:
        with self.lock:
            tokens, then = self.buckets.pop(client, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - then) * self.rate / 60)
            allowed = tokens >= 1
            self.buckets[client] = (tokens - 1 if allowed else tokens, now)
            while len(self.buckets) > self.size:
                self.buckets.popitem(last=False)
            return allowed


class Metrics:
    """Counters since the server started, for `GET /metrics`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.events: Counter[tuple[str, str]] = Counter()

    def request(self, route: str, status: int) -> None:
        with self.lock:
            self.requests[(route, status)] += 1

    def event(self, kind: str, status: str) -> None:
        with self.lock:
            self.events[(kind, status)] += 1


def _client(environ: dict[str, Any]) -> str:
    return str(environ.get("REMOTE_ADDR") or "-")


def _quoted(text: str | None) -> str:
    return (text or "-").replace("\\", "\\\\").replace('"', '\\"')


class App:
    """The WSGI callable. `rt` is the server's runtime (its config read once); each request works on its own
    copy, so no request sees another's pending mail or memo."""

    def __init__(
        self, rt: Runtime, routes: Callable[[App], list[Route]], *, token: str, log: Callable[[str], None]
    ) -> None:
        settings = rt.config["serve"]
        self.rt, self.log = rt, log
        self.token = token.encode()
        self.max_body = settings["max_body_bytes"]
        self.cors_origins = frozenset(settings["cors_origins"])
        self.buckets = TokenBuckets(settings["rate_per_minute"])
        self.metrics = Metrics()
        self.routes = routes(self)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        request = self._request(environ)
        found, name = None, "unmatched"
        try:
            found = self._match(request)
            name = found.name
            response = self._run(found, request)
        except HttpError as exc:
            response = Response(exc.status, {"error": exc.message, "code": exc.code}, dict(exc.headers))
        if found is not None and found.access == "public":
            self._cors(request, response)
        status, headers, payload = self._finish(request, response, name, started)
        start_response(status, headers)
        return [payload]

    def refused_by_server(self, environ: dict[str, Any], status: int, message: str) -> tuple[str, list, bytes]:
        """waitress's own refusals, before the application runs (a malformed request, a body declared over
        twice `max_body_bytes`, headers over 64 KiB), answered as every error is: JSON with a code, a request
        id, an access log line. (status line, headers, body)"""
        request = self._request(environ)
        code = SERVER_REFUSALS.get(status, "bad_request")
        return self._finish(request, Response(status, {"error": message, "code": code}), "unparsed", time.monotonic())

    def _request(self, environ: dict[str, Any]) -> Request:
        given = environ.get("HTTP_X_REQUEST_ID") or ""
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=True).items()}
        return Request(
            environ,
            environ.get("REQUEST_METHOD", "GET").upper(),
            environ.get("PATH_INFO") or "/",
            query,
            _client(environ),
            request_id,
            self.max_body,
        )

    def _finish(self, request: Request, response: Response, name: str, started: float) -> tuple[str, list, bytes]:
        response.headers["X-Request-Id"] = request.request_id
        payload = b"" if request.method == "HEAD" else response.payload()
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(payload)))]
        headers += list(response.headers.items())
        self.metrics.request(name, response.status)
        self._access_log(request, response.status, len(payload), time.monotonic() - started)
        return f"{response.status} {REASONS.get(response.status, 'Unknown')}", headers, payload

    def _match(self, request: Request) -> Route:
        allowed = []
        for candidate in self.routes:
            matched = candidate.pattern.match(request.path)
            if matched is None:
                continue
            if candidate.method == request.method or (candidate.method == "GET" and request.method == "HEAD"):
                request.params = matched.groupdict()
                return candidate
            allowed.append(candidate)
        if allowed and request.method == "OPTIONS" and any(r.access == "public" for r in allowed):
            request.params = {}
            return route("OPTIONS", allowed[0].name, _preflight, "public")
        if allowed:
            methods = ", ".join(sorted({r.method for r in allowed}))
            raise HttpError(405, "method_not_allowed", f"{request.method} not allowed here", {"Allow": methods})
        raise HttpError(404, "not_found", f"no route {request.path[:200]}")

    def _run(self, found: Route, request: Request) -> Response:
        if found.access == "token":
            self._check_token(request)
        elif found.access in ("public", "link") and not self.buckets.take(request.client, time.monotonic()):
            raise HttpError(429, "rate_limited", "too many requests; slow down", {"Retry-After": RETRY_AFTER})
        rt = Runtime(
            data_dir=self.rt.data_dir,
            config_path=self.rt.config_path,
            env_file=self.rt.env_file,
            dry_run=self.rt.dry_run,
            quiet=True,
            _config=self.rt.config,
        )
        try:
            return found.handler(rt, request)
        except HttpError:
            raise
        except ArkopsError as exc:
            status, code = error_status(exc)
            self.log(f"{request.request_id} {found.name}: {exc}")
            if status >= 500:
                headers = {"Retry-After": RETRY_AFTER} if status == 503 else {}
                message = f"temporarily unavailable (request {request.request_id})"
                raise HttpError(status, code, message, headers) from None
            raise HttpError(status, code, str(exc)) from None
        except Exception as exc:  # an arkops bug: one line in the log, nothing of it in the answer
            self.log(redact(f"{request.request_id} {found.name}: internal error: {type(exc).__name__}: {exc}"))
            raise HttpError(500, "internal", f"internal error (request {request.request_id})") from None

    def _check_token(self, request: Request) -> None:
        given = request.header("Authorization") or ""
        scheme, _, value = given.partition(" ")
        # compare_digest over the whole value: the time taken says nothing of how much of it matched
        if not self.token or scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token):
            raise HttpError(
                401,
                "unauthorized",
                "a valid bearer token is required (Authorization: Bearer ...)",
                {"WWW-Authenticate": 'Bearer realm="arkops"'},
            )

    def _cors(self, request: Request, response: Response) -> None:
        origin = request.header("Origin")
        if origin and origin in self.cors_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"

    def _access_log(self, request: Request, status: int, size: int, took: float) -> None:
        environ = request.environ
        query = environ.get("QUERY_STRING")
        target = request.path + (f"?{query}" if query else "")
        stamp = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        self.log(
            f'{request.client} - - [{stamp}] "{request.method} {_quoted(target)} {protocol}" {status} {size} '
            f'"{_quoted(request.header("Referer"))}" "{_quoted(request.header("User-Agent"))}" '
            f"rid={request.request_id} {took * 1000:.1f}ms"
        )


def _preflight(rt: Runtime, request: Request) -> Response:
    return Response(204)
