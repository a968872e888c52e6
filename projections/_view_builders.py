"""The pieces of a case view, built from what policy admitted and the ledger opened.

Nothing here decides: a fact's body appears only if its decision disclosed ``content`` and
the ledger opened it; free text (action descriptions) is left out of a metadata-only view.
"""

from __future__ import annotations

from typing import Any

from policies import (
    AccessDecision,
    CaseState,
    Director,
    Disclosure,
    FactMetadata,
    ReasonCode,
    SharingLevel,
)
from projections._case_state import CaseSnapshot
from projections._read_records import ActionView, FactView
from projections._store import CaseViews


def fact_view(meta: FactMetadata, decision: AccessDecision, bodies: dict[str, Any]) -> FactView:
    """An admitted fact as the reader sees it (its body only if disclosed and opened)."""
    content = decision.disclosure is Disclosure.content and meta.fact_id in bodies
    hidden = decision.reason is ReasonCode.allowed_owner_metadata
    sharing: dict[str, Any] = {"level": str(meta.sharing.level)}
    if meta.sharing.level is SharingLevel.partners:
        sharing["partners"] = sorted(meta.sharing.partners)
    return FactView(
        fact_id=meta.fact_id,
        kind=meta.kind,
        owner=meta.owner,
        subjects=tuple(sorted(meta.subjects)),
        categories=tuple(sorted(meta.categories)),
        purpose=meta.purpose,
        sharing=sharing,
        recorded_at=meta.recorded_at.isoformat(),
        body=bodies.get(meta.fact_id) if content else None,
        has_body=content,
        emergency=decision.emergency,
        reason=str(decision.reason),
        legal_basis=meta.legal_basis,
        status="consent_withdrawn_awaiting_erasure" if hidden else None,
    )


def action_views(
    views: CaseViews, case_id: str, texts: dict[str, str], *, metadata_only: bool = False
) -> list[ActionView]:
    """The action list; ``what`` (free text) is left out of a metadata-only view."""
    return [
        ActionView(
            str(aid),
            str(assignee),
            None if metadata_only else texts.get(str(aid), ""),
            str(due),
            str(status),
        )
        for aid, assignee, due, status in views.fetch(
            "SELECT action_id, assignee, due, status FROM cl_actions WHERE case_id = ?"
            " ORDER BY due, action_id",
            (case_id,),
        )
    ]


def notification_view(snapshot: CaseSnapshot, reason: str | None) -> dict[str, Any] | None:
    """The subject-notification decision with its (opened) reason; None while undecided."""
    if snapshot.notification is None:
        return None
    decision, review_at, decided_by, decided_at = snapshot.notification
    return {
        "decision": decision,
        "review_at": review_at,
        "decided_by": decided_by,
        "decided_at": decided_at,
        "reason": reason,
    }


def direction_view(state: CaseState) -> dict[str, dict[str, str]]:
    """Who directs the case: the user (and partner) named per role, and since when."""
    named: dict[str, Director | None] = {
        "casusregisseur": state.casusregisseur,
        "procesregisseur": state.procesregisseur,
    }
    return {
        role: {"user": d.user, "org": d.partner, "named_at": d.named_at.isoformat()}
        for role, d in named.items()
        if d is not None
    }
