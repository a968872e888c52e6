"""Commands on what a case records about its subjects: subjects, facts and consents.

A fact is owned by the acting principal's partner and sealed under that partner's keys of
the case (and of the subjects it concerns) before its event is triggered.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from ledger._bodies import PreparedFact, body_context, encode_body, fact_arguments
from ledger._case import Case
from ledger._command_data import NewFact, RequestContext, WriteResult
from ledger._errors import CaseStatusError, InvalidCommandError
from ledger._ledger_base import LedgerBase
from ledger._starting_point_body import check_starting_point_body


class FactCommands(LedgerBase):
    """Subjects, facts and consents (mixed into ``CaseLedger``)."""

    def add_subject(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        case_role: str,
        identity: NewFact | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Add a subject; with ``identity``, also its identifying fact, in one transaction.

        The identity fact is about the new subject only (its ``subjects`` are replaced by the
        new id) and is owned by the caller's partner. ``created_id`` is the subject id, or
        ``"<subject id>,<fact id>"`` with an identity fact.
        """
        subject_id = uuid.uuid4().hex
        arguments: dict[str, Any] = {"case_role": case_role}
        prepared: list[PreparedFact] = []
        if identity is not None:
            unbound = dataclasses.replace(identity, subjects=()).validated()
            body = encode_body(unbound.body)
            # Fingerprinted without the new subject's id: every attempt draws a new one.
            arguments["identity"] = fact_arguments([("", unbound, body)])[0]
            about = dataclasses.replace(unbound, subjects=(subject_id,))
            prepared.append((uuid.uuid4().hex, about, body))

        def decide(case: Case) -> str:
            case.require_participant(ctx.principal.partner)
            case.require_open_for_facts()
            # Create the subject's key before the event sealed with it.
            self.keys.scope_key(ctx.principal.partner, case_id, subject_id)
            self._pipeline.trigger(
                case, ctx, Case.SubjectAdded, subject_id=subject_id, case_role=case_role
            )
            return ",".join([subject_id, *self._record_on(case, ctx, prepared)])

        return self._pipeline.run(
            ctx,
            case_id,
            "add_subject",
            arguments,
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def record_fact(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        kind: str,
        subjects: Sequence[str],
        categories: Sequence[str],
        purpose: str,
        legal_basis: str,
        sharing_level: str,
        sharing_partners: Sequence[str] = (),
        body: Any,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Record one fact owned by the caller's partner; returns its id as ``created_id``."""
        fact = NewFact(
            kind,
            tuple(subjects),
            tuple(categories),
            purpose,
            legal_basis,
            sharing_level,
            tuple(sharing_partners),
            body,
        )
        return self.record_facts(
            ctx,
            case_id,
            [fact],
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def record_facts(
        self,
        ctx: RequestContext,
        case_id: str,
        facts: Sequence[NewFact],
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Record several facts in one transaction (bulk import); ids joined by commas."""
        owner = ctx.principal.partner
        for fact in facts:
            check_starting_point_body(fact.kind, owner, fact.body)
        prepared = [(uuid.uuid4().hex, fact.validated(), encode_body(fact.body)) for fact in facts]
        if not prepared:
            raise InvalidCommandError("no facts to record", code="no_facts")

        def decide(case: Case) -> str:
            case.require_participant(owner)
            case.require_open_for_facts()
            return ",".join(self._record_on(case, ctx, prepared))

        return self._pipeline.run(
            ctx,
            case_id,
            "record_facts",
            {"facts": fact_arguments(prepared)},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def _record_on(
        self, case: Case, ctx: RequestContext, prepared: Sequence[PreparedFact]
    ) -> list[str]:
        """Seal and record prepared facts on ``case`` (owned by the caller's partner)."""
        if not prepared:
            return []
        owner = ctx.principal.partner
        case_id = case.case_id
        for _, fact, _ in prepared:
            case.require_subjects(list(fact.subjects))
        version = case.version
        sealed_bodies = self.keys.seal_bodies(
            owner,
            case_id,
            [
                (fact.subjects, plaintext, body_context(case_id, fact_id, version + n))
                for n, (fact_id, fact, plaintext) in enumerate(prepared, start=1)
            ],
        )
        for (fact_id, fact, _), sealed in zip(prepared, sealed_bodies, strict=True):
            self._pipeline.trigger(
                case,
                ctx,
                Case.FactRecorded,
                fact_id=fact_id,
                kind=fact.kind,
                subjects=list(fact.subjects),
                categories=list(fact.categories),
                purpose=fact.purpose,
                legal_basis=fact.legal_basis,
                sharing_level=fact.sharing_level,
                sharing_partners=list(fact.sharing_partners),
                fact_key_id=sealed.fact_key_id,
                sealed_body=sealed.blob,
            )
        return [fact_id for fact_id, _, _ in prepared]

    def correct_fact(
        self,
        ctx: RequestContext,
        case_id: str,
        fact_id: str,
        *,
        body: Any,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        owner = ctx.principal.partner
        plaintext = encode_body(body)

        def decide(case: Case) -> None:
            case.require_open_for_facts()
            fact = case.require_owned_fact(fact_id, owner)
            case.require_participant(owner)
            check_starting_point_body(fact.kind, owner, body)
            version = case.version + 1
            sealed = self.keys.seal_body(
                owner,
                case_id,
                list(fact.subjects),
                plaintext,
                body_context(case_id, fact_id, version),
            )
            self._pipeline.trigger(
                case,
                ctx,
                Case.FactCorrected,
                fact_id=fact_id,
                subjects=list(fact.subjects),
                fact_key_id=sealed.fact_key_id,
                sealed_body=sealed.blob,
            )

        return self._pipeline.run(
            ctx,
            case_id,
            "correct_fact",
            {"fact_id": fact_id, "body": plaintext.decode()},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def record_consent(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        subject: str,
        purpose: str,
        categories: Sequence[str],
        recipients: Sequence[str],
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        consent_id = uuid.uuid4().hex

        def decide(case: Case) -> str:
            case.require_participant(ctx.principal.partner)
            case.require_open_for_facts()
            case.require_subjects([subject])
            self._pipeline.trigger(
                case,
                ctx,
                Case.ConsentRecorded,
                consent_id=consent_id,
                subject=subject,
                purpose=purpose,
                categories=sorted(set(categories)),
                recipients=sorted(set(recipients)),
            )
            return consent_id

        return self._pipeline.run(
            ctx,
            case_id,
            "record_consent",
            {
                "subject": subject,
                "purpose": purpose,
                "categories": sorted(categories),
                "recipients": sorted(recipients),
            },
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def withdraw_consent(
        self,
        ctx: RequestContext,
        case_id: str,
        consent_id: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(case: Case) -> None:
            consent = case.require_consent(consent_id)
            if consent.withdrawn_at is not None:
                raise CaseStatusError(
                    f"consent {consent_id} is already withdrawn", code="consent_already_withdrawn"
                )
            self._pipeline.trigger(
                case, ctx, Case.ConsentWithdrawn, consent_id=consent_id, subject=consent.subject
            )

        return self._pipeline.run(
            ctx,
            case_id,
            "withdraw_consent",
            {"consent_id": consent_id},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )
