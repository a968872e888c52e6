"""The Case aggregate: a multi-agency case and the facts its partners contribute.

Events are past-tense classes nested on the aggregate and are never renamed (evolve them with
``class_version`` and upcasting). Every event records who caused it (actor, the actor's
partner, on-behalf-of), for which purpose and when (non-repudiation, NEN 7513). Command
methods check the case's invariants before triggering anything, so a refused command leaves
the aggregate untouched and stores nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from ledger._case_state import (
    ActionState,
    CaseQueries,
    ConsentState,
    DirectorState,
    EmergencyGrantState,
    FactRevision,
    FactState,
    LegalHoldState,
    NotificationState,
    Participation,
    ReferralState,
    ReviewState,
    SubjectState,
    erasure_record,
)

REGISTRY_OWNER = "_ledger"


SealingScope = tuple[str, str, tuple[str, ...]]
"""Whose keys seal an event: (owner, case id, subject ids), for the owner's case-level key
plus its subject keys. A plain tuple (one is made per stored event, and a named tuple costs
ten times as much to make); it is the key under which the sealing keys are cached."""
REGISTRY_SCOPE: SealingScope = (REGISTRY_OWNER, "", ())
"""Events not about one partner's case data: sealed under the ledger's registry key."""


class Case(Aggregate, CaseQueries):
    """A case. State holds metadata and sealed bodies only; bodies open in the read path.

    Its state records, queries and invariant checks are in ``ledger._case_state``.
    """

    def __init__(self) -> None:
        self.status = "triage"
        self.purpose = ""
        self.legal_basis = ""
        self.referred_by = ""
        self.opened_by = ""
        self.phase = 0
        self.opened_at: datetime | None = None
        self.decided_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.participants: dict[str, Participation] = {}
        self.subjects: dict[str, SubjectState] = {}
        self.facts: dict[str, FactState] = {}
        self.actions: dict[str, ActionState] = {}
        self.consents: dict[str, ConsentState] = {}
        self.notification: NotificationState | None = None
        self.redacted_events = 0
        self.erasures: list[dict[str, Any]] = []
        self.legal_holds: dict[str, LegalHoldState] = {}
        self.emergency_grants: dict[str, EmergencyGrantState] = {}
        self.directors: dict[str, DirectorState] = {}  # by role: casusregisseur, ...
        self.referral: ReferralState | None = None

    # -- events ---------------------------------------------------------------------------

    class Event(Aggregate.Event):
        """Common to every case event: who, for whom, why, when (``timestamp``)."""

        actor: str
        partner: str
        on_behalf_of: str | None
        purpose_of_use: str
        # The covenant in force when the event was written: ``<version>:<content hash>``
        # (``""`` on events written before covenants were recorded, or without a covenant).
        covenant: str

        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["covenant"] = ""

        # The field holding the subject id (or ids) the event concerns, if any: the event is
        # then sealed under those subjects' keys as well as the case's.
        subject_field: ClassVar[str | None] = None

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            """``aggregate_id``: this event's case id as text (the mapper has it at hand)."""
            field = self.subject_field
            if field is None:
                return (self.partner, aggregate_id, ())
            value = getattr(self, field)
            return (
                self.partner,
                aggregate_id,
                (value,) if isinstance(value, str) else tuple(value),
            )

    class Opened(Event, Aggregate.Created):
        purpose: str
        legal_basis: str
        referred_by: str
        phase: int

        def apply(self, case: Case) -> None:
            case.purpose = self.purpose
            case.legal_basis = self.legal_basis
            case.referred_by = self.referred_by
            case.opened_by = self.partner
            case.phase = self.phase
            case.opened_at = self.timestamp
            for partner in {self.partner, self.referred_by}:
                case.participants[partner] = Participation(self.timestamp)

    class Referred(Event, Aggregate.Created):
        """A melder referred the case (``POST /v1/referrals``); ``partner`` is the referring
        partner. The partnership office (``office``) is the only participant: the referring
        partner takes part once it is invited. Sealed under the office's case key, so erasing
        the referring partner's contribution leaves the case itself readable."""

        purpose: str
        legal_basis: str
        phase: int
        office: str

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            return (self.office, aggregate_id, ())

        def apply(self, case: Case) -> None:
            case.purpose = self.purpose
            case.legal_basis = self.legal_basis
            case.referred_by = self.partner
            case.opened_by = self.partner
            case.phase = self.phase
            case.opened_at = self.timestamp
            case.participants[self.office] = Participation(self.timestamp)
            case.referral = ReferralState(self.actor, self.partner, self.timestamp)

    class DirectorNamed(Event):
        """A procesregisseur named the user (and its partner) directing the case in ``role``
        (``casusregisseur`` or ``procesregisseur``); it replaces the one named before at once."""

        role: str
        user: str
        org: str

        def apply(self, case: Case) -> None:
            case.directors[self.role] = DirectorState(
                self.user, self.org, self.actor, self.timestamp
            )

    class TriageDecided(Event):
        decision: str
        reason: str

        def apply(self, case: Case) -> None:
            case.status = "active" if self.decision == "accept" else "rejected"
            case.decided_at = self.timestamp

    class SubjectAdded(Event):
        subject_id: str
        case_role: str
        subject_field = "subject_id"

        def apply(self, case: Case) -> None:
            case.subjects[self.subject_id] = SubjectState(
                self.case_role, self.partner, self.timestamp
            )

    class ParticipantInvited(Event):
        org: str

        def apply(self, case: Case) -> None:
            case.participants[self.org] = Participation(self.timestamp)

    class ParticipantRemoved(Event):
        org: str

        def apply(self, case: Case) -> None:
            case.participants[self.org].removed_at = self.timestamp

    class FactRecorded(Event):
        fact_id: str
        kind: str
        subjects: list[str]
        categories: list[str]
        purpose: str
        legal_basis: str
        sharing_level: str
        sharing_partners: list[str]
        fact_key_id: str
        sealed_body: bytes
        subject_field = "subjects"
        presealed_field: ClassVar[str] = "sealed_body"

        def apply(self, case: Case) -> None:
            case.facts[self.fact_id] = FactState(
                fact_id=self.fact_id,
                owner=self.partner,
                author=self.actor,
                kind=self.kind,
                categories=tuple(self.categories),
                subjects=tuple(self.subjects),
                purpose=self.purpose,
                legal_basis=self.legal_basis,
                sharing_level=self.sharing_level,
                sharing_partners=tuple(self.sharing_partners),
                recorded_at=self.timestamp,
                current_version=self.originator_version,
                current_key_id=self.fact_key_id,
                current_body=self.sealed_body,
                current_at=self.timestamp,
            )

    class FactCorrected(Event):
        fact_id: str
        subjects: list[str]
        fact_key_id: str
        sealed_body: bytes
        subject_field = "subjects"
        presealed_field: ClassVar[str] = "sealed_body"

        def apply(self, case: Case) -> None:
            case.facts[self.fact_id].revise(
                FactRevision(
                    self.originator_version, self.fact_key_id, self.sealed_body, self.timestamp
                )
            )

    class FactRetracted(Event):
        fact_id: str
        reason: str

        def apply(self, case: Case) -> None:
            case.facts[self.fact_id].retracted_at = self.timestamp

    class ActionAgreed(Event):
        action_id: str
        assignee: str
        what: str
        due: str
        meeting_id: str  # the agenda item it was agreed at (v3), or ""
        item_id: str

        class_version: ClassVar[int] = 3

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["meeting_id"] = state["item_id"] = ""

        def apply(self, case: Case) -> None:
            case.actions[self.action_id] = ActionState(
                self.assignee,
                self.what,
                self.due,
                "open",
                self.partner,
                self.meeting_id,
                self.item_id,
            )

    class ActionStatusChanged(Event):
        action_id: str
        status: str

        def apply(self, case: Case) -> None:
            case.actions[self.action_id].status = self.status

    class PhaseChanged(Event):
        phase: int
        reason: str

        def apply(self, case: Case) -> None:
            case.phase = self.phase

    class NotificationDecided(Event):
        decision: str
        reason: str
        review_at: str | None

        def apply(self, case: Case) -> None:
            case.notification = NotificationState(
                self.decision,
                self.reason,
                self.review_at,
                self.actor,
                self.timestamp,
                self.originator_version,
            )

    class NotificationReviewed(Event):
        """The privacy officer's review of a deferral (docs/domain.md, SC2); ``decided_version``
        names the decision reviewed, so a new deferral is a new item."""

        decided_version: int
        outcome: str
        remark: str
        inform: list[str]

        def apply(self, case: Case) -> None:
            assert case.notification is not None  # checked by the command
            case.notification.review = ReviewState(
                self.outcome, self.remark, tuple(self.inform), self.actor, self.timestamp
            )

    class EmergencyAccessGranted(Event):
        """Break the glass: the reader, the stated reason, and the grant's time box. Sealed
        under the reader's partner's keys of this case (the reason is free text)."""

        grant_id: str
        roles: list[str]
        reason: str
        started_at: datetime
        ends_at: datetime

        def apply(self, case: Case) -> None:
            case.emergency_grants[self.grant_id] = EmergencyGrantState(
                self.grant_id,
                self.actor,
                self.partner,
                tuple(self.roles),
                self.reason,
                self.started_at,
                self.ends_at,
            )

    class EmergencyAccessReviewed(Event):
        """The privacy officer's review of an emergency access; ``inform``: the owners to
        tell when it was not justified."""

        grant_id: str
        outcome: str
        remark: str
        inform: list[str]

        def apply(self, case: Case) -> None:
            case.emergency_grants[self.grant_id].review = ReviewState(
                self.outcome, self.remark, tuple(self.inform), self.actor, self.timestamp
            )

    class ConsentRecorded(Event):
        consent_id: str
        subject: str
        purpose: str
        categories: list[str]
        recipients: list[str]
        subject_field = "subject"

        def apply(self, case: Case) -> None:
            case.consents[self.consent_id] = ConsentState(
                self.consent_id,
                self.subject,
                self.purpose,
                tuple(self.categories),
                tuple(self.recipients),
                self.partner,
                self.timestamp,
            )

    class ConsentWithdrawn(Event):
        consent_id: str
        subject: str
        subject_field = "subject"

        def apply(self, case: Case) -> None:
            case.consents[self.consent_id].withdrawn_at = self.timestamp

    class Closed(Event):
        reason: str

        def apply(self, case: Case) -> None:
            case.status = "closed"
            case.closed_at = self.timestamp

    class Erased(Event):
        """Metadata only: what scope was erased, on which ground, what was destroyed."""

        erasure_id: str
        scope: str
        target_id: str
        ground: str
        destroyed_scope_keys: int
        destroyed_fact_keys: int
        fact_ids: list[str]
        scope_key_ids: list[str]
        fact_key_ids: list[str]
        epoch: dict[str, Any]
        case_purpose: str  # kept so refusals of an erased case still say "erased"

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            # Sealed under the ledger's registry key, which survives erasure of the case.
            return REGISTRY_SCOPE

        def apply(self, case: Case) -> None:
            for fact_id in self.fact_ids:
                if fact_id in case.facts:
                    case.facts[fact_id].erased = True
            if not case.purpose:
                case.purpose = self.case_purpose
            if self.scope == "case":
                case.status = "erased"
            elif self.scope == "subject":
                case.subjects.pop(self.target_id, None)
            case.erasures.append(erasure_record(self))

    class HoldPlaced(Event):
        """A legal hold suspends erasure (AVG art. 17(3)(e)); the reason is a code."""

        hold_id: str
        reason_code: str

        def apply(self, case: Case) -> None:
            case.legal_holds[self.hold_id] = LegalHoldState(
                self.hold_id, self.reason_code, self.timestamp
            )

    class HoldLifted(Event):
        hold_id: str

        def apply(self, case: Case) -> None:
            case.legal_holds[self.hold_id].lifted_at = self.timestamp

    class Redacted(Event):
        """Stands in for an event whose keys were destroyed: it only advances the version."""

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                aggregate = Case.__new__(Case)
                aggregate.__base_init__(self.originator_id, self.originator_version, _EPOCH)
                Case.__init__(aggregate)
                aggregate.status = "erased"
            else:
                aggregate.version = self.originator_version
            aggregate.redacted_events += 1
            return aggregate


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
