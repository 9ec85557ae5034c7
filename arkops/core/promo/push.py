"""`promo push`: the Stripe coupon and promotion code that give a code's discount at Stripe Checkout.

Plans that share one discount share one coupon (id: the code, or the code and its plans when the code
gives different discounts to different plans, since a coupon has one `percent_off`) and one promotion
code (the code itself, or `CODE-PLAN`). `applies_to.products` limits a coupon to its plans' products,
read from their `stripe_price`; without every price known the coupon applies to any product, which is
refused when that would give one plan another plan's discount. Every write goes through
`StripeWriter` with an idempotency key derived from what is sent, so a re-run or a retry creates nothing
twice; a second push finds everything in place and sends nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from arkops.clock import iso, parse_iso
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.core.promo import PROMO_DB
from arkops.core.promo.codes import CODES, Code, StripeGroup, get_code, normalize_code
from arkops.errors import DataError
from arkops.runtime import Runtime
from arkops.sources.stripe_api import StripeWriter
from arkops.text import first_few


def writer(rt: Runtime, *, live: bool, dry_run: bool) -> StripeWriter:
    billing = rt.config["billing"]
    return StripeWriter(
        timeout=billing["stripe_timeout_seconds"], delays=billing["stripe_retry_seconds"], live=live, dry_run=dry_run
    )


@dataclass
class Planned:
    plans: list[str]
    coupon: dict[str, Any]  # the coupon's creation params
    code: str  # the promotion code's text


def _products(rt: Runtime, plans: list[str], stripe: StripeWriter) -> list[str] | None:
    """The Stripe products of these plans, read from their prices; None when a plan has no `stripe_price`."""
    products = []
    for plan in plans:
        price = rt.config["plans"][plan]["stripe_price"]
        if not price:
            return None
        found = stripe.get(f"/v1/prices/{price}", what=f"reading the price of plan {plan}")
        product = found.get("product")
        product = product.get("id") if isinstance(product, dict) else product
        if not isinstance(product, str) or not product:
            raise DataError(f"Stripe price {price} (plan {plan}) names no product")
        if product not in products:
            products.append(product)
    return products


def plan_groups(rt: Runtime, code: Code, stripe: StripeWriter) -> list[Planned]:
    """The coupons the code needs: one per distinct discount."""
    if code["discounts"] is not None:
        by_discount: dict[float, list[str]] = {}
        for plan, percent in sorted(code["discounts"].items()):
            by_discount.setdefault(percent, []).append(plan)
        groups: list[tuple[list[str], dict[str, Any]]] = [
            (plans, {"percent_off": int(percent) if percent == int(percent) else percent})
            for percent, plans in by_discount.items()
        ]
    else:
        groups = [(code["plans"], {"amount_off": code["amount_off"], "currency": (code["currency"] or "").lower()})]
    several = len(groups) > 1
    every_plan = sorted(rt.config["plans"])
    out = []
    for plans, terms in groups:
        products = _products(rt, plans, stripe)
        if products is None and (several or plans != every_plan):
            missing = [p for p in plans if not rt.config["plans"][p]["stripe_price"]]
            raise DataError(
                f"{code['code']} covers only some plans, so its coupon needs applies_to.products: "
                f"set [plans.<id>] stripe_price for {', '.join(missing)} in arkops.toml"
            )
        suffix = "-" + "-".join(p.upper() for p in plans) if several else ""
        params: dict[str, Any] = {"id": code["code"] + suffix, "name": f"{code['code']} ({', '.join(plans)})", **terms}
        params["duration"] = code["duration"]
        if code["duration"] == "repeating":
            params["duration_in_months"] = code["months"]
        if code["slots"] is not None:
            params["max_redemptions"] = code["slots"]
        if code["valid_until"]:
            params["redeem_by"] = int(parse_iso(code["valid_until"]).timestamp())
        if products is not None:
            params["applies_to"] = {"products": products}
        params["metadata"] = {"arkops_code": code["code"]}
        out.append(Planned(plans, params, code["code"] + suffix))
    return out


def _key(*parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"arkops-promo-push-{parts[0]}-{digest}"


def _norm(value: Any) -> Any:
    """Stripe answers numbers; a form echo answers strings: compare them as the same decimal."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, str)):
        try:
            return Decimal(str(value)).normalize()
        except InvalidOperation:
            return str(value).lower()
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted(_norm(v) for v in value)
    return value


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


COMPARED = ("percent_off", "amount_off", "currency", "duration", "duration_in_months", "max_redemptions", "redeem_by")


def differences(existing: dict, params: dict[str, Any]) -> list[str]:
    """The terms where Stripe's coupon differs from the code's."""
    found = [
        f"{name} {existing.get(name)!r} instead of {params.get(name)!r}"
        for name in COMPARED
        if _norm(existing.get(name)) != _norm(params.get(name))
    ]
    have = (existing.get("applies_to") or {}).get("products")
    want = (params.get("applies_to") or {}).get("products")
    if _norm(have or None) != _norm(want or None):
        found.append(f"applies_to.products {have!r} instead of {want!r}")
    return found


@dataclass
class PushResult:
    code: str
    created: list[str] = field(default_factory=list)  # what was created or changed at Stripe
    planned: list[str] = field(default_factory=list)  # --dry-run: the requests, one line each
    warnings: list[str] = field(default_factory=list)


def push(rt: Runtime, code: str, *, live: bool, now: datetime) -> PushResult:
    """Create what is missing at Stripe (coupon, promotion code), update the promotion code's `active`,
    and store the Stripe ids; refuses (exit 3, nothing sent) a coupon that exists with other terms."""
    name = normalize_code(code)
    stripe = writer(rt, live=live, dry_run=rt.dry_run)
    with rt.store.transaction(PROMO_DB) as db:
        record = get_code(db, name)
    result = PushResult(name)
    planned = plan_groups(rt, record, stripe)
    if planned and "applies_to" not in planned[0].coupon:
        result.warnings.append(
            f"no plan has a stripe_price: the coupon {planned[0].coupon['id']} applies to any product"
        )
    existing_coupons = []
    for group in planned:  # every check before the first write: a refused push sends nothing
        coupon = stripe.find(f"/v1/coupons/{group.coupon['id']}", what="reading a coupon")
        if coupon is not None and (diff := differences(coupon, group.coupon)):
            raise DataError(
                f"Stripe coupon {group.coupon['id']} exists with other terms ({'; '.join(diff)}); "
                "coupons cannot change: delete it at Stripe or create a new code; nothing was sent"
            )
        existing_coupons.append(coupon)
    stored = {g["coupon"]: g for g in record.get("stripe", [])}
    groups: list[StripeGroup] = []
    for group, coupon in zip(planned, existing_coupons, strict=True):
        coupon_id = group.coupon["id"]
        if coupon is None:
            stripe.post(
                "/v1/coupons",
                group.coupon,
                idempotency_key=_key(name, "coupon", group.coupon),
                what="creating a coupon",
            )
            result.created.append(f"coupon {coupon_id}")
        known = stored.get(coupon_id)
        promo_id = known["promotion_code"] if known else None
        promo = stripe.find(f"/v1/promotion_codes/{promo_id}", what="reading a promotion code") if promo_id else None
        if promo is None:
            params: dict[str, Any] = {"promotion": {"type": "coupon", "coupon": coupon_id}, "code": group.code}
            if record["valid_until"]:
                params["expires_at"] = int(parse_iso(record["valid_until"]).timestamp())
            params["active"] = record["active"]
            params["metadata"] = {"arkops_code": name}
            made = stripe.post(
                "/v1/promotion_codes",
                params,
                idempotency_key=_key(name, "promotion_code", params),
                what="creating a promotion code",
            )
            promo_id = made.get("id") if made else None
            result.created.append(f"promotion code {group.code}")
        elif _flag(promo.get("active")) != record["active"]:
            stripe.post(
                f"/v1/promotion_codes/{promo_id}",
                {"active": record["active"]},
                idempotency_key=_key(name, "active", promo_id, record["active"], record.get("active_since")),
                what="updating a promotion code",
            )
            result.created.append(f"promotion code {group.code} {'enabled' if record['active'] else 'disabled'}")
        groups.append(
            {
                "plans": group.plans,
                "coupon": coupon_id,
                "promotion_code": promo_id,
                "code": group.code,
                "active": record["active"],
            }
        )
    result.planned = [request.line() for request in stripe.planned]
    if not rt.dry_run and record.get("stripe") != groups:
        remember_groups(rt, name, groups, now=now)
    return result


def remember_groups(rt: Runtime, code: str, groups: list[StripeGroup], *, now: datetime) -> None:
    """Store the Stripe ids of a code's coupons and promotion codes (what the ledger's discounts name)."""
    with rt.store.transaction(PROMO_DB) as db:
        current = get_code(db, code)
        CODES.put(db, current["code"], {**current, "stripe": groups, "pushed_at": cast(str, iso(now))})


def coupons_check(rt: Runtime) -> Check:
    """doctor --stripe: every pushed code's coupon exists at Stripe with the code's terms."""
    if not rt.store.path(PROMO_DB).exists():
        return Check("promo coupons", OK, "no promo codes")
    with rt.store.transaction(PROMO_DB) as db:
        records = [record for _, record in sorted(CODES.items(db))]
    if not records:
        return Check("promo coupons", OK, "no promo codes")
    stripe = writer(rt, live=False, dry_run=True)  # reads only
    problems, unpushed = [], []
    for record in records:
        if not record.get("stripe"):
            unpushed.append(record["code"])
            continue
        try:
            planned = plan_groups(rt, record, stripe)
        except DataError as exc:
            problems.append(f"{record['code']}: {exc}")
            continue
        for group in planned:
            coupon = stripe.find(f"/v1/coupons/{group.coupon['id']}", what="reading a coupon")
            if coupon is None:
                problems.append(f"{record['code']}: coupon {group.coupon['id']} missing at Stripe")
            elif diff := differences(coupon, group.coupon):
                problems.append(f"{record['code']}: coupon {group.coupon['id']} differs ({'; '.join(diff)})")
    if problems:
        return Check("promo coupons", FAIL, first_few(problems) + " (run `arkops promo push CODE`)")
    if unpushed:
        return Check("promo coupons", WARN, f"not pushed to Stripe yet: {first_few(unpushed)}")
    return Check("promo coupons", OK, f"{len(records)} codes match their Stripe coupons")
