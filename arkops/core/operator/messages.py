"""The operator domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message
from arkops.core.sections import Chart, Figure, Section, Table

SAMPLE_SECTION = Section(
    "revenue",
    "Revenue",
    figures=[
        Figure("mrr", "MRR", 123400, "€1,234.00", currency="EUR"),
        Figure(
            "failed_payments", "Failed payments open", 1, "1 (€29.00)", red=True, note="see `arkops payments failed`"
        ),
    ],
    charts=[
        Chart(
            "revenue",
            "Revenue per month",
            "bars",
            ["2026-02", "2026-03"],
            {"revenue": [0, 31000]},
            "money",
            "€310.00 over 2 months, €310.00 in 2026-03.",
            currency="EUR",
        )
    ],
    tables=[
        Table(
            "failed_payments",
            "Failed payments open",
            columns=["email", "amount"],
            headers=["Customer", "Amount"],
            rows=[{"email": "ana@example.com", "amount": 2900}],
            cells=[["ana@example.com", "€29.00"]],
            red_rows=[0],
        )
    ],
)

TEMPLATES = {
    "weekly_report": Message(
        "operator",
        {
            "period": "2026-W10",
            # the headline: figures of the sections, as `arkops status` shows them
            "headline": [
                Figure("mrr", "MRR", 123400, "€1,234.00", currency="EUR"),
                Figure("signups_last_week", "Signups last week", 12, "12", note="2026-W10"),
            ],
            "mrr": "€1,234.00",
            "revenue": "€310.00",
            "new_trials": 12,
            "conversions": 2,
            "retention_month": "2026-03",  # the month of the week's last day
            "nrr": "98.5 %",  # its net MRR retention
            "quick_ratio": "3.20",  # its quick ratio, "n/a" when it lost nothing
            "sections": [SAMPLE_SECTION],  # every domain's report sections (`arkops.core.sections.Section`)
        },
    ),
}
