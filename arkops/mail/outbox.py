"""The outbox: every message is stored before it is sent, under an idempotency key.

States: pending -> sending -> sent | pending (retry later) | failed (5xx) |
dead (gave up after the backoff schedule) | unknown (cut off after the body
went out: never resent blindly, `arkops mail retry ID` resends). Dry runs
store `dry-run` messages and write them as .eml files.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from arkops.clock import iso, parse_iso
from arkops.errors import DataError
from arkops.mail import MessageState
from arkops.mail.smtp import FAILED, RETRY, SENT, Outcome
from arkops.store import Store, atomic_write_bytes, ensure_dir
from arkops.store.tables import Table

DB = "outbox"  # declared, with its schema version, by the mail domain (arkops.core.mail)

BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6))
STATES = tuple(MessageState)
EMAIL, CHAT = "email", "chat"


class OutboxMessage(TypedDict):
    """One message as stored in outbox.json, keyed by `id`; times are ISO 8601 in UTC."""

    id: str  # a counter, as text
    key: str  # the idempotency key
    channel: str  # email or chat
    template: str
    locale: str
    to: str  # an address, or the webhook URL for chat
    from_name: str
    subject: str
    text: str
    html: str
    message_id: str  # the Message-ID header
    state: str  # one of STATES
    attempts: int  # failed attempts so far
    created_at: str
    next_attempt_at: str
    sent_at: str | None
    last_error: str | None
    claimed_by: str | None  # host:pid of the process sending it
    claimed_at: NotRequired[str]  # when it was last claimed


MESSAGES = Table[OutboxMessage]("messages")


@dataclass
class Draft:
    key: str
    channel: str  # email or chat
    template: str
    locale: str
    to: str  # an address, or the webhook URL for chat
    subject: str
    text: str
    html: str = ""
    from_name: str = "arkops"


@dataclass
class FlushReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    dead: int = 0
    unknown: int = 0
    recovered: int = 0  # stale 'sending' claims turned to unknown
    unreachable: bool = False  # no message could reach its server
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("sent", "retry", "failed", "dead", "unknown", "recovered")}

    def summary(self) -> str:
        return ", ".join(f"{v} {k}" for k, v in self.counts().items() if v or k == "sent")


def _claimer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimer_alive(claimer: str) -> bool:
    host, _, pid = claimer.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's claim: cannot tell, leave it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build_email(doc: Mapping[str, Any], sender: str) -> EmailMessage:
    """The email for an OutboxMessage (any mapping with its fields)."""
    message = EmailMessage()
    message["Subject"] = doc["subject"]
    message["From"] = formataddr((doc.get("from_name") or "", sender))
    message["To"] = doc["to"]
    message["Date"] = format_datetime(parse_iso(doc["created_at"]))
    message["Message-ID"] = doc["message_id"]
    message["X-Arkops-Key"] = doc["key"]
    message.set_content(doc["text"], charset="utf-8")
    message.add_alternative(doc["html"], subtype="html", charset="utf-8")
    return message


def eml_folder(store: Store) -> Path:
    return store.data_dir / "outbox"


def enqueue(
    store: Store, draft: Draft, *, now: datetime, dry_run: bool, sender: str = "arkops@localhost"
) -> tuple[OutboxMessage, bool]:
    """Store a message once per key; returns (message, created). Same key again is a no-op."""
    stamp = cast(str, iso(now))
    with store.transaction(DB) as db:
        existing_id = (db.get("keys", draft.key) or {}).get("id")
        existing = MESSAGES.get(db, existing_id) if existing_id else None
        if existing is not None and not (existing["state"] == "dry-run" and not dry_run):
            return existing, False
        counter = db.get("counters", "messages") or {"next": 1}
        message_id = existing_id or str(counter["next"])
        if existing_id is None:
            db.put("counters", "messages", {"next": counter["next"] + 1})
        domain = sender.rpartition("@")[2] or "localhost"
        doc: OutboxMessage = {
            "id": message_id,
            "key": draft.key,
            "channel": draft.channel,
            "template": draft.template,
            "locale": draft.locale,
            "to": draft.to,
            "from_name": draft.from_name,
            "subject": draft.subject,
            "text": draft.text,
            "html": draft.html,
            "message_id": make_msgid(idstring=f"arkops{message_id}", domain=domain),
            "state": "dry-run" if dry_run else "pending",
            "attempts": 0,
            "created_at": stamp,
            "next_attempt_at": stamp,
            "sent_at": None,
            "last_error": None,
            "claimed_by": None,
        }
        MESSAGES.put(db, message_id, doc)
        db.put("keys", draft.key, {"id": message_id})
    if dry_run:
        folder = ensure_dir(eml_folder(store))
        suffix = "eml" if draft.channel == EMAIL else "chat.txt"
        content = build_email(doc, sender).as_bytes() if draft.channel == EMAIL else draft.text.encode("utf-8")
        atomic_write_bytes(folder / f"{int(message_id):06d}-{draft.template}.{suffix}", content)
    return doc, True


def list_messages(store: Store, state: str | None = None) -> list[dict]:
    if state is not None and state not in STATES:
        raise DataError(f"state {state!r} is not one of {', '.join(STATES)}")
    with store.transaction(DB) as db:
        rows = db.values("messages")
    rows.sort(key=lambda m: int(m["id"]))
    return [m for m in rows if state is None or m["state"] == state]


def _claim(store: Store, now: datetime, only: set[str] | None, report: FlushReport) -> list[OutboxMessage]:
    with store.transaction(DB) as db:
        claimed = []
        for message_id, doc in MESSAGES.items(db):
            if doc["state"] == "sending" and not _claimer_alive(doc.get("claimed_by") or ""):
                doc.update(
                    {
                        "state": "unknown",
                        "claimed_by": None,
                        "last_error": "the sending process died mid-send; outcome unknown (arkops mail retry ID resends)",
                    }
                )
                MESSAGES.put(db, message_id, doc)
                report.recovered += 1
                continue
            if doc["state"] != "pending" or (only is not None and message_id not in only):
                continue
            if parse_iso(doc["next_attempt_at"]) > now:
                continue
            doc.update({"state": "sending", "claimed_by": _claimer(), "claimed_at": cast(str, iso(now))})
            MESSAGES.put(db, message_id, doc)
            claimed.append(doc)
    claimed.sort(key=lambda m: int(m["id"]))
    return claimed


def _settle(store: Store, doc: OutboxMessage, outcome: Outcome, now: datetime, report: FlushReport) -> None:
    with store.transaction(DB) as db:
        current = MESSAGES.get(db, doc["id"]) or doc
        current["claimed_by"] = None
        current["last_error"] = None if outcome.kind == SENT else outcome.detail
        if outcome.kind == SENT:
            current.update({"state": "sent", "sent_at": iso(now)})
            report.sent += 1
        elif outcome.kind == RETRY:
            current["attempts"] = current.get("attempts", 0) + 1
            if current["attempts"] > len(BACKOFF):
                current["state"] = "dead"
                report.dead += 1
            else:
                retry_at = now + BACKOFF[current["attempts"] - 1]
                current.update({"state": "pending", "next_attempt_at": cast(str, iso(retry_at))})
                report.retry += 1
        elif outcome.kind == FAILED:
            current["state"] = "failed"
            report.failed += 1
        else:
            current["state"] = "unknown"
            report.unknown += 1
        MESSAGES.put(db, doc["id"], current)
    if outcome.kind != SENT:
        report.errors.append(
            f"message {doc['id']} ({doc['template']} to {doc['to'] if doc['channel'] == EMAIL else 'chat'}): {outcome.kind}: {outcome.detail}"
        )


def flush(
    store: Store,
    *,
    now: datetime,
    send_email: Callable[[list[Any]], list[Outcome]],
    send_chat: Callable[[Any], Outcome],
    only: set[str] | None = None,
) -> FlushReport:
    """Claim what is due, send it outside the lock, record each outcome. Safe to run concurrently.

    `send_email` gets the claimed emails, `send_chat` one chat message at a time, each an OutboxMessage.
    """
    report = FlushReport()
    claimed = _claim(store, now, only, report)
    emails = [doc for doc in claimed if doc["channel"] == EMAIL]
    chats = [doc for doc in claimed if doc["channel"] == CHAT]
    try:
        outcomes = list(zip(emails, send_email(emails), strict=False)) if emails else []
        outcomes += [(doc, send_chat(doc)) for doc in chats]
    except BaseException:
        _release(store, [doc["id"] for doc in claimed])
        raise
    for doc, outcome in outcomes:
        _settle(store, doc, outcome, now, report)
    report.unreachable = bool(outcomes) and not any(o.reached for _, o in outcomes)
    return report


def _release(store: Store, ids: list[str]) -> None:
    """Hand claimed messages back untouched (the sender raised before any outcome)."""
    with store.transaction(DB) as db:
        for message_id in ids:
            doc = MESSAGES.get(db, message_id)
            if doc and doc["state"] == "sending":
                doc.update({"state": "pending", "claimed_by": None})
                MESSAGES.put(db, message_id, doc)


def make_pending(store: Store, message_id: str, *, now: datetime) -> OutboxMessage:
    """`mail retry ID`: put a failed, dead, unknown or waiting message back in line, due now."""
    with store.transaction(DB) as db:
        doc = MESSAGES.get(db, message_id)
        if doc is None:
            raise DataError(f"no message with id {message_id!r} in the outbox")
        if doc["state"] in ("sent", "sending", "dry-run"):
            raise DataError(
                f"message {message_id} is {doc['state']}; only pending, failed, dead or unknown messages can be retried"
            )
        doc.update({"state": "pending", "next_attempt_at": cast(str, iso(now)), "claimed_by": None})
        MESSAGES.put(db, message_id, doc)
    return doc
