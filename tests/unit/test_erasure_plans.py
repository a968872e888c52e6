"""An erasure plan survives its trip through the key store's text column unchanged, and the
report it gives is the erasure as it was carried out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger._erasure import Destroyed, EpochReport
from ledger._erasure_plans import ErasurePlan, plan_key

ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=12)
id_lists = st.lists(ids, max_size=4)


@st.composite
def plans(draw: st.DrawFn) -> ErasurePlan:
    cases = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    scope = draw(st.sampled_from(["fact", "subject", "case", "owner", "meeting"]))
    epoch = draw(
        st.none()
        | st.builds(
            EpochReport,
            rekeyed_scopes=st.integers(0, 9),
            fact_keys_rewrapped=st.integers(0, 99),
            scope_keys_rewrapped=st.integers(0, 99),
            kek_rotations=st.dictionaries(ids, st.integers(1, 9), max_size=2),
            kek_versions_destroyed=st.dictionaries(ids, st.lists(st.integers(1, 9)), max_size=2),
        )
    )
    return ErasurePlan(
        erasure_id=draw(ids),
        scope=scope,
        target_id=draw(ids),
        ground=draw(st.sampled_from(["art17", "retention"])),
        erased_at=draw(st.datetimes(timezones=st.just(UTC))),
        actor=draw(ids),
        partner=draw(ids),
        on_behalf_of=draw(st.none() | ids),
        purpose=draw(ids),
        case_ids=cases,
        fact_ids={c: draw(id_lists) for c in cases},
        purposes={c: draw(ids) for c in cases},
        idempotency_key=draw(st.none() | ids),
        request={"scope": scope, "ground": "art17"},
        destroyed=Destroyed(
            scope_key_ids=draw(id_lists),
            fact_key_ids=draw(id_lists),
            owners=set(draw(id_lists)),
            rekey={(o, c) for o, c in draw(st.lists(st.tuples(ids, ids), max_size=3))},
            retired_owner=draw(st.none() | ids),
            erased_case=draw(st.none() | ids),
            kek_versions_destroyed=draw(st.dictionaries(ids, st.lists(st.integers(1, 9)))),
        ),
        epoch=epoch,
    )


@given(plans())
def test_plan_round_trips_through_json(plan: ErasurePlan) -> None:
    assert ErasurePlan.from_json(plan.to_json()) == plan


@given(plans())
def test_context_is_the_requester(plan: ErasurePlan) -> None:
    ctx = plan.context()
    assert (ctx.principal.user, ctx.principal.partner) == (plan.actor, plan.partner)
    assert ctx.principal.on_behalf_of == plan.on_behalf_of
    assert ctx.purpose == plan.purpose


def _plan(scope: str, cases: list[str]) -> ErasurePlan:
    return ErasurePlan(
        erasure_id="e1",
        scope=scope,
        target_id="t1",
        ground="art17",
        erased_at=datetime(2030, 1, 1, tzinfo=UTC),
        actor="u1",
        partner="zvh",
        on_behalf_of=None,
        purpose="privacy_request",
        case_ids=cases,
        fact_ids={c: [f"f-{c}"] for c in cases},
        purposes={c: "zvh_joint_approach" for c in cases},
        destroyed=Destroyed(scope_key_ids=["s1"], fact_key_ids=["k1", "k2"]),
    )


def test_one_pending_plan_per_target() -> None:
    assert _plan("subject", ["c1"]).key == plan_key("subject", "c1", "t1")
    assert _plan("owner", ["c1", "c2"]).key == plan_key("owner", "", "t1")


def test_report_needs_the_epoch_and_lists_every_case_fact() -> None:
    plan = _plan("owner", ["c1", "c2"])
    with pytest.raises(ValueError, match="epoch"):
        plan.report()
    plan.epoch = EpochReport(0, 0, 0, {}, {})
    report = plan.report()
    assert report.fact_ids == ("f-c1", "f-c2")
    assert (report.scope_key_ids, report.fact_key_ids) == (("s1",), ("k1", "k2"))
    assert report.erased_at == plan.erased_at
    assert not report.replayed
