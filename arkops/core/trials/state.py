"""A trial's record and its derived state, shared by every part of the trials domain.

A trial is keyed by its normalised email. Its state is derived, never
stored blindly: `converted` when the billing ledger shows the email paying,
else `expired` once `trial_ends_at` has passed, else `active` after a first
activity, else `signed_up`.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from arkops.clock import from_unix, iso, parse_iso
from arkops.errors import DataError
from arkops.mail.address import normalize_address
from arkops.runtime import Runtime

DB = "trials"
STATES = ("signed_up", "active", "converted", "expired")


def normalize_email(email: Any) -> str:
    """One person, one trial: trimmed, lower-cased, validated."""
    if not isinstance(email, str) or not email.strip():
        raise DataError(f"email: {email!r} is not an email address")
    return normalize_address(email.strip().lower(), field="email").lower()


def conversions(rt: Runtime) -> dict[str, int]:
    from arkops.core.billing.ledger import DB as LEDGER
    from arkops.core.billing.ledger import first_payment_by_email

    if not rt.store.path(LEDGER).exists():
        return {}
    with rt.store.transaction(LEDGER) as ledger:
        return first_payment_by_email(ledger)


def refresh(trial: dict, now: datetime, paid: dict[str, int]) -> dict:
    paid_at = paid.get(trial["email"])
    if paid_at and paid_at <= now.timestamp() and not trial["converted_at"]:
        trial["converted_at"] = iso(from_unix(max(paid_at, int(parse_iso(trial["signed_up_at"]).timestamp()))))
    if trial["converted_at"]:
        trial["state"] = "converted"
    elif now >= parse_iso(trial["trial_ends_at"]):
        trial["state"] = "expired"
    elif trial["activated_at"]:
        trial["state"] = "active"
    else:
        trial["state"] = "signed_up"
    return trial


def days_left(trial: dict, now: datetime, tz: tzinfo) -> int:
    """Calendar days until the trial's last day, in the configured time zone (day 12 of 14 -> 2)."""
    ends = parse_iso(trial["trial_ends_at"]).astimezone(tz).date()
    return max(0, (ends - now.astimezone(tz).date()).days)


def local_time(rt: Runtime, moment: str) -> str:
    return parse_iso(moment).astimezone(rt.config.tz).strftime("%Y-%m-%d %H:%M %Z")
