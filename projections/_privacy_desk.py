"""The ground every part of the privacy officer's desk stands on: the one read pipeline.

Everything on the desk reads for the ``accountability`` purpose through the same policy
functions and access log as every other read. Whether the caller may supervise at all is
``policies.decide_supervision``'s decision, never the desk's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from policies import AccessDecision, Covenant, ReasonCode, decide_supervision
from projections._read_records import ReadDeniedError, ReadRequest
from projections._views import ReadService

Progress = Callable[[int, int], None]
#: Access-log reasons of grants that showed no content (``ReasonCode.metadata_only``).
METADATA_ONLY_REASONS = frozenset(str(code) for code in ReasonCode if code.metadata_only)


class PrivacyDesk:
    """Shared state of the privacy officer's operations (mixed into ``PrivacyOffice``)."""

    def __init__(self, reads: ReadService, *, key_store_backup_days: int = 35) -> None:
        self.reads = reads
        self.ledger = reads.ledger
        self.views = reads.views
        self.log = reads.access_log
        self.clock = reads.clock
        self.backup_days = key_store_backup_days

    @property
    def covenant(self) -> Covenant:
        """The read service's covenant (one place: a reload swaps it there)."""
        return self.reads.covenant

    def _require_officer(self, request: ReadRequest) -> AccessDecision:
        """Supervision is the privacy officer's, for a metadata purpose (policies decide);
        the allowing decision is returned for the access log."""
        decision = decide_supervision(self.covenant, request.principal, request.purpose)
        if not decision.allowed:
            raise ReadDeniedError("not permitted")
        return decision


def json_list(text: Any) -> list[str]:
    """A stored JSON list of strings."""
    return [str(v) for v in json.loads(str(text))]


def utc(instant: str) -> str:
    """An instant as the access log writes times (UTC, ISO 8601), for range filters."""
    return datetime.fromisoformat(instant).astimezone(UTC).isoformat()


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
