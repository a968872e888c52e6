"""Decision inputs: the frozen facts-about-facts a policy decision is a pure function of.

The ledger builds these from its events; the policy functions never see a fact body. Every
time is timezone-aware (RFC 3339 UTC on the wire); a naive time is refused with
``PolicyError`` because comparing it would silently depend on the machine's clock zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from policies._errors import PolicyError
from policies._identity import (
    CaseId,
    ConsentId,
    FactId,
    PartnerId,
    PurposeId,
    SubjectId,
    UserId,
)


class Role(StrEnum):
    """The roles of docs/domain.md; the covenant says which partners may hold each."""

    melder = "melder"
    procesregisseur = "procesregisseur"
    casusregisseur = "casusregisseur"
    deelnemer = "deelnemer"
    administratief_medewerker = "administratief_medewerker"
    privacy_officer = "privacy_officer"
    client = "client"


#: Roles that never see fact content: the clerk records meetings, the privacy officer (FG)
#: supervises (metadata only, AVG art. 38(6): no conflicting tasks), the client is not yet
#: served by the ledger.
NO_CONTENT_ROLES = frozenset({Role.administratief_medewerker, Role.privacy_officer, Role.client})

#: The roles a case names one user for (``PUT /v1/cases/{case}/<role>``): who directs it.
DIRECTOR_ROLES = frozenset({Role.procesregisseur, Role.casusregisseur})


class SharingLevel(StrEnum):
    """Who besides the owner may read a fact (docs/domain.md "Need to know")."""

    owner = "owner"
    regie = "regie"
    participants = "participants"
    partners = "partners"


class CaseStatus(StrEnum):
    """Case life cycle: triage -> rejected | active -> closed; erased at the end of retention."""

    triage = "triage"
    rejected = "rejected"
    active = "active"
    closed = "closed"
    erased = "erased"


def require_aware(what: str, value: datetime | None) -> None:
    """Refuse naive datetimes: every instant in a decision must carry its offset."""
    if value is not None and value.utcoffset() is None:
        raise PolicyError(f"{what} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Sharing:
    """The owner's sharing choice; ``partners`` names readers only for level ``partners``."""

    level: SharingLevel
    partners: frozenset[PartnerId] = frozenset()

    def __post_init__(self) -> None:
        if self.partners and self.level is not SharingLevel.partners:
            raise PolicyError(f"sharing level {self.level} names no partners")

    def describe(self) -> str:
        """Short form for decision bases, e.g. ``partners:[ggz,reclassering]``."""
        if self.level is SharingLevel.partners:
            return f"partners:[{','.join(sorted(self.partners))}]"
        return str(self.level)


@dataclass(frozen=True, slots=True)
class FactMetadata:
    """Everything about a fact except its (sealed) body."""

    fact_id: FactId
    case_id: CaseId
    owner: PartnerId
    kind: str
    categories: frozenset[str]
    subjects: frozenset[SubjectId]
    purpose: PurposeId
    legal_basis: str
    sharing: Sharing
    recorded_at: datetime
    erased: bool = False
    retracted: bool = False

    def __post_init__(self) -> None:
        require_aware("recorded_at", self.recorded_at)


@dataclass(frozen=True, slots=True)
class Participation:
    """A partner's membership of a case, from invitation until removal (if any)."""

    partner: PartnerId
    invited_at: datetime
    removed_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("invited_at", self.invited_at)
        require_aware("removed_at", self.removed_at)

    def is_active(self, now: datetime) -> bool:
        return self.invited_at <= now and (self.removed_at is None or now < self.removed_at)


@dataclass(frozen=True, slots=True)
class ConsentState:
    """A subject's consent: for which purpose, categories and recipients, and until when."""

    consent_id: ConsentId
    subject: SubjectId
    purpose: PurposeId
    categories: frozenset[str]
    recipients: frozenset[PartnerId]
    given_at: datetime
    withdrawn_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("given_at", self.given_at)
        require_aware("withdrawn_at", self.withdrawn_at)

    def is_in_force(self, now: datetime) -> bool:
        # AVG art. 7(3): a withdrawal takes effect at once, for the future.
        return self.given_at <= now and (self.withdrawn_at is None or now < self.withdrawn_at)


@dataclass(frozen=True, slots=True)
class LegalHold:
    """Erasure suspended for a recorded reason (complaint, litigation, open rights request)."""

    hold_id: str
    reason_code: str
    placed_at: datetime
    lifted_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("placed_at", self.placed_at)
        require_aware("lifted_at", self.lifted_at)


@dataclass(frozen=True, slots=True)
class NotificationDecision:
    """Whether the person was informed, or why not yet and until when (docs/domain.md step 1)."""

    decision: str  # "inform" or "defer"
    review_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("review_at", self.review_at)

    @property
    def deferred(self) -> bool:
        """A deferral stays in force until a new decision; a past review date makes it
        overdue for review, not lifted."""
        return self.decision == "defer"


@dataclass(frozen=True, slots=True)
class Director:
    """The user named to direct a case in one role, the partner it works for, and since when.

    Naming again replaces the earlier one at once (the ledger keeps the history as events).
    """

    user: UserId
    partner: PartnerId
    named_at: datetime

    def __post_init__(self) -> None:
        require_aware("named_at", self.named_at)

    def is_reader(self, user: str, partner: str) -> bool:
        """Is this the user (at this partner) the case named? Acting on behalf of the named
        user does not make a colleague the director: the reader must be the named user."""
        return self.user == user and self.partner == partner


@dataclass(frozen=True, slots=True)
class CaseState:
    """The case as far as policy needs it.

    ``decided_at`` is the triage decision time (required once the case left triage),
    ``closed_at`` the closing time (required when closed), ``erased_at`` the erasure time of an
    erased case (optional; without it the access-log retention of an erased case is unknown).
    ``participants`` includes the partnership office ``zvh`` and, for a case a procesregisseur
    opened, the referring partner. ``referrer`` is the partner whose melder referred the case
    (``POST /v1/referrals``); that partner takes part only once it is invited.
    ``casusregisseur`` and ``procesregisseur`` are the users the case names to direct it.
    """

    case_id: CaseId
    status: CaseStatus
    purpose: PurposeId
    opened_at: datetime
    decided_at: datetime | None = None
    closed_at: datetime | None = None
    participants: Mapping[PartnerId, Participation] = field(default_factory=dict)
    consents: tuple[ConsentState, ...] = ()
    legal_holds: tuple[LegalHold, ...] = ()
    erased_at: datetime | None = None
    legal_basis: str = ""
    notification: NotificationDecision | None = None
    referrer: PartnerId | None = None
    casusregisseur: Director | None = None
    procesregisseur: Director | None = None

    def __post_init__(self) -> None:
        for name in ("opened_at", "decided_at", "closed_at", "erased_at"):
            require_aware(name, getattr(self, name))
        decided = self.status in (CaseStatus.rejected, CaseStatus.active, CaseStatus.closed)
        if decided and self.decided_at is None:
            raise PolicyError(f"case {self.case_id}: status {self.status} needs decided_at")
        if self.status is CaseStatus.closed and self.closed_at is None:
            raise PolicyError(f"case {self.case_id}: status closed needs closed_at")
        # A read-only view, so a decision can never be changed by its caller afterwards.
        object.__setattr__(self, "participants", MappingProxyType(dict(self.participants)))

    def is_active_participant(self, partner: PartnerId, now: datetime) -> bool:
        participation = self.participants.get(partner)
        return participation is not None and participation.is_active(now)


@dataclass(frozen=True, slots=True)
class EmergencyRequest:
    """Break the glass: a grant's free-text reason (logged, never echoed in a basis) and its
    time box, ``started_at <= now < ends_at`` (the end comes from the covenant when the grant
    is made: ``policies.emergency_window``)."""

    reason: str
    started_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        require_aware("started_at", self.started_at)
        require_aware("ends_at", self.ends_at)
        if self.ends_at <= self.started_at:
            raise PolicyError("an emergency grant must end after it starts")

    def is_open(self, now: datetime) -> bool:
        return self.started_at <= now < self.ends_at
