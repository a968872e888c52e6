"""Issue 18's security and policy defects, end to end over HTTP with a clock the test controls.

Each class names the item it covers: emergency grants with a time box (1), what emergency
access may open (2), purposes that open cases (3), four-eyes erasure (6), review outcomes
(8), precise answers (9) and one meaning of ``withheld`` (10).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.support import SECOND_PO_SUB
from tests.scenarios.checks import found
from tests.scenarios.conftest import Env
from tests.scenarios.world import (
    CORPORATION,
    GGD,
    MENTAL_HEALTH,
    META,
    PO,
    PR,
    CaseRecord,
    Http,
    sc1_intake,
    sc2_deferred,
    sc3_pollution,
    sc4_aftercare,
    sc4_withdraw_debts,
    user,
)

REASON = "Resident unconscious at the door, ambulance asks for context"
BOX = timedelta(minutes=240)  # the sample covenant's emergency.max_window_minutes


def glass(http: Http, who: tuple[str, str], case: CaseRecord, reason: str | None) -> Any:
    headers = {"X_Emergency_Reason": reason} if reason is not None else {}
    response = http.view(who, case, **headers)
    assert response.status_code == 200, response.text
    return response.json()


def labels(case: CaseRecord, view: dict[str, Any]) -> set[str]:
    return {case.label_of(f["fact_id"]) for f in view["facts"]}


class TestEmergencyGrantIsTimeBoxed:
    """Item 1: a grant is an event with start and end; reads inside use it, after it they are
    refused ``emergency_expired``; only a new reason makes a new grant."""

    def test_time_box(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        first = glass(http, GGD, case, REASON)
        grant = first["emergency_grant"]
        assert first["emergency"] is True
        granted = http.clock.peek()
        assert labels(case, first) == {"diagnosis", "rent arrears", "shared goal"}

        # Inside the box the grant is used, with or without the reason restated.
        http.clock.advance(BOX - timedelta(seconds=2))
        inside = glass(http, GGD, case, None)
        assert inside["emergency_grant"] == grant
        assert labels(case, inside) == labels(case, first)

        # Just after its end: refused as expired, with the same words too.
        http.clock.advance(timedelta(seconds=3))
        assert http.clock.peek() > granted + BOX
        assert http.view(GGD, case).status_code == 404  # not a participant, no grant open
        expired = http.view(GGD, case, X_Emergency_Reason=REASON)
        assert expired.status_code == 404  # the same words renew nothing: the case stays hidden
        assert found(expired.text, case.all_canaries()) == []
        after = http.audit(case=case.case_id, actor=user(GGD), reason="emergency_expired")
        assert {f for e in after for f in e["fact_ids"]} == set(case.facts.values())

        # A new reason is a new grant, with a box of its own.
        renewed = glass(http, GGD, case, "Second call: resident found again, unconscious")
        assert renewed["emergency"] is True
        assert renewed["emergency_grant"]["grant_id"] != grant["grant_id"]
        grants = http.get(PO, "/v1/reviews/emergency")["accesses"]
        assert len(grants) == 2
        assert {g["stated_reason"] for g in grants} == {
            REASON,
            "Second call: resident found again, unconscious",
        }

    def test_grant_end_comes_from_the_covenant(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        view = glass(http, GGD, case, REASON)
        (grant,) = http.get(PO, "/v1/reviews/emergency")["accesses"]
        assert grant["grant_id"] == view["emergency_grant"]["grant_id"]
        started = http.services.ledger.get_case(case.case_id).emergency_grants
        held = started[grant["grant_id"]]
        assert held.ends_at - held.started_at == BOX
        assert view["emergency_grant"]["ends_at"] == held.ends_at.isoformat()

    def test_no_grant_when_nothing_needs_the_glass(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        view = glass(http, MENTAL_HEALTH, case, REASON)  # sees what it may anyway
        assert view["emergency"] is False
        assert "emergency_grant" not in view or view["emergency_grant"] is None
        assert http.get(PO, "/v1/reviews/emergency")["accesses"] == []


class TestWhatEmergencyAccessOpens:
    """Item 2: never owner-only facts; art. 9/10 facts only where a covenant rule names the
    category for the reader's partner or role."""

    def test_owner_only_facts_stay_closed(self, env: Env) -> None:
        http = env.http
        case = sc3_pollution(http)  # the GGD's care note is shared with nobody
        nurse = ("ggz", "deelnemer")  # a GGZ professional, not a participant of SC3
        view = glass(http, nurse, case, REASON)
        assert "care note" not in labels(case, view)
        assert found(str(view), [case.fact_canary["care note"]]) == []
        refused = http.audit(case=case.case_id, actor=user(nurse), decision="denied")
        reasons = {e["reason"] for e in refused if case.facts["care note"] in e["fact_ids"]}
        assert reasons == {"emergency_not_for_owner_facts"}

    def test_special_categories_only_by_a_rule(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        corp = glass(http, CORPORATION, case, REASON)  # participant; no rule opens art. 9/10
        assert corp["emergency"] is False
        assert {"diagnosis", "arrests"} & labels(case, corp) == set()
        ggd = glass(http, GGD, case, REASON)  # the vital-interest rule names health
        assert "diagnosis" in labels(case, ggd)
        assert "arrests" not in labels(case, ggd)  # criminal data: no rule names it


class TestPurposesThatOpenCases:
    """Item 3 (API side): a case opens only for a purpose the covenant lets cases open for."""

    def test_refused_purposes(self, env: Env) -> None:
        http = env.http
        body = {"legal_basis": "wgs", "referred_by": "politie", "phase": 2}
        for purpose in ("criminal_investigation", "accountability"):
            response = http.call(PR, "POST", "/v1/cases", {**body, "purpose": purpose})
            assert response.status_code == 422, response.text
            problem = response.json()
            assert problem["code"] == "purpose_not_for_cases"
            assert problem["type"].endswith("/purpose-not-for-cases")


class TestFourEyesErasure:
    """Item 6: owner scope only on owner_withdrawal and never the office; owner and case
    erasures wait for a second privacy officer, within the covenant's window."""

    def test_request_destroys_nothing_until_confirmed(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        body = {"scope": "owner", "org": "ggz", "ground": "owner_withdrawal"}
        requested = http.call(PO, "POST", "/v1/erasures", body)
        assert requested.status_code == 202, requested.text
        pending = requested.json()
        assert pending["status"] == "awaiting_confirmation"
        assert requested.headers["location"] == f"/v1/erasures/{pending['erasure_id']}"
        assert "diagnosis" in http.seen(("reclassering", "deelnemer"), case)  # still there
        state = http.get(PO, f"/v1/erasures/{pending['erasure_id']}")
        assert (state["status"], state["requested_by"]) == ("awaiting_confirmation", user(PO))

        url = f"/v1/erasures/{pending['erasure_id']}/confirm"
        same = http.call(PO, "POST", url)
        assert (same.status_code, same.json()["code"]) == (403, "four_eyes_required")
        assert "diagnosis" in http.seen(("reclassering", "deelnemer"), case)

        second = http.auth.headers(PO, META, sub=SECOND_PO_SUB)
        confirmed = http.client.post(url, headers=second)
        assert confirmed.status_code == 201, confirmed.text
        document = confirmed.json()["certificate"]["document"]
        assert (document["requested_by"], document["confirmed_by"]) == (user(PO), SECOND_PO_SUB)
        assert "diagnosis" not in http.seen(("reclassering", "deelnemer"), case)
        assert http.get(PO, f"/v1/erasures/{pending['erasure_id']}")["certificate"]

    def test_unconfirmed_request_expires(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        body = {"scope": "case", "case_id": case.case_id, "ground": "art17_request"}
        pending = http.call(PO, "POST", "/v1/erasures", body).json()
        http.clock.advance(timedelta(hours=72, seconds=1))
        second = http.auth.headers(PO, META, sub=SECOND_PO_SUB)
        late = http.client.post(f"/v1/erasures/{pending['erasure_id']}/confirm", headers=second)
        assert (late.status_code, late.json()["code"]) == (409, "erasure_request_expired")
        assert http.view(PR, case).status_code == 200  # nothing erased

    def test_refused_scopes_and_grounds(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        for body, reason in (
            ({"scope": "owner", "org": "zvh", "ground": "owner_withdrawal"}, "office_not_erasable"),
            ({"scope": "owner", "org": "ggz", "ground": "retention"}, "ground_not_for_scope"),
            (
                {"scope": "case", "case_id": case.case_id, "ground": "retention"},
                "ground_not_for_scope",  # an active case is not due
            ),
            (
                {"scope": "fact", "case_id": case.case_id, "fact_id": case.facts["diagnosis"],
                 "ground": "owner_withdrawal"},
                "ground_not_for_scope",
            ),
        ):  # fmt: skip
            response = http.call(PO, "POST", "/v1/erasures", body)
            assert response.status_code == 422, response.text
            assert response.json()["reason"] == reason
        assert http.view(PR, case).status_code == 200
        # The office still opens cases: nothing of it was erased.
        opened = http.call(
            PR,
            "POST",
            "/v1/cases",
            {"purpose": "zvh_joint_approach", "legal_basis": "wgs", "referred_by": "politie",
             "phase": 2},
        )  # fmt: skip
        assert opened.status_code == 201


class TestReviewOutcomes:
    """Item 8: reviews have outcomes; a second review is 409; the notification list is
    current; a review date in the past is 422."""

    def test_notification_review(self, env: Env) -> None:
        http = env.http
        case = sc2_deferred(http)
        # Straight after the deferral, with no read in between: the list is caught up.
        items = http.get(PO, "/v1/reviews/notifications")["cases"]
        (item,) = [i for i in items if i["case_id"] == case.case_id]
        assert (item["decision"], item["review"]) == ("defer", None)
        url = f"/v1/reviews/notifications/{case.case_id}"
        bad = http.call(PO, "POST", url, {"outcome": "not_justified"})
        assert (bad.status_code, bad.json()["code"]) == (422, "remark_required")
        outcome = {"outcome": "not_justified", "remark": "no risk documented"}
        reviewed = http.do(PO, url, outcome)
        assert reviewed["inform"] == ["politie", "veilig_thuis"]  # owners of the case's facts
        again = http.call(PO, "POST", url, outcome)
        assert (again.status_code, again.json()["code"]) == (409, "already_reviewed")
        items = http.get(PO, "/v1/reviews/notifications")["cases"]
        (item,) = [i for i in items if i["case_id"] == case.case_id]
        assert item["review"]["outcome"] == "not_justified"
        assert found(str(items), [outcome["remark"]]) == []  # the remark stays sealed

    def test_review_date_in_the_past(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        yesterday = (http.clock.peek() - timedelta(days=1)).date().isoformat()
        body = {"decision": "defer", "reason": "risk", "review_at": yesterday}
        response = http.call(PR, "POST", case.path("/notification"), body)
        assert (response.status_code, response.json()["code"]) == (422, "review_date_in_past")

    def test_justified_emergency_informs_nobody(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        glass(http, GGD, case, REASON)
        (grant,) = http.get(PO, "/v1/reviews/emergency")["accesses"]
        url = f"/v1/reviews/emergency/{grant['grant_id']}"
        assert http.do(PO, url, {"outcome": "justified"})["inform"] == []
        assert http.call(PO, "POST", url, {"outcome": "justified"}).status_code == 409
        unknown = http.call(
            PO, "POST", f"/v1/reviews/emergency/{'0' * 32}", {"outcome": "justified"}
        )
        assert unknown.status_code == 404


class TestPreciseAnswers:
    """Item 9: idempotent invitations and phases, specific problem types, the role needed."""

    def test_invite_twice_and_same_phase(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        version = http.get(PR, case.path())["version"]
        again = http.call(PR, "POST", case.path("/participants"), {"org": "ggz"})
        assert again.status_code == 200
        assert again.json() == {
            "version": version, "org": "ggz", "replayed": False, "unchanged": True
        }  # fmt: skip
        phase = http.get(PR, case.path())["phase"]
        same = http.call(PR, "POST", case.path("/phase"), {"phase": phase, "reason": "same"})
        assert (same.status_code, same.json()["version"]) == (200, version)
        assert http.get(PR, case.path())["version"] == version

    def test_specific_problems(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        needs = http.call(CORPORATION, "POST", case.path("/phase"), {"phase": 2, "reason": "x"})
        body = needs.json()
        assert (needs.status_code, body["code"]) == (403, "role_required")
        assert body["required_roles"] == ["procesregisseur"]
        assert body["detail"] == "This action needs the role procesregisseur."
        consent = {"subject": case.subjects["M"], "purpose": "zvh_joint_approach",
                   "categories": ["housing"], "recipients": ["ggz"]}  # fmt: skip
        given = http.do(CORPORATION, case.path("/consents"), consent)
        withdrawal = case.path(f"/consents/{given['consent_id']}/withdrawal")
        http.do(CORPORATION, withdrawal, {})
        twice = http.call(CORPORATION, "POST", withdrawal, {})
        assert (twice.status_code, twice.json()["code"]) == (409, "consent_already_withdrawn")
        http.do(PR, case.path("/close"), {"reason": "done"})
        closed = http.call(PR, "POST", case.path("/phase"), {"phase": 2, "reason": "late"})
        assert closed.status_code == 404  # closed: nobody but the privacy officer sees it


class TestWithheldMeansOneThing:
    """Item 10: ``withheld`` counts the case's facts the reader cannot see, by reason; a
    consent withdrawal is logged as such; the owner sees its withdrawn fact as metadata; the
    privacy officer's view has no null fields for actions."""

    def test_withheld_by_reason(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        corp = http.get(CORPORATION, case.path())
        assert corp["withheld"] == sum(corp["withheld_by_reason"].values()) == 2
        assert corp["withheld_by_reason"] == {"not_shared": 2}
        sc3 = sc3_pollution(http)
        fire = http.get(("brandweer", "deelnemer"), sc3.path(), purpose=sc3.purpose)
        assert fire["withheld_by_reason"] == {"not_shared": 1, "owner_only": 1}

    def test_consent_withdrawal(self, env: Env) -> None:
        http = env.http
        case = sc4_aftercare(http)
        sc4_withdraw_debts(http, case)
        municipality = http.get(("gemeente", "deelnemer"), case.path(), purpose=case.purpose)
        assert municipality["withheld_by_reason"] == {"consent": 1, "consent_withdrawn": 1}
        logged = http.audit(case=case.case_id, org="gemeente", decision="denied")
        debts = case.facts["debts"]
        assert {e["reason"] for e in logged if debts in e["fact_ids"]} == {"consent_withdrawn"}
        owner = http.get(("reclassering", "deelnemer"), case.path(), purpose=case.purpose)
        (hidden,) = [f for f in owner["facts"] if f["fact_id"] == debts]
        assert hidden["status"] == "consent_withdrawn_awaiting_erasure"
        assert "body" not in hidden

    def test_privacy_officer_actions_have_no_null_fields(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        view = http.get(PO, case.path())
        assert view["actions"]
        for action in view["actions"]:
            assert None not in action.values()
            assert "what" not in action
        listed = http.get(PO, case.path("/actions"))
        for action in listed["actions"]:
            assert "what" not in action
