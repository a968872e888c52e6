"""What a Case holds (state records) and what it answers (queries and invariant checks).

The records are in-memory state only: events carry plain fields and build these in their
``apply``, so nothing here is stored and no stored topic names a class of this module. The
Case aggregate (``ledger._case``) inherits :class:`CaseQueries`; its event classes stay there,
since their topics are recorded with every stored event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from ledger._errors import (
    ActionNotFoundError,
    CaseClosedError,
    CaseNotFoundError,
    CaseStatusError,
    ConsentNotFoundError,
    EmergencyGrantNotFoundError,
    FactNotFoundError,
    InvalidCommandError,
    NotOwnerError,
    NotParticipantError,
    SubjectNotFoundError,
)

OPEN_FOR_FACTS = frozenset({"triage", "active"})
PHASES = frozenset({1, 2, 3, 4})


@dataclass(slots=True)
class Participation:
    invited_at: datetime
    removed_at: datetime | None = None


@dataclass(slots=True)
class SubjectState:
    case_role: str
    added_by: str
    added_at: datetime


class FactRevision(NamedTuple):
    """One sealed body of a fact: the original or a correction."""

    case_version: int
    fact_key_id: str
    sealed_body: bytes
    recorded_at: datetime


@dataclass(slots=True)
class FactState:
    """A fact as the case holds it. The current revision is kept inline and earlier ones (after
    corrections) in a tuple, so a cached fact is one object for the garbage collector to walk
    rather than three (a busy case caches thousands, and full collections pause requests)."""

    fact_id: str
    owner: str
    author: str
    kind: str
    categories: tuple[str, ...]
    subjects: tuple[str, ...]
    purpose: str
    legal_basis: str
    sharing_level: str
    sharing_partners: tuple[str, ...]
    recorded_at: datetime
    current_version: int
    current_key_id: str
    current_body: bytes
    current_at: datetime
    earlier: tuple[FactRevision, ...] = ()
    retracted_at: datetime | None = None
    erased: bool = False

    @property
    def current(self) -> FactRevision:
        return FactRevision(
            self.current_version, self.current_key_id, self.current_body, self.current_at
        )

    @property
    def revisions(self) -> tuple[FactRevision, ...]:
        """Every revision, the original first."""
        return (*self.earlier, self.current)

    def revise(self, revision: FactRevision) -> None:
        """Make ``revision`` the current one (a correction)."""
        self.earlier = self.revisions
        (self.current_version, self.current_key_id, self.current_body, self.current_at) = revision


@dataclass(slots=True)
class ActionState:
    assignee: str
    what: str
    due: str
    status: str
    agreed_by: str
    meeting_id: str = ""  # the meeting (and item) it was agreed at, if any
    item_id: str = ""


@dataclass(slots=True)
class ConsentState:
    consent_id: str
    subject: str
    purpose: str
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    recorded_by: str
    given_at: datetime
    withdrawn_at: datetime | None = None


@dataclass(slots=True)
class DirectorState:
    """The user named to direct the case in one role, its partner, who named it and when."""

    user: str
    org: str
    named_by: str
    named_at: datetime


@dataclass(slots=True)
class ReferralState:
    """A case a melder referred (``POST /v1/referrals``): who, for which partner, when."""

    melder: str
    org: str
    referred_at: datetime


@dataclass(slots=True)
class LegalHoldState:
    hold_id: str
    reason_code: str
    placed_at: datetime
    lifted_at: datetime | None = None


@dataclass(slots=True)
class ReviewState:
    """A privacy officer's review of an item: its outcome, remark and whom to inform."""

    outcome: str
    remark: str
    inform: tuple[str, ...]
    reviewed_by: str
    reviewed_at: datetime


@dataclass(slots=True)
class NotificationState:
    decision: str
    reason: str
    review_at: str | None
    decided_by: str
    decided_at: datetime
    decided_version: int = 0
    review: ReviewState | None = None


@dataclass(slots=True)
class EmergencyGrantState:
    """Break the glass: who, why, and the time box the covenant gave the grant."""

    grant_id: str
    reader: str
    partner: str
    roles: tuple[str, ...]
    reason: str
    started_at: datetime
    ends_at: datetime
    review: ReviewState | None = None

    def is_open(self, now: datetime) -> bool:
        return self.started_at <= now < self.ends_at


def erasure_record(erased: Any) -> dict[str, Any]:
    """What a case keeps of one of its ``Case.Erased`` events (metadata only)."""
    return {
        "erasure_id": erased.erasure_id,
        "scope": erased.scope,
        "target_id": erased.target_id,
        "ground": erased.ground,
        "requested_by": erased.actor,
        "on_behalf_of": erased.on_behalf_of,
        "erased_at": erased.timestamp.isoformat(),
        "fact_ids": list(erased.fact_ids),
        "scope_key_ids": list(erased.scope_key_ids),
        "fact_key_ids": list(erased.fact_key_ids),
        "epoch": dict(erased.epoch),
    }


class CaseQueries:
    """Queries and invariant checks over a case's state (mixed into the Case aggregate).

    Every check raises before any event is triggered, so a refused command leaves the
    aggregate untouched.
    """

    status: str
    participants: dict[str, Participation]
    subjects: dict[str, SubjectState]
    facts: dict[str, FactState]
    actions: dict[str, ActionState]
    consents: dict[str, ConsentState]
    emergency_grants: dict[str, EmergencyGrantState]

    if TYPE_CHECKING:  # the aggregate's id (``Aggregate.id``)

        @property
        def id(self) -> UUID: ...

    @property
    def case_id(self) -> str:
        return str(self.id)

    def is_active_participant(self, partner: str) -> bool:
        participation = self.participants.get(partner)
        return participation is not None and participation.removed_at is None

    def open_grant(self, reader: str, now: datetime) -> EmergencyGrantState | None:
        """The reader's emergency grant in force at ``now``, if any."""
        for grant in self.emergency_grants.values():
            if grant.reader == reader and grant.is_open(now):
                return grant
        return None

    def latest_grant(self, reader: str) -> EmergencyGrantState | None:
        """The reader's most recent emergency grant in this case, if any."""
        mine = [g for g in self.emergency_grants.values() if g.reader == reader]
        return max(mine, key=lambda g: g.started_at) if mine else None

    def require_grant(self, grant_id: str) -> EmergencyGrantState:
        grant = self.emergency_grants.get(grant_id)
        if grant is None:
            raise EmergencyGrantNotFoundError(f"grant {grant_id} not in case {self.case_id}")
        return grant

    def get_fact(self, fact_id: str) -> FactState:
        fact = self.facts.get(fact_id)
        if fact is None:
            raise FactNotFoundError(f"fact {fact_id} not in case {self.case_id}")
        return fact

    # -- invariant checks (raise before any event is triggered) ----------------------------

    def require_participant(self, partner: str) -> None:
        if not self.is_active_participant(partner):
            raise NotParticipantError(f"partner {partner} is not a participant of {self.case_id}")

    def require_open_for_facts(self) -> None:
        if self.status not in OPEN_FOR_FACTS:
            raise CaseClosedError(f"case {self.case_id} is {self.status}")

    def require_status(self, *statuses: str) -> None:
        if self.status not in statuses:
            raise CaseStatusError(f"case {self.case_id} is {self.status}")

    def require_subjects(self, subjects: list[str]) -> None:
        for subject in subjects:
            if subject not in self.subjects:
                raise SubjectNotFoundError(f"subject {subject} not in case {self.case_id}")

    def require_owned_fact(self, fact_id: str, partner: str) -> FactState:
        fact = self.get_fact(fact_id)
        if fact.owner != partner:
            raise NotOwnerError(f"fact {fact_id} belongs to another partner")
        if fact.retracted_at is not None or fact.erased:
            raise CaseStatusError(f"fact {fact_id} is retracted or erased")
        return fact

    def require_action(self, action_id: str) -> ActionState:
        action = self.actions.get(action_id)
        if action is None:
            raise ActionNotFoundError(f"action {action_id} not in case {self.case_id}")
        return action

    def require_consent(self, consent_id: str) -> ConsentState:
        consent = self.consents.get(consent_id)
        if consent is None:
            raise ConsentNotFoundError(f"consent {consent_id} not in case {self.case_id}")
        return consent

    @staticmethod
    def require_phase(phase: int) -> None:
        if phase not in PHASES:
            raise InvalidCommandError("AVE phase must be 1, 2, 3 or 4")


def case_uuid(case_id: str) -> UUID:
    """Parse a case id; unknown formats are simply not found."""
    try:
        return UUID(case_id)
    except (ValueError, TypeError, AttributeError):
        raise CaseNotFoundError("case not found") from None
