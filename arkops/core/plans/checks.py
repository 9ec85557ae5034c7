"""The plans domain's `doctor` checks: usage data fresh and matching the limits; with `--stripe`, each plan's price."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from arkops.clock import parse_iso
from arkops.config import env, stripe_key_problem
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.core.plans import USAGE_DB
from arkops.errors import ArkopsError
from arkops.runtime import Runtime
from arkops.text import first_few


def usage_data(rt: Runtime) -> list[Check]:
    from arkops.core.plans.usage import USAGE

    limited = {metric for plan in rt.config["plans"].values() for metric in plan["limits"]}
    with rt.store.transaction(USAGE_DB) as db:
        values = USAGE.values(db)
    if not values:
        if not limited:
            return [Check("usage", OK, "no plan has limits and no usage is recorded")]
        return [Check("usage", WARN, "no usage recorded yet: quotas cannot be checked (`arkops usage import`)")]
    checks = []
    newest = max(v["at"] for v in values)
    age = rt.now() - parse_iso(newest)
    stale = timedelta(hours=rt.config["usage"]["stale_hours"])
    if age > stale:
        checks.append(
            Check(
                "usage fresh",
                WARN,
                f"the newest usage record is from {newest}, older than {stale.days * 24 + stale.seconds // 3600} h",
            )
        )
    else:
        checks.append(Check("usage fresh", OK, f"newest usage record {newest}"))
    recorded = {v["metric"] for v in values}
    unknown, unseen = sorted(recorded - limited), sorted(limited - recorded)
    if unknown or unseen:
        parts = []
        if unknown:
            parts.append(f"recorded but no plan limits them: {', '.join(unknown)}")
        if unseen:
            parts.append(f"limited but never recorded: {', '.join(unseen)}")
        checks.append(Check("usage metrics", WARN, "; ".join(parts)))
    else:
        checks.append(Check("usage metrics", OK, f"{len(recorded)} metrics, each limited by a plan"))
    return checks


def stripe_prices(rt: Runtime) -> Check:
    """Each paid plan's Stripe price exists and bills the configured amount, currency and interval."""
    from arkops.core.plans.catalog import plans
    from arkops.sources.stripe_api import StripeRejected, call, client

    if not env("STRIPE_SECRET_KEY"):
        return Check("stripe prices", WARN, "STRIPE_SECRET_KEY not set: plan prices not checked")
    problem = stripe_key_problem(env("STRIPE_SECRET_KEY"))
    if problem:
        return Check("stripe prices", FAIL, f"not checked: {problem}")
    settings = rt.config["billing"]
    stripe = client(timeout=settings["stripe_timeout_seconds"])
    problems, checked = [], 0
    for plan in plans(rt).values():
        if plan.free:
            continue
        if not plan.stripe_price:
            problems.append(f"{plan.id}: no Stripe price (run `arkops billing plans push`)")
            continue
        try:
            price = call(
                partial(stripe.raw_request, "get", f"/v1/prices/{plan.stripe_price}"),
                what=f"reading price {plan.stripe_price}",
                delays=settings["stripe_retry_seconds"],
            ).data
        except StripeRejected as exc:
            problems.append(f"{plan.id}: {plan.stripe_price} {'does not exist' if exc.status == 404 else exc}")
            continue
        except ArkopsError as exc:
            return Check("stripe prices", FAIL, str(exc))
        checked += 1
        recurring = price.get("recurring") or {}
        billed = (price.get("unit_amount"), str(price.get("currency", "")).upper(), recurring.get("interval"))
        wanted = (plan.price, plan.currency, plan.interval)
        if billed != wanted:
            problems.append(
                f"{plan.id}: {plan.stripe_price} bills {billed[0]} {billed[1]}/{billed[2]}, arkops.toml says {wanted[0]} {wanted[1]}/{wanted[2]}"
            )
    if problems:
        return Check("stripe prices", FAIL, first_few(problems))
    return Check("stripe prices", OK, f"{checked} plan prices match arkops.toml")


def usage_files(rt: Runtime) -> list[Check]:
    """The app's usage files `usage-check` follows: readable, and written lately."""
    from arkops.core.watch import freshness_checks

    config = rt.config["usage"]
    return freshness_checks(rt, {"usage files": config["files"]}, config["stale_hours"])
