"""CRM: trials, hot leads, demo requests and customers pushed to HubSpot or Pipedrive, keyed by email.

`people` builds each person's contact (lifecycle stage and properties) and
notes from the other domains' read functions, `push` sends what changed
since the last push in the provider's batches (the `crm-sync` job and
`crm push`), `privacy` handles `privacy forget`, `checks` the doctor
checks (`doctor --crm` reaches the provider). The providers themselves are
`arkops.sources.hubspot` and `arkops.sources.pipedrive`, behind
`arkops.sources.crm.Provider`. docs/crm.md has the whole story.
"""

from typing import TYPE_CHECKING

from arkops.core.domain import Database, DoctorCheck, Domain, Job, SectionPart

if TYPE_CHECKING:
    from arkops.runtime import Runtime

# people: email -> the fingerprint last sent and the provider's id; notes: note key (names the email) -> the
# provider's note id; inflight: notes sent in a request whose answer was not recorded yet; refused: email ->
# the provider's reason; meta: the cursor (when the last push ran and ended, what the sources looked like)
# and the provider ids still to delete for `privacy forget` (ids only, no address).
CRM_DB = Database(
    "crm",
    version=1,
    personal={
        "people": ("_key",),
        "notes": ("_key",),
        "inflight": ("_key",),
        "refused": ("_key",),
        "meta": (),
    },
    forget="arkops.core.crm.privacy:forget",
)


def not_configured(rt: "Runtime") -> str | None:
    """Why `crm-sync` is skipped: no provider chosen, or its token or library missing (read every tick)."""
    if not rt.config["crm"]["provider"]:
        return 'no [crm] provider set in arkops.toml ("hubspot" or "pipedrive")'
    from arkops.core.crm.push import missing_setup

    return missing_setup(rt)


DOMAIN = Domain(
    name="crm",
    summary="CRM: people, stages, properties and hot-lead notes pushed to HubSpot or Pipedrive.",
    commands={"crm": "arkops.cli.crm:app"},
    databases=(CRM_DB,),
    jobs=(
        Job(
            "crm-sync",
            "push the people who changed since the last push to the CRM",
            "arkops.core.crm.push:sync_job",
            every_minutes=15,
            order=70,
            skip_reason="arkops.core.crm:not_configured",
        ),
    ),
    checks=(
        DoctorCheck("arkops.core.crm.checks:settings", order=70),
        DoctorCheck("arkops.core.crm.checks:provider", order=71, needs="crm"),
    ),
    status=SectionPart("arkops.core.crm.sections:status", order=60),
    order=70,
    audited=("crm setup", "crm push"),
    config="arkops.core.crm.settings:CONFIG",
)
