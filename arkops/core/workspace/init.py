"""`arkops init`: a commented arkops.toml, a .env.example and the data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from arkops.config import parse_config
from arkops.errors import DataError
from arkops.store import atomic_write_bytes, ensure_dir

CONFIG_TEMPLATE = """\
# arkops.toml: every key is optional; the values shown are the defaults
# unless said otherwise. An unknown key is an error, so a typo never hides.
# Secrets (Stripe and SMTP) live in the environment or .env, never here.

timezone = "UTC"          # IANA name; reports group days and months in it
currency = "EUR"          # reporting currency (ISO 4217)
locale = "en"             # default language of customer emails: en or fr

# Plans: price in minor units (cents) per interval; limits drive usage quotas.
[plans.starter]
name = "Starter"
price = 900
currency = "EUR"
interval = "month"        # month or year
stripe_price = ""         # price_... id, for checkout links
limits = { watches = 10, api_calls = 10000 }

[plans.pro]
name = "Pro"
price = 2900
currency = "EUR"
interval = "month"
stripe_price = ""
limits = { watches = 50, api_calls = 100000 }

[plans.business]
name = "Business"
price = 9900
currency = "EUR"
interval = "month"
stripe_price = ""
limits = { watches = 500, api_calls = 1000000 }

[trials]
length_days = 14
grace_days = 2                 # a lifecycle email later than this is skipped
demo_activity_threshold = 3    # day 1: more activities than this -> offer a demo
upgrade_url = ""               # link in the day-12 email
demo_url = ""                  # link in the day-1 demo offer

[trials.schedule]              # day of the trial each lifecycle email goes out
welcome = 0
day1 = 1
day7 = 7
day12 = 12
day14 = 14

[leads]
pages = { "/pricing" = 3, "/trial" = 5, "/demo" = 5 }   # tracked pages and their weights
hot_score = 8                  # a visitor at or above this score is a hot lead
digest_minutes = 15            # hot leads are emailed within this many minutes

[funnel]
min_sample = 30                # no rate alert on fewer visitors than this
rate_thresholds = { demo_to_trial = 0.05, trial_to_paid = 0.10 }
no_data_hours = 24             # alarm when no visit arrived for this long

[mail]
templates_dir = ""             # a folder whose templates override the built-in ones
alert_webhook_url = ""         # Slack/Mattermost incoming webhook for operator alerts
timeout_seconds = 10.0         # SMTP and webhook connect/read timeout
operator_locale = ""           # language of operator alerts; empty = locale
from_name = "arkops"

[billing]
notify_payment_received = false         # email customers a receipt note
notify_payment_failed_customer = false  # email customers when a payment fails
notify_subscription_welcome = false     # welcome email when a subscription starts

# Exchange rates into the reporting currency: 1 unit of the key = value units.
[fx]
# USD = 0.92
# GBP = 1.17

# Jobs run by `arkops run`; change a schedule or switch a job off:
# [jobs.trials-nudge]
# at = "09:00"           # daily, local time
# [jobs.stripe-sync]
# every_minutes = 10
# enabled = true
"""

ENV_TEMPLATE = """\
# Copy to .env (chmod 600). Variables already set in the environment win.
STRIPE_SECRET_KEY=sk_test_...
STRIPE_WEBHOOK_SECRET=whsec_...
# STRIPE_API_BASE=http://127.0.0.1:8420   # a local Stripe-compatible server, for tests
SMTP_HOST=smtp.example.com
SMTP_PORT=587
SMTP_USER=
SMTP_PASSWORD=
SMTP_SECURITY=starttls                     # starttls, ssl or none
MAIL_FROM=ops@example.com
ARKOPS_ALERT_TO=you@example.com
"""


@dataclass
class InitResult:
    written: list[Path]
    kept: list[Path]


def init_workspace(config_path: Path, env_example: Path, data_dir: Path, *, force: bool) -> InitResult:
    parse_config(CONFIG_TEMPLATE, config_path)  # the shipped example must always be valid
    result = InitResult([], [])
    for path, content in ((config_path, CONFIG_TEMPLATE), (env_example, ENV_TEMPLATE)):
        if path.exists() and not force:
            result.kept.append(path)
            continue
        if path.exists() and not path.is_file():
            raise DataError(f"{path} exists and is not a file")
        ensure_dir(path.parent)
        atomic_write_bytes(path, content.encode("utf-8"))
        result.written.append(path)
    ensure_dir(data_dir)
    data_dir.chmod(0o700)
    return result
