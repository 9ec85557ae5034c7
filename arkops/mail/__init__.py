"""Email: templates, rendering, the outbox and its transports (SMTP, chat webhook)."""
