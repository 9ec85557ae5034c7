"""The promo domain's messages: each template's category and sample variables (`arkops.core.domain.Message`)."""

from arkops.core.domain import Message

TEMPLATES = {
    "promo_confirmation": Message(
        "transactional",
        {"code": "LAUNCH50", "discount": "50 %", "duration": "3 months"},
    ),
}
