"""The Meeting aggregate: a case conference (casusoverleg) whose agenda spans cases.

A meeting's own events (scheduled, rescheduled, closed, cancelled, an item's place on the
agenda) carry no case data and are sealed under the ledger's registry key. Everything that
names a case (which case an item is about, who was invited and present, the minutes) is
sealed under the partnership office's keys of that case, and minutes also under the keys of
the subjects they concern: erasing the case or a subject destroys those keys, so those events
load as ``Redacted`` and the agenda keeps the item without its case (docs/domain.md,
retention and erasure). Minutes bodies are sealed once more under a fact key, like fact
bodies, and open only on the read path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger._case import REGISTRY_SCOPE, SealingScope
from ledger._errors import CaseStatusError, InvalidCommandError, LedgerError

OFFICE = "zvh"
"""The partnership office: its keys seal every case-bound meeting event."""


class MeetingNotFoundError(LedgerError, LookupError):
    """No such meeting (or no such item of it)."""


@dataclass(slots=True)
class MinutesVersion:
    """One version of an item's minutes: the sealed body and whether the chair approved it."""

    version: int
    event_version: int
    fact_key_id: str
    sealed_body: bytes
    written_by: str
    written_at: datetime
    approved_at: datetime | None = None


@dataclass(slots=True)
class MinutesState:
    """An item's minutes: every version kept (a correction is a new version)."""

    minutes_id: str
    item_id: str
    case_id: str
    subjects: tuple[str, ...]
    sharing_partners: tuple[str, ...]
    versions: list[MinutesVersion] = field(default_factory=list)

    @property
    def current(self) -> MinutesVersion:
        return self.versions[-1]


@dataclass(slots=True)
class AgendaItem:
    """An item; ``case_id`` is None once the case's (or office's) keys were destroyed."""

    item_id: str
    order: int
    case_id: str | None = None
    invited: tuple[str, ...] = ()
    present_partners: tuple[str, ...] = ()
    present_users: tuple[str, ...] = ()
    minutes: dict[str, MinutesState] = field(default_factory=dict)


def meeting_key_subject(meeting_id: str) -> str:
    """The key-store "subject" of one meeting's data in a case: the office's key for it is
    destroyed to erase that meeting's data in the case alone (a cancelled meeting's rule)."""
    return f"meeting-{meeting_id}"


def _case_scope(meeting_id: str, case_id: str, subjects: tuple[str, ...] = ()) -> SealingScope:
    """The office's keys of the case, of this meeting in the case, and of ``subjects``."""
    return (OFFICE, case_id, (meeting_key_subject(meeting_id), *subjects))


class Meeting(Aggregate):
    """A case conference: when and where, its chair, its status and its agenda."""

    def __init__(self) -> None:
        self.scheduled_at: datetime | None = None
        self.place = ""
        self.chair = ""
        self.status = "planned"
        self.items: dict[str, AgendaItem] = {}
        self.reschedules = 0
        self.next_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.redacted_events = 0

    @property
    def meeting_id(self) -> str:
        return str(self.id)

    # -- queries and invariants -----------------------------------------------------------

    def require_status(self, *allowed: str) -> None:
        if self.status not in allowed:
            raise CaseStatusError(f"meeting is {self.status}", code="meeting_status")

    def require_item(self, item_id: str) -> AgendaItem:
        item = self.items.get(item_id)
        if item is None:
            raise MeetingNotFoundError("no such agenda item")
        return item

    def item_for_case(self, item_id: str, case_id: str) -> AgendaItem:
        item = self.require_item(item_id)
        if item.case_id != case_id:
            raise InvalidCommandError("the item is about another case", code="item_not_for_case")
        return item

    def has_item_for(self, case_id: str) -> bool:
        return any(item.case_id == case_id for item in self.items.values())

    def find_minutes(self, minutes_id: str) -> tuple[AgendaItem, MinutesState]:
        for item in self.items.values():
            if minutes_id in item.minutes:
                return item, item.minutes[minutes_id]
        raise MeetingNotFoundError("no such minutes")

    # -- events ---------------------------------------------------------------------------

    class Event(Aggregate.Event):
        """Who, for whom, why, when; as on every case event."""

        actor: str
        partner: str
        on_behalf_of: str | None
        purpose_of_use: str
        covenant: str
        redacted_class: ClassVar[type[Any]]

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            return REGISTRY_SCOPE

    class Scheduled(Event, Aggregate.Created):
        scheduled_at: datetime
        place: str
        chair: str

        def apply(self, meeting: Meeting) -> None:
            meeting.scheduled_at = self.scheduled_at
            meeting.place = self.place
            meeting.chair = self.chair

    class Rescheduled(Event):
        """Convened earlier (or later): a new time, the reason a code or short text."""

        scheduled_at: datetime
        reason: str

        def apply(self, meeting: Meeting) -> None:
            meeting.scheduled_at = self.scheduled_at
            meeting.reschedules += 1

    class ItemPlaced(Event):
        """An item's place on the agenda; what it is about follows in ``ItemAssigned``."""

        item_id: str
        order: int

        def apply(self, meeting: Meeting) -> None:
            meeting.items[self.item_id] = AgendaItem(self.item_id, self.order)

    class ItemAssigned(Event):
        item_id: str
        case_id: str
        invited: list[str]

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            return _case_scope(aggregate_id, self.case_id)

        def apply(self, meeting: Meeting) -> None:
            item = meeting.items[self.item_id]
            item.case_id = self.case_id
            item.invited = tuple(self.invited)

    class AttendanceRecorded(Event):
        item_id: str
        case_id: str
        partners: list[str]
        users: list[str]

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            return _case_scope(aggregate_id, self.case_id)

        def apply(self, meeting: Meeting) -> None:
            item = meeting.items[self.item_id]
            item.present_partners = tuple(self.partners)
            item.present_users = tuple(self.users)
            meeting.status = "held"

    class MinutesWritten(Event):
        """A version of an item's minutes (the first, or a correction), in draft."""

        item_id: str
        case_id: str
        minutes_id: str
        minutes_version: int
        subjects: list[str]
        sharing_partners: list[str]
        fact_key_id: str
        sealed_body: bytes
        presealed_field: ClassVar[str] = "sealed_body"

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            return _case_scope(aggregate_id, self.case_id, tuple(self.subjects))

        def apply(self, meeting: Meeting) -> None:
            item = meeting.items[self.item_id]
            minutes = item.minutes.get(self.minutes_id)
            if minutes is None:
                minutes = MinutesState(
                    self.minutes_id,
                    self.item_id,
                    self.case_id,
                    tuple(self.subjects),
                    tuple(self.sharing_partners),
                )
                item.minutes[self.minutes_id] = minutes
            minutes.versions.append(
                MinutesVersion(
                    self.minutes_version,
                    self.originator_version,
                    self.fact_key_id,
                    self.sealed_body,
                    self.actor,
                    self.timestamp,
                )
            )

    class MinutesApproved(Event):
        item_id: str
        case_id: str
        minutes_id: str
        minutes_version: int

        def sealing_scope(self, aggregate_id: str) -> SealingScope:
            return _case_scope(aggregate_id, self.case_id)

        def apply(self, meeting: Meeting) -> None:
            minutes = meeting.items[self.item_id].minutes.get(self.minutes_id)
            if minutes is None:  # its versions were redacted (a subject's keys destroyed)
                return
            for version in minutes.versions:
                if version.version == self.minutes_version:
                    version.approved_at = self.timestamp

    class Closed(Event):
        next_at: datetime | None

        def apply(self, meeting: Meeting) -> None:
            meeting.status = "closed"
            meeting.next_at = self.next_at
            meeting.closed_at = self.timestamp

    class Cancelled(Event):
        reason: str

        def apply(self, meeting: Meeting) -> None:
            meeting.status = "cancelled"
            meeting.closed_at = self.timestamp

    class Redacted(Event):
        """Stands in for an event whose keys were destroyed: it only advances the version.

        Only case-bound events can be redacted (the meeting's own are registry-sealed), so
        the meeting itself always exists; an item whose ``ItemAssigned`` is gone keeps its
        place on the agenda without a case.
        """

        def mutate(self, aggregate: Any) -> Any:
            aggregate.version = self.originator_version
            aggregate.redacted_events += 1
            return aggregate


Meeting.Event.redacted_class = Meeting.Redacted


def meeting_uuid(meeting_id: str) -> UUID:
    """Parse a meeting id; unknown formats are simply not found."""
    try:
        return UUID(meeting_id)
    except (ValueError, TypeError, AttributeError):
        raise MeetingNotFoundError("meeting not found") from None
