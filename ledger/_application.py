"""CaseLedger: the write side's application service (commands, erasure, sealed reads).

One method per command. Each loads the case, lets the aggregate check its invariants, seals
any body under the owner's keys, and saves the events (with an idempotency record when the
caller gave a key) in one transaction. Optimistic concurrency surfaces as
``ConcurrencyConflictError``. The owner of a fact is always the acting principal's partner.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    RecordConflictError,
    Transcoding,
)

from ledger import _erasure
from ledger._case import REGISTRY_OWNER, Case, FactState, case_uuid
from ledger._commit import GroupCommitter
from ledger._erasure_requests import ErasureRequest
from ledger._errors import (
    AlreadyReviewedError,
    CaseNotFoundError,
    CaseStatusError,
    ConcurrencyConflictError,
    ErasureRequestNotFoundError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    KeysChangedError,
    PurposeMismatchError,
    SealedError,
    SubjectNotFoundError,
)
from ledger._idempotency import IdempotencyRecord, fingerprint, record_id
from ledger._interprocess import case_stripes, sqlite_writer_lock
from ledger._keys import KeyManager
from ledger._lru import trim_lru
from ledger._mapper import BatchSealingEventStore, SealingMapper
from policies import Principal

Clock = Callable[[], datetime]
CASE_CACHE_SIZE = 512
#: The cache is also bounded by the facts its cases hold (about 1.7 kB each, sealed body
#: included), so a server's memory stays flat however large the store and its cases grow.
CASE_CACHE_FACTS = 10_000
# A command runs again after an erasure elsewhere invalidated its cached keys; this many
# times at most (each erasure takes one), then the caller gets a concurrency conflict.
KEY_CHANGE_ATTEMPTS = 5
#: An erasure's record is appended to its case however busy the case is: this many tries.
ERASED_RECORD_ATTEMPTS = 20
SHARING_LEVELS = frozenset({"owner", "regie", "participants", "partners"})


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who acts, for which declared purpose (recorded on every event)."""

    principal: Principal
    purpose: str


@dataclass(frozen=True, slots=True)
class NewFact:
    """A fact to record: metadata plus a JSON body (the owner is always the caller)."""

    kind: str
    subjects: tuple[str, ...]
    categories: tuple[str, ...]
    purpose: str
    legal_basis: str
    sharing_level: str
    sharing_partners: tuple[str, ...]
    body: Any

    def validated(self) -> NewFact:
        """Normalised copy (sorted, de-duplicated) or InvalidCommandError."""
        if self.sharing_level not in SHARING_LEVELS:
            raise InvalidCommandError("unknown sharing level", code="unknown_sharing_level")
        if self.sharing_level == "partners" and not self.sharing_partners:
            raise InvalidCommandError(
                "sharing level partners needs at least one partner", code="sharing_needs_partners"
            )
        return NewFact(
            self.kind,
            tuple(sorted(set(self.subjects))),
            tuple(sorted(set(self.categories))),
            self.purpose,
            self.legal_basis,
            self.sharing_level,
            tuple(sorted(set(self.sharing_partners))),
            self.body,
        )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of a command: the case's new version and the id it created, if any.

    ``unchanged``: the command asked for what already holds (a partner invited twice, the
    phase the case already has); nothing was stored.
    """

    case_id: str
    version: int
    created_id: str | None = None
    replayed: bool = False
    unchanged: bool = False


class PurposeRule(Protocol):
    """Which reader purposes may read facts collected for which purpose (the covenant)."""

    def is_compatible(self, fact_purpose: str, reader_purpose: str) -> bool: ...

    @property
    def reference(self) -> str:
        """The covenant's ``<version>:<content hash>``, recorded on every write event."""
        ...


class _SamePurposeOnly:
    """Without a covenant, a fact opens only for the purpose it was recorded for."""

    reference = ""

    def is_compatible(self, fact_purpose: str, reader_purpose: str) -> bool:
        return fact_purpose == reader_purpose


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure destroyed and how its epoch made that final (ids and counts only)."""

    erasure_id: str
    scope: str
    target_id: str
    ground: str
    erased_at: datetime
    scope_key_ids: tuple[str, ...]
    fact_key_ids: tuple[str, ...]
    fact_ids: tuple[str, ...]
    epoch: _erasure.EpochReport
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids and counts only), kept in an idempotency record."""
        return {
            "erasure_id": self.erasure_id,
            "scope": self.scope,
            "target_id": self.target_id,
            "ground": self.ground,
            "erased_at": self.erased_at.isoformat(),
            "scope_key_ids": list(self.scope_key_ids),
            "fact_key_ids": list(self.fact_key_ids),
            "fact_ids": list(self.fact_ids),
            "epoch": self.epoch.as_dict(),
        }

    @classmethod
    def replayed_from(cls, data: dict[str, Any]) -> ErasureReport:
        """The report an earlier attempt kept (see :meth:`as_dict`), marked as replayed."""
        return cls(
            erasure_id=str(data["erasure_id"]),
            scope=str(data["scope"]),
            target_id=str(data["target_id"]),
            ground=str(data["ground"]),
            erased_at=datetime.fromisoformat(str(data["erased_at"])),
            scope_key_ids=tuple(data["scope_key_ids"]),
            fact_key_ids=tuple(data["fact_key_ids"]),
            fact_ids=tuple(data["fact_ids"]),
            epoch=_erasure.EpochReport.from_dict(data["epoch"]),
            replayed=True,
        )


@dataclass(frozen=True, slots=True)
class OpenedBody:
    """A fact body opened for a caller that passed policy, or None when it was erased."""

    fact_id: str
    body: Any | None

    @property
    def redacted(self) -> bool:
        return self.body is None


def _utcnow() -> datetime:
    return datetime.now(tz=UTC)


class CaseLedger(Application[UUID]):
    """The ledger of cases; sealed events on the library's own persistence."""

    name = "CaseLedger"

    def __init__(
        self,
        env: dict[str, str],
        *,
        clock: Clock = _utcnow,
        purposes: PurposeRule | None = None,
    ) -> None:
        super().__init__(env)
        self._clock = clock
        # Defence in depth (AVG art. 5(1)(b)): bodies open only for a purpose this admits.
        self.purposes: PurposeRule = purposes or _SamePurposeOnly()
        mapper = self.mapper
        if not isinstance(mapper, SealingMapper):
            raise TypeError("CaseLedger needs the sealing mapper")
        self.keys: KeyManager = mapper.keys
        self._init_caches()

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

    def _init_caches(self) -> None:
        self._writer = sqlite_writer_lock(self.env.get("SQLITE_DBNAME"))
        self._stripes = case_stripes(self.env.get("SQLITE_DBNAME"))
        self.committer = GroupCommitter(self._save_many)
        checks = getattr(self.recorder, "checks_key_generation", False)
        self._inserts_check_generation = bool(checks)
        # Recently used cases (an LRU): bounded, so a long-running server's memory does not
        # grow with the number of cases it has ever touched.
        self._cache: OrderedDict[UUID, Case] = OrderedDict()
        self._case_locks: dict[UUID, threading.Lock] = {}
        self._locks_lock = threading.Lock()

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
        self._sync()
        uid = case_uuid(case_id)
        with self._case_lock(uid):
            return self._load(uid)

    def _load(self, uid: UUID) -> Case:
        cached = self._cache.get(uid)
        if cached is not None:
            self._cache.move_to_end(uid)
            for event in self.events.get(uid, gt=cached.version):
                cast(Case.Event, event).mutate(cached)
            return cached
        try:
            case: object = self.repository.get(uid)
        except AggregateNotFoundError:
            raise CaseNotFoundError("case not found") from None
        if not isinstance(case, Case):
            raise CaseNotFoundError("case not found")
        self._cache[uid] = case
        self._trim_cache()
        return case

    def _trim_cache(self) -> None:
        """Drop least recently used cases beyond the count and fact budgets (keeps the newest)."""
        trim_lru(
            self._cache,
            CASE_CACHE_SIZE,
            max_weight=CASE_CACHE_FACTS,
            weight=lambda case: len(case.facts),
        )

    def _sync(self) -> None:
        if self.keys.sync():
            self._cache.clear()

    @contextmanager
    def _case_lock(self, uid: UUID) -> Iterator[None]:
        with self._locks_lock:
            lock = self._case_locks.setdefault(uid, threading.Lock())
        with lock:
            yield

    # -- the command pipeline -------------------------------------------------------------

    def _command(
        self,
        ctx: RequestContext,
        case_id: str,
        name: str,
        arguments: dict[str, Any],
        decide: Callable[[Case], str | None],
        *,
        expected_version: int | None,
        idempotency_key: str | None,
    ) -> WriteResult:
        uid = case_uuid(case_id)
        partner = ctx.principal.partner
        idempotency = None
        if idempotency_key:  # the fingerprint is only needed (and computed) with a key
            record_uid = record_id(partner, case_id, idempotency_key)
            print_ = fingerprint(name, arguments)
            replay = self._replay(record_uid, print_)
            if replay is not None:
                return replay
            idempotency = (record_uid, partner, print_)
        # No erasure check up front: the commit stores the events only if the key store is
        # still at the generation the cached keys belong to (see _save_many). If an erasure
        # came between, nothing was stored; the caches are dropped and the command runs again.
        for _ in range(KEY_CHANGE_ATTEMPTS):
            key_generation = self.keys.generation
            try:
                with self._case_lock(uid), self._stripes.hold(uid.bytes):
                    return self._decide_and_commit(
                        uid,
                        case_id,
                        decide,
                        expected_version,
                        key_generation,
                        idempotency,
                    )
            except KeysChangedError:
                self._sync()
        raise ConcurrencyConflictError(case_id, None)

    def _decide_and_commit(
        self,
        uid: UUID,
        case_id: str,
        decide: Callable[[Case], str | None],
        expected_version: int | None,
        key_generation: int | None,
        idempotency: tuple[UUID, str, str] | None,
    ) -> WriteResult:
        """Run ``decide`` on the case and commit its events (the caller holds the case lock)."""
        case = self._load(uid)
        if expected_version is not None and case.version != expected_version:
            raise ConcurrencyConflictError(case_id, case.version)
        try:
            created = decide(case)
            if not case.pending_events:
                # Asked for what already holds: nothing to store, not even a record.
                return WriteResult(case_id, case.version, created, unchanged=True)
            result = WriteResult(case_id, case.version, created)
            pending: list[Any] = [case]
            if idempotency is not None:
                pending.append(self._idempotency_record(*idempotency, case_id, result))
            self.committer.save(pending, key_generation=key_generation)
        except RecordConflictError:
            self._cache.pop(uid, None)
            if idempotency is not None:
                replay = self._replay(idempotency[0], idempotency[2])
                if replay is not None:
                    return replay
            current = self._current_version(uid)
            raise ConcurrencyConflictError(case_id, current) from None
        except BaseException:
            # The command may have mutated the cached aggregate before failing.
            self._cache.pop(uid, None)
            raise
        return result

    def _idempotency_record(
        self, record_uid: UUID, partner: str, print_: str, case_id: str, result: WriteResult
    ) -> IdempotencyRecord:
        return IdempotencyRecord._create(
            IdempotencyRecord.Recorded,
            id=record_uid,
            case_id=case_id,
            partner=partner,
            fingerprint=print_,
            result={
                "case_id": result.case_id,
                "version": result.version,
                "created_id": result.created_id,
            },
            timestamp=self._clock(),
        )

    def _replay(self, record_uid: UUID, print_: str) -> WriteResult | None:
        record = self._recorded(record_uid, print_)
        if record is None:
            return None
        r = record.result
        return WriteResult(str(r["case_id"]), int(r["version"]), r["created_id"], replayed=True)

    def _recorded(self, record_uid: UUID, print_: str) -> IdempotencyRecord | None:
        """The earlier outcome kept under this idempotency record, if any."""
        try:
            record: object = self.repository.get(record_uid)
        except AggregateNotFoundError:
            return None
        if not isinstance(record, IdempotencyRecord) or record.redacted:
            raise CaseNotFoundError("case not found")
        if record.fingerprint != print_:
            raise IdempotencyKeyReusedError("idempotency key was used for another request")
        return record

    def _current_version(self, uid: UUID) -> int | None:
        events = list(self.events.get(uid, desc=True, limit=1))
        return events[0].originator_version if events else None

    def _trigger(self, case: Case, ctx: RequestContext, event: type[Any], **kwargs: Any) -> None:
        case.trigger_event(
            event,
            actor=ctx.principal.user,
            partner=ctx.principal.partner,
            on_behalf_of=ctx.principal.on_behalf_of,
            purpose_of_use=ctx.purpose,
            covenant=self.purposes.reference,
            timestamp=self._clock(),
            **kwargs,
        )

    # -- commands -------------------------------------------------------------------------

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
        self._sync()
        partner = ctx.principal.partner
        arguments = {
            "purpose": purpose,
            "legal_basis": legal_basis,
            "referred_by": referred_by,
            "phase": phase,
        }
        record_uid = record_id(partner, "open", idempotency_key) if idempotency_key else None
        print_ = fingerprint("open_case", arguments)
        if record_uid is not None:
            replay = self._replay(record_uid, print_)
            if replay is not None:
                return replay
        case = Case._create(
            Case.Opened,
            id=uuid.uuid4(),
            actor=ctx.principal.user,
            partner=partner,
            on_behalf_of=ctx.principal.on_behalf_of,
            purpose_of_use=ctx.purpose,
            covenant=self.purposes.reference,
            timestamp=self._clock(),
            **arguments,
        )
        # Keys first: commit the case-level scope keys before any event sealed with them.
        self.keys.scope_key(partner, case.case_id)
        result = WriteResult(case.case_id, case.version, case.case_id)
        pending: list[Any] = [case]
        if record_uid is not None:
            pending.append(
                self._idempotency_record(record_uid, partner, print_, case.case_id, result)
            )
        try:
            self.save(*pending)
        except (RecordConflictError, IntegrityError):
            if record_uid is not None:
                replay = self._replay(record_uid, print_)
                if replay is not None:
                    return replay
            raise
        return result

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
            self._trigger(case, ctx, Case.TriageDecided, decision=decision, reason=reason)

        return self._command(
            ctx,
            case_id,
            "triage",
            {"decision": decision, "reason": reason},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

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
            body = _encode_body(unbound.body)
            # Fingerprinted without the new subject's id: every attempt draws a new one.
            arguments["identity"] = _fact_arguments([("", unbound, body)])[0]
            about = dataclasses.replace(unbound, subjects=(subject_id,))
            prepared.append((uuid.uuid4().hex, about, body))

        def decide(case: Case) -> str:
            case.require_participant(ctx.principal.partner)
            case.require_open_for_facts()
            # Create the subject's key before the event sealed with it.
            self.keys.scope_key(ctx.principal.partner, case_id, subject_id)
            self._trigger(case, ctx, Case.SubjectAdded, subject_id=subject_id, case_role=case_role)
            return ",".join([subject_id, *self._record_on(case, ctx, prepared)])

        return self._command(
            ctx,
            case_id,
            "add_subject",
            arguments,
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
                self._trigger(case, ctx, Case.ParticipantInvited, org=org)

        return self._command(
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
            self._trigger(case, ctx, Case.ParticipantRemoved, org=org)

        return self._command(
            ctx,
            case_id,
            "remove",
            {"org": org},
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
        prepared = [(uuid.uuid4().hex, fact.validated(), _encode_body(fact.body)) for fact in facts]
        if not prepared:
            raise InvalidCommandError("no facts to record", code="no_facts")

        def decide(case: Case) -> str:
            case.require_participant(owner)
            case.require_open_for_facts()
            return ",".join(self._record_on(case, ctx, prepared))

        return self._command(
            ctx,
            case_id,
            "record_facts",
            {"facts": _fact_arguments(prepared)},
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
            self._trigger(
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
        plaintext = _encode_body(body)

        def decide(case: Case) -> None:
            case.require_open_for_facts()
            fact = case.require_owned_fact(fact_id, owner)
            case.require_participant(owner)
            version = case.version + 1
            sealed = self.keys.seal_body(
                owner,
                case_id,
                list(fact.subjects),
                plaintext,
                body_context(case_id, fact_id, version),
            )
            self._trigger(
                case,
                ctx,
                Case.FactCorrected,
                fact_id=fact_id,
                subjects=list(fact.subjects),
                fact_key_id=sealed.fact_key_id,
                sealed_body=sealed.blob,
            )

        return self._command(
            ctx,
            case_id,
            "correct_fact",
            {"fact_id": fact_id, "body": plaintext.decode()},
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
            self._trigger(case, ctx, Case.FactRetracted, fact_id=fact_id, reason=reason)
            retracted.append(fact)

        result = self._command(
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
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        action_id = uuid.uuid4().hex

        def decide(case: Case) -> str:
            case.require_status("active")
            case.require_participant(assignee)
            self._trigger(
                case,
                ctx,
                Case.ActionAgreed,
                action_id=action_id,
                assignee=assignee,
                what=what,
                due=due,
            )
            return action_id

        return self._command(
            ctx,
            case_id,
            "agree_action",
            {"assignee": assignee, "what": what, "due": due},
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
            self._trigger(case, ctx, Case.ActionStatusChanged, action_id=action_id, status=status)

        return self._command(
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
                self._trigger(case, ctx, Case.PhaseChanged, phase=phase, reason=reason)

        return self._command(
            ctx,
            case_id,
            "phase",
            {"phase": phase, "reason": reason},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def decide_notification(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        decision: str,
        reason: str,
        review_at: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        if decision not in {"inform", "defer"}:
            raise InvalidCommandError("decision must be inform or defer", code="invalid_decision")
        if decision == "defer" and (not reason or not review_at):
            raise InvalidCommandError(
                "a deferral needs a reason and a review date", code="deferral_incomplete"
            )
        if review_at is not None and _review_instant(review_at) < self._clock():
            raise InvalidCommandError("the review date is in the past", code="review_date_in_past")

        def decide(case: Case) -> None:
            case.require_status("triage", "active")
            self._trigger(
                case,
                ctx,
                Case.NotificationDecided,
                decision=decision,
                reason=reason,
                review_at=review_at,
            )

        return self._command(
            ctx,
            case_id,
            "notification",
            {"decision": decision, "reason": reason, "review_at": review_at},
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
            self._trigger(
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

        return self._command(
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
            self._trigger(
                case, ctx, Case.ConsentWithdrawn, consent_id=consent_id, subject=consent.subject
            )

        return self._command(
            ctx,
            case_id,
            "withdraw_consent",
            {"consent_id": consent_id},
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
            self._trigger(case, ctx, Case.Closed, reason=reason)

        return self._command(
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
            self._trigger(case, ctx, Case.HoldPlaced, hold_id=hold_id, reason_code=reason_code)
            return hold_id

        return self._command(
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
            self._trigger(case, ctx, Case.HoldLifted, hold_id=hold_id)

        return self._command(
            ctx,
            case_id,
            "lift_hold",
            {"hold_id": hold_id},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    # -- break the glass and its review ---------------------------------------------------

    def grant_emergency_access(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        reason: str,
        started_at: datetime,
        ends_at: datetime,
    ) -> WriteResult:
        """Record a break-the-glass grant the read policy admitted (``created_id``: its id).

        A reader whose grant is still open at ``started_at`` gets that one back, unchanged.
        """
        grant_id = uuid.uuid4().hex
        reader = ctx.principal.user

        def decide(case: Case) -> str:
            if case.status == "erased":
                raise CaseStatusError(f"case {case_id} is erased", code="case_erased")
            current = case.open_grant(reader, started_at)
            if current is not None:
                return current.grant_id
            # Keys first: the grant is sealed under the reader's partner's keys of the case.
            self.keys.scope_key(ctx.principal.partner, case_id)
            self._trigger(
                case,
                ctx,
                Case.EmergencyAccessGranted,
                grant_id=grant_id,
                roles=sorted(ctx.principal.roles),
                reason=reason,
                started_at=started_at,
                ends_at=ends_at,
            )
            return grant_id

        arguments = {"reason": reason, "started_at": started_at.isoformat()}
        return self._command(
            ctx,
            case_id,
            "emergency",
            arguments,
            decide,
            expected_version=None,
            idempotency_key=None,
        )

    def review_emergency_access(
        self,
        ctx: RequestContext,
        case_id: str,
        grant_id: str,
        *,
        outcome: str,
        remark: str,
        inform: Sequence[str],
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """The privacy officer's outcome for one emergency grant; a second review is refused."""
        _require_outcome(outcome, remark)

        def decide(case: Case) -> None:
            grant = case.require_grant(grant_id)
            if grant.review is not None:
                raise AlreadyReviewedError(f"grant {grant_id} was reviewed already")
            self.keys.scope_key(ctx.principal.partner, case_id)
            self._trigger(
                case,
                ctx,
                Case.EmergencyAccessReviewed,
                grant_id=grant_id,
                outcome=outcome,
                remark=remark,
                inform=sorted(set(inform)),
            )

        arguments = {"grant_id": grant_id, "outcome": outcome, "remark": remark}
        return self._command(
            ctx,
            case_id,
            "review_emergency",
            arguments,
            decide,
            expected_version=None,
            idempotency_key=idempotency_key,
        )

    def review_notification(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        outcome: str,
        remark: str,
        inform: Sequence[str],
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """The privacy officer's outcome for the case's current notification deferral."""
        _require_outcome(outcome, remark)

        def decide(case: Case) -> None:
            notification = case.notification
            if notification is None or notification.decision != "defer":
                raise CaseStatusError(
                    f"case {case_id} has no deferral to review", code="nothing_to_review"
                )
            if notification.review is not None:
                raise AlreadyReviewedError(f"the deferral of case {case_id} was reviewed")
            self.keys.scope_key(ctx.principal.partner, case_id)
            self._trigger(
                case,
                ctx,
                Case.NotificationReviewed,
                decided_version=notification.decided_version,
                outcome=outcome,
                remark=remark,
                inform=sorted(set(inform)),
            )

        arguments = {"outcome": outcome, "remark": remark}
        return self._command(
            ctx,
            case_id,
            "review_notification",
            arguments,
            decide,
            expected_version=None,
            idempotency_key=idempotency_key,
        )

    # -- four-eyes erasure requests -------------------------------------------------------

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

    def _admits(self, fact_purpose: str, purpose: str) -> bool:
        return fact_purpose == purpose or self.purposes.is_compatible(fact_purpose, purpose)

    def _open(self, case: Case, facts: Sequence[FactState]) -> list[OpenedBody]:
        # An erasure in another process must win over keys cached here, even when the
        # caller still holds a case it loaded before that erasure.
        self._sync()
        items = [
            (f.current_body, body_context(case.case_id, f.fact_id, f.current_version))
            for f in facts
        ]
        opened = self.keys.open_bodies(items) if items else []
        return [
            OpenedBody(f.fact_id, None if raw is None or f.erased else json.loads(raw))
            for f, raw in zip(facts, opened, strict=True)
        ]

    # -- erasure --------------------------------------------------------------------------

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

        def run() -> ErasureReport:
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
        def run() -> ErasureReport:
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
                ctx, case_ids, "owner", owner, ground, destroyed, facts, purposes, erasure_id
            )

        request = {"scope": "owner", "owner": owner, "ground": ground}
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
        gone) but adds a second record of the erasure, and gets its own report.
        """
        if idempotency_key is None:
            return run()
        record_uid = record_id(ctx.principal.partner, "erasure", idempotency_key)
        print_ = fingerprint("erase", request)
        with self._case_lock(record_uid):
            recorded = self._recorded(record_uid, print_)
            if recorded is not None:
                return ErasureReport.replayed_from(recorded.result["report"])
            report = run()
            record = IdempotencyRecord._create(
                IdempotencyRecord.Recorded,
                id=record_uid,
                case_id="",
                partner=REGISTRY_OWNER,
                fingerprint=print_,
                result={"report": report.as_dict()},
            )
            with contextlib.suppress(RecordConflictError):
                self.save(record)  # lost to another process's retry: its record stands
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
    ) -> ErasureReport:
        epoch = _erasure.run_epoch(self.keys, destroyed)
        self._cache.clear()
        erasure_id = erasure_id or uuid.uuid4().hex
        erased_at = self._clock()
        for case_id in case_ids:
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
            )
        return ErasureReport(
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
    ) -> None:
        # Erasure must be recorded even against concurrent writers: retry on conflicts.
        for _ in range(ERASED_RECORD_ATTEMPTS):
            uid = case_uuid(case_id)
            with self._case_lock(uid):
                case = self._load(uid)
                case.trigger_event(
                    Case.Erased,
                    actor=ctx.principal.user,
                    partner=REGISTRY_OWNER,
                    on_behalf_of=ctx.principal.on_behalf_of,
                    purpose_of_use=ctx.purpose,
                    covenant=self.purposes.reference,
                    timestamp=self._clock(),
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
                    self.save(case)
                    return
                except RecordConflictError:
                    self._cache.pop(uid, None)
                except BaseException:
                    self._cache.pop(uid, None)
                    raise
        raise ConcurrencyConflictError(case_id, None)


class _BytesAsBase64(Transcoding):
    """Sealed bodies travel inside (sealed) event state as base64."""

    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)


REVIEW_OUTCOMES = frozenset({"justified", "not_justified"})


def _require_outcome(outcome: str, remark: str) -> None:
    if outcome not in REVIEW_OUTCOMES:
        raise InvalidCommandError("outcome: justified or not_justified", code="invalid_outcome")
    if outcome == "not_justified" and not remark.strip():
        raise InvalidCommandError("not_justified needs a remark", code="remark_required")


def _same_request(request: ErasureRequest, terms: dict[str, str]) -> ErasureRequest:
    """The earlier request under an idempotency key, if it asked for the same erasure."""
    earlier = {key: getattr(request, key) for key in terms}
    if earlier != terms:
        raise IdempotencyKeyReusedError("idempotency key was used for another request")
    return request


def _review_instant(review_at: str) -> datetime:
    """A review date (RFC 3339 date or date-time) as an instant; a date is its end (UTC),
    so "today" is not in the past."""
    try:
        if len(review_at) == 10:
            day = datetime.fromisoformat(review_at)
            return day.replace(hour=23, minute=59, second=59, tzinfo=UTC)
        moment = datetime.fromisoformat(review_at)
    except ValueError:
        raise InvalidCommandError("review_at is not a date", code="invalid_date") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def body_context(case_id: str, fact_id: str, case_version: int) -> bytes:
    """Associated data of a fact body: its case, fact and the case version it was sealed at."""
    return f"body|case={case_id}|fact={fact_id}|version={case_version}".encode()


PreparedFact = tuple[str, NewFact, bytes]
"""(new fact id, validated fact, encoded body), made before the command runs."""


def _fact_arguments(prepared: Sequence[PreparedFact]) -> list[list[Any]]:
    """What identifies prepared facts in an idempotency fingerprint (not their new ids)."""
    return [
        [
            f.kind,
            f.subjects,
            f.categories,
            f.purpose,
            f.legal_basis,
            f.sharing_level,
            f.sharing_partners,
            plaintext.decode(),
        ]
        for _, f, plaintext in prepared
    ]


def _encode_body(body: Any) -> bytes:
    try:
        return json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError):
        raise InvalidCommandError("body must be JSON", code="fact_body_not_json") from None


__all__ = ["SealedError"]
