"""The access log for the privacy officer: filtered entries (cursor paging) and verification.

Entries name subjects by their keyed pseudonym; the ``subject`` filter takes a subject id and
is pseudonymised here, so the log never needs the id. Each query is itself logged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api._deps import CurrentCaller, ServicesDep
from api._problems import LOG_DOWN, VALIDATION, ProblemError
from api._responses import AuditEntries, AuditEntryPublic, AuditVerification
from api._schemas import CASE_ID_PATTERN, HEX_ID_PATTERN, DateTimeParam
from api.routes._common import SUPERVISION_PROBLEMS, GuardDep, problem_responses

_ID = r"^[a-z_]{1,64}$"


def list_entries(
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    subject: Annotated[str | None, Query(pattern=HEX_ID_PATTERN)] = None,
    case: Annotated[str | None, Query(pattern=CASE_ID_PATTERN)] = None,
    actor: Annotated[str | None, Query(pattern=r"^[\x21-\x7e]{1,255}$")] = None,
    org: Annotated[str | None, Query(pattern=_ID)] = None,
    purpose: Annotated[str | None, Query(pattern=_ID)] = None,
    decision: Literal["allowed", "denied", "reviewed"] | None = None,
    reason: Annotated[str | None, Query(pattern=_ID)] = None,
    emergency: bool | None = None,
    time_from: Annotated[DateTimeParam | None, Query(alias="from")] = None,
    time_to: Annotated[DateTimeParam | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$", description="`next`")] = None,
    after: Annotated[int | None, Query(ge=0, le=10**18, description="after this seq")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditEntries:
    """Who accessed what, when, why: filter by subject, case, actor, partner, purpose,
    decision, reason, emergency and time; page with ``cursor`` (the previous ``next``)."""
    allowed = guard.require_supervision(caller)
    log = services.access_log
    entries = log.entries(
        after=int(cursor) if cursor is not None else (after or 0),
        limit=limit,
        subject=log.pseudonym(subject) if subject else None,
        case_id=case,
        actor=actor,
        org=org,
        purpose=purpose,
        decision=decision,
        reason=reason,
        emergency=None if emergency is None else ("1" if emergency else "0"),
        time_from=_utc(time_from),
        time_to=_utc(time_to),
    )
    entry = services.reads.case_entry(caller.read_request, case or "", allowed)
    log.append([entry], now=services.clock())
    return AuditEntries(
        entries=[
            AuditEntryPublic(
                seq=e.seq,
                entry_id=e.entry_id,
                trace_id=e.trace_id,
                time=e.time,
                actor=e.actor,
                org=e.org,
                role=e.role,
                on_behalf_of=e.on_behalf_of,
                purpose=e.purpose,
                case_id=e.case_id,
                fact_ids=list(e.fact_ids),
                subject=e.subject,
                decision=e.decision,
                reason=e.reason,
                emergency=e.emergency,
                outcome=e.outcome,
                covenant=e.covenant,
            )
            for e in entries
        ],
        next=str(entries[-1].seq) if len(entries) == limit else None,
    )


def verify(caller: CurrentCaller, guard: GuardDep, services: ServicesDep) -> AuditVerification:
    """Recompute the hash chain and check every signed checkpoint."""
    guard.require_supervision(caller)
    report = services.access_log.verify()
    return AuditVerification(
        ok=report.ok,
        entries=report.entries,
        checkpoints=report.checkpoints,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
    )


def _utc(value: datetime | None) -> str | None:
    """The log's time text for a moment (``DateTimeParam`` has an offset by then)."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC).isoformat()
    except OverflowError:
        raise ProblemError(
            VALIDATION, extra={"errors": [{"field": "from/to", "type": "out_of_range"}]}
        ) from None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/audit", tags=["audit"])
    problems = problem_responses(*SUPERVISION_PROBLEMS, LOG_DOWN)
    router.add_api_route(
        "/entries", list_entries, methods=["GET"], response_model=AuditEntries, responses=problems
    )
    router.add_api_route(
        "/verify", verify, methods=["GET"], response_model=AuditVerification, responses=problems
    )
    return router
