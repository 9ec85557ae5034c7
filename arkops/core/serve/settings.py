"""The serve domain's keys of arkops.toml: `[serve]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
The bearer token is a secret: it comes from `ARKOPS_SERVE_TOKEN`, never from this file.
"""

from __future__ import annotations

import re

from arkops.config import Field, Spec, Table, at_least, http_url


def _host(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z0-9.:\-\[\]]+", value) else f"{value!r} is not a host name or address"


def _port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else f"{value} is not a port (1-65535)"


def _proxy(value: str) -> str | None:
    return None if value == "" else _host(value)


def _origins(value: list) -> str | None:
    ok = all(isinstance(v, str) and re.fullmatch(r"https?://[^/\s]+", v) for v in value)
    return None if ok else 'must be a list of origins, scheme and host without a path (e.g. ["https://example.com"])'


CONFIG: dict[str, Spec] = {
    "serve": Table(
        {
            "host": Field(str, "127.0.0.1", _host, doc="address `arkops serve` listens on (behind a reverse proxy)"),
            "port": Field(int, 8787, _port, doc="port `arkops serve` listens on"),
            "public_url": Field(
                str,
                "",
                http_url,
                doc="the address the outside world reaches `arkops serve` at (links in emails: unsubscribe, portal, the trials' upgrade)",
            ),
            "threads": Field(int, 8, at_least(1), doc="requests handled at once; slow clients never hold one"),
            "max_body_bytes": Field(
                int, 1 << 20, at_least(1024), doc="largest request body accepted (413 beyond), 1 MiB by default"
            ),
            "cors_origins": Field(
                list, [], _origins, doc="origins (the landing page's) allowed to call the public promo routes"
            ),
            "trusted_proxy": Field(
                str,
                "",
                _proxy,
                doc="address of the reverse proxy in front (e.g. 127.0.0.1) whose X-Forwarded-For names the client; "
                "empty: the header is ignored and the connection's address is the client's",
            ),
            "rate_per_minute": Field(
                int, 60, at_least(1), doc="requests a minute one client address may make to the public routes"
            ),
            "tick_minutes": Field(
                int, 15, at_least(1), doc="/healthz answers 503 when `arkops run` last ran longer ago than this"
            ),
            "idempotency_hours": Field(
                int,
                48,
                at_least(1),
                doc="how long, at least, a replayed event id or Idempotency-Key gets its first answer (kept in day files: up to a day more)",
            ),
        },
        doc="`arkops serve`: the HTTP endpoint (the bearer token is ARKOPS_SERVE_TOKEN in the environment)",
    ),
}
