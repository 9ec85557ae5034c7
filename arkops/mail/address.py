"""Address and header validation: one address per field, no line breaks, IDN domains.

The policy (docs/messaging.md, "Addresses"): every address is checked for syntax and
header injection. Only customer addresses that come from outside (signups,
imports, Stripe) must also be on a globally deliverable domain, unless
`[mail] allow_local_domains` is set for a staging setup. Operator, sender and
hand-typed test addresses accept any syntactically valid address, including
`root@localhost`, `ops@corp.local` or `owner@arkops.test`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from arkops.errors import DataError

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_STAND_IN = "example.com"  # a deliverable domain, to check the local part of an address on a local domain


def check_header(value: str, field: str) -> str:
    if "\r" in value or "\n" in value:
        raise DataError(f"{field}: line breaks are not allowed in an email header")
    return value


def _validate(candidate: str, field: str, shown: str | None = None):  # -> email_validator.ValidatedEmail
    outcome = _validated(candidate)
    if isinstance(outcome, Exception):
        raise DataError(f"{field}: {(shown or candidate)!r} is not a valid email address ({outcome})") from None
    return outcome


@lru_cache(maxsize=1 << 16)
def _validated(candidate: str):  # -> email_validator.ValidatedEmail | EmailNotValidError
    """email_validator's verdict, once per distinct address in a process: an import of 10,000 trials and
    their activity names each address many times, and validation was most of its cost."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        return exc


def _clean(address: object, field: str) -> str:
    if not isinstance(address, str):
        raise DataError(f"{field}: {address!r} is not an email address")
    check_header(address, field)
    return address.strip()


def normalize_customer_address(address: object, *, field: str = "email", allow_local_domains: bool = False) -> str:
    """A customer's address from outside: valid syntax on a globally deliverable domain (ASCII domain where possible)."""
    candidate = _clean(address, field)
    if allow_local_domains:
        return normalize_address(candidate, field=field)
    valid = _validate(candidate, field)
    return valid.ascii_email or valid.normalized


def normalize_email(email: object, *, allow_local_domains: bool = True) -> str:
    """A person's address as the key of their records (one person, one trial, one redemption): trimmed,
    lower-cased, validated. An address from outside (a signup, a redemption) also passes the customer policy,
    a globally deliverable domain unless `[mail] allow_local_domains`; looking a person up needs only the syntax."""
    if not isinstance(email, str) or not email.strip():
        raise DataError(f"email: {email!r} is not an email address")
    candidate = email.strip().lower()
    return normalize_customer_address(candidate, field="email", allow_local_domains=allow_local_domains).lower()


def normalize_address(address: object, *, field: str = "to") -> str:
    """An operator, sender or hand-typed address: valid syntax, any domain (`root@localhost` included)."""
    candidate = _clean(address, field)
    local, at, domain = candidate.rpartition("@")
    if at and _is_local_domain(domain):
        valid = _validate(f"{local}@{_STAND_IN}", field, candidate)  # the local part, by the same rules
        return f"{valid.local_part}@{domain.lower()}"
    valid = _validate(candidate, field)
    return valid.ascii_email or valid.normalized


def _is_local_domain(domain: str) -> bool:
    """A syntactically valid domain that email_validator refuses as special-use (localhost, .local, .test, ...)."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    labels = domain.lower().split(".")
    if not all(_LABEL.match(label) for label in labels) or len(domain) > 253:
        return False
    return len(labels) == 1 or any(
        domain.lower() == name or domain.lower().endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES
    )
