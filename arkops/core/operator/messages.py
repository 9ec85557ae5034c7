"""The operator domain's messages: who reads each and sample values of its variables.

The samples render every template in `arkops doctor`, `arkops mail preview` and the tests; they also
document the variables a template may use (every template also receives `recipient`, `locale`, `product`
and, in HTML, `subject`).
"""

from arkops.core.domain import Message

TEMPLATES = {
    "weekly_report": Message(
        "operator",
        {
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
    ),
}
