"""The billing domain's `doctor` checks: Stripe settings, and with `--stripe` a call to the API."""

from __future__ import annotations

import re

from arkops.config import env, placeholder_problem, stripe_key_problem
from arkops.core.billing import LEDGER_DB
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.errors import ArkopsError, mask
from arkops.runtime import Runtime
from arkops.text import first_few


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

    compared, found = disagreements(load(rt))
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
