"""`arkops mail ...`: preview, send, test, outbox, flush, retry, and the suppression list."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arkops.cli._output import FORMAT_HELP, ColumnsOption, Format, emit_rows, group, one_of, runtime, say
from arkops.core.messaging import MessageState
from arkops.errors import ExitCode
from arkops.text import Locale

if TYPE_CHECKING:
    from arkops.core.messaging.service import FlushReport
    from arkops.runtime import Runtime

app = group("Email: preview templates, send, work the outbox, and the suppression list.")

TemplateArgument = Annotated[
    str,
    typer.Argument(
        metavar="TEMPLATE", help="Template name, e.g. trial_day7.", **one_of("arkops.cli._output:template_names")
    ),
]
VarOption = Annotated[
    list[str] | None,
    typer.Option("--var", metavar="KEY=VALUE", help="A template variable, key=value (repeatable)."),
]


def _report(rt: Runtime, report: FlushReport, *, each: bool = False) -> int:
    """Exit 4 when the server could not be reached; with `each` (send, test, retry: the operator named the
    message) also when the server refused it (5xx) or its outcome is unknown. A 4xx is retried later: exit 0."""
    say(rt, f"outbox: {report.summary()}")
    for line in report.errors:
        say(rt, "  " + line)
    undelivered = report.failed or report.dead or report.unknown
    return ExitCode.SERVICE if report.unreachable or (each and undelivered) else ExitCode.OK


@app.command("preview")
def mail_preview(
    ctx: typer.Context,
    template: TemplateArgument,
    *,
    var: VarOption = None,
    locale: Annotated[Locale | None, typer.Option(help="Language (default: the configured locale).")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML part to this file.")] = None,
) -> None:
    """Render a template, with sample values for the variables not given: subject and text to stdout.

    Example: arkops mail preview trial_day7 --locale fr --var days_left=3 --html /tmp/day7.html
    """
    from arkops.core.messaging.service import parse_vars, preview

    if var is None:
        var = []
    rt = runtime(ctx)
    rendered = preview(rt, template, parse_vars(var), locale=locale, html_path=html)
    print(f"Subject: {rendered.subject}\n\n{rendered.text}", end="")
    if html is not None:
        say(rt, f"HTML part written to {html}")


@app.command("send")
def mail_send(
    ctx: typer.Context,
    template: TemplateArgument,
    *,
    to: Annotated[str, typer.Option("--to", metavar="ADDR", help="Recipient address.")],
    var: VarOption = None,
    locale: Annotated[Locale | None, typer.Option(help="Language (default: the configured locale).")] = None,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: a second send with the same key does nothing.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Send to an address that looks mistyped (did you mean ...?) as it is.")
    ] = False,
) -> None:
    """Queue a message with exactly the variables given (every required one; exit 2 otherwise) and send it now.

    Example: arkops mail send trial_day12 --to ana@example.com --var plan=Pro --var days_left=2
    """
    from arkops.core.messaging.service import parse_vars, send

    if var is None:
        var = []
    rt = runtime(ctx)
    queued, report = send(rt, template, to, parse_vars(var), now=rt.now(), locale=locale, key=key, force=force)
    for item in queued:
        say(rt, f"message {item.id} to {item.to}: {'queued' if item.created else 'already queued'} ({item.state})")
    raise typer.Exit(_report(rt, report, each=True))


@app.command("test")
def mail_test(
    ctx: typer.Context, *, to: Annotated[str, typer.Option("--to", metavar="ADDR", help="Recipient address.")]
) -> None:
    """Send a test message through the configured SMTP server.

    Example: arkops mail test --to you@example.com
    """
    from arkops.core.messaging.service import send_test

    rt = runtime(ctx)
    _, report = send_test(rt, to, now=rt.now())
    raise typer.Exit(_report(rt, report, each=True))


@app.command("outbox")
def mail_outbox(
    ctx: typer.Context,
    *,
    state: Annotated[MessageState | None, typer.Option(help="Only messages in this state.")] = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="Include messages finished over a week ago (archive/outbox/).")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """List messages in the outbox: pending, and finished within the last week (--archived: all).

    Example: arkops mail outbox --state unknown --format json
    """
    from arkops.core.messaging.service import list_outbox

    rt = runtime(ctx)
    rows = list_outbox(rt, state, archived=archived)
    shown = [
        "id",
        "state",
        "template",
        "to",
        "subject",
        "attempts",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "last_error",
    ]
    if format is Format.json:
        rows = [{k: v for k, v in row.items() if k not in ("html", "claimed_by")} for row in rows]
    emit_rows(
        rows,
        format,
        None if format is Format.json else shown,
        drop=("next_attempt_at", "last_error", "created_at", "subject", "attempts", "to"),
        chosen=columns,
    )


@app.command("flush")
def mail_flush(ctx: typer.Context) -> None:
    """Send every message that is due (cron runs this every 5 minutes).

    Example: arkops mail flush
    """
    from arkops.core.messaging.service import flush

    rt = runtime(ctx)
    raise typer.Exit(_report(rt, flush(rt, now=rt.now())))


@app.command("retry")
def mail_retry(
    ctx: typer.Context, message_id: Annotated[str, typer.Argument(metavar="ID", help="Message id from `mail outbox`.")]
) -> None:
    """Resend a failed, dead or unknown message now.

    Example: arkops mail retry 42
    """
    from arkops.core.messaging.service import retry

    rt = runtime(ctx)
    raise typer.Exit(_report(rt, retry(rt, message_id, now=rt.now()), each=True))


EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The email address.")]


@app.command("unsubscribe")
def mail_unsubscribe(ctx: typer.Context, email: EmailArgument) -> None:
    """Put an address on the suppression list: no more lifecycle mail (transactional mail still goes).

    Example: arkops mail unsubscribe ana@example.com
    """
    from arkops.core.messaging.consent import LIFECYCLE, suppress

    rt = runtime(ctx)
    record, changed = suppress(rt, email, scope=LIFECYCLE, reason="unsubscribed", now=rt.now(), via="operator")
    if changed:
        say(rt, f"{email}: suppressed ({record['scope']} mail)")
    else:
        say(rt, f"{email}: already suppressed ({record['scope']} mail, {record['reason']} {record['at'][:10]})")


@app.command("resubscribe")
def mail_resubscribe(ctx: typer.Context, email: EmailArgument) -> None:
    """Take an address off the suppression list (an unsubscription or a bounce alike).

    Example: arkops mail resubscribe ana@example.com
    """
    from arkops.core.messaging.consent import resubscribe

    rt = runtime(ctx)
    record = resubscribe(rt, email)
    if record is None:
        say(rt, f"{email}: not on the suppression list")
    else:
        say(rt, f"{email}: off the suppression list (was {record['reason']} {record['at'][:10]})")


@app.command("suppressed")
def mail_suppressed(
    ctx: typer.Context,
    *,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
    columns: ColumnsOption = None,
) -> None:
    """List the suppression list: each address, what it blocks (lifecycle or all customer mail), why and when.

    Example: arkops mail suppressed --format csv
    """
    from arkops.core.messaging.consent import suppressed

    rt = runtime(ctx)
    emit_rows(
        suppressed(rt),
        format,
        ["email", "scope", "reason", "at", "via", "detail"],
        drop=("detail", "via"),
        chosen=columns,
    )
