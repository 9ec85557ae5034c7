"""Mail commands' core: preview, send, test, list, flush, retry."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from arkops.config import env
from arkops.core.links import unsubscribe_links
from arkops.core.messaging import OUTBOX_DB
from arkops.core.messaging.consent import SuppressionList, record_bounce
from arkops.core.notify import Queued, declared, notify, render_message
from arkops.core.registry import messages
from arkops.errors import DataError, UsageError
from arkops.mail import outbox
from arkops.mail.address import check_domain, is_local_domain, normalize_address
from arkops.mail.outbox import FlushReport
from arkops.mail.render import Rendered
from arkops.mail.smtp import SUPPRESSED, Outcome, SmtpSession, SmtpSettings
from arkops.mail.webhook import payload, post_chat
from arkops.runtime import Runtime


def parse_vars(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise DataError(f"--var {pair!r}: expected key=value")
        values[name.strip()] = value
    return values


def check_send_variables(template: str, given: dict[str, Any]) -> None:
    """UsageError (exit 2) naming each unknown or missing variable and listing the template's own."""
    from arkops.core.notify import describe_variables, variable_problems

    problems = variable_problems(template, given)
    if problems:
        raise UsageError(f"{template}: {'; '.join(problems)}; its variables are {describe_variables(template)}")


def preview(
    rt: Runtime, template: str, variables: dict[str, Any], *, locale: str | None, html_path: Path | None = None
) -> Rendered:
    """Render with sample values for what is not given (a preview only: sends never use samples); optionally
    write the HTML part to a file."""
    message = declared(template)
    unknown = [name for name in variables if name not in message.sample]
    if unknown:
        check_send_variables(template, {**message.sample, **variables})
    chosen_locale = locale or rt.config.locale
    links: tuple[str | None, str | None] = (None, None)
    if message.category == "lifecycle":
        links = unsubscribe_links(rt, "preview@example.com")
    rendered = render_message(
        rt,
        template,
        {**message.sample, **variables},
        locale=chosen_locale,
        recipient="preview@example.com",
        unsubscribe_url=links[0] or links[1] or "",
    )
    if html_path is not None:
        rt.store.write_output(html_path, rendered.html.encode("utf-8"), what="--html")
    return rendered


def send(
    rt: Runtime,
    template: str,
    to: str,
    variables: dict[str, Any],
    *,
    now: datetime,
    locale: str | None,
    key: str | None,
    force: bool = False,
) -> tuple[list[Queued], FlushReport]:
    """Queue one message with exactly the variables given (no sample value ever) and send it now."""
    message = declared(template)
    check_send_variables(template, variables)
    address = normalize_address(to, field="--to")
    domain = address.rpartition("@")[2]
    if not message.for_operator and not force and not is_local_domain(domain):
        check_domain(domain, "--to", address)  # a customer's address: a typo or a made-up TLD is refused
    queued = notify(
        rt,
        template,
        variables,
        key=key or f"manual:{template}:{address}:{now.isoformat()}",
        now=now,
        to=address,
        locale=locale,
    )
    return queued, flush(rt, now=now, only={q.id for q in queued})


def send_test(rt: Runtime, to: str, *, now: datetime) -> tuple[list[Queued], FlushReport]:
    return send(rt, "test", to, {}, now=now, locale=None, key=None)


def flush(rt: Runtime, *, now: datetime, only: set[str] | None = None) -> FlushReport:
    """Send what is due over one SMTP connection (opened at the first email, reopened after a drop)."""
    if rt.dry_run:
        return FlushReport()
    mail = rt.config["mail"]
    timeout = mail["timeout_seconds"]
    session: SmtpSession | None = None
    sender = ""
    suppressions: SuppressionList | None = None
    known = messages()

    def send_email(doc: outbox.OutboxMessage) -> Outcome:
        nonlocal session, sender, suppressions
        category = doc.get("category") or (known[doc["template"]].category if doc["template"] in known else "")
        if suppressions is None:  # the list as it is when this flush sends its first email
            suppressions = SuppressionList(rt)
        if category != "operator" and (why := suppressions.blocks(doc["to"], category)):
            return Outcome(SUPPRESSED, why)
        if session is None:  # settings are read only when an email is due
            settings = SmtpSettings.from_env(timeout)
            sender = normalize_address(settings.mail_from, field="MAIL_FROM")
            session = SmtpSession(settings)
        outcome = session.send(outbox.build_email(doc, sender), sender, doc["to"])
        if outcome.hard_bounce and category != "operator":
            record_bounce(rt, doc["to"], outcome.detail, now=now)
            suppressions = None  # read again: the next message to this address is suppressed too
        return outcome

    def send_chat(doc: outbox.OutboxMessage) -> Outcome:
        return post_chat(doc["to"], payload(doc["text"], doc["html"]), timeout=timeout)

    def flush_channels(channels: tuple[str, ...]) -> FlushReport:
        return outbox.flush(
            rt.store,
            now=now,
            send_email=send_email,
            send_chat=send_chat,
            only=only,
            deadline=mail["flush_deadline_seconds"],
            channels=channels,
        )

    try:
        if env("SMTP_HOST"):
            return flush_channels((outbox.EMAIL, outbox.CHAT))
        # No SMTP server: the chat webhook's messages go first, so an operator who uses chat alone hears
        # everything; then an email due stops the flush with the missing setting (exit 3), still queued.
        chat = flush_channels((outbox.CHAT,))
        chat.recovered += flush_channels((outbox.EMAIL,)).recovered  # sends nothing: no email is due
        return chat
    finally:
        if session is not None:
            session.close()


def retry(rt: Runtime, message_id: str, *, now: datetime) -> FlushReport:
    outbox.make_pending(rt.store, message_id, now=now)
    return flush(rt, now=now, only={message_id})


def list_outbox(rt: Runtime, state: str | None, *, archived: bool = False) -> list[dict]:
    return outbox.list_messages(rt.store, state, archived=archived)


def retention(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Mail's retention rule: finished messages to the monthly archive, then old bodies and dry-run files dropped."""
    if not rt.store.path(OUTBOX_DB).exists():
        return {}
    keep_bodies = timedelta(days=rt.config["mail"]["keep_bodies_days"])
    done = outbox.archive_settled(rt.store, now=now, keep_bodies=keep_bodies, dry_run=rt.dry_run)
    return done | outbox.drop_old_bodies(rt.store, now=now, keep_bodies=keep_bodies, dry_run=rt.dry_run)


def smtp_check(rt: Runtime) -> str:
    """Connect, EHLO, STARTTLS and login as configured, send nothing."""
    settings = SmtpSettings.from_env(rt.config["mail"]["timeout_seconds"])
    session = SmtpSession(settings)
    smtp = session.connect()
    try:
        smtp.noop()
    finally:
        smtp.quit()
    login = f", logged in as {settings.user}" if settings.user else ""
    return f"{settings.host}:{settings.port} answered ({settings.security}{login})"


def flush_job(rt: Runtime, *, now: datetime) -> FlushReport:
    """The `mail-flush` job: a server that cannot be reached at all fails the job (and alerts after 3 runs)."""
    from arkops.errors import ServiceError

    report = flush(rt, now=now)
    if report.unreachable:
        raise ServiceError("SMTP server unreachable: " + "; ".join(report.errors[:1]))
    return report
