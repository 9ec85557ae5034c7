"""`stripe sync --full`: the ledger rebuilt from Stripe's list endpoints, for when the events are gone.

Each listed object becomes the events that would have brought the ledger to its state, dated when
Stripe says each step happened (a subscription's start, trial end and end; an invoice's payment,
voiding or write-off; a refund's creation; a dispute's balance transactions), and they go through the
one `apply_events` path like any other source. What the objects no longer show is not rebuilt: a
subscription's past plan changes, and discounts that already ended (Stripe removes them from the
subscription), so MRR before the rebuild follows the current terms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from arkops.core.billing import fields as F
from arkops.core.progress import Progress
from arkops.errors import DataError
from arkops.text import counted

Step = tuple[str, int, str, dict]  # event type, when, what makes the event id unique, the object as then
Fetch = Callable[[str, dict, str], Iterable[object]]  # path, params, what is listed -> every object


def customer_steps(customer: dict, stamp: int) -> list[Step]:
    """The customer with its own discount (expanded), as a customer.updated at its creation."""
    return [("customer.updated", F.moment(customer, "created") or stamp, "", customer)]


def subscription_steps(sub: dict, stamp: int) -> list[Step]:
    """Trialing from its start (when it had a trial), active from the end of the trial, then as it is now:
    at its end, or now."""
    start = F.moment(sub, "start_date") or F.moment(sub, "created") or stamp
    trial_end = F.moment(sub, "trial_end")
    end = F.moment(sub, "ended_at") or stamp
    before_end = {**sub, "ended_at": None, "canceled_at": None}
    steps: list[Step] = []
    if trial_end and start < trial_end:
        steps.append(("customer.subscription.created", start, "trial", {**before_end, "status": "trialing"}))
    began = max(start, trial_end or 0)
    if F.text(sub, "status") in ("active", "past_due", "canceled") and began < end:
        steps.append(("customer.subscription.created", began, "start", {**before_end, "status": "active"}))
    ended = F.moment(sub, "ended_at") is not None
    steps.append((f"customer.subscription.{'deleted' if ended else 'updated'}", end, "now", sub))
    return steps


def invoice_steps(invoice: dict, stamp: int) -> list[Step]:
    """Paid when it was paid; an unpaid invoice that was attempted failed when it was finalized; voided or
    written off when that happened."""
    status = F.text(invoice, "status")
    transitions = F.table(invoice, "status_transitions")
    created = F.moment(invoice, "created") or stamp
    if status == "paid":
        return [("invoice.paid", F.moment(transitions, "paid_at") or created, "paid", invoice)]
    steps: list[Step] = []
    if status in ("open", "void", "uncollectible") and F.count(invoice, "attempt_count", 0):
        steps.append(("invoice.payment_failed", F.moment(transitions, "finalized_at") or created, "failed", invoice))
    if status == "void":
        steps.append(("invoice.voided", F.moment(transitions, "voided_at") or stamp, "void", invoice))
    elif status == "uncollectible":
        at = F.moment(transitions, "marked_uncollectible_at") or stamp
        steps.append(("invoice.marked_uncollectible", at, "uncollectible", invoice))
    return steps


def invoice_payment_steps(payment: dict, stamp: int) -> list[Step]:
    """Which payment intent or charge paid an invoice (since 2025-03-31 only invoice payments tell)."""
    if F.text(payment, "status") != "paid":
        return []
    at = F.moment(F.table(payment, "status_transitions"), "paid_at") or F.moment(payment, "created") or stamp
    return [("invoice_payment.paid", at, "", payment)]


def charge_steps(charge: dict, stamp: int) -> list[Step]:
    """A charge that succeeded: the link from the charge to its invoice, which refunds and disputes follow."""
    if F.text(charge, "status") != "succeeded":
        return []
    return [("charge.succeeded", F.moment(charge, "created") or stamp, "", charge)]


def refund_steps(refund: dict, stamp: int) -> list[Step]:
    """A refund made when it was created, in its status now (a failed one does not count)."""
    return [("refund.updated", F.moment(refund, "created") or stamp, "", refund)]


def credit_note_steps(note: dict, stamp: int) -> list[Step]:
    """A credit note from when it took effect; a voided one carries when it was voided."""
    return [("credit_note.created", F.moment(note, "created") or stamp, "", note)]


def dispute_steps(dispute: dict, stamp: int) -> list[Step]:
    """Opened, its funds withdrawn and reinstated when its balance transactions say, then its outcome."""
    created = F.moment(dispute, "created") or stamp
    status = F.text(dispute, "status")
    pending = {**dispute, "status": status if status not in ("won", "lost") else "under_review"}
    steps: list[Step] = [("charge.dispute.created", created, "created", pending)]
    last = created
    moves = sorted(
        (
            F.moment(move, "created") or created,
            F.signed_amount(move, "amount"),
            F.require_id(move, "balance_transaction"),
        )
        for move in F.listing(dispute, "balance_transactions")
    )
    for at, amount, move_id in moves:
        if amount:
            kind = "funds_withdrawn" if amount < 0 else "funds_reinstated"
            steps.append((f"charge.dispute.{kind}", at, move_id, pending))
            last = max(last, at)
    closed = status in ("won", "lost", "warning_closed", "prevented")
    steps.append((f"charge.dispute.{'closed' if closed else 'updated'}", last, "now", dispute))
    return steps


@dataclass(frozen=True)
class Listing:
    path: str
    noun: str
    steps: Callable[[dict, int], list[Step]]
    params: dict = field(default_factory=dict)


# In the order their events apply when they share a second: an invoice before the payments that name it,
# those before the refunds and disputes that follow them. Expansions stay within Stripe's four levels;
# price tiers (five) and coupons of item discounts are read afterwards, as for events (`resolve`).
LISTINGS = (
    Listing("/v1/customers", "customer", customer_steps, {"expand": ["data.discount.source.coupon"]}),
    Listing(
        "/v1/subscriptions",
        "subscription",
        subscription_steps,
        {"status": "all", "expand": ["data.discounts.source.coupon", "data.items.data.discounts"]},
    ),
    Listing("/v1/invoices", "invoice", invoice_steps),
    Listing("/v1/invoice_payments", "invoice payment", invoice_payment_steps),
    Listing("/v1/charges", "charge", charge_steps),
    Listing("/v1/refunds", "refund", refund_steps),
    Listing("/v1/credit_notes", "credit note", credit_note_steps),
    Listing("/v1/disputes", "dispute", dispute_steps),
)


def rebuild_events(fetch: Fetch, *, stamp: int, progress: Progress) -> list[dict]:
    """Every list endpoint read, each object turned into its events; oldest first."""
    found: list[tuple[int, int, dict]] = []
    for rank, listing in enumerate(LISTINGS):
        count = 0
        for obj in fetch(listing.path, listing.params, f"{listing.noun}s"):
            if not isinstance(obj, dict):
                raise DataError(f"Stripe listed {obj!r} in {listing.path}, not an object")
            obj_id = F.require_id(obj, listing.noun)
            for event_type, at, unique, state in listing.steps(obj, stamp):
                marker = f":{unique}" if unique else ""
                event = {
                    "id": f"full:{obj_id}:{at}{marker}",
                    "type": event_type,
                    "created": at,
                    "data": {"object": state},
                }
                found.append((at, rank, event))
            count += 1
            if count % 100 == 0:  # one page
                progress(f"listing {listing.noun}s", count)
        progress(f"listed {counted(count, listing.noun)}")
    found.sort(key=lambda entry: (entry[0], entry[1]))
    return [event for _, _, event in found]
