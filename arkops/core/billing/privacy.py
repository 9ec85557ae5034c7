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
    """Pseudonymise the person's customers and their invoices, in `ledger.json` and in `archive/ledger/`."""
    from arkops.core.privacy.service import rewrite_archived

    if who.kind != "email" or not rt.store.path(LEDGER_DB).exists():
        return {}
    customers = invoices = 0
    ids: set[str] = set()
    with rt.store.transaction(LEDGER_DB) as db:
        for customer_id, customer in db.items("customers"):
            if who.found_in(customer.get("email")):
                customer.update({"email": who.pseudonym_email, "name": who.pseudonym if customer.get("name") else None})
                db.put("customers", customer_id, customer)
                ids.add(customer_id)
                customers += 1
        for invoice_id, invoice in db.items("invoices"):
            if _pseudonymise_invoice(who, ids, invoice):
                db.put("invoices", invoice_id, invoice)
                invoices += 1
    # Settled invoices move to the monthly archives (customers stay hot): they name the person as much.
    archived = rewrite_archived(
        rt, LEDGER_DB, lambda table, _, doc: table == "invoices" and _pseudonymise_invoice(who, ids, doc)
    )
    if archived:  # the months rewritten no longer match their summaries (which hold ids and amounts, no email)
        from arkops.core.billing.summaries import refresh_summaries

        refresh_summaries(rt, now=now)
    return {"ledger customers pseudonymised": customers, "ledger invoices pseudonymised": invoices + archived}


def _pseudonymise_invoice(who: Person, customer_ids: set[str], invoice: dict) -> bool:
    """Put the pseudonym in an invoice of the person (by email, or by their customer id); True when changed."""
    email = invoice.get("customer_email")
    if not (who.found_in(email) or (invoice.get("customer") in customer_ids and email)):
        return False
    if email == who.pseudonym_email:
        return False
    invoice["customer_email"] = who.pseudonym_email
    return True


LINKED = ("subscriptions", "invoices", "refunds", "disputes", "credit_notes", "customer_discounts")


def export(rt: Runtime, who: Person) -> dict[str, dict[str, Any]]:
    """The person's customers, and every billing record linked to them by customer id or by email, from the
    ledger and its monthly archives (`"invoices (archive 2026-03)"`)."""
    from arkops.core.privacy.service import archived

    if who.kind != "email" or not rt.store.path(LEDGER_DB).exists():
        return {}

    def theirs(key: str, doc: dict, customers: dict) -> bool:
        return key in customers or doc.get("customer") in customers or who.found_in(doc.get("customer_email"))

    with rt.store.transaction(LEDGER_DB) as db:
        customers = {k: c for k, c in db.items("customers") if who.found_in(c.get("email"))}
        found: dict[str, dict[str, Any]] = {"customers": customers} if customers else {}
        for table in LINKED:
            rows = {key: doc for key, doc in db.items(table) if theirs(key, doc, customers)}
            if rows:
                found[table] = rows
    for month, table, key, doc in archived(rt, LEDGER_DB):
        if table in LINKED and theirs(key, doc, customers):
            found.setdefault(f"{table} (archive {month})", {})[key] = doc
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
