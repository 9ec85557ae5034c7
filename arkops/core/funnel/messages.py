"""The funnel domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "conversion_rate": Message(
        "operator",
        {
            "rate_name": "demo -> trial",
            "rate": "3.1 %",
            "threshold": "5.0 %",
            "sample": 160,
            "converted": 5,
            "interval": "1.3 % - 7.1 %",
            "days": 7,
            "previous": "6.2 % (9 of 145)",
            "sources": ["newsletter: 1.2 % (1 of 80), the window before 6.0 % (3 of 50)"],
            "recovered": False,
        },
    ),
    "no_visits": Message(
        "operator",
        {"hours": 24, "last_visit": "2026-03-01 08:00 UTC"},
    ),
}
