"""The messaging domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "job_failed": Message(
        "operator",
        {"job": "stripe-sync", "failures": 3, "error": "Stripe unreachable", "recovered": False},
    ),
    "test": Message(
        "operator",
        {},
    ),
}
