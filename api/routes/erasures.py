"""Erasure by key destruction (privacy officer) and its signed certificate.

``POST /v1/erasures`` destroys the keys of a fact, a subject in a case, a case, or everything an
owner contributed, on a ground, and answers with the certificate: which keys were destroyed,
which facts became unreadable, and the erasure epoch that made it final (ids and counts only).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api._deps import CurrentCaller, ServicesDep
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
from ledger import ErasureReport, RequestContext
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
) -> ErasurePublic:
    """Erase a scope (fact, subject, case, owner) on a ground; returns the certificate."""
    if isinstance(body, OwnerErasure):
        require_declared(services.covenant, partner__org=body.org)
        guard.require(caller, WriteAction.erase)
        report = services.ledger.erase_owner(caller.context, body.org, ground=body.ground)
    else:
        guard.require(caller, WriteAction.erase, body.case_id)
        report = _erase_in_case(services, caller.context, body)
    return ErasurePublic(
        erasure_id=report.erasure_id, certificate=office.certificate(report.erasure_id)
    )


def _erase_in_case(
    services: Services, ctx: RequestContext, body: FactErasure | SubjectErasure | CaseErasure
) -> ErasureReport:
    ledger = services.ledger
    if isinstance(body, CaseErasure):
        return ledger.erase_case(ctx, body.case_id, ground=body.ground)
    if isinstance(body, SubjectErasure):
        if body.subject_id not in ledger.get_case(body.case_id).subjects:
            raise not_found()
        return ledger.erase_subject(ctx, body.case_id, body.subject_id, ground=body.ground)
    return ledger.erase_fact(ctx, body.case_id, body.fact_id, ground=body.ground)


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
