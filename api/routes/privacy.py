"""The privacy officer's routes: access reports, retention, legal holds, reviews.

All of them are for the privacy officer, reading for a metadata purpose (``accountability``);
an access report opens content only for facts about the subject alone, and is itself logged.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api._deps import CurrentCaller, ServicesDep
from api._problems import LOG_DOWN, NOT_FOUND, UNAVAILABLE, VALIDATION, ProblemError
from api._report_html import render_access_report
from api._schemas import OptionalReason
from api.routes._common import (
    COMMAND_PROBLEMS,
    READ_PROBLEMS,
    SUPERVISION_PROBLEMS,
    CasePath,
    GrantPath,
    GuardDep,
    OfficeDep,
    problem_responses,
)

_ID = r"^[A-Za-z0-9-]{1,64}$"


class RetentionRun(BaseModel):
    now: AwareDatetime | None = Field(
        default=None, description="Evaluate as of this time; not earlier than the clock."
    )
    dry_run: bool = False


class ReviewCreate(BaseModel):
    """A review's outcome; ``not_justified`` needs a remark (sealed with the case)."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["justified", "not_justified"]
    remark: OptionalReason = ""


class HoldCreate(BaseModel):
    case_id: str = Field(pattern=_ID)
    reason_code: str = Field(pattern=r"^(complaint|litigation|rights_request|supervisor)$")


def access_report(
    case: Annotated[str, Field(pattern=_ID)],
    subject: Annotated[str, Field(pattern=_ID)],
    request: Request,
    caller: CurrentCaller,
    guard: GuardDep,
    office: OfficeDep,
) -> Response:
    """AVG art. 15: per owner the subject's facts, purposes, categories, source, retention
    and recipients. ``Accept: text/html`` gives a printable page."""
    guard.require_supervision(caller)
    report = office.access_report(caller.read_request, case, subject)
    if "text/html" in (request.headers.get("accept") or ""):
        return HTMLResponse(render_access_report(report))
    body: dict[str, Any] = asdict(report)
    body["by_owner"] = {o: [f.fact_id for f in fs] for o, fs in report.by_owner().items()}
    return JSONResponse(body)


def run_retention(
    body: RetentionRun,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    office: OfficeDep,
) -> dict[str, Any]:
    """Apply the covenant's retention rules now (or at a later simulated time)."""
    guard.require_supervision(caller)
    now = services.clock()
    if body.now is not None and body.now < now:
        raise ProblemError(VALIDATION, detail="now may not be earlier than the clock.")
    report = office.run_retention(caller.read_request, now=body.now, dry_run=body.dry_run)
    return {
        "now": report.now,
        "dry_run": report.dry_run,
        "erasures": list(report.erasures),
        "holds": list(report.holds),
    }


def place_hold(
    body: HoldCreate, caller: CurrentCaller, guard: GuardDep, services: ServicesDep
) -> dict[str, Any]:
    """Suspend erasure of a case (complaint, litigation, open rights request)."""
    guard.require_supervision(caller)
    result = services.ledger.place_hold(caller.context, body.case_id, reason_code=body.reason_code)
    return {"hold_id": result.created_id, "version": result.version}


def lift_hold(
    case: Annotated[str, Field(pattern=_ID)],
    hold: Annotated[str, Field(pattern=_ID)],
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
) -> dict[str, Any]:
    guard.require_supervision(caller)
    result = services.ledger.lift_hold(caller.context, case, hold)
    return {"version": result.version}


def notification_review(
    caller: CurrentCaller, guard: GuardDep, office: OfficeDep
) -> dict[str, Any]:
    """Cases whose subject was not informed (deferred or undecided), overdue first, with
    each deferral's review once made."""
    guard.require_supervision(caller)
    return {"cases": office.notification_review(caller.read_request)}


def review_notification(
    case: CasePath, body: ReviewCreate, caller: CurrentCaller, guard: GuardDep, office: OfficeDep
) -> dict[str, Any]:
    """The outcome of reviewing the case's deferral; ``not_justified`` lists the owners to
    inform. A second review of the same deferral is 409 ``already_reviewed``."""
    guard.require_supervision(caller)
    return office.review_notification(
        caller.read_request, case, outcome=body.outcome, remark=body.remark
    )


def emergency_review(caller: CurrentCaller, guard: GuardDep, office: OfficeDep) -> dict[str, Any]:
    """Emergency (break-the-glass) grants awaiting review, with what each opened."""
    guard.require_supervision(caller)
    return {"accesses": office.emergency_review(caller.read_request)}


def review_emergency(
    grant: GrantPath, body: ReviewCreate, caller: CurrentCaller, guard: GuardDep, office: OfficeDep
) -> dict[str, Any]:
    """The outcome of reviewing one emergency grant; ``not_justified`` lists the owners whose
    facts it opened, to inform. A second review is 409 ``already_reviewed``."""
    guard.require_supervision(caller)
    return office.review_emergency(
        caller.read_request, grant, outcome=body.outcome, remark=body.remark
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["privacy office"])
    office = (*SUPERVISION_PROBLEMS, LOG_DOWN, UNAVAILABLE)
    holds = problem_responses(*SUPERVISION_PROBLEMS, NOT_FOUND, *COMMAND_PROBLEMS)
    reviews = problem_responses(*office, NOT_FOUND, *COMMAND_PROBLEMS)
    router.add_api_route(
        "/cases/{case}/subjects/{subject}/access-report",
        access_report,
        methods=["GET"],
        responses={
            200: {"content": {"application/json": {}, "text/html": {}}},
            **problem_responses(*SUPERVISION_PROBLEMS, *READ_PROBLEMS),
        },
    )
    router.add_api_route(
        "/retention/run", run_retention, methods=["POST"], responses=problem_responses(*office)
    )
    router.add_api_route("/holds", place_hold, methods=["POST"], status_code=201, responses=holds)
    router.add_api_route(
        "/cases/{case}/holds/{hold}/lift", lift_hold, methods=["POST"], responses=holds
    )
    router.add_api_route(
        "/reviews/notifications",
        notification_review,
        methods=["GET"],
        responses=problem_responses(*office),
    )
    router.add_api_route(
        "/reviews/notifications/{case}", review_notification, methods=["POST"], responses=reviews
    )
    router.add_api_route(
        "/reviews/emergency",
        emergency_review,
        methods=["GET"],
        responses=problem_responses(*office),
    )
    router.add_api_route(
        "/reviews/emergency/{grant}", review_emergency, methods=["POST"], responses=reviews
    )
    return router


__all__ = ["build_router"]
