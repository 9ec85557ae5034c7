"""Reading Stripe objects: every field the ledger keeps is checked once, here, as it comes in.

Stripe sends well-formed objects, but webhooks, imports and local test
servers may not. A field a figure needs (an amount, a currency, a status, a
price's terms, when money moved) of the wrong type or outside Stripe's own
bounds is a `BadField` naming the object and the field: the event is refused
(exit 3 or HTTP 400), never a crash later in a report. A field no figure
needs (a name, an email, an attempt count, a display date) is read through
`optional`: a bad value is skipped and recorded, and the event is applied
without it (`skipping` collects what was skipped while one event is applied).

Bounds are Stripe's own (its OpenAPI specification): strings of at most
5,000 characters, integers in int64, `percent_off` above 0 up to 100.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from arkops.clock import from_seconds
from arkops.errors import DataError
from arkops.money import currency_code

MAX_TEXT = 5000  # Stripe's maxLength on the strings of its objects (ids, emails, names, statuses)
# Stripe's integers (amounts, quantities, package sizes, tier bounds, attempt counts) are int64 in its API
# reference, with no smaller bound published: metered bytes billed per GB divide by 1,000,000,000.
MAX_COUNT = 2**63 - 1
MAX_AMOUNT = MAX_COUNT  # minor units

T = TypeVar("T")


class BadField(DataError):
    """A field of a Stripe object that cannot be read: `where` (object and field) and `reason`, without the
    value, which may be personal data (what `skipping` records)."""

    def __init__(self, obj: dict, key: str, value: object, reason: str) -> None:
        self.where, self.reason = _where(obj, key), reason
        super().__init__(f"{self.where}: {value!r} {reason}")


_skipped: ContextVar[list[str] | None] = ContextVar("skipped_fields", default=None)


@contextmanager
def skipping() -> Iterator[list[str]]:
    """Collect, as `object id: field (reason)`, the optional fields skipped inside the block (`optional`)."""
    found: list[str] = []
    token = _skipped.set(found)
    try:
        yield found
    finally:
        _skipped.reset(token)


def optional(read: Callable[..., T], obj: dict, key: str, *args: Any) -> T:
    """`read(obj, key, ...)` of a field no figure needs: a bad value is recorded (see `skipping`) and the field
    reads as missing, so it never stops the event that carries it."""
    try:
        return read(obj, key, *args)
    except BadField as exc:
        _record(exc)
        return read({**obj, key: None}, key, *args)


def optional_part(read: Callable[[], T], default: T) -> T:
    """`read()` of a part of an object no figure needs (an invoice's lines): a bad field in it is recorded (see
    `skipping`) and the part reads as `default`."""
    try:
        return read()
    except BadField as exc:
        _record(exc)
        return default


def _record(exc: BadField) -> None:
    found = _skipped.get()
    if found is not None:
        found.append(f"{exc.where} ({exc.reason})")


def _where(obj: dict, key: str) -> str:
    kind = obj.get("object") if isinstance(obj.get("object"), str) else "object"
    name = obj.get("id") if isinstance(obj.get("id"), str) and len(obj["id"]) <= 255 else "?"
    return f"{kind} {name}: {key}"


def table(obj: dict, key: str) -> dict:
    """A nested object; a missing or null one is empty."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadField(obj, key, value, "is not an object")
    return value


def listing(obj: dict, key: str) -> list[dict]:
    """A list of objects, or a Stripe list object's `data`; missing is empty."""
    value = obj.get(key)
    if isinstance(value, dict):
        value = value.get("data")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BadField(obj, key, value, "is not a list of objects")
    return value


def text(obj: dict, key: str) -> str | None:
    """Printable text on one line (ids, emails, names, statuses); missing or empty is None."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise BadField(obj, key, value, "is not text on one line")
    return value


def ident(obj: dict, key: str) -> str | None:
    """An id, or the id of an expanded object (`customer` may be "cus_1" or {"id": "cus_1", ...})."""
    value = obj.get(key)
    if isinstance(value, dict):
        return text(value, "id")
    return text(obj, key)


def amount(obj: dict, key: str) -> int:
    """Whole minor units, 0 to MAX_AMOUNT; missing is 0."""
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise BadField(obj, key, value, "is not an amount in minor units")
    return value


def count(obj: dict, key: str, default: int) -> int:
    """A whole number from 0 to Stripe's int64 bound (quantities, package sizes, attempts, interval counts);
    missing is `default`."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise BadField(obj, key, value, "is not a count")
    return value


def percent(obj: dict, key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        raise BadField(obj, key, value, "is not a percentage")
    return float(value)


def currency(obj: dict, key: str, fallback: str = "") -> str:
    """An ISO 4217 code, upper-cased; missing is `fallback`."""
    value = obj.get(key)
    if value is None or value == "":
        return fallback
    try:
        return currency_code(value)
    except DataError:
        raise BadField(obj, key, value, "is not an ISO 4217 code of a currency") from None


def moment(obj: dict, key: str) -> int | None:
    """Unix seconds between 1970 and 2100; missing is None."""
    value = obj.get(key)
    if value is None:
        return None
    try:
        return int(from_seconds(value, what="").timestamp())
    except DataError as exc:
        raise BadField(obj, key, value, str(exc).partition(f"{value!r} ")[2]) from None


def choice(obj: dict, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = text(obj, key) or default
    if value not in allowed:
        raise BadField(obj, key, value, f"is not one of {', '.join(allowed)}")
    return value


def flag(obj: dict, key: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadField(obj, key, value, "is not true or false")
    return value


def require_id(obj: Any, what: str) -> str:
    if not isinstance(obj, dict):
        raise DataError(f"{what}: {obj!r} is not an object")
    found = text(obj, "id")
    if found is None:
        raise DataError(f"{what}: has no id")
    return found


def decimal_amount(obj: dict, key: str) -> str | None:
    """A decimal string of minor units (`unit_amount_decimal`, "1.2345" = 0.012345 EUR), 0 to MAX_AMOUNT, up to
    12 decimals; missing is None. Kept as text so nothing is lost to floats in the ledger."""
    from decimal import Decimal, InvalidOperation

    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadField(obj, key, value, "is not a decimal amount in minor units")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadField(obj, key, value, "is not a decimal amount in minor units") from None
    if not number.is_finite() or not 0 <= number <= MAX_AMOUNT or -number.as_tuple().exponent > 12:  # type: ignore[operator]
        raise BadField(obj, key, value, "is not a decimal amount in minor units")
    return format(number.normalize(), "f")


def signed_amount(obj: dict, key: str) -> int:
    """Whole minor units, -MAX_AMOUNT to MAX_AMOUNT (balance movements); missing is 0."""
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not -MAX_AMOUNT <= value <= MAX_AMOUNT:
        raise BadField(obj, key, value, "is not an amount in minor units")
    return value


def ident_list(obj: dict, key: str) -> list[str | dict]:
    """A list of ids or expanded objects (`discounts` of a subscription or item); missing or null is empty."""
    value = obj.get(key)
    if isinstance(value, dict) and "data" in value:
        value = value.get("data")
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadField(obj, key, value, "is not a list")
    out: list[str | dict] = []
    for entry in value:
        if isinstance(entry, dict):
            require_id(entry, _where(obj, key))
            out.append(entry)
        elif isinstance(entry, str) and entry and len(entry) <= MAX_TEXT and entry.isprintable():
            out.append(entry)
        else:
            raise BadField(obj, key, entry, "is not an id or an object")
    return out
