"""JSON over HTTP with the standard library, for the providers that have no maintained client (Pipedrive,
Plausible) and the odd endpoint a client library leaves out (HubSpot's token information).

`call` never raises on an HTTP status: the caller reads `Answer.status`, since each provider words its
errors and its rate limits its own way. A connection that fails or a body that is not JSON is a
`ServiceError` (exit 4). Request and error texts are redacted: a token can sit in a URL or an echo.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, NamedTuple

from arkops.errors import ServiceError, redact

TIMEOUT = 30.0


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: Any  # the parsed JSON, or None for an empty body


def call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = TIMEOUT,
    service: str,
) -> Answer:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Accept": "application/json", "User-Agent": "arkops", **(headers or {})}
        | ({"Content-Type": "application/json"} if data is not None else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, found = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, found = exc.code, exc.read(), exc.headers
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(redact(f"{service}: {method} {_where(url)} failed: {exc}")) from None
    headers_found = {name.lower(): value for name, value in (found or {}).items()}
    if not raw.strip():
        return Answer(status, headers_found, None)
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ServiceError(
            f"{service}: {method} {_where(url)} answered HTTP {status} with a body that is not JSON"
        ) from None
    return Answer(status, headers_found, parsed)


def _where(url: str) -> str:
    """The URL without its query string (which may hold a token)."""
    return url.split("?", 1)[0]
