"""Money: integer minor units with an ISO currency; conversion with the [fx] table; display via Babel."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from arkops.errors import DataError


def exponent(currency: str) -> int:
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency.upper())


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


def format_money(minor: int | float, currency: str, locale: str = "en") -> str:
    from babel.numbers import format_currency

    value = Decimal(round(minor)).scaleb(-exponent(currency))
    return format_currency(value, currency.upper(), locale=locale)


MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency, beyond any one payment here


def currency_code(text: object, *, what: str = "currency") -> str:
    """An ISO 4217 code Babel knows, upper-cased (`eur` -> `EUR`), or DataError."""
    code = text.strip().upper() if isinstance(text, str) else ""
    if not re.fullmatch(r"[A-Z]{3}", code) or not _known(code):
        raise DataError(f"{what} {text!r} is not an ISO 4217 code (e.g. EUR)")
    return code


def _known(code: str) -> bool:
    from babel.numbers import get_currency_name

    return get_currency_name(code, locale="en") != code


class Converter:
    """Converts minor units of any currency into the reporting currency; a missing rate is exit 3.

    `[fx]` rates are against the configured currency (1 unit of the key =
    rate units of `base`); a report in another currency goes through `base`.
    """

    def __init__(self, reporting: str, rates: dict[str, float], base: str | None = None) -> None:
        self.reporting = reporting.upper()
        self.base = (base or reporting).upper()
        self.rates = {code.upper(): rate for code, rate in rates.items()}
        self._factors: dict[str, float] = {}

    def _rate_to_base(self, code: str) -> float:
        code = currency_code(code)
        if code == self.base:
            return 1.0
        rate = self.rates.get(code)
        if not rate:
            raise DataError(f"no exchange rate for {code} in [fx] of arkops.toml (rates are against {self.base})")
        return rate

    def factor(self, currency: str) -> float:
        """Multiply minor units of `currency` by this to get minor units of the reporting currency."""
        code = (currency or self.base).upper()
        if code not in self._factors:
            if code == self.reporting == self.base:
                self._factors[code] = 1.0
            else:
                value = self._rate_to_base(code) / self._rate_to_base(self.reporting)
                self._factors[code] = value * 10 ** (exponent(self.reporting) - exponent(code))
        return self._factors[code]

    def __call__(self, minor: float, currency: str) -> float:
        return minor * self.factor(currency)
