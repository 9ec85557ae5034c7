"""The small edges of Reliability III: dates at the end of the range, an empty workspace, a null timestamp."""

from __future__ import annotations

import json

from conftest import run_arkops

PLANS = "[plans.pro]\nprice = 2900\nlimits = { watches = 10 }\n"


def test_a_promo_valid_until_the_year_9999_is_a_clear_refusal(cli, workspace):
    (workspace / "arkops.toml").write_text(PLANS)
    for day in ("9999-12-31", "0001-01-01", "2100-01-01"):
        for option in ("--valid-until", "--valid-from"):
            result = cli("promo", "create", "X", "--discount", "pro=10", option, day)
            assert result.code == 2, (day, option, result.err)  # the time options' one grammar: a usage error
            assert result.err.startswith(
                f"arkops: error: Invalid value for '{option}': '{day}' is out of range (1970-2099)"
            )
    assert cli("promo", "create", "X", "--discount", "pro=10", "--valid-until", "2099-12-30").code == 0


def test_status_works_at_the_last_hour_of_the_range(workspace):
    assert run_arkops("demo", "demo", cwd=workspace).code == 0
    demo = workspace / "demo"
    env = {
        "ARKOPS_NOW": "2099-12-31T23:00:00Z",
        "ARKOPS_DATA_DIR": str(demo / "data"),
        "ARKOPS_CONFIG": str(demo / "arkops.toml"),
    }
    for args in (("status",), ("status", "--format", "json"), ("jobs",)):
        result = run_arkops(*args, env=env, cwd=demo)
        assert result.code == 0, (args, result.err)


def test_funnel_check_on_an_empty_workspace_says_nothing_was_queued(cli, workspace):
    result = cli("funnel", "check")
    assert "no visits stored yet: nothing queued" in result.out + result.err
    assert "already sent" not in result.out + result.err
    assert not (workspace / "data" / "outbox.json").exists()


def test_a_usage_record_with_a_null_timestamp_is_refused_alone(cli, workspace):
    (workspace / "arkops.toml").write_text(PLANS)
    records = [
        {"email": "a@example.com", "metric": "watches", "value": 3, "timestamp": None},
        {"email": "b@example.com", "metric": "watches", "value": 4, "timestamp": ""},
        {"email": "c@example.com", "metric": "watches", "value": 5},  # no timestamp: now
        {"email": "d@example.com", "metric": "watches", "value": 6, "timestamp": "2026-03-01T00:00:00Z"},
    ]
    (workspace / "usage.json").write_text(json.dumps(records))
    result = cli("usage", "import", "usage.json")
    assert "usage.json[0]: timestamp: None is not a date" in result.err, result.err
    assert "usage.json[1]: timestamp: '' is not a date" in result.err
    assert "2 recorded" in result.err
    stored = json.loads((workspace / "data" / "usage.json").read_text())["usage"]
    assert sorted(u["email"] for u in stored.values()) == ["c@example.com", "d@example.com"]
