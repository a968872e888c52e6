"""Property: no partner's view of a meeting holds anything of a case it does not take part in.

Random cases (random participants), one meeting with random items and invitations, minutes
with a canary per item; every partner's meeting view, meeting list and case minutes are
searched for the ids, subjects and minutes of cases the partner does not participate in.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.support import CLERK, PR, Auth, active_case, canary, ok
from tests.api.test_meetings import add_item, plan

PARTNERS = ("ggz", "woningcorporatie", "reclassering", "gemeente", "brandweer")
case_shapes = st.lists(
    st.tuples(
        st.sets(st.sampled_from(PARTNERS), max_size=2),  # participants when opened
        st.sets(st.sampled_from(PARTNERS), max_size=2),  # invited through the agenda
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shapes=case_shapes)
def test_views_hold_nothing_of_other_cases(
    sqlite_client: TestClient, sqlite_auth: Auth, shapes: list[tuple[set[str], set[str]]]
) -> None:
    client, auth = sqlite_client, sqlite_auth
    meeting = plan(client, auth)
    cases = []
    for participants, invited in shapes:
        setup = active_case(client, auth, participants=tuple(sorted(participants)))
        item = add_item(client, auth, meeting, setup.case_id, sorted(invited))
        secret = canary("minutes")
        url = f"/v1/meetings/{meeting}/agenda/{item}"
        present = sorted(participants | invited)
        ok(
            client.post(
                f"{url}/attendance", json={"partners": present}, headers=auth.headers(CLERK)
            )
        )
        written = ok(
            client.post(
                f"{url}/minutes",
                json={"body": {"text": secret}, "subjects": [setup.subject_id]},
                headers=auth.headers(CLERK),
            ),
            201,
        )
        ok(client.post(f"{url}/minutes/{written['minutes_id']}/approve", headers=auth.headers(PR)))
        members = {"zvh", "politie"} | participants | invited
        cases.append(
            (setup.case_id, setup.subject_id, item, written["minutes_id"], secret, members)
        )
    for partner in PARTNERS:
        who = (partner, "deelnemer")
        view = client.get(f"/v1/meetings/{meeting}", headers=auth.headers(who)).text
        listing = client.get("/v1/meetings", headers=auth.headers(who)).text
        mine = [c for c in cases if partner in c[5]]
        for case_id, subject, item, minutes_id, secret, members in cases:
            if partner in members:
                assert item in view
                continue
            for text in (view, listing):
                for leaked in (case_id, subject, item, minutes_id, secret):
                    assert leaked not in text
            for own_case, *_ in mine:
                own = client.get(f"/v1/cases/{own_case}/minutes", headers=auth.headers(who)).text
                for leaked in (case_id, subject, item, minutes_id, secret):
                    assert leaked not in own
