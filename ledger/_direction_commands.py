"""Commands on who directs a case and how it came in: naming directors, a melder's referral.

Naming a casusregisseur or procesregisseur is one ``Case.DirectorNamed`` event that replaces
the one named before (the reads that depended on it change at once). A referral is a new case
in triage (``Case.Referred``) with its first subject and the ``referral`` fact about it, owned
by the melder's partner and sealed under its keys, stored in one transaction.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from ledger._bodies import encode_body, fact_arguments
from ledger._case import Case
from ledger._command_data import NewFact, RequestContext, WriteResult
from ledger._errors import InvalidCommandError
from ledger._fact_commands import FactCommands
from ledger._idempotency import IdempotentCall

DIRECTOR_ROLES = frozenset({"casusregisseur", "procesregisseur"})


class DirectionCommands(FactCommands):
    """Directors and referrals (mixed into ``CaseLedger``)."""

    def name_director(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        role: str,
        user: str,
        org: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Name ``user`` of partner ``org`` to direct the case as ``role``. A casusregisseur's
        partner must take part; naming the one already named changes nothing."""
        if role not in DIRECTOR_ROLES:
            raise InvalidCommandError("not a directing role")

        def decide(case: Case) -> None:
            case.require_status("triage", "active")
            if role == "casusregisseur":
                case.require_participant(org)
            current = case.directors.get(role)
            if current is None or (current.user, current.org) != (user, org):
                self._pipeline.trigger(case, ctx, Case.DirectorNamed, role=role, user=user, org=org)

        return self._pipeline.run(
            ctx,
            case_id,
            f"name_{role}",
            {"user": user, "org": org},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def refer_case(
        self,
        ctx: RequestContext,
        *,
        purpose: str,
        legal_basis: str,
        phase: int,
        case_role: str,
        referral: NewFact,
        office: str,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """A melder's referral: a case in triage whose only participant is ``office``, its
        first subject (``case_role``) and the ``referral`` fact about that subject.
        ``created_id`` is ``"<subject id>,<fact id>"``."""
        Case.require_phase(phase)
        self._pipeline.sync()
        partner = ctx.principal.partner
        unbound = dataclasses.replace(referral, subjects=()).validated()
        body = encode_body(unbound.body)
        arguments: dict[str, Any] = {
            "purpose": purpose,
            "legal_basis": legal_basis,
            "phase": phase,
            "case_role": case_role,
            # Fingerprinted without the new subject's id: every attempt draws a new one.
            "referral": fact_arguments([("", unbound, body)])[0],
        }
        call = IdempotentCall.of(partner, "refer", idempotency_key, "refer_case", arguments)
        if call is not None:
            replay = self._pipeline.replay(call)
            if replay is not None:
                return replay
        case = Case._create(
            Case.Referred,
            id=uuid.uuid4(),
            **self._pipeline.metadata(ctx),
            purpose=purpose,
            legal_basis=legal_basis,
            phase=phase,
            office=office,
        )
        subject_id, fact_id = uuid.uuid4().hex, uuid.uuid4().hex
        # Keys first: the office's case key seals the case's opening, the referring partner's
        # keys its subject and its referral.
        self.keys.scope_key(office, case.case_id)
        self.keys.scope_key(partner, case.case_id)
        self.keys.scope_key(partner, case.case_id, subject_id)
        self._pipeline.trigger(
            case, ctx, Case.SubjectAdded, subject_id=subject_id, case_role=case_role
        )
        about = dataclasses.replace(unbound, subjects=(subject_id,))
        self._record_on(case, ctx, [(fact_id, about, body)])
        result = WriteResult(case.case_id, case.version, f"{subject_id},{fact_id}")
        return self._save_with_record(case, result, call, record_scope=(partner, case.case_id))
