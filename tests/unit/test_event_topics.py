"""Stored events name their class by topic (module:qualname): the classes stay where the
stores already holding their events expect them, whatever else moves around them."""

from __future__ import annotations

import pytest
from eventsourcing.utils import get_topic, resolve_topic

from ledger import Case, Meeting
from ledger._erasure_requests import ErasureRequest
from ledger._idempotency import IdempotencyRecord

CASE_EVENTS = [
    "Opened",
    "TriageDecided",
    "SubjectAdded",
    "ParticipantInvited",
    "ParticipantRemoved",
    "FactRecorded",
    "FactCorrected",
    "FactRetracted",
    "ActionAgreed",
    "ActionStatusChanged",
    "PhaseChanged",
    "NotificationDecided",
    "NotificationReviewed",
    "EmergencyAccessGranted",
    "EmergencyAccessReviewed",
    "ConsentRecorded",
    "ConsentWithdrawn",
    "Closed",
    "Erased",
    "HoldPlaced",
    "HoldLifted",
    "Redacted",
    "Referred",
    "DirectorNamed",
]


@pytest.mark.parametrize("name", CASE_EVENTS)
def test_case_events_keep_their_stored_topics(name: str) -> None:
    event_class = getattr(Case, name)
    topic = f"ledger._case:Case.{name}"
    assert get_topic(event_class) == topic
    assert resolve_topic(topic) is event_class


def test_every_case_event_is_listed() -> None:
    """A new event class is added to the list above (and so to this check) when it appears."""
    found = {
        name
        for name, value in vars(Case).items()
        if isinstance(value, type) and issubclass(value, Case.Event)
    }
    found -= {"Event", "Created"}  # the library's own: the base, and a creation never used
    assert found == set(CASE_EVENTS)


@pytest.mark.parametrize(
    ("event_class", "topic"),
    [
        (IdempotencyRecord.Recorded, "ledger._idempotency:IdempotencyRecord.Recorded"),
        (IdempotencyRecord.Redacted, "ledger._idempotency:IdempotencyRecord.Redacted"),
        (ErasureRequest.Requested, "ledger._erasure_requests:ErasureRequest.Requested"),
        (ErasureRequest.Confirmed, "ledger._erasure_requests:ErasureRequest.Confirmed"),
        (ErasureRequest.Executed, "ledger._erasure_requests:ErasureRequest.Executed"),
    ],
)
def test_record_events_keep_their_stored_topics(event_class: type, topic: str) -> None:
    assert get_topic(event_class) == topic
    assert resolve_topic(topic) is event_class


MEETING_EVENTS = [
    "Scheduled",
    "Rescheduled",
    "ItemPlaced",
    "ItemAssigned",
    "AttendanceRecorded",
    "MinutesWritten",
    "MinutesApproved",
    "Closed",
    "Cancelled",
    "Redacted",
]


@pytest.mark.parametrize("name", MEETING_EVENTS)
def test_meeting_events_keep_their_stored_topics(name: str) -> None:
    event_class = getattr(Meeting, name)
    topic = f"ledger._meeting:Meeting.{name}"
    assert get_topic(event_class) == topic
    assert resolve_topic(topic) is event_class


def test_every_meeting_event_is_listed() -> None:
    found = {
        name
        for name, value in vars(Meeting).items()
        if isinstance(value, type) and issubclass(value, Meeting.Event)
    }
    assert found - {"Event", "Created"} == set(MEETING_EVENTS)
