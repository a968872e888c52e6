"""Durability settings are pinned: an acknowledged write survives a crash or power loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger import StoreConfig
from ledger._stores import _DerivedConnectionPool, _DurableConnectionPool, sqlite_pragma
from projections import open_views
from tests.integration._ledger_support import POLITIE, open_active_case, opened, record

NORMAL, FULL = 1, 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _pragma(connection: Any, name: str) -> Any:
    return connection._sqlite_conn.execute(f"PRAGMA {name}").fetchone()[0]


class TestSQLiteDurability:
    """Events and key store use WAL and synchronous=FULL; the key store deletes securely."""

    def test_events_database(self, tmp_path: Path) -> None:
        config = StoreConfig(data_dir=tmp_path / "data")
        with opened(config) as ledger:
            case_id = open_active_case(ledger)
            record(ledger, POLITIE, case_id, {"note": "durable"})
            pool = ledger.recorder.datastore.pool  # type: ignore[attr-defined]
            assert isinstance(pool, _DurableConnectionPool)
            # Every connection the pool hands out (pooled ones and freshly made ones).
            held = [pool.get_connection() for _ in range(4)]
            try:
                assert len({id(c) for c in held}) == 4
                assert [_pragma(c, "synchronous") for c in held] == [FULL] * 4
                assert {_pragma(c, "journal_mode") for c in held} == {"wal"}
            finally:
                for connection in held:
                    pool.put_connection(connection)
        assert sqlite_pragma(config.events_path, "journal_mode") == "wal"

    def test_key_store(self, tmp_path: Path) -> None:
        config = StoreConfig(data_dir=tmp_path / "data")
        with opened(config) as ledger:
            store = ledger.keys.store
            assert store.pragma("journal_mode") == "wal"
            assert store.pragma("synchronous") == FULL
            assert store.pragma("secure_delete") == 1
            # Little WAL left for an erasure's checkpoint to write (see SQLiteKeyStore).
            assert store.pragma("wal_autocheckpoint") == 100
        assert sqlite_pragma(config.keystore_path, "journal_mode") == "wal"

    def test_projection_store_is_consistent_not_fsynced(self, tmp_path: Path) -> None:
        """Projections are rebuilt from the log: WAL keeps them consistent, and each batch
        commits with its tracking position, so they skip the fsync per commit."""
        config = StoreConfig(data_dir=tmp_path / "data")
        views = open_views(config)
        try:
            pool = views.datastore.pool
            assert isinstance(pool, _DerivedConnectionPool)
            connection = pool.get_connection()
            try:
                assert _pragma(connection, "synchronous") == NORMAL
                assert _pragma(connection, "journal_mode") == "wal"
                # Rows of erased facts are overwritten, whatever the SQLite build's default.
                assert _pragma(connection, "secure_delete") == 1
            finally:
                pool.put_connection(connection)
        finally:
            views.datastore.close()


class TestPostgresDurability:
    """Ledger connections to PostgreSQL commit synchronously (no lost acknowledged commits)."""

    @pytest.mark.postgres
    @pytest.mark.parametrize("store_config", ["postgres"], indirect=True)
    def test_synchronous_commit(self, store_config: StoreConfig) -> None:
        with opened(store_config) as ledger:
            datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
            with datastore.transaction(commit=False) as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert next(iter(cursor.fetchone().values())) == "on"
                cursor.execute("SHOW fsync")
                assert next(iter(cursor.fetchone().values())) == "on"
            with ledger.keys.store.transaction(write=False) as tx:
                assert tx.execute("SHOW synchronous_commit") == [("on",)]
