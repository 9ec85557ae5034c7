"""Operator alerts to a chat incoming webhook: Slack Block Kit blocks with the plain `text` fallback.

One payload serves Slack and Mattermost. Slack renders `blocks` (a header
with the subject, a section with the message, a section of fields for its
short facts, a section with its link) and shows `text` in notifications
and where blocks cannot be shown. Mattermost's incoming webhooks take
Slack's payload: they post `text` and leave `blocks` aside, so the message
reads the same there, as plain text.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from arkops.errors import redact
from arkops.mail.smtp import FAILED, RETRY, SENT, Outcome

# Slack's limits: a header's text, a section's text, the fields of a section and each field's text.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELDS_LIMIT = 10
FIELD_LIMIT = 2000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    """Text as Slack's mrkdwn reads it literally: `&`, `<` and `>` are its markup (`<!channel>` pings everyone)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(title: str, body: str, fields: list[tuple[str, str]], link: str | None) -> list[dict[str, Any]]:
    """The Block Kit blocks of one alert: title, message, fields (label and value), link."""
    found: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_LIMIT), "emoji": False}}
    ]
    if body.strip():
        found.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(body.strip()), SECTION_LIMIT)}}
        )
    if fields:
        found.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _cut(f"*{_mrkdwn(label)}*\n{_mrkdwn(value)}", FIELD_LIMIT)}
                    for label, value in fields[:FIELDS_LIMIT]
                ],
            }
        )
    if link:
        found.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{_mrkdwn(link)}>"}})
    return found


def payload(text: str, blocks_json: str) -> dict[str, Any]:
    """What is posted: the fallback text, and the blocks the outbox stored as JSON (none for an older message)."""
    body: dict[str, Any] = {"text": text}
    if blocks_json:
        body["blocks"] = json.loads(blocks_json)
    return body


def post_chat(url: str, body: dict[str, Any], *, timeout: float) -> Outcome:
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", "User-Agent": "arkops"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Outcome(SENT, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        kind = RETRY if exc.code in (408, 429) or exc.code >= 500 else FAILED
        return Outcome(kind, f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        return Outcome(RETRY, redact(f"{type(exc).__name__}: {exc}"), reached=False)
