"""Routes on cases: open, list, view, triage, phase, notification, close (both stores)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.support import (
    CLERK,
    PO,
    PR,
    PURPOSE,
    Auth,
    active_case,
    ok,
    open_case,
    record,
    stored_events,
)

PROBLEMS = "https://caseledger.example/problems/"
OPEN = {"purpose": PURPOSE, "legal_basis": "wgs", "referred_by": "politie", "phase": 3}


def problem(response: object, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, (response.status_code, response.text)  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["type"] == PROBLEMS + slug
    assert body["status"] == status
    return body


class TestOpenCase:
    """Only the procesregisseur opens cases; the body is checked against the covenant."""

    def test_opens_in_triage_with_version_and_etag(self, client: TestClient, auth: Auth) -> None:
        response = client.post("/v1/cases", json=OPEN, headers=auth.headers(PR))
        body = ok(response, 201)
        assert body["status"] == "triage"
        assert body["version"] == 1
        assert response.headers["etag"] == '"1"'
        assert response.headers["location"] == f"/v1/cases/{body['case_id']}"

    def test_other_roles_are_refused_with_a_reason(self, client: TestClient, auth: Auth) -> None:
        for who in [("politie", "melder"), ("ggz", "deelnemer"), CLERK, PO]:
            body = problem(
                client.post("/v1/cases", json=OPEN, headers=auth.headers(who)),
                403,
                "role-required",
            )
            # The organisation may hold the caller's role; the action needs another one.
            assert body["reason"] == "role_required"
            assert body["required_roles"] == ["procesregisseur"]
            assert body["detail"] == "This action needs the role procesregisseur."
        assert stored_events(client) == 0

    def test_validation_names_fields_not_values(self, client: TestClient, auth: Auth) -> None:
        secret = "Jan-Jansen-1970"
        for bad in [
            {**OPEN, "phase": 5},
            {**OPEN, "purpose": "no_such_purpose"},
            {**OPEN, "referred_by": "nobody"},
            {**OPEN, "legal_basis": secret.lower().replace("-", "_")[:10]},
            {**OPEN, "extra": secret},
            {**OPEN, secret: 1},
            {k: v for k, v in OPEN.items() if k != "phase"},
        ]:
            response = client.post("/v1/cases", json=bad, headers=auth.headers(PR))
            body = problem(response, 422, "validation-error")
            assert secret not in response.text
            assert "Jan" not in response.text
            assert body["errors"]
        assert stored_events(client) == 0

    def test_unauthenticated_and_purpose_problems(self, client: TestClient, auth: Auth) -> None:
        problem(client.post("/v1/cases", json=OPEN), 401, "unauthenticated")
        headers = auth.headers(PR)
        del headers["X-Purpose"]
        body = problem(
            client.post("/v1/cases", json=OPEN, headers=headers), 400, "purpose-required"
        )
        assert PURPOSE in body["allowed_purposes"]  # type: ignore[operator]
        unknown = auth.headers(PR, purpose="gossip")
        problem(client.post("/v1/cases", json=OPEN, headers=unknown), 400, "purpose-required")

    def test_idempotency_key_replays_the_first_result(self, client: TestClient, auth: Auth) -> None:
        headers = auth.headers(PR, Idempotency_Key="open-1")
        first = ok(client.post("/v1/cases", json=OPEN, headers=headers), 201)
        stored = stored_events(client)  # the case event and the idempotency record
        again = client.post("/v1/cases", json=OPEN, headers=headers)
        assert ok(again, 201)["case_id"] == first["case_id"]
        assert again.headers["idempotent-replayed"] == "true"
        assert stored_events(client) == stored
        other = client.post("/v1/cases", json={**OPEN, "phase": 2}, headers=headers)
        problem(other, 422, "idempotency-key-reused")


class TestReadCase:
    """The view is role-filtered; unknown and not permitted answer the very same 404."""

    def test_participant_view_and_etag(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        record(client, auth, setup, ("ggz", "deelnemer"), "note")
        response = client.get(
            f"/v1/cases/{setup.case_id}", headers=auth.headers(("ggz", "deelnemer"))
        )
        body = ok(response)
        assert response.headers["etag"] == f'"{body["version"]}"'
        assert [f["body"]["text"] for f in body["facts"]] == [setup.canaries["note"]]
        assert set(body) >= {"case_id", "status", "phase", "purpose", "participants", "subjects",
                             "facts", "withheld", "actions", "version"}  # fmt: skip

    def test_privacy_officer_sees_metadata_without_body(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        record(client, auth, setup, ("ggz", "deelnemer"), "note")
        response = client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(PO))
        facts = ok(response)["facts"]
        assert len(facts) == 1
        assert "body" not in facts[0]
        assert setup.canaries["note"] not in response.text

    def test_unknown_and_refused_are_indistinguishable(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        outsider = auth.headers(("gemeente", "deelnemer"))
        refused = client.get(f"/v1/cases/{setup.case_id}", headers=outsider)
        unknown = client.get(f"/v1/cases/{uuid.uuid4()}", headers=outsider)
        malformed = client.get("/v1/cases/not-a-case", headers=outsider)
        wrong_purpose = client.get(
            f"/v1/cases/{setup.case_id}",
            headers=auth.headers(("ggz", "deelnemer"), purpose="criminal_investigation"),
        )
        problem(refused, 404, "not-found")
        assert refused.content == unknown.content == malformed.content == wrong_purpose.content

    def test_break_the_glass_is_flagged_and_logged(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        record(client, auth, setup, ("ggz", "deelnemer"), "diagnosis", categories=("health",),
               level="partners", partners=("politie",))  # fmt: skip
        corporation = auth.headers(("woningcorporatie", "deelnemer"))
        url = f"/v1/cases/{setup.case_id}"
        normal = client.get(url, headers=corporation)
        assert setup.canaries["diagnosis"] not in normal.text
        # No emergency rule opens health data for the corporation: still withheld.
        refused = ok(client.get(url, headers={**corporation, "X-Emergency-Reason": "acute risk"}))
        assert refused["emergency"] is False
        assert refused["withheld_by_reason"] == {"category": 1}
        # The GGD's rule (vital interest) names health: the GGD, not yet a participant, may.
        ggd = auth.headers(("ggd", "deelnemer"))
        glass = ok(client.get(url, headers={**ggd, "X-Emergency-Reason": "acute risk"}))
        assert glass["emergency"] is True
        assert glass["facts"][0]["emergency"] is True
        assert glass["facts"][0]["body"] == {"text": setup.canaries["diagnosis"]}
        assert set(glass["emergency_grant"]) == {"grant_id", "ends_at"}
        log = ok(client.get("/v1/audit/entries?emergency=true", headers=auth.headers(PO)))
        assert log["entries"]
        assert {e["org"] for e in log["entries"]} == {"ggd"}

    def test_list_shows_only_visible_cases(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        mine = ok(client.get("/v1/cases", headers=auth.headers(("ggz", "deelnemer"))))
        assert [c["case_id"] for c in mine["cases"]] == [setup.case_id]
        theirs = ok(client.get("/v1/cases", headers=auth.headers(("gemeente", "deelnemer"))))
        assert theirs["cases"] == []


class TestProcessWrites:
    """Triage, phase, notification and close: procesregisseur only, status-checked."""

    def test_triage_accept_reject_and_status_conflict(self, client: TestClient, auth: Auth) -> None:
        case_id = open_case(client, auth)
        rejected_id = open_case(client, auth)
        url = f"/v1/cases/{case_id}/triage"
        accepted = ok(
            client.post(url, json={"decision": "accept", "reason": "r"}, headers=auth.headers(PR))
        )
        assert accepted["status"] == "active"
        assert accepted["version"] == 2
        rejected = client.post(
            f"/v1/cases/{rejected_id}/triage",
            json={"decision": "reject", "reason": "r"},
            headers=auth.headers(PR),
        )
        assert ok(rejected)["status"] == "rejected"
        body = problem(
            client.post(url, json={"decision": "accept", "reason": "r"}, headers=auth.headers(PR)),
            409,
            "case-status",
        )
        assert body["reason"] == "case_not_active"
        problem(
            client.post(url, json={"decision": "maybe", "reason": "r"}, headers=auth.headers(PR)),
            422,
            "validation-error",
        )
        melder = client.post(
            f"/v1/cases/{rejected_id}/triage",
            json={"decision": "accept", "reason": "r"},
            headers=auth.headers(("politie", "melder")),
        )
        assert melder.status_code in (403, 404)

    def test_if_match_conflict_carries_current_version(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/phase"
        stale = auth.headers(PR, If_Match='"1"')
        before = stored_events(client)
        response = client.post(url, json={"phase": 4, "reason": "r"}, headers=stale)
        body = problem(response, 409, "version-conflict")
        assert body["current_version"] == setup.version
        assert response.headers["etag"] == f'"{setup.version}"'
        assert stored_events(client) == before
        fresh = auth.headers(PR, If_Match=f'"{setup.version}"')
        assert ok(client.post(url, json={"phase": 4, "reason": "r"}, headers=fresh))["phase"] == 4
        problem(
            client.post(
                url, json={"phase": 4, "reason": "r"}, headers=auth.headers(PR, If_Match="7")
            ),
            400,
            "invalid-header",
        )

    def test_notification_defer_needs_reason_and_review(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/notification"
        problem(
            client.post(
                url, json={"decision": "defer", "reason": "risk"}, headers=auth.headers(PR)
            ),
            422,
            "validation-error",
        )
        review = (datetime.now(UTC) + timedelta(weeks=4)).date().isoformat()
        body = {"decision": "defer", "reason": "safety risk", "review_at": review}
        assert ok(client.post(url, json=body, headers=auth.headers(PR)))["decision"] == "defer"
        problem(
            client.post(url, json=body, headers=auth.headers(("ggz", "deelnemer"))),
            403,
            "role-required",
        )

    def test_close_then_participants_see_nothing(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        record(client, auth, setup, ("ggz", "deelnemer"), "note")
        url = f"/v1/cases/{setup.case_id}"
        assert (
            ok(client.post(f"{url}/close", json={"reason": "done"}, headers=auth.headers(PR)))[
                "status"
            ]
            == "closed"
        )
        problem(client.get(url, headers=auth.headers(("ggz", "deelnemer"))), 404, "not-found")
        problem(client.post(f"{url}/close", headers=auth.headers(PR)), 404, "not-found")
        metadata = ok(client.get(url, headers=auth.headers(PO)))
        assert metadata["status"] == "closed"
        assert "body" not in metadata["facts"][0]
