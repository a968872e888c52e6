"""Cases: open, list, the role-filtered view, triage, phase, notification decision, close."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from api._deps import CurrentCaller, ServicesDep
from api._guard import Permit
from api._problems import FORBIDDEN, OPENS_NO_CASES, POLICY, ROLE_REQUIRED, UNAVAILABLE
from api._responses import (
    ActionPublic,
    CaseList,
    CasePublic,
    CaseSummaryPublic,
    FactPublic,
    SharingPublic,
    StartingPointRefs,
    SubjectPublic,
    WriteAck,
)
from api._schemas import (
    CaseCreate,
    CloseCreate,
    DeferCreate,
    NotificationCreate,
    PhaseCreate,
    TriageCreate,
)
from api._writes import Write
from api.routes._common import (
    COMMAND_PROBLEMS,
    READ_PROBLEMS,
    CasePath,
    add_write,
    problem_responses,
    require_declared,
)
from policies import WriteAction
from projections import ActionView, CaseOverview, FactView

A = WriteAction


def open_case(body: CaseCreate, write: Write) -> WriteAck:
    """Open a case in triage (procesregisseur). The referring partner becomes a participant."""
    require_declared(
        write.services.covenant,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        partner__referred_by=body.referred_by,
    )
    write.guard.require(write.caller, A.open_case, case_purpose=body.purpose)
    result = write.ledger.open_case(
        write.context,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        referred_by=body.referred_by,
        phase=body.phase,
        idempotency_key=write.preconditions.idempotency_key,
    )
    write.response.headers["Location"] = f"/v1/cases/{result.case_id}"
    return write.ack(result, case_id=result.case_id, status="triage")


def list_cases(caller: CurrentCaller, services: ServicesDep) -> CaseList:
    """Cases whose process data the caller may see for the declared purpose."""
    summaries = services.reads.list_cases(caller.read_request)
    return CaseList(
        cases=[
            CaseSummaryPublic(
                case_id=s.case_id,
                status=s.status,
                phase=s.phase,
                purpose=s.purpose,
                version=s.version,
            )
            for s in summaries
        ]
    )


def get_case(
    case: CasePath, caller: CurrentCaller, services: ServicesDep, response: Response
) -> CasePublic:
    """The case as the caller may see it: facts opened for the declared purpose, after the
    access log recorded the read; withheld facts are only counted."""
    overview = services.reads.case_overview(caller.read_request, case)
    response.headers["ETag"] = f'"{overview.version}"'
    return case_public(overview)


def case_public(view: CaseOverview) -> CasePublic:
    case = CasePublic(
        case_id=view.case_id,
        status=view.status,
        phase=view.phase,
        purpose=view.purpose,
        participants=list(view.participants),
        subjects=[SubjectPublic(**s) for s in view.subjects],
        facts=[fact_public(f) for f in view.facts],
        withheld=view.withheld,
        actions=[action_public(a) for a in view.actions],
        version=view.version,
        notification=view.notification,
        emergency=view.emergency,
        withheld_by_reason=view.withheld_by_reason,
        emergency_grant=view.emergency_grant,
        direction=view.direction,
        referred_by=view.referred_by,
    )
    if view.starting_point is not None:
        case.starting_point = StartingPointRefs.model_validate(view.starting_point)
    return case


def fact_public(f: FactView) -> FactPublic:
    """A fact as shown; ``body`` only where its content was disclosed and opened."""
    sharing = SharingPublic(level=str(f.sharing["level"]))
    if "partners" in f.sharing:
        sharing.partners = list(f.sharing["partners"])
    fact = FactPublic(
        fact_id=f.fact_id,
        kind=f.kind,
        owner=f.owner,
        subjects=list(f.subjects),
        categories=list(f.categories),
        purpose=f.purpose,
        legal_basis=f.legal_basis,
        sharing=sharing,
        recorded_at=f.recorded_at,
        emergency=f.emergency,
    )
    if f.status is not None:
        fact.status = f.status
    if f.has_body:
        fact.body = f.body
    return fact


def action_public(action: ActionView) -> ActionPublic:
    """An action as shown; ``what`` only where the reader may see it (not metadata views)."""
    return ActionPublic(**{k: v for k, v in asdict(action).items() if v is not None})


async def triage(case: CasePath, body: TriageCreate, write: Write) -> WriteAck:
    """Accept or reject the referral, with a reason (procesregisseur)."""

    def run(_: Permit) -> WriteAck:
        result = write.ledger.triage(
            write.context, case, decision=body.decision, reason=body.reason, **write.conditions
        )
        return write.ack(result, status="active" if body.decision == "accept" else "rejected")

    return await write.run(write.require(A.triage, case), run)


async def change_phase(case: CasePath, body: PhaseCreate, write: Write) -> WriteAck:
    """Escalate or de-escalate (AVE 1-4) with a reason (procesregisseur)."""

    def run(_: Permit) -> WriteAck:
        result = write.ledger.change_phase(
            write.context, case, phase=body.phase, reason=body.reason, **write.conditions
        )
        return write.ack(result, phase=body.phase)

    return await write.run(write.require(A.change_phase, case), run)


async def decide_notification(case: CasePath, body: NotificationCreate, write: Write) -> WriteAck:
    """Inform the subject, or defer with a reason and a review date (procesregisseur)."""

    def run(_: Permit) -> WriteAck:
        result = write.ledger.decide_notification(
            write.context,
            case,
            decision=body.decision,
            reason=body.reason,
            review_at=body.review_at.isoformat() if isinstance(body, DeferCreate) else None,
            **write.conditions,
        )
        return write.ack(result, decision=body.decision)

    return await write.run(write.require(A.decide_notification, case), run)


async def close_case(case: CasePath, write: Write, body: CloseCreate | None = None) -> WriteAck:
    """Close the case (procesregisseur); participants lose access, metadata remains."""

    def run(_: Permit) -> WriteAck:
        reason = body.reason if body else ""
        result = write.ledger.close_case(write.context, case, reason=reason, **write.conditions)
        return write.ack(result, status="closed")

    return await write.run(write.require(A.close_case, case), run)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases", tags=["cases"])
    # No case yet: the role and the purpose are decided, nothing is looked up.
    opening = (FORBIDDEN, ROLE_REQUIRED, POLICY, OPENS_NO_CASES, UNAVAILABLE, *COMMAND_PROBLEMS)
    add_write(router, "", open_case, status_code=201, problems=opening)
    router.add_api_route(
        "", list_cases, methods=["GET"], response_model=CaseList,
        responses=problem_responses(UNAVAILABLE),
    )  # fmt: skip
    router.add_api_route(
        "/{case}", get_case, methods=["GET"], response_model=CasePublic,
        response_model_exclude_unset=True, responses=problem_responses(*READ_PROBLEMS),
    )  # fmt: skip
    add_write(router, "/{case}/triage", triage)
    add_write(router, "/{case}/phase", change_phase)
    add_write(router, "/{case}/notification", decide_notification)
    add_write(router, "/{case}/close", close_case)
    return router
