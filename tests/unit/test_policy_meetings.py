"""Meeting policy: who plans and records, who sees an item, who reads which minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies import (
    CaseStatus,
    Disclosure,
    MeetingAction,
    MinutesMetadata,
    Participation,
    PartnerId,
    ReasonCode,
    UserId,
    cancelled_meeting_deadline,
    decide_meeting_write,
    decide_minutes_read,
    meeting_roles,
    sees_item,
)
from tests.strategies import JOINT, T0, at, case, members, reader, sample

M = MeetingAction
R = ReasonCode
PR = reader("zvh", "procesregisseur")
CLERK = reader("zvh", "administratief_medewerker")


def minutes(
    *, approved: bool = True, shared: tuple[str, ...] = ("reclassering",)
) -> MinutesMetadata:
    return MinutesMetadata("m1", 1, approved, frozenset(map(PartnerId, shared)))


class TestWrites:
    @pytest.mark.parametrize(
        "action", [M.schedule, M.reschedule, M.add_item, M.close, M.cancel, M.review_due_cases]
    )
    def test_the_procesregisseur_plans(self, action: MeetingAction) -> None:
        assert decide_meeting_write(sample(), PR, action).reason is R.allowed_role
        refused = decide_meeting_write(sample(), CLERK, action)
        assert (refused.allowed, refused.reason) == (False, R.role_required)

    @pytest.mark.parametrize("action", [M.record_attendance, M.write_minutes])
    def test_the_clerk_records(self, action: MeetingAction) -> None:
        assert decide_meeting_write(sample(), CLERK, action).allowed
        assert decide_meeting_write(sample(), PR, action).reason is R.role_required
        assert meeting_roles(action) == ("administratief_medewerker",)

    def test_only_the_chair_approves(self) -> None:
        chair = UserId(PR.user)
        assert decide_meeting_write(sample(), PR, M.approve_minutes, chair=chair).allowed
        other = decide_meeting_write(sample(), PR, M.approve_minutes, chair=UserId("someone"))
        assert (other.allowed, other.reason) == (False, R.not_owner)

    def test_an_undeclared_partner_is_refused(self) -> None:
        outsider = reader("nosuch", "procesregisseur")
        assert decide_meeting_write(sample(), outsider, M.schedule).reason is R.partner_unknown


class TestItems:
    def test_an_item_shows_only_to_active_participants_of_its_case(self) -> None:
        state = case(participants=members("zvh", "ggz"))
        assert sees_item(reader("ggz", "deelnemer"), state, at(1))
        assert not sees_item(reader("politie", "deelnemer"), state, at(1))

    def test_a_removed_partner_no_longer_sees_it(self) -> None:
        removed = {PartnerId("ggz"): Participation(PartnerId("ggz"), T0, at(1))}
        assert not sees_item(reader("ggz", "deelnemer"), case(participants=removed), at(2))

    def test_redacted_or_erased_items_show_to_nobody(self) -> None:
        assert not sees_item(PR, None, at(1))
        erased = case(CaseStatus.erased, erased_at=at(1))
        assert not sees_item(PR, erased, at(2))


class TestMinutesRead:
    def test_the_office_reads_drafts_also_after_closing(self) -> None:
        closed = case(CaseStatus.closed, closed_at=at(1))
        for who in (PR, CLERK):
            decision = decide_minutes_read(
                sample(), who, JOINT, closed, minutes(approved=False), at(2)
            )
            assert decision.reason is R.allowed_owner

    def test_a_partner_present_reads_approved_minutes(self) -> None:
        decision = decide_minutes_read(
            sample(), reader("reclassering", "deelnemer"), JOINT, case(), minutes(), at(1)
        )
        assert decision.reason is R.allowed_named_partner

    def test_drafts_are_hidden_unless_the_covenant_shows_them(self) -> None:
        who = reader("reclassering", "deelnemer")
        draft = minutes(approved=False)
        hidden = decide_minutes_read(sample(), who, JOINT, case(), draft, at(1))
        assert (hidden.allowed, hidden.reason) == (False, R.sharing_excludes_reader)
        shown = decide_minutes_read(sample(), who, JOINT, case(), draft, at(1), drafts_visible=True)
        assert shown.allowed

    def test_a_superseded_version_stays_with_the_owner(self) -> None:
        old = MinutesMetadata("m1", 1, True, frozenset({PartnerId("reclassering")}), True)
        who = reader("reclassering", "deelnemer")
        assert not decide_minutes_read(sample(), who, JOINT, case(), old, at(1)).allowed
        assert decide_minutes_read(sample(), CLERK, JOINT, case(), old, at(1)).allowed

    def test_a_participant_not_present_reads_nothing(self) -> None:
        decision = decide_minutes_read(
            sample(), reader("ggz", "deelnemer"), JOINT, case(), minutes(), at(1)
        )
        assert (decision.allowed, decision.reason) == (False, R.sharing_excludes_reader)

    def test_closed_erased_and_outsiders(self) -> None:
        who = reader("reclassering", "deelnemer")
        closed = case(CaseStatus.closed, closed_at=at(1))
        assert decide_minutes_read(sample(), who, JOINT, closed, minutes(), at(2)).reason is (
            R.case_closed
        )
        erased = case(CaseStatus.erased, erased_at=at(1))
        assert decide_minutes_read(sample(), PR, JOINT, erased, minutes(), at(2)).reason is R.erased
        only_zvh = case(participants=members("zvh"))
        outside = decide_minutes_read(sample(), who, JOINT, only_zvh, minutes(), at(1))
        assert outside.reason is R.not_participant
        stranger = reader("nosuch", "deelnemer")
        assert decide_minutes_read(sample(), stranger, JOINT, case(), minutes(), at(1)).reason is (
            R.partner_unknown
        )

    def test_times_must_be_aware(self) -> None:
        naive = (T0 + timedelta(days=1)).replace(tzinfo=None)
        with pytest.raises(ValueError, match="now"):
            sees_item(PR, case(), naive)


def test_a_cancelled_meetings_data_is_kept_the_covenants_days() -> None:
    assert sample().meetings.cancelled_kept_days == 28
    assert not sample().meetings.drafts_visible_to_participants
    assert cancelled_meeting_deadline(sample(), T0) == T0 + timedelta(days=28)


class TestMinutesPurpose:
    """Minutes serve the case's purpose; a metadata purpose never shows their text."""

    def test_the_privacy_officer_sees_that_minutes_exist_not_their_text(self) -> None:
        officer = reader("zvh", "privacy_officer")
        decision = decide_minutes_read(
            sample(), officer, "accountability", case(), minutes(), at(1)
        )
        assert (decision.allowed, decision.reason) == (True, R.privacy_officer_metadata)
        assert decision.disclosure is Disclosure.metadata

    def test_a_metadata_purpose_is_the_privacy_officers_only(self) -> None:
        who = reader("reclassering", "deelnemer")
        decision = decide_minutes_read(sample(), who, "accountability", case(), minutes(), at(1))
        assert (decision.allowed, decision.reason) == (False, R.role_not_permitted)

    def test_an_incompatible_purpose_reads_no_minutes(self) -> None:
        who = reader("reclassering", "deelnemer")
        other = "criminal_investigation"
        decision = decide_minutes_read(sample(), who, other, case(), minutes(), at(1))
        assert (decision.allowed, decision.reason) == (False, R.purpose_incompatible)

    def test_an_undeclared_purpose_is_refused(self) -> None:
        who = reader("reclassering", "deelnemer")
        decision = decide_minutes_read(sample(), who, "no_such_purpose", case(), minutes(), at(1))
        assert (decision.allowed, decision.reason) == (False, R.purpose_unknown)
