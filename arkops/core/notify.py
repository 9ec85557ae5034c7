"""The one way any domain tells someone something: render, validate, enqueue.

Operator alerts go to ARKOPS_ALERT_TO in the operator's locale, and also to
the chat webhook when `[mail] alert_webhook_url` is set; with a webhook and
no SMTP_HOST (a chat-only installation) they go to the webhook alone and
ARKOPS_ALERT_TO is not needed. Customer messages go to the customer in
their locale (or the configured default) and never to the chat webhook.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arkops.config import LOCALES, env
from arkops.core.domain import Message
from arkops.core.registry import messages
from arkops.errors import ConfigError, DataError
from arkops.mail.address import check_header, normalize_address
from arkops.mail.outbox import CHAT, EMAIL, Draft, check_draft, enqueue_many
from arkops.mail.render import Rendered, render
from arkops.runtime import Runtime

CHAT_TEXT_LIMIT = 600


@dataclass
class Queued:
    id: str
    key: str
    created: bool
    state: str
    to: str


def product_name(rt: Runtime) -> str:
    """The product's name as customers read it (`[product] name`)."""
    return rt.config["product"]["name"].strip()


def sender_name(rt: Runtime) -> str:
    """The From display name: `[mail] from_name`, else the product's name."""
    return rt.config["mail"]["from_name"].strip() or product_name(rt)


def declared(template: str) -> Message:
    known = messages()
    if template not in known:
        raise DataError(f"unknown template {template!r} (known: {', '.join(sorted(known))})")
    return known[template]


def variable_problems(template: str, given: dict[str, Any]) -> list[str]:
    """What is wrong with the variables a send gives a template: unknown ones, missing required ones."""
    message = declared(template)
    unknown = [name for name in given if name not in message.sample]
    missing = [name for name in message.required if name not in given]
    problems = [f"unknown variable {name!r}" for name in unknown]
    problems += [f"missing required variable {name!r}" for name in missing]
    return problems


def describe_variables(template: str) -> str:
    """`plan, days_left (required); upgrade_url (optional, default "")`: a template's variables, for errors and docs."""
    message = declared(template)
    required = ", ".join(message.required) or "none"
    optional = ", ".join(f"{name} (default {value!r})" for name, value in message.optional.items())
    return f"required: {required}" + (f"; optional: {optional}" if optional else "")


def send_variables(template: str, given: dict[str, Any]) -> dict[str, Any]:
    """The variables of a real send: exactly the declared ones, optional ones defaulted; never a sample value."""
    problems = variable_problems(template, given)
    if problems:
        raise DataError(f"template {template}: {'; '.join(problems)} ({describe_variables(template)})")
    return {**declared(template).optional, **given}


def render_message(
    rt: Runtime,
    template: str,
    variables: dict[str, Any],
    *,
    locale: str,
    recipient: str,
    unsubscribe_url: str = "",
) -> Rendered:
    message = declared(template)
    if locale not in LOCALES:
        raise DataError(f"locale {locale!r} is not one of {', '.join(LOCALES)}")
    product = rt.config["product"]
    context = {
        "recipient": recipient,
        "product": product_name(rt),
        "product_url": product["url"],
        "support_email": product["support_email"],
        "postal_address": product["postal_address"],
        "category": message.category,
        "unsubscribe_url": unsubscribe_url if message.category == "lifecycle" else "",
        **variables,
    }
    return render(template, context, locale=locale, templates_dir=rt.config["mail"]["templates_dir"])


def message_headers(rt: Runtime, category: str, links: tuple[str | None, str | None]) -> dict[str, str]:
    """Reply-To for customer mail, Auto-Submitted for operator alerts, List-Unsubscribe for lifecycle mail."""
    if category == "operator":
        return {"Auto-Submitted": "auto-generated"}
    headers = {}
    if support := rt.config["product"]["support_email"]:
        headers["Reply-To"] = support
    if category == "lifecycle":
        url, mailto = links
        if url or mailto:
            headers["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in (url, mailto) if link)
        if url:
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: one click, no page
    return headers


# Names the Message-ID domain and the From of dry-run .eml files when MAIL_FROM is unset or unusable;
# `.invalid` can never deliver (RFC 2606). MAIL_FROM itself is read and checked when a message is sent.
PLACEHOLDER_SENDER = "mail-from-not-set@arkops.invalid"


def queue_sender() -> str:
    """The sender known at queue time: queuing never needs MAIL_FROM, so a missing one never loses an event."""
    try:
        return normalize_address(env("MAIL_FROM"), field="MAIL_FROM")
    except DataError:
        return PLACEHOLDER_SENDER


def chat_only(rt: Runtime) -> bool:
    """Operator alerts go to the chat webhook alone: one is configured and no SMTP server is."""
    return bool(rt.config["mail"]["alert_webhook_url"]) and not env("SMTP_HOST")


FACT_LIMIT = 200  # a variable longer than this is left to the message's text, not shown as a chat field


def chat_facts(variables: dict[str, Any]) -> tuple[list[tuple[str, str]], str | None]:
    """The chat card's fields (each short one-line variable, by its name) and its link (the first URL variable)."""
    fields: list[tuple[str, str]] = []
    link = None
    for name, value in variables.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        text = str(value)
        if re.match(r"https?://\S+$", text):
            link = link or text
        elif text and "\n" not in text and len(text) <= FACT_LIMIT:
            fields.append((name.replace("_", " "), text))
    return fields, link


def operator_address() -> str:
    address = env("ARKOPS_ALERT_TO")
    if not address:
        raise ConfigError("environment", "ARKOPS_ALERT_TO", "not set; operator alerts need an address")
    return normalize_address(address, field="ARKOPS_ALERT_TO")


def _recipient(*, operator: bool, by_email: bool, to: str | None) -> str:
    """The customer's address; for an operator alert, ARKOPS_ALERT_TO (not required when it goes to chat alone)."""
    if not operator:
        return normalize_address(to or "", field="to")
    return operator_address() if by_email else env("ARKOPS_ALERT_TO") or "chat"


def notify(
    rt: Runtime,
    template: str,
    variables: dict[str, Any],
    *,
    key: str,
    now: datetime,
    to: str | None = None,
    locale: str | None = None,
) -> list[Queued]:
    """Queue one message (and its chat copy for operator alerts); a key already queued is a no-op.

    Inside `batched(rt)` the message is checked now and stored when the
    block ends, with the others, and nothing is returned.
    """
    message = declared(template)
    operator = message.for_operator and to is None
    webhook = rt.config["mail"]["alert_webhook_url"]
    by_email = not (operator and chat_only(rt))
    recipient = _recipient(operator=operator, by_email=by_email, to=to)
    chosen_locale = rt.config.operator_locale if operator else (locale or rt.config.locale)
    category = "operator" if operator else message.category
    links: tuple[str | None, str | None] = (None, None)
    if category == "lifecycle":
        from arkops.core.links import unsubscribe_links

        links = unsubscribe_links(rt, recipient)
    rendered = render_message(
        rt,
        template,
        send_variables(template, variables),
        locale=chosen_locale,
        recipient=recipient,
        unsubscribe_url=links[0] or links[1] or "",
    )
    check_header(rendered.subject, "subject")
    sender = queue_sender()
    from_name = check_header(sender_name(rt), "[mail] from_name")
    drafts = []
    if by_email:
        drafts.append(
            Draft(
                key,
                EMAIL,
                template,
                chosen_locale,
                recipient,
                rendered.subject,
                rendered.text,
                rendered.html,
                from_name,
                category,
                message_headers(rt, category, links),
            )
        )
    if operator and webhook:
        drafts.append(_chat_draft(f"{key}#chat", template, chosen_locale, webhook, rendered, variables))
    if rt.pending_mail is not None:
        for draft in drafts:
            check_draft(draft)
        rt.pending_mail.extend((draft, now) for draft in drafts)
        return []
    stored = enqueue_many(rt.store, [(draft, now) for draft in drafts], dry_run=rt.dry_run, sender=sender)
    return [
        Queued(doc["id"], draft.key, created, doc["state"], doc["to"] if draft.channel == EMAIL else "chat")
        for draft, (doc, created) in zip(drafts, stored, strict=True)
    ]


def _chat_draft(
    key: str, template: str, locale: str, webhook: str, rendered: Rendered, variables: dict[str, Any]
) -> Draft:
    """The chat copy: the plain text fallback, and the Block Kit blocks kept (as JSON) where an email keeps HTML."""
    from arkops.mail.webhook import blocks

    text = f"{rendered.subject}\n{rendered.text.strip()}"
    if len(text) > CHAT_TEXT_LIMIT:
        text = text[: CHAT_TEXT_LIMIT - 1] + "…"
    fields, link = chat_facts(variables)
    card = json.dumps(blocks(rendered.subject, rendered.text, fields, link), ensure_ascii=False)
    return Draft(key, CHAT, template, locale, webhook, rendered.subject, text, card)


@contextmanager
def batched(rt: Runtime) -> Iterator[None]:
    """Queue every message `notify` makes inside the block in one outbox write, when the block ends.

    One transaction per job run, not one per message. Used inside the job's
    own transaction, the messages are stored before that transaction
    commits, so a run killed in between re-queues them (same keys: no
    double) rather than losing them. An exception drops them with the rest
    of the run. Nested blocks join the outermost one.
    """
    if rt.pending_mail is not None:
        yield
        return
    rt.pending_mail = []
    try:
        yield
        drafts = rt.pending_mail
    finally:
        rt.pending_mail = None
    if drafts:
        enqueue_many(rt.store, drafts, dry_run=rt.dry_run, sender=queue_sender())
