"""The meeting tables on both stores: kept by the runner, equal to a rebuild after every kind
of erasure that reaches an agenda, and used by the meeting reads so that a read loads only
the meetings it concerns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from projections import MeetingReads, ReadRequest
from tests.conftest import ctx
from tests.integration._ledger_support import PRIVACY_OFFICER, REGIE, open_active_case
from tests.integration.read_helpers import ReadStack

WHEN = datetime(2031, 5, 4, 14, 0, tzinfo=UTC)
PURPOSE = "zvh_joint_approach"
OFFICE_READER = ReadRequest(REGIE.principal, PURPOSE)


def _rows(stack: ReadStack) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    stack.runner.catch_up()
    meetings = stack.views.fetch(
        "SELECT meeting_id, scheduled_at, status, closed_at IS NOT NULL, version"
        " FROM cl_meetings ORDER BY planned_at"
    )
    agenda = stack.views.fetch(
        "SELECT meeting_id, item_order, case_id FROM cl_agenda ORDER BY meeting_id, item_order"
    )
    return meetings, agenda


def _schedule(stack: ReadStack, when: datetime = WHEN) -> str:
    return stack.ledger.schedule_meeting(REGIE, scheduled_at=when, place="room 2").case_id


def _assert_rebuild_equals_live(stack: ReadStack) -> None:
    stack.runner.catch_up()
    live = stack.views.content_hash()
    stack.runner.rebuild()
    assert stack.views.content_hash() == live


class TestMeetingTables:
    def test_the_runner_keeps_time_status_and_agenda(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        case_a, case_b = open_active_case(ledger, invite=()), open_active_case(ledger, invite=())
        meeting_id = _schedule(stack)
        earlier = datetime(2031, 5, 1, 9, 30, tzinfo=UTC)
        ledger.reschedule_meeting(REGIE, meeting_id, scheduled_at=earlier, reason="urgent")
        first = ledger.add_agenda_item(REGIE, meeting_id, case_id=case_a, invited=["ggz"])
        ledger.add_agenda_item(REGIE, meeting_id, case_id=case_b, invited=[])
        meetings, agenda = _rows(stack)
        assert meetings == [(meeting_id, "2031-05-01T09:30:00.000000+00:00", "planned", False, 6)]
        assert agenda == [(meeting_id, 1, case_a), (meeting_id, 2, case_b)]
        ledger.record_attendance(
            REGIE, meeting_id, str(first.created_id), partners=["zvh"], users=["zvh-pr"]
        )
        assert _rows(stack)[0][0][2] == "held"
        ledger.close_meeting(REGIE, meeting_id, next_at=WHEN + timedelta(days=28))
        meetings, _ = _rows(stack)
        assert meetings[0][2:4] == ("closed", True)
        _assert_rebuild_equals_live(stack)

    def test_erasing_a_case_leaves_its_items_without_a_case(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        case_a, case_b = open_active_case(ledger, invite=()), open_active_case(ledger, invite=())
        meeting_id = _schedule(stack)
        for case_id in (case_a, case_b):
            ledger.add_agenda_item(REGIE, meeting_id, case_id=case_id, invited=[])
        ledger.erase_case(PRIVACY_OFFICER, case_a, ground="retention")
        _, agenda = _rows(stack)
        assert agenda == [(meeting_id, 1, None), (meeting_id, 2, case_b)]
        _assert_rebuild_equals_live(stack)
        assert _rows(stack)[1] == agenda

    def test_erasing_one_meetings_data_touches_that_meeting_only(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        case_id = open_active_case(ledger, invite=())
        cancelled, kept = _schedule(stack), _schedule(stack, WHEN + timedelta(days=7))
        for meeting_id in (cancelled, kept):
            ledger.add_agenda_item(REGIE, meeting_id, case_id=case_id, invited=[])
        ledger.cancel_meeting(REGIE, cancelled, reason="no quorum")
        ledger.erase_meeting_data(PRIVACY_OFFICER, cancelled, ground="retention")
        meetings, agenda = _rows(stack)
        assert [m[2] for m in meetings] == ["cancelled", "planned"]
        assert sorted(agenda, key=lambda r: r[0] != cancelled) == [
            (cancelled, 1, None),
            (kept, 1, case_id),
        ]
        _assert_rebuild_equals_live(stack)
        assert sorted(_rows(stack)[1]) == sorted(agenda)


class TestReadsLoadOnlyTheMeetingsTheyConcern:
    def test_a_window_loads_the_meetings_in_it_that_the_reader_may_see(
        self, stack: ReadStack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ledger = stack.ledger
        ours = open_active_case(ledger, invite=["ggz"])
        theirs = open_active_case(ledger, invite=())
        for day in range(6):  # meetings about a case ggz takes no part in
            meeting_id = _schedule(stack, WHEN + timedelta(days=day))
            ledger.add_agenda_item(REGIE, meeting_id, case_id=theirs, invited=[])
        shown = _schedule(stack, WHEN + timedelta(days=2, hours=3))
        ledger.add_agenda_item(REGIE, shown, case_id=ours, invited=[])
        outside = _schedule(stack, WHEN + timedelta(days=30))
        ledger.add_agenda_item(REGIE, outside, case_id=ours, invited=[])
        loaded: list[str] = []
        get_meeting = ledger.get_meeting

        def counting(meeting_id: str) -> object:
            loaded.append(meeting_id)
            return get_meeting(meeting_id)

        monkeypatch.setattr(ledger, "get_meeting", counting)
        ggz = ReadRequest(ctx("ggz", "deelnemer", user="ggz-pro").principal, PURPOSE)
        found = MeetingReads(stack.reads).meetings(ggz, WHEN, WHEN + timedelta(days=7))
        assert [m["meeting_id"] for m in found] == [shown]
        assert loaded == [shown]

    def test_due_cases_and_case_minutes_come_from_the_tables(
        self, stack: ReadStack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ledger = stack.ledger
        planned_case = open_active_case(ledger, invite=())
        held_case = open_active_case(ledger, invite=())
        never_case = open_active_case(ledger, invite=())
        future = _schedule(stack, WHEN)
        ledger.add_agenda_item(REGIE, future, case_id=planned_case, invited=[])
        past = _schedule(stack, WHEN - timedelta(days=5))
        item = ledger.add_agenda_item(REGIE, past, case_id=held_case, invited=[])
        ledger.record_attendance(REGIE, past, str(item.created_id), partners=["zvh"], users=[])
        ledger.close_meeting(REGIE, past)
        loaded: list[str] = []
        get_meeting = ledger.get_meeting
        monkeypatch.setattr(ledger, "get_meeting", lambda m: (loaded.append(m), get_meeting(m))[1])
        due = {
            d["case_id"]: d["last_meeting_at"]
            for d in MeetingReads(stack.reads).due_cases(OFFICE_READER)
        }
        assert due == {held_case: "2031-04-29T14:00:00+00:00", never_case: None}
        assert loaded == []
        assert MeetingReads(stack.reads).case_minutes(OFFICE_READER, held_case) == []
        assert loaded == [past]
