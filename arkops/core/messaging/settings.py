"""The messaging domain's keys of arkops.toml: `[mail]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import LOCALES, Field, Spec, Table, at_least, http_url

CONFIG: dict[str, Spec] = {
    "mail": Table(
        {
            "templates_dir": Field(str, "", doc="a folder whose templates override the built-in ones"),
            "alert_webhook_url": Field(
                str, "", http_url, doc="Slack/Mattermost incoming webhook that also receives operator alerts"
            ),
            "timeout_seconds": Field(float, 10.0, at_least(0.1), doc="SMTP and webhook connect/read timeout"),
            "flush_deadline_seconds": Field(
                float, 240.0, at_least(1.0), doc="a flush stops starting new messages after this long (cron: 5 min)"
            ),
            "operator_locale": Field(
                str,
                "",
                lambda v: None if v in ("", *LOCALES) else f"{v!r} is not one of {', '.join(LOCALES)}",
                doc="language of operator alerts (empty: locale)",
            ),
            "from_name": Field(str, "arkops", doc="the sender's display name"),
            "keep_bodies_days": Field(
                int,
                30,
                at_least(1),
                doc="sent messages keep their text and HTML this long, then only their headers and key",
            ),
            "allow_local_domains": Field(
                bool,
                False,
                doc="accept customer addresses on local domains (.test, .local, localhost): for staging only",
            ),
        },
        doc="email delivery",
    ),
}
