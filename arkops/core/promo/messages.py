"""The promo domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "promo_confirmation": Message(
        "transactional",
        {"code": "LAUNCH50", "discount": "50 %", "duration": "3 months"},
    ),
    # `promo announce`: the offer, then (with --follow-up-days) a reminder to those who did not redeem it
    "promo_announcement": Message(
        "lifecycle",
        {
            "code": "LAUNCH30",
            "discount": "30 %",
            "up_to": False,  # True when plans get different percents: `discount` is the best of them
            "duration": "3 months",
            "plans": "Starter, Pro",
            "valid_until": "2026-03-31",  # "" without an end
            "slots_left": 30,  # None when unlimited
        },
    ),
    "promo_follow_up": Message(
        "lifecycle",
        {
            "code": "LAUNCH30",
            "discount": "30 %",
            "up_to": False,  # True when plans get different percents: `discount` is the best of them
            "duration": "3 months",
            "plans": "Starter, Pro",
            "valid_until": "2026-03-31",
            "slots_left": 12,
        },
    ),
    "promo_redemptions": Message(
        "operator",
        {
            "redemptions": [
                {
                    "code": "LAUNCH30",
                    "who": "ana@example.com",
                    "plan": "Pro",
                    "at": "2026-03-02 10:15 CET",
                    "source": "arkops",  # or "stripe": redeemed at Stripe Checkout, seen in the ledger
                    "slots_left": 17,
                }
            ],
        },
    ),
}
