"""Erasure is final against copies taken before it (backups, stolen disks, old dumps).

Events are never rewritten, so an event-store backup from before an erasure is restored with
the current key store and keyring: it must open none of the erased facts and all the others.
A key-store backup from before the erasure epoch must open nothing with the current keyring,
because every key-encryption key version it was wrapped under is destroyed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger import Case, CaseLedger, KeyDestroyedError, LocalKeyring, StoreConfig
from ledger._idempotency import IdempotencyRecord
from ledger._stores import KEYRING_FILE, KEYSTORE_FILE
from tests.integration._ledger_support import (
    PRIVACY_OFFICER,
    World,
    all_bodies,
    build_world,
    copy_events,
    copy_keyring,
    copy_keystore,
    dump_events,
    dump_keys,
    opened,
    pg_database,
    restored_config,
)
from tests.softhsm import keyed


@pytest.fixture
def store_config(
    store_config: StoreConfig, kek_provider: str, request: pytest.FixtureRequest
) -> StoreConfig:
    """These key tests run with either provider: the local keyring or a PKCS#11 token."""
    return keyed(store_config, kek_provider, request)


@dataclass
class Backups:
    """Events and key store as they were before and after erasing subject A."""

    config: StoreConfig
    tmp: Path
    before: Path | tuple[bytes, bytes]  # SQLite copy dir, or (events dump, keys dump)
    after: Path | tuple[bytes, bytes]


def _snapshot(config: StoreConfig, directory: Path) -> Path | tuple[bytes, bytes]:
    if config.database_url:
        return dump_events(config), dump_keys(config)
    copy_events(config, directory)
    copy_keystore(config, directory)
    return directory


@contextmanager
def _combined(b: Backups, name: str, *, events: str, keys: str) -> Iterator[CaseLedger]:
    """A ledger on the chosen events and key store copies, with the current keyring."""
    data_dir = b.tmp / name
    copy_keyring(b.config, data_dir)
    sources = {"before": b.before, "after": b.after}
    events_src, keys_src = sources[events], sources[keys]
    if isinstance(events_src, tuple) and isinstance(keys_src, tuple):
        with pg_database() as dbname:
            config = restored_config(b.config, dbname, data_dir, events_src[0], keys_src[1])
            with opened(config) as ledger:
                yield ledger
        return
    assert isinstance(events_src, Path)
    assert isinstance(keys_src, Path)
    config = StoreConfig(data_dir=data_dir, pkcs11=b.config.pkcs11)
    copy_events(StoreConfig(data_dir=events_src), data_dir)
    copy_keystore(StoreConfig(data_dir=keys_src), data_dir)
    with opened(config) as ledger:
        yield ledger


@dataclass
class Erased:
    world: World
    about_a: set[str]
    backups: Backups


def _erase_a(store_config: StoreConfig, tmp_path: Path) -> Erased:
    with opened(store_config) as ledger:
        w = build_world(ledger)
        assert all_bodies(ledger, w) == w.expected
        before = _snapshot(store_config, tmp_path / "before")
        report = ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
        # Every owner of a fact in the world held keys about A, so every owner rotated.
        assert set(report.epoch.kek_rotations) == {"zvh", "politie", "reclassering"}
        keyring = ledger.keys.keyring
        for owner in ("zvh", "politie", "reclassering"):
            assert keyring.versions(owner) == [2]
        after = _snapshot(store_config, tmp_path / "after")
    about_a = w.ids("identity_a", "politie_a", "reclassering_a", "reclassering_ab")
    return Erased(w, about_a, Backups(store_config, tmp_path, before, after))


def _opened_events(ledger: CaseLedger, w: World) -> list[Any]:
    """Every case event that opens to something other than a placeholder or erasure record."""
    found = []
    for notification in ledger.recorder.select_notifications(start=1, limit=100_000):
        event = ledger.mapper.to_domain_event(notification)  # must not raise
        if not isinstance(event, (Case.Redacted, Case.Erased, IdempotencyRecord.Redacted)):
            found.append(event)
    return found


class TestOldEventStore:
    """(a) A pre-erasure event store with today's keys opens 0 of A's facts and all others."""

    def test_old_events_current_keys(self, store_config: StoreConfig, tmp_path: Path) -> None:
        e = _erase_a(store_config, tmp_path)
        w = e.world
        with _combined(e.backups, "a", events="before", keys="after") as ledger:
            found = all_bodies(ledger, w)  # neither case crashes
            opened_a = {f for f in e.about_a if found.get(f) is not None}
            assert opened_a == set()
            others = w.all_ids - e.about_a
            assert {f: found.get(f) for f in others} == {f: w.expected[f] for f in others}
            case = ledger.get_case(w.case_1)
            assert case.redacted_events > 0
            assert w.subject_a not in case.subjects  # its SubjectAdded event is a placeholder
            assert w.subject_b in case.subjects


class TestOldKeyStore:
    """(b) A pre-erasure key store opens nothing with today's keyring, with any event store."""

    def _assert_nothing_opens(self, ledger: CaseLedger, w: World) -> None:
        for case_id in (w.case_1, w.case_2):
            case = ledger.get_case(case_id)  # loads: every event is a placeholder
            assert case.facts == {}
            assert case.redacted_events == case.version - len(case.erasures)
        assert all_bodies(ledger, w) == {}
        assert _opened_events(ledger, w) == []

    def test_old_keys_current_events(self, store_config: StoreConfig, tmp_path: Path) -> None:
        e = _erase_a(store_config, tmp_path)
        with _combined(e.backups, "b1", events="after", keys="before") as ledger:
            self._assert_nothing_opens(ledger, e.world)

    def test_old_keys_old_events(self, store_config: StoreConfig, tmp_path: Path) -> None:
        e = _erase_a(store_config, tmp_path)
        with _combined(e.backups, "b2", events="before", keys="before") as ledger:
            self._assert_nothing_opens(ledger, e.world)
            # The sealed bodies in the old events do not open with the old keys either.
            for case_id in (e.world.case_1, e.world.case_2):
                case = ledger.get_case(case_id)
                assert case.facts == {}


class TestOldKeyRowsAreGoneFromTheFile:
    """After the epoch the key store file no longer holds A's wrapped keys (secure_delete)."""

    def test_wrapped_keys_of_a_not_in_file(self, tmp_path: Path) -> None:
        config = StoreConfig(data_dir=tmp_path / "data")
        with opened(config) as ledger:
            w = build_world(ledger)
            with ledger.keys.store.transaction(write=False) as tx:
                rows = tx.execute(
                    "SELECT wrapped FROM scope_keys WHERE subject_id = ?", (w.subject_a,)
                )
                all_rows = tx.execute("SELECT wrapped FROM scope_keys")
            wrapped_a = [bytes(r[0]) for r in rows]
            wrapped_all = [bytes(r[0]) for r in all_rows]
            assert len(wrapped_a) == 3
            ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
            raw = b"".join(
                p.read_bytes()
                for p in config.data_dir.iterdir()
                if p.name.startswith(KEYSTORE_FILE)
            )
            # Neither the deleted rows nor the rows rewrapped by the epoch linger anywhere.
            assert [x for x in wrapped_all if x in raw] == []
            assert (config.data_dir / KEYRING_FILE).exists()

    def test_opening_with_a_destroyed_kek_is_a_redaction_not_a_crash(self, tmp_path: Path) -> None:
        config = StoreConfig(data_dir=tmp_path / "data")
        with opened(config) as ledger:
            w = build_world(ledger)
            ledger.rotate_keys(["politie"])
            keyring = ledger.keys.keyring
            assert isinstance(keyring, LocalKeyring)
            with pytest.raises(KeyDestroyedError):
                keyring.unwrap("politie", 1, b"\x00" * 60, b"x")
            assert all_bodies(ledger, w) == w.expected
