"""The shared starting point of a case, read through the one pipeline:

    the starting-point decision (``policies.decide_starting_point_read``)
    -> the current pictures and goal (``policies.current_starting_point``)
    -> a fact decision per current fact -> access-log append (case entry, fact entries)
    -> open the bodies the decisions admit -> the view

A refused case looks unknown (``ReadDeniedError``, 404), except a content role on a case it
may see (the clerk): ``ReadRefusedError`` (403, role_excludes_facts), logged as refused.
Break-the-glass reads go through the case view, not here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from policies import (
    AccessDecision,
    Disclosure,
    FactMetadata,
    SharingLevel,
    StartingPoint,
    current_starting_point,
    decide_case_read,
    decide_fact_read,
    decide_starting_point_read,
    withheld_reason,
)
from projections._access_entries import fact_entries
from projections._read_records import FactView, ReadDeniedError, ReadRefusedError, ReadRequest
from projections._store import CaseViews
from projections._view_builders import fact_view

if TYPE_CHECKING:
    from projections._views import ReadService


@dataclass(frozen=True, slots=True)
class StartingPointView:
    """What the reader may see of the current starting point; ``withheld`` counts current
    pictures and goal it may not see (superseded, erased and retracted ones are not current)."""

    case_id: str
    version: int
    pictures: tuple[FactView, ...]
    goal: FactView | None
    withheld: int
    withheld_by_reason: dict[str, int] = field(default_factory=dict)


def in_recording_order(
    views: CaseViews, case_id: str, facts: Sequence[FactMetadata]
) -> list[FactMetadata]:
    """``facts`` with the starting-point ones in the order the case recorded them (the case
    version of each recording; recording times can tie)."""
    if not any(f.kind == StartingPoint.KIND for f in facts):
        return list(facts)
    order = {
        str(fid): n
        for n, (fid,) in enumerate(
            views.fetch(
                "SELECT fact_id FROM cl_facts WHERE case_id = ? AND kind = ?"
                " ORDER BY recorded_version",
                (case_id, StartingPoint.KIND),
            )
        )
    }
    return sorted(facts, key=lambda f: order.get(f.fact_id, -1))


def starting_point_refs(
    reads: ReadService,
    case_id: str,
    facts: Sequence[FactMetadata],
    decisions: dict[str, AccessDecision],
) -> dict[str, Any]:
    """The case view's ``starting_point``: ids of the current pictures and goal the reader
    was admitted to (``decisions`` by fact id; their content is in the view's facts)."""
    current = current_starting_point(
        reads.covenant, in_recording_order(reads.views, case_id, facts)
    )
    shown = [f for f in current.facts if decisions[f.fact_id].allowed]
    goal = current.goal
    return {
        "pictures": [
            {"owner": f.owner, "fact_id": f.fact_id} for f in shown if f is not current.goal
        ],
        "goal": {"fact_id": goal.fact_id} if goal is not None and goal in shown else None,
    }


def read_starting_point(
    reads: ReadService, request: ReadRequest, case_id: str
) -> StartingPointView:
    """The current starting point as ``request``'s reader may see it (logged before reveal)."""
    covenant, principal, purpose = reads.covenant, request.principal, request.purpose
    now = reads.clock()
    snapshot = reads.snapshot(case_id)
    case_read = decide_case_read(covenant, principal, purpose, snapshot.state, now)
    decision = decide_starting_point_read(principal, case_read)
    if not decision.allowed:
        reads.log_case_read(request, now, case_id, decision)
        if case_read.allowed:  # the case is visible to the reader; its content is not
            raise ReadRefusedError(decision)
        raise ReadDeniedError("case not found")
    facts = reads.fact_candidates(case_id, version=snapshot.version)
    current = current_starting_point(covenant, in_recording_order(reads.views, case_id, facts))
    decisions = [
        (meta, decide_fact_read(covenant, principal, purpose, None, meta, snapshot.state, now))
        for meta in current.facts
    ]
    entries = [reads.case_entry(request, case_id, decision)]
    entries += fact_entries(request, case_id, decisions, covenant, reads.access_log.pseudonym, None)
    reads.access_log.append(entries, now=now)  # log before reveal; raises -> no data
    content_ids = [
        meta.fact_id for meta, d in decisions if d.allowed and d.disclosure is Disclosure.content
    ]
    bodies = reads.open_fact_bodies(case_id, content_ids, purpose)
    shown = {meta.fact_id: fact_view(meta, d, bodies) for meta, d in decisions if d.allowed}
    withheld = Counter(
        str(withheld_reason(d, owner_level=meta.sharing.level is SharingLevel.owner))
        for meta, d in decisions
        if not d.allowed
    )
    goal = current.goal
    return StartingPointView(
        case_id=case_id,
        version=snapshot.version,
        pictures=tuple(shown[p.fact_id] for p in current.pictures if p.fact_id in shown),
        goal=shown.get(goal.fact_id) if goal is not None else None,
        withheld=sum(withheld.values()),
        withheld_by_reason=dict(sorted(withheld.items())),
    )
