"""The plans domain's keys of arkops.toml: `[plans.<id>]` and `[usage]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, MapOf, Spec, Table, at_least, currency_code, http_url, one_of, path_list, slug

PLAN = Table(
    {
        "name": Field(str, "", doc="shown to customers in emails and to the operator in reports"),
        "price": Field(int, 0, at_least(0), doc="price per interval in minor units (900 = 9.00)"),
        "currency": Field(str, "EUR", currency_code, doc="ISO 4217 code"),
        "interval": Field(str, "month", one_of("month", "year"), doc="month or year"),
        "stripe_price": Field(str, "", doc="the Stripe price id (price_...), for checkout links"),
        "limits": MapOf(Field(int, 0, at_least(0)), {}, slug, doc="quota name = limit, for usage quotas"),
    }
)

DEFAULT_PLANS = {
    "starter": {"name": "Starter", "price": 900, "limits": {"watches": 10, "api_calls": 10_000}},
    "pro": {"name": "Pro", "price": 2900, "limits": {"watches": 50, "api_calls": 100_000}},
    "business": {"name": "Business", "price": 9900, "limits": {"watches": 500, "api_calls": 1_000_000}},
}

CONFIG: dict[str, Spec] = {
    "plans": MapOf(PLAN, DEFAULT_PLANS, slug, doc="the plans you sell", key_name="id"),
    "usage": Table(
        {
            "upgrade_url": Field(
                str, "", http_url, doc="link in the quota emails (empty: [trials] upgrade_url, else a reply)"
            ),
            "stale_hours": Field(
                int, 48, at_least(1), doc="doctor warns when no usage was recorded (or no usage file written) this long"
            ),
            "files": Field(
                list,
                [],
                path_list,
                doc="the app's usage exports (`usage import`'s format), followed by `usage-check` (globs, relative "
                "to arkops.toml)",
            ),
            "labels": MapOf(
                Field(str, ""),
                {},
                slug,
                doc='metric = what customers call it in the quota emails (watches = "monitors"); '
                "unset: the metric's name with spaces for underscores",
                example='watches = "monitors"\napi_calls = "API calls"',
            ),
        },
        doc="usage against the plans' limits and the 80 %/100 % quota emails",
    ),
}
