"""Email: templates, rendering, the outbox and its transports (SMTP, chat webhook)."""

from enum import StrEnum


class MessageState(StrEnum):
    """Where an outbox message stands (README, "How the outbox behaves")."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    dead = "dead"
    unknown = "unknown"
    dry_run = "dry-run"
