"""Routes on the action list and on consents (both stores)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.api.support import CLERK, PO, PR, Auth, active_case, ok
from tests.api.test_cases import problem

GGZ = ("ggz", "deelnemer")
CORP = ("woningcorporatie", "deelnemer")
ACTION = {"assignee": "woningcorporatie", "what": "Betalingsregeling", "due": "2026-12-01"}


class TestActions:
    """Procesregisseur and clerk agree actions; the assignee or procesregisseur progress them;
    every participant and the clerk read the list, also as CSV."""

    def test_agree_progress_and_list(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        base = f"/v1/cases/{setup.case_id}/actions"
        action_id = ok(client.post(base, json=ACTION, headers=auth.headers(CLERK)), 201)[
            "action_id"
        ]
        status_url = f"{base}/{action_id}/status"
        assert (
            ok(client.post(status_url, json={"status": "in_progress"}, headers=auth.headers(CORP)))[
                "status"
            ]
            == "in_progress"
        )
        ok(client.post(status_url, json={"status": "done"}, headers=auth.headers(PR)))
        refused = client.post(status_url, json={"status": "open"}, headers=auth.headers(GGZ))
        assert problem(refused, 403, "forbidden")["reason"] == "not_assignee"
        listing = client.get(base, headers=auth.headers(GGZ))
        assert ok(listing)["actions"] == [{"action_id": action_id, **ACTION, "status": "done"}]
        assert listing.headers["etag"] == f'"{ok(listing)["version"]}"'

    def test_csv_and_negotiation(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        base = f"/v1/cases/{setup.case_id}/actions"
        formula = {**ACTION, "what": "=HYPERLINK(1)"}
        ok(client.post(base, json=formula, headers=auth.headers(PR)), 201)
        response = client.get(base, headers={**auth.headers(CLERK), "Accept": "text/csv"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["action_id", "assignee", "what", "due", "status"]
        assert rows[1][2] == "'=HYPERLINK(1)"
        problem(
            client.get(base, headers={**auth.headers(CLERK), "Accept": "image/png"}),
            406,
            "not-acceptable",
        )

    def test_refusals_and_validation(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        base = f"/v1/cases/{setup.case_id}/actions"
        problem(client.post(base, json=ACTION, headers=auth.headers(GGZ)), 403, "role-required")
        problem(
            client.post(base, json={**ACTION, "assignee": "om"}, headers=auth.headers(PR)),
            422,
            "validation-error",
        )
        problem(
            client.post(base, json={**ACTION, "due": "tomorrow"}, headers=auth.headers(PR)),
            422,
            "validation-error",
        )
        problem(client.get(base, headers=auth.headers(("gemeente", "deelnemer"))), 404, "not-found")
        missing = f"{base}/{'b' * 32}/status"
        problem(
            client.post(missing, json={"status": "done"}, headers=auth.headers(PR)),
            404,
            "not-found",
        )
        ok(client.get(base, headers=auth.headers(PO)))


class TestConsents:
    """A participant records consent; the recording partner withdraws it, in any status."""

    def test_record_and_withdraw(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        base = f"/v1/cases/{setup.case_id}/consents"
        body = {"subject": setup.subject_id, "purpose": "zvh_joint_approach",
                "categories": ["housing"], "recipients": ["gemeente"]}  # fmt: skip
        consent_id = ok(client.post(base, json=body, headers=auth.headers(GGZ)), 201)["consent_id"]
        withdrawal = f"{base}/{consent_id}/withdrawal"
        assert (
            problem(client.post(withdrawal, json={}, headers=auth.headers(CORP)), 403, "forbidden")[
                "reason"
            ]
            == "not_owner"
        )
        ok(client.post(f"/v1/cases/{setup.case_id}/close", headers=auth.headers(PR)))
        assert (
            ok(client.post(withdrawal, json={}, headers=auth.headers(GGZ)))["consent_id"]
            == consent_id
        )
        problem(
            client.post(withdrawal, headers=auth.headers(GGZ)), 409, "consent-already-withdrawn"
        )

    def test_validation(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        base = f"/v1/cases/{setup.case_id}/consents"
        good = {"subject": setup.subject_id, "purpose": "zvh_joint_approach",
                "categories": ["housing"], "recipients": ["gemeente"]}  # fmt: skip
        for bad in [{**good, "categories": ["gossip"]}, {**good, "recipients": []},
                    {**good, "purpose": "nothing"}]:  # fmt: skip
            problem(client.post(base, json=bad, headers=auth.headers(GGZ)), 422, "validation-error")
        unknown = {**good, "subject": "c" * 32}
        problem(client.post(base, json=unknown, headers=auth.headers(GGZ)), 422, "subject-unknown")
        missing = f"{base}/{'d' * 32}/withdrawal"
        problem(client.post(missing, headers=auth.headers(GGZ)), 404, "not-found")
