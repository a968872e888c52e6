"""The shared starting point and the action listing gate, at the level of policy decisions."""

from __future__ import annotations

from policies import (
    AccessDecision,
    Covenant,
    Disclosure,
    FactMetadata,
    Principal,
    ReasonCode,
    StartingPoint,
    WriteAction,
    current_starting_point,
    decide_action_listing,
    decide_case_read,
    decide_starting_point_read,
    decide_write,
    is_goal,
    parse_covenant,
    sample_covenant_path,
)
from tests.strategies import SC_PARTNERS, at, case, fact, members, reader, sample, shared

R = ReasonCode
JOINT = "zvh_joint_approach"
SP = StartingPoint.KIND
SC1 = case(participants=members(*SC_PARTNERS))
DIRECTOR = reader("zvh", "procesregisseur")


def picture(
    owner: str, fact_id: str, *, erased: bool = False, retracted: bool = False
) -> FactMetadata:
    return fact(
        owner, kind=SP, categories={"plan"}, fact_id=fact_id, erased=erased, retracted=retracted
    )


def office_with_participants() -> Covenant:
    """The sample covenant, but the office's users may also hold the deelnemer role."""
    text = sample_covenant_path().read_text(encoding="utf-8")
    marker = 'id = "deelnemer"'
    head, tail = text.split(marker)
    tail = tail.replace('partners = ["politie"', 'partners = ["zvh", "politie"', 1)
    return parse_covenant(head + marker + tail, "office_participants.toml")


class TestCurrentStartingPoint:
    def test_latest_live_picture_per_partner_and_the_office_goal(self) -> None:
        facts = [
            picture("ggz", "g1"),
            picture("woningcorporatie", "w1"),
            fact("ggz", fact_id="obs"),  # another kind: never part of it
            picture("zvh", "goal1"),
            picture("ggz", "g2"),
            picture("zvh", "goal2"),
            picture("woningcorporatie", "w2", retracted=True),
            picture("politie", "p1", erased=True),
        ]
        current = current_starting_point(sample(), facts)
        assert [f.fact_id for f in current.pictures] == ["g2", "w1"]  # by partner id
        assert current.goal is not None
        assert current.goal.fact_id == "goal2"
        assert [f.fact_id for f in current.facts] == ["g2", "w1", "goal2"]

    def test_nothing_recorded_yet(self) -> None:
        current = current_starting_point(sample(), [fact("ggz"), picture("zvh", "x", erased=True)])
        assert current.pictures == ()
        assert current.goal is None
        assert current.facts == ()

    def test_the_goal_is_the_offices_starting_point_fact(self) -> None:
        assert is_goal(sample(), picture("zvh", "g"))
        assert not is_goal(sample(), picture("ggz", "p"))
        assert not is_goal(sample(), fact("zvh", kind="decision"))


class TestRecordingTheGoal:
    def write(self, who: Principal, f: FactMetadata) -> AccessDecision:
        return decide_write(sample(), who, WriteAction.record_fact, SC1, f, at(1))

    def test_only_the_procesregisseur_shared_with_participants(self) -> None:
        goal = fact("zvh", kind=SP, categories={"plan"}, sharing=shared("participants"))
        assert self.write(DIRECTOR, goal).reason is R.allowed_participant
        for level, partners in (("regie", ()), ("owner", ()), ("partners", ("ggz",))):
            narrow = fact("zvh", kind=SP, categories={"plan"}, sharing=shared(level, *partners))
            decision = self.write(DIRECTOR, narrow)
            assert decision.reason is R.goal_not_shared_with_participants

    def test_another_office_role_may_not_record_it(self) -> None:
        # Where the covenant lets the office hold a contributing role, the goal stays the
        # procesregisseur's; the same user may still record other office facts.
        covenant = office_with_participants()
        member = reader("zvh", "deelnemer")
        goal = fact("zvh", kind=SP, categories={"plan"}, sharing=shared("participants"))
        decision = decide_write(covenant, member, WriteAction.record_fact, SC1, goal, at(1))
        assert decision.reason is R.role_not_permitted
        note = fact("zvh", kind="observation", categories={"plan"}, sharing=shared("participants"))
        assert decide_write(covenant, member, WriteAction.record_fact, SC1, note, at(1)).allowed
        # In the sample covenant the office holds no such role: refused before the goal rule.
        assert self.write(member, goal).reason is R.role_not_permitted

    def test_pictures_follow_the_ordinary_rules(self) -> None:
        own = fact("ggz", kind=SP, categories={"plan"}, sharing=shared("partners", "politie"))
        assert self.write(reader("ggz", "deelnemer"), own).allowed
        health = fact("ggz", kind=SP, categories={"health"}, sharing=shared("participants"))
        assert self.write(reader("ggz", "deelnemer"), health).reason is (
            R.special_category_requires_named_partner
        )


class TestReadingTheStartingPoint:
    def decide(self, who: Principal, purpose: str = JOINT) -> AccessDecision:
        case_read = decide_case_read(sample(), who, purpose, SC1, at(1))
        return decide_starting_point_read(who, case_read)

    def test_participants_may_read_the_clerk_may_not(self) -> None:
        assert self.decide(reader("woningcorporatie", "deelnemer")).reason is R.allowed_participant
        assert self.decide(DIRECTOR).allowed
        clerk = self.decide(reader("zvh", "administratief_medewerker"))
        assert clerk.reason is R.role_excludes_facts
        assert not clerk.allowed

    def test_case_refusals_stand_and_the_officer_gets_metadata(self) -> None:
        assert self.decide(reader("gemeente", "deelnemer")).reason is R.not_participant
        officer = self.decide(reader("zvh", "privacy_officer"), "accountability")
        assert officer.disclosure is Disclosure.metadata


class TestActionListing:
    def decide(self, who: Principal, purpose: str = JOINT) -> AccessDecision:
        return decide_action_listing(sample(), who, purpose)

    def test_participating_roles_and_the_clerk_may_list(self) -> None:
        for who in (DIRECTOR, reader("zvh", "administratief_medewerker"),
                    reader("ggz", "deelnemer"), reader("politie", "melder")):  # fmt: skip
            assert self.decide(who).reason is R.allowed_role

    def test_refusals(self) -> None:
        assert self.decide(reader("nosuch", "deelnemer")).reason is R.partner_unknown
        assert self.decide(DIRECTOR, "no_purpose").reason is R.purpose_unknown
        assert self.decide(DIRECTOR, "accountability").reason is R.role_not_permitted
        officer = reader("zvh", "privacy_officer")
        assert self.decide(officer).reason is R.role_excludes_facts
        metadata = self.decide(officer, "accountability")
        assert metadata.disclosure is Disclosure.metadata
