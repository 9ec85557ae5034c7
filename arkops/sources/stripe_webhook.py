"""Stripe's webhook signature (the `Stripe-Signature` header), checked without importing the stripe library.

The scheme is Stripe's published one: the header is `t=<unix time>,v1=<hex>`
(several `v1` entries while a secret is being rolled), the signature is
HMAC-SHA256 of `<t>.<raw body>` under the endpoint secret, compared in
constant time, and a timestamp older than the tolerance is refused (a
replay). Importing the stripe library costs about 0.4 s, as much as
everything else `webhooks ingest` does; this check is 30 lines and
`tests/test_stripe_webhook.py` holds it to the library's own verdict on
every case.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

SCHEME = "v1"
TOLERANCE_SECONDS = 300  # Stripe's libraries' default
MAX_PAYLOAD = 1 << 20  # Stripe events are far smaller; a larger payload is refused unread


class SignatureError(ValueError):
    """The payload is not what Stripe signed with this secret (or it is too old)."""


def verify_signature(
    payload: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    clock: Callable[[], float] = time.time,
) -> None:
    """Raise `SignatureError` unless `header` signs `payload` with `secret` within `tolerance` seconds."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name == "t" and timestamp is None:
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("Unable to extract timestamp and signatures from header") from None
        elif name == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("Unable to extract timestamp and signatures from header")
    if not signatures:
        raise SignatureError(f"No signatures found with expected scheme {SCHEME}")
    signed = b"%d." % timestamp + payload
    expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), s.encode("utf-8", "replace")) for s in signatures):
        raise SignatureError("No signatures found matching the expected signature for payload")
    if tolerance and timestamp < clock() - tolerance:
        raise SignatureError(f"Timestamp outside the tolerance zone ({timestamp})")
