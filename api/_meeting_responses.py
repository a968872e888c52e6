"""Response bodies of the meeting routes (``api.routes.meetings``), with OpenAPI examples."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

_ID = "3f2a9c0d" * 4
_MEETING = "7d1c5a2e-0b4f-4c3a-9e8d-2a1b3c4d5e6f"
_CASE = "0c9b8a7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MinutesRef(_Public):
    minutes_id: str
    version: int
    status: str


class ItemAction(_Public):
    """An action agreed at the item; its text is read with the case's action list."""

    action_id: str
    assignee: str
    due: str
    status: str


class AgendaItemPublic(_Public):
    item_id: str
    order: int
    case_id: str
    invited: list[str]
    present_partners: list[str]
    present_users: list[str]
    minutes: list[MinutesRef]
    actions: list[ItemAction]


class MeetingPublic(_Public):
    """A meeting as the caller may see it: the items of cases it takes part in; of the
    others only their number (``hidden_items``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "meeting_id": _MEETING,
                    "scheduled_at": "2026-05-04T14:00:00+00:00",
                    "place": "ZVH, room 2",
                    "chair": "pr-anna",
                    "status": "held",
                    "next_at": None,
                    "items": [
                        {
                            "item_id": _ID,
                            "order": 1,
                            "case_id": _CASE,
                            "invited": ["ggz"],
                            "present_partners": ["ggz", "zvh"],
                            "present_users": ["ggz-piet"],
                            "minutes": [{"minutes_id": _ID, "version": 1, "status": "final"}],
                            "actions": [],
                        }
                    ],
                    "hidden_items": 1,
                    "version": 6,
                }
            ]
        },
    )
    meeting_id: str
    scheduled_at: str | None
    place: str
    chair: str
    status: str
    next_at: str | None
    items: list[AgendaItemPublic]
    hidden_items: int
    version: int


class MeetingList(_Public):
    meetings: list[MeetingPublic]


class DueCase(_Public):
    case_id: str
    phase: int
    last_meeting_at: str | None


class DueCases(_Public):
    """Active cases the caller sees with no planned meeting ahead."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"cases": [{"case_id": _CASE, "phase": 3, "last_meeting_at": None}]}]
        },
    )
    cases: list[DueCase]


class MinutesPublic(_Public):
    minutes_id: str
    meeting_id: str
    item_id: str
    version: int
    status: str
    subjects: list[str]
    sharing: list[str]
    written_at: str
    body: Any


class CaseMinutes(_Public):
    """The case's minutes the caller may read (logged before they were shown)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "case_id": _CASE,
                    "minutes": [
                        {
                            "minutes_id": _ID,
                            "meeting_id": _MEETING,
                            "item_id": _ID,
                            "version": 1,
                            "status": "final",
                            "subjects": [],
                            "sharing": ["ggz", "zvh"],
                            "written_at": "2026-05-04T15:10:00+00:00",
                            "body": {"text": "..."},
                        }
                    ],
                }
            ]
        },
    )
    case_id: str
    minutes: list[MinutesPublic]
