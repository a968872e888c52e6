"""Issue 18 item 11: the covenant in force (version and content hash) is recorded on every
write event and on every access-log entry; events and log entries from before that still
decode and verify."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger import Case
from ledger._audit import AccessLog
from ledger._audit_entries import AccessEntry, canonical
from ledger._audit_signing import AuditKeys
from ledger._mapper import _CLASS_INFO, _topic_info
from ledger._sql import SQLiteDatabase
from policies import load_covenant, parse_covenant, sample_covenant_path
from tests.integration.read_helpers import (
    PRIVACY_OFFICER,
    SC1_READERS,
    STORE_PARAMS,
    ReadStack,
    TickingClock,
    open_stack,
    read_as_everyone,
    record_sc1_with_canaries,
    temporary_stores,
)

SAMPLE = Path(str(sample_covenant_path()))


@pytest.fixture(params=STORE_PARAMS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadStack]:
    with temporary_stores(request.param, tmp_path) as config:
        opened = open_stack(config)
        try:
            yield opened
        finally:
            opened.close()


def case_events(stack: ReadStack, case_id: str) -> list[Any]:
    return list(stack.ledger.events.get(UUID(case_id)))


class TestCovenantReference:
    def test_version_and_hash_of_the_rules(self) -> None:
        covenant = load_covenant(SAMPLE)
        version, digest = covenant.reference.split(":")
        assert int(version) == covenant.version
        assert len(digest) == 64
        assert int(digest, 16) >= 0

    def test_comments_and_layout_do_not_change_the_hash(self) -> None:
        text = SAMPLE.read_text()
        relaid = "# a comment added in review\n\n" + text.replace(" = ", "   =   ")
        assert parse_covenant(relaid, "relaid").reference == load_covenant(SAMPLE).reference

    def test_a_changed_rule_changes_the_hash(self) -> None:
        text = SAMPLE.read_text()
        changed = text.replace("max_window_minutes = 240", "max_window_minutes = 120", 1)
        assert changed != text
        assert parse_covenant(changed, "changed").content_hash != load_covenant(SAMPLE).content_hash


class TestWriteEventsRecordTheCovenant:
    def test_every_case_event_carries_the_covenant_in_force(self, stack: ReadStack) -> None:
        sc1 = record_sc1_with_canaries(stack.ledger)
        events = case_events(stack, sc1.case_id)
        assert len(events) > 5
        assert {e.covenant for e in events} == {stack.covenant.reference}

    def test_erasure_request_events_carry_it(self, stack: ReadStack) -> None:
        sc1 = record_sc1_with_canaries(stack.ledger)
        request, _ = stack.ledger.request_erasure(
            PRIVACY_OFFICER,
            scope="case",
            ground="retention_expired",
            case_id=sc1.case_id,
            expires_at=stack.clock() + timedelta(hours=72),
        )
        (requested,) = stack.ledger.events.get(request.id)
        assert requested.covenant == stack.covenant.reference

    def test_an_event_from_before_is_upcast_with_an_empty_covenant(self, stack: ReadStack) -> None:
        sc1 = record_sc1_with_canaries(stack.ledger)
        latest = case_events(stack, sc1.case_id)[-1]
        mapper = stack.ledger.mapper
        # Store the event as version 1 of its class wrote it: no covenant field.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Case.Event, "class_version", 1)
            _CLASS_INFO.clear()
            try:
                old = type(latest).__new__(type(latest))
                state = {k: v for k, v in vars(latest).items() if k != "covenant"}
                object.__setattr__(old, "__dict__", state)
                stored = mapper.to_stored_event(old)
            finally:
                _CLASS_INFO.clear()
        _topic_info.cache_clear()
        decoded = mapper.to_domain_event(stored)
        assert decoded.covenant == ""
        assert decoded.originator_version == latest.originator_version


class TestAccessLogRecordsTheCovenant:
    def test_every_entry_of_every_read_carries_it(self, stack: ReadStack) -> None:
        sc1 = record_sc1_with_canaries(stack.ledger)
        before = stack.access_log.count()
        read_as_everyone(stack.reads, [sc1.case_id])
        entries = stack.access_log.entries(after=before)
        assert len(entries) >= len(SC1_READERS)
        assert {e.covenant for e in entries} == {stack.covenant.reference}
        assert stack.access_log.verify().ok

    def test_entries_can_be_filtered_by_covenant(self, stack: ReadStack) -> None:
        sc1 = record_sc1_with_canaries(stack.ledger)
        read_as_everyone(stack.reads, [sc1.case_id])
        under = stack.access_log.entries(covenant=stack.covenant.reference)
        assert under
        assert len(under) == stack.access_log.count()
        assert stack.access_log.entries(covenant="1:" + "0" * 64) == []

    def test_a_changed_covenant_on_an_entry_is_detected(self, stack: ReadStack) -> None:
        sc1 = record_sc1_with_canaries(stack.ledger)
        read_as_everyone(stack.reads, [sc1.case_id])
        seq = stack.access_log.entries(limit=1)[0].seq
        with stack.access_log.database.transaction(write=True) as tx:
            tx.execute("UPDATE access_log SET covenant = ? WHERE seq = ?", ("", seq))
        report = stack.access_log.verify()
        assert (report.ok, report.first_bad_seq) == (False, seq)


OLD_SCHEMA = """CREATE TABLE access_log (
    seq INTEGER PRIMARY KEY, entry_id TEXT NOT NULL, trace_id TEXT NOT NULL,
    time TEXT NOT NULL, actor TEXT NOT NULL, org TEXT NOT NULL, role TEXT NOT NULL,
    on_behalf_of TEXT NOT NULL, purpose TEXT NOT NULL, case_id TEXT NOT NULL,
    fact_ids TEXT NOT NULL, subject TEXT NOT NULL, decision TEXT NOT NULL,
    reason TEXT NOT NULL, emergency INTEGER NOT NULL, outcome TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '', hash BLOB NOT NULL)"""


def test_a_log_from_before_gains_the_column_and_still_verifies(tmp_path: Path) -> None:
    keys = AuditKeys.load_or_create(tmp_path / "keys.json")
    database = SQLiteDatabase(tmp_path / "audit.sqlite3")
    entry = AccessEntry("user-1", "zvh", "procesregisseur", "p", "case-1", "allowed", "ok")
    time = TickingClock()().isoformat()
    chained = keys.chain_link()(bytes(32), canonical(1, "e" * 32, time, entry))
    with database.transaction(write=True) as tx:
        tx.execute(OLD_SCHEMA)
        tx.execute(
            "INSERT INTO access_log VALUES (1, ?, '', ?, 'user-1', 'zvh', 'procesregisseur',"
            " '', 'p', 'case-1', '', '', 'allowed', 'ok', 0, 'ok', '', ?)",
            ("e" * 32, time, chained),
        )
    log = AccessLog(database, keys)
    try:
        (old,) = log.entries()
        assert old.covenant == ""
        log.append([AccessEntry(**{**_fields(entry), "covenant": "2:" + "a" * 64})], now=_now())
        assert [e.covenant for e in log.entries()] == ["", "2:" + "a" * 64]
        assert log.verify().ok
    finally:
        log.close()
    # Opening it again is a no-op (the column is there).
    AccessLog(SQLiteDatabase(tmp_path / "audit.sqlite3"), keys).close()


def _fields(entry: AccessEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}


def _now() -> Any:
    return TickingClock()() + timedelta(minutes=1)
