"""Retention runs with a simulated clock: what is due is erased and never served again, a legal
hold suspends erasure (and is listed) until it is lifted, and a second run is a no-op."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.opening import open_as_recorded
from tests.scenarios.checks import found, look, privacy_officer_view
from tests.scenarios.conftest import Env
from tests.scenarios.world import (
    CLERK,
    DJI,
    MUNICIPALITY,
    PO,
    POLICE,
    PR,
    PROBATION,
    CaseRecord,
    Http,
    sc4_aftercare,
    sc4_withdraw_debts,
    sc5_close,
    sc5_escalation,
)

EVERYONE = (PR, CLERK, PO, POLICE, MUNICIPALITY, PROBATION, DJI)


def two_years_after(moment: datetime) -> datetime:
    return moment.replace(year=moment.year + 2)


def run(http: Http, **body: Any) -> dict[str, Any]:
    return http.do(PO, "/v1/retention/run", body)


def erasures(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((e["scope"], e["target_id"], e["ground"]) for e in answer["erasures"])


def served(http: Http, cases: list[CaseRecord]) -> tuple[set[str], str]:
    """Fact ids served with content to anyone, and every response text, after looking at
    every case as every role."""
    with_body: set[str] = set()
    texts = []
    for case in cases:
        for who in EVERYONE:
            response = http.view(who, case)
            texts.append(response.text)
            if response.status_code == 200:
                facts = response.json()["facts"]
                with_body |= {f["fact_id"] for f in facts if "body" in f}
    return with_body, "\n".join(texts)


class TestRetentionRun:
    """At the simulated time the due scopes are erased; nothing expired is served after."""

    def test_expired_facts_are_erased_and_never_served(self, env: Env) -> None:
        http = env.http
        sc4 = sc4_aftercare(http)
        sc4_withdraw_debts(http, sc4)
        sc5 = sc5_escalation(http)
        sc5_close(http, sc5)
        assert look(http, MUNICIPALITY, sc4).seen.get("debts") is None  # hidden at once

        http.clock.set(two_years_after(sc5.moments["closed"]) + timedelta(hours=1))
        preview = run(http, dry_run=True)
        assert sorted(
            (e["scope"], e.get("fact_id", e["case_id"])) for e in preview["erasures"]
        ) == sorted([("case", sc5.case_id), ("fact", sc4.facts["debts"])])
        assert privacy_officer_view(http, sc5)["status"] == "closed"  # the preview erased nothing

        answer = run(http)
        assert erasures(answer) == sorted(
            [
                ("case", sc5.case_id, "retention"),
                ("fact", sc4.facts["debts"], "consent_withdrawn"),
            ]
        )
        expired_ids = {sc4.facts["debts"], *sc5.facts.values()}
        expired = [sc4.fact_canary["debts"], *sc5.all_canaries()]
        with_body, texts = served(http, [sc4, sc5])
        assert with_body & expired_ids == set()  # 0 expired facts served
        assert with_body == {
            sc4.facts[label] for label in ("detention start", "detention end", "housing need")
        }
        assert found(texts, expired) == []
        assert privacy_officer_view(http, sc5)["facts"] == []
        ledger = http.services.ledger
        case = ledger.get_case(sc4.case_id)
        assert [o.body for o in open_as_recorded(ledger, case, [sc4.facts["debts"]])] == [None]

        again = run(http)
        assert (again["erasures"], again["holds"]) == ([], [])

    def test_a_hold_suspends_erasure_until_lifted(self, env: Env) -> None:
        http = env.http
        case = sc5_escalation(http)
        sc5_close(http, case)
        placed = http.call(PO, "POST", "/v1/holds", {"case_id": case.case_id,
                                                     "reason_code": "litigation"})  # fmt: skip
        assert placed.status_code == 201, placed.text
        hold_id = placed.json()["hold_id"]
        refused = http.call(PR, "POST", "/v1/holds", {"case_id": case.case_id,
                                                      "reason_code": "complaint"})  # fmt: skip
        assert refused.status_code == 403

        deadline = two_years_after(case.moments["closed"])
        http.clock.set(deadline + timedelta(days=30))
        held = run(http)
        assert held["erasures"] == []
        [listed] = held["holds"]
        due_since = datetime.fromisoformat(listed.pop("due_since"))
        assert deadline - timedelta(seconds=1) < due_since <= deadline  # closing + 2 years
        assert listed == {
            "case_id": case.case_id,
            "suspends_erasure": True,
            "holds": ["litigation"],
            "hold_ids": [hold_id],
        }
        kept = privacy_officer_view(http, case)
        assert (kept["status"], len(kept["facts"])) == ("closed", len(case.facts))
        ledger = http.services.ledger
        bodies = open_as_recorded(ledger, ledger.get_case(case.case_id), list(case.facts.values()))
        assert all(b.body is not None for b in bodies)  # nothing destroyed while on hold

        lifted = http.call(PO, "POST", f"{case.path()}/holds/{hold_id}/lift", {})
        assert lifted.status_code == 200, lifted.text
        after = run(http)
        assert erasures(after) == [("case", case.case_id, "retention")]
        assert after["holds"] == []
        assert privacy_officer_view(http, case)["status"] == "erased"
        again = run(http)
        assert (again["erasures"], again["holds"]) == ([], [])

    def test_the_clock_only_moves_forward(self, env: Env) -> None:
        http = env.http
        case = sc5_escalation(http)
        sc5_close(http, case)
        earlier = http.call(PO, "POST", "/v1/retention/run",
                            {"now": "2020-01-01T00:00:00Z"})  # fmt: skip
        assert earlier.status_code == 422
        not_yet = run(
            http, now=(two_years_after(case.moments["closed"]) - timedelta(seconds=1)).isoformat()
        )
        assert not_yet["erasures"] == []
        due = run(http, now=two_years_after(case.moments["closed"]).isoformat())
        assert erasures(due) == [("case", case.case_id, "retention")]
        refused = http.call(PR, "POST", "/v1/retention/run", {})
        assert refused.status_code == 403
