"""The privacy officer's routes: access log queries, verification, erasures; health."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.api.support import (
    PO,
    PR,
    SECOND_PO_SUB,
    Auth,
    active_case,
    erase_with_four_eyes,
    ok,
    record,
    stored_events,
)
from tests.api.test_cases import problem

GGZ = ("ggz", "deelnemer")


class TestAuditEntries:
    """Filters, cursor paging and verification; privacy officer with a metadata purpose only."""

    def test_filters_and_paging(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        record(client, auth, setup, GGZ, "note")
        for _ in range(3):
            ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(GGZ)))
        client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(("gemeente", "deelnemer")))
        headers = auth.headers(PO)
        by_subject = ok(
            client.get(f"/v1/audit/entries?subject={setup.subject_id}", headers=headers)
        )
        assert by_subject["entries"]
        assert all(e["subject"] for e in by_subject["entries"])
        assert setup.subject_id not in str(by_subject)  # pseudonyms only
        denied = ok(client.get("/v1/audit/entries?decision=denied&org=gemeente", headers=headers))
        assert [e["reason"] for e in denied["entries"]] == ["not_participant"]
        first = ok(client.get("/v1/audit/entries?limit=2", headers=headers))
        assert len(first["entries"]) == 2
        assert first["next"]
        second = ok(
            client.get(f"/v1/audit/entries?limit=2&cursor={first['next']}", headers=headers)
        )
        assert second["entries"][0]["seq"] > first["entries"][-1]["seq"]
        window = ok(
            client.get(
                "/v1/audit/entries?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
                headers=headers,
            )
        )
        assert window["entries"] == []
        problem(
            client.get("/v1/audit/entries?from=2000-01-01T00:00:00", headers=headers),
            422,
            "validation-error",
        )
        problem(client.get("/v1/audit/entries?limit=0", headers=headers), 422, "validation-error")

    def test_only_the_privacy_officer_for_accountability(
        self, client: TestClient, auth: Auth
    ) -> None:
        for who, purpose in [(PR, None), (GGZ, None), (PO, "zvh_joint_approach")]:
            for url in ("/v1/audit/entries", "/v1/audit/verify"):
                problem(
                    client.get(url, headers=auth.headers(who, purpose=purpose)), 403, "forbidden"
                )

    def test_verify(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(PR)))
        report = ok(client.get("/v1/audit/verify", headers=auth.headers(PO)))
        assert report["ok"] is True
        assert report["entries"] >= 1


class TestErasures:
    """Erasure destroys keys and answers with a signed certificate of ids and counts."""

    def test_erase_fact_then_get_certificate(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        fact_id = record(client, auth, setup, GGZ, "note")
        body = {
            "scope": "fact",
            "case_id": setup.case_id,
            "fact_id": fact_id,
            "ground": "art17_request",
        }
        created = ok(client.post("/v1/erasures", json=body, headers=auth.headers(PO)), 201)
        document = created["certificate"]["document"]
        assert document["unreadable_fact_ids"] == [fact_id]
        assert document["destroyed"]["fact_keys"] >= 1
        fetched = ok(client.get(f"/v1/erasures/{created['erasure_id']}", headers=auth.headers(PO)))
        assert fetched["certificate"]["document"] == document
        view = client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(GGZ))
        assert setup.canaries["note"] not in view.text

    def test_scopes_refusals_and_validation(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        subject = {"scope": "subject", "case_id": setup.case_id, "subject_id": setup.subject_id,
                   "ground": "art17_request"}  # fmt: skip
        assert (
            problem(
                client.post("/v1/erasures", json=subject, headers=auth.headers(PR)),
                403,
                "forbidden",
            )["reason"]
            == "role_not_permitted"
        )
        problem(
            client.post(
                "/v1/erasures", json={**subject, "subject_id": "e" * 32}, headers=auth.headers(PO)
            ),
            404,
            "not-found",
        )
        problem(
            client.post(
                "/v1/erasures",
                json={"scope": "case", "ground": "art17_request"},
                headers=auth.headers(PO),
            ),
            422,
            "validation-error",
        )
        problem(
            client.post(
                "/v1/erasures", json={**subject, "ground": "because"}, headers=auth.headers(PO)
            ),
            422,
            "validation-error",
        )
        problem(
            client.post(
                "/v1/erasures",
                json={"scope": "owner", "org": "nobody", "ground": "owner_withdrawal"},
                headers=auth.headers(PO),
            ),
            422,
            "validation-error",
        )
        assert ok(client.post("/v1/erasures", json=subject, headers=auth.headers(PO)), 201)[
            "erasure_id"
        ]
        problem(client.get(f"/v1/erasures/{'f' * 32}", headers=auth.headers(PO)), 404, "not-found")
        problem(client.get(f"/v1/erasures/{'f' * 32}", headers=auth.headers(PR)), 403, "forbidden")

    def test_case_and_owner_scopes(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        record(client, auth, setup, GGZ, "note")
        owner = {"scope": "owner", "org": "ggz", "ground": "owner_withdrawal"}
        assert erase_with_four_eyes(client, auth, owner)["erasure_id"]
        case = {"scope": "case", "case_id": setup.case_id, "ground": "art17_request"}
        erase_with_four_eyes(client, auth, case)
        problem(
            client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(PR)), 404, "not-found"
        )


class TestIdempotentErasures:
    """A retried erasure with the same Idempotency-Key returns the first certificate; it
    destroys nothing more and records no second erasure."""

    @pytest.mark.parametrize("scope", ["fact", "subject"])
    def test_retry_returns_the_first_certificate(
        self, client: TestClient, auth: Auth, scope: str
    ) -> None:
        setup = active_case(client, auth)
        fact_id = record(client, auth, setup, GGZ, "note")
        body = {
            "fact": {"scope": "fact", "case_id": setup.case_id, "fact_id": fact_id},
            "subject": {"scope": "subject", "case_id": setup.case_id,
                        "subject_id": setup.subject_id},
        }[scope]  # fmt: skip
        body["ground"] = "art17_request"
        headers = {**auth.headers(PO), "Idempotency-Key": f"erase-{scope}-1"}

        first = client.post("/v1/erasures", json=body, headers=headers)
        again = client.post("/v1/erasures", json=body, headers=headers)

        created = ok(first, 201)
        replayed = ok(again, 200)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert (created["replayed"], replayed["replayed"]) == (False, True)
        assert replayed["erasure_id"] == created["erasure_id"]
        assert replayed["certificate"] == created["certificate"]

    @pytest.mark.parametrize("scope", ["case", "owner"])
    def test_retried_request_and_confirmation(
        self, client: TestClient, auth: Auth, scope: str
    ) -> None:
        """A retried four-eyes request gets the same request (200); a retried confirmation
        gets the certificate (200) and erases nothing more."""
        setup = active_case(client, auth)
        record(client, auth, setup, GGZ, "note")
        body = {
            "case": {"scope": "case", "case_id": setup.case_id, "ground": "art17_request"},
            "owner": {"scope": "owner", "org": "ggz", "ground": "owner_withdrawal"},
        }[scope]
        headers = {**auth.headers(PO), "Idempotency-Key": f"erase-{scope}-1"}
        first = ok(client.post("/v1/erasures", json=body, headers=headers), 202)
        again = client.post("/v1/erasures", json=body, headers=headers)
        assert ok(again, 200)["erasure_id"] == first["erasure_id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        url = f"/v1/erasures/{first['erasure_id']}/confirm"
        second = auth.headers(PO, sub=SECOND_PO_SUB)
        created = ok(client.post(url, headers=second), 201)
        events = stored_events(client)
        replayed = client.post(url, headers=second)
        assert ok(replayed, 200)["certificate"] == created["certificate"]
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert stored_events(client) == events

    def test_a_key_reused_for_another_erasure_is_refused(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        first_fact = record(client, auth, setup, GGZ, "note")
        other_fact = record(client, auth, setup, GGZ, "other note")
        headers = {**auth.headers(PO), "Idempotency-Key": "erase-reused"}
        body = {"scope": "fact", "case_id": setup.case_id, "ground": "art17_request"}

        ok(client.post("/v1/erasures", json={**body, "fact_id": first_fact}, headers=headers), 201)
        reused = client.post("/v1/erasures", json={**body, "fact_id": other_fact}, headers=headers)

        problem(reused, 422, "idempotency-key-reused")
        view = client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(GGZ))
        assert setup.canaries["other note"] in view.text  # not erased

    def test_a_malformed_key_is_a_bad_header(self, client: TestClient, auth: Auth) -> None:
        body = {"scope": "owner", "org": "ggz", "ground": "owner_withdrawal"}
        headers = {**auth.headers(PO), "Idempotency-Key": "with space"}
        problem(client.post("/v1/erasures", json=body, headers=headers), 400, "invalid-header")


class TestHealth:
    """Liveness and readiness need no token."""

    def test_health_and_ready(self, client: TestClient) -> None:
        assert ok(client.get("/healthz")) == {"status": "ok", "checks": {}}
        ready = ok(client.get("/readyz"))
        assert ready["status"] == "ready"
        assert set(ready["checks"].values()) == {"ok"}
        assert "fact_committer" in ready["checks"]

    def test_not_ready_when_the_fact_committer_stopped(self, client: TestClient) -> None:
        client.app.state.committer.close()  # type: ignore[attr-defined]
        body = problem(client.get("/readyz"), 503, "unavailable")
        assert body["checks"]["fact_committer"] == "stopped"  # type: ignore[index]

    def test_not_ready_when_the_runner_failed(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        runner = client.app.state.services.runner  # type: ignore[attr-defined]

        def broken(progress: object = None) -> int:
            raise RuntimeError("invented")

        monkeypatch.setattr(runner, "catch_up", broken)  # the follower's next round fails
        for _ in range(500):
            if runner.error is not None:
                break
            time.sleep(0.01)
        body = problem(client.get("/readyz"), 503, "unavailable")
        assert body["checks"]["projection_runner"] == "failed"  # type: ignore[index]
