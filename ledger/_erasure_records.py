"""Finishing an erasure from its plan: the epoch, a ``Case.Erased`` record on every case it
touched, the idempotency record, then the plan is dropped (``ledger._erasure_plans``).

A plan is finished by the erasure that made it, by a retry of it or by
``resume_erasures`` (the service's start), whichever comes first; a case already holding
the plan's record is skipped, so finishing twice records once.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from ledger import _erasure
from ledger._case import REGISTRY_OWNER, Case
from ledger._case_state import case_uuid
from ledger._command_data import ErasureReport, RequestContext
from ledger._erasure_plans import ErasurePlan, ErasurePlans
from ledger._errors import ConcurrencyConflictError
from ledger._idempotency import IdempotencyRecord, IdempotentCall
from ledger._ledger_base import LedgerBase

#: An erasure's record is appended to its case however busy the case is: this many tries.
ERASED_RECORD_ATTEMPTS = 20


def erasure_call(partner: str, key: str | None, request: dict[str, str]) -> IdempotentCall | None:
    """The idempotent call of an erasure under ``key`` (None without a key)."""
    return IdempotentCall.of(partner, "erasure", key, "erase", request)


class ErasureRecords(LedgerBase):
    """Makes and finishes erasure plans (mixed into ``ErasureCommands``)."""

    @property
    def _plans(self) -> ErasurePlans:
        return ErasurePlans(self.keys.store)

    def resume_erasures(self) -> list[ErasureReport]:
        """Finish every erasure whose keys are gone but whose records are not all in (its
        process failed or stopped in between); the service runs this at start."""
        return [self._finish_erasure(plan) for plan in self._plans.all_pending()]

    def _new_plan(
        self,
        ctx: RequestContext,
        *,
        scope: str,
        target_id: str,
        ground: str,
        fact_ids: dict[str, list[str]],
        purposes: dict[str, str],
        idempotency_key: str | None,
        request: dict[str, str],
        erasure_id: str | None,
    ) -> ErasurePlan:
        principal = ctx.principal
        return ErasurePlan(
            erasure_id=erasure_id or uuid.uuid4().hex,
            scope=scope,
            target_id=target_id,
            ground=ground,
            erased_at=self._clock(),
            actor=principal.user,
            partner=principal.partner,
            on_behalf_of=principal.on_behalf_of,
            purpose=ctx.purpose,
            case_ids=list(fact_ids),
            fact_ids=fact_ids,
            purposes=purposes,
            idempotency_key=idempotency_key,
            request=request,
        )

    def _erasure_record(self, call: IdempotentCall, report: ErasureReport) -> IdempotencyRecord:
        # Kept under the registry's keys, not the erased scope's: it outlives the erasure.
        return self._idempotency.record(
            call, {"report": report.as_dict()}, case_id="", partner=REGISTRY_OWNER
        )

    def _has_record(self, uid: UUID) -> bool:
        try:
            self.repository.get(uid)
        except AggregateNotFoundError:
            return False
        return True

    def _finish_erasure(self, plan: ErasurePlan) -> ErasureReport:
        """Run the epoch (once), then append the ``Erased`` record to every case; the
        plan's idempotency record commits with the last case's; then drop the plan."""
        if plan.epoch is None:
            plan.epoch = _erasure.run_epoch(self.keys, plan.destroyed)
            self._plans.update(plan)
        self._cache.clear()
        report = plan.report()
        call = erasure_call(plan.partner, plan.idempotency_key, plan.request)
        ctx = plan.context()
        for n, case_id in enumerate(plan.case_ids, start=1):
            last = call is not None and n == len(plan.case_ids)
            self._append_erased(
                ctx,
                plan,
                case_id,
                (lambda: self._erasure_record(call, report)) if last and call else None,
            )
        if call is not None and not plan.case_ids and not self._has_record(call.record_id):
            # No case carries the record (an owner without cases): it goes alone.
            with contextlib.suppress(RecordConflictError):  # another's retry: its record stands
                self.save(self._erasure_record(call, report))
        self._plans.done(plan)
        return report

    def _append_erased(
        self,
        ctx: RequestContext,
        plan: ErasurePlan,
        case_id: str,
        record: Callable[[], IdempotencyRecord] | None,
    ) -> None:
        destroyed = plan.destroyed
        epoch = plan.epoch.as_dict() if plan.epoch is not None else {}
        # Erasure must be recorded even against concurrent writers: retry on conflicts.
        for _ in range(ERASED_RECORD_ATTEMPTS):
            # Built afresh at each try: a failed save has drained its pending event.
            with_record = [] if record is None else [record()]
            uid = case_uuid(case_id)
            with self._cache.lock(uid):
                case = self._cache.load(uid)
                if any(e["erasure_id"] == plan.erasure_id for e in case.erasures):
                    return  # an earlier attempt recorded it here
                case.trigger_event(
                    Case.Erased,
                    **self._pipeline.metadata(ctx, partner=REGISTRY_OWNER),
                    erasure_id=plan.erasure_id,
                    scope=plan.scope,
                    target_id=plan.target_id,
                    ground=plan.ground,
                    destroyed_scope_keys=len(destroyed.scope_key_ids),
                    destroyed_fact_keys=len(destroyed.fact_key_ids),
                    fact_ids=plan.fact_ids.get(case_id, []),
                    scope_key_ids=list(destroyed.scope_key_ids),
                    fact_key_ids=list(destroyed.fact_key_ids),
                    epoch=epoch,
                    case_purpose=plan.purposes.get(case_id, ""),
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
