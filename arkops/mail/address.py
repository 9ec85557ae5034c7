"""Address and header validation: one address per field, no line breaks, IDN domains."""

from __future__ import annotations

from arkops.errors import DataError


def check_header(value: str, field: str) -> str:
    if "\r" in value or "\n" in value:
        raise DataError(f"{field}: line breaks are not allowed in an email header")
    return value


def normalize_address(address: str, *, field: str = "to") -> str:
    """Return the address in the form to send to (ASCII domain where possible), or raise DataError."""
    if not isinstance(address, str):
        raise DataError(f"{field}: {address!r} is not an email address")
    check_header(address, field)
    from email_validator import EmailNotValidError, validate_email

    candidate = address.strip()
    try:
        valid = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise DataError(f"{field}: {candidate!r} is not a valid email address ({exc})") from None
    return valid.ascii_email or valid.normalized
