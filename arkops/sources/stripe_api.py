"""The Stripe client, pointed at STRIPE_API_BASE when set (a local server in tests).

Reads go through `call` (retries) and `iter_list` (pagination). Every write
goes through `StripeWriter`: the one place that refuses a live key without
`--live`, prints instead of sending under `--dry-run`, sends an idempotency
key with each request, and turns Stripe's answers into exit codes (3 for a
request Stripe rejects, 4 for a service that stays down after retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from arkops.config import env, stripe_key_problem
from arkops.errors import ConfigError, DataError, ServiceError, redact


def client(*, timeout: float) -> Any:
    """The Stripe client; `timeout` bounds each request (the library's own default is 80 s).

    A key that is not set, still `.env.example`'s or not a secret key's shape is refused here (exit 3),
    before any request: Stripe would only refuse it after the retries.
    """
    key = env("STRIPE_SECRET_KEY")
    problem = stripe_key_problem(key)
    if problem:
        raise ConfigError("environment", "STRIPE_SECRET_KEY", problem.removeprefix("STRIPE_SECRET_KEY "))
    import stripe

    http = stripe.new_default_http_client(timeout=timeout)
    base = env("STRIPE_API_BASE")
    if base:  # a local Stripe-compatible server (tests, localstripe)
        return stripe.StripeClient(
            key, base_addresses={"api": base.rstrip("/")}, max_network_retries=0, http_client=http
        )
    return stripe.StripeClient(key, max_network_retries=0, http_client=http)


def call(
    request: Callable[[], Any],
    *,
    what: str,
    delays: Sequence[float],
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Run one Stripe request, retrying network errors and 5xx/429; exit 4 when it stays down.

    `delays` are the waits of `[billing] stripe_retry_seconds`: one attempt, then one more after each wait.
    """
    import stripe

    last = ""
    for delay in (0.0, *delays):
        if delay:
            sleep(delay)
        try:
            return request()
        except stripe.AuthenticationError as exc:
            raise ServiceError(f"Stripe refused the key while {what}: {redact(str(exc.user_message or exc))}") from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            last = _one_line(exc)
        except stripe.APIError as exc:
            last = _one_line(exc)
        except stripe.StripeError as exc:
            if (exc.http_status or 0) >= 500:
                last = _one_line(exc)
                continue
            raise StripeRejected(what, _one_line(exc), exc.request_id, status=exc.http_status) from None
    attempts = len(delays) + 1
    raise ServiceError(
        f"Stripe unreachable while {what} after {attempts} attempt{'' if attempts == 1 else 's'}: {last}"
    )


class StripeRejected(DataError):
    """Stripe answered 4xx: the request itself is wrong (exit 3); retrying would not help."""

    def __init__(self, what: str, message: str, request_id: str | None, *, status: int | None = None) -> None:
        where = f" (request {request_id})" if request_id else ""
        super().__init__(f"Stripe rejected the request while {what}: {message}{where}")
        self.request_id = request_id
        self.status = status


def _one_line(exc: Exception) -> str:
    """Stripe's whole message on one line (its messages run over several)."""
    message = getattr(exc, "user_message", None) or str(exc)
    return " ".join(redact(str(message)).split())


def ping(*, delays: Sequence[float], timeout: float) -> str:
    stripe_client = client(timeout=timeout)
    listing = call(
        lambda: stripe_client.raw_request("get", "/v1/events", limit=1), what="checking the API", delays=delays
    ).data
    base = env("STRIPE_API_BASE") or "api.stripe.com"
    return f"{base} answered ({len(listing.get('data') or [])} recent event visible)"


def iter_list(client: Any, path: str, params: dict, *, what: str, delays: Sequence[float]) -> Iterator[dict]:
    """Every object of a list endpoint (e.g. /v1/events), all pages, each page fetched with retries.

    Pages are read as plain JSON (`raw_request`): building a StripeObject for
    each of thousands of events costs more than applying them.
    """
    params = {"limit": 100, **params}
    while True:
        page = call(partial(client.raw_request, "get", path, **params), what=what, delays=delays).data
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            # read as an empty list, an answer that is not one would say "nothing there"
            raise DataError(f"Stripe answered {path} with {str(page)[:200]}, not a list")
        items = page["data"]
        yield from items
        if not page.get("has_more") or not items:
            return
        params = {**params, "starting_after": items[-1]["id"]}


def is_live_key(key: str) -> bool:
    return key.startswith(("sk_live_", "rk_live_"))


class LiveKeyRefused(DataError):
    """A live secret key without `--live` (or ARKOPS_ALLOW_LIVE=1): nothing is sent (exit 3)."""

    def __init__(self) -> None:
        super().__init__(
            "STRIPE_SECRET_KEY is a live key: add --live (or set ARKOPS_ALLOW_LIVE=1) to write to Stripe; "
            "nothing was sent"
        )


def form_pairs(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """`params` as Stripe's form encoding writes them: `a[b][0]=x`, booleans as true/false, None left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(form_pairs(value, name))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pairs.extend(form_pairs(item, f"{name}[{index}]"))
                else:
                    pairs.append((f"{name}[{index}]", _form_value(item)))
        elif value is not None:
            pairs.append((name, _form_value(value)))
    return pairs


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class StripeRequest:
    """One write, as sent (or, under --dry-run, as it would be sent)."""

    method: str  # "post" or "delete"
    path: str
    params: dict[str, Any]
    idempotency_key: str

    def line(self) -> str:
        """One line for `--dry-run`: method, path, form fields, the idempotency key."""
        fields = " ".join(f"{k}={v}" for k, v in form_pairs(self.params))
        return f"{self.method.upper()} {self.path} {fields} (Idempotency-Key: {self.idempotency_key})".replace(
            "  ", " "
        )


@dataclass
class StripeWriter:
    """Reads and writes for commands that change Stripe (promo push, checkout, cancel, migrate, plans push).

    Built before anything is sent: a live key without `live` (the `--live`
    option) or ARKOPS_ALLOW_LIVE=1 raises `LiveKeyRefused` unless `dry_run`,
    which sends no write at all and records each one in `planned` (reads
    still go to Stripe, so a dry run plans against what exists). Each write
    carries the caller's idempotency key: derive it from what the command
    does (`arkops-promo-push-LAUNCH30-coupon`), so a retried or re-run
    command gets Stripe's first answer back instead of a second object.
    """

    timeout: float
    delays: Sequence[float]
    live: bool = False
    dry_run: bool = False
    planned: list[StripeRequest] = field(default_factory=list)
    sent: list[StripeRequest] = field(default_factory=list)
    _client: Any = None

    def __post_init__(self) -> None:
        key = env("STRIPE_SECRET_KEY")
        if not key:
            raise ConfigError("environment", "STRIPE_SECRET_KEY", "not set")
        if is_live_key(key) and not self.dry_run and not (self.live or env("ARKOPS_ALLOW_LIVE") == "1"):
            raise LiveKeyRefused()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client(timeout=self.timeout)
        return self._client

    def get(self, path: str, *, what: str, **params: Any) -> dict:
        """The object at `path` as plain JSON."""
        return call(partial(self.client.raw_request, "get", path, **params), what=what, delays=self.delays).data

    def find(self, path: str, *, what: str, **params: Any) -> dict | None:
        """Like `get`, but None when Stripe answers 404 (does the coupon exist yet?)."""
        try:
            return self.get(path, what=what, **params)
        except StripeRejected as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str, params: dict, *, what: str) -> Iterator[dict]:
        return iter_list(self.client, path, params, what=what, delays=self.delays)

    def post(self, path: str, params: dict[str, Any], *, idempotency_key: str, what: str) -> dict | None:
        """Send one write (None under --dry-run, where it is only recorded in `planned`)."""
        return self._write("post", path, params, idempotency_key, what)

    def delete(self, path: str, params: dict[str, Any], *, idempotency_key: str, what: str) -> dict | None:
        return self._write("delete", path, params, idempotency_key, what)

    def _write(self, method: str, path: str, params: dict[str, Any], key: str, what: str) -> dict | None:
        request = StripeRequest(method, path, params, key)
        if self.dry_run:
            self.planned.append(request)
            return None
        send = partial(self.client.raw_request, method, path, idempotency_key=key, **params)
        answer = call(send, what=what, delays=self.delays).data
        self.sent.append(request)
        return answer
