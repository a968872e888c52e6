"""docs/domain.md acceptance scenarios SC1-SC5, end to end over HTTP, on SQLite and PostgreSQL.

Each scenario asserts what every role sees and does not see (facts, bodies, withheld counts,
actions), that non-participants get a 404 that is logged as denied, and what the access log
answers afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from ledger import Case
from tests.pg import pg_dump
from tests.scenarios.checks import (
    METADATA,
    content,
    content_readers,
    data_dir_bytes,
    found,
    look,
    metadata,
    privacy_officer_view,
    readers_of,
    refused,
)
from tests.scenarios.conftest import Env
from tests.scenarios.world import (
    CLERK,
    CORPORATION,
    DJI,
    FIRE,
    GGD,
    INSPECTION,
    MENTAL_HEALTH,
    MUNICIPALITY,
    OUTSIDER,
    PO,
    POLICE,
    POLICE_OFFICER,
    PR,
    PROBATION,
    VEILIG_THUIS,
    officer_request,
    sc1_intake,
    sc2_deferred,
    sc3_pollution,
    sc4_aftercare,
    sc4_withdraw_debts,
    sc5_close,
    sc5_escalation,
    user,
)

BOTH_ACTIONS_SC1 = [("ggz", True), ("woningcorporatie", True)]


class TestSC1Intake:
    """SC1: the police refer M; each role sees exactly its need to know, the clerk only actions."""

    def test_what_every_role_sees(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        secret = {label: case.fact_canary[label] for label in ("diagnosis", "arrests")}

        corporation = look(http, CORPORATION, case)
        assert corporation.seen == content("rent arrears", "shared goal")
        assert corporation.withheld == 2
        assert corporation.actions == BOTH_ACTIONS_SC1
        assert found(corporation.text, secret.values()) == []

        probation = look(http, PROBATION, case)
        assert probation.seen == content("diagnosis", "arrests", "rent arrears", "shared goal")
        assert probation.withheld == 0
        assert probation.actions == BOTH_ACTIONS_SC1
        assert found(probation.text, secret.values()) == list(secret.values())

        mental_health = look(http, MENTAL_HEALTH, case)
        assert mental_health.seen == content("diagnosis", "rent arrears", "shared goal")
        assert mental_health.withheld == 1
        police = look(http, POLICE, case)
        assert police.seen == content("arrests", "rent arrears", "shared goal")
        assert police.withheld == 1
        regie = look(http, PR, case)
        assert regie.seen == content("rent arrears", "shared goal")
        assert regie.withheld == 2

        clerk = look(http, CLERK, case)
        assert clerk.seen == {}
        assert clerk.withheld == 4
        assert clerk.actions == BOTH_ACTIONS_SC1
        assert found(clerk.text, [case.fact_canary[label] for label in case.facts]) == []

        officer = look(http, PO, case)
        assert officer.seen == metadata("diagnosis", "arrests", "rent arrears", "shared goal")
        assert officer.withheld == 0
        assert officer.actions == [("ggz", False), ("woningcorporatie", False)]
        assert found(officer.text, case.all_canaries()) == []
        assert privacy_officer_view(http, case)["notification"]["decision"] == "inform"

        refused(http, MUNICIPALITY, case, "not_participant")
        refused(http, OUTSIDER, case, "not_participant")

    def test_the_access_log_answers(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        for who in (CORPORATION, PROBATION, MENTAL_HEALTH, POLICE, PR, CLERK, PO):
            look(http, who, case)
        assert readers_of(http, case, "diagnosis") == {"ggz", "reclassering"}
        assert readers_of(http, case, "arrests") == {"politie", "reclassering"}
        assert readers_of(http, case, "rent arrears") == {
            "woningcorporatie", "reclassering", "ggz", "politie", "zvh"
        }  # fmt: skip
        denied = http.audit(case=case.case_id, decision="denied")
        corporation = {
            (case.label_of(f), e["reason"]) for e in denied if e["org"] == "woningcorporatie"
            for f in e["fact_ids"]
        }  # fmt: skip
        assert corporation == {
            ("diagnosis", "sharing_excludes_reader"),
            ("arrests", "sharing_excludes_reader"),
        }
        clerk = [e for e in denied if e["actor"] == user(CLERK)]
        assert {e["reason"] for e in clerk} == {"role_excludes_facts"}
        assert {f for e in clerk for f in e["fact_ids"]} == set(case.facts.values())
        officer = http.audit(case=case.case_id, actor=user(PO))
        assert {e["reason"] for e in officer} == {METADATA}


class TestSC2DeferredNotification:
    """SC2: suspect A is not informed for now; the privacy officer sees why and until when;
    A's access report never holds B's (or C's) data."""

    def test_what_every_role_sees(self, env: Env) -> None:
        http = env.http
        case = sc2_deferred(http)
        everything = ["identity A", "identity B", "address of B", "statement of B",
                      "risk posed by A", "incident report", "school of C"]  # fmt: skip
        veilig_thuis = look(http, VEILIG_THUIS, case)
        assert veilig_thuis.seen == content(*(f for f in everything if f != "incident report"))
        assert veilig_thuis.withheld == 1
        regie = look(http, PR, case)
        assert regie.seen == content(*(f for f in everything if f != "address of B"))
        assert regie.withheld == 1
        police = look(http, POLICE_OFFICER, case)
        assert police.seen == content("identity A", "identity B", "incident report", "school of C")
        assert police.withheld == 3
        assert found(police.text, [case.fact_canary["address of B"]]) == []
        clerk = look(http, CLERK, case)
        assert (clerk.seen, clerk.withheld, clerk.actions) == ({}, 7, [("veilig_thuis", True)])
        officer = look(http, PO, case)
        assert officer.seen == metadata(*everything)
        assert found(officer.text, case.all_canaries()) == []
        refused(http, CORPORATION, case, "not_participant")
        assert readers_of(http, case, "address of B") == {"veilig_thuis"}
        assert readers_of(http, case, "statement of B") == {"veilig_thuis", "zvh"}
        assert readers_of(http, case, "incident report") == {"politie", "zvh"}
        assert readers_of(http, case, "school of C") == {"veilig_thuis", "zvh", "politie"}

    def test_the_privacy_officer_sees_the_deferral(self, env: Env) -> None:
        http = env.http
        case = sc2_deferred(http)
        deferred = http.get(PO, "/v1/reviews/notifications")["cases"]
        assert len(deferred) == 1
        item = deferred[0]
        assert item["case_id"] == case.case_id
        assert item["decision"] == "defer"
        assert case.texts["deferral reason"] in item["reason"]  # opened for the officer
        assert item["review_at"] == case.moments["review_at"].date().isoformat()
        assert item["decided_by"] == user(PR)
        assert item["decided_at"]
        assert item["overdue"] is False
        http.clock.advance(timedelta(weeks=4, days=1))
        overdue = http.get(PO, "/v1/reviews/notifications")["cases"]
        assert [(i["case_id"], i["overdue"]) for i in overdue] == [(case.case_id, True)]
        metadata_view = privacy_officer_view(http, case)["notification"]
        assert metadata_view["decision"] == "defer"
        assert metadata_view["reason"] is None  # the case view itself stays metadata only

    def test_an_access_report_for_a_never_holds_b(self, env: Env) -> None:
        http = env.http
        case = sc2_deferred(http)
        for who in (VEILIG_THUIS, PR, POLICE_OFFICER):
            look(http, who, case)
        url = f"{case.path()}/subjects/{case.subjects['A']}/access-report"
        others = case.canaries["B"] + case.canaries["C"] + case.canaries["A+B"]
        report = http.get(PO, url)
        page = http.call(PO, "GET", url, Accept="text/html")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for rendered in (str(report), page.text):
            assert found(rendered, others) == []
            # While informing A is deferred, A's own facts are withheld too (AVG art. 23).
            assert found(rendered, case.canaries["A"]) == []
        reasons = {f["withheld_reason"] for f in report["facts"]}
        assert reasons == {"notification_deferred", "concerns_other_subjects"}
        assert {case.label_of(f["fact_id"]) for f in report["facts"]} == {
            "identity A", "risk posed by A", "incident report"
        }  # fmt: skip


class TestSC3HomePollution:
    """SC3: fire brigade and building inspection see fire and structure facts, the decision and
    the actions, never GGD's care note; a non-participant sees nothing and is logged."""

    def test_what_every_role_sees(self, env: Env) -> None:
        http = env.http
        case = sc3_pollution(http)
        actions = [("brandweer", True), ("bwt", True)]
        for who in (FIRE, INSPECTION):
            seen = look(http, who, case)
            assert seen.seen == content("fire risk", "structural defect", "forced clean-out")
            assert seen.withheld == 2
            assert seen.actions == actions
            assert found(seen.text, [case.fact_canary["care note"]]) == []
        ggd = look(http, GGD, case)
        assert ggd.seen == content(*case.facts)
        assert ggd.withheld == 0
        regie = look(http, PR, case)
        assert regie.seen == content(*(f for f in case.facts if f != "care note"))
        assert regie.withheld == 1
        officer = look(http, PO, case)
        assert officer.seen == metadata(*case.facts)
        refused(http, MUNICIPALITY, case, "not_participant")
        refused(http, POLICE, case, "not_participant")

    def test_the_access_log_answers(self, env: Env) -> None:
        http = env.http
        case = sc3_pollution(http)
        for who in (FIRE, INSPECTION, GGD, PR, PO):
            look(http, who, case)
        http.call(MUNICIPALITY, "GET", case.path(), purpose=case.purpose)
        entries = http.audit(case=case.case_id)
        assert content_readers(entries, case.facts["care note"]) == {"ggd"}
        assert content_readers(entries, case.facts["forced clean-out"]) == {
            "ggd", "brandweer", "bwt", "zvh"
        }  # fmt: skip
        denied = [(e["org"], e["reason"]) for e in entries if e["decision"] == "denied"]
        assert ("gemeente", "not_participant") in denied
        refusals = {
            (e["org"], e["reason"]) for e in entries
            if e["decision"] == "denied" and case.facts["care note"] in e["fact_ids"]
        }  # fmt: skip
        assert refusals == {
            ("brandweer", "sharing_excludes_reader"),
            ("bwt", "sharing_excludes_reader"),
            ("zvh", "sharing_excludes_reader"),
        }


class TestSC4Aftercare:
    """SC4: the municipality sees detention dates, housing and debts but not care; after the
    debt consent is withdrawn the debts vanish from every view and are never read again."""

    def test_consent_governs_every_view(self, env: Env) -> None:
        http = env.http
        case = sc4_aftercare(http)
        dates = ("detention start", "detention end")
        municipality = look(http, MUNICIPALITY, case)
        assert municipality.seen == content(*dates, "housing need", "debts")
        assert municipality.withheld == 1
        assert found(municipality.text, [case.fact_canary["care need"]]) == []
        probation = look(http, PROBATION, case)
        assert probation.seen == content(*dates, "housing need", "debts")
        dji = look(http, DJI, case)
        assert (dji.seen, dji.withheld) == (content(*dates), 3)
        assert look(http, PR, case).seen == content(*dates)
        refused(http, FIRE, case, "not_participant")

        sc4_withdraw_debts(http, case)
        debts = case.fact_canary["debts"]
        after = look(http, MUNICIPALITY, case)
        assert after.seen == content(*dates, "housing need")
        assert after.withheld == 2
        assert found(after.text, [debts]) == []
        # The owner sees that its debt fact exists and awaits erasure, without its body.
        owner = look(http, PROBATION, case)
        assert owner.seen == {**content(*dates, "housing need"), "debts": False}
        assert owner.withheld == 1  # care need: never consented to
        assert found(owner.text, [debts]) == []
        hidden = [f for f in http.view(PROBATION, case).json()["facts"] if "body" not in f]
        assert [f["status"] for f in hidden] == ["consent_withdrawn_awaiting_erasure"]
        for who in (DJI, PR, CLERK):
            assert "debts" not in look(http, who, case).seen
            assert found(look(http, who, case).text, [debts]) == []
        officer = look(http, PO, case)
        assert officer.seen["debts"] is False  # metadata only, as ever
        assert found(officer.text, [debts]) == []

    def test_no_debt_read_after_the_withdrawal(self, env: Env) -> None:
        http = env.http
        case = sc4_aftercare(http)
        for _ in range(2):
            look(http, MUNICIPALITY, case)
            look(http, PROBATION, case)
        sc4_withdraw_debts(http, case)
        for who in (MUNICIPALITY, PROBATION, DJI, PR, PO):
            look(http, who, case)
        debts = case.facts["debts"]
        moment = case.moments["withdrawn"]
        before = http.audit(case=case.case_id, decision="allowed", to=moment)
        assert content_readers(before, debts) == {"gemeente", "reclassering"}
        after = http.audit(case=case.case_id, decision="allowed", **{"from": moment})
        assert content_readers(after, debts) == set()
        refusals = http.audit(case=case.case_id, decision="denied", **{"from": moment})
        # A withdrawn consent hides the fact at once (docs/domain.md "Retention"), logged as such;
        # its owner sees only that it exists and awaits erasure.
        assert {(e["org"], e["reason"]) for e in refusals if debts in e["fact_ids"]} == {
            (org, "consent_withdrawn") for org in ("gemeente", "dji", "zvh")
        }
        owner = {(e["org"], e["reason"]) for e in after if debts in e["fact_ids"]}
        assert owner == {
            ("reclassering", "allowed_owner_metadata"),
            ("zvh", "privacy_officer_metadata"),
        }
        assert http.office.reads_after_withdrawal(officer_request()) == []


class TestSC5EscalationAndClosure:
    """SC5: AVE 2 -> 3 -> 2, closed: participants lose access, the privacy officer keeps
    metadata; at closing + 2 years retention shreds the keys, the log still says who saw what."""

    def test_escalation_closure_and_shredding(self, env: Env) -> None:
        http = env.http
        case = sc5_escalation(http)
        assert case.phases == [2, 3, 2]
        everything = ("identity E", "police report", "support plan")
        for who in (POLICE, MUNICIPALITY):
            assert look(http, who, case).seen == content(*everything)
        assert look(http, PR, case).actions == [("gemeente", True)]

        sc5_close(http, case)
        for who in (POLICE, MUNICIPALITY, PR, CLERK):
            refused(http, who, case, "case_closed")
        closed = look(http, PO, case)
        assert (closed.status, closed.seen) == ("closed", metadata(*everything))
        assert found(closed.text, case.all_canaries()) == []
        seen_before = http.audit(case=case.case_id)

        closed_at = case.moments["closed"]
        http.clock.set(closed_at.replace(year=closed_at.year + 2) - timedelta(days=1))
        assert http.do(PO, "/v1/retention/run", {})["erasures"] == []
        http.clock.advance(timedelta(days=1))
        run = http.do(PO, "/v1/retention/run", {})
        assert [(e["scope"], e["target_id"], e["ground"]) for e in run["erasures"]] == [
            ("case", case.case_id, "retention")
        ]

        erased = look(http, PO, case)
        assert (erased.status, erased.seen, erased.actions) == ("erased", {}, [])
        for who in (POLICE, MUNICIPALITY, PR):
            refused(http, who, case, None)  # the logged reason: see the class below
        report = f"{case.path()}/subjects/{case.subjects['E']}/access-report"
        assert http.call(PO, "GET", report).status_code == 404
        history = list(http.services.ledger.events.get(UUID(case.case_id)))
        assert {type(e).__name__ for e in history[:-1]} == {"Redacted"}
        assert isinstance(history[-1], Case.Erased)

        stored = data_dir_bytes(env.settings.data_dir)
        if env.store == "postgres":
            stored += pg_dump(*_schemas(env))
        assert found(stored, case.all_canaries()) == []

        who_saw = http.audit(case=case.case_id)
        assert who_saw[: len(seen_before)] == seen_before
        for fact_id in case.facts.values():
            assert content_readers(who_saw, fact_id) == {"politie", "gemeente", "zvh"}


def _schemas(env: Env) -> list[str]:
    s = env.settings
    return [x for x in (s.events_schema, s.keystore_schema, s.views_schema, s.audit_schema) if x]


class TestSC5RefusalReasonAfterErasure:
    """After the case is erased, a participant's attempt should be logged as refused because
    the case was erased (docs/domain.md Q5)."""

    def test_erased_case_refusal_is_logged_as_erased(self, env: Env) -> None:
        http = env.http
        case = sc5_escalation(http)
        sc5_close(http, case)
        erasure = {"scope": "case", "case_id": case.case_id, "ground": "art17_request"}
        http.erase_with_four_eyes(erasure)
        assert refused(http, POLICE, case, None) == "erased"
