"""The action list: agree actions, progress them, read the list (JSON or CSV).

"Nothing about the case is sent around, only the action list is shared": every active
participant and the clerk may read it, also as CSV for the meeting minutes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from fastapi import APIRouter, Request, Response

from api._deps import CurrentCaller, ServicesDep
from api._guard import Permit
from api._problems import NOT_ACCEPTABLE, VALIDATION, ProblemError
from api._responses import ActionList, WriteAck
from api._schemas import ActionCreate, ActionStatusCreate
from api._writes import Write
from api.routes._common import (
    READ_PROBLEMS,
    ActionPath,
    CasePath,
    add_write,
    problem_responses,
    require_declared,
)
from api.routes.cases import action_public
from policies import PartnerId, WriteAction
from projections import ActionView

A = WriteAction
CSV_COLUMNS = ("action_id", "assignee", "what", "due", "status")


async def agree_action(case: CasePath, body: ActionCreate, write: Write) -> WriteAck:
    """Agree an action: an assignee partner (an active participant), what, and when."""
    require_declared(write.services.covenant, partner__assignee=body.assignee)

    def run(permit: Permit) -> WriteAck:
        assert permit.case is not None
        if not permit.case.is_active_participant(PartnerId(body.assignee), permit.now):
            raise ProblemError(
                VALIDATION,
                detail="The assignee is not an active participant of the case.",
                extra={"errors": [{"field": "assignee", "type": "not_participant"}]},
            )
        result = write.ledger.agree_action(
            write.context,
            case,
            assignee=body.assignee,
            what=body.what,
            due=body.due.isoformat(),
            **write.conditions,
        )
        return write.ack(result, action_id=result.created_id)

    return await write.run(write.require(A.agree_action, case), run)


async def change_action_status(
    case: CasePath, action: ActionPath, body: ActionStatusCreate, write: Write
) -> WriteAck:
    """Progress an action (its assignee partner, or the procesregisseur)."""

    def run(_: Permit) -> WriteAck:
        result = write.ledger.change_action_status(
            write.context, case, action, status=body.status, **write.conditions
        )
        return write.ack(result, action_id=action, status=body.status)

    return await write.run(write.require(A.change_action_status, case, action_id=action), run)


def list_actions(
    case: CasePath, caller: CurrentCaller, services: ServicesDep, request: Request
) -> Response:
    """The case's action list for participants and the clerk (``Accept: text/csv`` for CSV)."""
    as_csv = wants_csv(request.headers.get("accept"))
    version, actions = services.reads.action_list(caller.read_request, case)
    headers = {"ETag": f'"{version}"'}
    if as_csv:
        return Response(_csv(actions), media_type="text/csv; charset=utf-8", headers=headers)
    body = ActionList(
        case_id=case,
        version=version,
        actions=[action_public(a) for a in actions],
    )
    return Response(
        body.model_dump_json(exclude_unset=True), media_type="application/json", headers=headers
    )


def wants_csv(accept: str | None) -> bool:
    """CSV when asked for (and preferred over JSON); 406 when neither is acceptable."""
    if not accept:
        return False
    ranked: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        ranked[media.lower()] = max(quality, ranked.get(media.lower(), 0.0))
    explicit_csv = ranked.get("text/csv", 0.0)
    json_q = max(ranked.get(m, 0.0) for m in ("application/json", "application/*", "*/*"))
    if explicit_csv > 0 and explicit_csv >= json_q:
        return True
    if json_q > 0:
        return False
    if ranked.get("text/*", 0.0) > 0:
        return True
    raise ProblemError(NOT_ACCEPTABLE, extra={"available": ["application/json", "text/csv"]})


def _csv(actions: Sequence[ActionView]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for action in actions:
        writer.writerow([_cell(getattr(action, column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a leading = + - @ would run as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}/actions", tags=["actions"])
    add_write(router, "", agree_action, status_code=201)
    add_write(router, "/{action}/status", change_action_status)
    router.add_api_route(
        "",
        list_actions,
        methods=["GET"],
        response_model=ActionList,
        responses={
            200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
            **problem_responses(*READ_PROBLEMS, NOT_ACCEPTABLE),
        },
    )
    return router
