"""The analytics domain's keys of arkops.toml: `[analytics]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
Keys and credentials are secrets and live in the environment (`PLAUSIBLE_API_KEY`,
`GOOGLE_APPLICATION_CREDENTIALS`), never here.
"""

from __future__ import annotations

from arkops.config import Field, Spec, Table, one_of

PROVIDER_CHOICES = ("", "plausible", "ga4")

CONFIG: dict[str, Spec] = {
    "analytics": Table(
        {
            "provider": Field(
                str, "", one_of(*PROVIDER_CHOICES), doc='web analytics to compare with: "plausible", "ga4" or "" (none)'
            ),
            "site_id": Field(str, "", doc="Plausible: the site's domain as Plausible names it (example.com)"),
            "property_id": Field(str, "", doc="GA4: the property's number (123456789)"),
        },
        doc="web analytics as a second source of visitors (`pip install 'arkops[analytics]'`, docs/analytics.md)",
    ),
}
