"""Referral by the melder: ``POST /v1/referrals`` opens a case in triage with its referral.

The case's only participant is the partnership office; the melder's partner owns the
``referral`` fact (sealed under its keys) and, until it is invited, its melders see only that
referral and the triage outcome (``policies.decide_case_overview``).
"""

from __future__ import annotations

from fastapi import APIRouter

from api._guard import new_fact
from api._problems import FORBIDDEN, OPENS_NO_CASES, POLICY, ROLE_REQUIRED, UNAVAILABLE
from api._responses import WriteAck
from api._schemas import ReferralCreate
from api._writes import Write
from api.routes._common import COMMAND_PROBLEMS, add_write, require_declared
from ledger import NewFact

#: The kind of the fact a referral records (``policies.decide_referral`` refuses any other).
REFERRAL_KIND = "referral"


def refer_case(body: ReferralCreate, write: Write) -> WriteAck:
    """Refer a concern (melder): a case in triage, its subject and the referral fact."""
    covenant = write.services.covenant
    partners = body.sharing.partners
    require_declared(
        covenant,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        category__categories=body.categories,
        partner__sharing=partners,
    )
    meta = new_fact(
        write.caller,
        "(new)",
        kind=REFERRAL_KIND,
        subjects=[],
        categories=body.categories,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        level=body.sharing.level,
        partners=partners,
        now=write.services.clock(),
    )
    write.guard.require_referral(write.caller, body.purpose, meta)
    referral = NewFact(
        REFERRAL_KIND,
        (),
        tuple(body.categories),
        body.purpose,
        body.legal_basis,
        body.sharing.level,
        tuple(partners),
        body.body,
    )
    result = write.ledger.refer_case(
        write.context,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        phase=body.phase,
        case_role=body.case_role,
        referral=referral,
        office=covenant.office,
        idempotency_key=write.preconditions.idempotency_key,
    )
    subject_id, _, fact_id = (result.created_id or "").partition(",")
    write.response.headers["Location"] = f"/v1/cases/{result.case_id}"
    return write.ack(
        result, case_id=result.case_id, status="triage", subject_id=subject_id, fact_id=fact_id
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/referrals", tags=["cases"])
    problems = (FORBIDDEN, ROLE_REQUIRED, POLICY, OPENS_NO_CASES, UNAVAILABLE, *COMMAND_PROBLEMS)
    add_write(router, "", refer_case, status_code=201, problems=problems)
    return router
