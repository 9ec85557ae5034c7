"""The trials domain's `doctor` checks."""

from __future__ import annotations

from arkops.core.doctor import OK, WARN, Check
from arkops.runtime import Runtime


def watched_files(rt: Runtime) -> list[Check]:
    """The app's signup and activity files `trials-track` follows: readable, and written lately."""
    from arkops.core.watch import freshness_checks

    config = rt.config["trials"]
    watched = {"signup files": config["signup_files"], "activity files": config["activity_files"]}
    return freshness_checks(rt, watched, config["files_stale_hours"])


def trial_links(rt: Runtime) -> Check:
    missing = [key for key in ("upgrade_url", "demo_url") if not rt.config["trials"][key]]
    if missing:
        keys = ", ".join(f"[trials] {k}" for k in missing)
        detail = f"{keys} not set: lifecycle emails link to a reply (mailto:MAIL_FROM) instead"
        if "upgrade_url" in missing:
            detail += " (days 12 and 14: a Stripe Checkout link for the plan, valid 24 h, where Stripe is set up)"
        return Check("trial links", WARN, detail)
    return Check("trial links", OK, "upgrade and demo links set")
