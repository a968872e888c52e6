"""The values commands take and return: who acts, a fact to record, results and reports.

Plain frozen records, no behaviour beyond validation and their JSON forms (an idempotency
record keeps a result so that a retry gets it back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ledger import _erasure
from ledger._errors import InvalidCommandError
from policies import Principal

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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, kept in an idempotency record."""
        return {"case_id": self.case_id, "version": self.version, "created_id": self.created_id}

    @classmethod
    def replayed_from(cls, data: dict[str, Any]) -> WriteResult:
        """The result an earlier attempt kept (see :meth:`as_dict`), marked as replayed."""
        return cls(str(data["case_id"]), int(data["version"]), data["created_id"], replayed=True)


class PurposeRule(Protocol):
    """Which reader purposes may read facts collected for which purpose (the covenant)."""

    def is_compatible(self, fact_purpose: str, reader_purpose: str) -> bool: ...

    @property
    def reference(self) -> str:
        """The covenant's ``<version>:<content hash>``, recorded on every write event."""
        ...


class SamePurposeOnly:
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
