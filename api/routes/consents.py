"""Consent: record what a subject agreed to, and withdraw it (AVG art. 7(3))."""

from __future__ import annotations

from fastapi import APIRouter

from api._guard import Permit
from api._responses import WriteAck
from api._schemas import ConsentCreate, WithdrawalCreate
from api._writes import Write
from api.routes._common import (
    CasePath,
    ConsentPath,
    add_write,
    require_declared,
)
from policies import WriteAction

A = WriteAction


async def record_consent(case: CasePath, body: ConsentCreate, write: Write) -> WriteAck:
    """Record a subject's consent: for which purpose, categories and recipient partners."""
    require_declared(
        write.services.covenant,
        purpose=body.purpose,
        category__categories=body.categories,
        partner__recipients=body.recipients,
    )

    def run(_: Permit) -> WriteAck:
        result = write.ledger.record_consent(
            write.context,
            case,
            subject=body.subject,
            purpose=body.purpose,
            categories=body.categories,
            recipients=body.recipients,
            **write.conditions,
        )
        return write.ack(result, consent_id=result.created_id)

    return await write.run(write.require(A.record_consent, case), run)


async def withdraw_consent(
    case: CasePath, consent: ConsentPath, write: Write, body: WithdrawalCreate | None = None
) -> WriteAck:
    """Withdraw a consent (the partner that recorded it, in any case status): the facts it
    admitted disappear from every view at once."""

    def run(_: Permit) -> WriteAck:
        result = write.ledger.withdraw_consent(write.context, case, consent, **write.conditions)
        return write.ack(result, consent_id=consent)

    return await write.run(write.require(A.withdraw_consent, case, consent_id=consent), run)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}/consents", tags=["consents"])
    add_write(router, "", record_consent, status_code=201)
    add_write(router, "/{consent}/withdrawal", withdraw_consent)
    return router
