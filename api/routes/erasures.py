"""Erasure by key destruction (privacy officer), four eyes where it is drastic, and the
signed certificate.

``POST /v1/erasures`` erases a fact or a subject in a case at once (201 with the certificate:
which keys were destroyed, which facts became unreadable, the epoch that made it final; ids
and counts only). Erasing a whole case outside its retention, or everything a partner
contributed (``owner``, for a partner leaving the covenant), takes four eyes: the request
answers 202 ``awaiting_confirmation`` and destroys nothing, and
``POST /v1/erasures/{id}/confirm`` by another privacy officer carries it out (201 with the
certificate). A request not confirmed within the covenant's ``erasure.confirm_within_hours``
expires. Retries with the same ``Idempotency-Key`` get the first answer (200, replayed).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api._deps import Caller, CurrentCaller, IdempotencyKey, ServicesDep
from api._guard import Guard
from api._problems import FORBIDDEN, FOUR_EYES, NOT_FOUND, REQUEST_EXPIRED, UNAVAILABLE, not_found
from api._responses import ErasurePending, ErasurePublic
from api._schemas import (
    CaseErasure,
    ErasureCreate,
    FactErasure,
    OwnerErasure,
    SubjectErasure,
)
from api.bootstrap import Services
from api.routes._common import (
    COMMAND_PROBLEMS,
    DENIAL_PROBLEMS,
    ErasurePath,
    GuardDep,
    OfficeDep,
    problem_responses,
    require_declared,
)
from ledger import ErasureReport, ErasureRequestNotFoundError, SubjectNotFoundError
from policies import ErasureGround, ErasureScope, erasure_request_expires_at


def erase(
    body: ErasureCreate,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    office: OfficeDep,
    idempotency_key: IdempotencyKey,
    response: Response,
) -> ErasurePublic | JSONResponse:
    """Erase a fact or a subject at once (201); request a case or owner erasure for a second
    privacy officer to confirm (202). A retry with the same ``Idempotency-Key`` returns the
    first answer (200, ``Idempotent-Replayed: true``)."""
    org = body.org if isinstance(body, OwnerErasure) else None
    if org is not None:
        require_declared(services.covenant, partner__org=org)
    case_id = None if isinstance(body, OwnerErasure) else body.case_id
    ruling = guard.require_erasure(
        caller, ErasureScope(body.scope), ErasureGround(body.ground), case_id=case_id, owner=org
    )
    if ruling.needs_confirmation:
        return _request(services, caller, body, idempotency_key)
    assert not isinstance(body, OwnerErasure)  # owner scope always takes four eyes
    report = _erase_in_case(services, caller, body, idempotency_key)
    _replayed(response, report.replayed)
    return ErasurePublic(
        erasure_id=report.erasure_id,
        certificate=office.certificate(report.erasure_id),
        replayed=report.replayed,
    )


def _request(
    services: Services, caller: Caller, body: ErasureCreate, idempotency_key: str | None
) -> JSONResponse:
    expires_at = erasure_request_expires_at(services.covenant, services.clock())
    request, replayed = services.ledger.request_erasure(
        caller.context,
        scope=body.scope,
        ground=body.ground,
        expires_at=expires_at,
        case_id=body.case_id or "",
        org=body.org or "",
        idempotency_key=idempotency_key,
    )
    pending = ErasurePending(**request.as_dict(), replayed=replayed)
    headers = {"Location": f"/v1/erasures/{request.request_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(pending.model_dump(), status_code=200 if replayed else 202, headers=headers)


def _erase_in_case(
    services: Services,
    caller: Caller,
    body: FactErasure | SubjectErasure | CaseErasure,
    idempotency_key: str | None,
) -> ErasureReport:
    ledger, ctx, key = services.ledger, caller.context, idempotency_key
    if isinstance(body, CaseErasure):
        return ledger.erase_case(ctx, body.case_id, ground=body.ground, idempotency_key=key)
    if isinstance(body, SubjectErasure):
        try:
            return ledger.erase_subject(
                ctx, body.case_id, body.subject_id, ground=body.ground, idempotency_key=key
            )
        except SubjectNotFoundError:
            raise not_found() from None
    return ledger.erase_fact(
        ctx, body.case_id, body.fact_id, ground=body.ground, idempotency_key=key
    )


def confirm_erasure(
    erasure: ErasurePath,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    office: OfficeDep,
    response: Response,
) -> ErasurePublic:
    """Confirm another privacy officer's erasure request and carry it out (201 with the
    certificate). The requester cannot confirm (403 ``four_eyes_required``); an expired request
    is 409 ``erasure_request_expired``; once carried out, a retry gets the certificate (200)."""
    request = _pending(services, guard, caller, erasure)
    if request.status == "erased":
        _replayed(response, True)
        return ErasurePublic(
            erasure_id=erasure, certificate=office.certificate(erasure), replayed=True
        )
    guard.require_confirmation(caller, request)
    report = services.ledger.confirm_erasure(caller.context, erasure)
    return ErasurePublic(erasure_id=report.erasure_id, certificate=office.certificate(erasure))


def _pending(services: Services, guard: Guard, caller: Caller, erasure: str) -> Any:
    guard.require_supervision(caller)
    try:
        return services.ledger.get_erasure_request(erasure)
    except ErasureRequestNotFoundError:
        raise not_found() from None


def get_erasure(
    erasure: ErasurePath,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    office: OfficeDep,
) -> ErasurePublic | ErasurePending:
    """The signed certificate of an erasure, or the state of a request still awaiting its
    confirmation."""
    guard.require_supervision(caller)
    try:
        request = services.ledger.get_erasure_request(erasure)
    except ErasureRequestNotFoundError:
        return ErasurePublic(erasure_id=erasure, certificate=office.certificate(erasure))
    if request.status != "erased":
        return ErasurePending(**request.as_dict())
    return ErasurePublic(erasure_id=erasure, certificate=office.certificate(erasure))


def _replayed(response: Response, replayed: bool) -> None:
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/erasures", tags=["privacy office"])
    router.add_api_route(
        "",
        erase,
        methods=["POST"],
        status_code=201,
        response_model=ErasurePublic,
        responses={
            200: {
                "model": ErasurePublic | ErasurePending,
                "description": "A replay (Idempotent-Replayed): the first answer again",
            },
            202: {"model": ErasurePending, "description": "Awaiting a second privacy officer"},
            **problem_responses(*DENIAL_PROBLEMS, *COMMAND_PROBLEMS),
        },
    )
    router.add_api_route(
        "/{erasure}/confirm",
        confirm_erasure,
        methods=["POST"],
        status_code=201,
        response_model=ErasurePublic,
        responses={
            200: {"model": ErasurePublic, "description": "Carried out already: its certificate"},
            **problem_responses(
                NOT_FOUND, FORBIDDEN, FOUR_EYES, REQUEST_EXPIRED, UNAVAILABLE, *COMMAND_PROBLEMS
            ),
        },
    )
    router.add_api_route(
        "/{erasure}",
        get_erasure,
        methods=["GET"],
        response_model=ErasurePublic | ErasurePending,
        responses=problem_responses(NOT_FOUND, FORBIDDEN, UNAVAILABLE),
    )
    return router
