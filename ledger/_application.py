"""CaseLedger: the write side's application service (commands, erasure, sealed reads).

One method per command. Each loads the case, lets the aggregate check its invariants, seals
any body under the owner's keys, and saves the events (with an idempotency record when the
caller gave a key) in one transaction (``ledger._pipeline``). Optimistic concurrency
surfaces as ``ConcurrencyConflictError``. The owner of a fact is always the acting
principal's partner.

The commands are grouped by resource: the case's lifecycle, participants, actions and
holds here; subjects, facts and consents in ``_fact_commands``; directors and referrals in
``_direction_commands``; notification decisions and emergency access with their reviews in
``_reviewed_commands``; erasure in ``_erasure_commands``. Loading, reading bodies and
persistence are in ``_ledger_base``.
"""

from __future__ import annotations

import uuid

from ledger._case import Case
from ledger._case_state import FactState
from ledger._command_data import RequestContext, WriteResult
from ledger._direction_commands import DirectionCommands
from ledger._errors import CaseStatusError, InvalidCommandError
from ledger._idempotency import IdempotentCall
from ledger._meeting_commands import MeetingCommands
from ledger._reviewed_commands import ReviewedCommands


class CaseLedger(DirectionCommands, ReviewedCommands, MeetingCommands):
    """The ledger of cases; sealed events on the library's own persistence."""

    name = "CaseLedger"

    def open_case(
        self,
        ctx: RequestContext,
        *,
        purpose: str,
        legal_basis: str,
        referred_by: str,
        phase: int,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        Case.require_phase(phase)
        self._pipeline.sync()
        partner = ctx.principal.partner
        arguments = {
            "purpose": purpose,
            "legal_basis": legal_basis,
            "referred_by": referred_by,
            "phase": phase,
        }
        call = IdempotentCall.of(partner, "open", idempotency_key, "open_case", arguments)
        if call is not None:
            replay = self._pipeline.replay(call)
            if replay is not None:
                return replay
        case = Case._create(
            Case.Opened, id=uuid.uuid4(), **self._pipeline.metadata(ctx), **arguments
        )
        # Keys first: commit the case-level scope keys before any event sealed with them.
        self.keys.scope_key(partner, case.case_id)
        result = WriteResult(case.case_id, case.version, case.case_id)
        return self._save_with_record(case, result, call, record_scope=(partner, case.case_id))

    def triage(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        decision: str,
        reason: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        if decision not in {"accept", "reject"}:
            raise InvalidCommandError("decision must be accept or reject", code="invalid_decision")

        def decide(case: Case) -> None:
            case.require_status("triage")
            self._pipeline.trigger(case, ctx, Case.TriageDecided, decision=decision, reason=reason)

        return self._pipeline.run(
            ctx,
            case_id,
            "triage",
            {"decision": decision, "reason": reason},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def invite_participant(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        org: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(case: Case) -> None:
            case.require_status("triage", "active")
            if not case.is_active_participant(org):  # invited twice: nothing changes
                self._pipeline.trigger(case, ctx, Case.ParticipantInvited, org=org)

        return self._pipeline.run(
            ctx,
            case_id,
            "invite",
            {"org": org},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def remove_participant(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        org: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(case: Case) -> None:
            case.require_participant(org)
            self._pipeline.trigger(case, ctx, Case.ParticipantRemoved, org=org)

        return self._pipeline.run(
            ctx,
            case_id,
            "remove",
            {"org": org},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def retract_fact(
        self,
        ctx: RequestContext,
        case_id: str,
        fact_id: str,
        *,
        reason: str = "",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Retract a fact and erase its content (crypto-shred its fact keys)."""
        owner = ctx.principal.partner
        retracted: list[FactState] = []

        def decide(case: Case) -> None:
            fact = case.require_owned_fact(fact_id, owner)
            self._pipeline.trigger(case, ctx, Case.FactRetracted, fact_id=fact_id, reason=reason)
            retracted.append(fact)

        result = self._pipeline.run(
            ctx,
            case_id,
            "retract_fact",
            {"fact_id": fact_id, "reason": reason},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
        if retracted and not result.replayed:
            self.erase_fact(ctx, case_id, fact_id, ground="owner_retraction")
            return WriteResult(case_id, self.get_case(case_id).version)
        return result

    def agree_action(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        assignee: str,
        what: str,
        due: str,
        meeting_id: str = "",
        item_id: str = "",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """``meeting_id`` and ``item_id``: the agenda item of this case the action was agreed
        at (both or neither; the meeting must have that item for this case)."""
        action_id = uuid.uuid4().hex
        if meeting_id or item_id:
            self.require_item_for_case(meeting_id, item_id, case_id)

        def decide(case: Case) -> str:
            case.require_status("active")
            case.require_participant(assignee)
            self._pipeline.trigger(
                case,
                ctx,
                Case.ActionAgreed,
                action_id=action_id,
                assignee=assignee,
                what=what,
                due=due,
                meeting_id=meeting_id,
                item_id=item_id,
            )
            return action_id

        arguments = {"assignee": assignee, "what": what, "due": due}
        if meeting_id:  # fingerprints of actions without a meeting stay as they were
            arguments |= {"meeting_id": meeting_id, "item_id": item_id}
        return self._pipeline.run(
            ctx,
            case_id,
            "agree_action",
            arguments,
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def change_action_status(
        self,
        ctx: RequestContext,
        case_id: str,
        action_id: str,
        *,
        status: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        if status not in {"open", "in_progress", "done", "cancelled"}:
            raise InvalidCommandError("unknown action status", code="unknown_action_status")

        def decide(case: Case) -> None:
            case.require_status("active")
            case.require_action(action_id)
            self._pipeline.trigger(
                case, ctx, Case.ActionStatusChanged, action_id=action_id, status=status
            )

        return self._pipeline.run(
            ctx,
            case_id,
            "action_status",
            {"action_id": action_id, "status": status},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def change_phase(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        phase: int,
        reason: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        Case.require_phase(phase)

        def decide(case: Case) -> None:
            case.require_status("triage", "active")
            if case.phase != phase:  # the phase it already has: nothing changes
                self._pipeline.trigger(case, ctx, Case.PhaseChanged, phase=phase, reason=reason)

        return self._pipeline.run(
            ctx,
            case_id,
            "phase",
            {"phase": phase, "reason": reason},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def close_case(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        reason: str = "",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(case: Case) -> None:
            case.require_status("active", "triage")
            self._pipeline.trigger(case, ctx, Case.Closed, reason=reason)

        return self._pipeline.run(
            ctx,
            case_id,
            "close",
            {"reason": reason},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def place_hold(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        reason_code: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Suspend erasure of the case (complaint, litigation, open rights request)."""
        hold_id = uuid.uuid4().hex

        def decide(case: Case) -> str:
            if case.status == "erased":
                raise CaseStatusError(f"case {case_id} is erased", code="case_erased")
            self._pipeline.trigger(
                case, ctx, Case.HoldPlaced, hold_id=hold_id, reason_code=reason_code
            )
            return hold_id

        return self._pipeline.run(
            ctx,
            case_id,
            "place_hold",
            {"reason_code": reason_code},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def lift_hold(
        self,
        ctx: RequestContext,
        case_id: str,
        hold_id: str,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(case: Case) -> None:
            hold = case.legal_holds.get(hold_id)
            if hold is None or hold.lifted_at is not None:
                raise CaseStatusError(f"no hold {hold_id} in force", code="hold_not_in_force")
            self._pipeline.trigger(case, ctx, Case.HoldLifted, hold_id=hold_id)

        return self._pipeline.run(
            ctx,
            case_id,
            "lift_hold",
            {"hold_id": hold_id},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
