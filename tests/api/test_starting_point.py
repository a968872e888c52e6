"""GET /v1/cases/{case}/starting-point and the case view's ``starting_point`` (both stores)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.support import CLERK, PO, PR, Auth, CaseSetup, active_case, ok, record
from tests.api.test_cases import problem

GGZ = ("ggz", "deelnemer")
CORP = ("woningcorporatie", "deelnemer")
SP = "shared_starting_point"


def picture(
    client: TestClient, auth: Auth, setup: CaseSetup, who: tuple[str, str], label: str, **kw: object
) -> str:
    return record(client, auth, setup, who, label, kind=SP, **kw)  # type: ignore[arg-type]


def starting_point(client: TestClient, auth: Auth, case_id: str, who: tuple[str, str]) -> dict:  # type: ignore[type-arg]
    return ok(client.get(f"/v1/cases/{case_id}/starting-point", headers=auth.headers(who)))


class TestStartingPoint:
    def test_pictures_per_sharing_level_and_the_goal_for_everyone(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        picture(client, auth, setup, GGZ, "ggz picture", level="partners", partners=("politie",))
        picture(client, auth, setup, CORP, "corp old")
        corp = picture(client, auth, setup, CORP, "corp new")
        goal = picture(client, auth, setup, PR, "goal")
        record(client, auth, setup, CORP, "observation")  # not part of the starting point

        seen = starting_point(client, auth, setup.case_id, CORP)
        assert [(p["owner"], p["fact_id"]) for p in seen["pictures"]] == [
            ("woningcorporatie", corp)
        ]
        assert seen["pictures"][0]["body"] == {"picture": setup.canaries["corp new"]}
        assert seen["goal"]["fact_id"] == goal
        assert seen["goal"]["body"] == {"goal": setup.canaries["goal"]}
        assert seen["withheld"] == 1
        assert seen["withheld_by_reason"] == {"not_shared": 1}
        assert setup.canaries["corp old"] not in str(seen)
        assert setup.canaries["ggz picture"] not in str(seen)

        police = starting_point(client, auth, setup.case_id, ("politie", "melder"))
        assert sorted(p["owner"] for p in police["pictures"]) == ["ggz", "woningcorporatie"]
        assert police["goal"]["fact_id"] == goal
        assert police["withheld"] == 0

        view = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(CORP)))
        assert view["starting_point"] == {
            "pictures": [{"owner": "woningcorporatie", "fact_id": corp}],
            "goal": {"fact_id": goal},
        }
        assert len(view["facts"]) == 4  # existing fields stay: the old picture is still a fact

    def test_retraction_lets_the_previous_picture_stand(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        old = picture(client, auth, setup, CORP, "old")
        new = picture(client, auth, setup, CORP, "new")
        url = f"/v1/cases/{setup.case_id}/facts/{new}/retraction"
        ok(client.post(url, json={"reason": "wrong"}, headers=auth.headers(CORP)))
        seen = starting_point(client, auth, setup.case_id, GGZ)
        assert [p["fact_id"] for p in seen["pictures"]] == [old]
        assert seen["goal"] is None
        assert seen["withheld"] == 0

    def test_privacy_officer_sees_metadata_clerk_is_refused(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        corp = picture(client, auth, setup, CORP, "corp")
        picture(client, auth, setup, PR, "goal")
        officer = starting_point(client, auth, setup.case_id, PO)
        assert [p["fact_id"] for p in officer["pictures"]] == [corp]
        assert "body" not in officer["pictures"][0] or officer["pictures"][0]["body"] is None
        assert setup.canaries["corp"] not in str(officer)
        assert setup.canaries["goal"] not in str(officer)

        url = f"/v1/cases/{setup.case_id}/starting-point"
        refused = client.get(url, headers=auth.headers(CLERK))
        body = problem(refused, 403, "forbidden")
        assert body["reason"] == "role_excludes_facts"
        assert setup.canaries["corp"] not in refused.text

        entries = ok(
            client.get(
                "/v1/audit/entries", params={"case": setup.case_id}, headers=auth.headers(PO)
            )
        )["entries"]
        clerk = [e for e in entries if e["role"] == "administratief_medewerker"]
        assert [(e["decision"], e["reason"]) for e in clerk] == [("denied", "role_excludes_facts")]

    def test_reads_are_logged_before_reveal(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        corp = picture(client, auth, setup, CORP, "corp")
        starting_point(client, auth, setup.case_id, GGZ)
        entries = ok(
            client.get(
                "/v1/audit/entries", params={"case": setup.case_id}, headers=auth.headers(PO)
            )
        )["entries"]
        ggz = [e for e in entries if e["org"] == "ggz"]
        assert any(corp in e["fact_ids"] and e["decision"] == "allowed" for e in ggz)

    def test_goal_rules_and_bad_input(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        facts = f"/v1/cases/{setup.case_id}/facts"
        body = {
            "kind": SP,
            "subjects": [],
            "categories": ["plan"],
            "purpose": "zvh_joint_approach",
            "legal_basis": "wgs",
            "sharing": {"level": "regie"},
            "body": {"goal": "invented"},
        }
        refused = client.post(facts, json=body, headers=auth.headers(PR))
        assert problem(refused, 422, "policy-refused")["reason"] == (
            "goal_not_shared_with_participants"
        )
        ok(client.post(facts, json={**body, "sharing": {"level": "participants"}},
                       headers=auth.headers(PR)), 201)  # fmt: skip

        unknown = "/v1/cases/00000000-0000-4000-8000-000000000000/starting-point"
        problem(client.get(unknown, headers=auth.headers(GGZ)), 404, "not-found")
        outsider = ("gemeente", "deelnemer")
        url = f"/v1/cases/{setup.case_id}/starting-point"
        problem(client.get(url, headers=auth.headers(outsider)), 404, "not-found")
        malformed = "/v1/cases/not-a-case/starting-point"  # looks unknown, like every case id
        problem(client.get(malformed, headers=auth.headers(GGZ)), 404, "not-found")
        problem(client.get(url, headers={"X-Purpose": "zvh_joint_approach"}), 401,
                "unauthenticated")  # fmt: skip

    def test_bodies_must_have_the_starting_point_shape(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        facts = f"/v1/cases/{setup.case_id}/facts"
        base = {"kind": SP, "subjects": [], "categories": ["plan"],
                "purpose": "zvh_joint_approach", "legal_basis": "wgs",
                "sharing": {"level": "participants"}}  # fmt: skip
        bad_pictures = [
            {"text": "invented"},  # not a picture's field
            {"picture": ""},
            {"picture": "invented", "chances": "one text"},
            {"picture": "invented", "threats": [1]},
            {"picture": "invented", "goal": "a picture is no goal"},
            ["invented"],
        ]
        for bad in bad_pictures:
            refused = client.post(facts, json={**base, "body": bad}, headers=auth.headers(CORP))
            found = problem(refused, 422, "starting-point-body")
            assert "invented" not in refused.text  # the refusal never repeats the content
            assert found["code"] == "starting_point_body"
        problem(client.post(facts, json={**base, "body": {"picture": "invented"}},
                            headers=auth.headers(PR)), 422, "starting-point-body")  # fmt: skip
        picture_id = ok(client.post(
            facts, json={**base, "body": {"picture": "invented", "chances": ["c"], "threats": []}},
            headers=auth.headers(CORP)), 201)["fact_id"]  # fmt: skip
        ok(client.post(facts, json={**base, "body": {"goal": "invented goal"}},
                       headers=auth.headers(PR)), 201)  # fmt: skip
        correction = f"{facts}/{picture_id}/corrections"
        problem(client.post(correction, json={"body": {"goal": "x"}}, headers=auth.headers(CORP)),
                422, "starting-point-body")  # fmt: skip
        ok(client.post(correction, json={"body": {"picture": "invented, corrected"}},
                       headers=auth.headers(CORP)))  # fmt: skip
        seen = starting_point(client, auth, setup.case_id, CORP)
        assert seen["pictures"][0]["body"] == {"picture": "invented, corrected"}
        assert seen["goal"]["body"] == {"goal": "invented goal"}

    def test_closed_case_shows_nothing(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        picture(client, auth, setup, CORP, "corp")
        ok(client.post(f"/v1/cases/{setup.case_id}/close", json={"reason": "done"},
                       headers=auth.headers(PR)))  # fmt: skip
        url = f"/v1/cases/{setup.case_id}/starting-point"
        problem(client.get(url, headers=auth.headers(CORP)), 404, "not-found")
