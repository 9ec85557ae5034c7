"""Privacy: a person's data exported or forgotten across every store, retention, the audit log, file modes.

`person` holds the keyed hash and the erasure records (`erased()` is what
every import and sync asks), `service` export and forget over the domains'
declared personal data, `purge` privacy's retention rules, `audit` the
append-only log of commands that change data, `checks` the file modes.
"""

from typing import Any

from arkops.core.domain import Database, DoctorCheck, Domain, Retention


def erased(rt: Any, email_or_ip: str) -> bool:
    """True when `privacy forget` erased this email or IP address: every import and sync leaves them out.

    The one question other domains ask (leads, promo, usage on intake);
    cheap when nobody was ever erased. See `arkops.core.privacy.person`.
    """
    from arkops.core.privacy.person import erased as check

    return check(rt, email_or_ip)


def refuse_erased(rt: Any, email_or_ip: str) -> None:
    """Raise `ErasedError` (exit 3, nothing written) for a person `privacy forget` erased.

    What a command that records one person at a time calls first (`trials
    signup`, `promo redeem`, `usage record`, `billing checkout`); an import
    catches the error and counts the record as not recorded.
    """
    from arkops.core.privacy.person import refuse_erased as refuse

    refuse(rt, email_or_ip)


def stored_ip(rt: Any, ip: str) -> str:
    """An IP address as it may be written: whole, or anonymized under `[leads] ip_storage = "anonymized"`."""
    from arkops.core.privacy.person import stored_ip as keep

    return keep(rt, ip)


PRIVACY_DB = Database("privacy", version=1, personal={"erasures": ()})  # erasure records: keyed hashes only
AUDIT_DB = Database("audit", version=1, personal={"audit": ()}, kind="jsonl")  # addresses hashed, never in clear

DOMAIN = Domain(
    name="privacy",
    summary="Personal data: export, forget, retention, the audit log and file permissions.",
    commands={"privacy": "arkops.cli.privacy:app", "audit": "arkops.cli.privacy:audit"},
    databases=(PRIVACY_DB, AUDIT_DB),
    checks=(DoctorCheck("arkops.core.privacy.checks:permissions", order=55),),
    retention=(
        Retention("arkops.core.privacy.purge:day_files", order=60),
        Retention("arkops.core.privacy.purge:temp_files", order=95),
    ),
    audited=("privacy forget", "privacy purge"),
    order=80,
    config="arkops.core.privacy.settings:CONFIG",
)
