"""Promo codes: create, validate, redeem atomically, a live counter for the landing page, sync to Stripe.

`codes` holds the code records and their input checks, `redeem` validation, redemption, release and the
counter files, `stats` the figures (with the billing ledger), `push` the Stripe coupon and promotion code.
"""

from enum import StrEnum

from arkops.core.domain import Database, DemoPart, DoctorCheck, Domain, Job, SectionPart


class Refusal(StrEnum):
    """Why a code does not apply (`promo validate` and `promo redeem`, exit 1)."""

    unknown = "unknown"
    disabled = "disabled"
    not_yet_valid = "not yet valid"
    expired = "expired"
    plan_not_covered = "plan not covered"
    already_used = "already used by this email"
    no_slots_left = "no slots left"


# A redemption's key is "<CODE>:<email>", so the key holds the email too. `privacy forget` keeps an
# erased person's redemption under their pseudonym: the slot stays taken (see `promo.privacy`).
# announcements: who was told of a code and their follow-up ("<CODE>:<email>"); reported: the redemptions
# the operator's digest named ("<CODE>:<email>").
PROMO_DB = Database(
    "promo",
    version=1,
    personal={
        "codes": (),
        "redemptions": ("_key", "email"),
        "announcements": ("_key", "email"),
        "reported": ("_key",),
    },
    forget="arkops.core.promo.privacy:forget",
)

DOMAIN = Domain(
    name="promo",
    summary="Promo codes: atomic redemptions with a slot counter, stats from the ledger, Stripe coupons.",
    commands={"promo": "arkops.cli.promo:app"},
    databases=(PROMO_DB,),
    jobs=(
        Job(
            "promo-sync",
            "refresh the promo counter files, queue due follow-ups, tell the operator of new redemptions",
            "arkops.core.promo.redeem:refresh_job",
            every_minutes=10,
            order=85,  # after stripe-sync (Checkout redemptions) and before mail-flush (confirmations)
        ),
    ),
    checks=(DoctorCheck("arkops.core.promo.push:coupons_check", order=93, needs="stripe"),),
    demo=DemoPart("arkops.core.promo.demo:build", order=60),
    templates="arkops.core.promo.messages:TEMPLATES",
    status=SectionPart("arkops.core.promo.sections:status", order=40),
    report=SectionPart("arkops.core.promo.sections:report", order=40),
    order=65,
    config="arkops.core.promo.settings:CONFIG",
    audited=(
        "promo create",
        "promo disable",
        "promo enable",
        "promo redeem",
        "promo release",
        "promo remaining",
        "promo push",
        "promo announce",
    ),
)
