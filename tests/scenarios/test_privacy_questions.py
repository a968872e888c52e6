"""The ten questions a privacy officer must be able to answer (docs/domain.md), one test each,
asked over HTTP of the demo world (all five scenarios played, see ``world.play_all``).

Where the privacy office also has a service-level answer (``PrivacyOffice``), the test checks
that it agrees with what the HTTP answers show.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import timedelta
from typing import Any

import psycopg

from ledger._audit_signing import verify_document
from tests.opening import open_as_recorded
from tests.pg import PG_URL
from tests.scenarios.checks import NOT_DISCLOSED, content_readers, found, privacy_officer_view
from tests.scenarios.conftest import Env
from tests.scenarios.world import (
    CLERK,
    CORPORATION,
    EMERGENCY_REASON,
    ON_BEHALF_OF,
    PO,
    PR,
    PROBATION,
    World,
    officer_request,
    sc1_intake,
    user,
)

SPECIAL = {"health", "criminal"}


def shown(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries that showed content to a reader (not the officer's metadata, not reports)."""
    return [
        e
        for e in entries
        if e["decision"] == "allowed" and e["reason"] not in NOT_DISCLOSED and e["outcome"] == "ok"
    ]


def report(world: World, case: Any, subject: str) -> dict[str, Any]:
    url = f"{case.path()}/subjects/{case.subjects[subject]}/access-report"
    answer: dict[str, Any] = world.http.get(PO, url)
    return answer


class TestPrivacyOfficerQuestions:
    """Each docs/domain.md privacy-officer question answered correctly on the demo world."""

    def test_q1_who_accessed_which_facts_about_a_subject(self, world: World) -> None:
        http, case = world.http, world.sc1
        entries = http.audit(subject=case.subjects["M"])
        assert entries
        assert {e["case_id"] for e in entries} == {case.case_id}
        assert len({e["subject"] for e in entries}) == 1  # one pseudonym ...
        assert case.subjects["M"] not in str(entries)  # ... never the subject id
        facts: dict[tuple[str, str], set[str]] = defaultdict(set)
        for e in shown(entries):
            facts[(e["org"], e["role"])] |= {case.label_of(f) for f in e["fact_ids"]}
        everything = {"diagnosis", "arrests", "rent arrears", "shared goal"}
        assert facts == {
            # The corporation's emergency request opened nothing more (no rule for it).
            ("woningcorporatie", "deelnemer"): {"rent arrears", "shared goal"},
            # The GGD broke the glass: the vital-interest rule opens health, never criminal.
            ("ggd", "deelnemer"): everything - {"arrests"},
            ("reclassering", "deelnemer"): everything,
            ("ggz", "deelnemer"): everything - {"arrests"},
            ("politie", "melder"): everything - {"diagnosis"},
            ("zvh", "procesregisseur"): {"rent arrears", "shared goal"},
        }
        glass = {case.label_of(f) for e in shown(entries) if e["emergency"] for f in e["fact_ids"]}
        assert glass == everything - {"arrests"}
        refused = {
            (case.label_of(f), e["reason"])
            for e in entries
            if e["actor"] == user(CORPORATION) and e["decision"] == "denied"
            for f in e["fact_ids"]
        }
        assert ("diagnosis", "emergency_category_not_covered") in refused
        behalf = {(e["actor"], e["on_behalf_of"]) for e in entries if e["on_behalf_of"]}
        assert behalf == {(user(PROBATION), ON_BEHALF_OF)}
        assert all(e["time"] and e["role"] and e["purpose"] for e in entries)
        assert {e["purpose"] for e in shown(entries)} == {"zvh_joint_approach"}
        clerk = {e["reason"] for e in entries if e["actor"] == user(CLERK)}
        assert clerk == {"role_excludes_facts"}
        office = http.office.who_accessed(case.subjects["M"])
        assert [e.seq for e in office][: len(entries)] == [e["seq"] for e in entries]

    def test_q2_recipients_of_a_subjects_data(self, world: World) -> None:
        http = world.http
        for case, subject, expected in (
            (world.sc1, "M", {"woningcorporatie", "reclassering", "ggz", "ggd", "politie", "zvh"}),
            (world.sc2, "A", {"veilig_thuis", "politie", "zvh"}),
            (world.sc2, "C", {"veilig_thuis", "politie", "zvh"}),
            (world.sc4, "D", {"dji", "reclassering", "gemeente"}),
        ):
            answer = report(world, case, subject)
            reads = shown(http.audit(subject=case.subjects[subject]))
            assert {r["org"] for r in answer["recipients"]} == expected
            for recipient in answer["recipients"]:
                mine = [e for e in reads if e["org"] == recipient["org"]]
                assert recipient["reads"] == len(mine)
                assert recipient["first_read"] == mine[0]["time"]
                assert recipient["last_read"] == mine[-1]["time"]

    def test_q3_provenance_of_a_fact(self, world: World) -> None:
        for case, subject, label, expected in (
            (world.sc1, "M", "diagnosis",
             ("ggz", "wgs", ["health"], "zvh_joint_approach", {"level": "partners",
                                                               "partners": ["reclassering"]})),
            (world.sc4, "D", "housing need",
             ("reclassering", "consent", ["housing"], "aftercare_detention",
              {"level": "participants"})),
            (world.sc4, "D", "detention start",
             ("dji", "legal_obligation", ["enforcement"], "aftercare_detention",
              {"level": "participants"})),
        ):  # fmt: skip
            owner, basis, categories, purpose, sharing = expected
            fact_id = case.facts[label]
            meta = next(f for f in privacy_officer_view(world.http, case)["facts"]
                        if f["fact_id"] == fact_id)  # fmt: skip
            assert (meta["owner"], meta["categories"], meta["purpose"]) == (
                owner, categories, purpose
            )  # fmt: skip
            assert {k: v for k, v in meta["sharing"].items() if v is not None} == sharing
            assert meta["kind"] == "observation"
            assert meta["recorded_at"]
            assert "body" not in meta
            reported = next(f for f in report(world, case, subject)["facts"]
                            if f["fact_id"] == fact_id)  # fmt: skip
            assert (reported["owner"], reported["legal_basis"]) == (owner, basis)
            assert reported["categories"] == categories
            assert reported["recorded_at"] == meta["recorded_at"]

    def test_q4_special_categories_and_emergency_access(self, world: World) -> None:
        http = world.http
        allowed: dict[str, set[str]] = {}  # special fact -> owner and named partners
        for case in world.cases:
            for fact in privacy_officer_view(http, case)["facts"]:
                if SPECIAL & set(fact["categories"]):
                    allowed[fact["fact_id"]] = {fact["owner"], *fact["sharing"].get("partners", [])}
        assert len(allowed) == 3  # diagnosis, arrests (SC1), care note (SC3)
        outside = [
            (world.sc1.label_of(f), e["org"], e["emergency"])
            for e in shown(http.audit(decision="allowed"))
            for f in e["fact_ids"]
            if f in allowed and e["org"] not in allowed[f]
        ]
        assert sorted(outside) == [("diagnosis", "ggd", True)]
        office = http.office.special_category_exposure(officer_request())
        assert sorted((world.sc1.label_of(f["fact_id"]), f["org"]) for f in office) == [
            ("diagnosis", "ggd")
        ]
        assert {(f["emergency"], f["note"]) for f in office} == {(True, EMERGENCY_REASON)}

        pending = http.get(PO, "/v1/reviews/emergency")["accesses"]
        assert {(a["org"], a["case_id"], a["stated_reason"]) for a in pending} == {
            ("ggd", world.sc1.case_id, EMERGENCY_REASON)
        }
        assert {world.sc1.label_of(f) for a in pending for f in a["fact_ids"]} == {
            "diagnosis", "rent arrears", "shared goal"
        }  # fmt: skip
        (grant,) = pending
        url = f"/v1/reviews/emergency/{grant['grant_id']}"
        outcome = {"outcome": "not_justified", "remark": "no acute danger was recorded"}
        reviewed = http.do(PO, url, outcome)
        # Not justified: the owners whose facts it opened are to be told (not the reader).
        assert reviewed["inform"] == ["ggz", "woningcorporatie", "zvh"]
        assert http.get(PO, "/v1/reviews/emergency")["accesses"] == []
        again = http.call(PO, "POST", url, outcome)
        assert (again.status_code, again.json()["code"]) == (409, "already_reviewed")

    def test_q5_denied_reads_and_why(self, world: World) -> None:
        http = world.http
        names = {case.case_id: case.name for case in world.cases}
        denied = http.audit(decision="denied")
        whole_case = {(names[e["case_id"]], e["org"], e["reason"], e["purpose"])
                      for e in denied if not e["fact_ids"]}  # fmt: skip
        assert whole_case == {
            ("SC1", "politie", "purpose_incompatible", "criminal_investigation"),
            ("SC3", "gemeente", "not_participant", "housing_pollution"),
            ("SC5", "politie", "case_closed", "zvh_joint_approach"),
            ("SC5", "gemeente", "case_closed", "zvh_joint_approach"),
        }
        per_fact = {(names[e["case_id"]], e["org"], e["reason"]) for e in denied if e["fact_ids"]}
        assert {
            ("SC1", "woningcorporatie", "sharing_excludes_reader"),
            ("SC1", "zvh", "role_excludes_facts"),  # the clerk
            ("SC3", "brandweer", "sharing_excludes_reader"),
            ("SC4", "gemeente", "consent_absent_or_withdrawn"),  # care: never consented
            ("SC4", "gemeente", "consent_withdrawn"),  # debts after the withdrawal
            ("SC4", "gemeente", "erased"),  # debts after the retention run
        } <= per_fact
        erased = [e for e in denied if e["reason"] == "erased"]
        assert {f for e in erased for f in e["fact_ids"]} == {world.sc4.facts["debts"]}
        by_reason = http.audit(decision="denied", reason="not_participant")
        assert {(names[e["case_id"]], e["org"]) for e in by_reason} == {("SC3", "gemeente")}

    def test_q6_no_consent_based_read_after_withdrawal(self, world: World) -> None:
        http, case = world.http, world.sc4
        privacy_officer_view(http, case)  # a metadata read after the withdrawal is no disclosure
        debts, moment = case.facts["debts"], case.moments["withdrawn"]
        before = http.audit(case=case.case_id, decision="allowed", to=moment)
        after = http.audit(case=case.case_id, decision="allowed", **{"from": moment})
        assert content_readers(before, debts) == {"gemeente", "reclassering"}
        assert content_readers(after, debts) == set()
        assert content_readers(after, case.facts["housing need"]) >= {"gemeente"}
        assert http.office.reads_after_withdrawal(officer_request()) == []

    def test_q7_past_retention_not_erased_and_holds(self, world: World) -> None:
        http = world.http
        today = http.do(PO, "/v1/retention/run", {"dry_run": True})
        assert today["dry_run"] is True
        assert today["erasures"] == []  # the withdrawn debts went in the last run
        hold = {"case_id": world.sc3.case_id, "holds": ["complaint"],
                "hold_ids": [world.sc3.holds["complaint"]]}  # fmt: skip
        assert today["holds"] == [{**hold, "due_since": None, "suspends_erasure": False}]

        closed = world.sc5.moments["closed"]
        later = closed.replace(year=closed.year + 2) + timedelta(days=1)
        answer = http.do(PO, "/v1/retention/run", {"dry_run": True, "now": later.isoformat()})
        assert answer["erasures"] == [
            {"scope": "case", "case_id": world.sc5.case_id, "ground": "retention"}
        ]
        sc3_closed = world.sc3.moments["closed"]
        assert len(answer["holds"]) == 1
        assert answer["holds"][0] == {
            **hold,
            "due_since": answer["holds"][0]["due_since"],
            "suspends_erasure": True,
        }
        assert answer["holds"][0]["due_since"].startswith(str(sc3_closed.year + 2))
        still = privacy_officer_view(http, world.sc5)  # a dry run erases nothing
        assert (still["status"], len(still["facts"])) == ("closed", 3)

    def test_q8_proof_of_erasure(self, world: World) -> None:
        http, case = world.http, world.sc4
        [erasure] = world.notes["retention_run"]["erasures"]
        debts = case.facts["debts"]
        assert (erasure["scope"], erasure["target_id"], erasure["ground"]) == (
            "fact", debts, "consent_withdrawn"
        )  # fmt: skip
        signed = http.get(PO, f"/v1/erasures/{erasure['erasure_id']}")["certificate"]
        public_key = http.services.access_log.keys.public_key_b64()
        assert verify_document(signed, public_key)
        document = signed["document"]
        assert document["requested_by"] == user(PO)
        assert document["cases"] == [case.case_id]
        assert document["unreadable_fact_ids"] == [debts]
        destroyed = document["destroyed"]
        assert destroyed["fact_keys"] == len(destroyed["fact_key_ids"]) >= 1
        assert "reclassering" in document["epoch"]["kek_versions_destroyed"]
        assert document["projections_updated"]["applied"] is True
        assert document["residual"]["key_store_backups_before"] == document["erased_at"]
        assert document["residual"]["expire_by"] > document["erased_at"]
        assert found(str(signed), world.all_canaries()) == []

        ledger = http.services.ledger
        opened = open_as_recorded(
            ledger, ledger.get_case(case.case_id), [debts, case.facts["housing need"]]
        )
        assert [(o.fact_id, o.body is None) for o in opened] == [
            (debts, True), (case.facts["housing need"], False)
        ]  # fmt: skip
        remains = [f for f in privacy_officer_view(http, case)["facts"] if f["fact_id"] == debts]
        assert [(f["owner"], f["categories"]) for f in remains] == [("reclassering", ["finance"])]
        assert content_readers(http.audit(case=case.case_id), debts) == {"gemeente", "reclassering"}

    def test_q9_was_each_subject_informed(self, world: World) -> None:
        http = world.http
        pending = http.get(PO, "/v1/reviews/notifications")["cases"]
        assert len(pending) == 1
        [item] = pending
        assert (item["case_id"], item["decision"], item["overdue"]) == (
            world.sc2.case_id, "defer", False
        )  # fmt: skip
        assert world.sc2.texts["deferral reason"] in item["reason"]
        assert item["review_at"] == world.sc2.moments["review_at"].date().isoformat()
        assert item["decided_by"] == user(PR)
        assert item["decided_at"] < item["review_at"]
        for case in (world.sc1, world.sc3, world.sc4, world.sc5):
            note = privacy_officer_view(http, case)["notification"]
            assert (note["decision"], note["decided_by"]) == ("inform", user(PR))
        assert found(str(pending), world.sc2.canaries_except("case")) == []

    def test_q10_the_access_log_is_intact(self, world: World) -> None:
        http = world.http
        counted = len(http.audit())
        verdict = http.get(PO, "/v1/audit/verify")
        assert verdict["ok"] is True
        assert verdict["first_bad_seq"] is None
        assert verdict["problem"] is None
        assert verdict["entries"] >= counted > 0


class TestTamperedLogIsDetected:
    """``/v1/audit/verify`` finds a changed, a removed and an inserted access-log entry."""

    def test_change_removal_and_insertion(self, env: Env) -> None:
        http = env.http
        case = sc1_intake(http)
        for who in (PROBATION, PR, CLERK, PO):
            http.view(who, case)
        assert http.get(PO, "/v1/audit/verify")["ok"] is True
        last = http.log_position()

        tamper(env, "UPDATE access_log SET reason = 'allowed_owner' WHERE seq = 3")
        assert verdict(http) == (3, "entry changed (hash mismatch)")
        tamper(env, "DELETE FROM access_log WHERE seq = 3")
        assert verdict(http) == (3, "entry missing or out of order")
        tamper(
            env,
            "INSERT INTO access_log SELECT * FROM access_log WHERE seq = 2",
            renumber=True,
        )
        assert verdict(http)[0] == 3
        assert last > 3


def verdict(http: Any) -> tuple[int, str]:
    answer = http.get(PO, "/v1/audit/verify")
    assert answer["ok"] is False
    return answer["first_bad_seq"], answer["problem"]


def tamper(env: Env, statement: str, *, renumber: bool = False) -> None:
    """Change the access log behind the application's back, as an intruder with database
    access would."""
    if renumber:  # a copy of entry 2 slipped in where entry 3 was
        statement = statement.replace("SELECT *", "SELECT 3 AS seq, " + _OTHER_COLUMNS)
    if env.store == "sqlite":
        with sqlite3.connect(env.settings.data_dir / "audit.sqlite3") as connection:
            connection.execute(statement)
        return
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f"SET search_path TO {env.settings.audit_schema}")  # type: ignore[arg-type]
        connection.execute(statement)  # type: ignore[arg-type]


_OTHER_COLUMNS = (
    "entry_id, trace_id, time, actor, org, role, on_behalf_of, purpose, case_id, fact_ids,"
    " subject, decision, reason, emergency, outcome, note, hash, covenant"
)
