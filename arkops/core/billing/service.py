"""Filling the ledger: Events API sync, full rebuild, webhooks, the legacy payments.json import."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from arkops.clock import from_seconds, iso, parse_iso
from arkops.core.billing import LEDGER_DB
from arkops.core.billing.fields import MAX_TEXT
from arkops.core.billing.ledger import ApplyResult, ArchiveReach, apply_event
from arkops.core.billing.privacy import scrub_events
from arkops.core.links import portal_link
from arkops.core.notify import batched, notify
from arkops.core.privacy.person import PSEUDONYM_DOMAIN
from arkops.core.progress import Progress, silent
from arkops.errors import CheckFailed, ConfigError, DataError
from arkops.mail.address import normalize_customer_address
from arkops.money import MAX_AMOUNT, currency_code, format_money, to_minor
from arkops.runtime import Runtime
from arkops.store import Db
from arkops.text import counted

BATCH = 2000  # events per transaction: one atomic file write each; a crash loses at most one batch, re-applied next run
EVENT_RETENTION = timedelta(days=30)  # Stripe keeps events for 30 days


class SyncGapError(CheckFailed):
    """The cursor is older than Stripe's event retention: events were lost."""


def _money(rt: Runtime) -> Callable[[int, str], str]:
    locale = rt.config.operator_locale
    return lambda minor, currency: format_money(minor, currency or rt.config.currency, locale)


def apply_events(
    rt: Runtime,
    events: Iterable[dict],
    *,
    now: datetime,
    cursor: bool = False,
    batch_size: int | None = BATCH,
    progress: Progress = silent,
) -> ApplyResult:
    """Apply events in batches, one transaction each (`batch_size=None`: all in one); alerts are queued
    inside the transaction (idempotent keys). `progress` hears each batch ("applying events", done, total)."""
    result = ApplyResult()
    settings = rt.config["billing"]
    money = _money(rt)
    batch: list[dict] = []

    window = rt.config["billing"]["alert_window_hours"] * 3600
    local = rt.config["mail"]["allow_local_domains"]
    plan_names = {plan["stripe_price"]: plan["name"] for plan in rt.config["plans"].values() if plan["stripe_price"]}

    def commit(chunk: list[dict]) -> None:
        scrub_events(rt, chunk)  # a person erased by `privacy forget` comes back only as their pseudonym
        with rt.store.transaction(LEDGER_DB) as db, batched(rt):
            archived = ArchiveReach(db)
            before = len(result.alerts)
            horizon = (db.get("sync", "folded") or {}).get("before", 0)
            for event in chunk:
                if folded_away(db, event, horizon):
                    result.duplicates += 1
                    continue
                archived.reach(db, event)
                apply_event(db, event, now=now, settings=settings, money=money, result=result)
            for alert in result.alerts[before:]:
                if now.timestamp() - alert.at > window:
                    result.quiet += 1  # history (a first sync or import): the ledger has it, nobody is told
                    continue
                if alert.to and alert.to.endswith("@" + PSEUDONYM_DOMAIN):
                    continue  # an erased customer is not written to
                variables = alert.variables
                if "plan" in variables:  # a Stripe price id: the customer knows the plan by its name
                    variables = {**variables, "plan": plan_names.get(variables["plan"], variables["plan"])}
                if alert.template in ("payment_failed_customer", "trial_payment_method") and alert.to:
                    variables = {**variables, "portal_url": portal_link(rt, alert.to, now=now) or ""}
                try:
                    to = alert.to and normalize_customer_address(
                        alert.to, field="customer email", allow_local_domains=local
                    )
                    notify(rt, alert.template, variables, key=alert.key, now=now, to=to, locale=alert.locale)
                except DataError as exc:
                    if alert.to is None or isinstance(exc, ConfigError):
                        raise  # operator alerts and configuration problems must stop the run
                    # A customer address Stripe accepted but we cannot send to must not block the ledger.
                    result.undeliverable.append(f"{alert.template} to {alert.to!r}: {exc}")
            if cursor and chunk:
                newest = max(chunk, key=lambda e: e.get("created") or 0)
                current = db.get("sync", "cursor") or {}
                if (newest.get("created") or 0) >= current.get("created", 0) and newest["id"] != current.get("event"):
                    db.put(
                        "sync", "cursor", {"created": newest["created"], "event": newest["id"], "synced_at": iso(now)}
                    )

    total = len(events) if isinstance(events, list) else None
    done = 0
    for event in events:
        result.fetched += 1
        batch.append(check_event(event))
        if batch_size is not None and len(batch) >= batch_size:
            commit(batch)
            done += len(batch)
            progress("applying events", done, total)
            batch = []
    if batch:
        commit(batch)
        progress("applying events", done + len(batch), total)
    return result


def folded_away(db: Db, event: dict, horizon: int) -> bool:
    """A Stripe event older than the ids the ledger still keeps (`billing.retention`) was applied long ago.

    Stripe redelivers and lists events for 30 days; ids are kept 45. Only
    Stripe's own ids (evt_...) are folded: the synthetic ones of `--full`
    and `payments import` stay, so re-running those is still a no-op.
    """
    return (
        event["id"].startswith("evt_")
        and (event.get("created") or 0) < horizon
        and db.get("events", event["id"]) is None
    )


def check_event(event: object) -> dict:
    """A Stripe event as the ledger needs it, checked once at the edge; DataError names what is wrong."""
    if not isinstance(event, dict):
        raise DataError("an event must be a JSON object")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_TEXT or not event_id.isprintable():
        raise DataError(f"event id {event_id!r} is not an id")
    if not isinstance(event.get("type"), str):
        raise DataError(f"event {event_id}: type {event.get('type')!r} is not text")
    from_seconds(event.get("created"), what=f"event {event_id}: created")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise DataError(f"event {event_id}: data.object is not an object")
    obj_id = data["object"].get("id")
    if obj_id is not None and (not isinstance(obj_id, str) or not obj_id.isprintable() or len(obj_id) > MAX_TEXT):
        raise DataError(f"event {event_id}: object id {obj_id!r} is not an id")
    return event


def read_cursor(rt: Runtime) -> dict | None:
    with rt.store.transaction(LEDGER_DB) as db:
        return db.get("sync", "cursor")


def sync(rt: Runtime, *, now: datetime, full: bool = False, progress: Progress = silent) -> ApplyResult:
    """`stripe sync`: pull /v1/events since the cursor, oldest first, under the job lock."""
    with rt.store.job_lock("stripe-sync"):
        result = _sync(rt, now=now, full=full, progress=progress)
        resolve_unresolved(rt, result)
        return result


def resolve_unresolved(rt: Runtime, result: ApplyResult) -> None:
    """After a sync: ask Stripe for the discounts, coupons and tiers that events named by id only, and for the
    invoices of refunds whose charge does not name one."""
    from arkops.core.billing.resolve import find_refund_invoices, resolve_pending

    resolution = resolve_pending(rt)
    if resolution.resolved or resolution.remaining:
        result.notes.append(f"discounts and price tiers sent by id: {resolution.summary()}")
    links = find_refund_invoices(rt)
    if links.linked or links.not_invoiced:
        result.notes.append(f"refunds whose charge names no invoice: {links.summary()}")


def _sync(rt: Runtime, *, now: datetime, full: bool, progress: Progress) -> ApplyResult:
    """The sync itself; the caller holds the `stripe-sync` job lock."""
    from arkops.sources import stripe_api

    if full:
        return _full_rebuild(rt, now=now, progress=progress)
    cursor = read_cursor(rt)
    if cursor and now - parse_iso(iso_from(cursor["created"])) > EVENT_RETENTION:
        notify(
            rt,
            "job_failed",
            {
                "job": "stripe-sync",
                "failures": 1,
                "recovered": False,
                "error": f"the sync cursor ({iso_from(cursor['created'])}) is older than Stripe's 30-day event retention; run `arkops stripe sync --full`",
            },
            key=f"alert:stripe-sync:gap:{cursor['event']}",
            now=now,
        )
        raise SyncGapError(
            f"the last synced event ({iso_from(cursor['created'])}) is older than Stripe's 30-day event retention: "
            "events in between are gone; run `arkops stripe sync --full` to rebuild the ledger from Stripe's objects"
        )
    client = stripe_api.client(timeout=rt.config["billing"]["stripe_timeout_seconds"])
    params: dict = {"created": {"gte": cursor["created"]}} if cursor else {}
    events: list[dict] = []
    delays = rt.config["billing"]["stripe_retry_seconds"]
    listing = stripe_api.iter_list(client, "/v1/events", params, what="listing events", delays=delays)
    for count, event in enumerate(listing, start=1):
        events.append(event)
        if count % 100 == 0:  # one page
            progress("fetching events", count)
        if count % 1000 == 0:
            progress(f"fetched {count} events")
    # The Events API lists newest first; apply oldest first (stable for events of the same second).
    events.reverse()
    events.sort(key=lambda e: e.get("created") or 0)
    # `created >= cursor` lists the cursor's own event again: it is known, and alone it is no reason to open the ledger.
    fresh = [e for e in events if not cursor or e.get("id") != cursor["event"]]
    progress(f"fetched {len(events)} events; applying")
    if not fresh:
        return ApplyResult(fetched=len(events), duplicates=len(events))
    result = apply_events(rt, fresh, now=now, cursor=True, progress=progress)
    result.fetched, result.duplicates = len(events), result.duplicates + len(events) - len(fresh)  # the cursor's own
    return result


def iso_from(seconds: int) -> str:
    from arkops.clock import from_unix

    return iso(from_unix(seconds)) or ""


def _full_rebuild(rt: Runtime, *, now: datetime, progress: Progress) -> ApplyResult:
    """Rebuild from the list endpoints when events are gone (`rebuild`); history before today is approximate."""
    from arkops.core.billing.rebuild import rebuild_events
    from arkops.sources import stripe_api

    client = stripe_api.client(timeout=rt.config["billing"]["stripe_timeout_seconds"])
    delays = rt.config["billing"]["stripe_retry_seconds"]
    stamp = int(now.timestamp())

    def fetch(path: str, params: dict, what: str) -> Iterable[dict]:
        return stripe_api.iter_list(client, path, params, what=f"listing {what}", delays=delays)

    events = rebuild_events(fetch, stamp=stamp, progress=progress)
    progress(f"rebuilding from {counted(len(events), 'event')}")
    result = apply_events(rt, events, now=now, progress=progress)
    with rt.store.transaction(LEDGER_DB) as db:
        db.put("sync", "cursor", {"created": stamp, "event": f"full:{stamp}", "synced_at": iso(now)})
    return result


def verify_webhook(payload: bytes, signature: str | None) -> dict:
    """Check the Stripe-Signature header (300 s tolerance) and parse the event; DataError otherwise."""
    from arkops.config import env
    from arkops.sources.stripe_webhook import MAX_PAYLOAD, SignatureError, verify_signature

    secret = env("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise ConfigError("environment", "STRIPE_WEBHOOK_SECRET", "not set; cannot verify webhooks")
    if not signature:
        raise DataError("webhook refused: no Stripe-Signature header")
    if len(payload) > MAX_PAYLOAD:
        raise DataError(f"webhook refused: payload larger than {MAX_PAYLOAD >> 20} MiB")
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError("webhook refused: payload is not UTF-8") from None
    try:
        verify_signature(payload, signature, secret)
    except SignatureError as exc:
        raise DataError(f"webhook refused: {exc}") from None
    from arkops.sources.json_files import parse_json

    event = parse_json(payload, what="webhook refused: payload")
    try:
        return check_event(event)
    except DataError as exc:
        raise DataError(f"webhook refused: {exc}") from None


def read_payload(stream: BinaryIO) -> bytes:
    """A webhook's raw payload from a file or stdin, never more than one byte past what `verify_webhook` takes:
    a larger one is refused without being read."""
    from arkops.sources.stripe_webhook import MAX_PAYLOAD

    return stream.read(MAX_PAYLOAD + 1)


def ingest_webhook(rt: Runtime, payload: bytes, signature: str | None, *, now: datetime) -> ApplyResult:
    """Verify and apply one webhook; with a key, read what it named by id only (discounts, tiers) at once,
    and the subscription itself when its state after this event's second is ambiguous. Stripe unreachable
    then only leaves it so until the next `stripe sync`."""
    from arkops.config import env
    from arkops.core.billing.resolve import key_of, reread_if_ambiguous, resolve_pending
    from arkops.errors import ServiceError

    event = verify_webhook(payload, signature)
    result = apply_events(rt, [event], now=now)
    if result.applied and (charge := refunded_charge(event)):
        link_refund(rt, charge, result)
    key = key_of(event)
    if result.applied and key and env("STRIPE_SECRET_KEY"):
        try:
            if reread_if_ambiguous(rt, event, now=now):
                result.notes.append(f"several states in one second: read {key} from Stripe")
            resolution = resolve_pending(rt, delays=(), only={key})
        except (ServiceError, DataError) as exc:
            result.notes.append(f"left unresolved until the next stripe sync: {exc}")
        else:
            if resolution.resolved:
                result.notes.append(f"resolved from Stripe: {resolution.summary()}")
    return result


def refunded_charge(event: dict) -> str | None:
    """The charge a refund event is about (`charge.refunded`, `refund.*`), whose invoice may need looking up."""
    from arkops.core.billing import fields as F
    from arkops.core.billing.ledger import REFUND_EVENTS

    obj = event["data"]["object"]
    if event["type"] == "charge.refunded":
        return F.optional(F.text, obj, "id")
    return F.optional(F.ident, obj, "charge") if event["type"] in REFUND_EVENTS else None


def link_refund(rt: Runtime, charge: str, result: ApplyResult) -> None:
    """A refund the ledger cannot link to its invoice (API 2025-03-31+: the charge does not name it, and no
    `invoice_payment.paid` came first): with a key, Stripe is asked at once; without one, or when Stripe does
    not answer, it stays unlinked (doctor lists it) until an `invoice_payment.paid` or a `stripe sync` links it."""
    from arkops.config import env
    from arkops.core.billing.refunds import unlinked_refunds
    from arkops.core.billing.resolve import find_refund_invoices
    from arkops.errors import ServiceError

    with rt.store.transaction(LEDGER_DB) as db:
        waiting = [r for r in unlinked_refunds(db) if r["charge"] == charge]
    if not waiting:
        return
    # a stand-in made from the charge's amount_refunded has no id of Stripe's: it is the charge's refund
    who = ", ".join(r["id"] for r in waiting if not r.get("synthetic")) or f"of {charge}"
    if env("STRIPE_SECRET_KEY"):
        try:
            found = find_refund_invoices(rt, delays=(), charges={charge})
        except (ServiceError, DataError) as exc:
            result.notes.append(f"refund {who} not linked to its invoice until the next stripe sync: {exc}")
            return
        if found.linked or found.not_invoiced:
            result.notes.append(f"refund {who}: {found.summary()} (asked Stripe)")
            return
    result.notes.append(
        f"refund {who} not linked to an invoice: its charge names none and no invoice payment was "
        "seen for it (see `arkops doctor`)"
    )


def import_payments(rt: Runtime, path: Path, *, now: datetime) -> ApplyResult:
    """The legacy payments.json: [{invoice_id, customer_email, amount (major units), currency, status, paid_at}],
    gzipped or not, streamed: the first bad record stops the import before anything is applied."""
    from arkops.sources.json_files import records

    events = []
    for found in records(path, lines=False, items="payments"):
        where, record = f"{path}[{found.index}]", found.value
        if isinstance(record, DataError):
            raise DataError(f"{where}: {record}")
        if not isinstance(record, dict):
            raise DataError(f"{where}: not an object")
        invoice_id = _record_id(record.get("invoice_id"), f"{where}.invoice_id")
        currency = currency_code(record.get("currency") or "", what=f"{where}.currency")
        amount = to_minor(record.get("amount"), currency, what=f"{where}.amount")
        if not 0 <= amount <= MAX_AMOUNT:
            raise DataError(f"{where}.amount: {record.get('amount')!r} is not between 0 and {MAX_AMOUNT:,} minor units")
        email = record.get("customer_email")
        if email is not None and (not isinstance(email, str) or not email.isprintable()):
            raise DataError(f"{where}.customer_email: {email!r} is not an email address on one line")
        status = record.get("status")
        if status not in ("paid", "failed"):
            raise DataError(f"{where}: status {status!r} is not paid or failed")
        at = int(parse_iso(str(record.get("paid_at") or ""), what=f"{where}.paid_at").timestamp())
        invoice = {
            "id": invoice_id,
            "customer_email": record.get("customer_email"),
            "currency": currency,
            "amount_paid": amount if status == "paid" else 0,
            "amount_due": amount,
            "status": status,
            "status_transitions": {"paid_at": at if status == "paid" else None},
            "attempt_count": 1,
        }
        event_type = "invoice.paid" if status == "paid" else "invoice.payment_failed"
        events.append(
            {
                "id": f"import:{invoice_id}:{status}",
                "type": event_type,
                "created": at,
                "data": {"object": invoice},
            }
        )
    # All or nothing: every record was checked above, and they are applied in one transaction.
    return apply_events(rt, events, now=now, batch_size=None)


def _record_id(value: object, where: str) -> str:
    """An id from an outside file: text, or a whole number written as text (123 and "123" are one id)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip() and value.isprintable() and len(value) <= 255:
        return value.strip()
    raise DataError(f"{where}: {value!r} is not an id (text or a whole number, on one line)")


def sync_job(rt: Runtime, *, now: datetime) -> ApplyResult:
    """The `stripe-sync` job: `arkops run` already holds the job lock."""
    result = _sync(rt, now=now, full=False, progress=silent)
    resolve_unresolved(rt, result)
    return result
