"""Money: integer minor units with an ISO currency; conversion with the [fx] table; display via Babel."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import cache

from arkops.errors import DataError

# Minor units as Stripe counts them (docs.stripe.com/currencies), which every amount in the ledger is: these
# are zero-decimal, these three-decimal, every other currency two-decimal. CLDR's digits (Babel's
# `get_currency_precision`) say how people write amounts and differ for some: ISK, HUF and IDR are written
# without decimals, yet Stripe's `100` is 1 ISK (it kept two decimals for backwards compatibility).
ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


def exponent(currency: str) -> int:
    """How many decimals a currency's minor unit has, as Stripe counts them (JPY 0, EUR 2, KWD 3)."""
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def to_minor(amount: object, currency: str, *, what: str = "amount") -> int:
    """Major units (29.90, "29.90") to integer minor units, exactly."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise DataError(f"{what}: {amount!r} is not a number") from None
    if not value.is_finite():
        raise DataError(f"{what}: {amount!r} is not a number")
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise DataError(f"{what}: {amount!r} has more decimals than {currency.upper()} allows")
    return int(minor)


def format_money(minor: int | float, currency: str, locale: str = "en", *, code: bool = False) -> str:
    """`€29.90` for 2990 EUR in English (`29,90 €` in French); with `code`, `EUR 29.90` (an amount whose
    currency the reader must act on, as one without an [fx] rate)."""
    from babel.numbers import format_currency

    value = Decimal(round(minor)).scaleb(-exponent(currency))
    return format_currency(value, currency.upper(), "¤¤\u00a0#,##0.00" if code else None, locale=locale)


MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency, beyond any one payment here


def currency_code(text: object, *, what: str = "currency") -> str:
    """An ISO 4217 code of a real currency, upper-cased (`eur` -> `EUR`), or DataError.

    Real: legal tender in some country now or at some time, by CLDR's territory data in Babel (so a
    kuna of an old invoice is one). The codes ISO 4217 keeps for other things are refused: XXX (no
    currency), XTS (testing), gold and silver (XAU, XAG), the SDR (XDR), fund and bond units.
    """
    code = text.strip().upper() if isinstance(text, str) else ""
    if code not in tender_currencies():
        raise DataError(f"{what} {text!r} is not an ISO 4217 code of a currency (e.g. EUR)")
    return code


@cache
def tender_currencies() -> frozenset[str]:
    from babel.core import get_global

    territories = get_global("territory_currencies")
    return frozenset(code for entries in territories.values() for code, _, _, tender in entries if tender)


class Converter:
    """Converts minor units of any currency into the reporting currency through `[fx]`.

    `[fx]` rates are against the configured currency (1 unit of the key =
    rate units of `base`); a report in another currency goes through `base`.
    An amount in a currency without a rate counts as 0 in every figure and
    its currency is kept in `missing`: the report shows such amounts apart
    (`not_converted` of `arkops.core.billing.report`) and doctor names the
    rate to add. A report currency without a rate is refused (exit 3).
    """

    def __init__(self, reporting: str, rates: dict[str, float], base: str | None = None) -> None:
        self.reporting = currency_code(reporting, what="reporting currency")
        self.base = currency_code(base or reporting, what="currency of arkops.toml")
        self.rates = {code.upper(): rate for code, rate in rates.items()}
        self._factors: dict[str, float] = {}
        self.missing: set[str] = set()
        if self._rate_to_base(self.reporting) is None:
            raise DataError(
                f"no exchange rate for {self.reporting} in [fx] of arkops.toml (rates are against {self.base})"
            )

    def _rate_to_base(self, code: str) -> float | None:
        if code == self.base:
            return 1.0
        return self.rates.get(code) or None

    def factor(self, currency: str) -> float:
        """Multiply minor units of `currency` by this to get minor units of the reporting currency (0 without
        a rate)."""
        code = (currency or self.base).upper()
        if code not in self._factors:
            rate = self._rate_to_base(code)
            if code == self.reporting == self.base:
                self._factors[code] = 1.0
            elif rate is None:
                self.missing.add(code)
                self._factors[code] = 0.0
            else:
                value = rate / (self._rate_to_base(self.reporting) or 1.0)
                self._factors[code] = value * 10 ** (exponent(self.reporting) - exponent(code))
        return self._factors[code]

    def __call__(self, minor: float, currency: str) -> float:
        return minor * self.factor(currency)


def only_in(currency: str) -> Callable[[float, str], float]:
    """Amounts of `currency` as they are and every other as 0: a figure's part in one currency."""
    code = currency.upper()
    return lambda minor, other: minor if (other or "").upper() == code else 0.0
