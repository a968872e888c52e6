"""Reading a covenant file: TOML in, ``Covenant`` or one precise ``CovenantError`` out.

The only I/O in ``policies``: ``load_covenant`` reads one file. Every failure (unreadable
file, TOML syntax, wrong shape, broken cross-field rule) becomes a ``CovenantError`` whose
message has one line per problem: ``<file>: <dotted.field[path]>: <what is wrong>``. The
service refuses to start on it; nobody sees a traceback.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from policies._covenant import Covenant
from policies._covenant_rules import CovenantProblemsError
from policies._errors import CovenantError, CovenantProblem

_SCALARS = (str, int, float, bool)


def sample_covenant_path() -> Traversable:
    """The sample covenant shipped with the package (``caseledger init`` copies it)."""
    return files("policies") / "sample_covenant.toml"


def load_covenant(path: str | os.PathLike[str] | Traversable) -> Covenant:
    """Read and validate a covenant TOML file; ``CovenantError`` names every problem."""
    source = str(path)
    readable = Path(path) if isinstance(path, str | os.PathLike) else path
    try:
        text = readable.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CovenantError(source, [CovenantProblem("(file)", "not UTF-8 text")]) from None
    except OSError as error:
        problem = CovenantProblem("(file)", f"cannot read: {error.strerror or error}")
        raise CovenantError(source, [problem]) from None
    return parse_covenant(text, source)


def parse_covenant(text: str, source: str) -> Covenant:
    """Validate covenant TOML ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        problem = CovenantProblem("(syntax)", f"invalid TOML: {error}")
        raise CovenantError(source, [problem]) from None
    try:
        return Covenant.model_validate(data)
    except ValidationError as error:
        problems = [p for detail in error.errors() for p in _problems(detail)]
        raise CovenantError(source, problems) from None


def _problems(detail: ErrorDetails) -> Iterator[CovenantProblem]:
    carried = detail.get("ctx", {}).get("error")
    if isinstance(carried, CovenantProblemsError):
        yield from carried.problems
        return
    yield CovenantProblem(_dotted(detail["loc"]), _message(detail))


def _dotted(loc: tuple[int | str, ...]) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc]
    return "".join(parts).lstrip(".") or "(document)"


def _message(detail: ErrorDetails) -> str:
    kind = detail["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not part of the covenant format)"
    message = detail["msg"].removeprefix("Value error, ")
    value: Any = detail.get("input")
    if isinstance(value, _SCALARS):
        message = f"{message} (got {value!r})"
    return message
