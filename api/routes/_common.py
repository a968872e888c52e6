"""What every route module shares: dependency aliases, path parameters, vocabulary checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from api._guard import Guard
from api._problems import VALIDATION, Problem, ProblemError
from api._responses import WriteAck
from api._schemas import CASE_ID_PATTERN, HEX_ID_PATTERN
from api._writes import FactCommitter
from policies import Covenant
from projections import PrivacyOffice


async def get_guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


async def get_committer(request: Request) -> FactCommitter | None:
    committer: FactCommitter | None = request.app.state.committer
    return committer


async def get_office(request: Request) -> PrivacyOffice:
    office: PrivacyOffice = request.app.state.office
    return office


GuardDep = Annotated[Guard, Depends(get_guard)]
OfficeDep = Annotated[PrivacyOffice, Depends(get_office)]
CommitterDep = Annotated[FactCommitter | None, Depends(get_committer)]
CasePath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="A case id.")]
FactPath = Annotated[str, Path(pattern=HEX_ID_PATTERN, description="A fact id.")]
ActionPath = Annotated[str, Path(pattern=HEX_ID_PATTERN, description="An action id.")]
ConsentPath = Annotated[str, Path(pattern=HEX_ID_PATTERN, description="A consent id.")]
OrgPath = Annotated[str, Path(pattern=r"^[a-z_]{1,64}$", description="A partner id.")]
ErasurePath = Annotated[str, Path(pattern=HEX_ID_PATTERN, description="An erasure id.")]
GrantPath = Annotated[str, Path(pattern=HEX_ID_PATTERN, description="An emergency grant id.")]

_PROBLEM: dict[str, Any] = {"model": Problem}
#: Problems any authenticated data route may answer (documented for every operation).
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {**_PROBLEM, "description": "Malformed header or body, or no declared purpose"},
    401: {**_PROBLEM, "description": "No valid bearer token"},
    403: {**_PROBLEM, "description": "The covenant does not permit this (reason code given)"},
    404: {**_PROBLEM, "description": "Unknown, or not available to you (indistinguishable)"},
    406: {**_PROBLEM, "description": "No acceptable representation"},
    409: {**_PROBLEM, "description": "Version conflict (current_version) or case status"},
    413: {**_PROBLEM, "description": "Body too large"},
    415: {**_PROBLEM, "description": "Body is not JSON"},
    422: {**_PROBLEM, "description": "Invalid fields, or refused terms (reason code given)"},
    503: {**_PROBLEM, "description": "A store or the access log is unavailable; nothing shown"},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented problems of these statuses (for routes that answer more than most)."""
    return {status: PROBLEMS[status] for status in statuses}


def require_declared(covenant: Covenant, **values: str | list[str] | None) -> None:
    """Each named value must be declared by the covenant (422 naming the field, not the value).

    Keys: ``purpose``, ``legal_basis``, ``partner:<field>``, ``category:<field>``,
    ``kind``, ``ground``.
    """
    checks = {
        "purpose": lambda v: covenant.find_purpose(v) is not None,
        "legal_basis": covenant.is_legal_basis,
        "partner": covenant.is_partner,
        "category": covenant.is_category,
        "kind": covenant.is_kind,
    }
    for key, value in values.items():
        if value is None:
            continue
        kind, _, field = key.partition("__")
        check = checks[kind]
        items = value if isinstance(value, list) else [value]
        if not all(check(item) for item in items):
            raise ProblemError(
                VALIDATION,
                detail="A value is not declared in the covenant.",
                extra={"errors": [{"field": field or kind, "type": "not_in_covenant"}]},
            )


def add_write(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., WriteAck | Awaitable[WriteAck]],
    *,
    method: str = "POST",
    status_code: int = 200,
) -> None:
    """A write route: answers ``WriteAck`` (fields that do not apply are left out)."""
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        status_code=status_code,
        response_model=WriteAck,
        response_model_exclude_none=True,
    )
