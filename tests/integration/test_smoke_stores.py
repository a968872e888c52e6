"""The ledger records, reads back and erases on both stores."""

from __future__ import annotations

from ledger import StoreConfig, open_ledger
from tests.conftest import ctx


class TestRoundTrip:
    """A fact recorded by its owner reads back, and reads as redacted after erasure."""

    def test_record_read_erase(self, store_config: StoreConfig) -> None:
        ledger = open_ledger(store_config)
        try:
            regie = ctx("zvh", "procesregisseur")
            case_id = ledger.open_case(
                regie,
                purpose="zvh_joint_approach",
                legal_basis="wgs",
                referred_by="politie",
                phase=3,
            ).case_id
            ledger.triage(regie, case_id, decision="accept", reason="complex")
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
            assert [b.body for b in ledger.open_bodies(case, [fact_id])] == [{"note": "invented"}]

            ledger.erase_fact(regie, case_id, fact_id, ground="art17")

            case = ledger.get_case(case_id)
            assert [b.redacted for b in ledger.open_bodies(case, [fact_id])] == [True]
        finally:
            ledger.close()
