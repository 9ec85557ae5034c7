"""arkops.toml: every key has a default, every unknown key is an error.

The schema below is the single source of truth for keys, types, defaults
and their meaning: `arkops init` writes its commented file from it
(`config_template`), and the README's configuration reference is generated
from it (`reference_rows`, through cog).
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
    doc: str = ""  # one line: the comment in `arkops init`'s file and the README's reference

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
    ok = len(value) <= 10 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 600 for v in value
    )
    return None if ok else "must be a list of at most 10 waits in seconds, each 0-600 (e.g. [0.5, 1.0, 2.0])"


def _clock_time(value: str) -> str | None:
    return None if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value) else f"{value!r} is not a time HH:MM"


def _url(value: str) -> str | None:
    return None if value == "" or re.match(r"https?://", value) else f"{value!r} is not an http(s) URL"


def _slug(value: str) -> str | None:
    return (
        None if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value) else f"{value!r} must be lowercase letters, digits, - or _"
    )


def _paths(value: list) -> str | None:
    ok = all(isinstance(v, str) and v.strip() for v in value)
    return None if ok else 'must be a list of file paths or globs (e.g. ["/var/log/nginx/access.log*"])'


def _page_path(value: str) -> str | None:
    ok = value.startswith("/") and "?" not in value and not any(c.isspace() for c in value)
    return None if ok else f"{value!r} must be a request path starting with / (no query string)"


FUNNEL_STAGES = ("visitors", "demo", "trial", "active", "paid")  # in funnel order


def _funnel_legacy(raw: dict) -> str | None:
    """The `rate_thresholds` map and `min_sample` of older files, rewritten as [[funnel.rules]] tables."""
    if "rate_thresholds" not in raw and "min_sample" not in raw:
        return None
    sample = raw.get("min_sample", 30)
    thresholds = raw.get("rate_thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        thresholds = {"demo_to_trial": 0.05, "trial_to_paid": 0.1}
    tables = []
    for name, rate in thresholds.items():
        start, _, end = str(name).partition("_to_")
        tables.append(
            f'[[funnel.rules]] from = "{start}" to = "{end}" min_rate = {rate} window_days = 7 min_sample = {sample}'
        )
    return (
        "rate_thresholds and min_sample are no longer read; remove them and write one [[funnel.rules]] table "
        "per rate: " + " ".join(tables)
    )


PLAN = Table(
    {
        "name": Field(str, "", doc="shown to customers in emails and to the operator in reports"),
        "price": Field(int, 0, _at_least(0), doc="price per interval in minor units (900 = 9.00)"),
        "currency": Field(str, "EUR", _currency, doc="ISO 4217 code"),
        "interval": Field(str, "month", _one_of("month", "year"), doc="month or year"),
        "stripe_price": Field(str, "", doc="the Stripe price id (price_...), for checkout links"),
        "limits": MapOf(Field(int, 0, _at_least(0)), {}, _slug, doc="quota name = limit, for usage quotas"),
    }
)

DEFAULT_PLANS = {
    "starter": {"name": "Starter", "price": 900, "limits": {"watches": 10, "api_calls": 10_000}},
    "pro": {"name": "Pro", "price": 2900, "limits": {"watches": 50, "api_calls": 100_000}},
    "business": {"name": "Business", "price": 9900, "limits": {"watches": 500, "api_calls": 1_000_000}},
}

# The one source for every key, default and comment: `arkops init` writes its
# file from it, the README's configuration reference is generated from it.
SCHEMA: dict[str, Spec] = {
    "timezone": Field(str, "UTC", _timezone, doc="IANA time zone; reports group days, weeks and months in it"),
    "currency": Field(str, "EUR", _currency, doc="reporting currency (ISO 4217)"),
    "locale": Field(str, "en", _one_of(*LOCALES), doc="default language of customer emails: en or fr"),
    "plans": MapOf(PLAN, DEFAULT_PLANS, _slug, doc="the plans you sell", key_name="id"),
    "trials": Table(
        {
            "length_days": Field(int, 14, _at_least(1), doc="trial length in days"),
            "grace_days": Field(int, 2, _at_least(0), doc="a lifecycle email later than this many days is skipped"),
            "demo_activity_threshold": Field(
                int, 3, _at_least(0), doc="day 1: more activities than this -> offer a demo"
            ),
            "upgrade_url": Field(str, "", _url, doc="link in the day-12 email (empty: a mailto reply)"),
            "demo_url": Field(str, "", _url, doc="link in the day-1 demo offer (empty: a mailto reply)"),
            "alert_window_hours": Field(
                int, 24, _at_least(1), doc="older activations and conversions (an import of history) are not alerted"
            ),
            "archive_after_days": Field(
                int,
                30,
                _at_least(1),
                doc="a trial ended this many days ago (and past its last email) moves to archive/trials/",
            ),
            "schedule": Table(
                {
                    "welcome": Field(int, 0, _at_least(0), doc="day of the welcome email"),
                    "day1": Field(int, 1, _at_least(0), doc="day of the help or demo-offer email"),
                    "day7": Field(int, 7, _at_least(0), doc="day of the usage email"),
                    "day12": Field(int, 12, _at_least(0), doc="day of the trial-ends-soon email"),
                    "day14": Field(int, 14, _at_least(0), doc="day of the thank-you or trial-ended email"),
                },
                doc="the day of the trial each lifecycle email goes out",
            ),
        },
        doc="14-day trials and their lifecycle emails",
    ),
    "leads": Table(
        {
            "hot_score": Field(
                float, 8.0, _at_least(0.1), doc="a visitor whose decayed score reaches this is a hot lead"
            ),
            "half_life_days": Field(
                float, 7.0, _at_least(0.01), doc="a visit counts half as much after this many days"
            ),
            "realert_hours": Field(
                int, 24, _at_least(1), doc="a lead is alerted again only after this long, and only if its score grew"
            ),
            "max_alerts_per_hour": Field(int, 4, _at_least(1), doc="at most this many hot-lead digests an hour"),
            "retention_days": Field(int, 90, _at_least(1), doc="visit files older than this are deleted"),
            "ip_storage": Field(
                str,
                "anonymized",
                _one_of("anonymized", "full"),
                doc="anonymized (IPv4 /24, IPv6 /48, before anything is written) or full",
            ),
            "keep_bots": Field(bool, False, doc="keep visits from known crawlers, feed readers and monitors"),
            "sources": Field(
                list, [], _paths, doc="access logs `leads ingest` and `leads scan` read by default (globs allowed)"
            ),
            "pages": ListOf(
                Table(
                    {
                        "path": Field(str, "", _page_path, doc="a request path prefix, without query string"),
                        "weight": Field(float, 1.0, _at_least(0), doc="what one visit adds to the score"),
                        "label": Field(str, "", doc="the page's name in digests and stats (empty: the path)"),
                    }
                ),
                [
                    {"path": "/demo", "weight": 1.0, "label": "demo"},
                    {"path": "/pricing", "weight": 3.0, "label": "pricing"},
                    {"path": "/trial", "weight": 5.0, "label": "trial"},
                ],
                doc="tracked pages, one [[leads.pages]] table each, matched by prefix",
                legacy_map=lambda path, weight: {"path": path, "weight": weight},
            ),
        },
        doc="hot leads from the access logs and the app's visit log",
    ),
    "funnel": Table(
        {
            "demo_page": Field(
                str, "/demo", _page_path, doc="the tracked page whose visitors, with demo requests, make the demo stage"
            ),
            "no_data_hours": Field(int, 24, _at_least(1), doc="alarm when no visit arrived for this long"),
            "rules": ListOf(
                Table(
                    {
                        "from": Field(str, "demo", _one_of(*FUNNEL_STAGES), doc="the earlier stage (the denominator)"),
                        "to": Field(str, "trial", _one_of(*FUNNEL_STAGES), doc="the later stage"),
                        "min_rate": Field(float, 0.05, _fraction, doc="the rule fails under this rate (0.05 = 5 %)"),
                        "window_days": Field(int, 7, _at_least(1), doc="the rate over this many days back from now"),
                        "min_sample": Field(
                            int, 30, _at_least(1), doc="under this many in the earlier stage: not enough data"
                        ),
                    }
                ),
                [
                    {"from": "demo", "to": "trial", "min_rate": 0.05, "window_days": 7, "min_sample": 30},
                    {"from": "trial", "to": "paid", "min_rate": 0.1, "window_days": 7, "min_sample": 30},
                ],
                doc="conversion-rate rules checked daily by `funnel check`, one [[funnel.rules]] table each",
                shown=lambda rule: f"{rule['from']} -> {rule['to']}",
            ),
        },
        doc="conversion-rate alerts and the no-data alarm",
        legacy=_funnel_legacy,
    ),
    "mail": Table(
        {
            "templates_dir": Field(str, "", doc="a folder whose templates override the built-in ones"),
            "alert_webhook_url": Field(
                str, "", _url, doc="Slack/Mattermost incoming webhook that also receives operator alerts"
            ),
            "timeout_seconds": Field(float, 10.0, _at_least(0.1), doc="SMTP and webhook connect/read timeout"),
            "flush_deadline_seconds": Field(
                float, 240.0, _at_least(1.0), doc="a flush stops starting new messages after this long (cron: 5 min)"
            ),
            "operator_locale": Field(
                str,
                "",
                lambda v: None if v in ("", *LOCALES) else f"{v!r} is not one of {', '.join(LOCALES)}",
                doc="language of operator alerts (empty: locale)",
            ),
            "from_name": Field(str, "arkops", doc="the sender's display name"),
            "keep_bodies_days": Field(
                int,
                30,
                _at_least(1),
                doc="sent messages keep their text and HTML this long, then only their headers and key",
            ),
            "allow_local_domains": Field(
                bool,
                False,
                doc="accept customer addresses on local domains (.test, .local, localhost): for staging only",
            ),
        },
        doc="email delivery",
    ),
    "billing": Table(
        {
            "notify_payment_received": Field(bool, False, doc="email customers a receipt note"),
            "notify_payment_failed_customer": Field(bool, False, doc="email customers when a payment fails"),
            "notify_subscription_welcome": Field(bool, False, doc="welcome email when a subscription starts"),
            "alert_window_hours": Field(
                int, 24, _at_least(1), doc="older payments and failures (a first sync or import) are not alerted"
            ),
            "archive_invoices_after_days": Field(
                int,
                60,
                _at_least(1),
                doc="a paid, void or uncollectible invoice untouched this long moves to archive/ledger/",
            ),
            "stripe_timeout_seconds": Field(
                float, 30.0, _at_least(0.1), doc="how long one Stripe request may take before it is retried"
            ),
            "stripe_retry_seconds": Field(
                list, [0.5, 1.0, 2.0], _delays, doc="waits between retries of a failed Stripe request"
            ),
            "checkout_success_url": Field(
                str,
                "",
                _url,
                doc="where Checkout sends a customer who paid (`billing checkout` needs it or --success-url)",
            ),
            "checkout_cancel_url": Field(
                str, "", _url, doc="where Checkout sends a customer who turned back (empty: the success URL)"
            ),
            "checkout_trial_days": Field(
                int, 0, _at_least(0), doc="trial days of a checkout without card (0: the customer pays at once)"
            ),
            "portal_return_url": Field(
                str, "", _url, doc="the billing portal's return link (empty: the one set in Stripe's dashboard)"
            ),
        },
        doc="the Stripe ledger and customer billing emails",
    ),
    "usage": Table(
        {
            "upgrade_url": Field(
                str, "", _url, doc="link in the quota emails (empty: [trials] upgrade_url, else a reply)"
            ),
            "stale_hours": Field(
                int, 48, _at_least(1), doc="doctor warns when no usage was recorded for this many hours"
            ),
        },
        doc="usage against the plans' limits and the 80 %/100 % quota emails",
    ),
    "privacy": Table(
        {
            "keep_temp_hours": Field(
                int, 24, _at_least(1), doc="temp files a killed write left in the data directory go after this long"
            ),
        },
        doc="personal data: retention of temp files (`arkops privacy`); IP storage is `[leads] ip_storage`",
    ),
    "goals": Table(
        {
            "mrr": Field(
                int,
                0,
                _at_least(0),
                doc="MRR target in minor units of `currency` (500000 = 5,000.00; 0: none): `status` shows progress",
            ),
        },
        doc="targets shown by `arkops status` and the reports",
    ),
    "fx": MapOf(
        Field(float, 1.0, _at_least(0.0)),
        {},
        lambda k: _currency(k),
        doc="exchange rates into the reporting currency: 1 unit of the key = value units",
        key_name="CODE",
        example="USD = 0.92\nGBP = 1.17",
    ),
    "jobs": MapOf(
        Table(
            {
                "enabled": Field(bool, True, doc="false switches the job off"),
                "every_minutes": Field(int, 0, _at_least(1), doc="run every N minutes (0: the job's own schedule)"),
                "at": Field(str, "", _clock_time, doc="run daily at HH:MM, local time (empty: the job's own schedule)"),
            }
        ),
        {},
        doc="schedule overrides for `arkops run` (see `arkops jobs`)",
        key_name="job",
        example='[jobs.trials-nudge]\nat = "09:00"\n[jobs.stripe-sync]\nevery_minutes = 10\nenabled = true',
    ),
}


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
        text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is fine
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


# --- The config file `arkops init` writes, and the README's reference, both from SCHEMA ---

TEMPLATE_HEADER = """\
# arkops.toml: every key is optional; the values shown are the defaults.
# An unknown key is an error, so a typo never hides. Secrets (Stripe and
# SMTP) live in the environment or .env, never here. The README's
# "Configuration" section explains every key.
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


def _section(name: str, spec: Spec) -> list[str]:
    comment = [f"# {spec.doc}"] if spec.doc else []
    if isinstance(spec, Table):
        lines, later = _table_lines(spec.fields, {}, comments=True)
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


def config_template() -> str:
    """The commented arkops.toml of `arkops init`: every key with its default and its meaning."""
    lines = [_line(key, spec.default, spec.doc) for key, spec in SCHEMA.items() if isinstance(spec, Field)]
    for key, spec in SCHEMA.items():
        if not isinstance(spec, Field):
            lines += _section(key, spec)
    return TEMPLATE_HEADER + "\n" + "\n".join(lines) + "\n"


def reference_rows() -> list[tuple[str, str, str]]:
    """(key, default, meaning) for every key, as the README's configuration reference lists them."""
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

    walk("", SCHEMA)
    return rows
