"""The analytics domain's doctor check: the provider's settings and secrets (no request made)."""

from __future__ import annotations

from arkops.core.doctor import FAIL, OK, Check
from arkops.errors import DataError
from arkops.runtime import Runtime


def settings(rt: Runtime) -> Check:
    from arkops.core.analytics.aggregates import connect

    provider = rt.config["analytics"]["provider"]
    if not provider:
        return Check("analytics", OK, "no web analytics configured (analytics.provider in arkops.toml)")
    try:
        connect(rt)
    except DataError as exc:
        return Check("analytics", FAIL, str(exc))
    return Check("analytics", OK, f"{provider}: settings and credentials present")
