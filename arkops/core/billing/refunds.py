"""Money that leaves a paid invoice: refunds, disputes and credit notes.

Each is kept by id and totalled on its invoice (`refunded`, `disputed`, `credited`), which is what revenue
subtracts. Stripe delivers in no set order, so each record only moves forward: a refund's status from
pending to succeeded to failed or canceled, a dispute's withdrawal and reinstatement, a credit note's void.
A charge that says only how much was refunded gets a stand-in refund until the refunds themselves arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from arkops.core.billing import fields as F
from arkops.core.billing.invoices import invoice_of, link_charge, link_of
from arkops.core.billing.records import CREDIT_NOTES, DISPUTES, INVOICES, REFUNDS, CreditNote, Dispute, Refund
from arkops.runtime import Runtime
from arkops.store import Db

REFUND_STAGE = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}
REFUND_STATUSES = tuple(REFUND_STAGE)
NOT_REFUNDED = ("failed", "canceled")


def _keep_refund(db: Db, record: Refund) -> None:
    """A refund's status only moves forward (pending, succeeded, then failed or canceled), whatever the
    delivery order; a real refund replaces the stand-in made from its charge's amount_refunded."""
    known = REFUNDS.get(db, record["id"])
    if known and REFUND_STAGE.get(known.get("status", "succeeded"), 1) > REFUND_STAGE.get(
        record.get("status", "succeeded"), 1
    ):
        record = {**record, "status": known.get("status", "succeeded")}
    REFUNDS.put(db, record["id"], record)
    if not record.get("synthetic"):
        stand_ins = [r for r in REFUNDS.values(db) if r["charge"] == record["charge"] and r.get("synthetic")]
        covered = record["amount"] if not known else 0
        for stand_in in stand_ins:
            take = min(covered, stand_in["amount"])
            stand_in["amount"] -= take
            covered -= take
            REFUNDS.put(db, stand_in["id"], stand_in)


def _refund_record(db: Db, refund: dict, charge: dict, at: int) -> Refund:
    charge_id = F.ident(refund, "charge") or F.require_id(charge, "charge")
    known = REFUNDS.get(db, F.require_id(refund, "refund"))
    record: Refund = {
        "id": F.require_id(refund, "refund"),
        "charge": charge_id,
        "invoice": invoice_of(db, refund) or invoice_of(db, charge) if charge else invoice_of(db, refund),
        "customer": F.optional(F.ident, charge, "customer") if charge else None,
        "amount": F.amount(refund, "amount"),
        "currency": F.currency(refund, "currency", F.currency(charge, "currency") if charge else ""),
        "created": F.moment(refund, "created") or at,
        "status": F.choice(refund, "status", REFUND_STATUSES, "succeeded"),
        "payment_intent": F.optional(F.ident, refund, "payment_intent")
        or (F.optional(F.ident, charge, "payment_intent") if charge else None)
        or (known.get("payment_intent") if known else None),
    }
    if record["invoice"] is None and known is not None:  # what a lookup or a later link told stays
        record["invoice"] = known["invoice"]
        if "invoice_lookup" in known:
            record["invoice_lookup"] = known["invoice_lookup"]
    return record


def apply_refund(db: Db, charge: dict, at: int) -> None:
    """charge.refunded: the charge's refunds when it lists them (before 2022-11-15), otherwise the part of
    `amount_refunded` the ledger has not seen as refunds yet."""
    charge_id = F.require_id(charge, "charge")
    link_charge(db, charge)
    for refund in F.listing(charge, "refunds"):
        _keep_refund(db, _refund_record(db, refund, charge, at))
    refunded = F.amount(charge, "amount_refunded")
    seen = sum(
        r["amount"] for r in REFUNDS.values(db) if r["charge"] == charge_id and r.get("status") not in NOT_REFUNDED
    )
    if refunded > seen:
        stand_in = {"id": f"{charge_id}:{refunded}", "amount": refunded - seen, "created": at, "charge": charge_id}
        _keep_refund(db, {**_refund_record(db, stand_in, charge, at), "synthetic": True})
    _total_refunds(db, invoice_of(db, charge))


def apply_refund_object(db: Db, refund: dict, at: int) -> None:
    """refund.created/updated/failed: one refund; a failed one no longer counts."""
    charge_id = F.ident(refund, "charge")
    charge = {"object": "charge", "id": charge_id, **link_of(db, charge_id)} if charge_id else {}
    record = _refund_record(db, refund, charge, at) if charge_id else None
    if record is None:
        return  # a refund of no charge (e.g. a customer balance) does not touch invoice revenue
    _keep_refund(db, record)
    _total_refunds(db, record["invoice"])


def link_refunds(db: Db, payments: dict[str, str]) -> None:
    """Refunds not linked to an invoice yet whose charge or payment intent is among `payments` (charge or
    payment intent id -> the invoice it paid) are linked to it, and that invoice's refunds totalled again."""
    touched = set()
    for refund in REFUNDS.values(db):
        if refund["invoice"] is not None:
            continue
        invoice_id = payments.get(refund["charge"]) or payments.get(refund.get("payment_intent") or "")
        if invoice_id:
            refund.pop("invoice_lookup", None)
            REFUNDS.put(db, refund["id"], {**refund, "invoice": invoice_id})
            touched.add(invoice_id)
    for invoice_id in touched:
        _total_refunds(db, invoice_id)


def unlinked_refunds(db: Db) -> list[Refund]:
    """Refunds that count and are not linked to an invoice, though one may have paid their charge: their payment
    intent names no invoice the ledger knows of, and Stripe was not asked (no key) or could not be reached.
    That invoice shows unrefunded. Oldest first."""
    found = [
        r
        for r in REFUNDS.values(db)
        if r["invoice"] is None
        and r["amount"]  # a stand-in the refund itself has replaced takes nothing
        and r.get("payment_intent")
        and r.get("status") not in NOT_REFUNDED
        and r.get("invoice_lookup") != "none"
    ]
    return sorted(found, key=lambda r: (r["created"], r["id"]))


def _total_refunds(db: Db, invoice_id: str | None) -> None:
    counted = (r for r in REFUNDS.values(db) if r.get("status") not in NOT_REFUNDED)
    _total_on_invoice(db, invoice_id, "refunded", counted)


def _total_on_invoice(
    db: Db,
    invoice_id: str | None,
    field: Literal["refunded", "disputed", "credited"],
    counted: Iterable[Refund] | Iterable[Dispute] | Iterable[CreditNote],
) -> None:
    """What the invoice's refunds, disputes or credit notes that still count take from its revenue."""
    if invoice_id and (invoice := INVOICES.get(db, invoice_id)):
        invoice[field] = sum(record["amount"] for record in counted if record["invoice"] == invoice_id)
        INVOICES.put(db, invoice_id, invoice)


DISPUTE_STATUSES = (
    "warning_needs_response",
    "warning_under_review",
    "warning_closed",
    "needs_response",
    "under_review",
    "won",
    "lost",
    "prevented",
)


def apply_dispute(db: Db, event_type: str, obj: dict, at: int) -> None:
    """charge.dispute.*: funds withdrawn leave revenue when they leave, and come back when reinstated."""
    dispute_id = F.require_id(obj, "dispute")
    known: Dispute | None = DISPUTES.get(db, dispute_id)
    status = F.choice(obj, "status", DISPUTE_STATUSES, "needs_response")
    withdrawn = known["withdrawn_at"] if known else None
    reinstated = known["reinstated_at"] if known else None
    if event_type == "charge.dispute.funds_withdrawn" or (status == "lost" and withdrawn is None):
        withdrawn = min(withdrawn or at, at)
    if event_type == "charge.dispute.funds_reinstated" or (status == "won" and withdrawn is not None):
        reinstated = max(reinstated or at, at)
    if known and known["status"] in ("won", "lost") and event_type != "charge.dispute.closed":
        status = known["status"]  # closed is final, whatever arrives after
    charge = F.optional(F.ident, obj, "charge")
    record: Dispute = {
        "id": dispute_id,
        "charge": charge,
        "invoice": invoice_of(db, obj),
        "customer": (known["customer"] if known else None) or link_of(db, charge or "").get("customer"),
        "amount": F.amount(obj, "amount"),
        "currency": F.currency(obj, "currency"),
        "status": status,
        "created": F.moment(obj, "created") or at,
        "withdrawn_at": withdrawn,
        "reinstated_at": reinstated if withdrawn is not None else None,
    }
    DISPUTES.put(db, dispute_id, record)
    _total_disputes(db, record["invoice"])


def _total_disputes(db: Db, invoice_id: str | None) -> None:
    withdrawn = (d for d in DISPUTES.values(db) if d["withdrawn_at"] is not None and d["reinstated_at"] is None)
    _total_on_invoice(db, invoice_id, "disputed", withdrawn)


def apply_credit_note(db: Db, event_type: str, obj: dict, at: int) -> None:
    """credit_note.*: the part of a credit note after payment that is not a refund (credit to the customer's
    balance, or out of band) lowers its invoice's revenue; before payment it lowered the amount paid already."""
    note_id = F.require_id(obj, "credit_note")
    if F.choice(obj, "type", ("pre_payment", "post_payment", "mixed"), "post_payment") == "pre_payment":
        return
    total = F.amount(obj, "amount")
    refunded = sum(F.amount(r, "amount_refunded") for r in F.listing(obj, "refunds"))
    if single := F.ident(obj, "refund"):  # before 2025-03-31: one refund, by id
        known_refund = REFUNDS.get(db, single)
        refunded += known_refund["amount"] if known_refund else total
    voided = event_type == "credit_note.voided" or F.text(obj, "status") == "void"
    known = CREDIT_NOTES.get(db, note_id)
    record: CreditNote = {
        "id": note_id,
        "invoice": F.ident(obj, "invoice"),
        "customer": F.ident(obj, "customer"),
        "amount": max(total - refunded, 0),
        "currency": F.currency(obj, "currency"),
        "created": F.moment(obj, "effective_at") or F.moment(obj, "created") or at,
        "voided_at": (known and known["voided_at"]) or ((F.moment(obj, "voided_at") or at) if voided else None),
    }
    CREDIT_NOTES.put(db, note_id, record)
    issued = (n for n in CREDIT_NOTES.values(db) if n["voided_at"] is None)
    _total_on_invoice(db, record["invoice"], "credited", issued)


def unlinked_note(rt: Runtime) -> str | None:
    """What `payments list` adds when some refunds are not linked to their invoice (`unlinked_refunds`)."""
    from arkops.core.billing import LEDGER_DB
    from arkops.money import format_money
    from arkops.text import counted, first_few

    with rt.store.transaction(LEDGER_DB) as db:
        found = unlinked_refunds(db)
    if not found:
        return None
    shown = first_few(
        [f"{r['id']}: {format_money(r['amount'], r['currency'])} of {r.get('payment_intent')}" for r in found]
    )
    return (
        f"{counted(len(found), 'refund')} not linked to an invoice ({shown}): its invoice is shown unrefunded "
        "(see `arkops doctor`)"
    )
