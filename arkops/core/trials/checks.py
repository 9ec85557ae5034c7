"""The trials domain's `doctor` checks."""

from __future__ import annotations

from arkops.core.doctor import OK, WARN, Check
from arkops.runtime import Runtime


def trial_links(rt: Runtime) -> Check:
    missing = [key for key in ("upgrade_url", "demo_url") if not rt.config["trials"][key]]
    if missing:
        keys = ", ".join(f"[trials] {k}" for k in missing)
        return Check(
            "trial links", WARN, f"{keys} not set: lifecycle emails link to a reply (mailto:MAIL_FROM) instead"
        )
    return Check("trial links", OK, "upgrade and demo links set")
