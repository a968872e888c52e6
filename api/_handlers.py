"""Exception handlers: every error leaves the API as one problem response.

Validation errors name the field (by its schema path) and the kind of error, never the value:
an echoed value could be the very personal data the request carried. A malformed id in a
path answers the same 404 as an unknown id; a malformed header is a 400.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api._problems import (
    BAD_HEADER,
    INTERNAL,
    METHOD,
    NOT_FOUND,
    VALIDATION,
    ProblemError,
    ProblemType,
    from_ledger_error,
    problem_response,
)
from ledger import LedgerError

_SAFE_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_OWN_MESSAGES = frozenset({"value_error"})
_HTTP = {404: NOT_FOUND, 405: METHOD}


async def _problem(_: Request, error: Exception) -> Response:
    assert isinstance(error, ProblemError)
    return problem_response(error)


async def _ledger(_: Request, error: Exception) -> Response:
    assert isinstance(error, LedgerError)
    return problem_response(from_ledger_error(error))


async def _validation(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    places = {str(e.get("loc", ("",))[0]) for e in errors}
    if places == {"path"}:
        return problem_response(ProblemError(NOT_FOUND))
    if "header" in places:
        names = sorted({_field(e.get("loc", ())) for e in errors if e["loc"][0] == "header"})
        return problem_response(
            ProblemError(
                BAD_HEADER, extra={"errors": [{"field": n, "type": "invalid"} for n in names]}
            )
        )
    return problem_response(ProblemError(VALIDATION, extra={"errors": [_safe(e) for e in errors]}))


async def _http(_: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    kind = _HTTP.get(error.status_code) or ProblemType(
        "http-error", error.status_code, "HTTP error", "The request cannot be served."
    )
    if error.status_code >= 500:
        kind = INTERNAL
    return problem_response(ProblemError(kind, headers=dict(error.headers or {})))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(LedgerError, _ledger)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)


def _safe(error: Any) -> dict[str, Any]:
    kind = str(error.get("type", "invalid"))
    loc: Sequence[Any] = error.get("loc", ())
    if kind == "extra_forbidden":
        loc = [*loc[:-1], "(unknown field)"]
    out: dict[str, Any] = {"field": _field(loc), "type": kind}
    if kind in _OWN_MESSAGES:
        out["message"] = str(error.get("msg", ""))
    expected = (error.get("ctx") or {}).get("expected")
    if kind in ("literal_error", "enum") and isinstance(expected, str):
        out["expected"] = expected
    return out


def _field(loc: Sequence[Any]) -> str:
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(str(part))
        elif isinstance(part, str) and (_SAFE_PART.match(part) or part == "(unknown field)"):
            parts.append(part)
        else:
            parts.append("*")
    return ".".join(parts)
