"""The click exceptions Typer raises, wherever this Typer keeps its click.

Typer 0.26 and newer carry their own copy as `typer._click` (a private
module); this is the only place that imports it, and it says clearly what
to do when an older Typer is installed.
"""

from __future__ import annotations

from typing import Any

try:
    from typer._click import exceptions
    from typer._click import globals as click_globals
    from typer._click.core import ParameterSource
except ModuleNotFoundError as missing:  # a Typer older than pyproject.toml allows was already installed
    raise ImportError("arkops needs typer 0.26.1 or newer: pip install --upgrade 'typer>=0.26.1'") from missing

UsageError = exceptions.UsageError
ClickException = exceptions.ClickException

__all__ = ["ClickException", "UsageError", "current_context", "given_on_command_line"]


def current_context() -> Any:
    """The click context of the option being parsed (None outside a command)."""
    return click_globals.get_current_context(silent=True)


def given_on_command_line(ctx: Any, param: Any) -> bool:
    return bool(ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE)


def install_fast_coercion() -> None:
    """Convert plain values (str, Path, a StrEnum choice, a flag, a list of one of those) without pydantic.

    Typer 0.27+ turns every option's text into its annotated type through
    pydantic, and importing pydantic and building the adapters costs about
    0.15-0.19 s of every command, more than `arkops run` with nothing due
    spends on its own work. Our options are almost all plain text, paths and
    fixed choices, numbers within a range, whose conversion is `str`,
    `Path(text)`, `Enum(text)` or `int(text)` (a number out of its range is
    refused naming the range, where pydantic names one bound), arguments like
    `FILE...` that are lists of those, and arkops' own parsers (times, plan
    ids: `arkops.cli._output`), called as they are: those take this path;
    anything else (paths with checks, a value this path does not recognise)
    goes to Typer's own. With a Typer whose internals differ, nothing is changed.
    `tests/test_cli.py` checks that an option-heavy command's values are the
    same either way and that `arkops run` no longer imports pydantic.
    """
    try:
        from typer import _coercion, core
    except ImportError:  # pragma: no cover - an older Typer (before pydantic)
        return
    original = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if original is None or base is None or getattr(original, "_arkops_fast", False):
        return

    import dataclasses
    import types
    from enum import Enum
    from pathlib import Path
    from typing import Union, get_args, get_origin

    def plain(descriptor: Any) -> Any:
        if getattr(descriptor, "file_annotation", None) is not None:
            return None
        info = descriptor.parameter_info
        if getattr(info.parser, "_arkops_parser", False):  # our own parsers (`arkops.cli._output`): called as they are
            return ("parse", info.parser)
        if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
            return None
        annotation = descriptor.annotation
        if get_origin(annotation) in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return None
            annotation = args[0]
        if annotation in (int, float) and not getattr(info, "clamp", False):  # a number, within its range
            return ("number", annotation, getattr(info, "min", None), getattr(info, "max", None))
        if get_origin(annotation) is list:  # `FILE...`: a list of one plain kind
            (item,) = get_args(annotation) or (None,)
            kind = single(item, info) if item is not bool else None
            return None if kind is None else ("list", kind)
        return single(annotation, info)

    def single(annotation: Any, info: Any) -> Any:
        if annotation in (str, bool):
            return annotation
        if annotation is Path:
            flags = ("exists", "writable", "resolve_path", "allow_dash", "path_type")
            if any(getattr(info, flag, False) for flag in flags):
                return None
            if not getattr(info, "file_okay", True) or not getattr(info, "dir_okay", True):
                return None
            if not getattr(info, "readable", True):
                return None
            return Path
        if isinstance(annotation, type) and issubclass(annotation, str) and issubclass(annotation, Enum):
            return annotation if getattr(info, "case_sensitive", True) else None
        return None

    _SLOW = object()  # this value is not plain: Typer's own conversion decides

    @dataclasses.dataclass(frozen=True)
    class PlainParam(base):  # type: ignore[valid-type, misc]
        kind: Any = str
        slow: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(self.kind, tuple) and self.kind[0] == "parse":  # its BadParameter names the option
                return [self.kind[1](v) for v in value] if isinstance(value, (list, tuple)) else self.kind[1](value)
            if isinstance(self.kind, tuple) and self.kind[0] == "number":
                return number_in_range(value, *self.kind[1:])
            if isinstance(self.kind, tuple):  # a list of one kind: each item, or Typer's own for the whole
                if isinstance(value, (list, tuple)):
                    items = [self._one(self.kind[1], item) for item in value]
                    if all(item is not _SLOW for item in items):
                        return items
            else:
                one = self._one(self.kind, value)
                if one is not _SLOW:
                    return one
            return self.slow()._coerce_value(value, param=param, ctx=ctx)  # Typer's own (and its error message)

        @staticmethod
        def _one(kind: Any, value: Any) -> Any:
            if kind is bool:
                if isinstance(value, bool):  # a flag: click already made it a bool
                    return value
            elif isinstance(value, str):
                if kind is str:
                    return value
                if kind is Path:
                    return Path(value)
                if value in kind._value2member_map_:
                    return kind(value)
            elif isinstance(value, kind):
                return value
            return _SLOW

    def build(descriptor: Any) -> Any:
        kind = plain(descriptor)
        if kind is None:
            return original(descriptor)
        return PlainParam(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            kind=kind,
            slow=lambda: original(descriptor),
        )

    def number_in_range(value: Any, kind: type, low: Any, high: Any) -> Any:
        """A whole number (or a number) within its option's range; the refusal names the range."""
        import math

        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise exceptions.BadParameter(
                f"{value!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        if isinstance(number, float) and not math.isfinite(number):
            raise exceptions.BadParameter(f"{value!r} is not a finite number")
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = (
                f"{low} to {high}"
                if low is not None and high is not None
                else (f"{low} or more" if low is not None else f"{high} or less")
            )
            raise exceptions.BadParameter(f"{value} is not in the range {bounds}")
        return number

    build._arkops_fast = True  # type: ignore[attr-defined]
    core.build_runtime_param = build
