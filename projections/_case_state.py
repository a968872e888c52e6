"""The case as the projections know it: the policy inputs, rebuilt from the view tables.

Metadata only: nothing here opens a sealed body. ``load_snapshot`` gives the ``CaseState``
every decision takes; ``load_fact_candidates`` the ``FactMetadata`` of every fact of a case.
Stored times are ISO 8601 text (SQLite) or timestamps (PostgreSQL); both come back aware.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger import CaseNotFoundError
from policies import (
    CaseId,
    CaseState,
    CaseStatus,
    ConsentId,
    ConsentState,
    Director,
    FactId,
    FactMetadata,
    LegalHold,
    NotificationDecision,
    Participation,
    PartnerId,
    PurposeId,
    Sharing,
    SharingLevel,
    SubjectId,
    UserId,
)
from projections._store import CaseViews

#: Stands in for a time a row must have but lacks (never compared as a real instant).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class CaseSnapshot:
    """What the projections say about one case (metadata only)."""

    state: CaseState
    phase: int
    version: int
    subjects: list[tuple[str, str]] = field(default_factory=list)
    #: (decision, review_at, decided_by, decided_at) as stored, when a decision was taken.
    notification: tuple[Any, ...] | None = None


def load_snapshot(views: CaseViews, case_id: str) -> CaseSnapshot:
    """The case's state from the view tables; CaseNotFoundError if they hold no such case."""
    rows = views.fetch(
        "SELECT status, phase, purpose, opened_at, decided_at, closed_at, erased_at, version,"
        " legal_basis, notification, notification_review_at, notification_decided_by,"
        " notification_decided_at FROM cl_cases WHERE case_id = ?",
        (case_id,),
    )
    if not rows:
        raise CaseNotFoundError("case not found")
    (status, phase, purpose, opened, decided, closed, erased, version, basis, *notification) = rows[
        0
    ]
    participants = {
        PartnerId(org): Participation(
            PartnerId(org), as_instant(invited) or EPOCH, as_instant(removed)
        )
        for org, invited, removed in views.fetch(
            "SELECT org, invited_at, removed_at FROM cl_participants WHERE case_id = ?",
            (case_id,),
        )
    }
    consents = tuple(
        ConsentState(
            ConsentId(cid),
            SubjectId(subject),
            PurposeId(cpurpose),
            frozenset(json.loads(cats)),
            frozenset(json.loads(recipients)),
            as_instant(given) or EPOCH,
            as_instant(withdrawn),
        )
        for cid, subject, cpurpose, cats, recipients, given, withdrawn in views.fetch(
            "SELECT consent_id, subject_id, purpose, categories, recipients, given_at,"
            " withdrawn_at FROM cl_consents WHERE case_id = ?",
            (case_id,),
        )
    )
    holds = tuple(
        LegalHold(str(hid), str(code), as_instant(placed) or EPOCH, as_instant(lifted))
        for hid, code, placed, lifted in views.fetch(
            "SELECT hold_id, reason_code, placed_at, lifted_at FROM cl_holds"
            " WHERE case_id = ? ORDER BY placed_at",
            (case_id,),
        )
    )
    directors = {
        str(role): Director(UserId(user), PartnerId(org), as_instant(named) or EPOCH)
        for role, user, org, named in views.fetch(
            "SELECT role, user_id, org, named_at FROM cl_directors WHERE case_id = ?",
            (case_id,),
        )
    }
    referrer = views.fetch("SELECT org FROM cl_referrals WHERE case_id = ?", (case_id,))
    state = CaseState(
        case_id=CaseId(case_id),
        status=CaseStatus(status),
        purpose=PurposeId(purpose),
        opened_at=as_instant(opened) or EPOCH,
        decided_at=as_instant(decided) or (as_instant(opened) or EPOCH),
        closed_at=as_instant(closed),
        participants=participants,
        consents=consents,
        legal_holds=holds,
        erased_at=as_instant(erased),
        legal_basis=str(basis),
        notification=_notification_decision(notification[0], notification[1]),
        referrer=PartnerId(referrer[0][0]) if referrer else None,
        casusregisseur=directors.get("casusregisseur"),
        procesregisseur=directors.get("procesregisseur"),
    )
    subjects = [
        (str(s), str(r))
        for s, r in views.fetch(
            "SELECT subject_id, case_role FROM cl_subjects WHERE case_id = ?"
            " AND erased_at IS NULL ORDER BY added_at, subject_id",
            (case_id,),
        )
    ]
    return CaseSnapshot(
        state,
        int(phase),
        int(version),
        subjects,
        tuple(notification) if notification[0] is not None else None,
    )


def load_fact_candidates(views: CaseViews, case_id: str) -> list[FactMetadata]:
    """Metadata of every fact of the case, oldest first (policy inputs; never bodies)."""
    rows = views.fetch(
        "SELECT fact_id, owner, kind, categories, subjects, purpose, legal_basis,"
        " sharing_level, sharing_partners, recorded_at, retracted_at, erased_at"
        " FROM cl_facts WHERE case_id = ? ORDER BY recorded_at, fact_id",
        (case_id,),
    )
    facts = []
    for (
        fid,
        owner,
        kind,
        cats,
        subjects,
        purpose,
        basis,
        level,
        partners,
        recorded,
        retracted,
        erased,
    ) in rows:
        facts.append(
            FactMetadata(
                fact_id=FactId(fid),
                case_id=CaseId(case_id),
                owner=PartnerId(owner),
                kind=kind,
                categories=frozenset(json.loads(cats)),
                subjects=frozenset(SubjectId(s) for s in json.loads(subjects)),
                purpose=PurposeId(purpose),
                legal_basis=basis,
                sharing=Sharing(
                    SharingLevel(level),
                    frozenset(PartnerId(p) for p in json.loads(partners))
                    if level == "partners"
                    else frozenset(),
                ),
                recorded_at=as_instant(recorded) or EPOCH,
                erased=erased is not None,
                retracted=retracted is not None,
            )
        )
    return facts


def as_instant(value: Any) -> datetime | None:
    """A stored time as a ``datetime`` (None stays None)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _notification_decision(decision: Any, review_at: Any) -> NotificationDecision | None:
    if decision is None:
        return None
    return NotificationDecision(str(decision), _review_at(review_at))


def _review_at(value: Any) -> datetime | None:
    """A stored review date as an instant (a date: its start, UTC)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
