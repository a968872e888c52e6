"""Authorisation of every write, in one place, decided by ``policies``.

The ledger's aggregate enforces participation and ownership, not roles: so before any command
the API asks ``decide_write`` (roles, case status, participation, ownership, the fact's
terms). Changing a case also needs seeing it for the declared purpose (``decide_case_read``),
except where the covenant keeps a partner's control over its own contribution after it left
(retraction, consent withdrawal) and for erasure. Decision inputs come from the read side
(projections); a refusal answers 404 when the caller may not see the case at all, exactly
like an unknown case.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from api._deps import Caller
from api._problems import FORBIDDEN, ProblemError, from_denial, not_found
from api.bootstrap import Services
from ledger import (
    ActionNotFoundError,
    CaseNotFoundError,
    ConsentNotFoundError,
    ErasureRequest,
    LedgerError,
)
from policies import (
    AccessDecision,
    CaseId,
    CaseState,
    Covenant,
    ErasureGround,
    ErasureRuling,
    ErasureScope,
    FactId,
    FactMetadata,
    PartnerId,
    PurposeId,
    Sharing,
    SharingLevel,
    SubjectId,
    UserId,
    WriteAction,
    decide_case_read,
    decide_direction,
    decide_erasure_confirmation,
    decide_erasure_request,
    decide_referral,
    decide_supervision,
    decide_write,
    required_roles,
)

A = WriteAction
#: Writes that keep working without seeing the case (AVG art. 7(3), 17; docs/domain.md owners).
_NOT_GATED = frozenset({A.open_case, A.retract_fact, A.withdraw_consent})
#: Writes whose grant on a lagging projection is safe. Case status only moves forward
#: (triage -> active -> closed) and a lagging view shows an earlier one; every other input of
#: the grant that can change (participation, status open for facts, the subjects) is checked
#: again by the aggregate in the same transaction. A refusal is always re-decided on fresh state.
_STALE_SAFE = frozenset({A.record_fact})
#: How long a lagging case state is reused for those grants (it may lag anyway), and how
#: many cases are remembered.
STALE_STATE_SECONDS = 1.0
_STALE_STATE_CASES = 1024


@dataclass(frozen=True, slots=True)
class Permit:
    """What an allowed write was decided on."""

    case: CaseState | None
    fact: FactMetadata | None
    now: datetime


class Guard:
    """``require`` returns a Permit or raises the problem the refusal maps to."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._stale: dict[str, tuple[float, CaseState | None]] = {}

    @property
    def covenant(self) -> Covenant:
        """The covenant in force (a reload swaps it on the services)."""
        return self.services.covenant

    def require(
        self,
        caller: Caller,
        action: WriteAction,
        case_id: str | None = None,
        *,
        fact: FactMetadata | None = None,
        fact_id: str | None = None,
        action_id: str | None = None,
        consent_id: str | None = None,
        case_purpose: str | None = None,
        fresh: bool = False,
    ) -> Permit:
        """``case_purpose``: for ``open_case``, the purpose the new case is for. ``fresh``:
        decide on the current projection only (never on a remembered, lagging state)."""
        now = self.services.clock()
        principal = caller.principal
        if case_id is None:
            # Not a case resource (yet): the role is checked before anything is looked up.
            first = decide_write(
                self.covenant, principal, action, None, None, now, case_purpose=case_purpose
            )
            if not first.allowed:
                raise from_denial(first, visible=True, required_roles=required_roles(action))
            return Permit(None, None, now)
        if fresh:
            self._stale.pop(case_id, None)
        elif action in _STALE_SAFE:
            # A possibly stale view may only ever grant what the aggregate re-checks anyway.
            stale = self._stale_state(case_id)
            if stale is not None:
                decision, _ = self._decide(caller, action, stale, fact, None, now)
                if decision.allowed:
                    return Permit(stale, fact, now)
        case = self.case_state(case_id)
        if fact_id is not None:
            fact = self.fact_metadata(case_id, fact_id)
        if consent_id is not None:
            fact = self.consent_record(case_id, consent_id)
        assignee = self.action_assignee(case_id, action_id) if action_id else None
        decision, sight = self._decide(caller, action, case, fact, assignee, now)
        if not decision.allowed:
            visible = (sight or self._sight(caller, case, now)).allowed
            raise from_denial(decision, visible=visible, required_roles=required_roles(action))
        return Permit(case, fact, now)

    def require_direction(self, caller: Caller, case_id: str, role: str, org: str) -> Permit:
        """Naming who directs the case: ``policies.decide_direction``, then the sight of the
        case for the declared purpose (404 when the caller may not see it at all)."""
        now = self.services.clock()
        case = self.case_state(case_id)
        named = PartnerId(org)
        decision = decide_direction(self.covenant, caller.principal, role, named, case, now)
        sight = self._sight(caller, case, now)
        if decision.allowed and not sight.allowed:
            decision = sight
        if not decision.allowed:
            raise from_denial(decision, visible=sight.allowed, required_roles=("procesregisseur",))
        return Permit(case, None, now)

    def require_referral(self, caller: Caller, case_purpose: str, fact: FactMetadata) -> Permit:
        """A melder's referral (no case yet): ``policies.decide_referral``."""
        now = self.services.clock()
        decision = decide_referral(self.covenant, caller.principal, case_purpose, fact, now)
        if not decision.allowed:
            raise from_denial(decision, visible=True, required_roles=("melder",))
        return Permit(None, fact, now)

    def require_erasure(
        self,
        caller: Caller,
        scope: ErasureScope,
        ground: ErasureGround,
        *,
        case_id: str | None = None,
        owner: str | None = None,
    ) -> ErasureRuling:
        """``policies.decide_erasure_request``; the ruling says whether four eyes are needed.

        The role is checked before the case is looked up, so only a privacy officer learns
        whether a case exists (an unknown case is 404 for them, as for everyone).
        """
        now = self.services.clock()
        officer = decide_supervision(self.covenant, caller.principal, caller.purpose)
        if not officer.allowed:
            raise from_denial(officer, visible=True)
        case = self.case_state(case_id) if case_id is not None else None
        ruling = decide_erasure_request(
            self.covenant,
            caller.principal,
            scope,
            ground,
            now,
            case=case,
            owner=PartnerId(owner) if owner is not None else None,
        )
        if not ruling.decision.allowed:
            raise from_denial(ruling.decision, visible=True)
        return ruling

    def require_confirmation(self, caller: Caller, request: ErasureRequest) -> None:
        """``policies.decide_erasure_confirmation``: another privacy officer, in time."""
        assert request.requested_at is not None  # set by the request's first event
        decision = decide_erasure_confirmation(
            self.covenant,
            caller.principal,
            UserId(request.requested_by),
            request.requested_at,
            self.services.clock(),
            confirmed=request.confirmed_at is not None,
        )
        if not decision.allowed:
            raise from_denial(decision, visible=True)

    def _decide(
        self,
        caller: Caller,
        action: WriteAction,
        case: CaseState,
        fact: FactMetadata | None,
        assignee: PartnerId | None,
        now: datetime,
    ) -> tuple[AccessDecision, AccessDecision | None]:
        """decide_write, then (unless ungated) the sight of the case for the purpose."""
        decision = decide_write(
            self.covenant, caller.principal, action, case, fact, now, action_assignee=assignee
        )
        sight: AccessDecision | None = None
        if decision.allowed and action not in _NOT_GATED:
            sight = self._sight(caller, case, now)
            if not sight.allowed:
                decision = sight
        return decision, sight

    def decides_from_memory(self, action: WriteAction, case_id: str) -> bool:
        """True when a grant of ``action`` on this case can be decided without reading the
        projections (a recent enough case state is at hand): safe to run on the event loop."""
        return action in _STALE_SAFE and self._recent(case_id, time.monotonic()) is not None

    def _recent(self, case_id: str, now: float) -> tuple[float, CaseState | None] | None:
        """The remembered (time, state) of this case if younger than ``STALE_STATE_SECONDS``."""
        cached = self._stale.get(case_id)
        return cached if cached is not None and now - cached[0] < STALE_STATE_SECONDS else None

    def _stale_state(self, case_id: str) -> CaseState | None:
        """The projected state, reused for ``STALE_STATE_SECONDS`` (grants that tolerate lag)."""
        now = time.monotonic()
        cached = self._recent(case_id, now)
        if cached is not None:
            return cached[1]
        try:
            state: CaseState | None = self.services.reads.snapshot(case_id, catch_up=False).state
        except CaseNotFoundError:
            state = None
        if len(self._stale) >= _STALE_STATE_CASES:
            self._stale.clear()
        self._stale[case_id] = (now, state)
        return state

    def require_supervision(self, caller: Caller) -> AccessDecision:
        """Reading the access log or erasure records: ``policies.decide_supervision``."""
        decision = decide_supervision(self.covenant, caller.principal, caller.purpose)
        if not decision.allowed:
            raise ProblemError(
                FORBIDDEN,
                detail=decision.reason.description,
                extra={"reason": str(decision.reason)},
            )
        return decision

    def _sight(self, caller: Caller, case: CaseState, now: datetime) -> AccessDecision:
        return decide_case_read(self.covenant, caller.principal, caller.purpose, case, now)

    # -- decision inputs from the read side -----------------------------------------------

    def case_state(self, case_id: str) -> CaseState:
        """The case as the projections know it, no older than the ledger's current version
        of this case. Catching up the whole projection (under its lock) is needed only when
        this case's rows lag behind; the aggregate's version answers that cheaply."""
        current = self.services.ledger.get_case(case_id).version  # CaseNotFoundError
        reads = self.services.reads
        try:
            snapshot = reads.snapshot(case_id, catch_up=False)
        except CaseNotFoundError:
            return reads.snapshot(case_id).state
        if snapshot.version >= current:
            return snapshot.state
        return reads.snapshot(case_id).state

    def fact_metadata(self, case_id: str, fact_id: str) -> FactMetadata:
        for meta in self.services.reads.fact_candidates(case_id):
            if meta.fact_id == fact_id:
                return meta
        raise not_found()

    def consent_record(self, case_id: str, consent_id: str) -> FactMetadata:
        """A consent as the ``consent_given`` fact its recording partner owns."""
        try:
            consent = self.services.ledger.get_case(case_id).consents.get(consent_id)
        except LedgerError:
            raise not_found() from None
        if consent is None:
            raise not_found() from ConsentNotFoundError(consent_id)
        return FactMetadata(
            fact_id=FactId(consent_id),
            case_id=CaseId(case_id),
            owner=PartnerId(consent.recorded_by),
            kind="consent_given",
            categories=frozenset(consent.categories),
            subjects=frozenset({SubjectId(consent.subject)}),
            purpose=PurposeId(consent.purpose),
            legal_basis="consent",
            sharing=Sharing(SharingLevel.owner),
            recorded_at=consent.given_at,
        )

    def action_assignee(self, case_id: str, action_id: str) -> PartnerId:
        try:
            action = self.services.ledger.get_case(case_id).actions.get(action_id)
        except LedgerError:
            raise not_found() from None
        if action is None:
            raise not_found() from ActionNotFoundError(action_id)
        return PartnerId(action.assignee)


def new_fact(
    caller: Caller,
    case_id: str,
    *,
    kind: str,
    subjects: list[str],
    categories: list[str],
    purpose: str,
    legal_basis: str,
    level: str,
    partners: list[str],
    now: datetime,
) -> FactMetadata:
    """The metadata of a fact about to be recorded (owner: the caller's partner, always)."""
    return FactMetadata(
        fact_id=FactId("(new)"),
        case_id=CaseId(case_id),
        owner=caller.principal.partner,
        kind=kind,
        categories=frozenset(categories),
        subjects=frozenset(SubjectId(s) for s in subjects),
        purpose=PurposeId(purpose),
        legal_basis=legal_basis,
        sharing=Sharing(SharingLevel(level), frozenset(PartnerId(p) for p in partners)),
        recorded_at=now,
    )
