"""Erasure: four-eyes requests and the orchestration that carries an erasure out.

An erasure destroys keys (crypto-shredding, ``ledger._erasure``), runs an epoch that makes
the destruction final, and then records what it destroyed on every case it touched. Those
records are sealed under the registry's key, which survives the erasure they describe.
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
from ledger._case import REGISTRY_OWNER, Case
from ledger._case_state import case_uuid
from ledger._command_data import ErasureReport, RequestContext
from ledger._erasure_requests import ErasureRequest
from ledger._errors import (
    CaseStatusError,
    ConcurrencyConflictError,
    ErasureRequestNotFoundError,
    IdempotencyKeyReusedError,
    SubjectNotFoundError,
)
from ledger._idempotency import IdempotencyRecord, IdempotentCall, record_id
from ledger._ledger_base import LedgerBase

#: An erasure's record is appended to its case however busy the case is: this many tries.
ERASED_RECORD_ATTEMPTS = 20

#: Builds the idempotency record of an erasure from its report (a fresh one at each try).
RecordFor = Callable[[ErasureReport], IdempotencyRecord]


class ErasureCommands(LedgerBase):
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
        request's id. Confirmed first: if carrying out fails, a retry carries it out (the
        erasure primitives may run again; keys already destroyed stay destroyed)."""
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
        def destroy(case: Case) -> _erasure.Destroyed:
            revisions = [r.fact_key_id for r in case.get_fact(fact_id).revisions]
            return _erasure.destroy_fact_keys(self.keys, revisions)

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

        return self._erase_in_case(
            ctx,
            case_id,
            "subject",
            subject_id,
            ground,
            idempotency_key,
            facts_of,
            lambda _: _erasure.destroy_subject(self.keys, case_id, subject_id),
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
        return self._erase_in_case(
            ctx,
            case_id,
            "case",
            case_id,
            ground,
            idempotency_key,
            lambda case: list(case.facts),
            lambda _: _erasure.destroy_case(self.keys, case_id),
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
        destroy: Callable[[Case], _erasure.Destroyed],
        *,
        erasure_id: str | None = None,
    ) -> ErasureReport:
        """Erase ``target_id`` of one case: the facts it makes unreadable, then its keys."""

        def run(record_for: RecordFor | None) -> ErasureReport:
            case = self.get_case(case_id)
            fact_ids = facts_of(case)
            with self._writer.hold():  # no commit checks the key store meanwhile (SQLite)
                destroyed = destroy(case)
            return self._finish_erasure(
                ctx,
                [case_id],
                scope,
                target_id,
                ground,
                destroyed,
                {case_id: fact_ids},
                {case_id: case.purpose},
                erasure_id,
                record_for,
            )

        request = {"scope": scope, "case_id": case_id, "target_id": target_id, "ground": ground}
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
        def run(record_for: RecordFor | None) -> ErasureReport:
            case_ids = self._cases_with_keys_of(owner)
            facts: dict[str, list[str]] = {}
            purposes: dict[str, str] = {}
            for case_id in case_ids:
                case = self.get_case(case_id)
                facts[case_id] = [f.fact_id for f in case.facts.values() if f.owner == owner]
                purposes[case_id] = case.purpose
            with self._writer.hold():  # no commit checks the key store meanwhile (SQLite)
                destroyed = _erasure.destroy_owner(self.keys, owner)
            return self._finish_erasure(
                ctx,
                case_ids,
                "owner",
                owner,
                ground,
                destroyed,
                facts,
                purposes,
                erasure_id,
                record_for,
            )

        request = {"scope": "owner", "owner": owner, "ground": ground}
        return self._idempotent_erasure(ctx, idempotency_key, request, run)

    def _idempotent_erasure(
        self,
        ctx: RequestContext,
        idempotency_key: str | None,
        request: dict[str, str],
        run: Callable[[RecordFor | None], ErasureReport],
    ) -> ErasureReport:
        """Run an erasure once per idempotency key: a retry gets the first report back.

        The record is kept under the registry's keys, not the erased scope's, so it stays
        readable after the erasure it describes. Retries in this process wait for the first
        attempt; a retry racing it from another process erases nothing more (the keys are
        gone) but adds a second record of the erasure, and gets its own report. The record
        commits with the (last) case's ``Erased`` event: a failed commit leaves neither, so
        a retry records the erasure once, not twice.
        """
        call = IdempotentCall.of(
            ctx.principal.partner, "erasure", idempotency_key, "erase", request
        )
        if call is None:
            return run(None)

        def record_for(report: ErasureReport) -> IdempotencyRecord:
            return self._idempotency.record(
                call, {"report": report.as_dict()}, case_id="", partner=REGISTRY_OWNER
            )

        with self._cache.lock(call.record_id):
            earlier = self._idempotency.earlier(call)
            if earlier is not None:
                return ErasureReport.replayed_from(earlier["report"])
            report = run(record_for)
            if not self._has_record(call.record_id):
                # No case carried the record (an owner without cases): it goes alone.
                with contextlib.suppress(RecordConflictError):
                    self.save(record_for(report))  # lost to another process's retry
            return report

    def _has_record(self, uid: UUID) -> bool:
        try:
            self.repository.get(uid)
        except AggregateNotFoundError:
            return False
        return True

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

    def _finish_erasure(
        self,
        ctx: RequestContext,
        case_ids: Sequence[str],
        scope: str,
        target_id: str,
        ground: str,
        destroyed: _erasure.Destroyed,
        fact_ids: dict[str, list[str]],
        purposes: dict[str, str],
        erasure_id: str | None = None,
        record_for: RecordFor | None = None,
    ) -> ErasureReport:
        """Run the epoch, then append the ``Erased`` record to every case; the idempotency
        record (``record_for``) commits with the last case's."""
        epoch = _erasure.run_epoch(self.keys, destroyed)
        self._cache.clear()
        erasure_id = erasure_id or uuid.uuid4().hex
        erased_at = self._clock()
        report = ErasureReport(
            erasure_id=erasure_id,
            scope=scope,
            target_id=target_id,
            ground=ground,
            erased_at=erased_at,
            scope_key_ids=tuple(destroyed.scope_key_ids),
            fact_key_ids=tuple(destroyed.fact_key_ids),
            fact_ids=tuple(f for ids in fact_ids.values() for f in ids),
            epoch=epoch,
        )
        for n, case_id in enumerate(case_ids, start=1):
            self._append_erased(
                ctx,
                case_id,
                erasure_id,
                scope,
                target_id,
                ground,
                destroyed,
                fact_ids.get(case_id, []),
                epoch,
                purposes.get(case_id, ""),
                None if record_for is None or n < len(case_ids) else lambda: record_for(report),
            )
        return report

    def _append_erased(
        self,
        ctx: RequestContext,
        case_id: str,
        erasure_id: str,
        scope: str,
        target_id: str,
        ground: str,
        destroyed: _erasure.Destroyed,
        fact_ids: list[str],
        epoch: _erasure.EpochReport,
        case_purpose: str,
        record: Callable[[], IdempotencyRecord] | None,
    ) -> None:
        # Erasure must be recorded even against concurrent writers: retry on conflicts.
        for _ in range(ERASED_RECORD_ATTEMPTS):
            # Built afresh at each try: a failed save has drained its pending event.
            with_record = [] if record is None else [record()]
            uid = case_uuid(case_id)
            with self._cache.lock(uid):
                case = self._cache.load(uid)
                case.trigger_event(
                    Case.Erased,
                    **self._pipeline.metadata(ctx, partner=REGISTRY_OWNER),
                    erasure_id=erasure_id,
                    scope=scope,
                    target_id=target_id,
                    ground=ground,
                    destroyed_scope_keys=len(destroyed.scope_key_ids),
                    destroyed_fact_keys=len(destroyed.fact_key_ids),
                    fact_ids=fact_ids,
                    scope_key_ids=list(destroyed.scope_key_ids),
                    fact_key_ids=list(destroyed.fact_key_ids),
                    epoch=epoch.as_dict(),
                    case_purpose=case_purpose,
                )
                try:
                    self.save(case, *with_record)
                    return
                except RecordConflictError:
                    self._cache.drop(uid)
                    if with_record and self._has_record(with_record[0].id):
                        record = None  # another process's retry recorded it: its record stands
                except BaseException:
                    self._cache.drop(uid)
                    raise
        raise ConcurrencyConflictError(case_id, None)


def _same_request(request: ErasureRequest, terms: dict[str, str]) -> ErasureRequest:
    """The earlier request under an idempotency key, if it asked for the same erasure."""
    earlier = {key: getattr(request, key) for key in terms}
    if earlier != terms:
        raise IdempotencyKeyReusedError("idempotency key was used for another request")
    return request
