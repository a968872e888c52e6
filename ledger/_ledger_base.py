"""The ledger application's core: persistence hooks, its collaborators, loading and reading.

``CaseLedger`` (``ledger._application``) is this plus its commands, grouped by resource in
mixins that share the collaborators made here: the case cache (``_case_cache``), the command
pipeline (``_pipeline``) and the idempotency records (``_idempotency``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    RecordConflictError,
    Transcoding,
)

from ledger._bodies import open_current_bodies
from ledger._case import Case
from ledger._case_cache import CaseCache
from ledger._case_state import FactState, case_uuid
from ledger._command_data import OpenedBody, PurposeRule, SamePurposeOnly, WriteResult
from ledger._commit import GroupCommitter
from ledger._errors import KeysChangedError, PurposeMismatchError
from ledger._idempotency import IdempotencyRecords, IdempotentCall
from ledger._interprocess import case_stripes, sqlite_writer_lock
from ledger._keys import KeyManager
from ledger._mapper import BatchSealingEventStore, SealingMapper
from ledger._pipeline import Clock, CommandPipeline, utcnow


class LedgerBase(Application[UUID]):
    """Sealed events on the library's own persistence; the collaborators commands share."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        clock: Clock = utcnow,
        purposes: PurposeRule | None = None,
    ) -> None:
        super().__init__(env)
        self._clock = clock
        # Defence in depth (AVG art. 5(1)(b)): bodies open only for a purpose this admits.
        self.purposes: PurposeRule = purposes or SamePurposeOnly()
        mapper = self.mapper
        if not isinstance(mapper, SealingMapper):
            raise TypeError("CaseLedger needs the sealing mapper")
        self.keys: KeyManager = mapper.keys
        self._init_caches()

    def _init_caches(self) -> None:
        """Make the collaborators commands share, over ``self.keys`` and ``self._clock``
        (apart from ``__init__``: the benchmark's baseline ledger brings its own keys)."""
        self._writer = sqlite_writer_lock(self.env.get("SQLITE_DBNAME"))
        self.committer = GroupCommitter(self._save_many)
        checks = getattr(self.recorder, "checks_key_generation", False)
        self._inserts_check_generation = bool(checks)
        self._cache = CaseCache(self.repository, self.events)
        self._idempotency = IdempotencyRecords(self.repository, self._clock)
        self._pipeline = CommandPipeline(
            cases=self._cache,
            committer=self.committer,
            keys=self.keys,
            stripes=case_stripes(self.env.get("SQLITE_DBNAME")),
            idempotency=self._idempotency,
            events=self.events,
            clock=self._clock,
            # Read at each event: the composition root sets the covenant after construction.
            covenant=lambda: self.purposes.reference,
        )

    def _save_many(self, events: Sequence[Any], key_generation: int | None) -> None:
        """Store domain events the committer already took from their aggregates.

        What ``Application.save`` does for them, minus its per-object protocol checks
        (``isinstance`` against a runtime protocol costs more than sealing an event) and the
        snapshotting step (cases are never snapshotted). With ``key_generation`` (the key
        store's erasure generation the events were sealed under), nothing is stored and
        ``KeysChangedError`` raised if an erasure moved the key store on since: cached keys
        may have been destroyed. On PostgreSQL with the key store in the same database the
        insert itself checks, in its own transaction; otherwise it is checked here, just
        before the insert.
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.events.extend(events)
        with self._writer.hold():
            if key_generation is not None:
                if self._inserts_check_generation:
                    # Checked in the insert's own transaction, under the key store's lock.
                    processing_event.saved_kwargs["key_generation"] = key_generation
                elif not self.keys.store.still_at(key_generation):
                    # Erasures hold this writer lock while they destroy keys (SQLite).
                    raise KeysChangedError("the key store moved on; nothing was stored")
            self._notify(self._record(processing_event))

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder())

    def construct_event_store(self) -> EventStore[UUID]:
        return BatchSealingEventStore(mapper=self.mapper, recorder=self.recorder)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_BytesAsBase64())

    def _record(self, processing_event: ProcessingEvent[UUID]) -> Any:
        # One writer at a time across processes (see ledger._interprocess).
        with self._writer.hold():
            return super()._record(processing_event)

    def close(self) -> None:
        super().close()
        self.keys.close()
        self._writer.close()

    # -- loading --------------------------------------------------------------------------

    def get_case(self, case_id: str) -> Case:
        """The case as of now (read-only use); raises CaseNotFoundError."""
        self._pipeline.sync()
        uid = case_uuid(case_id)
        with self._cache.lock(uid):
            return self._cache.load(uid)

    def _save_with_record(
        self,
        aggregate: Any,
        result: WriteResult,
        call: IdempotentCall | None,
        *,
        record_scope: tuple[str, str],
    ) -> WriteResult:
        """Store an aggregate's pending events (a new case, a meeting) and, for a keyed call,
        its idempotency record in one commit.

        ``record_scope`` (owner, case or meeting id) names the keys the record is sealed
        under. A commit that loses against another attempt of the same call answers with
        that attempt's result; any other conflict propagates.
        """
        pending: list[Any] = [aggregate]
        if call is not None:
            owner, scope = record_scope
            record = self._idempotency.record(call, result.as_dict(), case_id=scope, partner=owner)
            pending.append(record)
        try:
            self.save(*pending)
        except (RecordConflictError, IntegrityError):
            replay = self._pipeline.replay(call) if call is not None else None
            if replay is not None:
                return replay
            raise
        return result

    # -- reading sealed bodies ------------------------------------------------------------

    def open_bodies(self, case: Case, fact_ids: Sequence[str], *, purpose: str) -> list[OpenedBody]:
        """Open the current body of each fact for ``purpose`` (callers decide policy and log
        first). A fact whose purpose does not admit ``purpose`` raises
        ``PurposeMismatchError`` and nothing is opened: the policy's purpose travels here."""
        facts = [case.get_fact(f) for f in fact_ids]
        refused = [f.fact_id for f in facts if not self._admits(f.purpose, purpose)]
        if refused:
            raise PurposeMismatchError(f"{len(refused)} fact(s) not for purpose {purpose}")
        return self._open(case, facts)

    def open_for_subject_access(
        self, case: Case, fact_ids: Sequence[str], *, subject_id: str
    ) -> list[OpenedBody]:
        """Open facts for the subject's own access report (AVG art. 15): each must concern
        ``subject_id`` and nobody else (art. 15(4)), else ``PurposeMismatchError``."""
        facts = [case.get_fact(f) for f in fact_ids]
        if any(f.subjects != (subject_id,) for f in facts):
            raise PurposeMismatchError("an access report opens facts about its subject only")
        return self._open(case, facts)

    def open_minutes_bodies(
        self, case_id: str, items: Sequence[tuple[bytes, bytes]], *, purpose: str
    ) -> list[bytes | None]:
        """Open versions of one case's minutes, each ``(sealed body, associated data)``, for
        ``purpose`` (callers decide policy and log first). Minutes serve their case's
        purpose: any other purpose the covenant does not declare compatible raises
        ``PurposeMismatchError`` and nothing is opened, as for facts. None for a version
        whose keys were destroyed."""
        if not self._admits(self.get_case(case_id).purpose, purpose):
            raise PurposeMismatchError(f"minutes of case {case_id} not for purpose {purpose}")
        # An erasure in another process must win over keys cached here.
        self._pipeline.sync()
        return self.keys.open_bodies(items)

    def _admits(self, fact_purpose: str, purpose: str) -> bool:
        return fact_purpose == purpose or self.purposes.is_compatible(fact_purpose, purpose)

    def _open(self, case: Case, facts: Sequence[FactState]) -> list[OpenedBody]:
        # An erasure in another process must win over keys cached here, even when the
        # caller still holds a case it loaded before that erasure.
        self._pipeline.sync()
        return open_current_bodies(self.keys, case, facts)


class _BytesAsBase64(Transcoding):
    """Sealed bodies travel inside (sealed) event state as base64."""

    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)
