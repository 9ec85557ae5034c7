"""The Stripe client, pointed at STRIPE_API_BASE when set (a local server in tests)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from arkops.config import env
from arkops.errors import ConfigError, ServiceError, redact


def client(*, timeout: float) -> Any:
    """The Stripe client; `timeout` bounds each request (the library's own default is 80 s)."""
    import stripe

    key = env("STRIPE_SECRET_KEY")
    if not key:
        raise ConfigError("environment", "STRIPE_SECRET_KEY", "not set")
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
            raise ServiceError(
                f"Stripe rejected the request while {what}: {redact(str(exc.user_message or exc))}"
            ) from None
    attempts = len(delays) + 1
    raise ServiceError(
        f"Stripe unreachable while {what} after {attempts} attempt{'' if attempts == 1 else 's'}: {last}"
    )


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
        items = page.get("data") or []
        yield from items
        if not page.get("has_more") or not items:
            return
        params = {**params, "starting_after": items[-1]["id"]}
