"""The ledger's records: what `ledger` writes and `report` reads, as stored in ledger.json.

Amounts are integer minor units, times are unix seconds. `_at` is the event
time a stored state dates from; a record just normalised from Stripe has none
until it is stored.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from arkops.store.tables import Table


class SubscriptionItem(TypedDict):
    price: str | None
    product: str | None
    unit_amount: int
    currency: str  # upper case
    interval: str  # day, week, month or year
    interval_count: int
    quantity: int


class Discount(TypedDict):
    coupon: str | None
    percent_off: float | None
    amount_off: int | None
    currency: str | None
    duration: str | None  # once, repeating or forever
    start: int | None
    end: int | None


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
    _at: NotRequired[int]


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
    _at: NotRequired[int]


class Refund(TypedDict):
    id: str
    charge: str
    invoice: str | None
    customer: str | None
    amount: int
    currency: str
    created: int


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
