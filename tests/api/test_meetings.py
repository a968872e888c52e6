"""Meetings over HTTP: agenda, attendance, minutes, who sees what, and the refusals."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.support import CLERK, PO, PR, Auth, active_case, canary, ok

PROBLEMS = "https://caseledger.example/problems/"
WHEN = "2030-05-04T14:00:00Z"  # ahead of the clock: a planned next meeting
GGZ = ("ggz", "deelnemer")
WONING = ("woningcorporatie", "deelnemer")
POLITIE = ("politie", "deelnemer")


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + code.replace("_", "-")
    assert body["code"] == code
    return body


def plan(client: TestClient, auth: Auth) -> str:
    created = ok(
        client.post(
            "/v1/meetings", json={"scheduled_at": WHEN, "place": "room 2"}, headers=auth.headers(PR)
        ),
        201,
    )
    assert created["status"] == "planned"
    return str(created["meeting_id"])


def add_item(client: TestClient, auth: Auth, meeting: str, case_id: str, invited: list[str]) -> str:
    created = ok(
        client.post(
            f"/v1/meetings/{meeting}/agenda",
            json={"case_id": case_id, "invited": invited},
            headers=auth.headers(PR),
        ),
        201,
    )
    return str(created["item_id"])


def conference(client: TestClient, auth: Auth) -> dict[str, str]:
    """Two cases on one agenda; ggz invited to the first only (and so joins that case)."""
    first = active_case(client, auth, participants=("woningcorporatie",), referred_by="gemeente")
    second = active_case(client, auth, participants=(), referred_by="politie")
    meeting = plan(client, auth)
    item_1 = add_item(client, auth, meeting, first.case_id, ["ggz", "woningcorporatie"])
    item_2 = add_item(client, auth, meeting, second.case_id, [])
    return {
        "meeting": meeting,
        "case_1": first.case_id,
        "subject_1": first.subject_id,
        "case_2": second.case_id,
        "item_1": item_1,
        "item_2": item_2,
    }


def write_minutes(client: TestClient, auth: Auth, c: dict[str, str], body: dict[str, Any]) -> str:
    url = f"/v1/meetings/{c['meeting']}/agenda/{c['item_1']}/minutes"
    created = ok(client.post(url, json=body, headers=auth.headers(CLERK)), 201)
    assert created["status"] == "draft"
    return str(created["minutes_id"])


def minutes_of(client: TestClient, auth: Auth, case_id: str, who: tuple[str, str]) -> list[Any]:
    read = ok(client.get(f"/v1/cases/{case_id}/minutes", headers=auth.headers(who)))
    return list(read["minutes"])


class TestAgenda:
    def test_each_partner_sees_only_the_items_of_its_cases(
        self, client: TestClient, auth: Auth
    ) -> None:
        c = conference(client, auth)
        url = f"/v1/meetings/{c['meeting']}"
        ggz = ok(client.get(url, headers=auth.headers(GGZ)))
        assert [i["item_id"] for i in ggz["items"]] == [c["item_1"]]
        assert ggz["hidden_items"] == 1
        assert c["case_2"] not in str(ggz)
        assert c["item_2"] not in str(ggz)
        politie = ok(client.get(url, headers=auth.headers(POLITIE)))
        assert [i["case_id"] for i in politie["items"]] == [c["case_2"]]
        assert c["case_1"] not in str(politie)
        office = ok(client.get(url, headers=auth.headers(PR)))
        assert [i["order"] for i in office["items"]] == [1, 2]
        # The invited partner joined the case as a participant.
        case = ok(client.get(f"/v1/cases/{c['case_1']}", headers=auth.headers(GGZ)))
        assert "ggz" in case["participants"]

    def test_listing_by_time_window(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        inside = ok(
            client.get(
                "/v1/meetings",
                params={"from": "2030-05-01T00:00:00Z", "to": "2030-06-01T00:00:00Z"},
                headers=auth.headers(GGZ),
            )
        )
        assert [m["meeting_id"] for m in inside["meetings"]] == [c["meeting"]]
        later = ok(
            client.get(
                "/v1/meetings", params={"from": "2030-06-01T00:00:00Z"}, headers=auth.headers(GGZ)
            )
        )
        assert later["meetings"] == []
        outsider = ok(client.get("/v1/meetings", headers=auth.headers(("brandweer", "deelnemer"))))
        assert outsider["meetings"] == []
        problem(
            client.get("/v1/meetings?from=yesterday", headers=auth.headers(GGZ)),
            422,
            "validation_error",
        )

    def test_reschedule_and_close(self, client: TestClient, auth: Auth) -> None:
        meeting = plan(client, auth)
        url = f"/v1/meetings/{meeting}"
        earlier = {"scheduled_at": "2026-05-01T09:00:00Z", "reason": "urgent"}
        ok(client.post(f"{url}/reschedule", json=earlier, headers=auth.headers(PR)))
        assert ok(client.get(url, headers=auth.headers(PR)))["scheduled_at"].startswith(
            "2026-05-01"
        )
        closed = {"next_at": "2026-06-01T09:00:00Z"}
        ok(client.post(f"{url}/close", json=closed, headers=auth.headers(PR)))
        view = ok(client.get(url, headers=auth.headers(PR)))
        assert (view["status"], view["next_at"][:10]) == ("closed", "2026-06-01")
        problem(
            client.post(f"{url}/reschedule", json=earlier, headers=auth.headers(PR)),
            409,
            "meeting_status",
        )


class TestMinutes:
    def test_draft_final_correction_and_who_reads(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        item_url = f"/v1/meetings/{c['meeting']}/agenda/{c['item_1']}"
        present = {"partners": ["ggz", "zvh"], "users": ["ggz-deelnemer"]}
        ok(client.post(f"{item_url}/attendance", json=present, headers=auth.headers(CLERK)))
        first_text, second_text = canary("minutes-1"), canary("minutes-2")
        minutes_id = write_minutes(
            client, auth, c, {"body": {"text": first_text}, "subjects": [c["subject_1"]]}
        )
        # Draft: the office reads it, the partner present does not yet.
        assert [m["status"] for m in minutes_of(client, auth, c["case_1"], CLERK)] == ["draft"]
        assert minutes_of(client, auth, c["case_1"], GGZ) == []
        ok(client.post(f"{item_url}/minutes/{minutes_id}/approve", headers=auth.headers(PR)))
        final = minutes_of(client, auth, c["case_1"], GGZ)
        assert [(m["status"], m["body"]["text"]) for m in final] == [("final", first_text)]
        # A participant not present at the item reads nothing of it.
        assert minutes_of(client, auth, c["case_1"], WONING) == []
        correction = {"body": {"text": second_text}, "minutes_id": minutes_id}
        write_minutes(client, auth, c, correction)
        owner = minutes_of(client, auth, c["case_1"], CLERK)
        assert [(m["version"], m["body"]["text"]) for m in owner] == [
            (1, first_text),
            (2, second_text),
        ]
        # Until the correction is approved the partner keeps the approved version only.
        assert [m["version"] for m in minutes_of(client, auth, c["case_1"], GGZ)] == [1]
        ok(client.post(f"{item_url}/minutes/{minutes_id}/approve", headers=auth.headers(PR)))
        assert [m["version"] for m in minutes_of(client, auth, c["case_1"], GGZ)] == [2]
        # The reads were logged before they were revealed.
        entries = ok(
            client.get(
                "/v1/audit/entries",
                params={"case": c["case_1"], "org": "ggz"},
                headers=auth.headers(PO),
            )
        )["entries"]
        assert any(f"{minutes_id}:2" in e["fact_ids"] for e in entries)

    def test_purpose_binds_minutes(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        item_url = f"/v1/meetings/{c['meeting']}/agenda/{c['item_1']}"
        present = {"partners": ["ggz", "zvh"]}
        ok(client.post(f"{item_url}/attendance", json=present, headers=auth.headers(CLERK)))
        text = canary("minutes-purpose")
        minutes_id = write_minutes(client, auth, c, {"body": {"text": text}})
        ok(client.post(f"{item_url}/minutes/{minutes_id}/approve", headers=auth.headers(PR)))
        # The privacy officer (a metadata purpose) sees that the minutes exist, not their text.
        officer = minutes_of(client, auth, c["case_1"], PO)
        assert [(m["minutes_id"], m["status"], m["body"]) for m in officer] == [
            (minutes_id, "final", None)
        ]
        assert text not in str(officer)
        # A purpose the covenant does not declare compatible with the case's reads nothing.
        other = client.get(
            f"/v1/cases/{c['case_1']}/minutes",
            headers=auth.headers(GGZ, "criminal_investigation"),
        )
        assert text not in other.text
        assert other.status_code == 404 or other.json()["minutes"] == []

    def test_subject_erasure_and_case_close(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        item_url = f"/v1/meetings/{c['meeting']}/agenda/{c['item_1']}"
        ok(
            client.post(
                f"{item_url}/attendance", json={"partners": ["ggz"]}, headers=auth.headers(CLERK)
            )
        )
        about = write_minutes(
            client, auth, c, {"body": {"text": canary("a")}, "subjects": [c["subject_1"]]}
        )
        general = write_minutes(client, auth, c, {"body": {"text": canary("b")}})
        for minutes_id in (about, general):
            ok(client.post(f"{item_url}/minutes/{minutes_id}/approve", headers=auth.headers(PR)))
        erasure = {
            "scope": "subject",
            "case_id": c["case_1"],
            "subject_id": c["subject_1"],
            "ground": "art17_request",
        }
        ok(client.post("/v1/erasures", json=erasure, headers=auth.headers(PO)), 201)
        left = minutes_of(client, auth, c["case_1"], CLERK)
        assert [m["minutes_id"] for m in left] == [general]
        ok(client.post(f"/v1/cases/{c['case_1']}/close", json={}, headers=auth.headers(PR)))
        problem(
            client.get(f"/v1/cases/{c['case_1']}/minutes", headers=auth.headers(GGZ)),
            404,
            "not_found",
        )
        assert [m["minutes_id"] for m in minutes_of(client, auth, c["case_1"], CLERK)] == [general]


class TestRefusals:
    def test_the_clerk_records_but_reads_no_facts(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        secret = canary("fact")
        fact = {
            "kind": "observation",
            "subjects": [c["subject_1"]],
            "categories": ["housing"],
            "purpose": "zvh_joint_approach",
            "legal_basis": "wgs",
            "sharing": {"level": "participants"},
            "body": {"text": secret},
        }
        ok(client.post(f"/v1/cases/{c['case_1']}/facts", json=fact, headers=auth.headers(GGZ)), 201)
        # The case view shows the clerk process data only: every fact withheld, as before.
        view = client.get(f"/v1/cases/{c['case_1']}", headers=auth.headers(CLERK))
        assert secret not in view.text
        assert ok(view)["withheld_by_reason"] == {"role": 1}
        report = client.get(
            f"/v1/cases/{c['case_1']}/subjects/{c['subject_1']}/access-report",
            headers=auth.headers(CLERK),
        )
        assert report.status_code == 403
        # ... and records attendance and minutes.
        item_url = f"/v1/meetings/{c['meeting']}/agenda/{c['item_1']}"
        ok(
            client.post(
                f"{item_url}/attendance", json={"partners": ["ggz"]}, headers=auth.headers(CLERK)
            )
        )
        write_minutes(client, auth, c, {"body": {"text": "x"}})

    def test_bad_input_has_precise_problems(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        other = plan(client, auth)
        unknown = "00000000-0000-4000-8000-000000000000"
        problem(client.get(f"/v1/meetings/{unknown}", headers=auth.headers(PR)), 404, "not_found")
        problem(
            client.post(f"/v1/meetings/{unknown}/close", json={}, headers=auth.headers(PR)),
            404,
            "not_found",
        )
        # An item of another meeting is not an item of this one.
        problem(
            client.post(
                f"/v1/meetings/{other}/agenda/{c['item_1']}/attendance",
                json={"partners": ["ggz"]},
                headers=auth.headers(CLERK),
            ),
            404,
            "not_found",
        )
        minutes_url = f"/v1/meetings/{c['meeting']}/agenda/{c['item_1']}/minutes"
        body = problem(
            client.post(minutes_url, json={"body": {"text": "x"}}, headers=auth.headers(PR)),
            403,
            "role_required",
        )
        assert body["required_roles"] == ["administratief_medewerker"]
        minutes_id = write_minutes(client, auth, c, {"body": {"text": "x"}})
        approve = f"{minutes_url}/{minutes_id}/approve"
        other_pr = auth.headers(PR, sub="zvh-procesregisseur-2")
        assert problem(client.post(approve, headers=other_pr), 403, "forbidden")["reason"] == (
            "not_owner"
        )
        problem(client.post(approve, headers=auth.headers(CLERK)), 403, "role_required")
        ok(client.post(approve, headers=auth.headers(PR)))
        problem(client.post(approve, headers=auth.headers(PR)), 409, "minutes_approved")
        problem(
            client.post(
                f"/v1/meetings/{c['meeting']}/agenda",
                json={"case_id": c["case_1"], "invited": ["nosuch"]},
                headers=auth.headers(PR),
            ),
            422,
            "validation_error",
        )
        problem(
            client.post(
                "/v1/meetings",
                json={"scheduled_at": "2026-05-04", "place": "x"},
                headers=auth.headers(PR),
            ),
            422,
            "validation_error",
        )
        problem(
            client.post(
                minutes_url, json={"body": {}, "subjects": ["0" * 32]}, headers=auth.headers(CLERK)
            ),
            422,
            "subject_unknown",
        )
        problem(
            client.post(
                "/v1/meetings", json={"scheduled_at": WHEN, "place": "x"}, headers=auth.headers(GGZ)
            ),
            403,
            "role_required",
        )


class TestActionsAndOverview:
    def test_actions_carry_the_meeting_item(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        url = f"/v1/cases/{c['case_1']}/actions"
        action = {"assignee": "ggz", "what": "Intake", "due": "2026-06-01"}
        at_item = {**action, "meeting": c["meeting"], "item": c["item_1"]}
        created = ok(client.post(url, json=at_item, headers=auth.headers(CLERK)), 201)
        view = ok(client.get(f"/v1/meetings/{c['meeting']}", headers=auth.headers(GGZ)))
        (item,) = view["items"]
        assert [a["action_id"] for a in item["actions"]] == [created["action_id"]]
        assert "Intake" not in str(view)  # texts are read with the action list, logged
        # The item of another case, an unknown meeting, a meeting without its item: 422.
        other_item = {**action, "meeting": c["meeting"], "item": c["item_2"]}
        problem(
            client.post(url, json=other_item, headers=auth.headers(CLERK)), 422, "item_not_for_case"
        )
        unknown = {**action, "meeting": "00000000-0000-4000-8000-000000000000", "item": c["item_1"]}
        problem(
            client.post(url, json=unknown, headers=auth.headers(CLERK)), 422, "item_not_for_case"
        )
        half = {**action, "meeting": c["meeting"]}
        problem(client.post(url, json=half, headers=auth.headers(CLERK)), 422, "validation_error")

    def test_cases_due_for_a_meeting(self, client: TestClient, auth: Auth) -> None:
        c = conference(client, auth)
        lonely = active_case(client, auth, participants=())
        due = ok(client.get("/v1/meetings/due-cases", headers=auth.headers(PR)))
        due_ids = [d["case_id"] for d in due["cases"]]
        assert lonely.case_id in due_ids
        assert c["case_1"] not in due_ids
        assert c["case_2"] not in due_ids
        ok(client.post(f"/v1/meetings/{c['meeting']}/close", json={}, headers=auth.headers(PR)))
        after = ok(client.get("/v1/meetings/due-cases", headers=auth.headers(PR)))["cases"]
        by_id = {d["case_id"]: d for d in after}
        # Closed: no planned next meeting, so due again, with the last one's date.
        assert by_id[c["case_1"]]["last_meeting_at"] == "2030-05-04T14:00:00+00:00"
        problem(
            client.get("/v1/meetings/due-cases", headers=auth.headers(GGZ)), 403, "role_required"
        )

    def test_cancel_only_while_planned(self, client: TestClient, auth: Auth) -> None:
        meeting = plan(client, auth)
        url = f"/v1/meetings/{meeting}/cancel"
        problem(
            client.post(url, json={"reason": "x"}, headers=auth.headers(CLERK)),
            403,
            "role_required",
        )
        done = ok(client.post(url, json={"reason": "no quorum"}, headers=auth.headers(PR)))
        assert done["status"] == "cancelled"
        problem(client.post(url, json={}, headers=auth.headers(PR)), 409, "meeting_status")


class TestRetention:
    def test_cancelled_meetings_and_erased_cases_leave_the_agenda(
        self, client: TestClient, auth: Auth
    ) -> None:
        c = conference(client, auth)
        secret = canary("cancelled")
        write_minutes(client, auth, c, {"body": {"text": secret}})
        ok(client.post(f"/v1/meetings/{c['meeting']}/cancel", json={}, headers=auth.headers(PR)))
        kept = plan(client, auth)
        kept_item = add_item(client, auth, kept, c["case_2"], [])
        soon = ok(
            client.post("/v1/retention/run", json={"dry_run": True}, headers=auth.headers(PO))
        )
        assert not [e for e in soon["erasures"] if e["scope"] == "meeting"]
        later = {"now": "2031-01-01T00:00:00Z"}  # past the 28 days of the sample covenant
        run = ok(client.post("/v1/retention/run", json=later, headers=auth.headers(PO)))
        meeting_erasures = [e for e in run["erasures"] if e["scope"] == "meeting"]
        assert {e["target_id"] for e in meeting_erasures} == {c["meeting"]}
        assert len(meeting_erasures) == 2  # one per case on its agenda
        office = ok(client.get(f"/v1/meetings/{c['meeting']}", headers=auth.headers(PR)))
        assert (office["items"], office["hidden_items"]) == ([], 2)
        assert minutes_of(client, auth, c["case_1"], CLERK) == []
        other = ok(client.get(f"/v1/meetings/{kept}", headers=auth.headers(PR)))
        assert [i["item_id"] for i in other["items"]] == [kept_item]
        again = ok(client.post("/v1/retention/run", json=later, headers=auth.headers(PO)))
        assert not [e for e in again["erasures"] if e["scope"] == "meeting"]


def test_meeting_writes_replay_by_idempotency_key(client: TestClient, auth: Auth) -> None:
    body = {"scheduled_at": WHEN, "place": "room 2"}
    headers = {**auth.headers(PR), "Idempotency-Key": "plan-1"}
    first = ok(client.post("/v1/meetings", json=body, headers=headers), 201)
    again = client.post("/v1/meetings", json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["meeting_id"] == first["meeting_id"]
    other = {**body, "place": "room 3"}
    problem(client.post("/v1/meetings", json=other, headers=headers), 422, "idempotency_key_reused")
    url = f"/v1/meetings/{first['meeting_id']}/reschedule"
    moved = {"scheduled_at": "2030-05-01T09:00:00Z", "reason": "urgent"}
    key = {**auth.headers(PR), "Idempotency-Key": "move-1"}
    version = ok(client.post(url, json=moved, headers=key))["version"]
    replay = client.post(url, json=moved, headers=key)
    assert (replay.json()["version"], replay.headers["Idempotent-Replayed"]) == (version, "true")
