"""The ledger's records: what `ledger` writes and `report` reads, as stored in ledger.json.

Amounts are integer minor units, times are unix seconds. `_at` is the event
time a stored state dates from; a record just normalised from Stripe has none
until it is stored (`store_newest` for customers and invoices, the history
of `subscriptions` for subscriptions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from arkops.store.tables import Table

if TYPE_CHECKING:
    from arkops.store import Db


class Tier(TypedDict):
    up_to: int | None  # None: the last tier, without limit
    unit_amount: str  # decimal minor units per unit
    flat_amount: str  # decimal minor units for the tier


class Discount(TypedDict):
    coupon: str | None
    percent_off: float | None
    amount_off: int | None
    currency: str | None
    duration: str | None  # once, repeating or forever
    start: int | None
    end: int | None
    id: NotRequired[str | None]  # di_...; ledgers before Billing II kept none
    duration_in_months: NotRequired[int | None]
    resolved: NotRequired[bool]  # False: only the discount or coupon id is known yet (absent: resolved)
    promotion_code: NotRequired[str]  # promo_...: the promotion code a customer redeemed for it (absent: none seen)


class SubscriptionItem(TypedDict):
    price: str | None
    product: str | None
    unit_amount: int
    currency: str  # upper case
    interval: str  # day, week, month or year
    interval_count: int
    quantity: int
    # Since Billing II; older ledgers lack them and read as a licensed per-unit price without tax.
    id: NotRequired[str | None]
    unit_amount_decimal: NotRequired[str | None]  # when unit_amount is null
    usage_type: NotRequired[str]  # licensed or metered
    billing_scheme: NotRequired[str]  # per_unit or tiered
    tiers_mode: NotRequired[str | None]  # volume or graduated
    tiers: NotRequired[list[Tier] | None]  # None on a tiered price: the payload did not carry them (unresolved)
    divide_by: NotRequired[int | None]  # package pricing: transform_quantity
    round: NotRequired[str | None]  # up or down
    tax_behavior: NotRequired[str]  # inclusive, exclusive or unspecified
    discounts: NotRequired[list[Discount]]


class Subscription(TypedDict):
    id: str
    customer: str | None
    status: str | None
    items: list[SubscriptionItem]
    discounts: list[Discount]
    trial_start: int | None
    trial_end: int | None
    cancel_at_period_end: bool
    canceled_at: int | None
    ended_at: int | None
    start_date: int | None
    pause_collection: NotRequired[dict | None]  # {"behavior", "resumes_at"} while collection is paused
    # the billing period now running (since Plans; on the subscription, or on its items since API 2025-03-31)
    current_period_start: NotRequired[int | None]
    current_period_end: NotRequired[int | None]
    _at: NotRequired[int]
    _type: NotRequired[str]  # the event type this version came from
    _sig: NotRequired[str]  # digest of the state, to chain versions of the same second
    _before: NotRequired[str | None]  # digest of the state before it, from `previous_attributes`


class SubscriptionHistory(TypedDict):
    versions: list[Subscription]  # sorted by `_at`


class Invoice(TypedDict):
    id: str
    customer: str | None
    customer_email: str | None
    subscription: str | None
    status: str  # paid, or Stripe's status of an unpaid invoice
    currency: str
    amount_paid: int
    amount_due: int
    billing_reason: str | None
    paid_at: int | None
    attempt_count: int
    next_payment_attempt: int | None
    payment_failed: bool
    refunded: int  # the sum of its refunds
    credited: NotRequired[int]  # credit notes that are not refunds (issued, not voided)
    disputed: NotRequired[int]  # withdrawn by disputes and not reinstated
    # a paid invoice's subscription lines for the period (no prorations), when Stripe sent all its lines
    lines: NotRequired[list[InvoiceLine] | None]
    promotion_codes: NotRequired[list[str]]  # promo_... of its discounts, when any was redeemed through one
    failed_at: NotRequired[int]  # its first failed payment: when the dunning sequence started
    _at: NotRequired[int]


class InvoiceLine(TypedDict):
    """One subscription item's line of a paid invoice: what Stripe charged for the period."""

    price: str | None
    amount: int  # minor units, without the tax a tax-inclusive price includes, before discounts
    discounts: dict[str, int]  # discount id -> the amount it took off this line


class Refund(TypedDict):
    id: str
    charge: str
    invoice: str | None
    customer: str | None
    amount: int
    currency: str
    created: int
    status: NotRequired[str]  # pending, succeeded, failed, canceled (absent: succeeded)
    synthetic: NotRequired[bool]  # made from a charge's amount_refunded before the refund itself was seen
    payment_intent: NotRequired[str | None]  # what paid the refunded charge: how its invoice is found since 2025-03-31
    # with `invoice` None: "none" when Stripe has no invoice payment for its payment intent (not an invoice's
    # money); absent while nobody asked (no key, or Stripe unreachable)
    invoice_lookup: NotRequired[str]


class Dispute(TypedDict):
    id: str
    charge: str | None
    invoice: str | None
    customer: str | None
    amount: int
    currency: str
    status: str
    created: int
    withdrawn_at: int | None  # the funds left the balance
    reinstated_at: int | None  # and came back (a won dispute)


class CreditNote(TypedDict):
    id: str
    invoice: str | None
    customer: str | None
    amount: int  # the part that is not a refund (refunds count as refunds)
    currency: str
    created: int
    voided_at: int | None


class PaymentLink(TypedDict):
    """A charge or payment intent and the invoice it paid (since API 2025-03-31 a charge no longer names it)."""

    invoice: str | None
    customer: str | None


class Coupon(TypedDict):
    id: str
    percent_off: float | None
    amount_off: int | None
    currency: str | None
    duration: str | None
    duration_in_months: int | None


class CustomerDiscounts(TypedDict):
    discounts: list[Discount]  # each with its start and end (end: when it was removed, or the coupon's end)


class TaxRate(TypedDict):
    rate: float  # tax / amount excluding tax, from the latest invoice line of the price
    at: int


class Customer(TypedDict):
    id: str
    email: str | None
    name: str | None
    created: int | None
    deleted: bool
    _at: NotRequired[int]


CUSTOMERS = Table[Customer]("customers")
SUBSCRIPTIONS = Table[Subscription]("subscriptions")
SUBSCRIPTIONS_HISTORY = Table[SubscriptionHistory]("subscriptions_history")
INVOICES = Table[Invoice]("invoices")
REFUNDS = Table[Refund]("refunds")
DISPUTES = Table[Dispute]("disputes")
CREDIT_NOTES = Table[CreditNote]("credit_notes")
PAYMENT_LINKS = Table[PaymentLink]("payment_links")
COUPONS = Table[Coupon]("coupons")
DISCOUNTS = Table[Discount]("discounts")  # resolved discounts by id, so an id seen again resolves at once
CUSTOMER_DISCOUNTS = Table[CustomerDiscounts]("customer_discounts")
TAX_RATES = Table[TaxRate]("tax_rates")  # by price id, for tax-inclusive prices


def store_newest(db: Db, table: Table[Any], key: str, at: int, state: Mapping[str, Any]) -> None:
    """Keep the state of the newest event (ties: the later delivery wins); an older event arriving late
    changes nothing. Customers and invoices keep no history: only subscriptions' drive month-end MRR."""
    current = table.get(db, key)
    if current is None or at >= current.get("_at", 0):
        db.put(table.name, key, {**state, "_at": at})
