"""Email: templates, rendering, the outbox and its transports (SMTP, chat webhook)."""

from enum import StrEnum

OUTBOX = "outbox"  # the outbox database's name, declared with its schema by the messaging domain (OUTBOX_DB)


class MessageState(StrEnum):
    """Where an outbox message stands (docs/messaging.md, "How the outbox behaves")."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    dead = "dead"
    unknown = "unknown"
    dry_run = "dry-run"
    suppressed = "suppressed"  # the recipient is on the suppression list for its category: never sent
