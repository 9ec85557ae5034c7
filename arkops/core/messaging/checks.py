"""The mail domain's `doctor` checks: settings and addresses, every template, the outbox, and with `--smtp` the server."""

from __future__ import annotations

from arkops.clock import parse_iso
from arkops.config import LOCALES, env, placeholder_problem
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.core.messaging import OUTBOX_DB
from arkops.errors import ArkopsError, mask, redact
from arkops.runtime import Runtime


def mail_settings(rt: Runtime) -> list[Check]:
    from arkops.core.notify import chat_only
    from arkops.mail.address import normalize_address

    checks = []
    chat_alone = chat_only(rt)
    if chat_alone:
        checks.append(
            Check(
                "smtp settings",
                OK,
                "SMTP_HOST not set: operator alerts go to the chat webhook alone; "
                "customer emails stay in the outbox until it is set",
            )
        )
    elif not env("SMTP_HOST"):
        checks.append(Check("smtp settings", WARN, "SMTP_HOST not set: emails stay in the outbox until it is"))
    elif placeholder_problem("SMTP_HOST"):
        checks.append(Check("smtp settings", FAIL, str(placeholder_problem("SMTP_HOST"))))
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
        if not value and chat_alone:
            checks.append(Check(name, OK, "not set: not needed while operator alerts go to the chat webhook alone"))
            continue
        if not value:
            checks.append(Check(name, status, f"not set: {why}"))
            continue
        example = placeholder_problem(name)
        if example:
            checks.append(Check(name, FAIL, example))
            continue
        try:
            checks.append(Check(name, OK, normalize_address(value, field=name)))
        except ArkopsError as exc:
            checks.append(Check(name, FAIL, str(exc)))
    return checks


def customer_mail(rt: Runtime) -> Check:
    """Customers read `[product] name` in every email: empty, or left as "arkops", it is not ready to send."""
    from arkops.core.notify import product_name, sender_name

    name = product_name(rt)
    if not name or name.lower() == "arkops":
        shown = "empty" if not name else repr(name)
        return Check(
            "customer mail",
            FAIL,
            f"[product] name is {shown}: set your product's name in {rt.config_path} (customers read it in every email)",
        )
    product = rt.config["product"]
    missing = [key for key in ("support_email", "postal_address") if not product[key]]
    detail = f"emails from {sender_name(rt)!r}" + (f"; [product] {', '.join(missing)} not set" if missing else "")
    if not rt.config["serve"]["public_url"] and not rt.config["mail"]["unsubscribe_mailbox"]:
        # Gmail and Yahoo want one-click unsubscribe (RFC 8058) on bulk mail: without it lifecycle mail risks spam
        unsubscribe = "lifecycle mail has no unsubscribe link: set [serve] public_url (or [mail] unsubscribe_mailbox)"
        return Check("customer mail", WARN, f"{detail}; {unsubscribe}")
    return Check("customer mail", OK, detail)


def templates(rt: Runtime) -> Check:
    from arkops.core.notify import render_message
    from arkops.core.registry import messages

    rendered = 0
    for name, message in messages().items():
        for locale in LOCALES:
            try:
                render_message(rt, name, message.sample, locale=locale, recipient="doctor@example.com")
            except ArkopsError as exc:
                return Check("templates", FAIL, str(exc))
            rendered += 1
    where = rt.config["mail"]["templates_dir"]
    return Check(
        "templates",
        OK,
        f"{rendered} renderings ({len(messages())} messages x {len(LOCALES)} locales)"
        + (f", overrides in {where}" if where else ""),
    )


def outbox(rt: Runtime) -> Check:
    from arkops.mail.outbox import list_messages

    if not rt.store.path(OUTBOX_DB).exists():
        return Check("outbox", OK, "empty")
    from arkops.mail.outbox import LEASE

    now = rt.now()
    stuck = [
        m
        for m in list_messages(rt.store)
        if m["state"] in ("unknown", "dead", "failed")
        or (m["state"] == "sending" and now - parse_iso(m.get("claimed_at") or m["created_at"]) > LEASE)
    ]
    if stuck:
        ids = ", ".join(f"{m['id']} ({m['state']})" for m in stuck[:5])
        return Check("outbox", WARN, f"{len(stuck)} message(s) need attention: {ids}; see `arkops mail outbox`")
    return Check("outbox", OK, "no failed, dead, unknown or stale messages")


def smtp(rt: Runtime) -> Check:
    from arkops.core.messaging.service import smtp_check

    example = placeholder_problem("SMTP_HOST")
    if example:
        return Check("smtp", FAIL, f"not connected: {example}")
    try:
        return Check("smtp", OK, smtp_check(rt))
    except ArkopsError as exc:
        return Check("smtp", FAIL, str(exc))
    except Exception as exc:  # connection errors of every kind are the finding, not a crash
        return Check("smtp", FAIL, redact(f"{type(exc).__name__}: {exc}"))
