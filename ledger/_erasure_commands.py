"""Erasure: four-eyes requests and the orchestration that carries an erasure out.

An erasure destroys keys (crypto-shredding, ``ledger._erasure``), runs an epoch that makes
the destruction final, and then records what it destroyed on every case it touched. Those
records are sealed under the registry's key, which survives the erasure they describe. The
destruction writes the erasure's plan in its own transaction (``ledger._erasure_plans``), so a
failure before the records commit is finished by a retry (``ledger._erasure_records``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, RecordConflictError

from ledger import _erasure
from ledger._case import Case
from ledger._command_data import ErasureReport, RequestContext
from ledger._erasure import PlanWriter
from ledger._erasure_plans import plan_key
from ledger._erasure_records import ErasureRecords, erasure_call
from ledger._erasure_requests import ErasureRequest
from ledger._errors import (
    CaseStatusError,
    ErasureRequestNotFoundError,
    IdempotencyKeyReusedError,
    SubjectNotFoundError,
)
from ledger._idempotency import record_id


class ErasureCommands(ErasureRecords):
    """Erasure requests and erasures of a fact, subject, case or owner (``CaseLedger``)."""

    def request_erasure(
        self,
        ctx: RequestContext,
        *,
        scope: str,
        ground: str,
        expires_at: datetime,
        case_id: str = "",
        subject_id: str = "",
        fact_id: str = "",
        org: str = "",
        idempotency_key: str | None = None,
    ) -> tuple[ErasureRequest, bool]:
        """Record an erasure that waits for a second privacy officer; destroys nothing.

        Returns the request and whether it was replayed (same ``idempotency_key``).
        """
        partner = ctx.principal.partner
        terms = {
            "scope": scope,
            "ground": ground,
            "case_id": case_id,
            "subject_id": subject_id,
            "fact_id": fact_id,
            "org": org,
        }
        uid = record_id(partner, "erasure_request", idempotency_key) if idempotency_key else None
        if uid is not None:
            earlier = self._find_erasure_request(uid)
            if earlier is not None:
                return _same_request(earlier, terms), True
        request = ErasureRequest._create(
            ErasureRequest.Requested,
            id=uid or uuid.uuid4(),
            requested_by=ctx.principal.user,
            requested_partner=partner,
            on_behalf_of=ctx.principal.on_behalf_of,
            expires_at=expires_at,
            covenant=self.purposes.reference,
            timestamp=self._clock(),
            **terms,
        )
        try:
            self.save(request)
        except (RecordConflictError, IntegrityError):
            earlier = self._find_erasure_request(request.id) if uid is not None else None
            if earlier is None:
                raise
            return _same_request(earlier, terms), True
        return request, False

    def get_erasure_request(self, request_id: str) -> ErasureRequest:
        """The request; ``ErasureRequestNotFoundError`` when there is none with this id."""
        try:
            uid = UUID(hex=request_id)
        except ValueError:
            raise ErasureRequestNotFoundError("erasure request not found") from None
        found = self._find_erasure_request(uid)
        if found is None:
            raise ErasureRequestNotFoundError("erasure request not found")
        return found

    def _find_erasure_request(self, uid: UUID) -> ErasureRequest | None:
        try:
            found: object = self.repository.get(uid)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, ErasureRequest) else None

    def confirm_erasure(self, ctx: RequestContext, request_id: str) -> ErasureReport:
        """Record the second officer's confirmation, then carry the erasure out under the
        request's id. Confirmed first: if carrying out fails, a retry carries it out (from the
        erasure's plan when its keys were already destroyed)."""
        request = self.get_erasure_request(request_id)
        if request.executed_at is not None:
            raise CaseStatusError(
                f"erasure request {request_id} was carried out", code="erasure_already_done"
            )
        if request.confirmed_at is None:
            request.trigger_event(
                ErasureRequest.Confirmed,
                confirmed_by=ctx.principal.user,
                confirmed_partner=ctx.principal.partner,
                on_behalf_of=ctx.principal.on_behalf_of,
                covenant=self.purposes.reference,
                timestamp=self._clock(),
            )
            self.save(request)
        if request.scope == "owner":
            report = self.erase_owner(
                ctx, request.org, ground=request.ground, erasure_id=request_id
            )
        else:
            report = self.erase_case(
                ctx, request.case_id, ground=request.ground, erasure_id=request_id
            )
        request.trigger_event(ErasureRequest.Executed, timestamp=self._clock())
        self.save(request)
        return report

    def erase_fact(
        self,
        ctx: RequestContext,
        case_id: str,
        fact_id: str,
        *,
        ground: str,
        idempotency_key: str | None = None,
    ) -> ErasureReport:
        def destroy(case: Case, plan: PlanWriter) -> None:
            revisions = [r.fact_key_id for r in case.get_fact(fact_id).revisions]
            _erasure.destroy_fact_keys(self.keys, revisions, plan)

        return self._erase_in_case(
            ctx, case_id, "fact", fact_id, ground, idempotency_key, lambda _: [fact_id], destroy
        )

    def erase_subject(
        self,
        ctx: RequestContext,
        case_id: str,
        subject_id: str,
        *,
        ground: str,
        idempotency_key: str | None = None,
    ) -> ErasureReport:
        def facts_of(case: Case) -> list[str]:
            if subject_id not in case.subjects:
                raise SubjectNotFoundError(f"subject {subject_id} not in case {case_id}")
            return [f.fact_id for f in case.facts.values() if subject_id in f.subjects]

        def destroy(_: Case, plan: PlanWriter) -> None:
            _erasure.destroy_subject(self.keys, case_id, subject_id, plan)

        return self._erase_in_case(
            ctx, case_id, "subject", subject_id, ground, idempotency_key, facts_of, destroy
        )

    def erase_case(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        ground: str,
        idempotency_key: str | None = None,
        erasure_id: str | None = None,
    ) -> ErasureReport:
        def destroy(_: Case, plan: PlanWriter) -> None:
            _erasure.destroy_case(self.keys, case_id, plan)

        return self._erase_in_case(
            ctx,
            case_id,
            "case",
            case_id,
            ground,
            idempotency_key,
            lambda case: list(case.facts),
            destroy,
            erasure_id=erasure_id,
        )

    def _erase_in_case(
        self,
        ctx: RequestContext,
        case_id: str,
        scope: str,
        target_id: str,
        ground: str,
        idempotency_key: str | None,
        facts_of: Callable[[Case], list[str]],
        destroy: Callable[[Case, PlanWriter], object],
        *,
        erasure_id: str | None = None,
    ) -> ErasureReport:
        """Erase ``target_id`` of one case: the facts it makes unreadable, then its keys.

        An erasure of this target whose keys are gone but whose record is missing (a failed
        commit) is finished instead: its plan knows what the case no longer shows."""
        request = {"scope": scope, "case_id": case_id, "target_id": target_id, "ground": ground}

        def run() -> ErasureReport:
            plan = self._plans.pending(plan_key(scope, case_id, target_id))
            if plan is None:
                case = self.get_case(case_id)
                plan = self._new_plan(
                    ctx,
                    scope=scope,
                    target_id=target_id,
                    ground=ground,
                    fact_ids={case_id: facts_of(case)},
                    purposes={case_id: case.purpose},
                    idempotency_key=idempotency_key,
                    request=request,
                    erasure_id=erasure_id,
                )
                with self._writer.hold():  # no commit checks the key store meanwhile (SQLite)
                    destroy(case, self._plans.writer(plan))
            return self._finish_erasure(plan)

        return self._idempotent_erasure(ctx, idempotency_key, request, run)

    def erase_owner(
        self,
        ctx: RequestContext,
        owner: str,
        *,
        ground: str,
        idempotency_key: str | None = None,
        erasure_id: str | None = None,
    ) -> ErasureReport:
        request = {"scope": "owner", "owner": owner, "ground": ground}

        def run() -> ErasureReport:
            plan = self._plans.pending(plan_key("owner", "", owner))
            if plan is None:
                facts: dict[str, list[str]] = {}
                purposes: dict[str, str] = {}
                for case_id in self._cases_with_keys_of(owner):
                    case = self.get_case(case_id)
                    facts[case_id] = [f.fact_id for f in case.facts.values() if f.owner == owner]
                    purposes[case_id] = case.purpose
                plan = self._new_plan(
                    ctx,
                    scope="owner",
                    target_id=owner,
                    ground=ground,
                    fact_ids=facts,
                    purposes=purposes,
                    idempotency_key=idempotency_key,
                    request=request,
                    erasure_id=erasure_id,
                )
                with self._writer.hold():  # no commit checks the key store meanwhile (SQLite)
                    _erasure.destroy_owner(self.keys, owner, self._plans.writer(plan))
            return self._finish_erasure(plan)

        return self._idempotent_erasure(ctx, idempotency_key, request, run)

    def _idempotent_erasure(
        self,
        ctx: RequestContext,
        idempotency_key: str | None,
        request: dict[str, str],
        run: Callable[[], ErasureReport],
    ) -> ErasureReport:
        """Run an erasure once per idempotency key: a retry gets the first report back.

        The record is kept under the registry's keys, not the erased scope's, so it stays
        readable after the erasure it describes. Retries in this process wait for the first
        attempt; a retry racing it from another process erases nothing more (the keys are
        gone) but adds a second record of the erasure, and gets its own report. The record
        commits with the (last) case's ``Erased`` event: a failed commit leaves neither, and
        the erasure's plan lets the retry record it once, as it was carried out.
        """
        call = erasure_call(ctx.principal.partner, idempotency_key, request)
        if call is None:
            return run()
        with self._cache.lock(call.record_id):
            earlier = self._idempotency.earlier(call)
            if earlier is not None:
                return ErasureReport.replayed_from(earlier["report"])
            report = run()
            if not self._has_record(call.record_id):
                # The plan finished was another call's (a retry under a new key): this
                # call's record goes alone.
                with contextlib.suppress(RecordConflictError):
                    self.save(self._erasure_record(call, report))  # lost to another's retry
            return report

    def rotate_keys(self, owners: Sequence[str]) -> _erasure.EpochReport:
        """A KEK rotation epoch for these owners (``caseledger keys rotate``)."""
        report = _erasure.rotate_all(self.keys, list(owners))
        self._cache.clear()
        return report

    def _cases_with_keys_of(self, owner: str) -> list[str]:
        with self.keys.store.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT DISTINCT case_id FROM scope_keys WHERE owner = ? AND case_id <> ''",
                (owner,),
            )
        return sorted(str(r[0]) for r in rows)


def _same_request(request: ErasureRequest, terms: dict[str, str]) -> ErasureRequest:
    """The earlier request under an idempotency key, if it asked for the same erasure."""
    earlier = {key: getattr(request, key) for key in terms}
    if earlier != terms:
        raise IdempotencyKeyReusedError("idempotency key was used for another request")
    return request
