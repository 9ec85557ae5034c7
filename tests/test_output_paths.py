"""A path the user names for arkops to write (a report, a preview, a counter file, a cron log) is never a data file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import write_config


def snapshot(data: Path) -> dict[str, bytes]:
    """Every data file's bytes; the audit log gets its line for the refused command, which is its job."""
    return {
        str(p.relative_to(data)): p.read_bytes()
        for p in sorted(data.rglob("*"))
        if p.is_file() and p.name != "audit.jsonl"
    }


@pytest.fixture
def filled(cli, workspace):
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    assert cli("promo", "create", "LAUNCH30", "--discount", "pro=30", "--slots", "5").code == 0
    (workspace / "site").mkdir()
    (workspace / "site" / "to-trials.json").symlink_to(workspace / "data" / "trials.json")
    (workspace / "site" / "to-data").symlink_to(workspace / "data")
    return workspace


@pytest.mark.parametrize(
    "args",
    [
        ("report", "--html", "{path}"),
        ("mail", "preview", "test", "--html", "{path}"),
        ("promo", "remaining", "LAUNCH30", "--write", "{path}"),
        ("cron", "print", "--log", "{path}"),
    ],
    ids=["report", "mail-preview", "promo-remaining", "cron-log"],
)
@pytest.mark.parametrize(
    "path",
    ["data/trials.json", "data/new.html", "site/to-trials.json", "site/to-data/promo.json", "{workspace}/data"],
    ids=["data-file", "new-file-in-data", "symlink-to-data-file", "through-linked-folder", "the-folder-itself"],
)
def test_an_output_path_in_the_data_directory_is_refused_and_nothing_is_written(cli, filled, args, path):
    before = snapshot(filled / "data")
    named = path.format(workspace=filled)
    result = cli(*(a.format(path=named) for a in args))
    assert result.code == 3, (result.out, result.err)
    assert "inside the data directory" in result.err and "nothing was written" in result.err, result.err
    assert result.err.count("\n") == 1  # one line
    if "site/" in path:
        assert "through a link" in result.err
    assert snapshot(filled / "data") == before
    assert cli("trials", "list").code == 0  # every data file still reads


def test_the_same_commands_write_outside_it(cli, filled):
    assert cli("report", "--html", "site/report.html").code == 0
    assert (filled / "site" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert cli("mail", "preview", "test", "--html", "site/test.html").code == 0
    assert cli("promo", "remaining", "LAUNCH30", "--write", "site/launch30.json").code == 0
    assert json.loads((filled / "site" / "launch30.json").read_text())["remaining"] == 5


def test_a_registered_counter_file_later_linked_into_the_data_directory_is_not_written(cli, filled):
    """The counter file is rewritten after every redemption: a symlink put there later must not aim it at data."""
    counter = filled / "site" / "launch30.json"
    assert cli("promo", "remaining", "LAUNCH30", "--write", str(counter)).code == 0
    counter.unlink()
    counter.symlink_to(filled / "data" / "promo.json")
    redeemed = cli("promo", "redeem", "LAUNCH30", "--email", "bo@example.com", "--plan", "pro")
    assert redeemed.code == 0 and "counter file" in redeemed.err and "inside the data directory" in redeemed.err
    promo = json.loads((filled / "data" / "promo.json").read_text())  # still the database, with the redemption
    assert list(promo["redemptions"]) == ["LAUNCH30:bo@example.com"]


def test_counter_file_mode_is_configurable(cli, filled):
    counter = filled / "site" / "launch30.json"
    assert cli("promo", "remaining", "LAUNCH30", "--write", str(counter)).code == 0
    assert stat.S_IMODE(counter.stat().st_mode) == 0o600  # the default: arkops' own user only
    write_config(filled, '[promo]\ncounter_mode = "0644"\n')
    assert cli("promo", "remaining", "LAUNCH30", "--write", str(counter)).code == 0
    assert stat.S_IMODE(counter.stat().st_mode) == 0o644  # the web server, another user, can read it
    assert cli("promo", "redeem", "LAUNCH30", "--email", "bo@example.com", "--plan", "pro").code == 0
    assert stat.S_IMODE(counter.stat().st_mode) == 0o644
    for bad, why in (("0666", "lets others write"), ("0400", "read and write"), ("rw-r--r--", "octal")):
        write_config(filled, f'[promo]\ncounter_mode = "{bad}"\n')
        refused = cli("promo", "remaining", "LAUNCH30")
        assert refused.code == 3 and "promo.counter_mode" in refused.err and why in refused.err, refused.err
