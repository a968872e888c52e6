"""What every route module shares: dependency aliases, path parameters, vocabulary checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from api._guard import Guard
from api._openapi import PROBLEM_CODES
from api._problems import (
    CONFLICT,
    FORBIDDEN,
    LOG_DOWN,
    NOT_FOUND,
    POLICY,
    ROLE_REQUIRED,
    STATUS,
    UNAVAILABLE,
    VALIDATION,
    Problem,
    ProblemError,
    ProblemType,
    command_problem_types,
)
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

#: Problems a route's own code may raise, named with ``problem_responses``; what every request
#: may meet on its way (hygiene, validation, authentication, preconditions) is added to each
#: operation by ``api._openapi`` from the route's shape.
#:
#: Reading case data: unknown or not visible (404); nothing shown while the access log or the
#: projections cannot be trusted (503).
READ_PROBLEMS = (NOT_FOUND, LOG_DOWN, UNAVAILABLE)
#: The privacy officer's gate (``Guard.require_supervision``).
SUPERVISION_PROBLEMS = (FORBIDDEN,)
#: The guard's refusals (``from_denial``): not visible (404), not permitted (403), the case's
#: status (409), the covenant's terms (422); and 503 when the projections lag behind.
DENIAL_PROBLEMS = (NOT_FOUND, FORBIDDEN, ROLE_REQUIRED, STATUS, POLICY, UNAVAILABLE)
#: A command the ledger refuses (``from_ledger_error``): by the state of the case or item
#: (409) or as not acceptable (422), each with its own code; or a race lost every retry.
COMMAND_PROBLEMS = (*command_problem_types(), CONFLICT)
#: A case write: the guard decides, the ledger carries it out.
CASE_WRITE_PROBLEMS = (*DENIAL_PROBLEMS, *COMMAND_PROBLEMS)


def problem_responses(*kinds: ProblemType) -> dict[int | str, dict[str, Any]]:
    """The documented responses of these problem types: one per status, listing the codes
    (``api._openapi`` adds the problems every request may meet and writes the description)."""
    codes: dict[int, list[str]] = {}
    for kind in kinds:
        codes.setdefault(kind.status, []).append(kind.code)
    return {status: {"model": Problem, PROBLEM_CODES: listed} for status, listed in codes.items()}


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
    problems: Sequence[ProblemType] = CASE_WRITE_PROBLEMS,
) -> None:
    """A write route: answers ``WriteAck`` (fields that do not apply are left out). A write
    that asked for what already holds stores nothing and answers 200 (``unchanged``)."""
    responses = problem_responses(*problems)
    if status_code != 200:
        responses[200] = {"model": WriteAck, "description": "Unchanged: this held already"}
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        status_code=status_code,
        response_model=WriteAck,
        response_model_exclude_none=True,
        responses=responses,
    )
