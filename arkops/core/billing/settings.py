"""The billing domain's keys of arkops.toml: `[billing]` and `[goals]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, Spec, Table, at_least, http_url, retry_delays


def _dunning_days(value: list) -> str | None:
    ok = all(isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 60 for day in value)
    return None if ok and len(set(value)) == len(value) else "must be a list of distinct whole days from 0 to 60"


CONFIG: dict[str, Spec] = {
    "billing": Table(
        {
            "notify_payment_received": Field(bool, False, doc="email customers a receipt note"),
            "notify_payment_failed_customer": Field(bool, False, doc="email customers when a payment fails"),
            "notify_subscription_welcome": Field(bool, False, doc="welcome email when a subscription starts"),
            "dunning_days": Field(
                list,
                [0, 3, 7],
                _dunning_days,
                doc="days after a failed payment the customer is reminded, with the portal link, while the invoice "
                "stays open (the `dunning` job); [] turns dunning off",
            ),
            "notify_trial_will_end": Field(
                bool,
                True,
                doc="email a Stripe trial without a payment method to add one, when Stripe says it ends in 3 days",
            ),
            "alert_window_hours": Field(
                int, 24, at_least(1), doc="older payments and failures (a first sync or import) are not alerted"
            ),
            "failed_open_days": Field(
                int,
                60,
                at_least(1),
                doc="a failed payment whose last attempt is older is an old failure: out of `status` and "
                "`payments failed` (`--old` lists it)",
            ),
            "archive_invoices_after_days": Field(
                int,
                60,
                at_least(1),
                doc="a paid, void or uncollectible invoice untouched this long moves to archive/ledger/",
            ),
            "stripe_timeout_seconds": Field(
                float, 30.0, at_least(0.1), doc="how long one Stripe request may take before it is retried"
            ),
            "stripe_retry_seconds": Field(
                list, [0.5, 1.0, 2.0], retry_delays, doc="waits between retries of a failed Stripe request"
            ),
            "checkout_success_url": Field(
                str,
                "",
                http_url,
                doc="where Checkout sends a customer who paid (`billing checkout` needs it or --success-url)",
            ),
            "checkout_cancel_url": Field(
                str, "", http_url, doc="where Checkout sends a customer who turned back (empty: the success URL)"
            ),
            "checkout_trial_days": Field(
                int,
                14,
                at_least(0),
                doc="trial days of a checkout, no card asked (payment_method_collection=if_required; 0: pay at once)",
            ),
            "portal_return_url": Field(
                str, "", http_url, doc="the billing portal's return link (empty: the one set in Stripe's dashboard)"
            ),
        },
        doc="the Stripe ledger and customer billing emails",
    ),
    "goals": Table(
        {
            "mrr": Field(
                int,
                0,
                at_least(0),
                doc="MRR target in minor units of `currency` (500000 = 5,000.00; 0: none): `status` shows progress",
            ),
        },
        doc="targets shown by `arkops status` and the reports",
    ),
}
