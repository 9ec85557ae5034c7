"""The messaging domain's keys of arkops.toml: `[product]` (who the customer's emails come from) and `[mail]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import LOCALES, Field, Spec, Table, at_least, http_url


def _address(value: str) -> str | None:
    if not value:
        return None
    from arkops.errors import DataError
    from arkops.mail.address import normalize_address

    try:
        normalize_address(value, field="address")
    except DataError:
        return f"{value!r} is not an email address"
    return None


def _one_line(value: str) -> str | None:
    return "must be one line (it is an email header)" if "\n" in value or "\r" in value else None


CONFIG: dict[str, Spec] = {
    "product": Table(
        {
            "name": Field(
                str,
                "",
                _one_line,
                doc="your product's name: customers read it in every email (doctor fails while empty)",
            ),
            "url": Field(str, "", http_url, doc="your product's web address, linked in the emails' footer"),
            "support_email": Field(
                str,
                "",
                _address,
                doc="where customers' replies go (Reply-To) and where the top plan's quota email points",
            ),
            "postal_address": Field(
                str,
                "",
                doc="your postal address, in every customer email's footer (required for marketing mail in many countries)",
            ),
        },
        doc="the product customers' emails come from: one place for its name and contacts",
    ),
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
            "from_name": Field(str, "", _one_line, doc="the sender's display name (empty: [product] name)"),
            "unsubscribe_mailbox": Field(
                str,
                "",
                _address,
                doc="an address whose mail you read: lifecycle emails also offer unsubscribing by mail to it",
            ),
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
