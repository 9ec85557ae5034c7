"""The storage layer under real processes: concurrency, crashes, corruption, locks."""

from __future__ import annotations

import json
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import run_arkops

from arkops.errors import CorruptFileError, DataError, LockBusyError
from arkops.store import Store, register_schema

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from arkops.store import Store, register_schema
    register_schema("stress", 1)
    store = Store(Path(sys.argv[1]))
    worker = sys.argv[2]
    for n in range(int(sys.argv[3])):
        with store.transaction("stress") as db:
            db.put("records", f"{worker}-{n}", {"worker": worker, "n": n, "pad": "x" * int(sys.argv[4])})
    """
)


@pytest.mark.slow
def test_ten_processes_fifty_records_each_keep_all_500(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(w), "50", "10"]) for w in range(10)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    data = json.loads((tmp_path / "stress.json").read_text())
    assert len(data["records"]) == 500
    assert data["_meta"]["1"]["schema"] == 1
    assert stat.S_IMODE((tmp_path / "stress.json").stat().st_mode) == 0o600


# Put before WRITER: the child says when each atomic write starts and ends, so the
# test can aim its kill at a write and tell afterwards where the kill landed.
ANNOUNCE_WRITES = textwrap.dedent(
    """
    import arkops.store.db as db
    write = db.atomic_write_bytes
    def announced(path, data):
        print("writing", flush=True)
        write(path, data)
        print("written", flush=True)
    db.atomic_write_bytes = announced
    """
)


@pytest.mark.slow
def test_writer_killed_mid_write_never_leaves_a_torn_file(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "stress.json"
    committed = 0  # records whose write the children reported finished
    mid_write = 0  # kills that landed between "writing" and "written"
    left_temps = 0  # kills that landed before the new file replaced the old one
    for round_ in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", ANNOUNCE_WRITES + WRITER, str(tmp_path), f"r{round_}", "100000", "20000"],
            stdout=subprocess.PIPE,
            text=True,
        )
        target, started, said = rng.randint(3, 15), 0, []
        while started < target:
            line = proc.stdout.readline().strip()
            assert line, "the writer stopped before it was killed"
            said.append(line)
            started += line == "writing"
        time.sleep(rng.random() * 0.002)  # somewhere in that write, or just after it
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        said += proc.stdout.read().split()
        proc.stdout.close()
        committed += said.count("written")
        records = len(json.loads(path.read_bytes())["records"])  # old or new content, never a mix
        if said[-1] == "writing":
            mid_write += 1
            assert records in (committed, committed + 1)  # killed before or after the rename
            committed = records
        else:
            assert records == committed
        temps = list(tmp_path.glob(".stress.json.*.tmp"))
        assert len(temps) <= 1  # each writer removed the temp file the previous one left
        left_temps += len(temps)
    assert mid_write > 0 and left_temps > 0, (mid_write, left_temps)
    register_schema("stress", 1)
    with Store(tmp_path).transaction("stress") as db:  # the next writer cleans up and carries on
        before = len(db.values("records"))
        db.put("records", "after", {"ok": True})
    assert before == committed
    assert len(json.loads(path.read_bytes())["records"]) == before + 1
    assert not list(tmp_path.glob(".stress.json.*.tmp"))


def test_corrupt_file_is_refused_and_left_unchanged(tmp_path):
    register_schema("things", 1)
    path = tmp_path / "things.json"
    path.write_bytes(b'{"_meta": {"1": {"schema": 1}}, "rows": {"a": ')
    before = path.read_bytes()
    with pytest.raises(CorruptFileError, match=r"things\.json"), Store(tmp_path).transaction("things") as db:
        db.put("rows", "b", {})
    assert path.read_bytes() == before


def test_corrupt_outbox_gives_exit_3_naming_the_file(workspace):
    path = workspace / "data" / "outbox.json"
    path.write_bytes(b"not json at all \x00")
    result = run_arkops("mail", "outbox", cwd=workspace)
    assert result.code == 3
    assert "outbox.json" in result.err and "left untouched" in result.err
    assert result.err.count("\n") == 1
    assert path.read_bytes() == b"not json at all \x00"


def test_newer_schema_is_refused(tmp_path):
    register_schema("things", 1)
    (tmp_path / "things.json").write_text('{"_meta": {"1": {"schema": 9}}}')
    with (
        pytest.raises(DataError, match=r"things\.json has schema version 9, newer than this arkops knows \(1\)"),
        Store(tmp_path).transaction("things"),
    ):
        pass


def test_migration_hook_runs_once_and_records_the_version(tmp_path):
    (tmp_path / "legacy.json").write_text('{"_meta": {"1": {"schema": 1}}, "rows": {"a": {"name": "x"}}}')

    def add_flag(db):
        for key, row in db.items("rows"):
            db.put("rows", key, {**row, "flag": True})

    register_schema("legacy", 2, {1: add_flag})
    with Store(tmp_path).transaction("legacy") as db:
        assert db.get("rows", "a") == {"name": "x", "flag": True}
        assert db.schema_version == 2


def test_failed_transaction_writes_nothing(tmp_path):
    register_schema("things", 1)
    store = Store(tmp_path)
    with store.transaction("things") as db:
        db.put("rows", "a", {"v": 1})

    def fail_midway() -> None:
        with store.transaction("things") as db:
            db.put("rows", "a", {"v": 2})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    with store.transaction("things") as db:
        assert db.get("rows", "a") == {"v": 1}


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from arkops.store import Store
    with Store(Path(sys.argv[1])).job_lock("stripe-sync"):
        print("held", flush=True)
        time.sleep(30)
    """
)


def test_held_job_lock_fails_fast_and_names_the_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with (
            pytest.raises(LockBusyError, match="job lock 'stripe-sync'") as info,
            Store(tmp_path).job_lock("stripe-sync"),
        ):
            pass
        assert time.monotonic() - started < 1.0
        assert info.value.exit_code == 75
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / "locks" / "job-stripe-sync.lock").exists()  # lock files are never deleted
    with Store(tmp_path).job_lock("stripe-sync"):
        pass


@pytest.mark.slow
def test_jsonl_appends_from_eight_processes_keep_all_200(tmp_path):
    script = (
        "import sys; from pathlib import Path; from arkops.store import Store\n"
        "s = Store(Path(sys.argv[1]))\n"
        "for n in range(25): s.append('visits', [{'w': sys.argv[2], 'n': n}])"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(w)]) for w in range(8)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    records = list(Store(tmp_path).jsonl("visits").read())
    assert sorted((r["w"], r["n"]) for r in records) == sorted((str(w), n) for w in range(8) for n in range(25))


def test_jsonl_skips_a_torn_tail_and_appends_after_it(tmp_path):
    store = Store(tmp_path)
    store.append("visits", [{"w": "first", "n": n} for n in range(3)])
    with open(tmp_path / "visits.jsonl", "ab") as handle:
        handle.write(b'{"w": "torn", "n"')  # a writer killed mid-line
    assert len(list(store.jsonl("visits").read())) == 3
    store.append("visits", [{"w": "next", "n": 0}])
    records = list(store.jsonl("visits").read())
    assert len(records) == 4 and records[-1] == {"w": "next", "n": 0}


def test_jsonl_writes_big_batches_whole_and_what_orjson_refuses_too(tmp_path):
    """`append_lines` writes a thousand lines a call: 2,500 records come back in order; a lone surrogate (which a
    JSON source can hold as an escape) and a number beyond 64 bits fall back to json and read back the same."""
    from arkops.store.jsonl import WRITE_LINES

    store = Store(tmp_path)
    records = [{"n": n, "text": "é" * (n % 7)} for n in range(WRITE_LINES * 2 + 500)]
    odd = [{"agent": "Mozilla \ud83d"}, {"big": 2**70}]
    store.append("visits", records + odd)
    assert list(store.jsonl("visits").read()) == records + odd


def test_a_derived_value_is_computed_once_per_change_of_its_source_and_never_kept_stale(tmp_path):
    """`derived` parses the database; `derived_from` works from what the process read already. Either is kept in
    `cache/` while the file is the same, computed again after any write (even one during the computation),
    and a read-only invocation or a corrupt cache file changes nothing."""
    register_schema("source", 1)
    store = Store(tmp_path)
    with store.transaction("source") as db:
        db.put("rows", "a", {"n": 1})
    computed: list[str] = []

    def count(db) -> int:
        computed.append("derived")
        return len(db.items("rows"))

    def read_already() -> int:
        computed.append("derived_from")
        with store.transaction("source") as db:
            return len(db.items("rows"))

    for rows, (derive, compute) in enumerate(((store.derived, count), (store.derived_from, read_already)), 1):
        name = derive.__name__
        assert derive(name, "source", compute) == rows and derive(name, "source", compute) == rows
        assert getattr(Store(tmp_path), name)(name, "source", compute) == rows  # another process: the cache
        assert computed == [name]
        with store.transaction("source") as db:
            db.put("rows", f"b-{name}", {"n": 2})
        assert derive(name, "source", compute) == rows + 1 and computed == [name, name]
        (tmp_path / "cache" / f"{name}.json").write_text("{not json")
        assert derive(name, "source", compute) == rows + 1 and len(computed) == 3
        computed.clear()

    def write_meanwhile() -> int:  # the source changes after its identity was taken: what is kept is stale
        with store.transaction("source") as db:
            db.put("rows", "c", {"n": 3})
            return len(db.items("rows")) - 1

    assert store.derived_from("late", "source", write_meanwhile) == 3
    assert store.derived_from("late", "source", read_already) == 4  # computed again, not the value kept
    read_only = Store(tmp_path, read_only=True)
    assert read_only.derived_from("fresh", "source", read_already) == 4
    assert not (tmp_path / "cache" / "fresh.json").exists()
    assert store.derived_from("missing", "nothing", read_already) is None
