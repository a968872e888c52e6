"""Idempotency records: a retried command stores one event, enforced by the database.

A record's id is derived from (partner, case or "open", client key), and it is saved in the
same transaction as the command's events. A retry collides on the record's (id, version 1)
unique constraint in the event store, so the second attempt stores nothing and returns the
first attempt's result. The record is sealed like any case event.

An erasure's record (scope ``"erasure"``) is the exception: it is saved after the erasure,
under the registry's key, since the erased scope's keys are gone by then.
:class:`IdempotentCall` and :class:`IdempotencyRecords` serve every kind: the command
pipeline, ``open_case`` and erasures.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate

from ledger._case import SealingScope
from ledger._errors import CaseNotFoundError, IdempotencyKeyReusedError

_NAMESPACE = UUID("6f1c3b52-3d0e-4c61-9d3e-5b0d2b9f6a11")


def record_id(partner: str, scope: str, key: str) -> UUID:
    return uuid5(_NAMESPACE, f"{partner}\x00{scope}\x00{key}")


def fingerprint(command: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps([command, arguments], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyRecord(Aggregate):
    """The outcome of one idempotent command."""

    def __init__(self) -> None:
        self.case_id = ""
        self.partner = ""
        self.fingerprint = ""
        self.result: dict[str, Any] = {}
        self.redacted = False

    class Recorded(Aggregate.Created):
        case_id: str
        partner: str
        fingerprint: str
        result: dict[str, Any]

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            return (self.partner, self.case_id, ())

        def apply(self, record: IdempotencyRecord) -> None:
            record.case_id = self.case_id
            record.partner = self.partner
            record.fingerprint = self.fingerprint
            record.result = dict(self.result)

    class Redacted(Aggregate.Event):
        """The record's case keys were destroyed."""

        def mutate(self, aggregate: Any) -> Any:
            record = IdempotencyRecord.__new__(IdempotencyRecord)
            record.__base_init__(self.originator_id, self.originator_version, _EPOCH)
            IdempotencyRecord.__init__(record)
            record.redacted = True
            return record


IdempotencyRecord.Recorded.redacted_class = IdempotencyRecord.Redacted  # type: ignore[attr-defined]

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass(frozen=True, slots=True)
class IdempotentCall:
    """A command under a client's idempotency key: where its record lives, what it asked.

    ``scope`` keeps keys apart per kind of call (a case id, ``"open"``, ``"erasure"``), so
    a client may use one key for different cases.
    """

    record_id: UUID
    fingerprint: str

    @classmethod
    def of(
        cls, partner: str, scope: str, key: str | None, command: str, arguments: dict[str, Any]
    ) -> IdempotentCall | None:
        """The call under ``key``, or None without one (the fingerprint is then not made)."""
        if not key:
            return None
        return cls(record_id(partner, scope, key), fingerprint(command, arguments))


class IdempotencyRecords:
    """Reads and makes idempotency records in the application's repository.

    A record is saved in the same transaction as its command's events by the caller; this
    only finds earlier outcomes and builds new records.
    """

    def __init__(self, repository: Repository[UUID], clock: Callable[[], datetime]) -> None:
        self._repository = repository
        self._clock = clock

    def earlier(self, call: IdempotentCall) -> dict[str, Any] | None:
        """The outcome an earlier attempt of ``call`` kept, if any.

        ``IdempotencyKeyReusedError`` when the key was used for another request;
        ``CaseNotFoundError`` when the record's case keys were destroyed (erased case).
        """
        try:
            record: object = self._repository.get(call.record_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(record, IdempotencyRecord) or record.redacted:
            raise CaseNotFoundError("case not found")
        if record.fingerprint != call.fingerprint:
            raise IdempotencyKeyReusedError("idempotency key was used for another request")
        return record.result

    def record(
        self, call: IdempotentCall, result: dict[str, Any], *, case_id: str, partner: str
    ) -> IdempotencyRecord:
        """A new record of ``result``, sealed under ``partner``'s keys of ``case_id``."""
        return IdempotencyRecord._create(
            IdempotencyRecord.Recorded,
            id=call.record_id,
            case_id=case_id,
            partner=partner,
            fingerprint=call.fingerprint,
            result=result,
            timestamp=self._clock(),
        )
