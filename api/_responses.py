"""Wire schemas of the responses (``...Public``): never an aggregate, only what a role may see.

Every write answer carries the case's new ``version`` (also sent as the ``ETag``). The case
view leaves ``body`` out of a fact whose content the caller may not see (the privacy officer
sees metadata of every fact, the content of none).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteAck(_Public):
    """A write's outcome: the new case version plus the id the write concerns or created."""

    version: int
    case_id: str | None = None
    status: str | None = None
    subject_id: str | None = None
    identity_fact_id: str | None = None
    org: str | None = None
    user: str | None = None
    fact_id: str | None = None
    action_id: str | None = None
    consent_id: str | None = None
    phase: int | None = None
    decision: str | None = None
    meeting_id: str | None = None
    item_id: str | None = None
    minutes_id: str | None = None
    replayed: bool = False
    #: Present (true) when the write asked for what already held: nothing was stored.
    unchanged: bool | None = None


class SharingPublic(_Public):
    level: str
    partners: list[str] | None = None


class FactPublic(_Public):
    fact_id: str
    kind: str
    owner: str
    subjects: list[str]
    categories: list[str]
    purpose: str
    legal_basis: str = ""
    sharing: SharingPublic
    recorded_at: str
    body: Any = None
    emergency: bool = False
    #: ``consent_withdrawn_awaiting_erasure``: its owner sees that it exists, not its body.
    status: str | None = None


class SubjectPublic(_Public):
    subject_id: str
    case_role: str


class ActionPublic(_Public):
    """One action; ``what`` (free text) is left out of the privacy officer's metadata view."""

    action_id: str
    assignee: str
    what: str | None = None
    due: str
    status: str


class PictureRef(_Public):
    owner: str
    fact_id: str


class GoalRef(_Public):
    fact_id: str


class StartingPointRefs(_Public):
    """The case view's current starting point: the ids of the current pictures (one per
    partner) and goal the reader may see; their content is among the view's facts."""

    pictures: list[PictureRef]
    goal: GoalRef | None = None


class CaseSummaryPublic(_Public):
    case_id: str
    status: str
    phase: int
    purpose: str
    version: int


class CaseList(_Public):
    cases: list[CaseSummaryPublic]


class CasePublic(_Public):
    """The role-filtered case view; ``withheld`` counts facts the caller may not see."""

    case_id: str
    status: str
    phase: int
    purpose: str
    participants: list[str]
    subjects: list[SubjectPublic]
    facts: list[FactPublic]
    withheld: int
    actions: list[ActionPublic]
    version: int
    notification: dict[str, Any] | None = None
    emergency: bool = False
    #: ``withheld`` by reason: owner_only, not_shared, category, purpose, consent,
    #: consent_withdrawn, erased, retention, case_status, not_participant, role, ...
    withheld_by_reason: dict[str, int] = {}
    #: The emergency grant this view used (id, end of its time box), while one runs.
    emergency_grant: dict[str, str] | None = None
    #: Who directs the case: per role (casusregisseur, procesregisseur) the named user, its
    #: partner and since when. Left out of a referring melder's view.
    direction: dict[str, dict[str, str]] = {}
    #: The referring partner of a case a melder referred (``POST /v1/referrals``).
    referred_by: str | None = None
    starting_point: StartingPointRefs | None = None


class StartingPointPublic(_Public):
    """The current shared starting point as the caller may see it: the latest picture of each
    partner (a ``shared_starting_point`` fact it owns; its body holds the picture, chances and
    threats) and the latest shared goal (the partnership office's); ``withheld`` counts the
    current ones the caller may not see."""

    case_id: str
    version: int
    pictures: list[FactPublic]
    goal: FactPublic | None = None
    withheld: int
    withheld_by_reason: dict[str, int] = {}


class CaseActionPublic(ActionPublic):
    """An action of the list across cases: its case, and whether it is overdue."""

    case_id: str
    overdue: bool


class CaseActionPage(_Public):
    """A page of actions in (due, case, action) order; ``next`` continues it (the ``cursor``
    of the next request), null on the last page. ``today`` is the date overdue is measured
    against (UTC)."""

    actions: list[CaseActionPublic]
    next: str | None = None
    today: str


class ActionList(_Public):
    case_id: str
    version: int
    actions: list[ActionPublic]


class AuditEntryPublic(_Public):
    seq: int
    entry_id: str
    trace_id: str
    time: str
    actor: str
    org: str
    role: str
    on_behalf_of: str
    purpose: str
    case_id: str
    fact_ids: list[str]
    subject: str
    decision: str
    reason: str
    emergency: bool
    outcome: str
    covenant: str = Field(
        description="The covenant in force for this decision: `<version>:<content hash>`"
        " (empty on entries from before covenants were recorded)."
    )


class AuditEntries(_Public):
    entries: list[AuditEntryPublic]
    next: str | None


class AuditVerification(_Public):
    ok: bool
    entries: int
    checkpoints: int
    first_bad_seq: int | None
    problem: str | None


class ErasurePublic(_Public):
    erasure_id: str
    certificate: dict[str, Any]
    replayed: bool = False


class ErasurePending(_Public):
    """An erasure request awaiting (or past) its second privacy officer; nothing destroyed
    until ``status`` is ``erased`` (then its certificate has the same id)."""

    erasure_id: str
    status: Literal["awaiting_confirmation", "confirmed", "erased"]
    scope: str
    ground: str
    case_id: str | None = None
    subject_id: str | None = None
    fact_id: str | None = None
    org: str | None = None
    requested_by: str
    requested_at: str | None
    expires_at: str | None
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    erased_at: str | None = None
    replayed: bool = False


class Health(_Public):
    status: Literal["ok", "ready"]
    checks: dict[str, str] = {}
