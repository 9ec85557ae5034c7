"""The person a privacy request is about, the installation's hashing key, and the erasure records.

Erasure records and the audit log hold a keyed hash (HMAC-SHA256) of an
email or IP address, never the value nor a plain hash of it (a plain hash
of an email is found again by hashing a list of emails). The key is
`privacy.key` in the data directory (32 random bytes, hex, mode 0600),
created on first use: it travels with the data directory's backups, and
without it the erasure records match nobody, so it must never be deleted
alone.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from arkops.core.privacy import PRIVACY_DB
from arkops.errors import DataError, ErasedError
from arkops.runtime import Runtime
from arkops.store.files import FILE_MODE, ensure_dir

KEY_FILE = "privacy.key"
PSEUDONYM_DOMAIN = "erased.invalid"  # .invalid never resolves (RFC 2606): a pseudonym can never receive mail


def key_path(rt: Runtime) -> Path:
    return rt.data_dir / KEY_FILE


def hashing_key(rt: Runtime) -> bytes:
    """The installation's key, made on first use; two processes making it at once agree on one."""
    if "privacy-key" in rt.memo:
        return rt.memo["privacy-key"]
    path = key_path(rt)
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        import secrets

        if held := len(erased_digests(rt)):
            raise DataError(
                f"{path} is missing, but {rt.store.path(PRIVACY_DB)} holds {held} erasure(s) made with it: restore "
                f"{KEY_FILE} from the data directory's backup (a new key would match none of them, and let the "
                "people erased back in)"
            ) from None
        ensure_dir(path.parent)
        temp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(fd, (secrets.token_hex(32) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            temp.unlink()
        text = path.read_text().strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise DataError(f"{path} is not an arkops privacy key (64 hex digits); restore it from a backup")
    rt.memo["privacy-key"] = key = bytes.fromhex(text)
    return key


def keyed_hash(rt: Runtime, kind: str, value: str) -> str:
    return hmac.new(hashing_key(rt), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def normalize_ip(text: str) -> str | None:
    """The canonical text of an IP address, or None when `text` is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def anonymize_ip(text: str) -> str:
    """An IPv4 address with its last byte zeroed, an IPv6 address cut to its /48 (as analytics tools do).

    ValueError when not an IP.
    """
    from arkops.core.privacy.addresses import store_ip

    stored = store_ip(text.strip(), False)
    if not stored:
        raise ValueError(f"{text!r} is not an IP address")
    return stored


def stored_ip(rt: Runtime, text: str) -> str:
    """An IP address as arkops may keep it: whole, or anonymized under `[leads] ip_storage = "anonymized"`
    (the default; one setting for every store).

    Every domain that stores an IP address passes it through here first.
    """
    if rt.config["leads"]["ip_storage"] == "anonymized":
        return anonymize_ip(text)
    return normalize_ip(text) or text


@dataclass(frozen=True)
class Person:
    """An email address or an IP address, normalised, with its keyed hash."""

    value: str
    kind: str  # "email" or "ip"
    digest: str

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # Whole occurrences only: 10.0.0.1 is not inside 10.0.0.12, ana@example.com not inside ana@example.com.au.
        before = r"(?<![\w.%+-])" if self.kind == "email" else r"(?<![\w.:])"
        after = r"(?![\w-]|\.\w)" if self.kind == "email" else r"(?![\w:]|\.\d)"
        return re.compile(before + re.escape(self.value) + after, re.IGNORECASE)

    def found_in(self, value: Any) -> bool:
        """True when the value (text, or any text nested in lists and objects) names this person."""
        if isinstance(value, str):
            return self.value in value.lower() and self.pattern.search(value) is not None
        if isinstance(value, dict):
            return any(self.found_in(k) or self.found_in(v) for k, v in value.items())
        if isinstance(value, list):
            return any(self.found_in(item) for item in value)
        return False

    def replace_in(self, text: str, replacement: str) -> str:
        return self.pattern.sub(replacement, text)

    @property
    def pseudonym(self) -> str:
        """A stable stand-in: the same person always gets the same one, and it says nothing about them."""
        return f"erased-{self.digest[:16]}"

    @property
    def pseudonym_email(self) -> str:
        return f"{self.pseudonym}@{PSEUDONYM_DOMAIN}"


def parse_person(text: str) -> tuple[str, str]:
    """(kind, normalised value) of an email or IP address from the command line, or DataError."""
    if not isinstance(text, str) or not text.strip():
        raise DataError("give an email address or an IP address")
    ip = normalize_ip(text)
    if ip is not None:
        return "ip", ip
    from arkops.mail.address import normalize_email

    try:
        return "email", normalize_email(text)
    except DataError:
        raise DataError(f"{text!r} is neither an email address nor an IP address") from None


def person(rt: Runtime, text: str) -> Person:
    """An email or IP address from the command line or another domain, or DataError."""
    kind, value = parse_person(text)
    return Person(value, kind, keyed_hash(rt, kind, value))


def erased_digests(rt: Runtime) -> frozenset[str]:
    """The keyed hashes of everyone erased (nothing when no one ever was).

    Read again only when `privacy.json` changed (one stat per call): an
    import that started before a `privacy forget` sees the erasure in its
    next record, so the person cannot slip back in behind the forget.
    """
    path = rt.store.path(PRIVACY_DB)
    try:
        stat = path.stat()
        signature: tuple[int, ...] | None = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except FileNotFoundError:
        signature = None
    cached = rt.memo.get("privacy-erased")
    if cached is not None and cached[0] == signature:
        return cached[1]
    found: frozenset[str] = frozenset()
    if signature is not None:
        with rt.store.transaction(PRIVACY_DB) as db:
            found = frozenset(key for key, _ in db.items("erasures"))
    rt.memo["privacy-erased"] = (signature, found)
    return found


def erased(rt: Runtime, email_or_ip: str) -> bool:
    """True when `privacy forget` erased this email or IP address: an import or sync must not bring it back.

    Cheap when nobody was ever erased (no file is read); otherwise one HMAC
    per call after the first.
    """
    digests = erased_digests(rt)
    if not digests or not isinstance(email_or_ip, str):
        return False
    return _among(rt, digests, email_or_ip)


def erased_check(rt: Runtime) -> Callable[[str], bool] | None:
    """`erased` for a loop over many records (a log, an import): None when nobody was ever erased.

    Take it again for each batch, so an erasure made meanwhile is seen; its
    answers are cached per value, since a log repeats its addresses.
    """
    digests = erased_digests(rt)
    if not digests:
        return None

    @lru_cache(maxsize=8_192)
    def check(email_or_ip: str) -> bool:
        return _among(rt, digests, email_or_ip)

    return check


def _among(rt: Runtime, digests: frozenset[str], email_or_ip: str) -> bool:
    ip = normalize_ip(email_or_ip)
    if ip is not None:
        return keyed_hash(rt, "ip", ip) in digests
    return keyed_hash(rt, "email", email_or_ip.strip().lower()) in digests


def refuse_erased(rt: Runtime, email_or_ip: str) -> None:
    """ErasedError (exit 3) when `privacy forget` erased this email or address: the one refusal every intake uses."""
    if erased(rt, email_or_ip):
        raise ErasedError(f"{email_or_ip} was erased at their request (privacy forget); not recorded")


def erased_person(rt: Runtime, email: str) -> Person | None:
    """The erased person behind an email or IP (for a pseudonym), or None."""
    if not erased(rt, email):
        return None
    ip = normalize_ip(email)
    value, kind = (ip, "ip") if ip is not None else (email.strip().lower(), "email")
    return Person(value, kind, keyed_hash(rt, kind, value))
