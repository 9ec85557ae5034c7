"""The billing domain's `doctor` checks: Stripe settings, and with `--stripe` a call to the API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from arkops.config import env, placeholder_problem, stripe_key_problem
from arkops.core.billing import LEDGER_DB
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.errors import ArkopsError, mask
from arkops.runtime import Runtime
from arkops.text import first_few

if TYPE_CHECKING:
    from arkops.core.billing.report import Ledger


def stripe_settings(rt: Runtime) -> list[Check]:
    key = env("STRIPE_SECRET_KEY")
    checks = []
    if not key:
        checks.append(Check("stripe key", WARN, "STRIPE_SECRET_KEY not set: stripe sync is disabled"))
    else:
        problem = stripe_key_problem(key)
        mode = "live" if "_live_" in key else "test"
        checks.append(
            Check("stripe key", FAIL, problem) if problem else Check("stripe key", OK, f"{mode} mode, {mask(key)}")
        )
    secret = env("STRIPE_WEBHOOK_SECRET")
    example = placeholder_problem("STRIPE_WEBHOOK_SECRET")
    if example:
        checks.append(Check("stripe webhook secret", FAIL, example))
    elif not secret:
        checks.append(
            Check(
                "stripe webhook secret",
                WARN,
                "STRIPE_WEBHOOK_SECRET not set: `webhooks ingest/serve` will refuse payloads",
            )
        )
    elif re.match(r"^whsec_[A-Za-z0-9+/=]{16,}$", secret):
        checks.append(Check("stripe webhook secret", OK, mask(secret)))
    else:
        checks.append(
            Check("stripe webhook secret", FAIL, f"STRIPE_WEBHOOK_SECRET should start with whsec_ ({mask(secret)})")
        )
    base = env("STRIPE_API_BASE")
    if base:
        checks.append(
            Check("stripe api base", WARN, f"STRIPE_API_BASE={base} (a local Stripe-compatible server, not Stripe)")
        )
    return checks


def stripe_api(rt: Runtime) -> Check:
    """One request to the API (honours STRIPE_API_BASE); a key that cannot be right is told without one."""
    from arkops.sources.stripe_api import ping

    problem = stripe_key_problem(env("STRIPE_SECRET_KEY"))
    if problem:
        return Check("stripe api", FAIL, f"not called: {problem}")
    try:
        return Check(
            "stripe api",
            OK,
            ping(
                delays=rt.config["billing"]["stripe_retry_seconds"],
                timeout=rt.config["billing"]["stripe_timeout_seconds"],
            ),
        )
    except ArkopsError as exc:
        return Check("stripe api", FAIL, str(exc))


def ledger_unresolved(rt: Runtime) -> Check:
    """Discounts and price tiers that events named by id only and Stripe was not asked about yet."""
    from arkops.core.billing.discounts import pending

    with rt.store.transaction(LEDGER_DB) as db:
        found = pending(db)
    if not found:
        return Check("ledger unresolved", OK, "every discount and price tier in the ledger is known")
    shown = first_few([f"{key}: {', '.join(what)}" for key, what in sorted(found.items())])
    return Check(
        "ledger unresolved",
        WARN,
        f"{len(found)} not fully known, their MRR counts no discount or tier until `arkops stripe sync` "
        f"reads them: {shown}",
    )


def invoice_amounts(rt: Runtime) -> Check:
    """Each subscription's latest paid invoice against the MRR computed for it (`reconcile`)."""
    from arkops.core.billing.reconcile import disagreements
    from arkops.core.billing.report import load
    from arkops.money import format_money

    compared, found = disagreements(load(rt, archived=True))
    if not found:
        detail = (
            f"the latest paid invoice of {compared} subscription{'s' if compared != 1 else ''} matches its computed MRR"
            if compared
            else "no paid subscription invoice with its lines yet"
        )
        return Check("invoices vs MRR", OK, detail)
    shown = first_few(
        [
            f"{d.subscription} ({d.invoice}): invoiced {format_money(round(d.invoiced), d.currency)}/month, "
            f"computed MRR {format_money(round(d.computed), d.currency)}"
            for d in found
        ]
    )
    return Check(
        "invoices vs MRR",
        WARN,
        f"{len(found)} of {compared} subscriptions were invoiced otherwise than their computed MRR (a discount, "
        f"tier or tax rate read wrong or not yet; `arkops stripe sync` reads what was sent by id): {shown}",
    )


def exchange_rates(rt: Runtime) -> Check:
    """Every currency the ledger holds has an `[fx]` rate: without one its amounts are left out of every figure
    (the reports show them apart, as not converted)."""
    from arkops.core.billing.report import load
    from arkops.text import counted

    held = _currencies_held(load(rt))
    base = rt.config.currency
    rated = {code.upper() for code, rate in rt.config["fx"].items() if rate}
    missing = sorted(code for code in held if code != base and code not in rated)
    if not missing:
        others = sorted(code for code in held if code != base)
        detail = f"{', '.join(others)} converted to {base} through [fx]" if others else f"every amount is in {base}"
        return Check("exchange rates", OK, detail)
    shown = first_few(
        [f"{code} ({', '.join(counted(n, what) for what, n in sorted(held[code].items()))})" for code in missing]
    )
    fixes = "; ".join(f"{code} = <{base} for 1 {code}>" for code in missing[:3])
    return Check(
        "exchange rates",
        WARN,
        f"no [fx] rate for {shown}: reports leave these amounts out of MRR and revenue and show them apart as "
        f"not converted; add under [fx] in arkops.toml: {fixes}",
    )


def _currencies_held(ledger: Ledger) -> dict[str, dict[str, int]]:
    """Currency -> what holds it (invoice, subscription, refund, dispute, credit note) -> how many."""
    held: dict[str, dict[str, int]] = {}

    def seen(currency: str | None, what: str) -> None:
        if currency:
            kinds = held.setdefault(currency.upper(), {})
            kinds[what] = kinds.get(what, 0) + 1

    for invoice in ledger.invoices:
        seen(invoice["currency"], "invoice")
    for sub in ledger.subscriptions.values():
        for currency in {item["currency"] for item in sub["items"]}:
            seen(currency, "subscription")
    for record, what in [
        *((r, "refund") for r in ledger.refunds),
        *((d, "dispute") for d in ledger.disputes),
        *((n, "credit note") for n in ledger.credit_notes),
    ]:
        seen(record["currency"], what)
    return held


SKIPPED_RECENT_DAYS = 30  # as long as Stripe lists events: what is older was seen and dealt with


def skipped_fields(rt: Runtime) -> Check:
    """Events applied without a field no figure needs (a name, an email, a display date) that could not be read."""
    from arkops.core.billing.ledger import skipped_fields as skipped

    since = rt.now().timestamp() - SKIPPED_RECENT_DAYS * 86400
    with rt.store.transaction(LEDGER_DB) as db:
        recent = [(event_id, entry) for event_id, entry in skipped(db) if entry["created"] >= since]
    if not recent:
        return Check("ledger fields", OK, f"no event of the last {SKIPPED_RECENT_DAYS} days had a field left out")
    shown = first_few([f"{event_id} ({entry['type']}): {', '.join(entry['fields'])}" for event_id, entry in recent])
    return Check(
        "ledger fields",
        WARN,
        f"{len(recent)} event(s) of the last {SKIPPED_RECENT_DAYS} days applied without a field no figure needs, "
        f"which could not be read (newest first): {shown}",
    )


def refunds_unlinked(rt: Runtime) -> Check:
    """Refunds not linked to their invoice (API 2025-03-31+ charges name none): the invoice shows unrefunded."""
    from arkops.core.billing.refunds import unlinked_refunds
    from arkops.money import format_money

    with rt.store.transaction(LEDGER_DB) as db:
        found = unlinked_refunds(db)
    if not found:
        return Check("refunds linked", OK, "every refund of an invoice's payment is linked to its invoice")
    shown = first_few(
        [f"{r['id']} ({format_money(r['amount'], r['currency'])} of {r.get('payment_intent')})" for r in found]
    )
    how = (
        "`arkops stripe sync` asks Stripe"
        if env("STRIPE_SECRET_KEY")
        else "set STRIPE_SECRET_KEY and run `arkops stripe sync`"
    )
    return Check(
        "refunds linked",
        WARN,
        f"{len(found)} refund(s) not linked to an invoice (their charge names none and no invoice payment was "
        f"seen): revenue counts them, `payments list` shows their invoice unrefunded; {how}: {shown}",
    )
