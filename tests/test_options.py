"""Every bad option value is a usage error: exit 2, one line, the same wording whichever option it is."""

from __future__ import annotations

import pytest

BAD_OPTIONS = [
    (["trials", "list", "--state", "bogus"], "Invalid value for '--state': 'bogus' is not one of"),
    (["trials", "signup", "a@example.com", "--plan", "pro", "--locale", "de"], "Invalid value for '--locale': 'de'"),
    (["trials", "activity", "a@example.com", "--kind", "x", "--count", "0"], "Invalid value for '--count'"),
    (["trials", "show", "a@example.com", "--format", "xml"], "Invalid value for '--format': 'xml' is not one of"),
    (["mail", "outbox", "--state", "lost"], "Invalid value for '--state': 'lost' is not one of"),
    (["mail", "preview", "trial_day7", "--locale", "es"], "Invalid value for '--locale': 'es'"),
    (["mail", "send", "test", "--to", "a@example.com", "--locale", "xx"], "Invalid value for '--locale': 'xx'"),
    (["payments", "report", "--months", "0"], "Invalid value for '--months'"),
    (["payments", "report", "--months", "abc"], "Invalid value for '--months'"),
    (["payments", "list", "--month", "2026-13"], "Invalid value for '--month': '2026-13' is not a month YYYY-MM"),
    (["payments", "report", "--currency", "e1"], "Invalid value for '--currency': currency 'e1' is not an ISO"),
    (
        ["trials", "activity", "a@example.com", "--kind", "x", "--at", "soon"],
        "Invalid value for '--at': 'soon' is not a span back",
    ),
    (["payments", "list", "--status", "late"], "Invalid value for '--status': 'late' is not one of"),
    (["payments", "failed", "--format", "yaml"], "Invalid value for '--format'"),
    (["billing", "subscriptions", "--status", "bogus"], "Invalid value for '--status': 'bogus' is not one of"),
    (["jobs", "--format", "html"], "Invalid value for '--format'"),
    (["cron", "print", "--every", "0"], "Invalid value for '--every'"),
    (["cron", "print", "--every", "60"], "Invalid value for '--every'"),
    (["webhooks", "serve", "--port", "70000"], "Invalid value for '--port'"),
    (["doctor", "--format", "xml"], "Invalid value for '--format'"),
    (["demo", "--format", "xml"], "Invalid value for '--format'"),
    (["promo", "create", "X", "--discount", "pro=10", "--months", "0"], "Invalid value for '--months'"),
    (["promo", "create", "X", "--discount", "pro=10", "--months", "37"], "Invalid value for '--months'"),
    (["promo", "create", "X", "--discount", "pro=10", "--slots", "0"], "Invalid value for '--slots'"),
    (["promo", "create", "X", "--amount-off", "0", "--currency", "EUR"], "Invalid value for '--amount-off'"),
    (["promo", "create", "X"], "give either --discount PLAN=PERCENT (once per plan) or --amount-off with --currency"),
    (["promo", "create", "X", "--discount", "pro=10", "--amount-off", "500", "--currency", "EUR"], "give either"),
    (["promo", "create", "X", "--discount", "pro=10", "--currency", "EUR"], "--plan and --currency go with"),
    (["promo", "create", "X", "--amount-off", "500"], "--amount-off needs --currency (the amount is in its"),
    (["promo", "create", "X", "--discount", "pro=10", "--once", "--forever"], "give one duration: --months N,"),
    (["trials", "list", "--bogus"], "No such option: --bogus"),
    (["trials", "bogus"], "No such command 'bogus'"),
    (["trials", "signup", "a@example.com"], "Missing option '--plan'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_values_are_usage_errors_on_one_line(cli, args, message):
    result = cli(*args)
    assert result.code == 2, result.err
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"arkops: error: {message}"), lines[0]
    assert lines[0].endswith("--help')"), lines[0]
