"""arkops.toml: every key has a default, every unknown key is an error.

The schema below is the single source of truth for keys, types and defaults;
`arkops init` writes a commented file, the README documents the same keys.
Secrets never live here: they come from the environment and `.env`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arkops.errors import ConfigError

LOCALES = ("en", "fr")


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    default: Any
    check: Callable[[Any], str | None] | None = None  # returns a problem or None

    def parse(self, value: Any, path: Path, key: str) -> Any:
        if isinstance(value, bool) and self.kind is not bool:
            raise ConfigError(path, key, f"expected {_kind_name(self.kind)}, got a boolean")
        if self.kind is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, self.kind):
            raise ConfigError(path, key, f"expected {_kind_name(self.kind)}, got {type(value).__name__}")
        problem = self.check(value) if self.check else None
        if problem:
            raise ConfigError(path, key, problem)
        return value


@dataclass(frozen=True)
class MapOf:
    """A table whose keys are chosen by the operator (plan ids, currencies, job names)."""

    item: Any
    default: dict
    key_check: Callable[[str], str | None] | None = None


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        dict: "a table",
        list: "a list",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not an IANA time zone (e.g. Europe/Paris)"
    return None


def _currency(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Z]{3}", value) else f"{value!r} is not an ISO 4217 code (e.g. EUR)"


def _one_of(*choices: str) -> Callable[[str], str | None]:
    return lambda value: None if value in choices else f"{value!r} is not one of {', '.join(choices)}"


def _at_least(minimum: float) -> Callable[[float], str | None]:
    return lambda value: None if value >= minimum else f"must be at least {minimum}"


def _fraction(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1 (e.g. 0.05 for 5 %)"


def _delays(value: list) -> str | None:
    ok = len(value) <= 10 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 600 for v in value)
    return None if ok else "must be a list of at most 10 waits in seconds, each 0-600 (e.g. [0.5, 1.0, 2.0])"


def _clock_time(value: str) -> str | None:
    return None if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value) else f"{value!r} is not a time HH:MM"


def _url(value: str) -> str | None:
    return None if value == "" or re.match(r"https?://", value) else f"{value!r} is not an http(s) URL"


def _slug(value: str) -> str | None:
    return (
        None if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value) else f"{value!r} must be lowercase letters, digits, - or _"
    )


PLAN = {
    "name": Field(str, ""),
    "price": Field(int, 0, _at_least(0)),  # minor units per interval
    "currency": Field(str, "EUR", _currency),
    "interval": Field(str, "month", _one_of("month", "year")),
    "stripe_price": Field(str, ""),
    "limits": MapOf(Field(int, 0, _at_least(0)), {}, _slug),
}

DEFAULT_PLANS = {
    "starter": {"name": "Starter", "price": 900, "limits": {"watches": 10, "api_calls": 10_000}},
    "pro": {"name": "Pro", "price": 2900, "limits": {"watches": 50, "api_calls": 100_000}},
    "business": {"name": "Business", "price": 9900, "limits": {"watches": 500, "api_calls": 1_000_000}},
}

SCHEMA: dict[str, Any] = {
    "timezone": Field(str, "UTC", _timezone),
    "currency": Field(str, "EUR", _currency),
    "locale": Field(str, "en", _one_of(*LOCALES)),
    "plans": MapOf(PLAN, DEFAULT_PLANS, _slug),
    "trials": {
        "length_days": Field(int, 14, _at_least(1)),
        "grace_days": Field(int, 2, _at_least(0)),
        "demo_activity_threshold": Field(int, 3, _at_least(0)),
        "upgrade_url": Field(str, "", _url),
        "demo_url": Field(str, "", _url),
        "schedule": {
            "welcome": Field(int, 0, _at_least(0)),
            "day1": Field(int, 1, _at_least(0)),
            "day7": Field(int, 7, _at_least(0)),
            "day12": Field(int, 12, _at_least(0)),
            "day14": Field(int, 14, _at_least(0)),
        },
    },
    "leads": {
        "pages": MapOf(Field(int, 1, _at_least(0)), {"/pricing": 3, "/trial": 5, "/demo": 5}),
        "hot_score": Field(int, 8, _at_least(1)),
        "digest_minutes": Field(int, 15, _at_least(1)),
    },
    "funnel": {
        "min_sample": Field(int, 30, _at_least(1)),
        "rate_thresholds": MapOf(Field(float, 0.0, _fraction), {"demo_to_trial": 0.05, "trial_to_paid": 0.10}),
        "no_data_hours": Field(int, 24, _at_least(1)),
    },
    "mail": {
        "templates_dir": Field(str, ""),
        "alert_webhook_url": Field(str, "", _url),
        "timeout_seconds": Field(float, 10.0, _at_least(0.1)),
        "operator_locale": Field(
            str, "", lambda v: None if v in ("", *LOCALES) else f"{v!r} is not one of {', '.join(LOCALES)}"
        ),
        "from_name": Field(str, "arkops"),
    },
    "billing": {
        "notify_payment_received": Field(bool, False),
        "notify_payment_failed_customer": Field(bool, False),
        "notify_subscription_welcome": Field(bool, False),
        "stripe_retry_seconds": Field(list, [0.5, 1.0, 2.0], _delays),
    },
    "fx": MapOf(Field(float, 1.0, _at_least(0.0)), {}, lambda k: _currency(k)),
    "jobs": MapOf(
        {
            "enabled": Field(bool, True),
            "every_minutes": Field(int, 0, _at_least(1)),
            "at": Field(str, "", _clock_time),
        },
        {},
    ),
}


def _parse_table(schema: dict, raw: Any, path: Path, prefix: str) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, prefix.rstrip(".") or "(top level)", "expected a table")
    for key in raw:
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise ConfigError(path, prefix + key, f"unknown key (known here: {known})")
    return {key: _parse_node(spec, raw.get(key), key in raw, path, prefix + key) for key, spec in schema.items()}


def _parse_node(spec: Any, value: Any, present: bool, path: Path, key: str) -> Any:
    if isinstance(spec, Field):
        return spec.parse(value, path, key) if present else spec.default
    if isinstance(spec, dict):
        return _parse_table(spec, value if present else {}, path, key + ".")
    if isinstance(spec, MapOf):
        entries = value if present else spec.default
        if not isinstance(entries, dict):
            raise ConfigError(path, key, "expected a table")
        result = {}
        for name, item in entries.items():
            if spec.key_check and (problem := spec.key_check(name)):
                raise ConfigError(path, f"{key}.{name}", problem)
            result[name] = _parse_node(spec.item, item, True, path, f"{key}.{name}")
        return result
    raise TypeError(spec)


@dataclass(frozen=True)
class Config:
    path: Path
    data: dict
    exists: bool

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.data["timezone"])

    @property
    def currency(self) -> str:
        return self.data["currency"]

    @property
    def locale(self) -> str:
        return self.data["locale"]

    @property
    def operator_locale(self) -> str:
        return self.data["mail"]["operator_locale"] or self.data["locale"]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def parse_config(text: str, path: Path) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    return Config(path=path, data=_parse_table(SCHEMA, raw, path, ""), exists=True)


def load_config(path: Path) -> Config:
    """Read and validate arkops.toml; a missing file means every default."""
    if not path.exists():
        return Config(path=path, data=_parse_table(SCHEMA, {}, path, ""), exists=False)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc}") from None
    return parse_config(text, path)


def load_env_file(path: Path) -> bool:
    """Load secrets from .env without overriding variables already set."""
    if not path.is_file():
        return False
    from dotenv import load_dotenv

    load_dotenv(path, override=False)
    return True


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()
