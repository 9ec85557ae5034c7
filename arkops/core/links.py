"""The signed links in customers' emails: unsubscribe (`/u/{token}`) and billing portal (`/billing/portal/{token}`),
both answered by `arkops serve` at `[serve] public_url`.

A link token is `<base64url of the address and the time it was issued>.<HMAC>`,
its HMAC made with the installation's key (`privacy.key` in the data
directory) over the link's purpose and that text: it names one recipient,
cannot be guessed or altered, and needs no record of its own. Unsubscribe
links never expire (RFC 8058 asks that they keep working); portal links
expire after `PORTAL_LINK_DAYS`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote

from arkops.errors import DataError
from arkops.runtime import Runtime

PORTAL_LINK_DAYS = 45  # a dunning sequence lasts a week or two; its last link still works weeks later
SIGNATURE_CHARS = 32  # hex digits of the HMAC kept: 128 bits


def _signature(rt: Runtime, purpose: str, body: str) -> str:
    from arkops.core.privacy.person import keyed_hash

    return keyed_hash(rt, f"link:{purpose}", body)[:SIGNATURE_CHARS]


def make_token(rt: Runtime, purpose: str, email: str, *, issued: int = 0) -> str:
    body = f"{email}\n{issued}"
    encoded = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{encoded}.{_signature(rt, purpose, body)}"


def read_token(rt: Runtime, purpose: str, token: str, *, now: datetime, max_age: timedelta | None = None) -> str:
    """The address a link token names, or DataError (altered, made for another purpose, or expired)."""
    encoded, _, signature = token.partition(".")
    try:
        body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise DataError("this link is not valid (it may have been cut or changed)") from None
    if not hmac.compare_digest(signature.encode(), _signature(rt, purpose, body).encode()):
        raise DataError("this link is not valid (it may have been cut or changed)")
    email, _, issued = body.partition("\n")
    if max_age is not None and issued.isdigit() and now.timestamp() - int(issued) > max_age.total_seconds():
        raise DataError("this link has expired; the latest email has a fresh one")
    return email


def public_link(rt: Runtime, path: str) -> str | None:
    base = rt.config["serve"]["public_url"].rstrip("/")
    return f"{base}{path}" if base else None


def unsubscribe_links(rt: Runtime, email: str) -> tuple[str | None, str | None]:
    """(the one-click URL through `arkops serve`, the mailto: alternative) for one recipient; None where not set."""
    url = public_link(rt, "/u/" + make_token(rt, "unsubscribe", email))
    mailbox = rt.config["mail"]["unsubscribe_mailbox"]
    mailto = f"mailto:{mailbox}?subject={quote('unsubscribe ' + email)}" if mailbox else None
    return url, mailto


def portal_link(rt: Runtime, email: str, *, now: datetime) -> str | None:
    """The link that opens a fresh billing-portal session for this customer (`GET /billing/portal/{token}`),
    or None without `[serve] public_url`."""
    issued = int(now.timestamp())
    return public_link(rt, "/billing/portal/" + make_token(rt, "portal", email, issued=issued))


def portal_email(rt: Runtime, token: str, *, now: datetime) -> str:
    return read_token(rt, "portal", token, now=now, max_age=timedelta(days=PORTAL_LINK_DAYS))
