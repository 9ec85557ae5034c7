"""Exit codes and the domain exceptions that map onto them.

Every user-facing failure is an ``ArkopsError`` subclass; ``arkops.cli.main``
is the one place that turns them into an exit status and a one-line message.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # doctor failure, threshold crossed under --check, a job failed
    USAGE = 2
    BAD_DATA = 3  # corrupt file, invalid input, bad config
    SERVICE = 4  # Stripe, SMTP or a webhook stayed unreachable after retries
    LOCKED = 75  # another run holds the lock (EX_TEMPFAIL)
    INTERRUPTED = 130  # SIGINT, Ctrl-C (128 + 2, as shells report it)
    TERMINATED = 143  # SIGTERM: systemd, `timeout`, a container stop (128 + 15)


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


class Interrupted(BaseException):
    """SIGTERM or SIGINT (systemd, `timeout`, a container stop, Ctrl-C): the command stops where it is.

    Raised by the handler `stop_on_signals` installs, it unwinds like Ctrl-C's KeyboardInterrupt (and,
    like it, is no `Exception`, so no `except Exception` swallows it): transactions are abandoned
    (nothing half-written), locks released, and the code that records the item in flight (the outbox,
    the job runner) sees it. The exit status is 128 + the signal's number: 143, 130.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum
        self.exit_code = 128 + signum


_held: list[int] = []  # signals received while an item was finishing (`finishing`)
_finishing = 0


def _on_stop_signal(signum: int, frame: object) -> None:
    if _finishing and not _held:
        _held.append(signum)  # the first one waits for the item in flight; a second one stops at once
        return
    _held.clear()
    raise Interrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise `Interrupted` while the block runs (`arkops.cli.main` wraps every command)."""
    previous = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _on_stop_signal)
    except ValueError:  # not the main thread (a test calling main() from a thread): signals are not ours there
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_requested() -> bool:
    """True inside `finishing` once a stop signal waits: record the finished item, the stop follows."""
    return bool(_held)


@contextmanager
def finishing() -> Iterator[None]:
    """Let the item in flight (an email being sent) finish, and be recorded, before a stop signal takes
    effect (`Interrupted` is raised as the block ends). Its own timeouts bound the wait; a second signal
    stops at once.
    """
    global _finishing
    _finishing += 1
    try:
        yield
    finally:
        _finishing -= 1
        if not _finishing and _held:
            raise Interrupted(_held.pop())


SECRET_ENV = (
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "SMTP_PASSWORD",
    "HUBSPOT_TOKEN",
    "PIPEDRIVE_TOKEN",
    "PLAUSIBLE_API_KEY",
    "ARKOPS_SERVE_TOKEN",
)
_SECRET_PATTERNS = re.compile(r"\b((?:sk|rk|pk)_(?:live|test)_|whsec_)[A-Za-z0-9]{4,}")


def redact(text: str) -> str:
    """Hide secret values from any text that could reach a terminal or a log."""
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, f"<{name} redacted>")
    return _SECRET_PATTERNS.sub(lambda m: m.group(1) + "…redacted", text)


def one_line(text: str) -> str:
    """Text from a data file or a server, safe on one line of a terminal or log: control characters (CR, LF,
    escapes) shown escaped, as `\\r\\n`, never acted on."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def mask(value: str | None) -> str:
    """Show the kind of a secret (its prefix) and never its body."""
    if not value:
        return "(not set)"
    match = re.match(r"^((?:sk|rk|pk)_(?:live|test)_|whsec_)", value)
    return (match.group(1) if match else "") + "…" + f" ({len(value)} chars)"
