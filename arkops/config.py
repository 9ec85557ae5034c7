"""arkops.toml: every key has a default, every unknown key is an error.

The schema is the single source of truth for keys, types, defaults and
their meaning: `arkops init` writes its commented file from it
(`config_template`), and docs/config.md is generated from it
(`reference_rows`, through cog). This module holds the machinery (`Field`,
`Table`, `MapOf`, `ListOf`, the value checks) and the keys every domain
shares (`GLOBAL`: time zone, reporting currency, locale, exchange rates);
each domain declares its own tables beside its code (`Domain.config`, e.g.
`arkops/core/trials/settings.py`), and `arkops.core` registers them here
when it is imported, as it does the databases' schemas with the store.
Secrets never live here: they come from the environment and `.env`.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arkops.errors import ConfigError
from arkops.text import Locale

LOCALES = tuple(Locale)


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    default: Any
    check: Callable[[Any], str | None] | None = None  # returns a problem or None
    doc: str = ""  # one line: the comment in `arkops init`'s file and docs/config.md

    def parse(self, value: Any, path: Path, key: str) -> Any:
        if isinstance(value, bool) and self.kind is not bool:
            raise ConfigError(path, key, f"expected {_kind_name(self.kind)}, got a boolean")
        if self.kind is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, self.kind):
            raise ConfigError(path, key, f"expected {_kind_name(self.kind)}, got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(path, key, f"{value} is not a finite number")
        problem = self.check(value) if self.check else None
        if problem:
            raise ConfigError(path, key, problem)
        return value


@dataclass(frozen=True)
class Table:
    """A table with fixed keys (`[trials]`)."""

    fields: dict[str, Field | Table | MapOf | ListOf]
    doc: str = ""
    legacy: Callable[[dict], str | None] | None = None  # names an older form of the table and how to write it now


@dataclass(frozen=True)
class MapOf:
    """A table whose keys are chosen by the operator (plan ids, currencies, job names)."""

    item: Field | Table
    default: dict
    key_check: Callable[[str], str | None] | None = None
    doc: str = ""
    key_name: str = "name"  # how the reference names a key: [plans.<id>]
    example: str = ""  # commented TOML shown by `arkops init` when the default is empty


@dataclass(frozen=True)
class ListOf:
    """An array of tables (`[[leads.pages]]`): entries in the operator's order, each with fixed keys.

    `legacy_map` turns one `key = value` of an older map form of the same
    setting into an entry, so such a file gets an error showing its own
    entries rewritten.
    """

    item: Table
    default: list[dict]
    doc: str = ""
    legacy_map: Callable[[str, Any], dict] | None = None
    shown: Callable[[dict], str] | None = None  # how the reference names a default entry (default: its path)


Spec = Field | Table | MapOf | ListOf


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


def timezone_name(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not an IANA time zone (e.g. Europe/Paris)"
    return None


def currency_code(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Z]{3}", value) else f"{value!r} is not an ISO 4217 code (e.g. EUR)"


def one_of(*choices: str) -> Callable[[str], str | None]:
    return lambda value: None if value in choices else f"{value!r} is not one of {', '.join(choices)}"


def at_least(minimum: float) -> Callable[[float], str | None]:
    return lambda value: None if value >= minimum else f"must be at least {minimum}"


def fraction(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1 (e.g. 0.05 for 5 %)"


def retry_delays(value: list) -> str | None:
    ok = len(value) <= 10 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 600 for v in value
    )
    return None if ok else "must be a list of at most 10 waits in seconds, each 0-600 (e.g. [0.5, 1.0, 2.0])"


def clock_time(value: str) -> str | None:
    return None if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value) else f"{value!r} is not a time HH:MM"


def http_url(value: str) -> str | None:
    return None if value == "" or re.match(r"https?://", value) else f"{value!r} is not an http(s) URL"


def slug(value: str) -> str | None:
    return (
        None if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value) else f"{value!r} must be lowercase letters, digits, - or _"
    )


def path_list(value: list) -> str | None:
    ok = all(isinstance(v, str) and v.strip() for v in value)
    return None if ok else 'must be a list of file paths or globs (e.g. ["/var/log/nginx/access.log*"])'


def page_path(value: str) -> str | None:
    ok = value.startswith("/") and "?" not in value and not any(c.isspace() for c in value)
    return None if ok else f"{value!r} must be a request path starting with / (no query string)"


# The keys no single domain owns; the domains' tables follow them (`schema()`).
GLOBAL: dict[str, Spec] = {
    "timezone": Field(str, "UTC", timezone_name, doc="IANA time zone; reports group days, weeks and months in it"),
    "currency": Field(str, "EUR", currency_code, doc="reporting currency (ISO 4217)"),
    "locale": Field(str, "en", one_of(*LOCALES), doc="default language of customer emails: en or fr"),
    "fx": MapOf(
        Field(float, 1.0, at_least(0.0)),
        {},
        lambda k: currency_code(k),
        doc="exchange rates into the reporting currency: 1 unit of the key = value units",
        key_name="CODE",
        example="USD = 0.92\nGBP = 1.17",
    ),
}

_domain_tables: Callable[[], dict[str, Spec]] | None = None


def register_tables(source: Callable[[], dict[str, Spec]]) -> None:
    """Called once by `arkops.core`: `source()` gives every domain's tables, read when a config is first parsed."""
    global _domain_tables
    _domain_tables = source
    schema.cache_clear()


@cache
def schema() -> dict[str, Spec]:
    """Every key of arkops.toml: the global ones, then each domain's tables in the domains' order."""
    if _domain_tables is None:
        raise RuntimeError("the domains' config tables are not registered: import arkops.core first")
    tables = _domain_tables()
    if clash := GLOBAL.keys() & tables.keys():
        raise TypeError(f"config keys declared twice: {sorted(clash)}")
    return {**GLOBAL, **tables}


def _parse_table(schema: dict[str, Spec], raw: Any, path: Path, prefix: str) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, prefix.rstrip(".") or "(top level)", "expected a table")
    for key in raw:
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise ConfigError(path, prefix + key, f"unknown key (known here: {known})")
    return {key: _parse_node(spec, raw.get(key), key in raw, path, prefix + key) for key, spec in schema.items()}


def _parse_node(spec: Spec, value: Any, present: bool, path: Path, key: str) -> Any:
    if isinstance(spec, Field):
        return spec.parse(value, path, key) if present else spec.default
    if isinstance(spec, Table):
        if spec.legacy and isinstance(value, dict) and (problem := spec.legacy(value)):
            raise ConfigError(path, key, problem)
        return _parse_table(spec.fields, value if present else {}, path, key + ".")
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
    if isinstance(spec, ListOf):
        return _parse_list(spec, value if present else spec.default, path, key)
    raise TypeError(spec)


def _parse_list(spec: ListOf, entries: Any, path: Path, key: str) -> list[dict]:
    if isinstance(entries, dict) and spec.legacy_map and entries:
        rewritten = " ".join(
            f"[[{key}]] " + " ".join(f"{k} = {toml_value(v)}" for k, v in spec.legacy_map(name, value).items())
            for name, value in entries.items()
        )
        raise ConfigError(path, key, f"the map form is no longer read; write one [[{key}]] table each: {rewritten}")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigError(path, key, f"expected [[{key}]] tables (an array of tables)")
    return [_parse_table(spec.item.fields, entry, path, f"{key}[{index}].") for index, entry in enumerate(entries)]


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


# arkops.toml and .env are a few kilobytes; anything past this is not a configuration (a log or a data file
# named by mistake, /dev/zero) and is refused before it is parsed, so reading it costs no memory.
MAX_CONFIG_BYTES = 4 << 20


def parse_config(text: str, path: Path) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    except RecursionError:  # tomllib reads nested arrays and inline tables recursively
        raise ConfigError(path, "(syntax)", "arrays or inline tables nested too deep") from None
    return Config(path=path, data=_parse_table(schema(), raw, path, ""), exists=True)


def load_config(path: Path) -> Config:
    """Read and validate arkops.toml; a missing file means every default."""
    if not path.exists():
        return Config(path=path, data=_parse_table(schema(), {}, path, ""), exists=False)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(path, "(file)", f"larger than {MAX_CONFIG_BYTES >> 20} MiB: not a configuration file")
        text = raw.decode("utf-8-sig")  # a BOM from a Windows editor is fine
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc}") from None
    return parse_config(text, path)


def load_env_file(path: Path) -> bool:
    """Load secrets from .env without overriding variables already set."""
    if not path.is_file():
        return False
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(path, "(file)", f"larger than {MAX_CONFIG_BYTES >> 20} MiB: not an environment file")
    from dotenv import load_dotenv

    load_dotenv(path, override=False)
    return True


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


# The `.env.example` that `arkops init` writes. Its values are placeholders: a secret or address still set to
# one of them is "still the example value" for doctor and for the Stripe client, never a real setting.
ENV_EXAMPLE = """\
# Copy to .env (chmod 600) and set every value. Variables already set in the environment win.
STRIPE_SECRET_KEY=sk_test_...
STRIPE_WEBHOOK_SECRET=whsec_...
# STRIPE_API_BASE=http://127.0.0.1:8420   # a local Stripe-compatible server, for tests
SMTP_HOST=smtp.your-provider.example
SMTP_PORT=587
SMTP_USER=
SMTP_PASSWORD=
SMTP_SECURITY=starttls                     # starttls, ssl or none
MAIL_FROM=billing@your-product.example
ARKOPS_ALERT_TO=you@your-product.example
# Optional integrations (docs/crm.md, docs/analytics.md), for [crm] and [analytics] in arkops.toml:
# HUBSPOT_TOKEN=pat-...                    # or PIPEDRIVE_TOKEN=...
# HUBSPOT_API_BASE= / PIPEDRIVE_API_BASE=  # another endpoint (regional, company domain, a local stand-in)
# PLAUSIBLE_API_KEY=...                    # PLAUSIBLE_API_BASE=https://plausible.example.com when self-hosted
# GOOGLE_APPLICATION_CREDENTIALS=/path/to/service-account.json
# ARKOPS_SERVE_TOKEN=                      # `arkops serve`'s bearer token, 32+ characters (secrets.token_urlsafe(32))
"""


def example_value(name: str) -> str | None:
    """The placeholder `.env.example` gives `name`, or None when it gives none (or an empty one)."""
    for line in ENV_EXAMPLE.splitlines():
        key, sep, value = line.partition("=")
        if sep and key == name:
            return value.split(" #", 1)[0].strip() or None
    return None


def placeholder_problem(name: str) -> str | None:
    """`NAME is still the example value; set it`, when the environment holds `.env.example`'s value for it."""
    value = env(name)
    return f"{name} is still the example value; set it" if value and value == example_value(name) else None


def stripe_key_problem(key: str) -> str | None:
    """What is wrong with a Stripe secret key before any request is made with it, or None: not set, still the
    example value, or not a secret key's shape (a publishable pk_ key, a truncated copy)."""
    import re

    from arkops.errors import mask

    if not key:
        return "STRIPE_SECRET_KEY is not set"
    if key == example_value("STRIPE_SECRET_KEY"):
        return "STRIPE_SECRET_KEY is still the example value; set it"
    if not re.match(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$", key):
        return f"STRIPE_SECRET_KEY does not look like a sk_test_/sk_live_/rk_ key ({mask(key)})"
    return None


# --- The config file `arkops init` writes, and docs/config.md's reference, both from schema() ---

TEMPLATE_HEADER = """\
# arkops.toml: every key is optional; the values shown are the defaults.
# An unknown key is an error, so a typo never hides. Secrets (Stripe and
# SMTP) live in the environment or .env, never here. docs/config.md
# explains every key.
"""


def toml_value(value: Any) -> str:
    """A default as TOML writes it (strings, numbers, booleans, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _line(key: str, value: Any, doc: str) -> str:
    text = f"{_toml_key(key)} = {toml_value(value)}"
    return f"{text}  # {doc}" if doc else text


def _table_lines(fields: dict[str, Spec], values: dict, *, comments: bool) -> tuple[list[str], list[tuple[str, Spec]]]:
    """The `key = value` lines of one table, and the sub-tables that follow it."""
    lines: list[str] = []
    later: list[tuple[str, Spec]] = []
    for key, spec in fields.items():
        if isinstance(spec, (Table, ListOf)) or (isinstance(spec, MapOf) and isinstance(spec.item, Table)):
            later.append((key, spec))
            continue
        value = values.get(key, spec.default)
        lines.append(_line(key, value, spec.doc if comments else ""))
    return lines, later


def _section(name: str, spec: Spec, values: dict[str, Any] | None = None) -> list[str]:
    comment = [f"# {spec.doc}"] if spec.doc else []
    if isinstance(spec, Table):
        lines, later = _table_lines(spec.fields, values or {}, comments=True)
        out = ["", *comment, f"[{name}]", *lines]
        for key, sub in later:
            out += _section(f"{name}.{key}", sub)
        return out
    if isinstance(spec, ListOf):
        out = ["", *comment]
        for index, entry in enumerate(spec.default):
            lines, _ = _table_lines(spec.item.fields, entry, comments=index == 0)
            out += ([""] if index else []) + [f"[[{name}]]", *lines]
        return out
    assert isinstance(spec, MapOf)
    example = [f"# {line}" for line in spec.example.splitlines()]
    if isinstance(spec.item, Table):
        out = ["", *comment]
        for index, (key, entry) in enumerate(spec.default.items()):
            lines, _ = _table_lines(spec.item.fields, entry, comments=index == 0)
            out += ([""] if index else []) + [f"[{name}.{_toml_key(key)}]", *lines]
        return out + ([] if spec.default else example)
    entries = [_line(key, value, "") for key, value in spec.default.items()]
    return ["", *comment, f"[{name}]", *(entries or example)]


def config_template(values: dict[str, dict[str, Any]] | None = None) -> str:
    """The commented arkops.toml of `arkops init`: every key with its default (or, in `values`, the value given
    for a key of a top-level table, `{"product": {"name": "Acme"}}`) and its meaning."""
    given = values or {}
    lines = [_line(key, spec.default, spec.doc) for key, spec in schema().items() if isinstance(spec, Field)]
    for key, spec in schema().items():
        if not isinstance(spec, Field):
            lines += _section(key, spec, given.get(key, {}))
    return TEMPLATE_HEADER + "\n" + "\n".join(lines) + "\n"


def reference_rows() -> list[tuple[str, str, str]]:
    """(key, default, meaning) for every key, as docs/config.md lists them."""
    rows: list[tuple[str, str, str]] = []

    def walk(prefix: str, fields: dict[str, Spec]) -> None:
        for key, spec in fields.items():
            where = f"{prefix} {key}" if prefix else key
            if isinstance(spec, Field):
                rows.append((where, toml_value(spec.default), spec.doc))
            elif isinstance(spec, Table):
                inner = f"[{prefix[1:-1]}.{key}]" if prefix else f"[{key}]"
                if spec.doc:
                    rows.append((inner, "", spec.doc))
                walk(inner, spec.fields)
            elif isinstance(spec, ListOf):
                inner = f"[[{prefix[1:-1]}.{key}]]" if prefix else f"[[{key}]]"
                describe = spec.shown or (lambda entry: str(entry.get("path")))
                shown = ", ".join(describe(entry) for entry in spec.default) or "none"
                rows.append((inner, shown, spec.doc))
                walk(inner, spec.item.fields)
            elif isinstance(spec.item, Table):
                inner = f"[{prefix[1:-1]}.{key}.<{spec.key_name}>]" if prefix else f"[{key}.<{spec.key_name}>]"
                shown = ", ".join(spec.default) or "none"
                rows.append((inner, shown, spec.doc))
                walk(inner, spec.item.fields)
            else:
                name = f"{where}" if prefix else f"[{key}] <{spec.key_name}>"
                rows.append((name, toml_value(spec.default) if spec.default else "none", spec.doc))

    walk("", schema())
    return rows
