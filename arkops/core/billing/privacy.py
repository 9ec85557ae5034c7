"""The ledger under `privacy forget`, and erased people in later syncs and webhooks.

Invoices, payments and refunds are accounting records that must be kept:
a customer named by the person keeps every amount and date, and their
email and name become the person's stable pseudonym
(`erased-<keyed hash>@erased.invalid`), so `payments report` gives the same
figures and the customer is still one customer. An event that names an
erased email later (a sync, a webhook, an import) is applied with the
pseudonym in its place (`scrub_events`), so the person does not come back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from arkops.core.billing import LEDGER_DB
from arkops.runtime import Runtime

if TYPE_CHECKING:
    from arkops.core.privacy.person import Person

EMAIL_FIELDS = ("email", "customer_email")
NAME_FIELDS = ("name", "customer_name")


def forget(rt: Runtime, who: Person, *, now: datetime) -> dict[str, int]:
    if who.kind != "email" or not rt.store.path(LEDGER_DB).exists():
        return {}
    customers = invoices = 0
    with rt.store.transaction(LEDGER_DB) as db:
        ids = set()
        for customer_id, customer in db.items("customers"):
            if who.found_in(customer.get("email")):
                customer.update({"email": who.pseudonym_email, "name": who.pseudonym if customer.get("name") else None})
                db.put("customers", customer_id, customer)
                ids.add(customer_id)
                customers += 1
        for invoice_id, invoice in db.items("invoices"):
            if who.found_in(invoice.get("customer_email")) or (
                invoice.get("customer") in ids and invoice.get("customer_email")
            ):
                invoice["customer_email"] = who.pseudonym_email
                db.put("invoices", invoice_id, invoice)
                invoices += 1
    return {"ledger customers pseudonymised": customers, "ledger invoices pseudonymised": invoices}


LINKED = ("subscriptions", "invoices", "refunds", "disputes", "credit_notes", "customer_discounts")


def export(rt: Runtime, who: Person) -> dict[str, dict[str, Any]]:
    """The person's customers, and every billing record linked to them by customer id or by email."""
    if who.kind != "email" or not rt.store.path(LEDGER_DB).exists():
        return {}
    with rt.store.transaction(LEDGER_DB) as db:
        customers = {k: c for k, c in db.items("customers") if who.found_in(c.get("email"))}
        found: dict[str, dict[str, Any]] = {"customers": customers} if customers else {}
        for table in LINKED:
            rows = {
                key: doc
                for key, doc in db.items(table)
                if key in customers or doc.get("customer") in customers or who.found_in(doc.get("customer_email"))
            }
            if rows:
                found[table] = rows
    return found


def scrub_events(rt: Runtime, events: list[dict]) -> None:
    """Put the pseudonym in place of an erased email (and the name beside it) in events about to be applied."""
    from arkops.core.privacy.person import erased_digests, erased_person

    if not erased_digests(rt):
        return

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for field in EMAIL_FIELDS:
                email = value.get(field)
                who = erased_person(rt, email) if isinstance(email, str) and email else None
                if who is not None:
                    value[field] = who.pseudonym_email
                    for name in NAME_FIELDS:
                        if value.get(name):
                            value[name] = who.pseudonym
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for event in events:
        walk(event.get("data"))
