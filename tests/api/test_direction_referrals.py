"""Case direction (PUT casusregisseur / procesregisseur) and referral by the melder
(POST /v1/referrals) over HTTP, on SQLite and PostgreSQL; invented data throughout."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.support import PR, Auth, CaseSetup, active_case, canary, ok, record

CORP_CR = ("woningcorporatie", "casusregisseur")
GGZ_CR = ("ggz", "casusregisseur")
MELDER = ("politie", "melder")
UNKNOWN_CASE = "00000000-0000-4000-8000-000000000000"


def name(
    client: TestClient, auth: Auth, case_id: str, who: tuple[str, str],
    role: str = "casusregisseur", *, by: tuple[str, str] = PR, status: int = 200,
) -> dict[str, Any]:  # fmt: skip
    body = {"user": f"{who[0]}-{who[1]}", "org": who[0]}
    response = client.put(f"/v1/cases/{case_id}/{role}", json=body, headers=auth.headers(by))
    return ok(response, status)


def view(client: TestClient, auth: Auth, case_id: str, who: tuple[str, str]) -> dict[str, Any]:
    return ok(client.get(f"/v1/cases/{case_id}", headers=auth.headers(who)))


def regie_case(client: TestClient, auth: Auth) -> CaseSetup:
    setup = active_case(client, auth, ("ggz", "woningcorporatie", "reclassering"))
    record(client, auth, setup, ("reclassering", "deelnemer"), "regie", level="regie")
    record(client, auth, setup, ("reclassering", "deelnemer"), "shared")
    return setup


def seen(body: dict[str, Any]) -> set[str]:
    return {str(f["body"]["text"]) for f in body["facts"] if "body" in f}


class TestCaseDirection:
    def test_reassignment_revokes_regie_reads_at_once(self, client: TestClient, auth: Auth) -> None:
        setup = regie_case(client, auth)
        regie, shared = setup.canaries["regie"], setup.canaries["shared"]
        assert regie not in seen(view(client, auth, setup.case_id, CORP_CR))
        named = name(client, auth, setup.case_id, CORP_CR)
        assert (named["user"], named["org"]) == (
            "woningcorporatie-casusregisseur",
            "woningcorporatie",
        )
        assert seen(view(client, auth, setup.case_id, CORP_CR)) == {regie, shared}
        name(client, auth, setup.case_id, GGZ_CR)
        assert seen(view(client, auth, setup.case_id, CORP_CR)) == {shared}
        assert seen(view(client, auth, setup.case_id, GGZ_CR)) == {regie, shared}
        direction = view(client, auth, setup.case_id, PR)["direction"]
        assert direction["casusregisseur"]["user"] == "ggz-casusregisseur"
        assert direction["casusregisseur"]["org"] == "ggz"

    def test_the_role_in_another_case_reads_nothing_regie_here(
        self, client: TestClient, auth: Auth
    ) -> None:
        here, elsewhere = regie_case(client, auth), regie_case(client, auth)
        name(client, auth, elsewhere.case_id, CORP_CR)
        assert elsewhere.canaries["regie"] in seen(view(client, auth, elsewhere.case_id, CORP_CR))
        body = view(client, auth, here.case_id, CORP_CR)
        assert here.canaries["regie"] not in seen(body)
        assert body["withheld_by_reason"].get("not_shared") == 1

    def test_naming_again_is_unchanged_and_the_procesregisseur(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = regie_case(client, auth)
        first = name(client, auth, setup.case_id, CORP_CR)
        again = name(client, auth, setup.case_id, CORP_CR)
        assert again["unchanged"] is True
        assert again["version"] == first["version"]
        office = name(client, auth, setup.case_id, ("zvh", "pr-2"), "procesregisseur")
        assert office["org"] == "zvh"
        direction = view(client, auth, setup.case_id, ("ggz", "deelnemer"))["direction"]
        assert direction["procesregisseur"]["user"] == "zvh-pr-2"

    def test_bad_input(self, client: TestClient, auth: Auth) -> None:
        setup = regie_case(client, auth)
        case_id = setup.case_id
        refused = name(client, auth, case_id, CORP_CR, by=CORP_CR, status=403)
        assert refused["code"] == "role_required"
        assert refused["required_roles"] == ["procesregisseur"]
        unknown = {"user": "u-1", "org": "secret_service"}
        undeclared = client.put(f"/v1/cases/{case_id}/casusregisseur", json=unknown,
                                headers=auth.headers(PR))  # fmt: skip
        problem = ok(undeclared, 422)
        assert problem["code"] == "validation_error"
        assert problem["errors"] == [{"field": "org", "type": "not_in_covenant"}]
        assert name(client, auth, UNKNOWN_CASE, CORP_CR, status=404)["code"] == "not_found"
        outsider = name(client, auth, case_id, ("gemeente", "casusregisseur"), status=422)
        assert outsider["code"] == "director_not_participant"
        wrong = name(client, auth, case_id, ("zvh", "casusregisseur"), status=422)
        assert wrong["code"] == "director_role_not_held"
        not_office = name(client, auth, case_id, ("ggz", "pr"), "procesregisseur", status=422)
        assert not_office["code"] == "director_role_not_held"
        outside = name(client, auth, case_id, CORP_CR, by=("gemeente", "melder"), status=404)
        assert outside["code"] == "not_found"
        bad_user = {"user": "two words", "org": "ggz"}
        spaced = client.put(f"/v1/cases/{case_id}/casusregisseur", json=bad_user,
                            headers=auth.headers(PR))  # fmt: skip
        assert ok(spaced, 422)["code"] == "validation_error"
        # After closing, nobody sees the case's process data: it is not found.
        ok(client.post(f"/v1/cases/{case_id}/close", json={}, headers=auth.headers(PR)))
        assert name(client, auth, case_id, CORP_CR, status=404)["code"] == "not_found"


def refer(
    client: TestClient, auth: Auth, who: tuple[str, str] = MELDER, status: int = 201, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "purpose": "zvh_joint_approach", "legal_basis": "wgs", "phase": 2,
        "categories": ["safety_risk"], "body": {"text": fields.pop("text", "invented")},
    }  # fmt: skip
    body.update(fields)
    return ok(client.post("/v1/referrals", json=body, headers=auth.headers(who)), status)


class TestReferral:
    def test_round_trip(self, client: TestClient, auth: Auth) -> None:
        secret = canary("referral")
        created = refer(client, auth, text=secret)
        case_id = created["case_id"]
        assert created["status"] == "triage"
        assert created["fact_id"]
        assert created["subject_id"]
        mine = view(client, auth, case_id, MELDER)
        assert mine["status"] == "triage"
        assert seen(mine) == {secret}
        assert mine["facts"][0]["kind"] == "referral"
        assert mine["facts"][0]["owner"] == "politie"
        assert mine["participants"] == []
        assert mine["actions"] == []
        assert mine["referred_by"] == "politie"
        office = view(client, auth, case_id, PR)
        assert seen(office) == {secret}
        assert office["participants"] == ["zvh"]
        listed = ok(client.get("/v1/cases", headers=auth.headers(MELDER)))["cases"]
        assert case_id in {c["case_id"] for c in listed}
        reason = {"decision": "reject", "reason": "not for the partnership"}
        ok(client.post(f"/v1/cases/{case_id}/triage", json=reason, headers=auth.headers(PR)))
        outcome = view(client, auth, case_id, MELDER)
        assert outcome["status"] == "rejected"
        assert seen(outcome) == {secret}
        assert ok(client.get(f"/v1/cases/{case_id}", headers=auth.headers(("ggz", "melder"))),
                  404)["code"] == "not_found"  # fmt: skip

    def test_the_melder_reads_nothing_else(self, client: TestClient, auth: Auth) -> None:
        created = refer(client, auth, text=canary("own"))
        case_id, subject = created["case_id"], created["subject_id"]
        accept = {"decision": "accept", "reason": "complex"}
        ok(client.post(f"/v1/cases/{case_id}/triage", json=accept, headers=auth.headers(PR)))
        for org in ("ggz", "woningcorporatie"):
            ok(client.post(f"/v1/cases/{case_id}/participants", json={"org": org},
                           headers=auth.headers(PR)), 201)  # fmt: skip
        setup = CaseSetup(case_id, subject)
        record(client, auth, setup, ("ggz", "deelnemer"), "care", level="participants")
        record(client, auth, setup, PR, "goal", categories=("plan",))
        action = {"assignee": "ggz", "what": canary("action"), "due": "2026-12-01"}
        ok(client.post(f"/v1/cases/{case_id}/actions", json=action, headers=auth.headers(PR)), 201)
        mine = view(client, auth, case_id, MELDER)
        assert mine["status"] == "active"
        assert [f["kind"] for f in mine["facts"]] == ["referral"]
        assert mine["withheld"] == 0  # not even how many other facts there are
        assert mine["withheld_by_reason"] == {}
        assert mine["actions"] == []
        assert mine["participants"] == []
        assert mine["direction"] == {}
        assert mine["notification"] is None
        assert [s["subject_id"] for s in mine["subjects"]] == [subject]
        actions = client.get(f"/v1/cases/{case_id}/actions", headers=auth.headers(MELDER))
        assert ok(actions, 404)["code"] == "not_found"
        # Invited later: the participant rules apply.
        ok(client.post(f"/v1/cases/{case_id}/participants", json={"org": "politie"},
                       headers=auth.headers(PR)), 201)  # fmt: skip
        now = view(client, auth, case_id, MELDER)
        assert seen(now) >= {setup.canaries["care"], setup.canaries["goal"]}
        assert len(now["actions"]) == 1
        assert "politie" in now["participants"]

    def test_a_retry_gets_the_first_answer(self, client: TestClient, auth: Auth) -> None:
        body = {"purpose": "zvh_joint_approach", "legal_basis": "wgs", "phase": 2,
                "categories": ["safety_risk"], "body": {"text": "invented"}}  # fmt: skip
        headers = {**auth.headers(MELDER), "Idempotency-Key": "referral-retry-1"}
        first = ok(client.post("/v1/referrals", json=body, headers=headers), 201)
        again = client.post("/v1/referrals", json=body, headers=headers)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert ok(again, 201)["case_id"] == first["case_id"]
        other = {**body, "phase": 3}
        reused = client.post("/v1/referrals", json=other, headers=headers)
        assert ok(reused, 422)["code"] == "idempotency_key_reused"
        listed = ok(client.get("/v1/cases", headers=auth.headers(MELDER)))["cases"]
        assert [c["case_id"] for c in listed].count(first["case_id"]) == 1

    def test_bad_input(self, client: TestClient, auth: Auth) -> None:
        assert refer(client, auth, ("politie", "deelnemer"), 403)["code"] == "role_required"
        assert refer(client, auth, PR, 403)["code"] == "role_required"
        assert refer(client, auth, purpose="accountability", status=422)["code"] == (
            "purpose_not_for_cases"
        )
        undeclared = refer(client, auth, categories=["nosuch"], status=422)
        assert undeclared["errors"] == [{"field": "categories", "type": "not_in_covenant"}]
        special = refer(client, auth, categories=["criminal"], status=422)
        assert (special["code"], special["reason"]) == (
            "policy_refused",
            "special_category_requires_named_partner",
        )
        named = refer(client, auth, categories=["criminal"],
                      sharing={"level": "partners", "partners": ["zvh"]})  # fmt: skip
        assert named["status"] == "triage"
        assert refer(client, auth, phase=5, status=422)["code"] == "validation_error"
