"""Routes on facts, subjects and participants (both stores)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.support import (
    PO,
    PR,
    Auth,
    active_case,
    fact_body,
    ok,
    record,
    stored_events,
)
from tests.api.test_cases import problem

GGZ = ("ggz", "deelnemer")
CORP = ("woningcorporatie", "deelnemer")


class TestRecordFact:
    """A participant records facts it owns; terms must fit the covenant."""

    def test_owner_is_the_caller_and_sharing_is_applied(
        self, client: TestClient, auth: Auth
    ) -> None:
        setup = active_case(client, auth)
        fact_id = record(
            client, auth, setup, GGZ, "diagnosis", categories=("health",), level="partners",
            partners=("woningcorporatie",),
        )  # fmt: skip
        view = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(CORP)))
        [fact] = view["facts"]
        assert fact["fact_id"] == fact_id
        assert fact["owner"] == "ggz"
        assert fact["sharing"] == {"level": "partners", "partners": ["woningcorporatie"]}
        hidden = client.get(
            f"/v1/cases/{setup.case_id}", headers=auth.headers(("politie", "melder"))
        )
        assert setup.canaries["diagnosis"] not in hidden.text
        assert ok(hidden)["withheld"] == 1

    def test_policy_refusals_are_422_with_reason(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        special, undeclared = "special_category_requires_named_partner", "undeclared_term"
        plain = fact_body(setup.subject_id)
        cases = [
            (fact_body(setup.subject_id, categories=("health",)), special),
            ({**plain, "kind": "gossip"}, undeclared),
            ({**plain, "purpose": "early_signal"}, None),
            ({**plain, "purpose": "criminal_investigation"}, "purpose_incompatible"),
            (fact_body(setup.subject_id, level="partners", partners=("nobody",)), undeclared),
        ]
        before = stored_events(client)
        for body, reason in cases:
            response = client.post(url, json=body, headers=auth.headers(GGZ))
            if reason is None:
                ok(response, 201)  # early_signal facts may serve the joint approach
                before = stored_events(client)
                continue
            assert problem(response, 422, "policy-refused")["reason"] == reason
        assert stored_events(client) == before

    def test_validation_and_unknown_subject(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        for body in [
            {**fact_body(setup.subject_id), "owner": "politie"},
            {**fact_body(setup.subject_id), "categories": []},
            {**fact_body(setup.subject_id), "sharing": {"level": "partners"}},
            {**fact_body(setup.subject_id), "sharing": {"level": "owner", "partners": ["ggz"]}},
            {k: v for k, v in fact_body(setup.subject_id).items() if k != "body"},
        ]:
            problem(client.post(url, json=body, headers=auth.headers(GGZ)), 422, "validation-error")
        unknown = client.post(url, json=fact_body("0" * 32), headers=auth.headers(GGZ))
        assert problem(unknown, 422, "subject-unknown")["code"] == "subject_unknown"

    def test_refusals_by_role_and_relationship(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        body = fact_body(setup.subject_id)
        assert (
            problem(client.post(url, json=body, headers=auth.headers(PO)), 403, "role-required")[
                "reason"
            ]
            == "role_required"
        )
        problem(
            client.post(url, json=body, headers=auth.headers(("gemeente", "deelnemer"))),
            404,
            "not-found",
        )

    def test_idempotent_retry_and_if_match(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        body = fact_body(setup.subject_id)
        headers = auth.headers(GGZ, Idempotency_Key="fact-1")
        first = ok(client.post(url, json=body, headers=headers), 201)
        stored = stored_events(client)
        assert ok(client.post(url, json=body, headers=headers), 201) == {**first, "replayed": True}
        assert stored_events(client) == stored
        stale = auth.headers(GGZ, If_Match=f'"{setup.version}"')
        assert (
            problem(client.post(url, json=body, headers=stale), 409, "version-conflict")[
                "current_version"
            ]
            == first["version"]
        )


class TestCorrectAndRetract:
    """Only the owner corrects or retracts; a retracted fact is erased for everyone."""

    def test_owner_corrects_others_are_refused(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        fact_id = record(client, auth, setup, GGZ, "note")
        url = f"/v1/cases/{setup.case_id}/facts/{fact_id}/corrections"
        corrected = ok(
            client.post(url, json={"body": {"text": "corrected"}}, headers=auth.headers(GGZ))
        )
        assert corrected["fact_id"] == fact_id
        view = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(GGZ)))
        assert view["facts"][0]["body"] == {"text": "corrected"}
        refused = client.post(url, json={"body": {}}, headers=auth.headers(CORP))
        assert problem(refused, 403, "forbidden")["reason"] == "not_owner"
        problem(client.post(url, json={}, headers=auth.headers(GGZ)), 422, "validation-error")
        missing = f"/v1/cases/{setup.case_id}/facts/{'a' * 32}/corrections"
        problem(
            client.post(missing, json={"body": {}}, headers=auth.headers(GGZ)), 404, "not-found"
        )

    def test_retraction_erases_and_then_conflicts(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        fact_id = record(client, auth, setup, GGZ, "note")
        url = f"/v1/cases/{setup.case_id}/facts/{fact_id}/retraction"
        problem(client.post(url, headers=auth.headers(CORP)), 403, "forbidden")
        ok(client.post(url, json={"reason": "wrong person"}, headers=auth.headers(GGZ)))
        view = client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(GGZ))
        assert setup.canaries["note"] not in view.text
        assert (
            problem(client.post(url, headers=auth.headers(GGZ)), 409, "case-status")["reason"]
            == "erased"
        )


class TestSubjectsAndParticipants:
    """Subjects carry a case role; identity is a sealed fact. Participants: procesregisseur."""

    def test_subject_with_identity_fact(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/subjects"
        body = {"case_role": "victim", "identity": {"name": "Invented Person"}}
        added = ok(client.post(url, json=body, headers=auth.headers(GGZ)), 201)
        view = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(CORP)))
        identity = next(f for f in view["facts"] if f["fact_id"] == added["identity_fact_id"])
        assert identity["owner"] == "ggz"
        assert identity["categories"] == ["identity"]
        assert identity["body"] == {"name": "Invented Person"}
        assert {"subject_id": added["subject_id"], "case_role": "victim"} in view["subjects"]
        problem(
            client.post(url, json={"case_role": "neighbour"}, headers=auth.headers(GGZ)),
            422,
            "validation-error",
        )
        problem(
            client.post(url, json={"case_role": "client"}, headers=auth.headers(PO)),
            403,
            "role-required",
        )

    def test_invite_and_remove(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        base = f"/v1/cases/{setup.case_id}/participants"
        assert (
            ok(client.post(base, json={"org": "gemeente"}, headers=auth.headers(PR)), 201)["org"]
            == "gemeente"
        )
        ok(
            client.get(
                f"/v1/cases/{setup.case_id}", headers=auth.headers(("gemeente", "deelnemer"))
            )
        )
        again = client.post(base, json={"org": "gemeente"}, headers=auth.headers(PR))
        # Invited twice: the current participation, 200, and no event.
        assert again.status_code == 200
        assert again.json()["unchanged"] is True
        assert again.json()["version"] == int(again.headers["etag"].strip('"'))
        problem(
            client.post(base, json={"org": "nobody"}, headers=auth.headers(PR)),
            422,
            "validation-error",
        )
        problem(
            client.post(base, json={"org": "om"}, headers=auth.headers(GGZ)), 403, "role-required"
        )
        ok(client.delete(f"{base}/gemeente", headers=auth.headers(PR)))
        problem(
            client.get(
                f"/v1/cases/{setup.case_id}", headers=auth.headers(("gemeente", "deelnemer"))
            ),
            404,
            "not-found",
        )
        problem(client.delete(f"{base}/gemeente", headers=auth.headers(PR)), 404, "not-found")


class TestGrantOnTheEventLoop:
    """POST facts decides on the event loop only when no projection read is needed."""

    def test_a_recent_case_state_lets_the_grant_be_decided_in_memory(
        self, client: TestClient, auth: Auth
    ) -> None:
        from api._guard import STALE_STATE_SECONDS
        from policies import WriteAction

        setup = active_case(client, auth)
        guard = client.app.state.guard  # type: ignore[attr-defined]
        assert not guard.decides_from_memory(WriteAction.record_fact, setup.case_id)
        record(client, auth, setup, GGZ, "observation")
        assert guard.decides_from_memory(WriteAction.record_fact, setup.case_id)
        # Only grants that tolerate a lagging view, and only while the state is recent.
        assert not guard.decides_from_memory(WriteAction.correct_fact, setup.case_id)
        seen_at, state = guard._stale[setup.case_id]
        guard._stale[setup.case_id] = (seen_at - STALE_STATE_SECONDS - 1, state)
        assert not guard.decides_from_memory(WriteAction.record_fact, setup.case_id)
        # ...and the write still goes through, deciding on a fresh read off the loop.
        record(client, auth, setup, GGZ, "observation")
