"""The access report (AVG art. 15) on the demo world: exactly the person's facts, the true
recipients, and never another subject's data (canaries per subject), in JSON and in HTML."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios.checks import NOT_DISCLOSED, found
from tests.scenarios.world import PO, PR, CaseRecord, World, user

SUBJECTS = [
    ("sc1", "M"),
    ("sc2", "A"),
    ("sc2", "B"),
    ("sc2", "C"),
    ("sc3", "S"),
    ("sc4", "D"),
    ("sc5", "E"),
]
ERASED = {("sc4", "D"): {"debts"}}  # erased by the retention run after the consent withdrawal


def url(case: CaseRecord, subject: str) -> str:
    return f"{case.path()}/subjects/{case.subjects[subject]}/access-report"


def foreign(world: World, case: CaseRecord, subject: str) -> list[str]:
    """Every canary of the world that is not the subject's own and not a process text of
    the subject's case (such as the notification reason the report repeats)."""
    own = set(case.canaries.get(subject, [])) | set(case.canaries.get("case", []))
    return [c for c in world.all_canaries() if c not in own]


@pytest.mark.parametrize(("name", "subject"), SUBJECTS)
class TestAccessReport:
    """A subject's access report: their facts only (shared ones withheld with a reason), the
    partners that really read them, nothing of anyone else, as JSON and as a printable page."""

    def test_exactly_the_persons_facts(self, world: World, name: str, subject: str) -> None:
        case: CaseRecord = getattr(world, name)
        report: dict[str, Any] = world.http.get(PO, url(case, subject))
        assert (report["case_id"], report["subject_id"]) == (case.case_id, case.subjects[subject])
        erased = ERASED.get((name, subject), set())
        about = {label for label, subjects in case.fact_subjects.items() if subject in subjects}
        listed = {case.label_of(f["fact_id"]): f for f in report["facts"]}
        assert set(listed) == about - erased
        assert report["erased_facts"] == len(erased)
        deferred = "review_at" in case.moments  # SC2: informing the person is deferred
        for label, fact in listed.items():
            alone = case.fact_subjects[label] == (subject,)
            if alone and not deferred and fact["owner"] == "zvh":
                assert fact["withheld_reason"] is None
                assert case.fact_canary[label] in str(fact["body"])
                continue
            if not alone:
                expected = "concerns_other_subjects"
            elif deferred:
                expected = "notification_deferred"  # AVG art. 23
            else:
                expected = "awaiting_owner_release"  # each partner releases its own facts
            assert fact["withheld_reason"] == expected
            assert fact["body"] is None
            assert fact["owner"]
            assert fact["legal_basis"]
            assert fact["purpose"] == case.purpose
        by_owner: dict[str, list[str]] = {}
        for fact in report["facts"]:
            by_owner.setdefault(fact["owner"], []).append(fact["fact_id"])
        assert report["by_owner"] == by_owner

    def test_the_true_recipients(self, world: World, name: str, subject: str) -> None:
        case: CaseRecord = getattr(world, name)
        report = world.http.get(PO, url(case, subject))
        log = world.http.audit(subject=case.subjects[subject])
        readers = [
            e
            for e in log
            if e["decision"] == "allowed"
            and e["reason"] not in NOT_DISCLOSED
            and e["outcome"] == "ok"
        ]
        expected = {
            org: sum(1 for e in readers if e["org"] == org) for org in {e["org"] for e in readers}
        }
        assert {r["org"]: r["reads"] for r in report["recipients"]} == expected
        assert expected  # every subject's data was read by someone in the scenarios

    def test_never_another_subjects_data(self, world: World, name: str, subject: str) -> None:
        case: CaseRecord = getattr(world, name)
        as_json = world.http.call(PO, "GET", url(case, subject))
        as_html = world.http.call(PO, "GET", url(case, subject), Accept="text/html")
        assert as_json.status_code == as_html.status_code == 200
        assert as_html.headers["content-type"].startswith("text/html")
        assert "<h1>" in as_html.text
        assert "Ontvangers" in as_html.text
        others = foreign(world, case, subject)
        assert len(others) > 30
        assert found(as_json.text, others) == []
        assert found(as_html.text, others) == []
        erased = ERASED.get((name, subject), set())
        released = "review_at" not in case.moments  # nothing is released during a deferral
        mine = [
            case.fact_canary[label]
            for label, subjects in case.fact_subjects.items()
            if subjects == (subject,) and label not in erased
            and released and case.fact_owner[label] == "zvh"
        ]  # fmt: skip
        assert found(as_json.text, mine) == mine
        assert found(as_html.text, mine) == mine

    def test_producing_it_is_logged(self, world: World, name: str, subject: str) -> None:
        case: CaseRecord = getattr(world, name)
        before = world.http.log_position()
        report = world.http.get(PO, url(case, subject))
        logged = world.http.audit(subject=case.subjects[subject], after=before)
        assert {(e["actor"], e["outcome"]) for e in logged} == {(user(PO), "access_report")}
        decided = {f for e in logged for f in e["fact_ids"]}
        assert {f["fact_id"] for f in report["facts"]} <= decided
        withheld = {(f["fact_id"], f["withheld_reason"]) for f in report["facts"]}
        denied = {
            (f, e["reason"]) for e in logged if e["decision"] == "denied" for f in e["fact_ids"]
        }
        listed = {f for f, _ in withheld}
        assert {w for w in withheld if w[1]} == {d for d in denied if d[0] in listed}
        assert {d[1] for d in denied if d[0] not in listed} <= {"erased", "retracted"}


class TestAccessReportIsForThePrivacyOfficer:
    """Only the privacy officer, for the accountability purpose, compiles access reports."""

    def test_others_are_refused(self, world: World) -> None:
        case = world.sc1
        for who, purpose in ((PR, None), (PO, "zvh_joint_approach")):
            response = world.http.client.get(
                url(case, "M"), headers=world.http.auth.headers(who, purpose)
            )
            assert response.status_code == 403
            assert found(response.text, case.all_canaries()) == []
        unknown = f"{case.path()}/subjects/{'0' * 32}/access-report"
        assert world.http.call(PO, "GET", unknown).status_code == 404
