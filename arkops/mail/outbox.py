"""The outbox: every message is stored before it is sent, under an idempotency key.

States: pending -> sending -> sent | pending (retry later) | failed (5xx) |
dead (gave up after the backoff schedule) | unknown (cut off after the body
went out: never resent blindly, `arkops mail retry ID` resends) |
suppressed (the recipient is on the suppression list for the message's
category: never sent). Dry runs store `dry-run` messages and write them as
.eml files.
"""

from __future__ import annotations

import email.policy
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from arkops.clock import iso, parse_iso
from arkops.errors import ArkopsError, DataError, finishing, one_line, stop_requested
from arkops.mail import OUTBOX, MessageState
from arkops.mail.address import check_header
from arkops.mail.smtp import FAILED, NOT_TRIED, RETRY, SENT, SUPPRESSED, UNKNOWN, Outcome
from arkops.store import Db, Store, atomic_write_bytes, ensure_dir
from arkops.store.archive import Archive
from arkops.store.files import remove_file
from arkops.store.tables import Table

BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6))
STATES = tuple(MessageState)
LEASE = timedelta(minutes=30)  # a claim older than this is stale, whichever host or container made it
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
    html: str  # the HTML part; a chat message keeps its Block Kit blocks here, as JSON
    message_id: str  # the Message-ID header
    state: str  # one of STATES
    attempts: int  # delivery attempts so far, the one that sent it included
    created_at: str
    next_attempt_at: str
    sent_at: str | None
    last_error: str | None
    claimed_by: str | None  # host:pid of the process sending it
    claimed_at: NotRequired[str]  # when it was last claimed
    category: NotRequired[str]  # operator, transactional or lifecycle (older messages: from their template)
    headers: NotRequired[dict[str, str]]  # Reply-To, List-Unsubscribe, Auto-Submitted, ...


MESSAGES = Table[OutboxMessage]("messages")


def _archives_begin(db: Db) -> None:
    """Version 2 changes no record: it says finished messages may have moved to archive/outbox/ and their keys
    be marked `archived`, which an older arkops would not know to look for (so it refuses the file)."""


MIGRATIONS = {1: _archives_begin}


@dataclass
class Draft:
    key: str
    channel: str  # email or chat
    template: str
    locale: str
    to: str  # an address, or the webhook URL for chat
    subject: str
    text: str
    html: str = ""  # for chat: the Block Kit blocks, as JSON
    from_name: str = ""
    category: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FlushReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    dead: int = 0
    unknown: int = 0
    suppressed: int = 0  # not sent: the recipient is on the suppression list
    recovered: int = 0  # stale 'sending' claims turned to unknown
    unreachable: bool = False  # a server (SMTP, the chat webhook) could not be reached
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("sent", "retry", "failed", "dead", "unknown", "suppressed", "recovered")}

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
    international = not (sender.isascii() and doc["to"].isascii())
    message = EmailMessage(policy=email.policy.default.clone(utf8=True) if international else email.policy.default)
    message["Subject"] = doc["subject"]
    # Address, not formataddr: it keeps a non-ASCII local part for SMTPUTF8 instead of refusing it
    local, _, domain = sender.rpartition("@")
    message["From"] = Address(display_name=doc.get("from_name") or "", username=local, domain=domain)
    message["To"] = doc["to"]
    message["Date"] = format_datetime(parse_iso(doc["created_at"]))
    message["Message-ID"] = doc["message_id"]
    message["X-Arkops-Key"] = doc["key"]
    for name, value in (doc.get("headers") or {}).items():
        message[name] = value
    message.set_content(doc["text"], charset="utf-8")
    message.add_alternative(doc["html"], subtype="html", charset="utf-8")
    return message


def eml_folder(store: Store) -> Path:
    return store.data_dir / "outbox"  # dry-run renderings, data/outbox/*.eml


def check_key(key: str) -> str:
    """An idempotency key: printable text on one line, at most 300 characters (it is also a header)."""
    if not isinstance(key, str) or not key or len(key) > 300 or not key.isprintable():
        raise DataError(f"idempotency key {key!r}: must be 1-300 printable characters on one line")
    return key


def check_draft(draft: Draft) -> None:
    """The key and every header value are checked before anything is queued: nothing that cannot be sent is stored."""
    check_key(draft.key)
    for value, what in ((draft.to, "to"), (draft.subject, "subject"), (draft.from_name, "from name")):
        check_header(value, what)
    for name, value in draft.headers.items():
        check_header(value, name)


def enqueue_many(
    store: Store, drafts: list[tuple[Draft, datetime]], *, dry_run: bool, sender: str = "arkops@localhost"
) -> list[tuple[OutboxMessage, bool]]:
    """Store messages, each once per key, in one outbox write; returns (message, created) for each draft.

    A job queues everything it has to say through here in one transaction, so
    its cost does not grow with the outbox's history times its messages.
    """
    for draft, _ in drafts:
        check_draft(draft)
    results: list[tuple[OutboxMessage, bool]] = []
    domain = sender.rpartition("@")[2] or "localhost"
    with store.transaction(OUTBOX) as db:
        for draft, now in drafts:
            results.append(_store_draft(db, draft, now, dry_run, domain))
    if dry_run:
        folder = ensure_dir(eml_folder(store))
        for (draft, _), (doc, created) in zip(drafts, results, strict=True):
            if created:
                suffix = "eml" if draft.channel == EMAIL else "chat.txt"
                content = build_email(doc, sender).as_bytes() if draft.channel == EMAIL else draft.text.encode("utf-8")
                atomic_write_bytes(folder / f"{int(doc['id']):06d}-{draft.template}.{suffix}", content)
    return results


def _store_draft(db: Db, draft: Draft, now: datetime, dry_run: bool, domain: str) -> tuple[OutboxMessage, bool]:
    entry = db.get("keys", draft.key) or {}
    existing_id = entry.get("id")
    if entry.get("archived"):
        if not (entry.get("state") == "dry-run" and not dry_run):
            return _document(draft, entry["id"], entry["state"], entry["created_at"], domain), False
        existing_id = None  # a dry run's message, archived since: the real one gets its own id
    existing = MESSAGES.get(db, existing_id) if existing_id else None
    if existing is not None and not (existing["state"] == "dry-run" and not dry_run):
        return existing, False
    counter = db.get("counters", "messages") or {"next": 1}
    message_id = existing_id or str(counter["next"])
    if existing_id is None:
        db.put("counters", "messages", {"next": counter["next"] + 1})
    doc = _document(draft, message_id, "dry-run" if dry_run else "pending", cast(str, iso(now)), domain)
    MESSAGES.put(db, message_id, doc)
    db.put("keys", draft.key, {"id": message_id})
    return doc, True


def _document(draft: Draft, message_id: str, state: str, stamp: str, domain: str) -> OutboxMessage:
    return {
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
        "state": state,
        "attempts": 0,
        "created_at": stamp,
        "next_attempt_at": stamp,
        "sent_at": None,
        "last_error": None,
        "claimed_by": None,
        "category": draft.category,
        "headers": draft.headers,
    }


def list_messages(store: Store, state: str | None = None, *, archived: bool = False) -> list[dict]:
    """Messages by id: the hot outbox, and with `archived` the monthly archives too (the hot copy wins)."""
    if state is not None and state not in STATES:
        raise DataError(f"state {state!r} is not one of {', '.join(STATES)}")
    with store.transaction(OUTBOX) as db:
        rows = db.values("messages")
    if archived:
        hot = {m["id"] for m in rows}
        rows += [m for m in Archive(store, OUTBOX).values("messages") if m["id"] not in hot]
    rows.sort(key=lambda m: int(m["id"]))
    return [m for m in rows if state is None or m["state"] == state]


# Retention (`arkops.core.messaging.service.retention`, the daily job): what is done moves to archive/outbox/.
RECENT = timedelta(days=7)  # sent and dry-run messages stay in outbox.json this long (`mail list`, `trials show`)
KEY_MEMORY = timedelta(days=90)  # an archived message's key still answers "already queued" this long
ARCHIVE_BATCH = 5000  # messages per transaction


def _settled_at(doc: OutboxMessage) -> str:
    return doc["sent_at"] or doc.get("claimed_at") or doc["created_at"]


def archive_settled(store: Store, *, now: datetime, keep_bodies: timedelta, dry_run: bool) -> dict[str, int]:
    """Move finished messages to archive/outbox/<created month>.json; forget old archived keys.

    Sent and dry-run messages go after `RECENT`; failed, dead and unknown
    ones (which `mail retry` may still want) after `keep_bodies`. Pending and
    sending ones never move. The message's key stays in outbox.json, marked
    archived, for `KEY_MEMORY`: the same key queued again is still a no-op.
    """
    archive = Archive(store, OUTBOX)
    moved = forgotten = 0
    while True:
        with store.transaction(OUTBOX) as db:
            due = [
                doc
                for doc in MESSAGES.values(db)
                if (doc["state"] in ("sent", "dry-run", "suppressed") and now - parse_iso(_settled_at(doc)) > RECENT)
                or (doc["state"] in ("failed", "dead", "unknown") and now - parse_iso(_settled_at(doc)) > keep_bodies)
            ]
            stale_keys = [
                key
                for key, entry in db.items("keys")
                if entry.get("archived") and now - parse_iso(entry["created_at"]) > KEY_MEMORY
            ]
            if dry_run:
                return {"messages archived": len(due), "archived keys forgotten": len(stale_keys)}
            batch = due[:ARCHIVE_BATCH]
            by_month: dict[str, dict[str, dict]] = {}
            for doc in batch:
                by_month.setdefault(doc["created_at"][:7], {})[doc["id"]] = cast(dict, doc)
            for month, documents in sorted(by_month.items()):
                archive.merge(month, {"messages": documents})  # first the archive, then the hot file drops them
            for doc in batch:
                MESSAGES.delete(db, doc["id"])
                if now - parse_iso(doc["created_at"]) > KEY_MEMORY:
                    db.delete("keys", doc["key"])  # past the key's memory already: nothing to remember
                    continue
                db.put(
                    "keys",
                    doc["key"],
                    {
                        "id": doc["id"],
                        "archived": doc["created_at"][:7],
                        "state": doc["state"],
                        "created_at": doc["created_at"],
                    },
                )
            for key in stale_keys:
                db.delete("keys", key)
            moved += len(batch)
            forgotten += len(stale_keys)
        if len(due) <= ARCHIVE_BATCH:
            return {"messages archived": moved, "archived keys forgotten": forgotten}


def drop_old_bodies(store: Store, *, now: datetime, keep_bodies: timedelta, dry_run: bool) -> dict[str, int]:
    """Blank the text and HTML of archived messages older than `keep_bodies`; headers and keys stay.

    `retention.bodies.done_through` in outbox.json remembers the last month
    already stripped whole, so a daily run reads at most the month or two
    still inside the window. Dry-run .eml files as old are removed.
    """
    cutoff = now - keep_bodies
    archive = Archive(store, OUTBOX)
    with store.transaction(OUTBOX) as db:
        done_through = (db.get("retention", "bodies") or {}).get("done_through", "")
    dropped = 0
    fully_done = done_through
    for month in archive.months():
        if month <= done_through or month > cutoff.strftime("%Y-%m"):
            continue
        with store.lock(OUTBOX):
            data = archive.read(month)
            messages = data.get("messages", {})
            for doc in messages.values():
                if (doc.get("text") or doc.get("html")) and parse_iso(doc["created_at"]) < cutoff:
                    doc.update({"text": "", "html": "", "body_dropped_at": iso(now)})
                    dropped += 1
            if not dry_run:
                archive.write(month, data)
        if _month_end(month) <= cutoff:
            fully_done = month
    removed = _prune_dry_run_files(store, cutoff, dry_run)
    if fully_done != done_through and not dry_run:
        with store.transaction(OUTBOX) as db:
            db.put("retention", "bodies", {"done_through": fully_done})
    return {"message bodies dropped": dropped, "dry-run files removed": removed}


def _month_end(month: str) -> datetime:
    year, number = int(month[:4]), int(month[5:])
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def _prune_dry_run_files(store: Store, cutoff: datetime, dry_run: bool) -> int:
    folder = eml_folder(store)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.name.endswith((".eml", ".chat.txt")) and path.stat().st_mtime < cutoff.timestamp():
            if not dry_run:
                remove_file(path)
            removed += 1
    return removed


def _stale(doc: OutboxMessage, now: datetime) -> bool:
    """A claim whose process is gone (same host) or whose lease ran out (any host: a recreated container)."""
    claimed_at = doc.get("claimed_at")
    expired = claimed_at is None or now - parse_iso(claimed_at) > LEASE
    return expired or not _claimer_alive(doc.get("claimed_by") or "")


def _next(
    store: Store,
    now: datetime,
    only: set[str] | None,
    channels: set[str],
    report: FlushReport,
    done: tuple[OutboxMessage, Outcome] | None,
) -> OutboxMessage | None:
    """One transaction: record the outcome of the message just sent (`done`), then claim the next due one.

    One message at a time is `sending`: a flush killed at any point (SIGKILL, a power cut) leaves at most
    that one to become `unknown`; every message it had not reached is still `pending`. Stale claims (a
    stopped process, an expired lease) turn `unknown` on the way. No message is claimed once `channels`
    is empty (every server unreachable, or the flush's time is up).
    """
    with store.transaction(OUTBOX) as db:
        if done is not None:
            _settle(db, *done, now, report)
        if not channels:
            return None
        for message_id, doc in MESSAGES.items(db):
            if doc["state"] == "sending" and _stale(doc, now):
                doc.update(
                    {
                        "state": "unknown",
                        "claimed_by": None,
                        "last_error": "the sending process stopped mid-send; outcome unknown (arkops mail retry ID resends)",
                    }
                )
                MESSAGES.put(db, message_id, doc)
                report.recovered += 1
        for message_id, doc in sorted(MESSAGES.items(db), key=lambda pair: int(pair[0])):
            if doc["state"] != "pending" or doc["channel"] not in channels:
                continue
            if (only is not None and message_id not in only) or parse_iso(doc["next_attempt_at"]) > now:
                continue
            doc.update({"state": "sending", "claimed_by": _claimer(), "claimed_at": cast(str, iso(now))})
            MESSAGES.put(db, message_id, doc)
            return doc
    return None


def _record(current: OutboxMessage, outcome: Outcome, now: datetime, report: FlushReport) -> None:
    current["claimed_by"] = None
    current["last_error"] = None if outcome.kind == SENT else one_line(outcome.detail)
    current["attempts"] = current.get("attempts", 0) + 1  # every attempt counts; before a retry all of them failed
    if outcome.kind == SENT:
        current.update({"state": "sent", "sent_at": iso(now)})
        report.sent += 1
    elif outcome.kind == RETRY:
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
    elif outcome.kind == NOT_TRIED:
        current["state"] = "pending"  # never reached a server: back in line as it was
    elif outcome.kind == SUPPRESSED:
        current.update({"state": "suppressed", "last_error": one_line(outcome.detail)})
        report.suppressed += 1
    else:
        current["state"] = "unknown"
        report.unknown += 1
    if outcome.kind not in (SENT, NOT_TRIED, SUPPRESSED):
        where = current["to"] if current["channel"] == EMAIL else "chat"
        report.errors.append(
            one_line(f"message {current['id']} ({current['template']} to {where}): {outcome.kind}: {outcome.detail}")
        )


def _settle(db: Db, doc: OutboxMessage, outcome: Outcome, now: datetime, report: FlushReport) -> None:
    """Record one message's outcome, if it is still `sending` under this process's claim: a record is never
    moved backwards (nothing sent ever returns to `pending`)."""
    current = MESSAGES.get(db, doc["id"])
    if current is not None and current["state"] == "sending" and current.get("claimed_by") == _claimer():
        _record(current, outcome, now, report)
        MESSAGES.put(db, doc["id"], current)


def _attempt(doc: OutboxMessage, send: Callable[[Any], Outcome]) -> Outcome:
    """One message: its own faults (a header that cannot be written, ...) fail it alone."""
    try:
        return send(doc)
    except ArkopsError:
        raise  # configuration: no message can go; the flush stops and says why
    except Exception as exc:  # this message cannot be built or sent: it must not block the others
        return Outcome(FAILED, f"cannot be sent: {type(exc).__name__}: {exc}")


def flush(
    store: Store,
    *,
    now: datetime,
    send_email: Callable[[Any], Outcome],
    send_chat: Callable[[Any], Outcome],
    only: set[str] | None = None,
    deadline: float | None = None,
    channels: tuple[str, ...] = (EMAIL, CHAT),
) -> FlushReport:
    """Send what is due, one message at a time: claim it, send it outside the lock, record it with the claim
    of the next (`_next`). Safe to run concurrently, and to stop at any point.

    When a server cannot be reached, no further message of that channel is tried in this flush, and the
    report says so (`unreachable`, exit 4) whatever the other messages did. `deadline` (seconds) stops
    claiming new messages; `channels` limits the flush to messages of these channels.
    """
    report = FlushReport()
    started = time.monotonic()
    open_channels = set(channels)
    senders = {EMAIL: send_email, CHAT: send_chat}
    done: tuple[OutboxMessage, Outcome] | None = None
    while True:
        if deadline is not None and time.monotonic() - started >= deadline:
            open_channels.clear()
        with finishing():  # a stop between two messages lands after the record, never inside it
            doc = _next(store, now, only, open_channels, report, done)
            if doc is not None and stop_requested():
                _put_back(store, doc, Outcome(NOT_TRIED, "not tried"), now, report)
        if doc is None:
            return report
        recorded = False
        try:
            # A stop signal waits for the message in flight (its timeouts bound the wait) and its record;
            # a second signal stops at once, and the message is recorded `unknown`.
            with finishing():
                outcome = _attempt(doc, senders[doc["channel"]])
                if stop_requested():
                    _put_back(store, doc, outcome, now, report)
                    recorded = True
        except ArkopsError:  # nothing went out: the message goes back in line, the flush stops and says why
            _put_back(store, doc, Outcome(NOT_TRIED, "not tried"), now, report)
            raise
        except BaseException:  # stopped mid-send: the message may have gone out, so it is never resent blindly
            if not recorded:
                _put_back(store, doc, Outcome(UNKNOWN, "interrupted while sending"), now, report)
            raise
        done = (doc, outcome)
        if not outcome.reached:
            report.unreachable = True
            open_channels.discard(doc["channel"])  # unreachable: the others wait for the next flush


def _put_back(store: Store, doc: OutboxMessage, outcome: Outcome, now: datetime, report: FlushReport) -> None:
    with store.transaction(OUTBOX) as db:
        _settle(db, doc, outcome, now, report)


def make_pending(store: Store, message_id: str, *, now: datetime) -> OutboxMessage:
    """`mail retry ID`: put a failed, dead, unknown or waiting message back in line, due now."""
    with store.transaction(OUTBOX) as db:
        doc = MESSAGES.get(db, message_id)
        if doc is None:
            if any(m["id"] == message_id for m in Archive(store, OUTBOX).values("messages")):
                raise DataError(f"message {message_id} is archived (finished over a week ago); it cannot be retried")
            raise DataError(f"no message with id {message_id!r} in the outbox")
        if doc["state"] in ("sent", "sending", "dry-run"):
            raise DataError(
                f"message {message_id} is {doc['state']}; only pending, failed, dead or unknown messages can be retried"
            )
        doc.update({"state": "pending", "next_attempt_at": cast(str, iso(now)), "claimed_by": None})
        MESSAGES.put(db, message_id, doc)
    return doc
