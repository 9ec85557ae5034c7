"""The command-line contract: config errors, exit codes, init, doctor, imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from conftest import run_arkops, write_config

from arkops.config import config_template, parse_config


def test_unknown_key_is_one_line_naming_file_and_key(cli, workspace):
    write_config(workspace, "[trials]\nlenght_days = 10\n")
    result = cli("mail", "preview", "trial_day7")
    assert result.code == 3
    assert (
        result.err
        == f"arkops: error: {workspace / 'arkops.toml'}: trials.lenght_days: unknown key (known here: activity_files, alert_window_hours, archive_after_days, case_study_text, case_study_url, demo_activity_threshold, demo_url, early_offer, files_stale_hours, grace_days, key_activity, length_days, schedule, signup_files, upgrade_url)\n"
    )


def test_bad_values_name_the_key(cli, workspace):
    cases = {
        'timezone = "Mars/Olympus"\n': "timezone: 'Mars/Olympus' is not an IANA time zone",
        'currency = "euro"\n': "currency: 'euro' is not an ISO 4217 code",
        "[plans.pro]\nprice = -5\n": "plans.pro.price: must be at least 0",
        '[jobs.trials-nudge]\nat = "25:00"\n': "jobs.trials-nudge.at: '25:00' is not a time HH:MM",
        '[trials]\nlength_days = "14"\n': "trials.length_days: expected an integer, got str",
        "[fx]\nusd = 1.1\n": "fx.usd: 'usd' is not an ISO 4217 code",
        "timezone = \n": "(syntax)",
    }
    for text, expected in cases.items():
        write_config(workspace, text)
        result = cli("doctor")
        assert result.code == 1, text
        assert expected in result.out.replace("\n", " ") or expected in result.err, (text, result.out)
        result = cli("mail", "outbox")
        assert result.code == 3 and expected in result.err, (text, result.err)


def test_partial_config_gets_defaults():
    config = parse_config('timezone = "Europe/Paris"\n[trials]\nlength_days = 30\n', "arkops.toml")
    assert config["trials"]["length_days"] == 30
    assert config["trials"]["grace_days"] == 2
    assert config.currency == "EUR" and set(config["plans"]) == {"starter", "pro", "business"}


def test_init_writes_valid_files_and_never_overwrites_without_force(cli, workspace):
    shutil.rmtree(workspace / "data")
    result = cli("init")
    assert result.code == 0, result.err
    assert parse_config((workspace / "arkops.toml").read_text(), "x")["plans"]["starter"]["price"] == 900
    assert oct((workspace / "data").stat().st_mode & 0o777) == "0o700"
    assert "STRIPE_SECRET_KEY" in (workspace / ".env.example").read_text()
    (workspace / "arkops.toml").write_text("# mine\n")
    result = cli("init")
    assert "kept" in result.err and (workspace / "arkops.toml").read_text() == "# mine\n"
    cli("init", "--force")
    assert (workspace / "arkops.toml").read_text() == config_template()


def test_env_file_never_overrides_the_environment(cli, workspace, monkeypatch):
    (workspace / ".env").write_text("ARKOPS_ALERT_TO=fromfile@example.com\nSMTP_SECURITY=ssl\n")
    monkeypatch.setenv("ARKOPS_ALERT_TO", "fromenv@example.com")
    result = cli("doctor", "--format", "json")
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert checks["ARKOPS_ALERT_TO"]["detail"] == "fromenv@example.com"
    assert os.environ["SMTP_SECURITY"] == "ssl"
    monkeypatch.delenv("SMTP_SECURITY")


def test_usage_error_is_exit_2(cli):
    result = cli("mail", "send", "test")
    assert result.code == 2 and "--to" in result.err
    assert cli("no-such-command").code == 2


def test_version(cli):
    result = cli("--version")
    assert result.code == 0 and result.out.startswith("arkops ")


def test_bad_arkops_now_is_exit_3(cli, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "yesterday")
    result = cli("mail", "send", "test", "--to", "a@example.com")
    assert result.code == 3 and "ARKOPS_NOW" in result.err


def test_doctor_json_and_secrets_never_printed(cli, workspace, monkeypatch):
    key = "sk_live_" + "A1b2C3d4E5f6G7h8"
    hook = "whsec_" + "abcdefghijklmnopqrstuvwxyz012345"
    monkeypatch.setenv("STRIPE_SECRET_KEY", key)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", hook)
    monkeypatch.setenv("SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("SMTP_USER", "ops")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-very-secret")
    write_config(workspace, '[product]\nname = "Acme Watch"\n')
    result = cli("doctor", "--format", "json")
    assert result.code == 0, result.out
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert checks["stripe key"]["status"] == "ok" and "live mode" in checks["stripe key"]["detail"]
    assert checks["templates"]["status"] == "ok"
    for secret in (key, hook, "hunter2-very-secret", key[8:], hook[6:]):
        assert secret not in result.out + result.err


def test_doctor_fails_on_world_readable_data_dir_and_bad_key(cli, workspace, monkeypatch):
    (workspace / "data").chmod(0o755)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "pk_test_notasecretkey")
    result = cli("doctor", "--format", "json")
    assert result.code == 1
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert checks["data dir"]["status"] == "fail" and "world-readable" in checks["data dir"]["detail"]
    assert checks["stripe key"]["status"] == "fail"
    assert "notasecretkey" not in result.out


def test_doctor_reports_a_corrupt_data_file(cli, workspace):
    (workspace / "data" / "outbox.json").write_text("{oops")
    result = cli("doctor", "--format", "json")
    assert result.code == 1
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert checks["data outbox.json"]["status"] == "fail"


def test_doctor_smtp_connects_without_sending(cli, smtp_server):
    result = cli("doctor", "--smtp", "--format", "json")
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert checks["smtp"]["status"] == "ok", checks["smtp"]
    assert smtp_server.received == []


def test_doctor_smtp_failure_is_exit_1(cli, monkeypatch):
    from conftest import free_port

    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    result = cli("doctor", "--smtp", "--format", "json")
    assert result.code == 1
    assert {c["check"]: c for c in json.loads(result.out)}["smtp"]["status"] == "fail"


def test_help_imports_neither_stripe_nor_jinja2():
    """Nor the optional integrations' libraries (the crm and analytics extras), which cost more than both."""
    modules = ("stripe", "jinja2", "rich.markdown", "hubspot", "google.analytics", "google.auth", "urllib3")
    code = (
        "import sys\nfrom arkops.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {modules!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_python_dash_m_works(workspace):
    result = run_arkops("--help", cwd=workspace)
    assert result.code == 0 and "Usage: arkops" in result.out


def every_parameter():
    """Every parameter of every arkops command, with its click context (the commands are loaded lazily)."""
    import typer

    from arkops.cli import app

    root = typer.main.get_command(app)

    def walk(command, ctx):
        yield from ((param, ctx) for param in command.params)
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                yield from walk(sub, type(ctx)(sub, parent=ctx, info_name=name))

    yield from walk(root, type(typer.Context(root))(root, info_name="arkops"))


def test_the_fast_option_conversion_gives_typers_values_on_every_option(monkeypatch):
    """`_click.install_fast_coercion` skips pydantic for plain options: on every option of every command it
    must give exactly what Typer's own conversion gives, and leave refusals (a bad choice) to Typer."""
    import importlib.util
    from importlib.metadata import version

    import typer

    monkeypatch.setenv("ARKOPS_NOW", "2026-10-15T09:30:00Z")  # a span (7d) is read back from the same moment
    from typer import core

    from arkops.cli._click import install_fast_coercion

    install_fast_coercion()
    fast = getattr(core, "build_runtime_param", None)
    typer_version = tuple(int(part) for part in version("typer").split(".")[:2])
    if importlib.util.find_spec("typer._coercion") is None:
        # Typer before 0.29 (CI's lowest pass) converts options itself, without pydantic: there is nothing to
        # replace, and the fast path must leave that Typer exactly as it is.
        assert typer_version < (0, 29) and fast is None, version("typer")
        return
    # From 0.29 on Typer converts through pydantic, and pyproject.toml allows only the minors this comparison
    # has run on: a Typer whose internals moved fails here instead of silently losing the fast path.
    assert getattr(fast, "_arkops_fast", False), (
        f"typer {version('typer')}: install_fast_coercion found nothing to patch"
    )
    typer_own = fast.__closure__ and next(
        c.cell_contents for c in fast.__closure__ if getattr(c.cell_contents, "__name__", "") == "build_runtime_param"
    )
    checked = lists = ints = 0
    for param, ctx in every_parameter():
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None:
            continue
        ours, theirs = fast(descriptor), typer_own(descriptor)
        if type(ours).__name__ != "PlainParam":
            continue
        kind = ours.kind
        parsed = isinstance(kind, tuple) and kind[0] == "parse"  # our own parser (a time, a plan id): called as is
        number = isinstance(kind, tuple) and kind[0] == "number"  # a refusal names the range: its words differ
        many = isinstance(kind, tuple) and not parsed and not number  # ("list", kind): an argument like FILE...
        kind = kind[1] if many else kind
        samples: list = [True, False] if kind is bool else ["pro", "data/x.json", "", "NOT-A-CHOICE"]
        if parsed:
            samples += ["7d", "2026-10-01", "2026-10-01T09:30Z", "trials-track", "trial_day7"]
        if number:
            samples += ["0", "1", "-1", "59", "60", "3.5", "1e3", "65535", "1000001"]  # and nan: ours refuses it
        if isinstance(kind, type) and issubclass(kind, __import__("enum").Enum):
            samples += [member.value for member in kind]
        ints += number
        if many:
            lists += 1
            samples = [(), tuple(samples), (samples[0],), [samples[-1], samples[0]], (1, "x")]
        for sample in samples:
            outcomes = []
            for runtime in (ours, theirs):
                try:
                    outcomes.append(("ok", runtime.coerce(sample, param=param, ctx=ctx)))
                except typer.BadParameter as exc:
                    outcomes.append(("refused", "" if number else str(exc)))
            assert outcomes[0] == outcomes[1], (param.name, sample)
            checked += 1
    assert checked > 200
    assert lists >= 5  # `leads ingest [PATH...]`, `leads import FILE...`, `trials import FILE...`, ...
    assert ints >= 3  # `payments report --months`, ...


def test_a_cron_tick_a_webhook_a_log_ingest_and_the_reports_do_not_import_pydantic(workspace):
    code = (
        "import sys\nfrom arkops.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('pydantic' in sys.modules, file=sys.stderr)"
    )
    commands = (
        ["run"],
        ["jobs", "--format", "json"],
        ["webhooks", "ingest", "-", "--signature", "t=1,v1=0"],
        ["leads", "ingest", "missing.log"],
        ["payments", "report"],  # --months (an int) and --currency (a parser) left at their defaults
        ["payments", "cohorts", "--format", "json"],
        ["status"],
    )
    for args in commands:
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, input="{}")
        assert done.stderr.strip().splitlines()[-1] == "False", (args, done.stderr)
