"""Replay over HTTP: a captured write replayed with its Idempotency-Key stores one event; the
same request under a fresh key once its token has expired is a 401 and stores nothing; an
access-log entry copied back into the chain is caught by the chain verify."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api._tokens import issue_token
from api.app import create_app
from api.settings import Settings
from ledger._audit_entries import FIELDS
from tests.api.conftest import make_settings
from tests.api.statuses import Traffic
from tests.api.support import (
    PO,
    PR,
    PURPOSE,
    Auth,
    active_case,
    fact_body,
    ok,
    stored_events,
)
from tests.api.test_cases import problem

GGZ = ("ggz", "deelnemer")
REPLAYS = 20


class TestCapturedWriteReplayed:
    """The same POST with the same Idempotency-Key, sent 1 + 20 times, stores one event."""

    def test_one_event_one_answer(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        body = fact_body(setup.subject_id, text="invented replay note")
        headers = {**auth.headers(GGZ), "Idempotency-Key": "captured-1"}
        before = stored_events(client)
        first = ok(client.post(url, json=body, headers=headers), 201)
        after_first = stored_events(client)
        assert after_first - before == 2  # the fact and its idempotency record
        answers = [client.post(url, json=body, headers=headers) for _ in range(REPLAYS)]
        assert {a.status_code for a in answers} == {201}
        assert {a.json()["fact_id"] for a in answers} == {first["fact_id"]}
        assert stored_events(client) == after_first
        case = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(GGZ)))
        assert [f["fact_id"] for f in case["facts"]] == [first["fact_id"]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def strict_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings with no clock leeway for tokens: expired means expired."""
    yield from make_settings(tmp_path, request.param, token_leeway_seconds=0)


class TestExpiredTokenReplay:
    """A captured request under a new Idempotency-Key after its token's exp: 401, nothing stored."""

    def test_new_key_after_expiry(self, strict_settings: Settings, status_traffic: Traffic) -> None:
        auth = Auth(strict_settings)
        with status_traffic.watch(TestClient(create_app(strict_settings))) as client:
            setup = active_case(client, auth)
            url = f"/v1/cases/{setup.case_id}/facts"
            body = fact_body(setup.subject_id, text="invented captured note")
            # The shortest token the issuer makes: valid for at most 2 s from now.
            token = issue_token(
                strict_settings, sub="ggz-deelnemer", org="ggz", roles=["deelnemer"], ttl_seconds=2
            )
            captured = {"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE}
            ok(client.post(url, json=body, headers={**captured, "Idempotency-Key": "a"}), 201)
            stored = stored_events(client)
            exp = int(time.time()) + 2
            while time.time() <= exp:  # at most ~2 s: the token's own lifetime
                time.sleep(0.1)
            replayed = client.post(url, json=body, headers={**captured, "Idempotency-Key": "b"})
            problem(replayed, 401, "unauthenticated")
            assert replayed.headers["www-authenticate"].startswith("Bearer")
            assert stored_events(client) == stored
            # The same request with the first key still gets nothing new either.
            again = client.post(url, json=body, headers={**captured, "Idempotency-Key": "a"})
            assert again.status_code == 401
            assert stored_events(client) == stored


class TestAccessEntryReplayedIntoChain:
    """A copy of an earlier access-log entry appended at the head of the chain fails verify."""

    def test_copied_entry_is_caught(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        for _ in range(3):
            ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(PR)))
        assert ok(client.get("/v1/audit/verify", headers=auth.headers(PO)))["ok"] is True
        log = client.app.state.services.access_log  # type: ignore[attr-defined]
        with log.database.transaction(write=True) as tx:
            (head,) = tx.execute("SELECT MAX(seq) FROM access_log")[0]
            names = ", ".join([*(f for f in FIELDS if f != "seq"), "hash", "covenant"])
            tx.execute(
                f"INSERT INTO access_log (seq, {names})"  # noqa: S608 - fixed column names
                f" SELECT ?, {names} FROM access_log WHERE seq = ?",
                (head + 1, 1),
            )
        report = ok(client.get("/v1/audit/verify", headers=auth.headers(PO)))
        assert report["ok"] is False, report
        assert report["first_bad_seq"] == head + 1, report
