"""The Stripe client, pointed at STRIPE_API_BASE when set (a local server in tests)."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from arkops.config import env
from arkops.errors import ConfigError, ServiceError, redact

RETRY_DELAYS = (0.5, 1.0, 2.0)


def client() -> Any:
    import stripe

    key = env("STRIPE_SECRET_KEY")
    if not key:
        raise ConfigError("environment", "STRIPE_SECRET_KEY", "not set")
    base = env("STRIPE_API_BASE")
    addresses = {"api": base.rstrip("/")} if base else None
    return stripe.StripeClient(key, base_addresses=addresses, max_network_retries=0)


def call(request: Callable[[], Any], *, what: str, sleep: Callable[[float], None] = time.sleep) -> Any:
    """Run one Stripe request, retrying network errors and 5xx/429 with backoff; exit 4 when it stays down."""
    import stripe

    last = ""
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
        if delay:
            sleep(delay)
        try:
            return request()
        except stripe.AuthenticationError as exc:
            raise ServiceError(f"Stripe refused the key while {what}: {redact(str(exc.user_message or exc))}") from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            last = redact(str(exc.user_message or exc)).splitlines()[0]
        except stripe.APIError as exc:
            last = redact(str(exc.user_message or exc)).splitlines()[0]
        except stripe.StripeError as exc:
            if (exc.http_status or 0) >= 500:
                last = redact(str(exc.user_message or exc)).splitlines()[0]
                continue
            raise ServiceError(f"Stripe rejected the request while {what}: {redact(str(exc.user_message or exc))}") from None
    raise ServiceError(f"Stripe unreachable while {what} after {len(RETRY_DELAYS) + 1} attempts: {last}")


def ping() -> str:
    listing = call(lambda: client().v1.events.list({"limit": 1}), what="checking the API")
    base = env("STRIPE_API_BASE") or "api.stripe.com"
    return f"{base} answered ({len(listing.data)} recent event visible)"


def iter_list(resource: Any, params: dict, *, what: str) -> Iterator[dict]:
    """Every object of a list endpoint, all pages, each page fetched with retries."""
    params = {"limit": 100, **params}
    while True:
        page = call(lambda: resource.list(params), what=what)
        for item in page.data:
            yield item.to_dict() if hasattr(item, "to_dict") else dict(item)
        if not page.has_more or not page.data:
            return
        params = {**params, "starting_after": page.data[-1].id}
