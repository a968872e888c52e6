"""The Meeting aggregate on both stores: agenda, attendance, minutes and what erasure does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ledger import (
    Case,
    CaseLedger,
    CaseStatusError,
    ConcurrencyConflictError,
    InvalidCommandError,
    Meeting,
    MeetingNotFoundError,
    PurposeMismatchError,
    StoreConfig,
    minutes_context,
    open_ledger,
)
from policies import load_covenant, sample_covenant_path
from tests.conftest import ctx
from tests.integration._ledger_support import (
    PRIVACY_OFFICER,
    REGIE,
    add_subject,
    open_active_case,
)

CLERK = ctx("zvh", "administratief_medewerker", user="zvh-clerk")
WHEN = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


@pytest.fixture
def ledger(store_config: StoreConfig) -> Iterator[CaseLedger]:
    opened = open_ledger(store_config, purposes=load_covenant(sample_covenant_path()))
    yield opened
    opened.close()


def _minutes_body(ledger: CaseLedger, meeting: Meeting, item_id: str, minutes_id: str) -> object:
    minutes = meeting.items[item_id].minutes[minutes_id]
    version = minutes.current
    context = minutes_context(meeting.meeting_id, minutes_id, version.version)
    (raw,) = ledger.keys.open_bodies([(version.sealed_body, context)])
    return None if raw is None else json.loads(raw)


def _meeting_with_item(ledger: CaseLedger, case_id: str, invited: list[str]) -> tuple[str, str]:
    meeting_id = ledger.schedule_meeting(REGIE, scheduled_at=WHEN, place="room 2").case_id
    item_id = ledger.add_agenda_item(REGIE, meeting_id, case_id=case_id, invited=invited)
    assert item_id.created_id is not None
    return meeting_id, item_id.created_id


def test_an_invited_partner_joins_the_case_and_the_agenda_keeps_order(ledger: CaseLedger) -> None:
    case_a = open_active_case(ledger, invite=())
    case_b = open_active_case(ledger, invite=())
    meeting_id, first = _meeting_with_item(ledger, case_a, ["ggz"])
    second = ledger.add_agenda_item(REGIE, meeting_id, case_id=case_b, invited=[]).created_id
    assert ledger.get_case(case_a).is_active_participant("ggz")
    assert not ledger.get_case(case_b).is_active_participant("ggz")
    meeting = ledger.get_meeting(meeting_id)
    assert [meeting.items[first].order, meeting.items[str(second)].order] == [1, 2]
    assert meeting.items[first].case_id == case_a
    assert meeting.chair == REGIE.principal.user


def test_an_item_and_its_invitations_commit_together_or_not_at_all(
    ledger: CaseLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_active_case(ledger, invite=())
    meeting_id = ledger.schedule_meeting(REGIE, scheduled_at=WHEN, place="room 2").case_id
    load = ledger.get_meeting

    def moved_on_after_loading(loaded_id: str) -> Meeting:
        meeting = load(loaded_id)
        # Another process stores an event of the meeting between this load and the commit.
        elsewhere = load(loaded_id)
        ledger._pipeline.trigger(
            elsewhere, REGIE, Meeting.Rescheduled, scheduled_at=WHEN, reason="elsewhere"
        )
        ledger.save(elsewhere)
        return meeting

    monkeypatch.setattr(ledger, "get_meeting", moved_on_after_loading)
    with pytest.raises(ConcurrencyConflictError):
        ledger.add_agenda_item(REGIE, meeting_id, case_id=case_id, invited=["ggz", "woonstad"])
    monkeypatch.undo()
    ledger._cache.clear()  # from the store, not the cache
    case = ledger.get_case(case_id)
    assert not case.is_active_participant("ggz")
    assert not case.is_active_participant("woonstad")
    assert ledger.get_meeting(meeting_id).items == {}
    retried = ledger.add_agenda_item(
        REGIE, meeting_id, case_id=case_id, invited=["ggz", "woonstad"], idempotency_key="k-1"
    )
    again = ledger.add_agenda_item(
        REGIE, meeting_id, case_id=case_id, invited=["ggz", "woonstad"], idempotency_key="k-1"
    )
    assert again.created_id == retried.created_id
    ledger._cache.clear()
    case = ledger.get_case(case_id)
    assert case.is_active_participant("ggz")
    assert case.is_active_participant("woonstad")
    invitations = [e for e in ledger.events.get(case.id) if isinstance(e, Case.ParticipantInvited)]
    assert sorted(e.org for e in invitations) == ["ggz", "woonstad"]
    assert list(ledger.get_meeting(meeting_id).items) == [retried.created_id]


def test_reschedule_is_an_event_and_only_while_planned(ledger: CaseLedger) -> None:
    meeting_id = ledger.schedule_meeting(REGIE, scheduled_at=WHEN, place="room 2").case_id
    earlier = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    result = ledger.reschedule_meeting(REGIE, meeting_id, scheduled_at=earlier, reason="urgent")
    meeting = ledger.get_meeting(meeting_id)
    assert (meeting.scheduled_at, meeting.reschedules, result.version) == (earlier, 1, 2)
    ledger.close_meeting(REGIE, meeting_id, next_at=WHEN)
    with pytest.raises(CaseStatusError):
        ledger.reschedule_meeting(REGIE, meeting_id, scheduled_at=WHEN, reason="again")


def test_minutes_versions_approval_and_subject_erasure(ledger: CaseLedger) -> None:
    case_id = open_active_case(ledger, invite=("reclassering",))
    subject = add_subject(ledger, case_id)
    meeting_id, item_id = _meeting_with_item(ledger, case_id, ["reclassering"])
    ledger.record_attendance(
        CLERK, meeting_id, item_id, partners=["reclassering", "zvh"], users=["u1"]
    )
    minutes_id = ledger.write_minutes(
        CLERK, meeting_id, item_id, body={"text": "first"}, subjects=[subject]
    ).created_id
    assert minutes_id is not None
    ledger.approve_minutes(REGIE, meeting_id, item_id, minutes_id)
    with pytest.raises(CaseStatusError):
        ledger.approve_minutes(REGIE, meeting_id, item_id, minutes_id)
    ledger.write_minutes(
        CLERK, meeting_id, item_id, body={"text": "corrected"}, minutes_id=minutes_id
    )
    meeting = ledger.get_meeting(meeting_id)
    minutes = meeting.items[item_id].minutes[minutes_id]
    assert meeting.status == "held"
    assert [v.version for v in minutes.versions] == [1, 2]
    assert minutes.versions[0].approved_at is not None
    assert minutes.current.approved_at is None
    assert minutes.sharing_partners == ("reclassering", "zvh")
    assert _minutes_body(ledger, meeting, item_id, minutes_id) == {"text": "corrected"}

    ledger.erase_subject(PRIVACY_OFFICER, case_id, subject, ground="art17")
    after = ledger.get_meeting(meeting_id)
    # Minutes about the subject are gone; the item (its case) and attendance remain.
    assert after.items[item_id].minutes == {}
    assert after.items[item_id].case_id == case_id
    assert after.redacted_events == 2  # both versions


def test_minutes_open_only_for_their_cases_purpose(ledger: CaseLedger) -> None:
    """Defence in depth: a caller that skips the policy still cannot open minutes for a
    purpose the covenant does not declare compatible with the case's."""
    case_id = open_active_case(ledger, invite=())
    meeting_id, item_id = _meeting_with_item(ledger, case_id, [])
    minutes_id = ledger.write_minutes(CLERK, meeting_id, item_id, body={"text": "m"}).created_id
    assert minutes_id is not None
    version = ledger.get_meeting(meeting_id).items[item_id].minutes[minutes_id].current
    context = minutes_context(meeting_id, minutes_id, version.version)
    case_purpose = ledger.get_case(case_id).purpose
    (raw,) = ledger.open_minutes_bodies(
        case_id, [(version.sealed_body, context)], purpose=case_purpose
    )
    assert raw is not None
    assert json.loads(raw) == {"text": "m"}
    with pytest.raises(PurposeMismatchError):
        ledger.open_minutes_bodies(
            case_id, [(version.sealed_body, context)], purpose="criminal_investigation"
        )


def test_case_erasure_redacts_the_item_but_keeps_its_place(ledger: CaseLedger) -> None:
    case_id = open_active_case(ledger, invite=())
    meeting_id, item_id = _meeting_with_item(ledger, case_id, [])
    ledger.write_minutes(CLERK, meeting_id, item_id, body={"text": "x"})
    ledger.erase_case(PRIVACY_OFFICER, case_id, ground="retention")
    meeting = ledger.get_meeting(meeting_id)
    assert meeting.items[item_id].case_id is None
    assert meeting.items[item_id].order == 1
    with pytest.raises(CaseStatusError):
        ledger.write_minutes(CLERK, meeting_id, item_id, body={"text": "y"})


def test_unknown_meetings_items_and_minutes(ledger: CaseLedger) -> None:
    with pytest.raises(MeetingNotFoundError):
        ledger.get_meeting("not-a-uuid")
    case_id = open_active_case(ledger, invite=())
    with pytest.raises(MeetingNotFoundError):
        ledger.get_meeting(case_id)  # a case is not a meeting
    meeting_id, item_id = _meeting_with_item(ledger, case_id, [])
    with pytest.raises(MeetingNotFoundError):
        ledger.record_attendance(CLERK, meeting_id, "0" * 32, partners=[], users=[])
    with pytest.raises(MeetingNotFoundError):
        ledger.approve_minutes(REGIE, meeting_id, item_id, "0" * 32)
    with pytest.raises(MeetingNotFoundError):
        ledger.write_minutes(CLERK, meeting_id, item_id, body={}, minutes_id="0" * 32)


def test_cancel_only_while_planned_and_idempotent_schedule(ledger: CaseLedger) -> None:
    first = ledger.schedule_meeting(REGIE, scheduled_at=WHEN, place="x", idempotency_key="k1")
    again = ledger.schedule_meeting(REGIE, scheduled_at=WHEN, place="x", idempotency_key="k1")
    assert (again.case_id, again.replayed) == (first.case_id, True)
    ledger.cancel_meeting(REGIE, first.case_id, reason="no quorum")
    assert ledger.get_meeting(first.case_id).status == "cancelled"
    with pytest.raises(CaseStatusError):
        ledger.cancel_meeting(REGIE, first.case_id, reason="twice")


def test_action_agreed_before_meetings_upcasts_without_a_meeting() -> None:
    state: dict[str, object] = {"action_id": "a", "assignee": "ggz", "what": "x", "due": "d"}
    Case.ActionAgreed.upcast_v1_v2(state)
    Case.ActionAgreed.upcast_v2_v3(state)
    assert (state["covenant"], state["meeting_id"], state["item_id"]) == ("", "", "")
    assert Case.ActionAgreed.class_version == 3


def test_an_action_records_its_meeting_item(ledger: CaseLedger) -> None:
    case_id = open_active_case(ledger, invite=("ggz",))
    meeting_id, item_id = _meeting_with_item(ledger, case_id, [])
    action = ledger.agree_action(
        REGIE,
        case_id,
        assignee="ggz",
        what="x",
        due="2026-06-01",
        meeting_id=meeting_id,
        item_id=item_id,
    ).created_id
    state = ledger.get_case(case_id).actions[str(action)]
    assert (state.meeting_id, state.item_id) == (meeting_id, item_id)
    with pytest.raises(InvalidCommandError):
        ledger.agree_action(
            REGIE,
            case_id,
            assignee="ggz",
            what="x",
            due="2026-06-01",
            meeting_id=meeting_id,
            item_id="0" * 32,
        )


def test_erasing_one_meetings_data_leaves_the_case_and_other_meetings(
    ledger: CaseLedger,
) -> None:
    case_id = open_active_case(ledger, invite=())
    cancelled, item = _meeting_with_item(ledger, case_id, [])
    kept, kept_item = _meeting_with_item(ledger, case_id, [])
    ledger.write_minutes(CLERK, cancelled, item, body={"text": "prepared"})
    ledger.write_minutes(CLERK, kept, kept_item, body={"text": "kept"})
    ledger.cancel_meeting(REGIE, cancelled, reason="no quorum")
    (report,) = ledger.erase_meeting_data(PRIVACY_OFFICER, cancelled, ground="retention")
    assert (report.scope, report.target_id) == ("meeting", cancelled)
    gone = ledger.get_meeting(cancelled)
    assert gone.items[item].case_id is None  # which case it discussed is unreadable
    assert gone.items[item].minutes == {}
    assert gone.status == "cancelled"
    other = ledger.get_meeting(kept)
    (minutes_id,) = other.items[kept_item].minutes
    assert _minutes_body(ledger, other, kept_item, minutes_id) == {"text": "kept"}
    assert ledger.get_case(case_id).status == "active"
