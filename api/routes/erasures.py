"""Erasure by key destruction (privacy officer) and its signed certificate.

``POST /v1/erasures`` destroys the keys of a fact, a subject in a case, a case, or everything an
owner contributed, on a ground, and answers with the certificate: which keys were destroyed,
which facts became unreadable, and the erasure epoch that made it final (ids and counts only).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api._deps import CurrentCaller, IdempotencyKey, ServicesDep
from api._problems import not_found
from api._responses import ErasurePublic
from api._schemas import (
    CaseErasure,
    ErasureCreate,
    FactErasure,
    OwnerErasure,
    SubjectErasure,
)
from api.bootstrap import Services
from api.routes._common import PROBLEMS, ErasurePath, GuardDep, require_declared
from ledger import ErasureReport, RequestContext, SubjectNotFoundError
from policies import WriteAction
from projections._privacy import PrivacyOffice


async def get_office(request: Request) -> PrivacyOffice:
    office: PrivacyOffice = request.app.state.office
    return office


OfficeDep = Annotated[PrivacyOffice, Depends(get_office)]


def erase(
    body: ErasureCreate,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    office: OfficeDep,
    idempotency_key: IdempotencyKey,
    response: Response,
) -> ErasurePublic:
    """Erase a scope (fact, subject, case, owner) on a ground; returns the certificate. A
    retry with the same ``Idempotency-Key`` returns the first certificate (200, replayed)."""
    if isinstance(body, OwnerErasure):
        require_declared(services.covenant, partner__org=body.org)
        guard.require(caller, WriteAction.erase)
        report = services.ledger.erase_owner(
            caller.context, body.org, ground=body.ground, idempotency_key=idempotency_key
        )
    else:
        guard.require(caller, WriteAction.erase, body.case_id)
        report = _erase_in_case(services, caller.context, body, idempotency_key)
    if report.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return ErasurePublic(
        erasure_id=report.erasure_id,
        certificate=office.certificate(report.erasure_id),
        replayed=report.replayed,
    )


def _erase_in_case(
    services: Services,
    ctx: RequestContext,
    body: FactErasure | SubjectErasure | CaseErasure,
    idempotency_key: str | None,
) -> ErasureReport:
    ledger = services.ledger
    key = idempotency_key
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


def get_erasure(
    erasure: ErasurePath, caller: CurrentCaller, guard: GuardDep, office: OfficeDep
) -> ErasurePublic:
    """The signed certificate of an erasure."""
    guard.require_supervision(caller)
    return ErasurePublic(erasure_id=erasure, certificate=office.certificate(erasure))


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/erasures", tags=["privacy office"], responses=PROBLEMS)
    router.add_api_route("", erase, methods=["POST"], status_code=201, response_model=ErasurePublic)
    router.add_api_route("/{erasure}", get_erasure, methods=["GET"], response_model=ErasurePublic)
    return router
