"""The computed MRR checked against what Stripe charged: each subscription's latest paid invoice.

An invoice's subscription lines, net of recurring discounts and of the tax a tax-inclusive price
includes, are what Stripe billed for the period. Brought to a month by each item's interval they must
match the MRR the ledger computes for the subscription as it was when the invoice was paid; when they
do not, a discount, a price tier or a tax rate was read wrong or not at all (`doctor` says so).
"""

from __future__ import annotations

from dataclasses import dataclass

from arkops.core.billing.amounts import MRR_STATUSES, monthly, subscription_mrr
from arkops.core.billing.records import Discount, Invoice, Subscription
from arkops.core.billing.report import Ledger

TOLERANCE = 0.005  # Stripe rounds each line and each discount share: half a percent, or a unit per line


@dataclass(frozen=True)
class Disagreement:
    subscription: str
    invoice: str
    paid_at: int
    currency: str
    invoiced: float  # per month, minor units of `currency`
    computed: float


def latest_paid(ledger: Ledger) -> dict[str, Invoice]:
    """Each subscription's latest paid invoice that carries its subscription lines."""
    latest: dict[str, Invoice] = {}
    for invoice in ledger.invoices:
        sub_id, paid_at = invoice.get("subscription"), invoice.get("paid_at")
        if invoice.get("status") != "paid" or not sub_id or not paid_at or not invoice.get("lines"):
            continue
        known = latest.get(sub_id)
        if known is None or (known["paid_at"] or 0, known["id"]) < (paid_at, invoice["id"]):
            latest[sub_id] = invoice
    return latest


def version_at(versions: list[Subscription], at: int) -> Subscription | None:
    """The subscription as it was at `at`: the last version of that second or before."""
    found = None
    for version in versions:
        if version["_at"] > at:
            break
        found = version
    return found


def invoiced_monthly(invoice: Invoice, state: Subscription, discounts: list[Discount]) -> float | None:
    """What the invoice billed per month for the subscription's items: each line less the recurring
    discounts Stripe took off it (a `once` coupon is a one-off, not MRR), by its item's interval.
    None when the invoice and the state do not bill the same items in one currency."""
    items = {item["price"]: item for item in state["items"]}
    lines = invoice.get("lines") or []
    if {line["price"] for line in lines} != set(items) or any(
        i["currency"] != invoice["currency"] for i in items.values()
    ):
        return None
    once = {d.get("id") for d in discounts if d.get("id") and d.get("duration") == "once"}
    total = 0.0
    for line in lines:
        item = items[line["price"]]
        if item.get("usage_type") == "metered":
            continue  # usage billed in arrears: not MRR
        net = line["amount"] - sum(amount for key, amount in line["discounts"].items() if key not in once)
        total += monthly(net, item["interval"], item["interval_count"])
    return total


def disagreements(ledger: Ledger) -> tuple[int, list[Disagreement]]:
    """How many subscriptions could be compared, and those whose latest paid invoice and computed MRR differ."""
    same = lambda minor, _currency: minor  # noqa: E731  (the invoice's currency, which every item shares)
    compared, found = 0, []
    for sub_id, invoice in sorted(latest_paid(ledger).items()):
        history = ledger.history.get(sub_id)
        paid_at = invoice["paid_at"] or 0
        state = version_at(history["versions"], paid_at) if history else None
        if not state or state.get("status") not in MRR_STATUSES or state.get("pause_collection"):
            continue
        extra = ledger.customer_discounts.get(state.get("customer") or "", [])
        own = [*state["discounts"], *(d for item in state["items"] for d in item.get("discounts", []))]
        invoiced = invoiced_monthly(invoice, state, [*own, *extra])
        if invoiced is None:
            continue
        computed = subscription_mrr(state, paid_at, same, customer_discounts=extra, tax_rates=ledger.tax_rates)
        compared += 1
        if abs(invoiced - computed) > max(len(invoice.get("lines") or []), TOLERANCE * max(invoiced, computed)):
            found.append(Disagreement(sub_id, invoice["id"], paid_at, invoice["currency"], invoiced, computed))
    return compared, found
