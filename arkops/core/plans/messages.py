"""The plans domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

# The quota emails name the customer's plan and the next plan up with its price (minor units); `next_plan` empty:
# the customer is on the top plan, and the email points to support instead of an upgrade.
QUOTA_SAMPLE = {
    "metric": "watches",
    "used": 8,
    "limit": 10,
    "plan": "Starter",
    "next_plan": "Business",
    "next_price": 9900,
    "currency": "EUR",
    "interval": "month",
    "upgrade_url": "https://example.com/upgrade",
}
QUOTA_OPTIONAL = {"next_plan": "", "next_price": 0, "currency": "EUR", "interval": "month", "upgrade_url": ""}

TEMPLATES = {
    "quota_reached": Message(
        "operator",
        {
            "customer": "ana@example.com",
            "plan": "starter",
            "metric": "watches",
            "used": 10,
            "limit": 10,
            "reached": [
                {"customer": "ana@example.com", "plan": "starter", "metric": "watches", "used": 10, "limit": 10}
            ],
            "more": 0,
        },
    ),
    "plan_migration": Message(
        "transactional",
        {"old_plan": "starter", "new_plan": "pro", "effective_date": "2026-04-01"},
    ),
    "quota_80": Message(
        "lifecycle",
        {**QUOTA_SAMPLE, "used": 8},
        optional=QUOTA_OPTIONAL,
    ),
    "quota_100": Message(
        "transactional",
        {**QUOTA_SAMPLE, "used": 10},
        optional=QUOTA_OPTIONAL,
    ),
}
