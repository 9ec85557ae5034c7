"""Every message arkops sends: who it is for, and sample values for each variable.

The samples are what `arkops doctor` and the tests render every template
with; they also document the variables a template may use. Every template
also receives `recipient`, `locale`, `product` and `subject` (HTML only).
"""

from __future__ import annotations

OPERATOR_TEMPLATES: dict[str, dict] = {
    "trial_updates": {
        "activated": [
            {
                "email": "ana@example.com",
                "plan": "Pro",
                "activity_kind": "watch_created",
                "activated_at": "2026-03-02 10:15 UTC",
            }
        ],
        "converted": [
            {"email": "bo@example.com", "plan": "Starter", "converted_at": "2026-03-12 09:00 UTC", "days_in_trial": 10}
        ],
    },
    "first_revenue": {"email": "ana@example.com", "amount": "€29.00", "invoice_id": "in_123"},
    "payment_failed": {
        "email": "ana@example.com",
        "amount": "€29.00",
        "invoice_id": "in_123",
        "attempt_count": 1,
        "next_attempt": "2026-03-15",
    },
    "hot_leads": {
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
    "conversion_rate": {
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
    "no_visits": {"hours": 24, "last_visit": "2026-03-01 08:00 UTC"},
    "quota_reached": {
        "customer": "ana@example.com",
        "metric": "watches",
        "used": 10,
        "limit": 10,
        "reached": [{"customer": "ana@example.com", "plan": "starter", "metric": "watches", "used": 10, "limit": 10}],
        "more": 0,
    },
    "job_failed": {"job": "stripe-sync", "failures": 3, "error": "Stripe unreachable", "recovered": False},
    "weekly_report": {
        "period": "2026-W10",
        "mrr": "€1,234.00",
        "revenue": "€310.00",
        "new_trials": 12,
        "conversions": 2,
        # every domain's report sections (`arkops.core.operator.weekly.email_sections`)
        "sections": [
            {
                "title": "Revenue",
                "red": True,
                "figures": [
                    {"label": "MRR", "text": "€1,234.00", "red": False, "note": ""},
                    {
                        "label": "Failed payments open",
                        "text": "1 (€29.00)",
                        "red": True,
                        "note": "see `arkops payments failed`",
                    },
                ],
                "charts": [{"title": "Revenue per month", "alt": "Revenue per month: €3,100.00 over 12 months."}],
                "tables": [
                    {
                        "title": "Failed payments open",
                        "headers": ["Customer", "Amount"],
                        "rows": [["ana@example.com", "€29.00"]],
                        "red_rows": [0],
                        "empty": "none",
                    }
                ],
            }
        ],
    },
    "test": {},
}

CUSTOMER_TEMPLATES: dict[str, dict] = {
    "trial_welcome": {"plan": "pro", "trial_days": 14, "ends_on": "2026-03-15"},
    "trial_day1_help": {"plan": "pro"},
    "trial_day1_demo": {"activity_count": 5, "demo_url": "https://example.com/demo"},
    "trial_day7": {"plan": "pro", "activity_count": 42, "days_left": 7},
    "trial_day12": {"plan": "pro", "days_left": 2, "upgrade_url": "https://example.com/upgrade"},
    "trial_day14_converted": {"plan": "pro"},
    "trial_day14_ended": {"plan": "pro"},
    "payment_received": {"amount": "€29.00", "invoice_id": "in_123"},
    "payment_failed_customer": {"amount": "€29.00", "invoice_id": "in_123", "next_attempt": "2026-03-15"},
    "subscription_welcome": {"plan": "pro"},
    "plan_migration": {"old_plan": "starter", "new_plan": "pro", "effective_date": "2026-04-01"},
    "quota_80": {"metric": "watches", "used": 8, "limit": 10, "upgrade_url": "https://example.com/upgrade"},
    "quota_100": {"metric": "watches", "used": 10, "limit": 10, "upgrade_url": "https://example.com/upgrade"},
    "promo_confirmation": {"code": "LAUNCH50", "discount": "50 %", "duration": "3 months"},
}

SAMPLES: dict[str, dict] = {**OPERATOR_TEMPLATES, **CUSTOMER_TEMPLATES}


def is_operator_message(template: str) -> bool:
    return template in OPERATOR_TEMPLATES
