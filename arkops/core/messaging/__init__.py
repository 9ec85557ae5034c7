"""Messaging: the outbox and its delivery (`service`), consent (`consent`: the suppression list and the signed
unsubscribe and portal links), and the mail settings' `doctor` checks (`checks`).

Rendering, the outbox file and the SMTP and chat transports live one layer
down, in `arkops.mail`; `arkops.core.notify` is how every domain queues a message.
"""

from arkops.core.domain import Database, DoctorCheck, Domain, Job, Retention, SectionPart
from arkops.mail import OUTBOX, MessageState

__all__ = ["DOMAIN", "MessageState"]

OUTBOX_DB = Database(
    OUTBOX,
    version=2,
    # counters: the next message number; retention: how far bodies were emptied. Nobody in either.
    personal={
        "messages": ("to", "subject", "text", "html", "key", "last_error"),
        "keys": ("_key",),
        "counters": (),
        "retention": (),
    },
    migrations="arkops.mail.outbox:MIGRATIONS",
    archive=True,
    forget="arkops.core.messaging.privacy:forget",
)

# addresses: each suppressed address (the key) with its scope, reason, when, and a bounce's reply (which may quote
# the address); hashes: addresses forgotten by `privacy forget`, under their keyed hash only.
SUPPRESSIONS_DB = Database(
    "suppressions",
    version=1,
    personal={"addresses": ("_key", "detail"), "hashes": ()},
    forget="arkops.core.messaging.consent:forget",
)

DOMAIN = Domain(
    name="messaging",
    summary="Email: templates, the idempotent outbox, SMTP delivery and chat alerts.",
    commands={"mail": "arkops.cli.mail:app"},
    databases=(OUTBOX_DB, SUPPRESSIONS_DB),
    jobs=(
        Job(
            "mail-flush",
            "send the emails that are due",
            "arkops.core.messaging.service:flush_job",
            every_minutes=5,
            order=90,
        ),
    ),
    checks=(
        DoctorCheck("arkops.core.messaging.checks:mail_settings", order=20),
        DoctorCheck("arkops.core.messaging.checks:customer_mail", order=21),
        DoctorCheck("arkops.core.messaging.checks:templates", order=70),
        DoctorCheck("arkops.core.messaging.checks:outbox", order=80),
        DoctorCheck("arkops.core.messaging.checks:smtp", order=91, needs="smtp"),
    ),
    templates="arkops.core.messaging.messages:TEMPLATES",
    retention=(Retention("arkops.core.messaging.service:retention", order=90),),
    status=SectionPart("arkops.core.messaging.sections:status", order=80),
    report=SectionPart("arkops.core.messaging.sections:report", order=80),
    order=40,
    audited=("mail send", "mail test", "mail flush", "mail retry", "mail unsubscribe", "mail resubscribe"),
    config="arkops.core.messaging.settings:CONFIG",
)
