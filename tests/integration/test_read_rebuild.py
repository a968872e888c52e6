"""Projections rebuilt from zero equal the live ones; redelivered events change nothing."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from ledger import CaseLedger, NewFact, StoreConfig
from projections import CaseViews, ProjectionRunner
from projections._store import PROJECTIONS_FILE
from tests.integration.read_helpers import (
    POLICE,
    PURPOSE,
    History,
    ReadStack,
    open_stack,
    record_history,
    views_for,
)
from tests.pg import drop_schemas

CADENCES = ["after_every_command", "background_runner", "once_at_the_end"]


@pytest.fixture
def other_views(store_config: StoreConfig) -> Iterator[Callable[[], CaseViews]]:
    """Opens a second, empty projection store next to the live one."""
    opened: list[CaseViews] = []
    schema = f"t_{uuid.uuid4().hex[:10]}_views2"

    def make() -> CaseViews:
        if store_config.database_url:
            views = views_for(store_config, schema=schema)
        else:
            views = views_for(
                dataclasses.replace(store_config, data_dir=store_config.data_dir / "second")
            )
        opened.append(views)
        return views

    yield make
    for views in opened:
        views.datastore.close()
    if store_config.database_url:
        drop_schemas(schema)


def record(stack: ReadStack, cadence: str) -> History:
    """The full history, with the live projection following at the given cadence."""
    if cadence == "after_every_command":
        history = record_history(stack.ledger, stack.runner.catch_up)
    elif cadence == "background_runner":
        stack.runner.start(poll_interval=0.001)
        try:
            history = record_history(stack.ledger)
        finally:
            stack.runner.stop()
        assert stack.runner.error is None
    else:
        history = record_history(stack.ledger)
    stack.runner.catch_up()
    return history


def decoded(ledger: CaseLedger, start: int = 1, stop: int | None = None) -> list[Any]:
    notifications = ledger.recorder.select_notifications(start=start, limit=100_000, stop=stop)
    return [(n.id, ledger.mapper.to_domain_event(n)) for n in notifications]


class TestRebuildEqualsLive:
    """After corrections, a retraction and erasures of a fact, a subject and a case, a
    projection rebuilt from zero has the same content hash as the live one."""

    @pytest.mark.parametrize("cadence", CADENCES)
    def test_rebuild_from_zero_equals_live(
        self, stack: ReadStack, other_views: Callable[[], CaseViews], cadence: str
    ) -> None:
        history = record(stack, cadence)
        live = stack.views.content_hash()
        head = stack.ledger.recorder.max_notification_id()

        fresh = ProjectionRunner(stack.ledger, other_views(), batch_size=7)
        fresh.catch_up()
        assert fresh.views.content_hash() == live
        assert fresh.position == head

        stack.runner.rebuild()
        assert stack.views.content_hash() == live
        assert stack.runner.position == head
        self.assert_erasures_projected(stack.views, history)

    def test_rebuilt_store_reopens_with_its_position(
        self, store_config: StoreConfig, stack: ReadStack
    ) -> None:
        """A restarted process finds the rebuilt position (twice: the library's tracking
        table must survive ``clear()``)."""
        record_history(stack.ledger)
        stack.runner.catch_up()
        live = stack.views.content_hash()
        head = stack.ledger.recorder.max_notification_id()
        for _ in range(2):
            stack.runner.rebuild()
            reopened = views_for(store_config)
            try:
                assert reopened.max_tracking_id(stack.ledger.name) == head
                assert reopened.content_hash() == live
            finally:
                reopened.datastore.close()

    @staticmethod
    def assert_erasures_projected(views: CaseViews, history: History) -> None:
        sc1 = history.sc1
        scopes = [r[0] for r in views.fetch("SELECT scope FROM cl_erasures ORDER BY erased_at")]
        assert scopes == ["fact", "subject", "fact", "case"]
        (status,) = views.fetch("SELECT status FROM cl_cases WHERE case_id = ?", (sc1.case_id,))
        assert status == ("active",)
        assert views.fetch(
            "SELECT status FROM cl_cases WHERE case_id = ?", (history.second_case,)
        ) == [("erased",)]
        assert views.fetch("SELECT * FROM cl_facts WHERE case_id = ?", (history.second_case,)) == []
        assert (
            views.fetch("SELECT * FROM cl_actions WHERE case_id = ?", (history.second_case,)) == []
        )
        subjects = {r[0] for r in views.fetch("SELECT subject_id FROM cl_subjects")}
        assert history.second_subject not in subjects
        assert sc1.subject_id in subjects
        for (listed,) in views.fetch("SELECT subjects FROM cl_facts"):
            assert history.second_subject not in json.loads(listed)
        (retracted,) = views.fetch(
            "SELECT retracted_at IS NOT NULL AS retracted, erased_at IS NOT NULL AS erased"
            " FROM cl_facts"
            " WHERE fact_id = ?",
            (sc1.fact_id("arrests"),),
        )
        assert tuple(map(bool, retracted)) == (True, True)
        (arrears,) = views.fetch(
            "SELECT revisions, erased_at FROM cl_facts WHERE fact_id = ?",
            (sc1.fact_id("rent arrears"),),
        )
        assert arrears == (3, None)


class TestRedelivery:
    """Delivering events again, as an at-least-once subscription may, changes nothing."""

    def test_same_batch_twice_changes_nothing(self, stack: ReadStack) -> None:
        record_history(stack.ledger)
        stack.runner.catch_up()
        before, position = stack.views.content_hash(), stack.runner.position
        batch = decoded(stack.ledger, start=max(1, position - 20))

        for _ in range(2):
            applied = stack.views.apply_batch(
                [e for _, e in batch], Tracking(stack.ledger.name, position), stack.runner.history
            )
            assert applied == 0
        assert stack.views.content_hash() == before
        assert stack.runner.position == position

    def test_overlapping_batches_apply_each_event_once(
        self, stack: ReadStack, other_views: Callable[[], CaseViews]
    ) -> None:
        record_history(stack.ledger, stack.runner.catch_up)
        live = stack.views.content_hash()
        events = decoded(stack.ledger)
        views = other_views()
        runner = ProjectionRunner(stack.ledger, views)

        applied = 0
        for start in range(0, len(events), 4):  # windows of 9 starting every 4: most twice
            window = events[max(0, start - 5) : start + 4]
            applied += views.apply_batch(
                [e for _, e in window], Tracking(stack.ledger.name, window[-1][0]), runner.history
            )

        assert applied == len(events)
        assert views.content_hash() == live
        assert runner.position == events[-1][0]


class TestSQLiteClear:
    """SQLite only: clearing for a rebuild leaves a compact file with nothing of the old rows."""

    def test_clearing_compacts_the_file(self, tmp_path: Path) -> None:
        """A rebuild writes into a compact file, not into a free list left by the clear."""
        config = StoreConfig(data_dir=tmp_path / "data")
        stack = open_stack(config)
        fresh = views_for(StoreConfig(data_dir=tmp_path / "fresh"))
        try:
            history = record_history(stack.ledger)
            facts = [
                NewFact(
                    "observation", (), ("housing",), PURPOSE, "wgs", "participants", (), {"n": n}
                )
                for n in range(100)
            ]
            for _ in range(8):  # enough rows for the fact tables to span many pages
                stack.ledger.record_facts(POLICE, history.sc1.case_id, facts)
            stack.runner.catch_up()
            fresh_pages = fresh.fetch("PRAGMA page_count")[0][0]
            assert stack.views.fetch("PRAGMA page_count")[0][0] > fresh_pages * 2

            stack.views.clear()

            assert stack.views.fetch("PRAGMA freelist_count") == [(0,)]
            assert stack.views.fetch("PRAGMA page_count") == [(fresh_pages,)]
            page_size = stack.views.fetch("PRAGMA page_size")[0][0]
            views_file = config.data_dir / PROJECTIONS_FILE
            assert views_file.stat().st_size == fresh_pages * page_size
            assert stack.views.fetch("PRAGMA secure_delete") == [(1,)]
            assert stack.views.fetch("SELECT COUNT(*) FROM cl_facts") == [(0,)]
            assert stack.runner.position == 0
        finally:
            fresh.datastore.close()
            stack.close()
