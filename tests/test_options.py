"""Every bad option value is a usage error: exit 2, one line, the same wording whichever option it is; and a walk
over every option of every command: each choice and range refused with exit 2 naming what is valid, each time option
taking the same forms, each --since with its --until."""

from __future__ import annotations

import pytest
from cli_params import bounds_of, choices_of, parser_of

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
    (
        ["trials", "list", "--state", "actv"],
        "Invalid value for '--state': 'actv' is not one of 'signed_up', 'active', 'converted', 'expired'. "
        "Did you mean 'active'?",
    ),
    (["jobs", "--format", "jsn"], "Invalid value for '--format': 'jsn' is not one of 'table', 'json', 'csv'. Did you"),
    (["run", "--only", "trials_track"], "Invalid value for '--only': 'trials_track' is not one of"),
    (["trials", "list", "--bogus"], "No such option: --bogus"),
    (["trials", "lst"], "No such command 'lst'. Did you mean 'list'?"),
    (["trails", "list"], "No such command 'trails'. Did you mean 'trials'?"),
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


# --- Every option of every command, walked: the same grammar everywhere ---------------------------------------

TIME_FORMS = ["90m", "12h", "7d", "6w", "6mo", "1y", "2026-10-01", "2026-10-01T09:30", "2026-10-01T09:30:00Z"]


def walked_parameters():
    """(command path, parameter) for every visible parameter of every command, as `arkops --help` builds them."""
    from arkops.cli.reference import leaf_commands

    for path, command, _ in leaf_commands():
        for param in command.params:
            if not param.hidden and param.name != "help":
                yield path, param


def invocation(path: str, param, value: str) -> list[str]:
    """The command with `value` for `param` alone (as its first argument, or after its option name)."""
    if param.param_type_name == "argument":
        return [*path.split(), value]
    return [*path.split(), param.opts[0], value]


def first_argument(path: str, param) -> bool:
    from arkops.cli.reference import leaf_commands

    (command,) = [c for p, c, _ in leaf_commands() if p == path]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    return param.param_type_name != "argument" or arguments[0] is param


def choice_cases():
    from arkops.cli._output import OneOf

    for path, param in walked_parameters():
        if not first_argument(path, param):
            continue
        choices = choices_of(param)
        if choices:
            yield path, param, choices
        elif isinstance(parser_of(param), OneOf):
            yield path, param, None  # its values come from arkops.toml or the registry


def range_cases():
    for path, param in walked_parameters():
        low, high = bounds_of(param)
        if low is not None and first_argument(path, param):
            yield path, param, str(low - 1)
        if high is not None and first_argument(path, param):
            yield path, param, str(high + 1)


def time_options():
    from arkops.cli._output import Moment

    return [(path, param) for path, param in walked_parameters() if isinstance(parser_of(param), Moment)]


def test_the_walk_finds_the_options_it_checks():
    assert len(list(choice_cases())) >= 40 and len(list(range_cases())) >= 15 and len(time_options()) >= 15


def test_every_value_outside_its_set_is_exit_2_naming_the_valid_values(cli):
    from arkops.cli._output import OneOf

    for path, param, choices in choice_cases():
        result = cli(*invocation(path, param, "not-a-choice"))
        name = param.opts[0] if param.param_type_name == "option" else param.human_readable_name
        assert result.code == 2, (path, name, result.err)
        assert result.err.startswith(f"arkops: error: Invalid value for '{name}': 'not-a-choice' is not one of ")
        valid = choices if choices is not None else parser_of(param).choices()
        assert all(repr(value) in result.err for value in valid), (path, name, result.err)
        assert isinstance(parser_of(param), OneOf) or choices, (path, name)


def test_every_value_outside_its_range_is_exit_2(cli):
    for path, param, value in range_cases():
        result = cli(*invocation(path, param, value))
        assert result.code == 2, (path, param.opts, value, result.err)
        assert f"Invalid value for '{param.opts[0]}': {value} is not in the range " in result.err, result.err
        assert all(str(bound) in result.err for bound in bounds_of(param) if bound is not None), result.err


def test_every_time_option_takes_the_same_forms_and_refuses_the_same_way(cli, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-10-15T09:30:00Z")
    for path, param in time_options():
        name = param.opts[0]
        for form in TIME_FORMS:
            result = cli(*invocation(path, param, form))
            assert f"'{name}'" not in result.err, (path, form, result.err)  # it may miss other arguments, not this
        refused = cli(*invocation(path, param, "soon"))
        assert refused.code == 2 and refused.err.startswith(
            f"arkops: error: Invalid value for '{name}': 'soon' is not a span back from now (90m, 12h, 7d, 6w, 6mo, 1y)"
        ), (path, refused.err)
        future = cli(*invocation(path, param, "2100-01-01"))
        assert future.code == 2 and "is out of range (1970-2099)" in future.err, (path, future.err)


# Commands whose --since is not a window of what they show: they act on what moved since then.
SINCE_WITHOUT_UNTIL = {"crm push": "sends again everyone whose records moved since"}


def test_every_command_with_since_has_until():
    options: dict[str, set[str]] = {}
    for path, param in walked_parameters():
        options.setdefault(path, set()).update(param.opts)
    with_since = {path for path, opts in options.items() if "--since" in opts}
    assert len(with_since) >= 6
    assert {path for path in with_since if "--until" not in options[path]} == set(SINCE_WITHOUT_UNTIL)


def test_until_before_since_is_a_usage_error(cli):
    result = cli("leads", "list", "--since", "2026-10-10", "--until", "2026-10-01")
    assert (result.code, result.err) == (2, "arkops: error: --until must be after --since\n")
