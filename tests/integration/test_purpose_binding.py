"""Issue 18 item 3: the purpose a policy decision admitted travels into the unseal call and is
checked there again (defence in depth): a caller that skips the policy still cannot open a fact
for an incompatible purpose. Also the projection store's layout check (views rebuilt when the
tables change)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import CaseLedger, PurposeMismatchError, StoreConfig, open_ledger
from policies import sample_covenant_path
from policies._covenant_load import load_covenant
from projections import ProjectionRunner, open_views
from tests.integration._ledger_support import (
    RECLASSERING,
    add_subject,
    open_active_case,
    record,
)

JOINT = "zvh_joint_approach"


@pytest.fixture
def ledger(store_config: StoreConfig) -> Iterator[CaseLedger]:
    opened = open_ledger(store_config, purposes=load_covenant(sample_covenant_path()))
    yield opened
    opened.close()


class TestBodiesOpenOnlyForAnAdmittedPurpose:
    """``open_bodies`` refuses a purpose the covenant does not admit for the fact."""

    def test_same_and_compatible_purposes_open(self, ledger: CaseLedger) -> None:
        case_id = open_active_case(ledger)
        fact_id = record(ledger, RECLASSERING, case_id, {"note": "invented"})
        case = ledger.get_case(case_id)
        (opened,) = ledger.open_bodies(case, [fact_id], purpose=JOINT)
        assert opened.body == {"note": "invented"}

    @pytest.mark.parametrize("purpose", ["criminal_investigation", "accountability", "nosuch"])
    def test_incompatible_purposes_open_nothing(self, ledger: CaseLedger, purpose: str) -> None:
        case_id = open_active_case(ledger)
        fact_id = record(ledger, RECLASSERING, case_id, {"note": "invented"})
        case = ledger.get_case(case_id)
        with pytest.raises(PurposeMismatchError) as raised:
            ledger.open_bodies(case, [fact_id], purpose=purpose)
        assert "invented" not in str(raised.value)

    def test_one_refused_fact_opens_none(self, ledger: CaseLedger) -> None:
        case_id = open_active_case(ledger)
        ok = record(ledger, RECLASSERING, case_id, {"note": "fine"})
        other = record(ledger, RECLASSERING, case_id, {"note": "early"}, purpose="early_signal")
        case = ledger.get_case(case_id)
        # early_signal facts may be reused for the joint approach, not the other way round.
        assert [b.body for b in ledger.open_bodies(case, [ok, other], purpose=JOINT)] == [
            {"note": "fine"},
            {"note": "early"},
        ]
        with pytest.raises(PurposeMismatchError):
            ledger.open_bodies(case, [ok, other], purpose="early_signal")

    def test_subject_access_opens_facts_about_the_subject_alone(self, ledger: CaseLedger) -> None:
        case_id = open_active_case(ledger)
        alone, other = add_subject(ledger, case_id), add_subject(ledger, case_id)
        mine = record(ledger, RECLASSERING, case_id, {"n": 1}, subjects=[alone])
        both = record(ledger, RECLASSERING, case_id, {"n": 2}, subjects=[alone, other])
        case = ledger.get_case(case_id)
        (opened,) = ledger.open_for_subject_access(case, [mine], subject_id=alone)
        assert opened.body == {"n": 1}
        with pytest.raises(PurposeMismatchError):
            ledger.open_for_subject_access(case, [both], subject_id=alone)


class TestProjectionLayout:
    """A projection store made with another table layout is dropped and rebuilt."""

    def test_changed_layout_rebuilds(self, store_config: StoreConfig) -> None:
        ledger = open_ledger(store_config)
        try:
            case_id = open_active_case(ledger)
            views = open_views(store_config)
            ProjectionRunner(ledger, views).catch_up()
            assert views.fetch("SELECT COUNT(*) FROM cl_cases") == [(1,)]
            views.fetch("SELECT 1")
            with views._transaction(commit=True) as ex:  # an older layout left behind
                ex.execute("UPDATE cl_schema SET digest = 'older'")
                ex.execute("ALTER TABLE cl_cases ADD COLUMN leftover TEXT")
            reopened = open_views(store_config)
            assert reopened.fetch("SELECT COUNT(*) FROM cl_cases") == [(0,)]
            runner = ProjectionRunner(ledger, reopened)
            runner.catch_up()
            assert reopened.fetch("SELECT case_id FROM cl_cases") == [(case_id,)]
        finally:
            ledger.close()
