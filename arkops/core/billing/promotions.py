"""Promotion codes in the ledger: who redeemed which Stripe promotion code, and what became of them.

A redemption at Stripe (Checkout, the customer portal, the API) shows as a discount that names its
`promotion_code` (promo_...), on a subscription, one of its items, a customer or an invoice. The promo
domain counts these as redemptions beside its own (`arkops.core.promo`), and reads the redeemers'
outcomes (paying now, paid, churned) from here; nothing outside `arkops/core/billing/` reads the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from arkops.core.billing import LEDGER_DB
from arkops.core.billing.amounts import Convert, subscription_mrr
from arkops.core.billing.records import (
    Discount,
    Invoice,
    Subscription,
)
from arkops.core.billing.report import Ledger, histories_by_customer, load
from arkops.runtime import Runtime

NEAR_DISCOUNT_END = 31 * 86400  # an end within a month either side of the discount's end "came with it"


def _subscription_discounts(version: Subscription) -> Iterator[Discount]:
    yield from version.get("discounts", [])
    for item in version.get("items", []):
        yield from item.get("discounts", [])


def promotion_code_uses(ledger: Ledger) -> dict[str, list[dict]]:
    """promo_... -> its redeemers, one per customer (the earliest sign of it): `{"email", "customer",
    "subscription", "at", "end"}`, the email lower-cased (None when Stripe has not told it), `at` when the
    discount started (or the invoice was paid), `end` when it ends or ended (None: not known or forever).
    From the ledger's subscriptions, customer discounts and hot invoices."""
    emails = {cid: (c.get("email") or "").strip().lower() or None for cid, c in ledger.customers.items()}
    found: dict[str, dict[str, dict]] = {}

    def seen(code: str | None, customer: str | None, email: str | None, sub: str | None, at: int | None, end=None):
        if not code or not (customer or email):
            return
        who = customer or f"email:{email}"
        uses = found.setdefault(code, {})
        use: dict[str, Any] = {"email": email or emails.get(customer or ""), "customer": customer}
        use.update(subscription=sub, at=at or 0, end=end)
        if who not in uses or (at or 0) < uses[who]["at"]:
            uses[who] = use

    for sub_id, history in ledger.history.items():
        for version in history["versions"]:
            for discount in _subscription_discounts(version):
                customer = version.get("customer")
                seen(
                    discount.get("promotion_code"),
                    customer,
                    None,
                    sub_id,
                    discount.get("start") or version.get("_at"),
                    discount.get("end"),
                )
    for customer, discounts in ledger.customer_discounts.items():
        for discount in discounts:
            seen(discount.get("promotion_code"), customer, None, None, discount.get("start"), discount.get("end"))
    for invoice in ledger.invoices:
        for code in invoice.get("promotion_codes", []):
            email = (invoice.get("customer_email") or "").strip().lower() or None
            seen(code, invoice.get("customer"), email, invoice.get("subscription"), invoice.get("paid_at"))
    return {code: sorted(uses.values(), key=lambda u: u["at"]) for code, uses in found.items()}


def ledger_promotion_uses(rt: Runtime) -> dict[str, list[dict]]:
    """`promotion_code_uses`, computed once per ledger change (kept in `DATA/cache/`), from the ledger this process
    reads anyway (`report.load`: `status` and the report's sections share it); {} without a ledger."""
    return rt.store.derived_from("promotion-code-uses", LEDGER_DB, lambda: promotion_code_uses(load(rt))) or {}


@dataclass(frozen=True)
class Outcome:
    """What one redeemer did after redeeming."""

    paying_now: bool
    paid: float  # minor units of the reporting currency, after refunds, credit notes and disputes
    churned: bool  # paid (or had a paying subscription) after redeeming and pays nothing now
    churned_at_discount_end: bool  # ... and their subscription ended within a month of the discount's end


def redeemer_outcomes(
    ledger: Ledger, redeemers: Iterable[tuple[str, int, int | None]], *, now: int, convert: Convert
) -> dict[str, Outcome]:
    """Each redeemer's outcome by email, from `(email, redeemed at, discount end or None)`: the ledger's
    customers with that email, their subscriptions and their invoices paid since the redemption."""
    customers_of: dict[str, set[str]] = {}
    for cid, customer in ledger.customers.items():
        if email := (customer.get("email") or "").strip().lower():
            customers_of.setdefault(email, set()).add(cid)
    histories = histories_by_customer(ledger)
    out: dict[str, Outcome] = {}
    for email, since, discount_end in redeemers:
        customers = customers_of.get(email, set())
        paid = sum(
            (
                convert(_kept(invoice), invoice["currency"])
                for invoice in ledger.invoices
                if _paid_by(invoice, customers, email, since)
            ),
            0.0,
        )
        subscriptions = [versions for customer in customers for versions in histories.get(customer, [])]
        out[email] = _outcome(paid, subscriptions, since, discount_end, now=now, convert=convert)
    return out


def _outcome(
    paid: float,
    subscriptions: list[list[Subscription]],
    since: int,
    discount_end: int | None,
    *,
    now: int,
    convert: Convert,
) -> Outcome:
    """Paying now, or churned: paid (an invoice, or a subscription worth something) since redeeming and
    paying nothing now; at the discount's end when a subscription ended within a month of it."""
    paying_now = any(subscription_mrr(versions[-1], now, convert) > 0 for versions in subscriptions)
    paid_subscription = any(_paying_since(versions, since, convert) for versions in subscriptions)
    churned = not paying_now and (paid > 0 or paid_subscription)
    ends = [end for versions in subscriptions if (end := _ended_at(versions)) is not None]
    near_end = discount_end is not None and any(abs(end - discount_end) <= NEAR_DISCOUNT_END for end in ends)
    return Outcome(paying_now, paid, churned, churned and near_end)


def _paid_by(invoice: Invoice, customers: set[str], email: str, since: int) -> bool:
    """A paid invoice of one of these customers (or sent to this email) since the redemption."""
    mine = invoice.get("customer") in customers or (invoice.get("customer_email") or "").lower() == email
    return mine and invoice.get("status") == "paid" and (invoice.get("paid_at") or 0) >= since


def _kept(invoice: Invoice) -> int:
    """What a paid invoice brought in after refunds, credit notes and disputes."""
    return invoice["amount_paid"] - invoice.get("refunded", 0) - invoice.get("credited", 0) - invoice.get("disputed", 0)


def _paying_since(versions: list[Subscription], since: int, convert: Convert) -> bool:
    """Worth something in a version from the day before the redemption on."""
    return any(subscription_mrr(v, v["_at"], convert) > 0 for v in versions if v["_at"] >= since - 86400)


def _ended_at(versions: list[Subscription]) -> int | None:
    """When the subscription ended, from its first canceled version; None while it has not."""
    return next((v.get("ended_at") or v["_at"] for v in versions if v.get("status") == "canceled"), None)


def load_ledger(rt: Runtime) -> Ledger:
    """The ledger's current states with every invoice (`arkops.core.billing.report.load`), for readers outside
    billing."""
    return load(rt, archived=True)
