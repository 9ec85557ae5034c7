"""`arkops doctor`: every check an operator or CI needs before trusting a run."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass

from arkops.config import LOCALES, env
from arkops.errors import ArkopsError, mask, redact
from arkops.runtime import Runtime

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    check: str
    status: str
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _config(rt: Runtime) -> Check:
    config = rt.config
    if not config.exists:
        return Check("config", WARN, f"{config.path} not found; using defaults (run `arkops init`)")
    return Check(
        "config",
        OK,
        f"{config.path}: {len(config['plans'])} plans, timezone {config['timezone']}, currency {config.currency}",
    )


def _mail_settings(rt: Runtime) -> list[Check]:
    from arkops.mail.address import normalize_address

    checks = []
    if not env("SMTP_HOST"):
        checks.append(Check("smtp settings", WARN, "SMTP_HOST not set: emails stay in the outbox until it is"))
    else:
        security = env("SMTP_SECURITY", "starttls")
        problem = (
            None
            if security in ("starttls", "ssl", "none")
            else f"SMTP_SECURITY {security!r} is not starttls, ssl or none"
        )
        if env("SMTP_USER") and not env("SMTP_PASSWORD"):
            problem = "SMTP_USER is set but SMTP_PASSWORD is not"
        detail = f"{env('SMTP_HOST')}:{env('SMTP_PORT') or 'default port'} ({security}), password {mask(env('SMTP_PASSWORD'))}"
        checks.append(Check("smtp settings", FAIL if problem else OK, problem or detail))
    # Operator alerts are queued by sync, track and run: without an address they stop those jobs.
    required = {
        "ARKOPS_ALERT_TO": (FAIL, "operator alerts cannot be queued"),
        "MAIL_FROM": (FAIL if env("SMTP_HOST") else WARN, "needed to send"),
    }
    for name, (status, why) in required.items():
        value = env(name)
        if not value:
            checks.append(Check(name, status, f"not set: {why}"))
            continue
        try:
            checks.append(Check(name, OK, normalize_address(value, field=name)))
        except ArkopsError as exc:
            checks.append(Check(name, FAIL, str(exc)))
    return checks


def _stripe_settings() -> list[Check]:
    key = env("STRIPE_SECRET_KEY")
    checks = []
    if not key:
        checks.append(Check("stripe key", WARN, "STRIPE_SECRET_KEY not set: stripe sync is disabled"))
    else:
        match = re.match(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$", key)
        if match:
            checks.append(Check("stripe key", OK, f"{match.group(2)} mode, {mask(key)}"))
        else:
            checks.append(
                Check(
                    "stripe key", FAIL, f"STRIPE_SECRET_KEY does not look like sk_test_/sk_live_/rk_ key ({mask(key)})"
                )
            )
    secret = env("STRIPE_WEBHOOK_SECRET")
    if not secret:
        checks.append(
            Check(
                "stripe webhook secret",
                WARN,
                "STRIPE_WEBHOOK_SECRET not set: `webhooks ingest/serve` will refuse payloads",
            )
        )
    elif re.match(r"^whsec_[A-Za-z0-9+/=]{16,}$", secret):
        checks.append(Check("stripe webhook secret", OK, mask(secret)))
    else:
        checks.append(
            Check("stripe webhook secret", FAIL, f"STRIPE_WEBHOOK_SECRET should start with whsec_ ({mask(secret)})")
        )
    base = env("STRIPE_API_BASE")
    if base:
        checks.append(
            Check("stripe api base", WARN, f"STRIPE_API_BASE={base} (a local Stripe-compatible server, not Stripe)")
        )
    return checks


def _trial_links(rt: Runtime) -> Check:
    missing = [key for key in ("upgrade_url", "demo_url") if not rt.config["trials"][key]]
    if missing:
        keys = ", ".join(f"[trials] {k}" for k in missing)
        return Check(
            "trial links", WARN, f"{keys} not set: lifecycle emails link to a reply (mailto:MAIL_FROM) instead"
        )
    return Check("trial links", OK, "upgrade and demo links set")


def _data_dir(rt: Runtime) -> Check:
    path = rt.data_dir
    if not path.is_dir():
        return Check("data dir", FAIL, f"{path} does not exist (run `arkops init`)")
    if not os.access(path, os.W_OK | os.X_OK):
        return Check("data dir", FAIL, f"{path} is not writable")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_IROTH:
        return Check("data dir", FAIL, f"{path} is world-readable (mode {mode:o}); run chmod 700 {path}")
    return Check("data dir", OK, f"{path} (mode {mode:o})")


def _data_files(rt: Runtime) -> list[Check]:
    from arkops.core import registry
    from arkops.store import SCHEMAS, read_json_file

    registry.load_domains()
    checks = []
    for path in rt.store.data_files():
        name = path.stem
        try:
            if path.suffix == ".jsonl":
                count = sum(1 for _ in rt.store.jsonl(name).read())
                checks.append(Check(f"data {path.name}", OK, f"{count} records"))
                continue
            data = read_json_file(path) or {}
            version = (data.get("_meta", {}).get("1") or {}).get("schema")
            schema = SCHEMAS.get(name)
            if schema is None:
                checks.append(Check(f"data {path.name}", WARN, "not an arkops database (unknown name)"))
            elif version is None or version > schema.version:
                checks.append(
                    Check(
                        f"data {path.name}",
                        FAIL,
                        f"schema version {version!r}, this arkops knows up to {schema.version}",
                    )
                )
            else:
                rows = sum(len(t) for k, t in data.items() if k != "_meta")
                note = f" (migrates to {schema.version} on next write)" if version < schema.version else ""
                checks.append(Check(f"data {path.name}", OK, f"schema {version}{note}, {rows} documents"))
        except ArkopsError as exc:
            checks.append(Check(f"data {path.name}", FAIL, str(exc)))
    if not checks:
        checks.append(Check("data files", OK, "none yet"))
    return checks


def _templates(rt: Runtime) -> Check:
    from arkops.core.notify import render_message
    from arkops.mail.catalog import SAMPLES

    rendered = 0
    for name, sample in SAMPLES.items():
        for locale in LOCALES:
            try:
                render_message(rt, name, sample, locale=locale, recipient="doctor@example.com")
            except ArkopsError as exc:
                return Check("templates", FAIL, str(exc))
            rendered += 1
    where = rt.config["mail"]["templates_dir"]
    return Check(
        "templates",
        OK,
        f"{rendered} renderings ({len(SAMPLES)} messages x {len(LOCALES)} locales)"
        + (f", overrides in {where}" if where else ""),
    )


def _outbox(rt: Runtime) -> Check:
    from arkops.mail.outbox import list_messages

    if not rt.store.path("outbox").exists():
        return Check("outbox", OK, "empty")
    stuck = [m for m in list_messages(rt.store) if m["state"] in ("unknown", "dead", "failed")]
    if stuck:
        ids = ", ".join(f"{m['id']} ({m['state']})" for m in stuck[:5])
        return Check("outbox", WARN, f"{len(stuck)} message(s) need attention: {ids}; see `arkops mail outbox`")
    return Check("outbox", OK, "no failed, dead or unknown messages")


def _smtp(rt: Runtime) -> Check:
    from arkops.core.mail import smtp_check

    try:
        return Check("smtp", OK, smtp_check(rt))
    except ArkopsError as exc:
        return Check("smtp", FAIL, str(exc))
    except Exception as exc:  # connection errors of every kind are the finding, not a crash
        return Check("smtp", FAIL, redact(f"{type(exc).__name__}: {exc}"))


def _stripe(rt: Runtime) -> Check:
    from arkops.sources.stripe_api import ping

    try:
        return Check("stripe api", OK, ping())
    except ArkopsError as exc:
        return Check("stripe api", FAIL, str(exc))


def _crontab() -> Check:
    if shutil.which("crontab") is None:
        return Check("crontab", WARN, "no crontab command here; see crontab.example")
    result = subprocess.run(["crontab", "-l"], capture_output=True, text=True, timeout=10)
    if result.returncode == 0 and "arkops" in result.stdout:
        lines = [line for line in result.stdout.splitlines() if "arkops" in line and not line.lstrip().startswith("#")]
        return Check("crontab", OK, f"{len(lines)} arkops entr{'y' if len(lines) == 1 else 'ies'}")
    return Check("crontab", WARN, "no arkops entry in the crontab; `arkops cron print` gives the line")


def run_checks(rt: Runtime, *, smtp: bool, stripe: bool) -> list[Check]:
    try:
        checks = [_config(rt)]
    except ArkopsError as exc:
        return [Check("config", FAIL, str(exc))]
    steps: list[Callable[[], Check | list[Check]]] = [
        lambda: _mail_settings(rt),
        _stripe_settings,
        lambda: _trial_links(rt),
        lambda: _data_dir(rt),
        lambda: _data_files(rt),
        lambda: _templates(rt),
        lambda: _outbox(rt),
    ]
    if smtp:
        steps.append(lambda: _smtp(rt))
    if stripe:
        steps.append(lambda: _stripe(rt))
    steps.append(_crontab)
    for step in steps:
        try:
            result = step()
        except ArkopsError as exc:
            result = Check(getattr(step, "__name__", "check").strip("_<>"), FAIL, str(exc))
        checks.extend(result if isinstance(result, list) else [result])
    return checks
