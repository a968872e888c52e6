"""Directors and referrals through the ledger and the projections, on SQLite and PostgreSQL:
the events replay into the same state and rows, and a referred case outlives the erasure of
its referring partner's contribution (its opening is sealed under the office's keys)."""

from __future__ import annotations

from ledger import NewFact
from projections import ReadRequest
from tests.conftest import ctx
from tests.integration.read_helpers import ReadStack

REGIE = ctx("zvh", "procesregisseur")
MELDER = ctx("politie", "melder", user="politie-melder-1")
PRIVACY_OFFICER = ctx("zvh", "privacy_officer", "accountability")
PURPOSE = "zvh_joint_approach"


def referral(text: str) -> NewFact:
    return NewFact("referral", (), ("safety_risk",), PURPOSE, "wgs", "regie", (), {"text": text})


def refer(stack: ReadStack, text: str = "invented concern") -> tuple[str, str, str]:
    result = stack.ledger.refer_case(
        MELDER,
        purpose=PURPOSE,
        legal_basis="wgs",
        phase=2,
        case_role="client",
        referral=referral(text),
        office="zvh",
    )
    subject_id, _, fact_id = (result.created_id or "").partition(",")
    return result.case_id, subject_id, fact_id


class TestDirectorsAndReferrals:
    def test_state_replays_and_projects(self, stack: ReadStack) -> None:
        case_id, subject_id, fact_id = refer(stack)
        ledger = stack.ledger
        ledger.triage(REGIE, case_id, decision="accept", reason="complex")
        for org in ("ggz", "reclassering"):
            ledger.invite_participant(REGIE, case_id, org=org)
        ledger.name_director(REGIE, case_id, role="casusregisseur", user="ggz-cr", org="ggz")
        ledger.name_director(
            REGIE, case_id, role="casusregisseur", user="recl-cr", org="reclassering"
        )
        ledger.name_director(REGIE, case_id, role="procesregisseur", user="zvh-pr", org="zvh")
        ledger._cache.clear()  # load from the store, not the cache
        case = ledger.get_case(case_id)
        assert case.referral is not None
        assert (case.referral.melder, case.referral.org) == ("politie-melder-1", "politie")
        assert set(case.participants) == {"zvh", "ggz", "reclassering"}
        assert case.facts[fact_id].owner == "politie"
        assert case.facts[fact_id].subjects == (subject_id,)
        assert (case.directors["casusregisseur"].user, case.directors["casusregisseur"].org) == (
            "recl-cr",
            "reclassering",
        )
        state = stack.reads.snapshot(case_id).state
        assert state.referrer == "politie"
        assert state.casusregisseur is not None
        assert (state.casusregisseur.user, state.casusregisseur.partner) == (
            "recl-cr",
            "reclassering",
        )
        assert state.procesregisseur is not None
        assert state.procesregisseur.user == "zvh-pr"
        live = stack.views.content_hash()
        stack.runner.rebuild()
        assert stack.views.content_hash() == live

    def test_erasing_the_referring_partner_leaves_the_case(self, stack: ReadStack) -> None:
        case_id, _, fact_id = refer(stack, "invented concern to be erased")
        stack.ledger.erase_owner(PRIVACY_OFFICER, "politie", ground="owner_withdrawal")
        stack.ledger._cache.clear()  # load from the store, not the cache
        case = stack.ledger.get_case(case_id)
        assert case.status == "triage"
        assert case.purpose == PURPOSE
        # The referral's events were sealed under the referring partner's keys: redacted now.
        assert fact_id not in case.facts
        assert case.redacted_events == 2
        view = stack.reads.case_overview(ReadRequest(REGIE.principal, PURPOSE), case_id)
        assert view.status == "triage"
        assert view.facts == ()
