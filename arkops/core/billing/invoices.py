"""Invoices in the ledger: `invoice.*` events, and which charge or payment intent paid each invoice.

An invoice keeps its newest state, except that paid is final: a later failure or update leaves it paid,
when and for what it was. A paid invoice also keeps its subscription lines (for `reconcile`) and teaches
the ledger the tax rate included in each price. Since API 2025-03-31 a charge no longer names its invoice:
the payment links kept here (`PAYMENT_LINKS`) are how refunds and disputes find theirs (`invoice_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from arkops.core.billing import fields as F
from arkops.core.billing.alerts import Alert, Money, failed_alerts, paid_alerts
from arkops.core.billing.customers import customer_email
from arkops.core.billing.records import DISCOUNTS, INVOICES, PAYMENT_LINKS, TAX_RATES, Invoice, store_newest
from arkops.core.billing.stripe_objects import subscription_lines
from arkops.store import Db

CLOSING_EVENTS = {"invoice.voided": "void", "invoice.marked_uncollectible": "uncollectible"}
PAID_EVENTS = ("invoice.paid", "invoice.payment_succeeded")


def apply_invoice(
    db: Db, obj: dict, at: int, event_type: str, settings: Mapping[str, Any], money: Money
) -> list[Alert]:
    """invoice.*: the invoice's newest state (paid is final); a payment brings the revenue alerts, a failed
    attempt the failure alerts."""
    paid = event_type in PAID_EVENTS
    previous = INVOICES.get(db, F.require_id(obj, "invoice"))
    state = _invoice_state(db, obj, at, paid, previous)
    if event_type in CLOSING_EVENTS:
        state["status"] = CLOSING_EVENTS[event_type]
        state["payment_failed"] = bool(previous and previous.get("payment_failed"))
        state["next_payment_attempt"] = None
    if previous and previous.get("status") == "paid" and not paid:
        _keep_paid(state, previous)
    if previous and previous.get("failed_at"):  # when the dunning sequence started: its first failure
        state["failed_at"] = previous["failed_at"]
    elif event_type == "invoice.payment_failed":
        state["failed_at"] = at
    store_newest(db, INVOICES, state["id"], at, state)
    _link_payments(db, obj, state)
    if paid:
        _learn_tax_rates(db, obj, at)
        if state["amount_paid"] > 0:  # a trial's 0 invoice or a 100 % coupon is not revenue
            return paid_alerts(db, state, money(state["amount_paid"], state["currency"]), settings)
    elif event_type == "invoice.payment_failed":
        return failed_alerts(state, money(state["amount_due"], state["currency"]), settings)
    return []


def _link_payments(db: Db, obj: dict, invoice: Invoice) -> None:
    """Remember which charge and payment intent paid this invoice (before 2025-03-31 the invoice names them;
    since, its `payments` do), so refunds and disputes that name only a charge find their invoice."""
    link = {"invoice": invoice["id"], "customer": invoice["customer"]}
    for key in ("charge", "payment_intent"):
        if found := F.optional(F.ident, obj, key):
            PAYMENT_LINKS.put(db, found, link)  # type: ignore[arg-type]
    for payment in F.optional(F.listing, obj, "payments"):
        details = F.optional(F.table, payment, "payment")
        for key in ("charge", "payment_intent"):
            if found := F.optional(F.ident, details, key):
                PAYMENT_LINKS.put(db, found, link)  # type: ignore[arg-type]


def apply_invoice_payment(db: Db, obj: dict) -> dict[str, str]:
    """invoice_payment.paid (since 2025-03-31): the payment intent or charge that paid an invoice. Returns
    them (id -> invoice id), for the refunds that were waiting for it (`refunds.link_refunds`)."""
    invoice_id = F.ident(obj, "invoice")
    if not invoice_id:
        return {}
    invoice = INVOICES.get(db, invoice_id)
    details = F.table(obj, "payment")
    linked = {}
    for key in ("charge", "payment_intent"):
        if found := F.ident(details, key):
            PAYMENT_LINKS.put(db, found, {"invoice": invoice_id, "customer": invoice["customer"] if invoice else None})
            linked[found] = invoice_id
    return linked


def _learn_tax_rates(db: Db, obj: dict, at: int) -> None:
    """The rate of tax included in each price, from the latest paid invoice's lines: `tax_amounts` before
    2025-03-31, `taxes` since. A line that cannot be read teaches nothing (the rate stays as an earlier
    invoice showed it): the payment itself must not be refused for it."""
    for line in F.optional(F.listing, obj, "lines"):
        if (learned := F.optional_part(partial(_tax_rate, line), None)) is not None:
            price, rate = learned
            known = TAX_RATES.get(db, price)
            if known is None or known["at"] <= at:
                TAX_RATES.put(db, price, {"rate": rate, "at": at})


def _tax_rate(line: dict) -> tuple[str, float] | None:
    """(price, rate of the tax it includes) of an invoice line, None when it includes none."""
    price = F.ident(line, "price") or F.ident(F.table(F.table(line, "pricing"), "price_details"), "price")
    inclusive = [t for t in F.listing(line, "tax_amounts") if F.flag(t, "inclusive")] + [
        t for t in F.listing(line, "taxes") if F.text(t, "tax_behavior") == "inclusive"
    ]
    taxable = max((F.amount(t, "taxable_amount") for t in inclusive), default=0)  # each rate names the same base
    if not price or not inclusive or not taxable:
        return None
    return price, sum(F.amount(t, "amount") for t in inclusive) / taxable


def _invoice_state(db: Db, obj: dict, at: int, paid: bool, previous: Invoice | None) -> Invoice:
    """The invoice as this event shows it, keeping what only earlier events told (email, paid time, attempts, refunds)."""
    known: Invoice | dict[str, Any] = previous or {}
    transitions = F.table(obj, "status_transitions")
    customer = F.optional(F.ident, obj, "customer")
    return {
        "id": F.require_id(obj, "invoice"),
        "customer": customer,
        "customer_email": F.optional(F.text, obj, "customer_email")
        or customer_email(db, customer)
        or known.get("customer_email"),
        "subscription": F.optional_part(partial(_subscription_of, obj), None),
        "status": "paid" if paid else (F.text(obj, "status") or "open"),
        "currency": F.currency(obj, "currency"),
        "amount_paid": F.amount(obj, "amount_paid"),
        "amount_due": F.amount(obj, "amount_due"),
        "billing_reason": F.optional(F.text, obj, "billing_reason"),
        "paid_at": (F.moment(transitions, "paid_at") or at) if paid else known.get("paid_at"),
        "attempt_count": F.optional(F.count, obj, "attempt_count", 0) or known.get("attempt_count") or 0,
        "next_payment_attempt": None if paid else F.optional(F.moment, obj, "next_payment_attempt"),
        "payment_failed": (not paid) or known.get("payment_failed", False),
        "refunded": known.get("refunded", 0),
        # only `reconcile` (doctor's invoices vs MRR) reads the lines: unreadable, they are as if not all sent
        "lines": F.optional_part(partial(subscription_lines, obj), None) if paid else known.get("lines"),
    } | F.optional_part(  # type: ignore[return-value]
        partial(_promotion_codes, db, obj, known),
        {"promotion_codes": known["promotion_codes"]} if known.get("promotion_codes") else {},
    )


def _subscription_of(obj: dict) -> str | None:
    """The subscription an invoice bills: named on it before 2025-03-31, under `parent` since."""
    return F.ident(obj, "subscription") or F.ident(
        F.table(F.table(obj, "parent"), "subscription_details"), "subscription"
    )


def _promotion_codes(db: Db, obj: dict, known: Invoice | dict[str, Any]) -> dict[str, list[str]]:
    """`{"promotion_codes": [...]}` when the invoice's discounts (objects, or ids the ledger has resolved) name a
    promotion code, else what an earlier event told; nothing at all for the invoices (most) without one."""
    entries = [*F.ident_list(obj, "discounts"), *([F.table(obj, "discount")] if F.table(obj, "discount") else [])]
    codes: list[str] = []
    for entry in entries:
        code = F.ident(entry, "promotion_code") if isinstance(entry, dict) else None
        if code is None and isinstance(entry, str):
            cached = DISCOUNTS.get(db, entry)
            code = cached.get("promotion_code") if cached else None
        if code and code not in codes:
            codes.append(code)
    codes = codes or list(known.get("promotion_codes") or [])
    return {"promotion_codes": codes} if codes else {}


def _keep_paid(state: Invoice, previous: Invoice) -> None:
    """Paid is final: a later failure or update of a paid invoice leaves it paid, when and for what it was."""
    state.update({"status": "paid", "paid_at": previous["paid_at"], "amount_paid": previous["amount_paid"]})


def invoice_of(db: Db, obj: dict) -> str | None:
    """The invoice a charge, refund or dispute belongs to: named on it (before 2025-03-31), or through the
    charge or payment intent the ledger saw paying it."""
    if invoice_id := F.optional(F.ident, obj, "invoice"):
        return invoice_id
    for key in ("charge", "payment_intent", "id"):
        found = F.optional(F.ident, obj, key)
        if found and (link := PAYMENT_LINKS.get(db, found)):
            return link["invoice"]
    return None


def link_of(db: Db, charge_id: str) -> dict:
    link = PAYMENT_LINKS.get(db, charge_id)
    return {"invoice": link["invoice"], "customer": link["customer"]} if link else {}


def link_charge(db: Db, charge: dict) -> None:
    """A charge names its payment intent (always) and its invoice (before 2025-03-31): remember the pair."""
    charge_id = F.require_id(charge, "charge")
    invoice_id = invoice_of(db, charge)
    if invoice_id and not PAYMENT_LINKS.get(db, charge_id):
        PAYMENT_LINKS.put(db, charge_id, {"invoice": invoice_id, "customer": F.ident(charge, "customer")})
