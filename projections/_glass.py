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
from policies import Covenant, EmergencyRequest, emergency_for_read
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
    """The emergency grant this read uses, if any (``policies.emergency_for_read`` decides
    between the reader's open grant, its last grant and a new one)."""
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
        return None  # no grant in use and none asked for: the case need not be loaded
    wanted = open_now[:1] or [g for g, _, _ in grants[:1]]
    held = _held_grants(ledger, case_id, wanted)
    open_grant = held.get(open_now[0]) if open_now else None
    last_grant = held.get(wanted[0]) if wanted and not open_now else None
    open_request = _request_of(open_grant) if open_grant is not None else None
    last_request = _request_of(last_grant) if last_grant is not None else None
    chosen = emergency_for_read(
        covenant, request.emergency_reason, now, open_grant=open_request, last_grant=last_request
    )
    if chosen is None:
        return None
    if chosen is open_request and open_grant is not None:
        return Glass(chosen, open_grant.grant_id)
    if chosen is last_request and last_grant is not None:
        return Glass(chosen, last_grant.grant_id)
    return Glass(chosen, None)  # a new grant, recorded only if it opens a fact


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
