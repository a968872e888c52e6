"""The command pipeline: load the case, decide, seal, commit; once per idempotency key.

Every case command runs through :meth:`CommandPipeline.run`. It holds the case's lock (and,
on SQLite, the case's stripe across processes) from loading the case until its events are
committed, lets ``decide`` check the invariants and trigger events, and commits them (with
an idempotency record when the caller gave a key) in one transaction. Optimistic concurrency
surfaces as ``ConcurrencyConflictError``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, RecordConflictError

from ledger._case import Case
from ledger._case_cache import CaseCache
from ledger._case_state import case_uuid
from ledger._command_data import RequestContext, WriteResult
from ledger._commit import GroupCommitter
from ledger._errors import ConcurrencyConflictError, KeysChangedError
from ledger._idempotency import IdempotencyRecords, IdempotentCall
from ledger._interprocess import CaseStripes
from ledger._keys import KeyManager

Clock = Callable[[], datetime]
Decide = Callable[[Case], str | None]
"""Checks the case's invariants and triggers its events; returns the id it created, if any."""
DecideWith = Callable[[Case], tuple[Aggregate, str | None]]
"""As ``Decide``, for a command that also triggers events on another aggregate (returned)."""

# A command runs again after an erasure elsewhere invalidated its cached keys; this many
# times at most (each erasure takes one), then the caller gets a concurrency conflict.
KEY_CHANGE_ATTEMPTS = 5


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


class CommandPipeline:
    """Runs commands against cached cases and commits their events through the committer.

    ``covenant`` gives the reference of the covenant in force (``<version>:<content
    hash>``), read at each event: the composition root may set a ledger's covenant after
    the ledger was made.
    """

    def __init__(
        self,
        *,
        cases: CaseCache,
        committer: GroupCommitter,
        keys: KeyManager,
        stripes: CaseStripes,
        idempotency: IdempotencyRecords,
        events: EventStore[UUID],
        clock: Clock,
        covenant: Callable[[], str],
    ) -> None:
        self.cases = cases
        self.committer = committer
        self.keys = keys
        self.stripes = stripes
        self.idempotency = idempotency
        self._events = events
        self._clock = clock
        self._covenant = covenant

    # -- event metadata -------------------------------------------------------------------

    def metadata(self, ctx: RequestContext, *, partner: str | None = None) -> dict[str, Any]:
        """Who caused an event, for whom, why and when: the fields of every ``Case.Event``.

        ``partner``: whose keys seal the event, when not the acting principal's partner
        (an erasure's record is sealed under the registry's).
        """
        principal = ctx.principal
        return {
            "actor": principal.user,
            "partner": principal.partner if partner is None else partner,
            "on_behalf_of": principal.on_behalf_of,
            "purpose_of_use": ctx.purpose,
            "covenant": self._covenant(),
            "timestamp": self._clock(),
        }

    def trigger(
        self, aggregate: Aggregate, ctx: RequestContext, event: type[Any], **fields: Any
    ) -> None:
        """Trigger ``event`` on ``aggregate`` (a case or a meeting) with the metadata of ``ctx``."""
        aggregate.trigger_event(event, **self.metadata(ctx), **fields)

    # -- running a command ----------------------------------------------------------------

    def sync(self) -> None:
        """Catch up with erasures elsewhere: their destroyed keys empty the case cache."""
        if self.keys.sync():
            self.cases.clear()

    def run(
        self,
        ctx: RequestContext,
        case_id: str,
        name: str,
        arguments: dict[str, Any],
        decide: Decide,
        *,
        expected_version: int | None,
        idempotency_key: str | None,
    ) -> WriteResult:
        """Run command ``name`` (``arguments`` identify it for idempotency) on one case."""
        uid = case_uuid(case_id)
        call = IdempotentCall.of(ctx.principal.partner, case_id, idempotency_key, name, arguments)
        if call is not None:
            replay = self.replay(call)
            if replay is not None:
                return replay
        return self._under_case_lock(
            uid,
            case_id,
            lambda generation: self._decide_and_commit(
                ctx, uid, case_id, decide, expected_version, generation, call
            ),
        )

    def run_with(
        self,
        ctx: RequestContext,
        case_id: str,
        decide: DecideWith,
        *,
        call: IdempotentCall | None,
        record_scope: tuple[str, str],
    ) -> WriteResult:
        """Run a command whose events go to the case and to one other aggregate (the meeting
        a case is put on the agenda of), committed in one transaction with the idempotency
        record (sealed under ``record_scope``: owner, scope id): all of them or nothing.

        ``decide`` checks both aggregates' invariants and triggers their events; it loads
        the other aggregate itself, under whatever lock serialises it, and returns it with
        the id it created. The result names the other aggregate.
        """
        if call is not None:
            replay = self.replay(call)
            if replay is not None:
                return replay
        uid = case_uuid(case_id)
        return self._under_case_lock(
            uid,
            case_id,
            lambda generation: self._commit_with(uid, decide, generation, call, record_scope),
        )

    def _under_case_lock(
        self, uid: UUID, case_id: str, attempt: Callable[[int | None], WriteResult]
    ) -> WriteResult:
        """Run ``attempt`` holding the case's lock and stripe, again after an erasure.

        No erasure check up front: the commit stores the events only if the key store is
        still at the generation the cached keys belong to (see CaseLedger._save_many). If
        an erasure came between, nothing was stored; the caches are dropped and the
        command runs again.
        """
        for _ in range(KEY_CHANGE_ATTEMPTS):
            key_generation = self.keys.generation
            try:
                with self.cases.lock(uid), self.stripes.hold(uid.bytes):
                    return attempt(key_generation)
            except KeysChangedError:
                self.sync()
        raise ConcurrencyConflictError(case_id, None)

    def replay(self, call: IdempotentCall) -> WriteResult | None:
        """The result of an earlier attempt of ``call``, marked as replayed, if any."""
        earlier = self.idempotency.earlier(call)
        return None if earlier is None else WriteResult.replayed_from(earlier)

    def current_version(self, uid: UUID) -> int | None:
        """The stored version of a case (not the cached one), or None without events."""
        events = list(self._events.get(uid, desc=True, limit=1))
        return events[0].originator_version if events else None

    def _decide_and_commit(
        self,
        ctx: RequestContext,
        uid: UUID,
        case_id: str,
        decide: Decide,
        expected_version: int | None,
        key_generation: int | None,
        call: IdempotentCall | None,
    ) -> WriteResult:
        """Run ``decide`` on the case and commit its events (the caller holds the case lock)."""
        case = self.cases.load(uid)
        if expected_version is not None and case.version != expected_version:
            raise ConcurrencyConflictError(case_id, case.version)
        try:
            created = decide(case)
            if not case.pending_events:
                # Asked for what already holds: nothing to store, not even a record.
                return WriteResult(case_id, case.version, created, unchanged=True)
            result = WriteResult(case_id, case.version, created)
            pending: list[Any] = [case]
            if call is not None:
                partner = ctx.principal.partner
                record = self.idempotency.record(
                    call, result.as_dict(), case_id=case_id, partner=partner
                )
                pending.append(record)
            self.committer.save(pending, key_generation=key_generation)
        except RecordConflictError:
            self.cases.drop(uid)
            if call is not None:
                replay = self.replay(call)
                if replay is not None:
                    return replay
            raise ConcurrencyConflictError(case_id, self.current_version(uid)) from None
        except BaseException:
            # The command may have mutated the cached aggregate before failing.
            self.cases.drop(uid)
            raise
        return result

    def _commit_with(
        self,
        uid: UUID,
        decide: DecideWith,
        key_generation: int | None,
        call: IdempotentCall | None,
        record_scope: tuple[str, str],
    ) -> WriteResult:
        """Run ``decide`` and commit the case's and the other aggregate's events together
        (the caller holds the case lock)."""
        case = self.cases.load(uid)
        try:
            other, created = decide(case)
        except BaseException:
            self.cases.drop(uid)  # the command may have mutated the cached case
            raise
        other_id = str(other.id)
        if not case.pending_events and not other.pending_events:
            return WriteResult(other_id, other.version, created, unchanged=True)
        result = WriteResult(other_id, other.version, created)
        pending: list[Any] = [case, other]
        if call is not None:
            owner, scope = record_scope
            pending.append(
                self.idempotency.record(call, result.as_dict(), case_id=scope, partner=owner)
            )
        try:
            self.committer.save(pending, key_generation=key_generation)
        except (RecordConflictError, IntegrityError):
            self.cases.drop(uid)
            replay = self.replay(call) if call is not None else None
            if replay is not None:
                return replay
            raise ConcurrencyConflictError(other_id, None) from None
        except BaseException:
            self.cases.drop(uid)
            raise
        return result
