"""The leads domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "hot_leads": Message(
        "operator",
        {
            "window": "15 minutes",
            "leads": [
                {
                    "visitor": "ana@example.com",
                    "score": 11.2,
                    "pages": ["pricing", "trial"],
                    "page": "trial",
                    "time": "2026-03-02 10:15 CET",
                    "source": "newsletter",
                    "referrer": "https://news.example/",
                    "user_agent": "Mozilla/5.0",
                    "visits": 4,
                    "days": 2,
                    "history": ["2026-03-01 18:02 CET pricing", "2026-03-02 10:15 CET trial"],
                }
            ],
        },
    ),
}
