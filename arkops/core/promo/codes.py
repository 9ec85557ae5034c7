"""Promo code records, and the checks every input passes before one is written.

A code is stored upper-case (letters, digits, - and _), with a percentage per plan or a fixed amount off
(for the plans in its currency), a duration as Stripe coupons have one (`once`, `repeating` for N months,
`forever`), optional slots and a validity window (stored in UTC, given in the configured time zone).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NotRequired, TypedDict, cast

from arkops.clock import iso
from arkops.core.promo import PROMO_DB
from arkops.errors import DataError
from arkops.money import currency_code, format_money
from arkops.runtime import Runtime
from arkops.store import Db
from arkops.store.tables import Table


class StripeGroup(TypedDict):
    """One Stripe coupon and its promotion code: the plans that share one discount."""

    plans: list[str]
    coupon: str
    promotion_code: str | None  # promo_...
    code: str  # the promotion code customers type at Stripe
    active: bool


class Code(TypedDict):
    code: str
    discounts: dict[str, float] | None  # plan -> percent off
    amount_off: int | None  # minor units of `currency`, for each plan in `plans`
    currency: str | None
    plans: list[str]  # the plans it covers
    duration: str  # once, repeating or forever
    months: int | None  # for repeating
    slots: int | None  # None: unlimited
    valid_from: str | None  # ISO 8601 UTC
    valid_until: str | None  # exclusive
    active: bool
    created_at: str
    counter_files: list[str]  # absolute paths `promo remaining --write` registered
    stripe: NotRequired[list[StripeGroup]]
    pushed_at: NotRequired[str]
    active_since: NotRequired[str]  # when it was last enabled or disabled (names the Stripe update of `active`)


class Event(TypedDict):
    what: str  # redeemed or released
    at: str
    plan: str


class Redemption(TypedDict):
    code: str
    email: str
    plan: str
    locale: str
    state: str  # redeemed or released
    redeemed_at: str
    released_at: str | None
    confirmation_queued: bool
    events: list[Event]


CODES = Table[Code]("codes")
REDEMPTIONS = Table[Redemption]("redemptions")


def redemption_key(code: str, email: str) -> str:
    return f"{code}:{email}"


def normalize_code(text: object) -> str:
    code = text.strip().upper() if isinstance(text, str) else ""
    if not re.fullmatch(r"[A-Z0-9_-]{1,40}", code):
        raise DataError(f"code {text!r}: use 1-40 letters, digits, - or _")
    return code


def check_plan(rt: Runtime, plan: object) -> str:
    plans = rt.config["plans"]
    if not isinstance(plan, str) or plan not in plans:
        raise DataError(f"plan {plan!r} is not a configured plan ({', '.join(sorted(plans))})")
    return plan


def parse_percent(text: str, what: str) -> float:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise DataError(f"{what}: {text!r} is not a percentage") from None
    if not value.is_finite() or not 0 < value <= 100 or value != value.quantize(Decimal("0.01")):
        raise DataError(f"{what}: {text!r} must be more than 0 and at most 100, with at most 2 decimals")
    return float(value)


def percent_text(text: str) -> float:
    """A discount's percentage as an option gives it (`--discount pro=20`), or DataError."""
    return parse_percent(text, "percent")


def parse_discounts(rt: Runtime, given: list[str]) -> dict[str, float]:
    """`starter=25` pairs: each plan once, each a configured plan."""
    out: dict[str, float] = {}
    for pair in given:
        plan, sep, percent = pair.partition("=")
        if not sep:
            raise DataError(f"--discount {pair!r}: write PLAN=PERCENT, e.g. starter=25")
        plan = check_plan(rt, plan.strip())
        if plan in out:
            raise DataError(f"--discount: plan {plan!r} given twice")
        out[plan] = parse_percent(percent, f"--discount {plan}")
    return out


def new_code(
    rt: Runtime,
    code: str,
    *,
    discounts: list[str],
    amount_off: int | None,
    currency: str | None,
    plans: list[str],
    months: int | None,
    forever: bool,
    slots: int | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    now: datetime,
) -> Code:
    """A code record from the options of `promo create`, or DataError (one line) for the first value that does not
    fit the configuration. The command has checked their combination: percentages per plan (`discounts`) or an
    amount off in a currency; `months` (a repeating discount, 1 to 36), `forever`, or neither (once)."""
    name = normalize_code(code)
    percent: dict[str, float] = {}
    if amount_off is None:
        percent = parse_discounts(rt, discounts)
        covered, code_currency = sorted(percent), None
    else:
        covered, code_currency = _amount_plans(rt, currency or "", plans)
    if valid_from and valid_until and valid_until <= valid_from:
        raise DataError("--valid-until must be after --valid-from")
    return {
        "code": name,
        "discounts": percent or None,
        "amount_off": amount_off,
        "currency": code_currency,
        "plans": covered,
        "duration": "repeating" if months is not None else "forever" if forever else "once",
        "months": months,
        "slots": slots,
        "valid_from": iso(valid_from),
        "valid_until": iso(valid_until),
        "active": True,
        "created_at": cast(str, iso(now)),
        "counter_files": [],
    }


def _amount_plans(rt: Runtime, currency: str, plans: list[str]) -> tuple[list[str], str]:
    """The plans an amount off covers (those named, else every plan) and its currency: each plan priced in it."""
    code_currency = currency_code(currency, what="--currency")
    wanted = [check_plan(rt, p) for p in plans] if plans else sorted(rt.config["plans"])
    covered = sorted({p for p in wanted if rt.config["plans"][p]["currency"] == code_currency})
    other = sorted(set(wanted) - set(covered))
    if plans and other:
        raise DataError(
            f"--amount-off in {code_currency} cannot apply to {', '.join(other)} (priced in another currency)"
        )
    if not covered:
        raise DataError(f"no plan is priced in {code_currency}")
    return covered, code_currency


def create(rt: Runtime, record: Code) -> None:
    with rt.store.transaction(PROMO_DB) as db:
        if CODES.get(db, record["code"]) is not None:
            raise DataError(f"promo code {record['code']} already exists (codes cannot change once created)")
        CODES.put(db, record["code"], record)


def get_code(db: Db, code: str) -> Code:
    found = CODES.get(db, normalize_code(code))
    if found is None:
        raise DataError(f"unknown promo code {normalize_code(code)}")
    return found


def set_active(rt: Runtime, code: str, active: bool, *, now: datetime) -> bool:
    """Enable or disable a code (`promo push` then updates its Stripe promotion code); False when it already was."""
    with rt.store.transaction(PROMO_DB) as db:
        record = get_code(db, code)
        if record["active"] == active:
            return False
        CODES.put(db, record["code"], {**record, "active": active, "active_since": cast(str, iso(now))})
        return True


def plan_price(rt: Runtime, plan: str) -> tuple[int, str, str]:
    """(price in minor units, currency, interval) from arkops.toml."""
    settings = rt.config["plans"][plan]
    return settings["price"], settings["currency"], settings["interval"]


def discounted(code: Code, price: int, currency: str, plan: str) -> int:
    if code["discounts"] is not None:
        percent = code["discounts"].get(plan, 0)
        return int((Decimal(price) * (Decimal(100) - Decimal(str(percent))) / 100).quantize(Decimal(1)))
    if code["currency"] != currency:
        return price
    return max(price - (code["amount_off"] or 0), 0)


def discount_text(code: Code, plan: str | None = None, locale: str = "en") -> str:
    """`25 %` (for the plan, or each plan), or `€5.00`."""
    if code["discounts"] is not None:
        if plan is not None:
            return f"{code['discounts'][plan]:g} %"
        return ", ".join(f"{p} {v:g} %" for p, v in sorted(code["discounts"].items()))
    return format_money(code["amount_off"] or 0, code["currency"] or "EUR", locale)


DURATION_WORDS = {
    "en": {"once": "your first invoice", "forever": "as long as you subscribe", "month": "month", "months": "months"},
    "fr": {
        "once": "votre première facture",
        "forever": "toute la durée de votre abonnement",
        "month": "mois",
        "months": "mois",
    },
}


def duration_text(code: Code, locale: str = "en") -> str:
    words = DURATION_WORDS.get(locale, DURATION_WORDS["en"])
    if code["duration"] == "repeating":
        months = code["months"] or 0
        return f"{months} {words['month'] if months == 1 else words['months']}"
    return words[code["duration"]]


def settings_row(code: Code) -> dict[str, Any]:
    return {
        "code": code["code"],
        "discount": discount_text(code),
        "plans": code["plans"],
        "duration": code["duration"] if code["duration"] != "repeating" else f"{code['months']} months",
        "slots": code["slots"],
        "valid_from": code["valid_from"],
        "valid_until": code["valid_until"],
        "active": code["active"],
        "stripe": [g["promotion_code"] for g in code.get("stripe", [])] or None,
    }
