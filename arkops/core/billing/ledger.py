"""The ledger and its single entry point, `apply(event)`.

Every source (Events API sync, webhooks, `--full` rebuild, the legacy
payments.json import) turns its input into Stripe-shaped events and calls
`apply_events`, which applies each event id once. Each object keeps the
event time of its current state; an older event never overwrites a newer
state, but is still recorded in the object's history, from which the state
at any past instant is rebuilt (`report.mrr_series` walks it for month-end MRR).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arkops.clock import from_unix, iso
from arkops.core.billing import SubscriptionStatus
from arkops.core.billing import fields as F
from arkops.core.billing.records import (
    CUSTOMERS,
    INVOICES,
    REFUNDS,
    SUBSCRIPTIONS_HISTORY,
    Customer,
    Discount,
    Invoice,
    Refund,
    Subscription,
    SubscriptionItem,
)
from arkops.store import Db
from arkops.text import counted

DB = "ledger"

HANDLED = {
    "checkout.session.completed",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_succeeded",  # older name of the same moment; localstripe sends it
    "invoice.payment_failed",
    "charge.refunded",
}
INTERVALS = ("day", "week", "month", "year")
SUBSCRIPTION_STATUSES = tuple(SubscriptionStatus)
PAID_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
Money = Callable[[int, str], str]  # minor units and currency, as the operator reads them


@dataclass
class Alert:
    template: str
    variables: dict[str, Any]
    key: str
    to: str | None = None  # None: the operator
    locale: str | None = None
    at: int = 0  # when the event happened (unix seconds): older ones than the alert window are not sent


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0  # unknown event types, recorded as seen
    alerts: list[Alert] = field(default_factory=list)
    undeliverable: list[str] = field(default_factory=list)  # customer emails not queued (bad address in Stripe)
    quiet: int = 0  # alerts about events older than the alert window (history): recorded, not sent

    def counts(self) -> dict[str, int]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "alerts": len(self.alerts) - self.quiet,
            "not_alerted": self.quiet,
        }

    def summary(self) -> str:
        older = f" ({self.quiet} about older events not sent)" if self.quiet else ""
        return (
            f"{self.applied} applied, {self.duplicates} already seen, {self.ignored} ignored, "
            f"{counted(len(self.alerts) - self.quiet, 'alert')}{older}"
        )


def _newer(db: Db, table: str, key: str, at: int) -> bool:
    """True when the event at `at` is at least as new as the stored state (ties: later delivery wins)."""
    current = db.get(table, key)
    return current is None or at >= current.get("_at", 0)


def _remember(db: Db, table: str, key: str, at: int, state: Mapping[str, Any]) -> None:
    """Keep every version by event time, so the state at any instant can be rebuilt."""
    history = db.get(f"{table}_history", key) or {"versions": []}
    versions = history["versions"]
    times = [v["_at"] for v in versions]
    versions.insert(bisect.bisect_right(times, at), {**state, "_at": at})
    db.put(f"{table}_history", key, history)


def _store_versioned(db: Db, table: str, key: str, at: int, state: Mapping[str, Any]) -> bool:
    _remember(db, table, key, at, state)
    if _newer(db, table, key, at):
        db.put(table, key, {**state, "_at": at})
        return True
    return False


def normalize_discount(discount: dict) -> Discount | None:
    # Expanded discount objects carry the coupon under `coupon` in older API
    # versions and under `source.coupon` in newer ones.
    coupon = discount.get("coupon") or F.table(discount, "source").get("coupon")
    if not isinstance(coupon, dict):
        return None
    return {
        "coupon": F.text(coupon, "id"),
        "percent_off": F.percent(coupon, "percent_off"),
        "amount_off": F.amount(coupon, "amount_off") or None,
        "currency": F.currency(coupon, "currency") or None,
        "duration": F.text(coupon, "duration"),
        "start": F.moment(discount, "start"),
        "end": F.moment(discount, "end"),
    }


def normalize_subscription(sub: dict) -> Subscription:
    items: list[SubscriptionItem] = []
    fallback = F.currency(sub, "currency")
    for item in F.listing(sub, "items"):
        price = F.table(item, "price") or F.table(item, "plan")
        recurring = F.table(price, "recurring")
        items.append(
            {
                "price": F.text(price, "id"),
                "product": F.ident(price, "product"),
                "unit_amount": F.amount(price, "unit_amount") if "unit_amount" in price else F.amount(price, "amount"),
                "currency": F.currency(price, "currency", fallback),
                "interval": F.choice(recurring, "interval", INTERVALS, "")
                if recurring.get("interval")
                else F.choice(price, "interval", INTERVALS, "month"),
                "interval_count": F.count(recurring, "interval_count", 0) or F.count(price, "interval_count", 1) or 1,
                "quantity": F.count(item, "quantity", 1) or 1,
            }
        )
    raw_discounts = (
        [d for d in (sub.get("discounts") or []) if isinstance(d, dict)]
        if isinstance(sub.get("discounts"), list)
        else []
    )
    if not raw_discounts and isinstance(sub.get("discount"), dict):
        raw_discounts = [sub["discount"]]
    discounts = [d for d in (normalize_discount(x) for x in raw_discounts) if d]
    return {
        "id": F.require_id(sub, "subscription"),
        "customer": F.ident(sub, "customer"),
        "status": F.choice(sub, "status", SUBSCRIPTION_STATUSES, "incomplete"),
        "items": items,
        "discounts": discounts,
        "trial_start": F.moment(sub, "trial_start"),
        "trial_end": F.moment(sub, "trial_end"),
        "cancel_at_period_end": F.flag(sub, "cancel_at_period_end"),
        "canceled_at": F.moment(sub, "canceled_at"),
        "ended_at": F.moment(sub, "ended_at"),
        "start_date": F.moment(sub, "start_date") or F.moment(sub, "created"),
    }


def _customer_email(db: Db, customer_id: str | None) -> str | None:
    customer = CUSTOMERS.get(db, customer_id) if customer_id else None
    return customer.get("email") if customer else None


def _apply_customer(db: Db, obj: dict, at: int, deleted: bool) -> None:
    customer_id = F.require_id(obj, "customer")
    previous: Customer | dict[str, Any] = CUSTOMERS.get(db, customer_id) or {}
    state: Customer = {
        "id": customer_id,
        "email": F.text(obj, "email") or previous.get("email"),
        "name": F.text(obj, "name") or previous.get("name"),
        "created": F.moment(obj, "created") or previous.get("created"),
        "deleted": deleted,
    }
    _store_versioned(db, "customers", customer_id, at, state)


def _apply_subscription(db: Db, obj: dict, at: int, result: ApplyResult, settings: Mapping[str, Any]) -> None:
    state = normalize_subscription(obj)
    was_active = (db.get("flags", f"active:{state['id']}") or {}).get("value")
    _store_versioned(db, "subscriptions", state["id"], at, state)
    if state["status"] == "active" and not was_active:
        db.put("flags", f"active:{state['id']}", {"value": True})
        email = _customer_email(db, state["customer"])
        if settings.get("notify_subscription_welcome") and email:
            item = state["items"][0] if state["items"] else None
            # the Stripe price id; `apply_events` names it as arkops.toml does (plan_names)
            plan = (item["price"] or item["product"] or "") if item else ""
            result.alerts.append(
                Alert(
                    "subscription_welcome",
                    {"plan": plan or "your plan"},
                    f"subscription:{state['id']}:welcome",
                    to=email,
                )
            )


def _apply_invoice(
    db: Db, obj: dict, at: int, event_type: str, result: ApplyResult, settings: Mapping[str, Any], money: Money
) -> None:
    paid = event_type in PAID_EVENTS
    previous = INVOICES.get(db, F.require_id(obj, "invoice"))
    state = _invoice_state(db, obj, at, paid, previous)
    if previous and previous.get("status") == "paid" and not paid:
        _keep_paid(state, previous)
    _store_versioned(db, "invoices", state["id"], at, state)
    amount = money(state["amount_paid"] if paid else state["amount_due"], state["currency"])
    if paid:
        result.alerts += _paid_alerts(db, state, amount, settings)
    else:
        result.alerts += _failed_alerts(state, amount, settings)


def _invoice_state(db: Db, obj: dict, at: int, paid: bool, previous: Invoice | None) -> Invoice:
    """The invoice as this event shows it, keeping what only earlier events told (email, paid time, attempts, refunds)."""
    known: Invoice | dict[str, Any] = previous or {}
    transitions = F.table(obj, "status_transitions")
    customer = F.ident(obj, "customer")
    return {
        "id": F.require_id(obj, "invoice"),
        "customer": customer,
        "customer_email": F.text(obj, "customer_email") or _customer_email(db, customer) or known.get("customer_email"),
        "subscription": F.ident(obj, "subscription")
        or F.ident(F.table(F.table(obj, "parent"), "subscription_details"), "subscription"),
        "status": "paid" if paid else (F.text(obj, "status") or "open"),
        "currency": F.currency(obj, "currency"),
        "amount_paid": F.amount(obj, "amount_paid"),
        "amount_due": F.amount(obj, "amount_due"),
        "billing_reason": F.text(obj, "billing_reason"),
        "paid_at": (F.moment(transitions, "paid_at") or at) if paid else known.get("paid_at"),
        "attempt_count": F.count(obj, "attempt_count", 0) or known.get("attempt_count") or 0,
        "next_payment_attempt": None if paid else F.moment(obj, "next_payment_attempt"),
        "payment_failed": (not paid) or known.get("payment_failed", False),
        "refunded": known.get("refunded", 0),
    }


def _keep_paid(state: Invoice, previous: Invoice) -> None:
    """Paid is final: a later failure or update of a paid invoice leaves it paid, when and for what it was."""
    state.update({"status": "paid", "paid_at": previous["paid_at"], "amount_paid": previous["amount_paid"]})


def _paid_alerts(db: Db, invoice: Invoice, amount: str, settings: Mapping[str, Any]) -> list[Alert]:
    """The operator's first-revenue alert (once per ledger), and the customer's receipt when enabled."""
    invoice_id, email = invoice["id"], invoice["customer_email"]
    alerts = []
    if db.insert_new("flags", "first_revenue", {"invoice": invoice_id}):
        alerts.append(
            Alert(
                "first_revenue",
                {"email": email or invoice["customer"] or "unknown", "amount": amount, "invoice_id": invoice_id},
                "alert:first_revenue",
            )
        )
    if settings.get("notify_payment_received") and email:
        alerts.append(
            Alert(
                "payment_received",
                {"amount": amount, "invoice_id": invoice_id},
                f"invoice:{invoice_id}:received",
                to=email,
            )
        )
    return alerts


def _failed_alerts(invoice: Invoice, amount: str, settings: Mapping[str, Any]) -> list[Alert]:
    """The operator's alert for this attempt, and the customer's notice when enabled; keyed by attempt."""
    invoice_id, email = invoice["id"], invoice["customer_email"]
    attempt = invoice["attempt_count"] or 1
    variables = {
        "email": email or invoice["customer"] or "unknown",
        "amount": amount,
        "invoice_id": invoice_id,
        "attempt_count": attempt,
        "next_attempt": iso_day(invoice["next_payment_attempt"]),
    }
    alerts = [Alert("payment_failed", variables, f"invoice:{invoice_id}:failed:{attempt}")]
    if settings.get("notify_payment_failed_customer") and email:
        customer_vars = {k: variables[k] for k in ("amount", "invoice_id", "next_attempt")}
        alerts.append(
            Alert(
                "payment_failed_customer",
                customer_vars,
                f"invoice:{invoice_id}:failed-customer:{attempt}",
                to=email,
            )
        )
    return alerts


def iso_day(seconds: int | None) -> str:
    if not seconds:
        return "none scheduled"
    return from_unix(seconds).strftime("%Y-%m-%d")  # type: ignore[union-attr]


def _apply_refund(db: Db, charge: dict, at: int) -> None:
    charge_id = F.require_id(charge, "charge")
    invoice_id = F.ident(charge, "invoice")
    charge_currency = F.currency(charge, "currency")
    refunds = F.listing(charge, "refunds")
    refunded = F.amount(charge, "amount_refunded")
    known = sum(r["amount"] for r in REFUNDS.values(db) if r["charge"] == charge_id) if not refunds else 0
    if not refunds and refunded > known:
        refunds = [{"id": f"{charge_id}:{refunded}", "amount": refunded - known, "created": at}]
    for refund in refunds:
        refund_id = F.require_id(refund, "refund")
        record: Refund = {
            "id": refund_id,
            "charge": charge_id,
            "invoice": invoice_id,
            "customer": F.ident(charge, "customer"),
            "amount": F.amount(refund, "amount"),
            "currency": F.currency(refund, "currency", charge_currency),
            "created": F.moment(refund, "created") or at,
        }
        REFUNDS.insert_new(db, refund_id, record)
    if invoice_id and (invoice := INVOICES.get(db, invoice_id)):
        invoice["refunded"] = sum(r["amount"] for r in REFUNDS.values(db) if r["invoice"] == invoice_id)
        INVOICES.put(db, invoice_id, invoice)


def _apply_checkout(db: Db, session: dict, at: int) -> None:
    customer_id = F.ident(session, "customer")
    details = F.table(session, "customer_details")
    email = F.text(details, "email") or F.text(session, "customer_email")
    if customer_id and email and not _customer_email(db, customer_id):
        _store_versioned(
            db,
            "customers",
            customer_id,
            at,
            {
                "id": customer_id,
                "email": email,
                "name": F.text(details, "name"),
                "created": at,
                "deleted": False,
            },
        )


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
    first_alert = len(result.alerts)
    if event_type.startswith("customer.subscription."):
        _apply_subscription(db, obj, at, result, settings)
    elif event_type.startswith("customer."):
        _apply_customer(db, obj, at, deleted=event_type == "customer.deleted")
    elif event_type.startswith("invoice."):
        _apply_invoice(db, obj, at, event_type, result, settings, money)
    elif event_type == "charge.refunded":
        _apply_refund(db, obj, at)
    elif event_type == "checkout.session.completed":
        _apply_checkout(db, obj, at)
    for alert in result.alerts[first_alert:]:
        alert.at = at
    result.applied += 1


def first_payment_by_email(db: Db) -> dict[str, int]:
    """When each customer email first paid: a paid invoice, or a subscription active (not trialing)."""
    emails = {cid: (c.get("email") or "").strip().lower() for cid, c in CUSTOMERS.items(db)}
    first: dict[str, int] = {}

    def email_of(customer: str | None) -> str | None:
        return emails.get(customer) if customer else None

    def seen(email: str | None, at: int | None) -> None:
        if email and at and (email not in first or at < first[email]):
            first[email] = at

    for invoice in INVOICES.values(db):
        if invoice.get("status") == "paid":
            seen(
                (invoice.get("customer_email") or email_of(invoice.get("customer")) or "").strip().lower(),
                invoice.get("paid_at"),
            )
    for history in SUBSCRIPTIONS_HISTORY.values(db):
        for version in history["versions"]:
            if version.get("status") in ("active", "past_due"):
                seen(email_of(version.get("customer")), version["_at"])
                break
    return first
