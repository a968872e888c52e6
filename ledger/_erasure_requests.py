"""Erasure requests that wait for a second privacy officer (four eyes).

A request records what is to be erased (scope and ids, ground), who asked and until when it
may be confirmed; it destroys nothing. Its confirmation records who confirmed; the ledger then
carries out the erasure under the request's id, so the certificate and the request share one
id. Ids and covenant terms only, so the events are sealed under the ledger's registry key
(they outlive the erasure they describe).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate


class ErasureRequest(Aggregate):
    """A four-eyes erasure: requested, then confirmed (and carried out) or left to expire."""

    def __init__(self) -> None:
        self.scope = ""
        self.ground = ""
        self.case_id = ""
        self.subject_id = ""
        self.fact_id = ""
        self.org = ""
        self.requested_by = ""
        self.requested_partner = ""
        self.requested_at: datetime | None = None
        self.expires_at: datetime | None = None
        self.confirmed_by = ""
        self.confirmed_at: datetime | None = None
        self.executed_at: datetime | None = None

    class Requested(Aggregate.Created):
        scope: str
        ground: str
        case_id: str
        subject_id: str
        fact_id: str
        org: str
        requested_by: str
        requested_partner: str
        on_behalf_of: str | None
        expires_at: datetime
        covenant: str  # ``<version>:<content hash>`` in force when requested

        def apply(self, request: ErasureRequest) -> None:
            request.scope = self.scope
            request.ground = self.ground
            request.case_id = self.case_id
            request.subject_id = self.subject_id
            request.fact_id = self.fact_id
            request.org = self.org
            request.requested_by = self.requested_by
            request.requested_partner = self.requested_partner
            request.requested_at = self.timestamp
            request.expires_at = self.expires_at

    class Confirmed(Aggregate.Event):
        confirmed_by: str
        confirmed_partner: str
        on_behalf_of: str | None
        covenant: str

        def apply(self, request: ErasureRequest) -> None:
            request.confirmed_by = self.confirmed_by
            request.confirmed_at = self.timestamp

    class Executed(Aggregate.Event):
        """The confirmed erasure was carried out (its certificate has the request's id)."""

        def apply(self, request: ErasureRequest) -> None:
            request.executed_at = self.timestamp

    @property
    def request_id(self) -> str:
        return self.id.hex

    @property
    def status(self) -> str:
        if self.executed_at is not None:
            return "erased"
        return "confirmed" if self.confirmed_at is not None else "awaiting_confirmation"

    def as_dict(self) -> dict[str, Any]:
        """Ids, terms and times only (what the API shows of a pending request)."""
        return {
            "erasure_id": self.request_id,
            "status": self.status,
            "scope": self.scope,
            "ground": self.ground,
            "case_id": self.case_id or None,
            "subject_id": self.subject_id or None,
            "fact_id": self.fact_id or None,
            "org": self.org or None,
            "requested_by": self.requested_by,
            "requested_at": _iso(self.requested_at),
            "expires_at": _iso(self.expires_at),
            "confirmed_by": self.confirmed_by or None,
            "confirmed_at": _iso(self.confirmed_at),
            "erased_at": _iso(self.executed_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
