"""Request bodies of the meeting routes (``api.routes.meetings``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from api._schemas import (
    CaseRef,
    DateTimeParam,
    HexId,
    OptionalReason,
    PartnerRef,
    _Create,
)

Place = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
UserRef = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._@-]+$")]


class MeetingCreate(_Create):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"scheduled_at": "2026-05-04T14:00:00Z", "place": "ZVH, room 2"}]
        },
    )
    scheduled_at: DateTimeParam
    place: Place


class MeetingReschedule(_Create):
    scheduled_at: DateTimeParam
    reason: OptionalReason = ""


class AgendaItemCreate(_Create):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"case_id": "3f2a9c0d-...", "invited": ["ggz"]}]},
    )
    case_id: CaseRef
    invited: list[PartnerRef] = Field(default_factory=list, max_length=64)


class AttendanceCreate(_Create):
    partners: list[PartnerRef] = Field(max_length=64)
    users: list[UserRef] = Field(default_factory=list, max_length=256)


class MinutesCreate(_Create):
    """Minutes of an item; ``minutes_id`` makes it a correction (a new version)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": {"text": "..."}, "subjects": []}]},
    )
    body: Any
    subjects: list[HexId] = Field(default_factory=list, max_length=64)
    sharing: list[PartnerRef] | None = Field(default=None, max_length=64)
    minutes_id: HexId | None = None


class MeetingClose(_Create):
    next_at: DateTimeParam | None = None


class MeetingCancel(_Create):
    reason: OptionalReason = ""
