"""Consent: record what a subject agreed to, and withdraw it (AVG art. 7(3))."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api._deps import CurrentCaller, ServicesDep, WritePreconditions
from api._guard import Permit
from api._responses import WriteAck
from api._schemas import ConsentCreate, WithdrawalCreate
from api._writes import ack, perform
from api.routes._common import (
    CasePath,
    ConsentPath,
    GuardDep,
    add_write,
    require_declared,
)
from policies import WriteAction

A = WriteAction


def record_consent(
    case: CasePath,
    body: ConsentCreate,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    pre: WritePreconditions,
    response: Response,
) -> WriteAck:
    """Record a subject's consent: for which purpose, categories and recipient partners."""
    require_declared(
        services.covenant,
        purpose=body.purpose,
        category__categories=body.categories,
        partner__recipients=body.recipients,
    )

    def run(_: Permit) -> WriteAck:
        result = services.ledger.record_consent(
            caller.context,
            case,
            subject=body.subject,
            purpose=body.purpose,
            categories=body.categories,
            recipients=body.recipients,
            expected_version=pre.expected_version,
            idempotency_key=pre.idempotency_key,
        )
        return ack(response, result, consent_id=result.created_id)

    return perform(pre, lambda: guard.require(caller, A.record_consent, case), run)


def withdraw_consent(
    case: CasePath,
    consent: ConsentPath,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    pre: WritePreconditions,
    response: Response,
    body: WithdrawalCreate | None = None,
) -> WriteAck:
    """Withdraw a consent (the partner that recorded it, in any case status): the facts it
    admitted disappear from every view at once."""

    def run(_: Permit) -> WriteAck:
        result = services.ledger.withdraw_consent(
            caller.context,
            case,
            consent,
            expected_version=pre.expected_version,
            idempotency_key=pre.idempotency_key,
        )
        return ack(response, result, consent_id=consent)

    return perform(
        pre, lambda: guard.require(caller, A.withdraw_consent, case, consent_id=consent), run
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}/consents", tags=["consents"])
    add_write(router, "", record_consent, status_code=201)
    add_write(router, "/{consent}/withdrawal", withdraw_consent)
    return router
