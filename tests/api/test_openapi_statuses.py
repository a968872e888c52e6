"""The OpenAPI document says what the server does: every status a route answers is documented
for its operation, with the problem codes it may carry; date-time parameters are strict."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api._problems import (
    BAD_BODY,
    DIRECTOR_PARTNER,
    DIRECTOR_ROLE,
    FOUR_EYES,
    OPENS_NO_CASES,
    PROBLEM_JSON,
    REQUEST_EXPIRED,
    command_problem_types,
    from_denial,
)
from api.routes._common import DENIAL_PROBLEMS
from policies import AccessDecision, Disclosure, ReasonCode
from tests.api.statuses import Observation, Operations, Traffic, checked_traffic, undocumented
from tests.api.support import PO, PR, Auth, active_case, ok, record
from tests.api.test_cases import problem

GGZ = ("ggz", "deelnemer")
BODY_METHODS = {"post", "put", "patch", "delete"}


def operations_of(client: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    document: dict[str, Any] = client.app.openapi()  # type: ignore[attr-defined]
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def codes(operation: dict[str, Any], status: int) -> list[str]:
    listed: list[str] = operation["responses"][str(status)]["x-problem-codes"]
    return listed


class TestTrafficCheck:
    """The session's traffic check reports every status an operation does not document."""

    def test_an_undocumented_status_is_reported(self, sqlite_client: TestClient) -> None:
        operations = Operations(sqlite_client.app.openapi())  # type: ignore[attr-defined]
        fine = Observation("POST", "/v1/erasures", 202)
        teapot = Observation("POST", "/v1/erasures", 418)
        unknown_operation = Observation("PUT", "/v1/erasures", 200)
        assert undocumented([fine, teapot, unknown_operation], operations) == [
            teapot,
            unknown_operation,
        ]

    def test_the_session_check_fails_with_the_list(self, sqlite_client: TestClient) -> None:
        teapot = Observation("GET", "/v1/cases/{case}", 418)
        # The check runs as the block ends (PT012: both lines set up what it checks).
        with pytest.raises(pytest.fail.Exception) as failed, checked_traffic() as traffic:  # noqa: PT012
            traffic.watch(sqlite_client)
            traffic.seen[teapot] = "test_somewhere"
        assert "GET /v1/cases/{case} -> 418" in str(failed.value)
        assert "test_somewhere" in str(failed.value)

    def test_a_watched_client_records_route_templates(
        self, sqlite_client: TestClient, sqlite_auth: Auth
    ) -> None:
        traffic = Traffic()
        traffic.watch(sqlite_client)
        case = "0b6f3c1e-5d2a-4c8e-9f10-2a3b4c5d6e7f"
        sqlite_client.get(f"/v1/cases/{case}")
        sqlite_client.get(f"/v1/cases/{case}", headers=sqlite_auth.headers(PR))
        sqlite_client.get("/v1/no-such-route")
        assert set(traffic.seen) == {
            Observation("GET", "/v1/cases/{case}", 401),
            Observation("GET", "/v1/cases/{case}", 404),
        }
        assert traffic.missing() == {}


class TestDocumentedStatuses:
    """Success codes, replays and the problems of hygiene are documented where they occur."""

    def test_a_replayed_erasure_is_documented_200(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        fact_id = record(client, auth, setup, GGZ, "note")
        body = {"scope": "fact", "case_id": setup.case_id, "fact_id": fact_id,
                "ground": "art17_request"}  # fmt: skip
        headers = {**auth.headers(PO), "Idempotency-Key": "erase-once"}
        ok(client.post("/v1/erasures", json=body, headers=headers), 201)
        ok(client.post("/v1/erasures", json=body, headers=headers), 200)
        erase = operations_of(client)[("post", "/v1/erasures")]
        assert {"200", "201", "202"} <= set(erase["responses"])
        replay = erase["responses"]["200"]["content"]["application/json"]["schema"]
        assert {branch["$ref"].rsplit("/", 1)[1] for branch in replay["anyOf"]} == {
            "ErasurePublic",  # an erasure carried out
            "ErasurePending",  # a request still awaiting its confirmation
        }

    def test_a_repeated_invite_is_documented_200(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/participants"
        again = ok(client.post(url, json={"org": "ggz"}, headers=auth.headers(PR)), 200)
        assert again["unchanged"] is True
        invite = operations_of(client)[("post", "/v1/cases/{case}/participants")]
        assert {"200", "201"} <= set(invite["responses"])

    def test_control_characters_are_documented_422_on_every_input_route(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        lone_surrogate = b'{"org": "gg\\ud800z"}'
        refused = client.post(
            f"/v1/cases/{setup.case_id}/participants",
            content=lone_surrogate,
            headers={**auth.headers(PR), "Content-Type": "application/json"},
        )
        problem(refused, 422, "unacceptable-content")
        operations = operations_of(client)
        with_body = [key for key in operations if key[0] in BODY_METHODS]
        assert len(with_body) >= 20
        for key in with_body:
            assert "unacceptable_content" in codes(operations[key], 422), key

    def test_every_problem_status_names_its_codes(self, client: TestClient) -> None:
        # Every code has one status (tests/api/test_readme_problems.py: codes are unique).
        statuses: dict[str, set[int]] = {}
        for kind in (BAD_BODY, *command_problem_types()):
            statuses.setdefault(kind.code, set()).add(kind.status)
        for key, operation in operations_of(client).items():
            problems = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
            assert {"400", "500"} <= set(problems), key  # hygiene and the last resort
            for status, response in problems.items():
                assert set(response["content"]) == {PROBLEM_JSON}, (key, status)
                assert response["x-problem-codes"], (key, status)
                for code in response["x-problem-codes"]:
                    assert int(status) in statuses.get(code, {int(status)}), (key, code)

    def test_no_422_where_a_route_takes_no_fields(self, client: TestClient) -> None:
        """FastAPI's automatic 422 goes where bad headers answer 400 and bad ids 404."""
        case_view = operations_of(client)[("get", "/v1/cases/{case}")]
        assert "422" not in case_view["responses"]
        assert "not_found" in codes(case_view, 404)

    def test_every_denial_of_the_guard_is_documented(self) -> None:
        """A denial maps to a problem of the denial bundle, or to one of the types that the
        routes raising them document themselves."""
        # The direction routes document the two refusals of a named director themselves.
        own = {OPENS_NO_CASES, FOUR_EYES, REQUEST_EXPIRED, DIRECTOR_ROLE, DIRECTOR_PARTNER}
        for reason in ReasonCode:
            if reason.grants:
                continue
            for visible in (True, False):
                denial = AccessDecision(False, reason, "test", disclosure=Disclosure.none)
                kind = from_denial(denial, visible=visible).kind
                assert kind in DENIAL_PROBLEMS or kind in own, (reason, kind)


class TestStrictDateTimes:
    """``from`` and ``to`` take RFC 3339 date-times with an offset, nothing else (422)."""

    @pytest.mark.parametrize(
        "query",
        [
            "to=0.5",
            "from=123",
            "to=2026-13-01",
            "to=2026-13-01T00:00:00Z",
            "to=2026-03-01",
            "from=2026-03-01T09:00:00",
            "to=%202026-03-01T09:00:00Z",
        ],
    )
    def test_anything_else_is_refused(self, client: TestClient, auth: Auth, query: str) -> None:
        response = client.get(f"/v1/audit/entries?{query}", headers=auth.headers(PO))
        body = problem(response, 422, "validation-error")
        assert str(body["errors"][0]["field"]).startswith("query.")  # type: ignore[index]

    @pytest.mark.parametrize(
        "moment", ["2026-03-01T09:00:00Z", "2026-03-01T10:00:00.250+01:00", "2026-03-01t09:00:00z"]
    )
    def test_a_date_time_with_an_offset_is_taken(
        self, client: TestClient, auth: Auth, moment: str
    ) -> None:
        window = client.get(
            "/v1/audit/entries", params={"from": moment, "to": moment}, headers=auth.headers(PO)
        )
        assert ok(window)["entries"] == []

    def test_the_parameters_say_so(self, client: TestClient) -> None:
        entries = operations_of(client)[("get", "/v1/audit/entries")]
        for parameter in entries["parameters"]:
            if parameter["name"] in ("from", "to"):
                assert parameter["schema"]["format"] == "date-time"
                assert "offset" in parameter["description"]
        assert codes(entries, 422) == ["validation_error"]
