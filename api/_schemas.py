"""Wire schemas of the requests (``...Create``): the contract's field names, strictly typed.

Everything a projection stores in the clear (kinds, categories, roles, dates, ids) is
constrained to covenant vocabulary, enumerations, dates or opaque ids, so free text, which may
be personal data, can only travel in fields the ledger seals (bodies, reasons, descriptions).
Covenant membership (is this a declared purpose, partner, category?) is checked by the routes
against the loaded covenant; the OpenAPI document lists the declared values.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

#: A covenant id (purpose, partner, category, kind, legal basis).
CovenantId = Annotated[str, Field(pattern=r"^[a-z_]{1,64}$", examples=["zvh_joint_approach"])]
PartnerRef = Annotated[str, Field(pattern=r"^[a-z_]{1,64}$", examples=["reclassering"])]
#: An opaque hex id (subjects, facts, actions, consents, erasures).
HexId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", examples=["3f2a9c0d" * 4])]
#: A user id as tokens carry it (``sub``): visible ASCII, 1-255 characters.
UserRef = Annotated[str, Field(pattern=r"^[!-~]{1,255}$", examples=["reclassering-cr-1"])]
CASE_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
HEX_ID_PATTERN = r"^[0-9a-f]{32}$"
CaseRef = Annotated[str, Field(pattern=CASE_ID_PATTERN)]
#: Free text (sealed by the ledger): no control, bidi-override or non-character code points.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff]*$"
Reason = Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]
OptionalReason = Annotated[str, Field(max_length=2000, pattern=TEXT_PATTERN)]
Phase = Annotated[int, Field(ge=1, le=4, description="AVE phase 1-4")]
CaseRole = Literal[
    "client", "suspect", "victim", "child", "family_member", "household_member", "relation"
]
#: Grounds an erasure is recorded under (AVG art. 17(1); retention: art. 5(1)(e)).
ErasureGround = Literal[
    "art17_request", "owner_withdrawal", "consent_withdrawn", "retention", "owner_retraction"
]
SharingLevelName = Literal["owner", "regie", "participants", "partners"]

#: RFC 3339 ``date-time`` (section 5.6): a full date, a time, and ``Z`` or an offset.
_RFC3339_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)


def _rfc3339_text(value: object) -> object:
    """Only RFC 3339 text reaches the datetime parser, which would otherwise take a number as
    a Unix time, and a naive time or a bare date as valid."""
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    if isinstance(value, str) and _RFC3339_DATE_TIME.fullmatch(value):
        return value
    raise ValueError("Use an RFC 3339 date-time with Z or an offset: 2026-03-01T09:00:00Z.")


#: A moment given as an RFC 3339 date-time with ``Z`` or an offset (``2026-03-01T09:00:00Z``,
#: ``2026-03-01T10:00:00+01:00``); a number, a bare date or a time without an offset is 422.
DateTimeParam = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    Field(
        description="An RFC 3339 date-time with `Z` or an offset, e.g. `2026-03-01T09:00:00Z`; "
        "a bare date, a time without an offset or a number is refused (422)."
    ),
]


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseCreate(_Create):
    """Open a case (procesregisseur)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "purpose": "zvh_joint_approach",
                    "legal_basis": "wgs",
                    "referred_by": "politie",
                    "phase": 3,
                }
            ]
        },
    )
    purpose: CovenantId
    legal_basis: CovenantId
    referred_by: PartnerRef
    phase: Phase


class TriageCreate(_Create):
    decision: Literal["accept", "reject"]
    reason: Reason


class SharingNamed(_Create):
    """Only the named partners besides the owner (required for health and criminal facts)."""

    level: Literal["partners"]
    partners: Annotated[list[PartnerRef], Field(min_length=1, max_length=20)]


class SharingOpen(_Create):
    """The owner only, the case directors (``regie``), or every active participant."""

    level: Literal["owner", "regie", "participants"]

    @property
    def partners(self) -> list[str]:
        return []


SharingIn = Annotated[SharingNamed | SharingOpen, Field(discriminator="level")]


class SubjectCreate(_Create):
    """Add a subject; identifying data, when given, is recorded as a sealed fact you own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"case_role": "client", "identity": {"name": "M. Voorbeeld"}}]
        },
    )
    case_role: CaseRole
    identity: dict[str, Any] | None = None
    sharing: SharingIn = SharingOpen(level="participants")
    legal_basis: CovenantId | None = None


class ParticipantCreate(_Create):
    org: PartnerRef


class FactCreate(_Create):
    """Record a fact owned by the caller's partner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "observation",
                    "subjects": ["3f2a9c0d" * 4],
                    "categories": ["health"],
                    "purpose": "zvh_joint_approach",
                    "legal_basis": "wgs",
                    "sharing": {"level": "partners", "partners": ["reclassering"]},
                    "body": {"text": "..."},
                }
            ]
        },
    )
    kind: CovenantId
    subjects: Annotated[list[HexId], Field(max_length=50)] = []
    categories: Annotated[list[CovenantId], Field(min_length=1, max_length=20)]
    purpose: CovenantId
    legal_basis: CovenantId
    sharing: SharingIn
    body: Any


class CorrectionCreate(_Create):
    body: Any


class RetractionCreate(_Create):
    reason: OptionalReason = ""


class ActionCreate(_Create):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"assignee": "gemeente", "what": "Schuldhulp", "due": "2026-12-01"}]
        },
    )
    assignee: PartnerRef
    what: Reason
    due: date
    #: The meeting and agenda item (of this case) the action was agreed at: both or neither.
    meeting: CaseRef | None = None
    item: HexId | None = None

    @model_validator(mode="after")
    def _meeting_with_item(self) -> ActionCreate:
        if (self.meeting is None) != (self.item is None):
            raise ValueError("Give meeting and item together, or neither.")
        return self


class ActionStatusCreate(_Create):
    status: Literal["open", "in_progress", "done", "cancelled"]


class PhaseCreate(_Create):
    phase: Phase
    reason: Reason


class InformCreate(_Create):
    """Inform the subject."""

    decision: Literal["inform"]
    reason: OptionalReason = ""


class DeferCreate(_Create):
    """Do not inform yet: why, and when to decide again."""

    decision: Literal["defer"]
    reason: Reason
    review_at: date


NotificationCreate = Annotated[InformCreate | DeferCreate, Field(discriminator="decision")]


class ConsentCreate(_Create):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": "3f2a9c0d" * 4,
                    "purpose": "aftercare_detention",
                    "categories": ["housing", "finance"],
                    "recipients": ["gemeente"],
                }
            ]
        },
    )
    subject: HexId
    purpose: CovenantId
    categories: Annotated[list[CovenantId], Field(min_length=1, max_length=20)]
    recipients: Annotated[list[PartnerRef], Field(min_length=1, max_length=20)]


class WithdrawalCreate(_Create):
    pass


class CloseCreate(_Create):
    reason: OptionalReason = ""


class _Erasure(_Create):
    ground: ErasureGround
    # The contract lists every id; those a scope does not use may be sent as null.
    case_id: None = None
    subject_id: None = None
    fact_id: None = None
    org: None = None


class FactErasure(_Erasure):
    scope: Literal["fact"]
    case_id: CaseRef  # type: ignore[assignment]
    fact_id: HexId  # type: ignore[assignment]


class SubjectErasure(_Erasure):
    """Everything about one subject in a case (every owner's keys for that subject)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "scope": "subject",
                    "case_id": "0b6f3c1e-5d2a-4c8e-9f10-2a3b4c5d6e7f",
                    "subject_id": "3f2a9c0d" * 4,
                    "ground": "art17_request",
                }
            ]
        },
    )
    scope: Literal["subject"]
    case_id: CaseRef  # type: ignore[assignment]
    subject_id: HexId  # type: ignore[assignment]


class CaseErasure(_Erasure):
    scope: Literal["case"]
    case_id: CaseRef  # type: ignore[assignment]


class OwnerErasure(_Erasure):
    """Everything one partner contributed, in every case (its key-encryption key retired)."""

    scope: Literal["owner"]
    org: PartnerRef  # type: ignore[assignment]


ErasureCreate = Annotated[
    FactErasure | SubjectErasure | CaseErasure | OwnerErasure, Field(discriminator="scope")
]


class DirectorCreate(_Create):
    """Name the user, and the partner it works for, who directs the case in this role."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"user": "reclassering-cr-1", "org": "reclassering"}]},
    )
    user: UserRef
    org: PartnerRef


class ReferralCreate(_Create):
    """A melder's referral: a new case in triage, its subject, and the ``referral`` fact
    about that subject, owned by the melder's partner (sharing ``regie`` unless chosen)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "purpose": "zvh_joint_approach",
                    "legal_basis": "wgs",
                    "phase": 2,
                    "case_role": "client",
                    "categories": ["safety_risk", "housing"],
                    "sharing": {"level": "regie"},
                    "body": {"text": "..."},
                }
            ]
        },
    )
    purpose: CovenantId
    legal_basis: CovenantId
    phase: Phase
    case_role: CaseRole = "client"
    categories: Annotated[list[CovenantId], Field(min_length=1, max_length=20)]
    sharing: SharingIn = SharingOpen(level="regie")
    body: Any
