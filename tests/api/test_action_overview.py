"""GET /v1/actions: the action list across cases and the procesregisseur's overdue overview,
with an injected clock (both stores)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.statuses import Traffic
from tests.api.support import CLERK, PO, PR, Auth, active_case, ok
from tests.api.test_cases import problem

GGZ = ("ggz", "deelnemer")
CORP = ("woningcorporatie", "deelnemer")
POLICE = ("politie", "melder")
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(api_settings: Settings, status_traffic: Traffic, clock: Clock) -> Iterator[TestClient]:
    app = create_app(api_settings, clock=clock)
    with status_traffic.watch(TestClient(app)) as test_client:
        yield test_client


def agree(client: TestClient, auth: Auth, case_id: str, assignee: str, due: str) -> str:
    body = {"assignee": assignee, "what": f"invented task for {assignee}", "due": due}
    url = f"/v1/cases/{case_id}/actions"
    created = ok(client.post(url, json=body, headers=auth.headers(PR)), 201)
    return str(created["action_id"])


def listing(client: TestClient, auth: Auth, who: tuple[str, str], **params: str) -> dict:  # type: ignore[type-arg]
    return ok(client.get("/v1/actions", params=params, headers=auth.headers(who)))


def ids(page: dict) -> list[str]:  # type: ignore[type-arg]
    return [a["action_id"] for a in page["actions"]]


class TestActionsAcrossCases:
    def test_own_partner_overdue_and_the_overview(
        self, timed: TestClient, auth: Auth, clock: Clock
    ) -> None:
        client = timed
        one = active_case(client, auth, ("ggz", "woningcorporatie")).case_id
        two = active_case(client, auth, ("woningcorporatie",)).case_id
        three = active_case(client, auth, ("gemeente",)).case_id
        early = agree(client, auth, one, "woningcorporatie", "2026-06-03")
        late = agree(client, auth, two, "woningcorporatie", "2026-06-20")
        ggz = agree(client, auth, one, "ggz", "2026-06-02")
        other = agree(client, auth, three, "gemeente", "2026-06-02")
        ok(client.post(f"/v1/cases/{one}/actions/{ggz}/status", json={"status": "in_progress"},
                       headers=auth.headers(GGZ)))  # fmt: skip

        mine = listing(client, auth, CORP, assignee="me", status="open")
        assert ids(mine) == [early, late]
        assert [a["case_id"] for a in mine["actions"]] == [one, two]
        assert mine["actions"][0]["what"] == "invented task for woningcorporatie"
        assert mine["today"] == "2026-06-01"
        assert mine["next"] is None
        assert not any(a["overdue"] for a in mine["actions"])
        assert listing(client, auth, CORP, assignee="me", overdue="true")["actions"] == []
        # Every action of its cases, as on each case's own list; none of a case it is not in.
        assert ids(listing(client, auth, CORP)) == [ggz, early, late]

        clock.now = T0 + timedelta(days=5)  # 2026-06-06: the first three are overdue
        assert ids(listing(client, auth, CORP, assignee="me", overdue="true")) == [early]
        assert ids(listing(client, auth, CORP, assignee="me", overdue="false")) == [late]
        overview = listing(client, auth, PR, overdue="true")
        same_day = [action for _, action in sorted([(one, ggz), (three, other)])]
        assert ids(overview) == [*same_day, early]  # due, then case, then action
        assert all(a["overdue"] for a in overview["actions"])
        assert {a["status"] for a in overview["actions"]} == {"open", "in_progress"}
        ok(client.post(f"/v1/cases/{one}/actions/{early}/status", json={"status": "done"},
                       headers=auth.headers(CORP)))  # fmt: skip
        assert early not in ids(listing(client, auth, PR, overdue="true"))
        assert ids(listing(client, auth, CLERK, assignee="gemeente")) == [other]

    def test_paging_with_a_cursor(self, timed: TestClient, auth: Auth) -> None:
        client = timed
        case_id = active_case(client, auth, ("ggz",)).case_id
        made = [agree(client, auth, case_id, "ggz", f"2026-07-{day:02d}") for day in range(1, 6)]
        seen: list[str] = []
        page = listing(client, auth, GGZ, limit="2")
        while True:
            assert len(page["actions"]) <= 2
            seen += ids(page)
            if page["next"] is None:
                break
            page = listing(client, auth, GGZ, limit="2", cursor=page["next"])
        assert seen == made

    def test_closed_and_removed_cases_drop_out_and_reads_are_logged(
        self, timed: TestClient, auth: Auth
    ) -> None:
        client = timed
        kept = active_case(client, auth, ("ggz",)).case_id
        closed = active_case(client, auth, ("ggz",)).case_id
        shown = agree(client, auth, kept, "ggz", "2026-06-10")
        agree(client, auth, closed, "ggz", "2026-06-10")
        ok(client.post(f"/v1/cases/{closed}/close", json={"reason": "done"},
                       headers=auth.headers(PR)))  # fmt: skip
        assert ids(listing(client, auth, GGZ, assignee="me")) == [shown]
        officer = listing(client, auth, PO)  # metadata: every case, no descriptions
        assert {a["case_id"] for a in officer["actions"]} == {kept, closed}
        assert all("what" not in a for a in officer["actions"])
        entries = ok(client.get("/v1/audit/entries", params={"case": kept, "org": "ggz"},
                                headers=auth.headers(PO)))["entries"]  # fmt: skip
        assert [(e["decision"], e["reason"]) for e in entries] == [
            ("allowed", "allowed_participant")
        ]

    def test_bad_input(self, timed: TestClient, auth: Auth) -> None:
        client = timed
        headers = auth.headers(GGZ)

        def get(**params: str) -> object:
            return client.get("/v1/actions", params=params, headers=headers)

        body = problem(get(status="finished"), 422, "unknown-action-status")
        assert body["errors"] == [{"field": "status"}]
        for bad in ("yes", "1", "TRUE", ""):
            body = problem(get(overdue=bad), 422, "validation-error")
            assert body["errors"] == [{"field": "overdue", "type": "bool_parsing"}]
        body = problem(get(overdue="true", status="done"), 422, "validation-error")
        assert body["errors"] == [{"field": "overdue", "type": "conflicts_with_status"}]
        body = problem(get(assigne="me"), 422, "validation-error")
        assert body["errors"] == [{"field": "assigne", "type": "unknown_parameter"}]
        body = problem(get(assignee="nosuch"), 422, "validation-error")
        assert body["errors"] == [{"field": "assignee", "type": "not_in_covenant"}]
        problem(get(assignee="Me!"), 422, "validation-error")
        for cursor in ("bm90IGpzb24", "WyIyMDI2LTAxLTAxIiwieCIsInkiXQ", "***"):
            problem(get(cursor=cursor), 422, "validation-error")
        problem(get(limit="0"), 422, "validation-error")
        problem(get(limit="many"), 422, "validation-error")
        refused = client.get("/v1/actions", headers=auth.headers(PR, purpose="accountability"))
        assert problem(refused, 403, "forbidden")["reason"] == "role_not_permitted"
        problem(client.get("/v1/actions"), 401, "unauthenticated")
