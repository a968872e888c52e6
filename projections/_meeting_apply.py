"""How meeting events change the meeting tables: when, status, and which case each item is about.

The tables let the meeting reads find the meetings of a time window, of a case, or due for a
case without loading every meeting from the event store. They hold references only (ids,
times, status); attendance and minutes stay in the meeting's sealed events and are read
through the read pipeline. Each meeting row remembers the last meeting version it absorbed,
so a redelivered event is skipped and a missing one is an error, as for cases.

An item's case is sealed under the partnership office's keys of that case: once those keys
are destroyed (the case erased, the office's data erased, or the meeting's data in that case
erased), ``ItemAssigned`` decodes as redacted, so a rebuild leaves the item without a case.
:func:`forget_agenda_cases` does the same to the live tables when the erasure is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from ledger import OFFICE, LedgerError, Meeting, text_of


class Statements(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class MeetingGapError(LedgerError):
    """A meeting event arrived before one it depends on: the projection refuses to skip it."""


def utc_text(value: datetime) -> str:
    """A time as the meeting tables keep it: UTC, microseconds always written, so that text
    order is time order (range queries compare the text)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def apply_meeting_event(ex: Statements, event: Any) -> bool:
    """Apply one meeting event; False when it was already applied (redelivery)."""
    meeting_id = text_of(event.originator_id)
    version = event.originator_version
    rows = ex.fetch("SELECT version FROM cl_meetings WHERE meeting_id = ?", (meeting_id,))
    current = int(rows[0][0]) if rows else 0
    if version <= current:
        return False
    if version != current + 1:
        raise MeetingGapError(f"meeting {meeting_id}: got version {version} after {current}")
    handler = _HANDLERS.get(type(event))
    if handler is not None:
        handler(ex, meeting_id, event)
    ex.execute("UPDATE cl_meetings SET version = ? WHERE meeting_id = ?", (version, meeting_id))
    return True


def forget_agenda_cases(ex: Statements, case_id: str, scope: str, target_id: str) -> None:
    """An erasure in ``case_id`` that destroyed the office's keys of the case (or of one
    meeting in it) leaves the items about it without their case, as a rebuild would."""
    if scope == "case" or (scope == "owner" and target_id == OFFICE):
        ex.execute("UPDATE cl_agenda SET case_id = NULL WHERE case_id = ?", (case_id,))
    elif scope == "meeting":
        ex.execute(
            "UPDATE cl_agenda SET case_id = NULL WHERE case_id = ? AND meeting_id = ?",
            (case_id, target_id),
        )


def _scheduled(ex: Statements, meeting_id: str, e: Any) -> None:
    ex.execute(
        "INSERT INTO cl_meetings (meeting_id, planned_at, scheduled_at, chair, status, version)"
        " VALUES (?, ?, ?, ?, 'planned', 0)",
        (meeting_id, utc_text(e.timestamp), utc_text(e.scheduled_at), e.chair),
    )


def _rescheduled(ex: Statements, meeting_id: str, e: Any) -> None:
    ex.execute(
        "UPDATE cl_meetings SET scheduled_at = ? WHERE meeting_id = ?",
        (utc_text(e.scheduled_at), meeting_id),
    )


def _item_placed(ex: Statements, meeting_id: str, e: Any) -> None:
    ex.execute(
        "INSERT INTO cl_agenda (meeting_id, item_id, item_order) VALUES (?, ?, ?)",
        (meeting_id, e.item_id, e.order),
    )


def _item_assigned(ex: Statements, meeting_id: str, e: Any) -> None:
    ex.execute(
        "UPDATE cl_agenda SET case_id = ? WHERE meeting_id = ? AND item_id = ?",
        (e.case_id, meeting_id, e.item_id),
    )


def _held(ex: Statements, meeting_id: str, e: Any) -> None:
    ex.execute("UPDATE cl_meetings SET status = 'held' WHERE meeting_id = ?", (meeting_id,))


def _ended(status: str) -> Callable[[Statements, str, Any], None]:
    def end(ex: Statements, meeting_id: str, e: Any) -> None:
        ex.execute(
            "UPDATE cl_meetings SET status = ?, closed_at = ? WHERE meeting_id = ?",
            (status, utc_text(e.timestamp), meeting_id),
        )

    return end


_HANDLERS: dict[type[Any], Callable[[Statements, str, Any], None]] = {
    Meeting.Scheduled: _scheduled,
    Meeting.Rescheduled: _rescheduled,
    Meeting.ItemPlaced: _item_placed,
    Meeting.ItemAssigned: _item_assigned,
    Meeting.AttendanceRecorded: _held,
    Meeting.Closed: _ended("closed"),
    Meeting.Cancelled: _ended("cancelled"),
}
