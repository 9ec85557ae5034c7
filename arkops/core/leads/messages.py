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
                    "hot_page": "trial",
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
            "more": 0,  # hot leads beyond `[leads] digest_max`, counted, not named
        },
    ),
    "new_leads": Message(
        "operator",
        {
            "window": "15 minutes",
            "leads": [
                {
                    "who": "ana@example.com",
                    "kind": "trial",  # "trial" for a signup, else the demo request's kind ("demo request")
                    "plan": "Pro",
                    "source": "newsletter",
                    "campaign": "launch",
                    "time": "2026-03-02 10:00 CET",
                    "pages": ["pricing", "trial"],  # the tracked pages the visitor saw first
                    "first_seen": "2026-03-02 09:41 CET",
                    "show": "arkops leads show ana@example.com",
                },
                {
                    "who": "lea@bigcorp.example (Lea, BigCorp)",
                    "kind": "demo request",
                    "plan": "",
                    "source": "pricing",
                    "campaign": "",
                    "time": "2026-03-02 10:05 CET",
                    "pages": [],
                    "first_seen": "",
                    "show": "arkops leads show lea@bigcorp.example",
                },
            ],
            "more": 0,
        },
    ),
}
