"""Upgrade links in emails that open a Stripe Checkout when they are clicked, through `arkops serve`.

A Checkout session lives 24 hours (Stripe's limit), and a day-12 email is
often read days later: the email carries `[serve] public_url`/upgrade with
the customer's email, the plan and a signature (a keyed hash with the
installation's key), and `GET /upgrade` makes a fresh session for that
email and plan and redirects to it. The signature is what lets a public
route start a Checkout: nobody can make a link for another address or plan.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from urllib.parse import urlencode

from arkops.core.plans.catalog import plans
from arkops.core.plans.stripe_ops import Link, checkout
from arkops.core.privacy.person import keyed_hash
from arkops.errors import DataError
from arkops.mail.address import normalize_email
from arkops.runtime import Runtime

SIGNATURE_HEX = 32  # 128 bits: a guess is as good as none, and the link stays short


def _signature(rt: Runtime, email: str, plan: str) -> str:
    return keyed_hash(rt, "upgrade", f"{email}\0{plan}")[:SIGNATURE_HEX]


def serve_link(rt: Runtime, email: str, plan: str) -> str | None:
    """The signed `arkops serve` link to a Checkout of `plan` for `email`; None when `[serve] public_url` is
    not set or the plan cannot be bought through Checkout (free, or no Stripe price)."""
    base = rt.config["serve"]["public_url"]
    found = plans(rt).get(plan)
    if not base or found is None or found.free or not found.stripe_price:
        return None
    email = normalize_email(email)
    query = urlencode({"email": email, "plan": plan, "sig": _signature(rt, email, plan)})
    return f"{base.rstrip('/')}/upgrade?{query}"


def open_link(rt: Runtime, email: str, plan: str, signature: str, *, now: datetime) -> Link:
    """The Checkout a signed upgrade link opens: the plan's price, no trial days (the trial is ending)."""
    email = normalize_email(email)
    if not hmac.compare_digest(signature.encode(), _signature(rt, email, plan).encode()):
        raise DataError("this upgrade link was not made by this installation (its signature does not match)")
    return checkout(rt, email, plan, trial_days=0, promo=None, success_url=None, cancel_url=None, live=False, now=now)
