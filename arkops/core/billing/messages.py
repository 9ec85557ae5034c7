"""The billing domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "first_revenue": Message(
        "operator",
        {"email": "ana@example.com", "amount": "€29.00", "invoice_id": "in_123"},
    ),
    "payment_failed": Message(
        "operator",
        {
            "email": "ana@example.com",
            "amount": "€29.00",
            "invoice_id": "in_123",
            "attempt_count": 1,
            "next_attempt": "2026-03-15",
        },
    ),
    "payment_received": Message(
        "transactional",
        {"amount": "€29.00", "invoice_id": "in_123"},
    ),
    "payment_failed_customer": Message(
        "transactional",
        {"amount": "€29.00", "invoice_id": "in_123", "next_attempt": "2026-03-15"},
    ),
    "subscription_welcome": Message(
        "transactional",
        {"plan": "pro"},
    ),
}
