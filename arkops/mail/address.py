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


def normalize_customer_address(
    address: object, *, field: str = "email", allow_local_domains: bool = False, force: bool = False
) -> str:
    """A customer's address from outside: valid syntax on a globally deliverable domain (ASCII domain where
    possible), whose top-level domain exists and which is not a typo of a very common provider (`force` lets
    those two through: the operator checked it)."""
    candidate = _clean(address, field)
    if allow_local_domains and is_local_domain(candidate.rpartition("@")[2]):
        return normalize_address(candidate, field=field)
    valid = _validate(candidate, field)
    if not force:
        check_domain(valid.ascii_domain, field, candidate)
    return valid.ascii_email or valid.normalized


def normalize_email(
    email: object, *, allow_local_domains: bool = True, intake: bool = False, force: bool = False
) -> str:
    """A person's address as the key of their records (one person, one trial, one redemption): trimmed,
    lower-cased, validated. An address coming in from outside (`intake`: a signup, a redemption) also passes
    the customer policy (`normalize_customer_address`); looking a person up needs only the syntax, on a
    globally deliverable domain unless `allow_local_domains`."""
    if not isinstance(email, str) or not email.strip():
        raise DataError(f"email: {email!r} is not an email address")
    candidate = email.strip().lower()
    if intake:
        return normalize_customer_address(
            candidate, field="email", allow_local_domains=allow_local_domains, force=force
        ).lower()
    if allow_local_domains and is_local_domain(candidate.rpartition("@")[2]):
        return normalize_address(candidate, field="email").lower()
    valid = _validate(candidate, "email")
    return (valid.ascii_email or valid.normalized).lower()


# Very common mailbox providers: a domain one edit away from one of these (gmial.com, gmail.con, hotmial.com)
# is a typo far more often than a real domain. Short names (aol, msn, gmx, me, qq) are left out on purpose:
# one edit from them lands on too many real domains.
COMMON_PROVIDERS = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.fr",
    "yahoo.co.uk",
    "hotmail.com",
    "hotmail.fr",
    "hotmail.co.uk",
    "outlook.com",
    "outlook.fr",
    "icloud.com",
    "protonmail.com",
    "orange.fr",
    "wanadoo.fr",
    "laposte.net",
    "comcast.net",
)
# Real mailbox domains one edit away from a provider above (ymail.com is Yahoo's, mail.com and email.com are
# providers of their own).
REAL_NEIGHBOURS = frozenset({"mail.com", "email.com", "ymail.com", "cloud.com"})
# Names reserved for documentation and testing (RFC 2606, RFC 6761): never in the public-suffix list, never a
# typo; whether one may be mailed is the deliverability policy's call (`allow_local_domains`), not this check's.
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})
COMMON_TLDS = ("com", "net", "org", "fr", "de", "io", "co", "uk", "be", "ch", "ca", "es", "it", "nl")


def check_domain(domain: str, field: str, shown: str) -> None:
    """DataError, with a "did you mean", for a domain that is a common provider's typo or whose top-level
    domain does not exist (the public-suffix list's ICANN section, bundled with the `publicsuffixlist`
    package: no network)."""
    domain = domain.lower().rstrip(".")
    name, _, tld = domain.rpartition(".")
    suggestion = provider_typo(domain)
    if suggestion:
        raise DataError(f"{field}: {shown!r} looks mistyped: did you mean {suggestion}?")
    if tld not in top_level_domains() and tld not in RESERVED_TLDS:
        near = [known for known in COMMON_TLDS if _one_edit(tld, known)]
        hint = f" (did you mean {name}.{near[0]}?)" if near else ""
        raise DataError(f"{field}: {shown!r}: .{tld} is not a top-level domain{hint}")


def provider_typo(domain: str) -> str | None:
    """The common provider `domain` is a typo of: its name and its suffix each equal or one edit away, not both equal."""
    if domain in COMMON_PROVIDERS or domain in REAL_NEIGHBOURS:
        return None
    typed_name, _, typed_suffix = domain.partition(".")
    for provider in COMMON_PROVIDERS:
        name, _, suffix = provider.partition(".")
        same_name, same_suffix = typed_name == name, typed_suffix == suffix
        if (same_name or _one_edit(typed_name, name)) and (same_suffix or _one_edit(typed_suffix, suffix)):
            return provider
    return None


def _one_edit(typed: str, word: str) -> bool:
    """One insertion, deletion, substitution or swap of two neighbours turns `typed` into `word`."""
    if typed == word or abs(len(typed) - len(word)) > 1:
        return False
    if len(typed) == len(word):
        differ = [i for i in range(len(word)) if typed[i] != word[i]]
        if len(differ) == 1:
            return True
        first, second = [*differ, 0, 0][:2]
        return (
            len(differ) == 2 and second == first + 1 and typed[first] == word[second] and typed[second] == word[first]
        )
    shorter, longer = sorted((typed, word), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


@lru_cache(maxsize=1)
def top_level_domains() -> frozenset[str]:
    """Every top-level domain in the ICANN section of the public-suffix list the `publicsuffixlist` package
    ships (updated with each of its releases), in ASCII (punycode) form."""
    from publicsuffixlist import PSLFILE

    found: set[str] = set()
    with open(PSLFILE, encoding="utf-8") as source:
        icann = False
        for line in source:
            rule = line.strip()
            if rule.startswith("// ===BEGIN ICANN"):
                icann = True
            elif rule.startswith("// ===END ICANN"):
                break
            elif icann and rule and not rule.startswith("//") and "." not in rule:
                label = rule.lstrip("*.!")
                found.add(label if label.isascii() else label.encode("idna").decode("ascii"))
    return frozenset(found)


def normalize_address(address: object, *, field: str = "to") -> str:
    """An operator, sender or hand-typed address: valid syntax, any domain (`root@localhost` included)."""
    candidate = _clean(address, field)
    local, at, domain = candidate.rpartition("@")
    if at and is_local_domain(domain):
        valid = _validate(f"{local}@{_STAND_IN}", field, candidate)  # the local part, by the same rules
        return f"{valid.local_part}@{domain.lower()}"
    valid = _validate(candidate, field)
    return valid.ascii_email or valid.normalized


def is_local_domain(domain: str) -> bool:
    """A syntactically valid domain that email_validator refuses as special-use (localhost, .local, .test, ...)."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    labels = domain.lower().split(".")
    if not all(_LABEL.match(label) for label in labels) or len(domain) > 253:
        return False
    return len(labels) == 1 or any(
        domain.lower() == name or domain.lower().endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES
    )
