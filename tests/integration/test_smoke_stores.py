"""The ledger records, reads back and erases on both stores."""

from __future__ import annotations

from ledger import CaseLedger, NewFact, RequestContext, StoreConfig, open_ledger
from ledger._stores import ColumnArrayPostgresFactory
from tests.conftest import ctx
from tests.opening import open_as_recorded


def _accepted_case(ledger: CaseLedger, regie: RequestContext) -> str:
    """An invented case, opened and accepted by the procesregisseur."""
    case_id = ledger.open_case(
        regie, purpose="zvh_joint_approach", legal_basis="wgs", referred_by="politie", phase=3
    ).case_id
    ledger.triage(regie, case_id, decision="accept", reason="complex")
    return case_id


class TestRoundTrip:
    """A fact recorded by its owner reads back, and reads as redacted after erasure."""

    def test_record_read_erase(self, store_config: StoreConfig) -> None:
        ledger = open_ledger(store_config)
        try:
            regie = ctx("zvh", "procesregisseur")
            case_id = _accepted_case(ledger, regie)
            subject = ledger.add_subject(regie, case_id, case_role="client").created_id
            assert subject is not None
            fact_id = ledger.record_fact(
                ctx("politie"),
                case_id,
                kind="observation",
                subjects=[subject],
                categories=["criminal"],
                purpose="zvh_joint_approach",
                legal_basis="wgs",
                sharing_level="partners",
                sharing_partners=["reclassering"],
                body={"note": "invented"},
            ).created_id
            assert fact_id is not None
            case = ledger.get_case(case_id)
            assert [b.body for b in open_as_recorded(ledger, case, [fact_id])] == [
                {"note": "invented"}
            ]

            ledger.erase_fact(regie, case_id, fact_id, ground="art17")

            case = ledger.get_case(case_id)
            assert [b.redacted for b in open_as_recorded(ledger, case, [fact_id])] == [True]
        finally:
            ledger.close()


class TestOneCommitOfManyEvents:
    """A commit of many events gets consecutive notification ids in version order (the
    projections follow them), and every event reads back (PostgreSQL: the column-array
    insert)."""

    def test_notification_ids_follow_versions(self, store_config: StoreConfig) -> None:
        ledger = open_ledger(store_config)
        try:
            regie, police = ctx("zvh", "procesregisseur"), ctx("politie")
            case_id = _accepted_case(ledger, regie)
            before = ledger.get_case(case_id).version
            facts = [
                NewFact(
                    "observation",
                    (),
                    ("housing",),
                    "zvh_joint_approach",
                    "wgs",
                    "participants",
                    (),
                    {"n": n, "text": "invented " * n},
                )
                for n in range(1, 41)
            ]
            if store_config.database_url:
                assert isinstance(
                    ledger.recorder, ColumnArrayPostgresFactory.application_recorder_class
                )
            result = ledger.record_facts(police, case_id, facts)
            assert result.version == before + 40
            notes = [
                n
                for n in ledger.recorder.select_notifications(start=1, limit=1_000)
                if str(n.originator_id) == case_id and n.originator_version > before
            ]
            assert [n.originator_version for n in notes] == list(range(before + 1, before + 41))
            ids = [n.id for n in notes]
            assert ids == list(range(ids[0], ids[0] + 40))
            case = ledger.get_case(case_id)
            fact_ids = (result.created_id or "").split(",")
            opened = open_as_recorded(ledger, case, fact_ids)
            assert [b.body["n"] for b in opened] == list(range(1, 41))  # type: ignore[index]
        finally:
            ledger.close()
