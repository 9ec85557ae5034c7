"""What the ledger tells people when an event lands: the operator's alerts (first revenue, a failed payment)
and, when `[billing]` enables them, the customer's notices (receipt, failed payment, welcome).

Each alert names its template, its variables and a dedupe key (one per invoice attempt, one first revenue
per ledger); `ApplyResult` collects them and `service` queues them after the ledger transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from arkops.clock import from_unix
from arkops.core.billing.records import Invoice, Subscription
from arkops.store import Db

Money = Callable[[int, str], str]  # minor units and currency, as the operator reads them


@dataclass
class Alert:
    template: str
    variables: dict[str, Any]
    key: str
    to: str | None = None  # None: the operator
    locale: str | None = None
    at: int = 0  # when the event happened (unix seconds): older ones than the alert window are not sent


def welcome_alert(subscription: Subscription, email: str) -> Alert:
    """The customer's welcome when a subscription first becomes active."""
    item = subscription["items"][0] if subscription["items"] else None
    # the Stripe price id; `service.apply_events` names it as arkops.toml does (plan_names)
    plan = (item["price"] or item["product"] or "") if item else ""
    return Alert(
        "subscription_welcome",
        {"plan": plan or "your plan"},
        f"subscription:{subscription['id']}:welcome",
        to=email,
    )


def trial_will_end_alert(subscription: Subscription, obj: Mapping[str, Any], email: str) -> Alert | None:
    """`customer.subscription.trial_will_end` (three days before a Stripe trial ends): "add a payment method",
    to a trial that has none; once per subscription and trial end."""
    if subscription["status"] != "trialing" or obj.get("default_payment_method") or obj.get("default_source"):
        return None
    item = subscription["items"][0] if subscription["items"] else None
    plan = (item["price"] or item["product"] or "") if item else ""  # named as arkops.toml does by `service`
    trial_end = subscription["trial_end"]
    return Alert(
        "trial_payment_method",
        {"plan": plan or "your plan", "trial_end": iso_day(trial_end) if trial_end else ""},
        f"subscription:{subscription['id']}:trial_will_end:{trial_end}",
        to=email,
    )


def paid_alerts(db: Db, invoice: Invoice, amount: str, settings: Mapping[str, Any]) -> list[Alert]:
    """The operator's first-revenue alert (once per ledger), and the customer's receipt when enabled."""
    invoice_id, email = invoice["id"], invoice["customer_email"]
    alerts = []
    if db.insert_new("flags", "first_revenue", {"invoice": invoice_id}):
        alerts.append(
            Alert(
                "first_revenue",
                {"email": email or invoice["customer"] or "unknown", "amount": amount, "invoice_id": invoice_id},
                "alert:first_revenue",
            )
        )
    if settings.get("notify_payment_received") and email:
        alerts.append(
            Alert(
                "payment_received",  # the amount in minor units: the template writes it the customer's way
                {"amount": invoice["amount_paid"], "currency": invoice["currency"], "invoice_id": invoice_id},
                f"invoice:{invoice_id}:received",
                to=email,
            )
        )
    return alerts


def failed_alerts(invoice: Invoice, amount: str, settings: Mapping[str, Any]) -> list[Alert]:
    """The operator's alert for this attempt, and the customer's notice when enabled; keyed by attempt."""
    invoice_id, email = invoice["id"], invoice["customer_email"]
    attempt = invoice["attempt_count"] or 1
    variables = {
        "email": email or invoice["customer"] or "unknown",
        "amount": amount,
        "invoice_id": invoice_id,
        "attempt_count": attempt,
        "next_attempt": iso_day(invoice["next_payment_attempt"]),
    }
    alerts = [Alert("payment_failed", variables, f"invoice:{invoice_id}:failed:{attempt}")]
    if settings.get("notify_payment_failed_customer") and email:
        customer_vars: dict[str, Any] = {"amount": invoice["amount_due"], "currency": invoice["currency"]}
        customer_vars["invoice_id"] = invoice_id
        if invoice["next_payment_attempt"]:
            customer_vars["next_attempt"] = iso_day(invoice["next_payment_attempt"])
        alerts.append(
            Alert(
                "payment_failed_customer",
                customer_vars,
                f"invoice:{invoice_id}:failed-customer:{attempt}",
                to=email,
            )
        )
    return alerts


def iso_day(seconds: int | None) -> str:
    if not seconds:
        return "none scheduled"
    return from_unix(seconds).strftime("%Y-%m-%d")  # type: ignore[union-attr]
