"""The action list across cases: ``GET /v1/actions``.

``assignee=me`` is the caller's partner (or name a declared partner); ``status`` one of the
action statuses; ``overdue=true`` only actions due before today and still open or in progress
(``false``: only the others); ``cursor`` the previous page's ``next``. Each case is decided as
for its own action list (every active participant and the clerk; the partnership office takes
part in every case, so the procesregisseur's ``overdue=true`` is the overdue overview), and
each case shown is logged before the page is returned. Query parameters are checked strictly:
an unknown parameter, status or boolean is a 422 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api._deps import CurrentCaller, ServicesDep
from api._problems import (
    FORBIDDEN,
    LOG_DOWN,
    POLICY,
    UNAVAILABLE,
    VALIDATION,
    ProblemError,
    command_problem,
    from_denial,
)
from api._responses import CaseActionPage, CaseActionPublic
from api._schemas import CASE_ID_PATTERN, HEX_ID_PATTERN
from api.routes._common import problem_responses, require_declared
from api.routes.cases import action_public
from projections import (
    ACTION_STATUSES,
    ActionQuery,
    CaseActionView,
    ReadRefusedError,
)

_PARAMETERS = frozenset({"assignee", "status", "overdue", "cursor", "limit"})
_BOOLEANS = {"true": True, "false": False}
#: A plain word (checked against its choices in the handler, for a precise problem).
_WORD = r"^[A-Za-z0-9_]{0,32}$"
_DUE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UNKNOWN_STATUS = command_problem("unknown_action_status")


def list_actions(
    request: Request,
    caller: CurrentCaller,
    services: ServicesDep,
    assignee: Annotated[
        str | None, Query(pattern=r"^[a-z_]{1,64}$", description="`me` or a partner id")
    ] = None,
    status: Annotated[
        str | None, Query(pattern=_WORD, description="open, in_progress, done, cancelled")
    ] = None,
    overdue: Annotated[str | None, Query(pattern=_WORD, description="`true` or `false`")] = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,400}$", description="the previous `next`")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CaseActionPage:
    """Actions across the cases the caller may see, in (due, case, action) order."""
    unknown = sorted(set(request.query_params) - _PARAMETERS)
    if unknown:
        raise _invalid(unknown[0], "unknown_parameter")
    if status is not None and status not in ACTION_STATUSES:
        raise ProblemError(UNKNOWN_STATUS, extra={"errors": [{"field": "status"}]})
    if overdue is not None and overdue not in _BOOLEANS:
        raise _invalid("overdue", "bool_parsing")
    only_overdue = _BOOLEANS.get(overdue) if overdue is not None else None
    if only_overdue and status in ("done", "cancelled"):
        raise _invalid("overdue", "conflicts_with_status")
    partner = caller.principal.partner if assignee == "me" else assignee
    if assignee != "me":
        require_declared(services.covenant, partner__assignee=assignee)
    query = ActionQuery(
        assignee=partner,
        statuses=frozenset({status}) if status is not None else None,
        overdue=only_overdue,
        after=decode_cursor(cursor) if cursor is not None else None,
        limit=limit,
    )
    try:
        page = services.reads.actions_across_cases(caller.read_request, query)
    except ReadRefusedError as refused:
        raise from_denial(refused.decision, visible=True) from None
    return CaseActionPage(
        actions=[_public(row) for row in page.actions],
        next=encode_cursor(page.next) if page.next is not None else None,
        today=page.today,
    )


def _public(row: CaseActionView) -> CaseActionPublic:
    fields = action_public(row.action).model_dump(exclude_unset=True)
    return CaseActionPublic(**fields, case_id=row.case_id, overdue=row.overdue)


def encode_cursor(position: tuple[str, str, str]) -> str:
    """An opaque cursor for a page position (base64url of its JSON, no padding)."""
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str, str]:
    """The position a cursor names; 422 (field ``cursor``) unless it is one we made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, case_id, action_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise _invalid("cursor", "invalid_cursor") from None
    parts = (due, case_id, action_id)
    if not all(isinstance(p, str) for p in parts) or not (
        _DUE.match(due)
        and re.match(CASE_ID_PATTERN, case_id)
        and re.match(HEX_ID_PATTERN, action_id)
    ):
        raise _invalid("cursor", "invalid_cursor")
    return due, case_id, action_id


def _invalid(field: str, kind: str) -> ProblemError:
    return ProblemError(
        VALIDATION,
        detail="Some query parameters are not acceptable.",
        extra={"errors": [{"field": field, "type": kind}]},
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/actions", tags=["actions"])
    router.add_api_route(
        "", list_actions, methods=["GET"], response_model=CaseActionPage,
        response_model_exclude_unset=True,
        responses=problem_responses(
            FORBIDDEN, POLICY, VALIDATION, UNKNOWN_STATUS, LOG_DOWN, UNAVAILABLE
        ),
    )  # fmt: skip
    return router
