"""Every command's documented example (its --help, and so docs/cli.md) runs as written in the demo workspace.

Examples that need a server, a secret or a file the demo cannot have are
listed with the reason; every other one must exit 0.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build_demo

from arkops.cli.reference import example, leaf_commands

NEEDS_MORE = {
    "demo": "builds its own workspace (tests/test_demo.py)",
    "cron print": "pipes into crontab, which would replace this machine's crontab",
    "webhooks ingest": "needs a payload signed with STRIPE_WEBHOOK_SECRET (tests/test_billing.py)",
    "webhooks serve": "runs until stopped (tests/test_serve.py)",
    "serve": "runs until stopped (tests/test_serve.py)",
    "stripe sync": "needs STRIPE_SECRET_KEY and a Stripe server (tests/test_stripe_local.py)",
    "payments import": "needs an old payments.json (tests/test_billing.py)",
    "mail send": "sends through SMTP (tests/test_mail.py)",
    "mail test": "sends through SMTP (tests/test_mail.py)",
    "mail retry": "needs a failed message (tests/test_mail.py)",
    "promo push": "needs STRIPE_SECRET_KEY and a Stripe server (tests/test_promo_push.py)",
    "billing checkout": "writes to Stripe (tests/test_plans.py)",
    "billing portal": "writes to Stripe (tests/test_plans.py)",
    "billing cancel": "writes to Stripe (tests/test_plans.py)",
    "billing subscription": "reads Stripe with --refresh (tests/test_plans.py)",
    "crm setup": "needs [crm] provider, its token and a CRM server (tests/test_crm.py)",
    "crm push": "needs [crm] provider (tests/test_crm.py, against HubSpot and Pipedrive stand-ins)",
}

SCRUB = ("ARKOPS_DATA_DIR", "ARKOPS_CONFIG", "ARKOPS_NOW", "ARKOPS_ALERT_TO", "MAIL_FROM", "SMTP_HOST")


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory) -> Path:
    """A demo workspace of its own, not the session's shared one: the examples write (signups, redemptions, ingests),
    and some of that goes through paths the demo stores whole (its promo counter file, its access log)."""
    folder = tmp_path_factory.mktemp("examples") / "arkops-demo"
    built, _ = build_demo(folder)
    assert built.returncode == 0, built.stderr
    return folder


# The examples run one after another in one workspace (a signup before its activity, a redemption before its
# release): pyproject.toml's `--dist loadscope` keeps a module's tests on one xdist worker, in this order.
EXAMPLES = [(path, example(command)) for path, command, _ in leaf_commands()]


def test_every_skipped_example_is_still_a_command():
    assert set(NEEDS_MORE) <= {path for path, _ in EXAMPLES}


@pytest.mark.slow
@pytest.mark.parametrize(("path", "line"), EXAMPLES, ids=[path for path, _ in EXAMPLES])
def test_the_example_runs(demo_workspace, path, line):
    if path in NEEDS_MORE:
        pytest.skip(NEEDS_MORE[path])
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    words = shlex.split(line)
    assert words[0] == "arkops" and "|" not in words and "&&" not in words, line
    result = subprocess.run(
        [sys.executable, "-m", "arkops", *words[1:]], cwd=demo_workspace, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{line}\n{result.stderr}"
