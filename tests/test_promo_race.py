"""Redemption races and kills with real processes: the slot count is exact, and a kill leaves no half-taken slot."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import write_config

CONFIG = 'timezone = "Europe/Paris"\n'


def redeem_process(email: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "arkops", "promo", "redeem", "LAUNCH30", "--email", email, "--plan", "pro"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def counter(workspace) -> dict:
    return json.loads((workspace / "counter.json").read_text())


@pytest.mark.slow
def test_twelve_racing_processes_on_nine_slots_give_nine_winners(workspace, cli):
    write_config(workspace, CONFIG)
    assert cli("promo", "create", "launch30", "--discount", "pro=33", "--months", "6", "--slots", "9").code == 0
    assert cli("promo", "remaining", "LAUNCH30", "--write", str(workspace / "counter.json")).code == 0
    started = time.monotonic()
    procs = [redeem_process(f"racer{n:02d}@example.com", {}) for n in range(12)]
    outcomes = [(proc.wait(timeout=120), proc.communicate()) for proc in procs]
    codes = [code for code, _ in outcomes]
    print(f"12 racing redemptions: {time.monotonic() - started:.1f} s")
    assert codes.count(0) == 9, [err for _, (_, err) in outcomes if err]
    assert codes.count(1) == 3
    refused = [out for code, (out, _) in outcomes if code == 1]
    assert all(line.strip() == "LAUNCH30 does not apply to pro: no slots left" for line in refused)
    remaining = cli("promo", "remaining", "LAUNCH30", "--format", "json")
    assert json.loads(remaining.out) == {
        "code": "LAUNCH30",
        "slots": 9,
        "used": 9,
        "remaining": 0,
        "percent_filled": 100.0,
    }
    assert counter(workspace)["remaining"] == 0  # the last refresh wrote the final figures
    winner = next(n for n, code in enumerate(codes) if code == 0)
    again = cli("promo", "redeem", "LAUNCH30", "--email", f"racer{winner:02d}@example.com", "--plan", "pro")
    assert again.code == 1 and "already used by this email" in again.out
    exported = cli("promo", "export", "--format", "json")
    assert len(json.loads(exported.out)) == 9
    outbox = json.loads(cli("mail", "outbox", "--format", "json").out)
    assert sorted(m["to"] for m in outbox) == sorted(f"racer{n:02d}@example.com" for n, c in enumerate(codes) if c == 0)


@pytest.mark.slow
def test_sigkill_at_random_points_never_leaves_a_slot_half_taken(workspace, cli):
    write_config(workspace, CONFIG)
    assert cli("promo", "create", "launch30", "--discount", "pro=33", "--months", "6", "--slots", "8").code == 0
    assert cli("promo", "remaining", "LAUNCH30", "--write", str(workspace / "counter.json")).code == 0
    rng = random.Random(20261122)
    procs = [redeem_process(f"killed{n:02d}@example.com", {}) for n in range(12)]
    killed = 0
    for proc in procs:
        time.sleep(rng.uniform(0, 0.08))
        if rng.random() < 0.5:
            proc.send_signal(signal.SIGKILL)
            killed += 1
    for proc in procs:
        proc.wait(timeout=120)
        proc.communicate()
    assert killed >= 4
    doc = json.loads(cli("promo", "remaining", "LAUNCH30", "--format", "json").out)
    assert doc["used"] + doc["remaining"] == 8
    exported = json.loads(cli("promo", "export", "--format", "json").out)
    assert len(exported) == doc["used"] <= 8
    winners = sum(1 for p in procs if p.returncode == 0)
    assert winners <= doc["used"] <= winners + killed  # a kill after the commit keeps its slot, never a half one
    json.loads((workspace / "counter.json").read_text())  # always a whole document, never a torn write
    # A kill between the commit and the file refresh leaves the file behind: the next refresh repairs it,
    # and the cron job queues the confirmations that kill prevented (one each, never twice).
    assert cli("run", "--only", "promo-sync", "--force").code == 0
    assert counter(workspace) == doc
    outbox = json.loads(cli("mail", "outbox", "--format", "json").out)
    confirmations = [m["to"] for m in outbox if m["template"] == "promo_confirmation"]
    assert sorted(confirmations) == sorted(r["email"] for r in exported)
    # and the operator hears of the redemptions once, in one digest
    assert [m["to"] for m in outbox if m["template"] == "promo_redemptions"] == ["owner@example.com"]
