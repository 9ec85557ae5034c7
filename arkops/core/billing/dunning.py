"""Dunning: the customer's emails while a failed invoice stays open, each with the billing-portal link.

After an invoice's first failed payment (`failed_at`, kept by `invoices`), the `dunning` job
sends one `payment_reminder` per step of `[billing] dunning_days` (0, 3, 7 by default; day 0 is left to
the webhook's `payment_failed_customer` when `[billing] notify_payment_failed_customer` is on). The sequence stops the moment the invoice is no longer open (paid or
voided: the ledger has it from the webhook or the sync). When Stripe gives up (the invoice marked
uncollectible, or its subscription cancelled), `payment_final_notice` goes once. Every email is
transactional and keyed `dunning:<invoice>:<step>`, so a job run twice, or late, sends each step once;
a late run sends only the newest step due, and nothing for an invoice that failed longer ago than the
sequence lasts (a first sync of history tells nobody). The same job sends the operator's daily digest of
recovered payments (`recoveries`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arkops.core.billing import LEDGER_DB
from arkops.core.billing.alerts import iso_day
from arkops.core.billing.records import INVOICES, SUBSCRIPTIONS, Invoice
from arkops.runtime import Runtime
from arkops.text import counted

DAY = 86400
GRACE_DAYS = 2  # a step not sent by then (the job did not run) is skipped for the next one
FINAL_WITHIN_DAYS = 7  # a final notice only for an invoice that Stripe gave up on this recently


@dataclass
class DunningResult:
    queued: dict[str, int] = field(default_factory=lambda: {"reminders": 0, "final": 0, "recoveries": 0})
    undeliverable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{counted(self.queued['reminders'], 'payment reminder')}, {counted(self.queued['final'], 'final notice')}"
        )
        if self.queued["recoveries"]:
            text += f", {counted(self.queued['recoveries'], 'recovery digest')}"
        return text

    def counts(self) -> dict[str, int]:
        return dict(self.queued)


def due_step(days: list[int], failed_at: int, now: int) -> int | None:
    """The newest step of the sequence due `now` for an invoice that failed at `failed_at`, or None."""
    elapsed = (now - failed_at) / DAY
    due = [day for day in sorted(days) if day <= elapsed]
    if not due or elapsed - due[-1] > GRACE_DAYS:
        return None
    return due[-1]


def _gave_up(invoice: Invoice, subscription_status: str | None) -> bool:
    return invoice["status"] == "uncollectible" or (invoice["status"] == "open" and subscription_status == "canceled")


def _plan(rt: Runtime, subscription: Any) -> str:
    items = (subscription or {}).get("items") or []
    price = (items[0].get("price") or items[0].get("product") or "") if items else ""
    names = {plan["stripe_price"]: plan["name"] for plan in rt.config["plans"].values() if plan["stripe_price"]}
    return names.get(price, price)


def _due_message(
    rt: Runtime, invoice: Invoice, subscription: Any, days: list[int], stamp: int
) -> tuple[str, str, dict[str, Any]] | None:
    """(template, step, variables) of the email due now for this invoice, or None."""
    failed_at = invoice.get("failed_at") or 0
    variables: dict[str, Any] = {"amount": invoice["amount_due"], "currency": invoice["currency"]}
    variables["invoice_id"] = invoice["id"]
    if _gave_up(invoice, subscription["status"] if subscription else None):
        if stamp - int(invoice.get("_at") or failed_at) > FINAL_WITHIN_DAYS * DAY:
            return None
        return "payment_final_notice", "final", {**variables, "plan": _plan(rt, subscription)}
    if invoice["status"] != "open":
        return None  # paid or voided: the sequence is over
    step = due_step(days, failed_at, stamp)
    if step is None or (step == 0 and rt.config["billing"]["notify_payment_failed_customer"]):
        return None  # day 0 with the webhook's own notice on: it already went
    if invoice["next_payment_attempt"]:
        variables["next_attempt"] = iso_day(invoice["next_payment_attempt"])
    return "payment_reminder", f"day{step}", {**variables, "days": step}


def run(rt: Runtime, *, now: datetime) -> DunningResult:
    """Queue the dunning emails due now, and the operator's digest of recovered payments (the `dunning` job)."""
    from arkops.core.billing.recoveries import send_digest

    result = DunningResult()
    if not rt.store.path(LEDGER_DB).exists():
        return result
    if rt.config["billing"]["dunning_days"]:
        _remind(rt, result, now=now)
    result.queued["recoveries"] = send_digest(rt, now=now)
    return result


def _remind(rt: Runtime, result: DunningResult, *, now: datetime) -> None:
    """Queue each failed invoice's email due now into `result`."""
    from arkops.core.links import portal_link
    from arkops.core.notify import notify
    from arkops.errors import ConfigError, DataError

    days = rt.config["billing"]["dunning_days"]
    stamp = int(now.timestamp())
    with rt.store.transaction(LEDGER_DB) as db:
        failed = [i for i in INVOICES.values(db) if i.get("failed_at") and i["customer_email"]]
        subscriptions = {
            i["subscription"]: SUBSCRIPTIONS.get(db, i["subscription"]) for i in failed if i["subscription"]
        }
    for invoice in failed:  # a few messages a day: each notify reports whether it is new
        email = invoice["customer_email"] or ""
        due = _due_message(rt, invoice, subscriptions.get(invoice["subscription"] or ""), days, stamp)
        if due is None:
            continue
        template, step, variables = due
        variables["portal_url"] = portal_link(rt, email, now=now) or ""
        try:
            queued = notify(rt, template, variables, key=f"dunning:{invoice['id']}:{step}", now=now, to=email)
        except DataError as exc:
            if isinstance(exc, ConfigError):
                raise
            result.undeliverable.append(f"{template} to {email!r}: {exc}")
            continue
        result.queued["final" if step == "final" else "reminders"] += sum(1 for item in queued if item.created)
