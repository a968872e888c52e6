"""Meetings (case conferences): plan, reschedule, agenda, attendance, minutes, close; reads.

Who may do what is ``policies.decide_meeting_write`` (roles, the chair for approval); an
agenda item also needs the invite decision on its case (``Guard.require``, as on the invite
route). Reads show each partner only the items of cases it takes part in; minutes text goes
through the read pipeline (logged before it is revealed).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from api._deps import CurrentCaller, ServicesDep
from api._guard import Permit
from api._meeting_responses import CaseMinutes, DueCases, MeetingList, MeetingPublic
from api._meeting_schemas import (
    AgendaItemCreate,
    AttendanceCreate,
    MeetingCancel,
    MeetingClose,
    MeetingCreate,
    MeetingReschedule,
    MinutesCreate,
)
from api._problems import FORBIDDEN, ROLE_REQUIRED, from_denial
from api._responses import WriteAck
from api._schemas import CASE_ID_PATTERN, HEX_ID_PATTERN, DateTimeParam
from api._writes import Write, WriteContext
from api.routes._common import (
    READ_PROBLEMS,
    CasePath,
    add_write,
    problem_responses,
    require_declared,
)
from ledger import WriteResult
from policies import MeetingAction, UserId, WriteAction, decide_meeting_write, meeting_roles
from projections import MeetingReads, MinutesRead

M = MeetingAction
MeetingPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="A meeting id.")]
ItemPath = Annotated[str, Path(pattern=HEX_ID_PATTERN, description="An agenda item id.")]
MinutesPath = Annotated[str, Path(pattern=HEX_ID_PATTERN, description="A minutes id.")]


def _permit(write: WriteContext, action: MeetingAction, chair: str | None = None) -> None:
    """The meeting decision; a refusal is a 403 naming the reason (or the roles needed)."""
    decision = decide_meeting_write(
        write.services.covenant,
        write.caller.principal,
        action,
        chair=UserId(chair) if chair is not None else None,
    )
    if not decision.allowed:
        raise from_denial(decision, visible=True, required_roles=meeting_roles(action))


def _ack(write: WriteContext, result: WriteResult, **fields: Any) -> WriteAck:
    return write.ack(result, meeting_id=result.case_id, **fields)


async def schedule(body: MeetingCreate, write: Write) -> WriteAck:
    """Plan a meeting; the procesregisseur who plans it chairs it."""

    def run(_: None) -> WriteAck:
        result = write.ledger.schedule_meeting(
            write.context,
            scheduled_at=body.scheduled_at,
            place=body.place,
            idempotency_key=write.preconditions.idempotency_key,
        )
        write.response.headers["Location"] = f"/v1/meetings/{result.case_id}"
        return _ack(write, result, status="planned")

    return await write.run(lambda: _permit(write, M.schedule), run)


async def reschedule(meeting: MeetingPath, body: MeetingReschedule, write: Write) -> WriteAck:
    """Convene earlier (or later): an event with the new time."""

    def run(_: None) -> WriteAck:
        result = write.ledger.reschedule_meeting(
            write.context,
            meeting,
            scheduled_at=body.scheduled_at,
            reason=body.reason,
            idempotency_key=write.preconditions.idempotency_key,
        )
        return _ack(write, result)

    return await write.run(lambda: _permit(write, M.reschedule), run)


async def add_item(meeting: MeetingPath, body: AgendaItemCreate, write: Write) -> WriteAck:
    """Put a case on the agenda, inviting the partners it needs (who join the case)."""
    require_declared(write.services.covenant, partner__invited=list(body.invited))

    def authorise() -> Permit:
        _permit(write, M.add_item)
        write.ledger.get_meeting(meeting)  # an unknown meeting is 404 before the case
        return write.guard.require(write.caller, WriteAction.invite_participant, body.case_id)

    def run(_: Permit) -> WriteAck:
        result = write.ledger.add_agenda_item(
            write.context,
            meeting,
            case_id=body.case_id,
            invited=body.invited,
            idempotency_key=write.preconditions.idempotency_key,
        )
        return _ack(write, result, item_id=result.created_id, case_id=body.case_id)

    return await write.run(authorise, run)


async def attendance(
    meeting: MeetingPath, item: ItemPath, body: AttendanceCreate, write: Write
) -> WriteAck:
    """Who was present at an item (the clerk)."""
    require_declared(write.services.covenant, partner__partners=list(body.partners))

    def run(_: None) -> WriteAck:
        result = write.ledger.record_attendance(
            write.context,
            meeting,
            item,
            partners=body.partners,
            users=body.users,
            idempotency_key=write.preconditions.idempotency_key,
        )
        return _ack(write, result, item_id=item)

    return await write.run(lambda: _permit(write, M.record_attendance), run)


async def minutes(
    meeting: MeetingPath, item: ItemPath, body: MinutesCreate, write: Write
) -> WriteAck:
    """The clerk's minutes of an item (a draft until the chair approves it)."""
    if body.sharing is not None:
        require_declared(write.services.covenant, partner__sharing=list(body.sharing))

    def run(_: None) -> WriteAck:
        result = write.ledger.write_minutes(
            write.context,
            meeting,
            item,
            body=body.body,
            subjects=body.subjects,
            sharing_partners=body.sharing,
            minutes_id=body.minutes_id,
            idempotency_key=write.preconditions.idempotency_key,
        )
        return _ack(write, result, item_id=item, minutes_id=result.created_id, status="draft")

    return await write.run(lambda: _permit(write, M.write_minutes), run)


async def approve(
    meeting: MeetingPath, item: ItemPath, minutes: MinutesPath, write: Write
) -> WriteAck:
    """The chair approves the current version: draft -> final."""

    def authorise() -> None:
        _permit(write, M.approve_minutes, chair=write.ledger.get_meeting(meeting).chair)

    def run(_: None) -> WriteAck:
        result = write.ledger.approve_minutes(
            write.context,
            meeting,
            item,
            minutes,
            idempotency_key=write.preconditions.idempotency_key,
        )
        return _ack(write, result, item_id=item, minutes_id=minutes, status="final")

    return await write.run(authorise, run)


async def close(meeting: MeetingPath, body: MeetingClose, write: Write) -> WriteAck:
    """Close the meeting, with the date the partners meet again."""

    def run(_: None) -> WriteAck:
        result = write.ledger.close_meeting(
            write.context,
            meeting,
            next_at=body.next_at,
            idempotency_key=write.preconditions.idempotency_key,
        )
        return _ack(write, result, status="closed")

    return await write.run(lambda: _permit(write, M.close), run)


async def list_meetings(
    caller: CurrentCaller,
    services: ServicesDep,
    start: Annotated[DateTimeParam | None, Query(alias="from")] = None,
    end: Annotated[DateTimeParam | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Meetings in [from, to) with the items the caller may see."""
    reads = MeetingReads(services.reads)
    found = await run_in_threadpool(reads.meetings, caller.read_request, start, end)
    return {"meetings": found}


async def due_cases(caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """The procesregisseur's overview: active cases without a planned next meeting."""
    decision = decide_meeting_write(services.covenant, caller.principal, M.review_due_cases)
    if not decision.allowed:
        raise from_denial(decision, visible=True, required_roles=meeting_roles(M.review_due_cases))
    reads = MeetingReads(services.reads)
    return {"cases": await run_in_threadpool(reads.due_cases, caller.read_request)}


async def cancel(meeting: MeetingPath, body: MeetingCancel, write: Write) -> WriteAck:
    """Call a planned meeting off (its data then follows the covenant's rule for it)."""

    def run(_: None) -> WriteAck:
        result = write.ledger.cancel_meeting(
            write.context,
            meeting,
            reason=body.reason,
            idempotency_key=write.preconditions.idempotency_key,
        )
        return _ack(write, result, status="cancelled")

    return await write.run(lambda: _permit(write, M.cancel), run)


async def get_meeting(
    meeting: MeetingPath, caller: CurrentCaller, services: ServicesDep
) -> dict[str, Any]:
    """One meeting with the items the caller may see (of others: only their number)."""
    reads = MeetingReads(services.reads)
    return await run_in_threadpool(reads.meeting, caller.read_request, meeting)


async def case_minutes(
    case: CasePath, caller: CurrentCaller, services: ServicesDep
) -> dict[str, Any]:
    """The case's minutes the caller may read (logged before they are shown)."""
    reads = MeetingReads(services.reads)
    found = await run_in_threadpool(reads.case_minutes, caller.read_request, case)
    return {"case_id": case, "minutes": [_minutes_public(m) for m in found]}


def _minutes_public(m: MinutesRead) -> dict[str, Any]:
    return {
        "minutes_id": m.minutes_id,
        "meeting_id": m.meeting_id,
        "item_id": m.item_id,
        "version": m.version,
        "status": m.status,
        "subjects": list(m.subjects),
        "sharing": list(m.sharing),
        "written_at": m.written_at,
        "body": m.body,
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["meetings"])
    add_write(router, "/meetings", schedule, status_code=201)
    add_write(router, "/meetings/{meeting}/reschedule", reschedule)
    add_write(router, "/meetings/{meeting}/agenda", add_item, status_code=201)
    add_write(router, "/meetings/{meeting}/agenda/{item}/attendance", attendance)
    add_write(router, "/meetings/{meeting}/agenda/{item}/minutes", minutes, status_code=201)
    add_write(router, "/meetings/{meeting}/agenda/{item}/minutes/{minutes}/approve", approve)
    add_write(router, "/meetings/{meeting}/close", close)
    reads = problem_responses(*READ_PROBLEMS)
    add_write(router, "/meetings/{meeting}/cancel", cancel)
    router.add_api_route(
        "/meetings", list_meetings, methods=["GET"], response_model=MeetingList, responses=reads
    )
    router.add_api_route(
        "/meetings/due-cases",
        due_cases,
        methods=["GET"],
        response_model=DueCases,
        responses=problem_responses(*READ_PROBLEMS, FORBIDDEN, ROLE_REQUIRED),
    )
    router.add_api_route(
        "/meetings/{meeting}",
        get_meeting,
        methods=["GET"],
        response_model=MeetingPublic,
        responses=reads,
    )
    router.add_api_route(
        "/cases/{case}/minutes",
        case_minutes,
        methods=["GET"],
        response_model=CaseMinutes,
        responses=reads,
    )
    return router
