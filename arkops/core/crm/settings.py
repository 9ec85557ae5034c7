"""The crm domain's keys of arkops.toml: `[crm]`, `[crm.hubspot]` and `[crm.pipedrive]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
Tokens are secrets and live in the environment (`HUBSPOT_TOKEN`, `PIPEDRIVE_TOKEN`), never here.
"""

from __future__ import annotations

from arkops.config import Field, Spec, Table, at_least, one_of

PROVIDER_CHOICES = ("", "hubspot", "pipedrive")
# HubSpot's lifecycle stages (internal values) an arkops stage may map to; "" leaves lifecyclestage alone.
HUBSPOT_STAGES = (
    "",
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

CONFIG: dict[str, Spec] = {
    "crm": Table(
        {
            "provider": Field(
                str, "", one_of(*PROVIDER_CHOICES), doc='the CRM to push people to: "hubspot", "pipedrive" or "" (none)'
            ),
            "forget": Field(
                bool,
                False,
                doc="`privacy forget` also deletes, in the CRM, the people arkops pushed (HubSpot: GDPR delete; Pipedrive: delete)",
            ),
            "requests_per_10s": Field(
                int,
                100,
                at_least(1),
                doc="at most this many requests in any 10 s (HubSpot private apps: 100, 190 on Professional)",
            ),
            "max_wait_seconds": Field(
                int,
                60,
                at_least(0),
                doc="a rate limit asking to wait longer stops the push; the next run resumes where it stopped",
            ),
            "hubspot": Table(
                {
                    "lead": Field(str, "lead", one_of(*HUBSPOT_STAGES), doc="HubSpot lifecyclestage of a lead"),
                    "trial": Field(str, "opportunity", one_of(*HUBSPOT_STAGES), doc="... of someone in a trial"),
                    "customer": Field(str, "customer", one_of(*HUBSPOT_STAGES), doc="... of a paying customer"),
                    "churned": Field(str, "other", one_of(*HUBSPOT_STAGES), doc="... of a customer who left"),
                },
                doc="the HubSpot lifecycle stage of each arkops stage (HubSpot only moves it forward)",
            ),
            "pipedrive": Table(
                {
                    "lead": Field(str, "", doc="the Pipedrive person label of a lead (empty: none)"),
                    "trial": Field(str, "", doc="... of someone in a trial"),
                    "customer": Field(str, "", doc="... of a paying customer"),
                    "churned": Field(str, "", doc="... of a customer who left"),
                },
                doc="the Pipedrive person label of each arkops stage, by the label's name",
            ),
        },
        doc="pushing trials, hot leads and customers to a CRM (`pip install 'arkops[crm]'`, docs/crm.md)",
    ),
}
