"""The trials domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "trial_updates": Message(
        "operator",
        {
            "activated": [
                {
                    "email": "ana@example.com",
                    "plan": "Pro",
                    "activity_kind": "watch_created",
                    "activated_at": "2026-03-02 10:15 UTC",
                }
            ],
            "converted": [
                {
                    "email": "bo@example.com",
                    "plan": "Starter",
                    "converted_at": "2026-03-12 09:00 UTC",
                    "days_in_trial": 10,
                }
            ],
        },
    ),
    "trial_welcome": Message(
        "lifecycle",
        {"plan": "Growth", "trial_days": 14, "ends_on": "2026-03-15"},
    ),
    "trial_day1_help": Message(
        "lifecycle",
        {"plan": "Growth"},
    ),
    "trial_day1_demo": Message(
        "lifecycle",
        {"activity_count": 5, "demo_url": "https://example.com/sample-demo"},
    ),
    "trial_day7": Message(
        "lifecycle",
        {
            "plan": "Growth",
            "activity_count": 42,
            "days_left": 7,
            "case_study_url": "https://example.com/sample-case-study",  # [trials] case_study_url; "" for none
            "case_study_text": "How Acme caught 30 price drops in their first week.",
        },
        {"case_study_url": "", "case_study_text": ""},
    ),
    "trial_day12": Message(
        "lifecycle",
        {
            "plan": "Growth",
            "days_left": 2,
            "upgrade_url": "https://example.com/sample-upgrade",
            "offer_code": "LAUNCH30",  # [trials] early_offer; "" for none
        },
        {"offer_code": ""},
    ),
    "trial_day14_converted": Message(
        "lifecycle",
        {"plan": "Growth"},
    ),
    "trial_day14_ended": Message(
        "lifecycle",
        {"plan": "Growth", "upgrade_url": "https://example.com/sample-upgrade"},
    ),
}
