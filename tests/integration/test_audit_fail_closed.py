"""Fail closed: when the access log cannot be written, no read reveals anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ledger import StoreConfig
from ledger._audit_entries import AccessLogUnavailableError
from tests.integration.read_helpers import (
    SC1,
    SC1_READERS,
    CallCounter,
    RawSQL,
    ReadStack,
    open_stack,
    record_sc1_with_canaries,
    rendered,
)

SQLITE_BLOCK = (
    "CREATE TRIGGER access_log_blocked BEFORE INSERT ON access_log"
    " BEGIN SELECT RAISE(ABORT, 'access log is read-only'); END"
)
PG_BLOCK = (
    "CREATE FUNCTION access_log_blocked() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'access log is read-only'; END $$",
    "CREATE TRIGGER access_log_blocked BEFORE INSERT ON access_log"
    " FOR EACH ROW EXECUTE FUNCTION access_log_blocked()",
)


def block_inserts(stack: ReadStack) -> Callable[[], None]:
    """The store refuses new entries (as a read-only or full store would); returns undo."""
    raw = RawSQL(stack.config)
    if raw.postgres:
        raw.script(*PG_BLOCK)
        undo = ["DROP TRIGGER access_log_blocked ON access_log", "DROP FUNCTION access_log_blocked"]
    else:
        raw.execute(SQLITE_BLOCK)
        undo = ["DROP TRIGGER access_log_blocked"]

    def unblock() -> None:
        raw.script(*undo)
        raw.close()

    return unblock


def drop_table(stack: ReadStack) -> Callable[[], None]:
    raw = RawSQL(stack.config)
    raw.execute("DROP TABLE access_log")
    raw.close()
    return lambda: None


def close_connection(stack: ReadStack) -> Callable[[], None]:
    stack.access_log.database.close()
    return lambda: None


BREAKAGES = {"inserts_refused": block_inserts, "table_dropped": drop_table}
BREAKAGES["connection_lost"] = close_connection


@pytest.fixture
def world(store_config: StoreConfig) -> Iterator[tuple[ReadStack, SC1, CallCounter]]:
    stack = open_stack(store_config)
    try:
        sc1 = record_sc1_with_canaries(stack.ledger)
        stack.runner.catch_up()
        spy = CallCounter(stack.ledger.open_bodies)
        stack.ledger.open_bodies = spy  # type: ignore[method-assign]
        yield stack, sc1, spy
    finally:
        stack.close()


class TestFailClosed:
    """With the access log unwritable, every view request raises AccessLogUnavailableError,
    returns no fact data and opens no sealed body."""

    @pytest.mark.parametrize("breakage", list(BREAKAGES))
    def test_no_view_without_a_log_entry(
        self, world: tuple[ReadStack, SC1, CallCounter], breakage: str
    ) -> None:
        stack, sc1, spy = world
        undo = BREAKAGES[breakage](stack)
        try:
            for reader in SC1_READERS:
                for view in (stack.reads.case_overview, stack.reads.action_list):
                    with pytest.raises(AccessLogUnavailableError) as raised:
                        view(reader.request(), sc1.case_id)
                    text = rendered(raised.value) + repr(raised.value.__cause__)
                    assert [c for c in sc1.all_canaries() if c in text] == []
                    assert sc1.subject_id not in text
        finally:
            undo()

        assert spy.calls == 0

    def test_reads_resume_when_the_log_is_writable_again(
        self, world: tuple[ReadStack, SC1, CallCounter]
    ) -> None:
        stack, sc1, spy = world
        reader = SC1_READERS[0]
        stack.reads.case_overview(reader.request(), sc1.case_id)
        before = stack.access_log.count()
        unblock = block_inserts(stack)

        with pytest.raises(AccessLogUnavailableError):
            stack.reads.case_overview(reader.request(), sc1.case_id)
        assert stack.access_log.count() == before
        assert spy.calls == 1

        unblock()
        view = stack.reads.case_overview(reader.request(), sc1.case_id)
        assert any(f.has_body for f in view.facts)
        assert spy.calls == 2
        assert stack.access_log.count() > before
        assert stack.access_log.verify().ok

    def test_a_denied_read_that_cannot_be_logged_is_still_denied(
        self, world: tuple[ReadStack, SC1, CallCounter]
    ) -> None:
        stack, sc1, spy = world
        undo = block_inserts(stack)
        municipality = next(r for r in SC1_READERS if r.name == "gemeente")
        try:
            with pytest.raises(AccessLogUnavailableError):  # the denial could not be logged
                stack.reads.case_overview(municipality.request(), sc1.case_id)
        finally:
            undo()
        assert spy.calls == 0
