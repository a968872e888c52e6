"""What a read asks and what it answers: the request, the views handed out, the refusal.

The views are plain frozen records; they hold only what the policy decision admitted (bodies
of facts decided ``content``, metadata of the rest of the admitted facts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger import CaseNotFoundError
from policies import AccessDecision, Principal

Clock = Callable[[], datetime]


class ReadDeniedError(CaseNotFoundError):
    """The caller may not see this case; looks exactly like an unknown case (404)."""


class ReadRefusedError(Exception):
    """A refusal the caller may know of (nothing it may not see is revealed by it): the clerk
    on a case's starting point, a listing no case could allow. ``decision`` is logged."""

    def __init__(self, decision: AccessDecision) -> None:
        super().__init__(str(decision.reason))
        self.decision = decision


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """Who reads, for which declared purpose, maybe breaking the glass."""

    principal: Principal
    purpose: str
    emergency_reason: str | None = None
    trace_id: str = ""

    @property
    def role(self) -> str:
        return ",".join(sorted(self.principal.roles))


@dataclass(frozen=True, slots=True)
class FactView:
    fact_id: str
    kind: str
    owner: str
    subjects: tuple[str, ...]
    categories: tuple[str, ...]
    purpose: str
    sharing: dict[str, Any]
    recorded_at: str
    body: Any | None = None
    has_body: bool = False
    emergency: bool = False
    reason: str = ""
    legal_basis: str = ""
    #: Set when the reader sees only that the fact exists (its owner, after a withdrawal).
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ActionView:
    action_id: str
    assignee: str
    what: str | None
    due: str
    status: str


@dataclass(frozen=True, slots=True)
class CaseOverview:
    case_id: str
    status: str
    phase: int
    purpose: str
    participants: tuple[str, ...]
    subjects: tuple[dict[str, str], ...]
    facts: tuple[FactView, ...]
    withheld: int
    actions: tuple[ActionView, ...]
    version: int
    notification: dict[str, Any] | None = None
    emergency: bool = False
    #: ``withheld`` by reason (``policies.Withheld``); never names a fact.
    withheld_by_reason: dict[str, int] = field(default_factory=dict)
    #: The reader's emergency grant in use: id and end of its time box.
    emergency_grant: dict[str, str] | None = None
    #: Who directs the case, per role (left out of the referring melder's view).
    direction: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The referring partner of a referred case (``POST /v1/referrals``).
    referred_by: str | None = None
    #: The current shared starting point among the shown facts: ``pictures`` (owner and
    #: fact id each) and ``goal`` (its fact id, or None).
    starting_point: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case_id: str
    status: str
    phase: int
    purpose: str
    version: int
