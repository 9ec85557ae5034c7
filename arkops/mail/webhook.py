"""Operator alerts to a chat incoming webhook (Slack and Mattermost accept {"text": ...})."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from arkops.errors import redact
from arkops.mail.smtp import FAILED, RETRY, SENT, Outcome


def post_chat(url: str, text: str, *, timeout: float) -> Outcome:
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "arkops"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Outcome(SENT, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        kind = RETRY if exc.code in (408, 429) or exc.code >= 500 else FAILED
        return Outcome(kind, f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        return Outcome(RETRY, redact(f"{type(exc).__name__}: {exc}"), reached=False)
