"""The ledger and its single entry point, `apply_event`.

Every source (Events API sync, webhooks, `--full` rebuild, the legacy
payments.json import) turns its input into Stripe-shaped events and calls
`service.apply_events`, which applies each event id once through
`apply_event`. Each object keeps the event time of its current state; an
older event never overwrites a newer state. Subscriptions also keep every
version in their history, from which the state at any past instant is
rebuilt (`report.mrr_series` walks it for month-end MRR).

Here: the event types the ledger applies and which module applies each
(`customers`, `subscriptions`, `discounts`, `invoices`, `refunds`; Stripe's
shapes are read in `stripe_objects`, alerts made in `alerts`), the schema
migrations of ledger.json, how a transaction reaches archived invoices, and
what other domains read from the ledger (`first_payment_by_email`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, cast

from arkops.clock import iso
from arkops.core.billing import fields as F
from arkops.core.billing.alerts import Alert, Money
from arkops.core.billing.customers import apply_checkout, apply_customer
from arkops.core.billing.discounts import apply_discount_event
from arkops.core.billing.invoices import apply_invoice, apply_invoice_payment, link_charge
from arkops.core.billing.records import CUSTOMERS, INVOICES, SUBSCRIPTIONS_HISTORY, Invoice
from arkops.core.billing.refunds import (
    apply_credit_note,
    apply_dispute,
    apply_refund,
    apply_refund_object,
    link_refunds,
)
from arkops.core.billing.subscriptions import apply_subscription
from arkops.store import Db
from arkops.text import counted

HANDLED = {
    "checkout.session.completed",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
    "customer.discount.created",
    "customer.discount.updated",
    "customer.discount.deleted",
    "invoice.paid",
    "invoice.payment_succeeded",  # older name of the same moment; localstripe sends it
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice_payment.paid",
    "charge.succeeded",
    "charge.refunded",
    "charge.refund.updated",  # older name of refund.updated
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
    "credit_note.created",
    "credit_note.updated",
    "credit_note.voided",
}
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")


@dataclass
class ApplyResult:
    fetched: int = 0  # events read (listed by the sync, or given): each is applied, already seen or ignored
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0  # unknown event types, recorded as seen
    alerts: list[Alert] = field(default_factory=list)
    undeliverable: list[str] = field(default_factory=list)  # customer emails not queued (bad address in Stripe)
    quiet: int = 0  # alerts about events older than the alert window (history): recorded, not sent
    notes: list[str] = field(default_factory=list)  # for the operator: what was resolved or is still unresolved
    skipped_fields: int = 0  # fields no figure needs that could not be read: left out, the events applied

    def counts(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "alerts": len(self.alerts) - self.quiet,
            "not_alerted": self.quiet,
        }

    def summary(self) -> str:
        older = f" ({self.quiet} about older events not sent)" if self.quiet else ""
        skipped = f", {counted(self.skipped_fields, 'unreadable field')} left out" if self.skipped_fields else ""
        return (
            f"{self.fetched} fetched: {self.applied} applied, {self.duplicates} already seen, {self.ignored} ignored, "
            f"{counted(len(self.alerts) - self.quiet, 'alert')}{older}{skipped}"
        )


def _drop_unread_histories(db: Db) -> None:
    """Schema 2: customers and invoices no longer keep every version. Nothing read those histories (only
    subscriptions' drive month-end MRR), and they were half of a three-year ledger, parsed by every webhook."""
    for table in ("customers_history", "invoices_history"):
        db.drop_table(table)


def _invoices_archive_begin(db: Db) -> None:
    """Schema 3 changes no record: it says settled invoices may have moved to archive/ledger/
    (`billing.retention`), which an older arkops would not read (its revenue would miss them), so it
    refuses the file."""


MIGRATIONS = {1: _drop_unread_histories, 2: _invoices_archive_begin}

ARCHIVED_TABLES = ("invoices", "payment_links")  # what `billing.retention` moves, found again by key


class ArchiveReach:
    """Lets a transaction find archived invoices and payment links by key (`Db.reach_archive`): a refund,
    dispute or late event about an invoice settled long ago brings it back into the hot ledger.

    Every archived invoice was last changed before `sync.archived.before`, so an event about an invoice
    created since then cannot concern an archived one: the index is not even opened (most webhooks).
    """

    def __init__(self, db: Db) -> None:
        from arkops.store.archive import Archive, ArchiveIndex

        self.archive = Archive.of(db)
        self.index = ArchiveIndex(self.archive)
        self.before = (db.get("sync", "archived") or {}).get("before", 0)
        self.lookups = {table: partial(self.archive.find, table, index=self.index) for table in ARCHIVED_TABLES}

    def reach(self, db: Db, event: dict) -> None:
        obj = event["data"]["object"]
        created = obj.get("created")
        fresh = event["type"].startswith("invoice.") and isinstance(created, int) and created >= self.before
        for table, lookup in self.lookups.items():
            db.reach_archive(table, None if fresh else lookup)


def every_invoice(db: Db) -> list[Invoice]:
    """The hot invoices and the archived ones (the hot copy wins: a late event brought it back)."""
    from arkops.store.archive import Archive

    invoices = dict(INVOICES.items(db))
    for invoice in Archive.of(db).values("invoices"):
        invoices.setdefault(invoice["id"], cast(Invoice, invoice))
    return list(invoices.values())


def apply_event(
    db: Db, event: dict, *, now: datetime, settings: Mapping[str, Any], money: Money, result: ApplyResult
) -> None:
    """Apply one event inside a ledger transaction; an event id already seen does nothing."""
    event_id = event["id"]
    if db.get("events", event_id) is not None:
        result.duplicates += 1
        return
    event_type = event.get("type", "")
    at = int(event.get("created") or now.timestamp())
    obj = (event.get("data") or {}).get("object") or {}
    db.put("events", event_id, {"type": event_type, "created": at, "applied_at": iso(now)})
    if event_type not in HANDLED:
        result.ignored += 1
        return
    with F.skipping() as skipped:
        alerts = _apply(db, event_type, obj, event.get("data") or {}, at, settings, money)
    if skipped:
        _remember_skipped(db, event_id, event_type, at, skipped)
        result.skipped_fields += len(skipped)
        result.notes.append(
            f"event {event_id} applied without {', '.join(skipped)}: not needed for a figure (see `arkops doctor`)"
        )
    for alert in alerts:
        alert.at = at
    result.alerts += alerts
    result.applied += 1


SKIPPED_FIELDS = "skipped_fields"  # event id -> the fields its event was applied without (the newest events)
KEEP_SKIPPED = 100


def _remember_skipped(db: Db, event_id: str, event_type: str, at: int, skipped: list[str]) -> None:
    """Keep which fields an event was applied without, for `doctor`: the newest `KEEP_SKIPPED` events' only."""
    db.put(SKIPPED_FIELDS, event_id, {"type": event_type, "created": at, "fields": skipped})
    kept = db.items(SKIPPED_FIELDS)
    for key, _ in sorted(kept, key=lambda item: (item[1]["created"], item[0]))[: max(len(kept) - KEEP_SKIPPED, 0)]:
        db.delete(SKIPPED_FIELDS, key)


def skipped_fields(db: Db) -> list[tuple[str, dict]]:
    """(event id, {"type", "created", "fields"}) of the events applied without some field, newest first."""
    return sorted(db.items(SKIPPED_FIELDS), key=lambda item: (-item[1]["created"], item[0]))


def _apply(
    db: Db, event_type: str, obj: dict, data: dict, at: int, settings: Mapping[str, Any], money: Money
) -> list[Alert]:
    """The event handed to the module of its object; the alerts it raises."""
    if event_type.startswith("customer.subscription."):
        return apply_subscription(db, event_type, obj, data, at, settings)
    if event_type.startswith("customer.discount."):
        apply_discount_event(db, event_type, obj, at)
    elif event_type.startswith("customer."):
        apply_customer(db, obj, at, deleted=event_type == "customer.deleted")
    elif event_type == "invoice_payment.paid":
        link_refunds(db, apply_invoice_payment(db, obj))
    elif event_type.startswith("invoice."):
        return apply_invoice(db, obj, at, event_type, settings, money)
    elif event_type == "charge.refunded":
        apply_refund(db, obj, at)
    elif event_type == "charge.succeeded":
        link_charge(db, obj)
    elif event_type in REFUND_EVENTS:
        apply_refund_object(db, obj, at)
    elif event_type.startswith("charge.dispute."):
        apply_dispute(db, event_type, obj, at)
    elif event_type.startswith("credit_note."):
        apply_credit_note(db, event_type, obj, at)
    elif event_type == "checkout.session.completed":
        apply_checkout(db, obj, at)
    return []


def first_payment_by_email(db: Db) -> dict[str, int]:
    """When each customer email first paid: an invoice paid for more than 0, or a subscription active (not
    trialing) and worth more than 0 (a 100 % coupon is not a payment)."""
    from arkops.core.billing.amounts import subscription_mrr

    emails = {cid: (c.get("email") or "").strip().lower() for cid, c in CUSTOMERS.items(db)}
    first: dict[str, int] = {}

    def email_of(customer: str | None) -> str | None:
        return emails.get(customer) if customer else None

    def seen(email: str | None, at: int | None) -> None:
        if email and at and (email not in first or at < first[email]):
            first[email] = at

    for invoice in every_invoice(db):
        if invoice.get("status") == "paid" and invoice.get("amount_paid", 0) > 0:
            seen(
                (invoice.get("customer_email") or email_of(invoice.get("customer")) or "").strip().lower(),
                invoice.get("paid_at"),
            )
    for history in SUBSCRIPTIONS_HISTORY.values(db):
        for version in history["versions"]:
            if subscription_mrr(version, version["_at"], lambda minor, _currency: minor) > 0:
                seen(email_of(version.get("customer")), version["_at"])
                break
    return first
