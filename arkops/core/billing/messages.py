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
    # the `dunning` job's daily digest of invoices paid after a failed payment (`recoveries`): amounts written
    "payment_recoveries": Message(
        "operator",
        {
            "recoveries": [
                {"email": "ana@example.com", "invoice_id": "in_123", "amount": "€29.00", "mrr": "€29.00", "days": 3}
            ],
            "mrr": "€29.00",
            "month": "2026-03",
            "month_mrr": "€129.00",
            "month_count": 4,
        },
    ),
    # customer messages: amounts in minor units with their currency, dates YYYY-MM-DD, written the customer's way
    "payment_received": Message(
        "transactional",
        {"amount": 2900, "currency": "EUR", "invoice_id": "in_123"},
    ),
    "payment_failed_customer": Message(
        "transactional",
        {
            "amount": 2900,
            "currency": "EUR",
            "invoice_id": "in_123",
            "next_attempt": "2026-03-15",
            "portal_url": "https://billing.example.com/sample-portal-link",
        },
        optional={
            "next_attempt": "",
            "portal_url": "",
        },  # the billing-portal link through `arkops serve`, when [serve] public_url is set
    ),
    # the dunning sequence (`dunning`): amounts in minor units with their currency, written the customer's way
    "payment_reminder": Message(
        "transactional",
        {
            "amount": 2900,
            "currency": "EUR",
            "invoice_id": "in_123",
            "days": 3,
            "next_attempt": "2026-03-15",
            "portal_url": "https://billing.example.com/sample-portal-link",
        },
        optional={"next_attempt": "", "portal_url": ""},
    ),
    "payment_final_notice": Message(
        "transactional",
        {
            "amount": 2900,
            "currency": "EUR",
            "invoice_id": "in_123",
            "plan": "Pro",
            "portal_url": "https://billing.example.com/sample-portal-link",
        },
        optional={"plan": "", "portal_url": ""},
    ),
    "trial_payment_method": Message(
        "transactional",
        {"plan": "Pro", "trial_end": "2026-03-15", "portal_url": "https://billing.example.com/sample-portal-link"},
        optional={"portal_url": ""},
    ),
    "subscription_welcome": Message(
        "transactional",
        {"plan": "pro"},
    ),
}
