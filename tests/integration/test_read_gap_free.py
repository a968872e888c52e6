"""The projection is gap-free under racing writers and crashes: nothing skipped, nothing twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger import CaseLedger, ConcurrencyConflictError, NewFact, RequestContext, StoreConfig
from projections import CaseViews, ProjectionRunner
from tests.conftest import ctx
from tests.integration.read_helpers import (
    REGIE,
    ProjectionProcess,
    ReadStack,
    assert_views_match_prefix,
    open_stack,
    open_test_ledger,
    temporary_stores,
    views_for,
    wait_for,
)
from tests.pg import PG_URL

FACTS_PER_WRITER = 1000
WRITERS = ("ggz", "woningcorporatie")
PURPOSE = "zvh_joint_approach"


class SimulatedCrashError(Exception):
    """Raised inside a batch's transaction, after its events were applied."""


class Writer(threading.Thread):
    """Records facts with its own ledger: mostly in its own case, every tenth in a case
    shared with the other writer (retrying on a conflict). Pauses half-way."""

    def __init__(
        self, ledger: CaseLedger, partner: str, own: str, shared: str, resume: threading.Event
    ) -> None:
        super().__init__(name=f"writer-{partner}", daemon=True)
        self.ledger, self.partner, self.own, self.shared = ledger, partner, own, shared
        self.resume = resume
        self.halfway = threading.Event()
        self.fact_ids: list[str] = []
        self.conflicts = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            who = ctx(self.partner)
            for n in range(FACTS_PER_WRITER):
                if n == FACTS_PER_WRITER // 2:
                    self.halfway.set()
                    self.resume.wait(timeout=120)
                case_id = self.shared if n % 10 == 0 else self.own
                self.fact_ids.append(self.record(who, case_id, n))
        except BaseException as error:
            self.error = error
        finally:
            self.halfway.set()

    def record(self, who: RequestContext, case_id: str, n: int) -> str:
        for _ in range(100):
            try:
                result = self.ledger.record_fact(
                    who,
                    case_id,
                    kind="observation",
                    subjects=[],
                    categories=["housing"],
                    purpose=PURPOSE,
                    legal_basis="wgs",
                    sharing_level="participants",
                    body={"n": n, "by": self.partner},
                )
            except ConcurrencyConflictError:
                self.conflicts += 1
                continue
            assert result.created_id is not None
            return result.created_id
        raise AssertionError("too many conflicts")


def crashing_on(views: CaseViews, batch: int) -> CaseViews:
    """Make the ``batch``-th batch fail after applying its events, before it commits."""
    original = views._insert_tracking
    calls = {"n": 0}

    def insert_tracking(cursor: Any, tracking: Any) -> None:
        calls["n"] += 1
        if calls["n"] == batch:
            raise SimulatedCrashError(f"crash in batch {batch}")
        original(cursor, tracking)

    views._insert_tracking = insert_tracking  # type: ignore[method-assign]
    return views


def open_cases(stack: ReadStack) -> list[str]:
    cases = []
    for _ in range(3):
        case_id = stack.ledger.open_case(
            REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=3
        ).case_id
        stack.ledger.triage(REGIE, case_id, decision="accept", reason="invented")
        for org in WRITERS:
            stack.ledger.invite_participant(REGIE, case_id, org=org)
        cases.append(case_id)
    return cases


@pytest.mark.slow
class TestGapFreeUnderCrashes:
    """Two writers race 1,000 facts each while the projection is SIGKILLed in a child
    process, then crashes mid-batch, then restarts as two followers: every event ends up
    applied exactly once and the tracked position is the head of the log."""

    def test_kill_crash_restart(self, store_config: StoreConfig, stack: ReadStack) -> None:
        own_a, own_b, shared = open_cases(stack)
        resume = threading.Event()
        # Each writer has its own ledger (opened one after the other: on PostgreSQL the
        # library's start-up DDL must not race).
        ledgers = [open_test_ledger(store_config) for _ in WRITERS]
        writers = [
            Writer(ledgers[0], WRITERS[0], own_a, shared, resume),
            Writer(ledgers[1], WRITERS[1], own_b, shared, resume),
        ]
        child = ProjectionProcess(store_config, batch_size=25)
        try:
            for w in writers:
                w.start()

            # 1. The projection runs in another process and is SIGKILLed mid-way.
            wait_for(
                lambda: (
                    all(w.halfway.is_set() for w in writers)
                    and (stack.views.max_tracking_id(stack.ledger.name) or 0) >= 300
                ),
                what="writers half-way and the child projection past 300",
            )
            alive = child.alive()
            child.kill()
            assert alive, child.stderr
            killed_at = assert_views_match_prefix(stack.views, stack.ledger)
            assert killed_at >= 300

            # 2. Restarted in this process while the writers race on; its third batch
            #    fails inside the transaction (rolled back, like a crash before commit).
            resume.set()
            crashing = ProjectionRunner(
                stack.ledger, crashing_on(views_for(store_config), batch=3), batch_size=40
            )
            crashing.start(poll_interval=0.001)
            wait_for(lambda: crashing.last_error is not None, what="the simulated crash")
            crashing.stop()
            crashing.views.datastore.close()
            assert isinstance(crashing.last_error, SimulatedCrashError)
            crashed_at = assert_views_match_prefix(stack.views, stack.ledger)
            assert crashed_at > killed_at

            # 3. Restarted again as two followers on the same store (two API processes).
            follower = ProjectionRunner(stack.ledger, views_for(store_config), batch_size=100)
            follower.start(poll_interval=0.001)
            while any(w.is_alive() for w in writers):
                stack.runner.catch_up()
                time.sleep(0.002)  # let the writers and the other follower in
            follower.stop()
            follower.views.datastore.close()
            assert follower.error is None
        finally:
            resume.set()
            child.kill()
            for w in writers:
                w.join(timeout=120)
            for ledger in ledgers:
                ledger.close()
        assert [w.error for w in writers] == [None, None]
        stack.runner.catch_up()

        self.assert_every_event_once(stack, writers, [own_a, own_b, shared])
        assert crashed_at < stack.runner.position

    @staticmethod
    def assert_every_event_once(stack: ReadStack, writers: list[Writer], cases: list[str]) -> None:
        head = stack.ledger.recorder.max_notification_id()
        assert stack.runner.position == head
        assert_views_match_prefix(stack.views, stack.ledger)

        recorded = [f for w in writers for f in w.fact_ids]
        assert len(recorded) == len(set(recorded)) == len(WRITERS) * FACTS_PER_WRITER
        rows = stack.views.fetch("SELECT fact_id, revisions FROM cl_facts")
        assert sorted(r[0] for r in rows) == sorted(recorded)  # 0 skipped, 0 twice
        assert {int(r[1]) for r in rows} == {1}
        for case_id in cases:
            (version,) = stack.views.fetch(
                "SELECT version FROM cl_cases WHERE case_id = ?", (case_id,)
            )[0]
            assert int(version) == stack.ledger.get_case(case_id).version
            (facts,) = stack.views.fetch(
                "SELECT COUNT(*) FROM cl_facts WHERE case_id = ?", (case_id,)
            )[0]
            assert int(facts) == len(stack.ledger.get_case(case_id).facts)


def pg_count(sql: str, *params: Any) -> int:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


@pytest.mark.postgres
class TestNoSkippingAnUncommittedEvent:
    """A follower never reads past an event that has its notification id but is not yet
    committed (PostgreSQL shows rows at commit, not in id order): the event is applied."""

    HOLD = 0x5E0

    def test_event_committed_after_a_later_one_is_applied(self, tmp_path: Path) -> None:
        with temporary_stores("postgres", tmp_path / "data") as config:
            stack = open_stack(config)
            slow, fast = open_test_ledger(config), open_test_ledger(config)
            holder = psycopg.connect(PG_URL, autocommit=True)
            try:
                self.run(config, stack, slow, fast, holder)
            finally:
                holder.close()
                slow.close()
                fast.close()
                stack.close()

    def run(
        self,
        config: StoreConfig,
        stack: ReadStack,
        slow: CaseLedger,
        fast: CaseLedger,
        holder: psycopg.Connection[Any],
    ) -> None:
        case_a, case_b, _ = open_cases(stack)
        stack.runner.catch_up()
        events = f"{config.events_schema}.{stack.ledger.recorder.events_table_name}"  # type: ignore[attr-defined]
        # Inserts of case A's events wait, after taking their id, while HOLD is held.
        holder.execute(
            f"CREATE FUNCTION {config.events_schema}.hold_insert() RETURNS trigger"  # type: ignore[arg-type]
            " LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.originator_id = '{case_a}'::uuid THEN"
            f" PERFORM pg_advisory_lock({self.HOLD}); PERFORM pg_advisory_unlock({self.HOLD});"
            " END IF; RETURN NEW; END $$"
        )
        holder.execute(
            f"CREATE TRIGGER hold_insert AFTER INSERT ON {events} FOR EACH ROW"  # type: ignore[arg-type]
            f" EXECUTE FUNCTION {config.events_schema}.hold_insert()"
        )
        holder.execute("SELECT pg_advisory_lock(%s)", (self.HOLD,))
        recorded: dict[str, str] = {}

        def record(ledger: CaseLedger, case_id: str) -> None:
            result = ledger.record_fact(
                ctx("ggz"),
                case_id,
                kind="observation",
                subjects=[],
                categories=["housing"],
                purpose=PURPOSE,
                legal_basis="wgs",
                sharing_level="participants",
                body={"n": 1},
            )
            assert result.created_id is not None
            recorded[case_id] = result.created_id

        held = threading.Thread(target=record, args=(slow, case_a))
        held.start()
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        wait_for(lambda: pg_count(waiting) > 0, what="case A's insert to hold its id")

        record(fast, case_b)  # a higher id, committed first
        follower = threading.Thread(target=stack.runner.catch_up)
        follower.start()
        blocked = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND NOT granted"
            " AND relation = %s::regclass"
        )
        wait_for(
            lambda: not follower.is_alive() or pg_count(blocked, events) > 0,
            what="the follower to finish or to wait for the insert in flight",
        )
        holder.execute("SELECT pg_advisory_unlock(%s)", (self.HOLD,))
        held.join(timeout=60)
        follower.join(timeout=60)
        stack.runner.catch_up()

        facts = {r[0] for r in stack.views.fetch("SELECT fact_id FROM cl_facts")}
        assert facts == {recorded[case_a], recorded[case_b]}
        assert stack.runner.position == stack.ledger.recorder.max_notification_id()
        assert_views_match_prefix(stack.views, stack.ledger)


class TestConcurrentFollowers:
    """Several followers on one projection store (API processes, a CLI rebuild) catching up
    at the same time neither fail nor apply anything twice."""

    def test_three_followers_at_once(self, store_config: StoreConfig, stack: ReadStack) -> None:
        case_id, _, _ = open_cases(stack)
        facts = [
            NewFact("observation", (), ("housing",), PURPOSE, "wgs", "participants", (), {"n": n})
            for n in range(20)
        ]
        for _ in range(15):
            stack.ledger.record_facts(ctx("ggz"), case_id, facts)
        followers = [
            ProjectionRunner(stack.ledger, views_for(store_config), batch_size=20) for _ in range(3)
        ]
        start = threading.Barrier(len(followers))
        errors: list[BaseException] = []

        def follow(runner: ProjectionRunner) -> None:
            start.wait()
            try:
                runner.catch_up()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=follow, args=(f,)) for f in followers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for f in followers:
            f.views.datastore.close()

        assert errors == []
        head = stack.ledger.recorder.max_notification_id()
        assert stack.runner.position == head
        assert_views_match_prefix(stack.views, stack.ledger)
        live = stack.views.content_hash()
        stack.runner.rebuild()
        assert stack.views.content_hash() == live
