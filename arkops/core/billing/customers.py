"""Customers in the ledger: `customer.*` events and the email a completed Checkout session tells.

A customer keeps its newest state only (`records.store_newest`); its email is what alerts and reports
name it by. A customer payload also carries the customer's own discount (`discounts`).
"""

from __future__ import annotations

from typing import Any

from arkops.core.billing import fields as F
from arkops.core.billing.discounts import customer_discount_from
from arkops.core.billing.records import CUSTOMERS, Customer, store_newest
from arkops.store import Db


def customer_email(db: Db, customer_id: str | None) -> str | None:
    customer = CUSTOMERS.get(db, customer_id) if customer_id else None
    return customer.get("email") if customer else None


def apply_customer(db: Db, obj: dict, at: int, deleted: bool) -> None:
    """customer.created/updated/deleted: what the payload leaves out stays as an earlier event told it."""
    customer_id = F.require_id(obj, "customer")
    previous: Customer | dict[str, Any] = CUSTOMERS.get(db, customer_id) or {}
    state: Customer = {
        "id": customer_id,
        "email": F.optional(F.text, obj, "email") or previous.get("email"),
        "name": F.optional(F.text, obj, "name") or previous.get("name"),
        "created": F.optional(F.moment, obj, "created") or previous.get("created"),
        "deleted": deleted,
    }
    store_newest(db, CUSTOMERS, customer_id, at, state)
    if not deleted:
        customer_discount_from(db, customer_id, obj, at)


def apply_checkout(db: Db, session: dict, at: int) -> None:
    """checkout.session.completed: the email the customer typed, for a customer the ledger has none for yet."""
    customer_id = F.ident(session, "customer")
    details = F.optional(F.table, session, "customer_details")
    email = F.optional(F.text, details, "email") or F.optional(F.text, session, "customer_email")
    if customer_id and email and not customer_email(db, customer_id):
        state: Customer = {
            "id": customer_id,
            "email": email,
            "name": F.optional(F.text, details, "name"),
            "created": at,
            "deleted": False,
        }
        store_newest(db, CUSTOMERS, customer_id, at, state)
