"""Consent: the suppression list, and what the unsubscribe link of a lifecycle email does (`arkops.core.links`
signs and reads those links).

The suppression list (`suppressions.json`) holds, per address, its scope:
`lifecycle` (the person unsubscribed, or the operator ran `mail
unsubscribe`: no more lifecycle mail, transactional mail still goes) or
`all` (a hard bounce, SMTP 550/551/553 to RCPT: no customer mail at all,
operator alerts still go), with why and when. `privacy forget` moves an
address to `hashes`, under its keyed hash (`arkops.core.privacy.person`),
so a forgotten address stays suppressed without being kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from arkops.clock import iso
from arkops.core.links import read_token
from arkops.core.messaging import SUPPRESSIONS_DB
from arkops.runtime import Runtime
from arkops.store import Db

LIFECYCLE, ALL = "lifecycle", "all"  # what a suppression blocks: lifecycle mail, or every customer message


# --- the suppression list ---


def _digest(rt: Runtime, email: str) -> str:
    from arkops.core.privacy.person import keyed_hash

    return keyed_hash(rt, "email", email.strip().lower())


def _scope(*scopes: str) -> str:
    return ALL if ALL in scopes else LIFECYCLE


def suppress(
    rt: Runtime, email: str, *, scope: str, reason: str, now: datetime, detail: str = "", via: str = ""
) -> tuple[dict[str, Any], bool]:
    """Put an address on the list (a wider scope wins); returns its record and whether anything changed."""
    from arkops.mail.address import normalize_email

    address = normalize_email(email)
    with rt.store.transaction(SUPPRESSIONS_DB) as db:
        return _suppress(db, address, scope=scope, reason=reason, now=now, detail=detail, via=via)


def _suppress(
    db: Db, address: str, *, scope: str, reason: str, now: datetime, detail: str, via: str
) -> tuple[dict[str, Any], bool]:
    current = db.get("addresses", address)
    if current is not None and _scope(current["scope"], scope) == current["scope"] and current["reason"] == reason:
        return current, False
    record = {
        "scope": _scope(scope, current["scope"] if current else scope),
        "reason": reason,
        "at": cast(str, iso(now)),
        "detail": detail,
        "via": via,
    }
    if current is not None and current["scope"] == ALL and scope != ALL:
        record.update({"reason": current["reason"], "detail": current["detail"]})  # a bounce stays the reason
        record["also"] = reason
    db.put("addresses", address, record)
    return record, True


def resubscribe(rt: Runtime, email: str) -> dict[str, Any] | None:
    """Take an address off the list (an unsubscription or a bounce alike); its record, or None when not on it."""
    from arkops.mail.address import normalize_email

    address = normalize_email(email)
    if not rt.store.path(SUPPRESSIONS_DB).exists():
        return None
    digest = _digest(rt, address)
    with rt.store.transaction(SUPPRESSIONS_DB) as db:
        current, hashed = db.get("addresses", address), db.get("hashes", digest)
        if current is not None:
            db.delete("addresses", address)
        if hashed is not None:
            db.delete("hashes", digest)
        return current or hashed


def suppressed(rt: Runtime) -> list[dict[str, Any]]:
    """The list: one row per address (forgotten ones shown by their keyed hash's first characters)."""
    if not rt.store.path(SUPPRESSIONS_DB).exists():
        return []
    with rt.store.transaction(SUPPRESSIONS_DB) as db:
        rows = [{"email": address, **record} for address, record in db.items("addresses")]
        rows += [{"email": f"(forgotten {digest[:12]})", **record} for digest, record in db.items("hashes")]
    return sorted(rows, key=lambda row: (row["at"], row["email"]))


class SuppressionList:
    """The list as one flush reads it: loaded once, asked per message."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.addresses: dict[str, dict] = {}
        self.hashes: dict[str, dict] = {}
        if rt.store.path(SUPPRESSIONS_DB).exists():
            with rt.store.transaction(SUPPRESSIONS_DB) as db:
                self.addresses = dict(db.items("addresses"))
                self.hashes = dict(db.items("hashes"))

    def blocks(self, email: str, category: str) -> str | None:
        """Why a message of this category must not go to this address, or None."""
        if category not in (LIFECYCLE, "transactional"):
            return None  # operator alerts always go
        address = email.strip().lower()
        record = self.addresses.get(address)
        if record is None and self.hashes:
            record = self.hashes.get(_digest(self.rt, address))
        if record is None or (record["scope"] == LIFECYCLE and category != LIFECYCLE):
            return None
        return f"on the suppression list ({record['reason']} {record['at'][:10]})"


def unsubscribe_token(rt: Runtime, token: str, *, now: datetime) -> str:
    """The one-click unsubscribe (`POST /u/{token}`): the address the link names stops getting lifecycle mail."""
    email = read_token(rt, "unsubscribe", token, now=now)
    suppress(rt, email, scope=LIFECYCLE, reason="unsubscribed", now=now, via="link")
    return email


def unsubscribe_preview(rt: Runtime, token: str, *, now: datetime) -> str:
    """`GET /u/{token}`: the address the link names, checked; nothing is written (mail scanners open links)."""
    return read_token(rt, "unsubscribe", token, now=now)


def record_bounce(rt: Runtime, email: str, reply: str, *, now: datetime) -> None:
    suppress(rt, email, scope=ALL, reason="bounced", now=now, detail=reply, via="smtp")


def forget(rt: Runtime, who: Any, *, now: datetime) -> dict[str, int]:
    """`privacy forget`: the address leaves the list, its keyed hash takes its place (it stays suppressed)."""
    if not rt.store.path(SUPPRESSIONS_DB).exists() or who.kind != "email":
        return {}
    with rt.store.transaction(SUPPRESSIONS_DB) as db:
        record = db.get("addresses", who.value)
        if record is None:
            return {"suppressions hashed": 0}
        db.delete("addresses", who.value)
        db.put("hashes", who.digest, {k: v for k, v in record.items() if k not in ("detail", "via")})
    return {"suppressions hashed": 1}
