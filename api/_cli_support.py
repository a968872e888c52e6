"""What every ``caseledger`` command shares: its help layout, one-line refusals, ISO 8601
time options and progress shown on terminals only.

``Command`` and ``Group`` are the typer classes every command and sub-app is built with: flags
(``--dry-run``, ``--help``) show no value placeholder, options show the metavar they declare
(``DIR``, ``FILE``, choices as ``<json|csv>``), and the usage line names arguments as click
does (``FILE``, ``[FILE]``), not in braces.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from typer import _click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

#: ``progress(done, total)``: where a long command has got to.
Progress = Callable[[int, int], None]

INSTANT_HELP = "ISO 8601 date (start of that day, UTC) or date-time; without an offset: UTC."


class Command(TyperCommand):
    """A typer command whose help shows proper metavars (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _blank_flag_metavars(self.params)

    def get_help_option(self, ctx: _click.Context) -> TyperOption | None:
        return _without_metavar(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(_argument_usage(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class Group(TyperGroup):
    """A typer group (the main app and its sub-apps) with the same help conventions."""

    def get_help_option(self, ctx: _click.Context) -> TyperOption | None:
        return _without_metavar(super().get_help_option(ctx))


def _blank_flag_metavars(params: Sequence[_click.Parameter]) -> None:
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # a flag takes no value, so it shows no placeholder


def _without_metavar(option: TyperOption | None) -> TyperOption | None:
    if option is not None:
        option.metavar = ""
    return option


def _argument_usage(argument: TyperArgument) -> str:
    name = argument.metavar or (argument.name or "").upper()
    if argument.nargs != 1:
        name += "..."
    return name if argument.required else f"[{name}]"


def refuse(message: str) -> NoReturn:
    """Print one line ``caseledger: <message>`` on stderr and exit 2 (bad input)."""
    typer.echo(f"caseledger: {message}", err=True)
    raise typer.Exit(2)


def parse_instant(value: str | None, option: str) -> datetime | None:
    """``value`` as an aware UTC datetime (``None`` stays ``None``); bad input refuses.

    A date means the start of that day in UTC; a date-time without an offset is taken as UTC.
    """
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        refuse(f"{option}: not an ISO 8601 date or date-time")


@contextmanager
def progress_on_terminal(label: str) -> Iterator[Progress]:
    """A progress bar on stderr when stderr is a terminal; elsewhere (pipes, logs, tests)
    progress is not shown at all, so output stays the command's result only."""
    if not sys.stderr.isatty():
        yield _unshown
        return
    with typer.progressbar(length=1, label=label, file=sys.stderr) as bar:
        shown = 0

        def update(done: int, total: int) -> None:
            nonlocal shown
            bar.length = max(total, 1)
            bar.update(done - shown)
            shown = done

        yield update


def _unshown(_done: int, _total: int) -> None:
    return None
