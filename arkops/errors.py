"""Exit codes and the domain exceptions that map onto them.

Every user-facing failure is an ``ArkopsError`` subclass; ``arkops.cli.main``
is the one place that turns them into an exit status and a one-line message.
"""

from __future__ import annotations

import os
import re
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # doctor failure, threshold crossed under --check, a job failed
    USAGE = 2
    BAD_DATA = 3  # corrupt file, invalid input, bad config
    SERVICE = 4  # Stripe, SMTP or a webhook stayed unreachable after retries
    LOCKED = 75  # another run holds the lock (EX_TEMPFAIL)


class ArkopsError(Exception):
    exit_code: ExitCode = ExitCode.BAD_DATA

    def __str__(self) -> str:
        return redact(super().__str__())


class UsageError(ArkopsError):
    exit_code = ExitCode.USAGE


class DataError(ArkopsError):
    """Invalid input: an address, a date, a record, a value."""


class ConfigError(DataError):
    def __init__(self, path: object, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}")
        self.path, self.key, self.problem = path, key, problem


class CorruptFileError(DataError):
    def __init__(self, path: object, problem: str) -> None:
        super().__init__(
            f"{path} is not readable ({problem}); it was left untouched. "
            f"Restore it from a backup or move it aside, then run `arkops doctor`."
        )
        self.path = path


class ErasedError(DataError):
    """A person erased by `privacy forget`: never recorded again; an import counts them, a typed command is told."""


class ServiceError(ArkopsError):
    exit_code = ExitCode.SERVICE


class LockBusyError(ArkopsError):
    exit_code = ExitCode.LOCKED


class CheckFailed(ArkopsError):
    exit_code = ExitCode.CHECK_FAILED


SECRET_ENV = (
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "SMTP_PASSWORD",
    "HUBSPOT_TOKEN",
    "PIPEDRIVE_TOKEN",
    "PLAUSIBLE_API_KEY",
)
_SECRET_PATTERNS = re.compile(r"\b((?:sk|rk|pk)_(?:live|test)_|whsec_)[A-Za-z0-9]{4,}")


def redact(text: str) -> str:
    """Hide secret values from any text that could reach a terminal or a log."""
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, f"<{name} redacted>")
    return _SECRET_PATTERNS.sub(lambda m: m.group(1) + "…redacted", text)


def mask(value: str | None) -> str:
    """Show the kind of a secret (its prefix) and never its body."""
    if not value:
        return "(not set)"
    match = re.match(r"^((?:sk|rk|pk)_(?:live|test)_|whsec_)", value)
    return (match.group(1) if match else "") + "…" + f" ({len(value)} chars)"
