"""A fact's revisions as the case holds them: the current one inline, earlier ones kept."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

from ledger._case_state import FactRevision, FactState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _fact() -> FactState:
    return FactState(
        "fact-1", "politie", "politie-user", "observation", ("housing",), ("subject-1",),
        "zvh_joint_approach", "wgs", "participants", (), T0, 4, "key-a", b"sealed-a", T0,
    )  # fmt: skip


def test_a_new_fact_has_one_revision_which_is_current() -> None:
    fact = _fact()
    assert fact.revisions == (FactRevision(4, "key-a", b"sealed-a", T0),)
    assert fact.current == fact.revisions[-1]


def test_corrections_keep_every_earlier_revision_in_order() -> None:
    fact = _fact()
    second = FactRevision(7, "key-b", b"sealed-b", T0 + timedelta(days=1))
    third = FactRevision(9, "key-c", b"sealed-c", T0 + timedelta(days=2))
    fact.revise(second)
    fact.revise(third)
    assert fact.revisions == (FactRevision(4, "key-a", b"sealed-a", T0), second, third)
    assert fact.current == third
    assert (fact.current_version, fact.current_key_id, fact.current_body) == (
        9,
        "key-c",
        b"sealed-c",
    )
    assert fact.recorded_at == T0  # when the fact was first recorded, not corrected


def test_an_uncorrected_fact_is_one_object_for_the_collector() -> None:
    fact = _fact()
    gc.collect()
    assert gc.is_tracked(fact)
    assert not any(gc.is_tracked(getattr(fact, name)) for name in FactState.__slots__)
