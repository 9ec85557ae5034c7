"""The plans domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "quota_reached": Message(
        "operator",
        {
            "customer": "ana@example.com",
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
        {"metric": "watches", "used": 8, "limit": 10, "upgrade_url": "https://example.com/upgrade"},
    ),
    "quota_100": Message(
        "transactional",
        {"metric": "watches", "used": 10, "limit": 10, "upgrade_url": "https://example.com/upgrade"},
    ),
}
