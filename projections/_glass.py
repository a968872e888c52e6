"""Break the glass: which emergency grant a read uses, and recording a new one.

A grant is an event of its case, time-boxed by the covenant's emergency rules
(``policies.emergency_window``); ``policies.decide_fact_read`` decides what it opens. This
module only finds the grant a read is under, and records a new grant before anything it
opened is logged or shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger import CaseLedger, EmergencyGrantState, KeyringError, LedgerError, RequestContext
from policies import Covenant, EmergencyRequest, emergency_window
from projections._case_state import EPOCH, as_instant
from projections._read_records import ReadRequest
from projections._store import CaseViews


@dataclass(frozen=True, slots=True)
class Glass:
    """The emergency grant a read uses: recorded already, or to record if it opens a fact."""

    request: EmergencyRequest
    #: None while the grant is only asked for (not yet an event of the case).
    grant_id: str | None


def find_glass(
    views: CaseViews,
    ledger: CaseLedger,
    covenant: Covenant,
    request: ReadRequest,
    case_id: str,
    now: datetime,
) -> Glass | None:
    """The emergency grant this read uses, if any.

    A grant of the reader still open at ``now`` is used, with or without a stated reason
    (the time box runs from the grant, never from the read). Otherwise a stated reason
    asks for a new grant from ``now``, unless it is the reason of the reader's last grant
    in this case: a grant that ended is not renewed with the same words (the reads then
    get ``emergency_expired``).
    """
    grants = [
        (str(grant_id), as_instant(started) or EPOCH, as_instant(ends) or EPOCH)
        for grant_id, started, ends in views.fetch(
            "SELECT grant_id, started_at, ends_at FROM cl_emergency_grants"
            " WHERE case_id = ? AND actor = ? ORDER BY started_at DESC",
            (case_id, request.principal.user),
        )
    ]
    open_now = [g for g, started, ends in grants if started <= now < ends]
    if not open_now and request.emergency_reason is None:
        return None
    wanted = open_now[:1] or [g for g, _, _ in grants[:1]]
    held = _held_grants(ledger, case_id, wanted)
    if open_now and open_now[0] in held:
        grant = held[open_now[0]]
        return Glass(_request_of(grant), grant.grant_id)
    if request.emergency_reason is None:
        return None
    latest = held.get(wanted[0]) if wanted else None
    if latest is not None and latest.reason == request.emergency_reason:
        return Glass(_request_of(latest), latest.grant_id)
    return Glass(emergency_window(covenant, request.emergency_reason, now), None)


def record_grant(
    ledger: CaseLedger, request: ReadRequest, case_id: str, glass: Glass
) -> tuple[Glass, int]:
    """Record the asked-for grant as an event of the case; the glass under it, and the
    case's new version."""
    ctx = RequestContext(request.principal, request.purpose)
    result = ledger.grant_emergency_access(
        ctx,
        case_id,
        reason=glass.request.reason,
        started_at=glass.request.started_at,
        ends_at=glass.request.ends_at,
    )
    grant = ledger.get_case(case_id).emergency_grants[str(result.created_id)]
    return Glass(_request_of(grant), grant.grant_id), result.version


def glass_note(glass: Glass | None) -> str:
    """The stated reason of the grant in use (the log's note; sanitised and capped there)."""
    return glass.request.reason if glass is not None else ""


def grant_view(glass: Glass | None) -> dict[str, str] | None:
    """The recorded grant as the overview names it: its id and the end of its time box."""
    if glass is None or glass.grant_id is None:
        return None
    return {"grant_id": glass.grant_id, "ends_at": glass.request.ends_at.isoformat()}


def _held_grants(
    ledger: CaseLedger, case_id: str, grant_ids: Sequence[str]
) -> dict[str, EmergencyGrantState]:
    """The grants as the case holds them (with their sealed reasons, opened in memory)."""
    if not grant_ids:
        return {}
    try:
        case = ledger.get_case(case_id)
    except KeyringError:
        raise  # the keys are unreachable: fail closed, never answer as if nothing held
    except LedgerError:
        return {}
    return {g: case.emergency_grants[g] for g in grant_ids if g in case.emergency_grants}


def _request_of(grant: EmergencyGrantState) -> EmergencyRequest:
    return EmergencyRequest(grant.reason, grant.started_at, grant.ends_at)
