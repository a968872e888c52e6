"""Projections are idempotent under redelivery: batching and duplicates never change them.

The event log is a recorded history with corrections, a retraction and erasures of a fact,
a subject and a case (SQLite stores, built once). Each example applies a prefix of it in
arbitrary batches, then delivers the rest with already-applied events re-delivered in any
order among them, as an at-least-once subscription may.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import CaseLedger, StoreConfig
from projections import CaseViews, ProjectionRunner
from projections._apply import _j
from tests.integration.read_helpers import open_test_ledger, record_history, views_for

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)
Numbered = tuple[int, Any]  # (notification id, event)


@dataclass
class World:
    ledger: CaseLedger
    views: CaseViews
    reference: CaseViews
    events: list[Numbered]
    history: Any
    prefix_hashes: dict[int, str] = field(default_factory=dict)

    def apply(self, indexes: Sequence[int], views: CaseViews | None = None) -> int:
        """Apply these events as one batch, tracked at the highest notification id."""
        batch = [self.events[i] for i in indexes]
        tracking = Tracking(self.ledger.name, max(n for n, _ in batch))
        return (views or self.views).apply_batch([e for _, e in batch], tracking, self.history)

    def prefix_hash(self, k: int) -> str:
        """The content hash of exactly the first ``k`` events applied once, in one batch."""
        if k not in self.prefix_hashes:
            self.reference.clear()
            if k:
                self.apply(range(k), self.reference)
            self.prefix_hashes[k] = self.reference.content_hash()
        return self.prefix_hashes[k]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    config = StoreConfig(data_dir=tmp_path_factory.mktemp("projection-properties"))
    ledger = open_test_ledger(config)
    views = views_for(config)
    reference = views_for(StoreConfig(data_dir=config.data_dir / "reference"))
    try:
        record_history(ledger)
        notifications = ledger.recorder.select_notifications(start=1, limit=10_000)
        events = [(n.id, ledger.mapper.to_domain_event(n)) for n in notifications]
        history = ProjectionRunner(ledger, views).history
        yield World(ledger, views, reference, events, history)
    finally:
        for store in (views, reference):
            store.datastore.close()
        ledger.close()


def batches(draw: st.DrawFn, items: list[int]) -> list[list[int]]:
    """Split items (in order) into non-empty batches of drawn sizes."""
    out, i = [], 0
    while i < len(items):
        size = draw(st.integers(min_value=1, max_value=12), label="batch size")
        out.append(items[i : i + size])
        i += size
    return out


@st.composite
def deliveries(draw: st.DrawFn, n: int) -> tuple[int, list[list[int]], list[list[int]]]:
    """(prefix length, prefix batches, later batches with re-delivered events mixed in), as
    indexes into the event list (events themselves are not drawn: a redacted placeholder
    has no repr)."""
    k = draw(st.integers(min_value=0, max_value=n), label="prefix")
    stream: list[int] = []
    for i in [*range(k, n), None]:
        delivered = i if i is not None else n
        if delivered:
            again = draw(st.lists(st.integers(0, delivered - 1), max_size=3), label="again")
            stream += draw(st.permutations(again))
        if i is not None:
            stream.append(i)
    return k, batches(draw, list(range(k))), batches(draw, stream)


class TestRedeliveryIdempotence:
    """Any batching of a prefix gives that prefix's projection, and re-delivering applied
    events in any order among the rest gives exactly the projection of the log applied once."""

    @PROPERTY_SETTINGS
    @given(data=st.data())
    def test_redelivered_events_change_nothing(self, world: World, data: st.DataObject) -> None:
        k, prefix, later = data.draw(deliveries(len(world.events)))
        world.views.clear()

        applied = sum(world.apply(b) for b in prefix)
        assert applied == k
        assert world.views.content_hash() == world.prefix_hash(k)

        for batch in later:
            applied += world.apply(batch)

        assert applied == len(world.events)
        assert world.views.content_hash() == world.prefix_hash(len(world.events))
        assert world.views.max_tracking_id(world.ledger.name) == world.events[-1][0]

    @PROPERTY_SETTINGS
    @given(data=st.data())
    def test_reapplying_from_the_tracked_position_changes_nothing(
        self, world: World, data: st.DataObject
    ) -> None:
        """Applied events re-delivered alone, in any order and batching, are refused: the
        projection and its tracked position stay as they were."""
        k = data.draw(st.integers(min_value=1, max_value=len(world.events)), label="prefix")
        world.views.clear()
        world.apply(list(range(k)))
        before = world.views.content_hash()

        again = data.draw(st.permutations(range(k)), label="re-delivered")
        for batch in batches(data.draw, list(again)):
            assert world.apply(batch) == 0

        assert world.views.content_hash() == before == world.prefix_hash(k)
        assert world.views.max_tracking_id(world.ledger.name) == world.events[k - 1][0]


@given(st.lists(st.text()))
def test_json_arrays_in_view_columns_are_what_json_dumps_writes(values: list[str]) -> None:
    assert _j(values) == json.dumps(sorted(values), separators=(",", ":"))
