"""The key store: wrapped scope keys and fact keys, in their own database.

SQLite (its own file, ``secure_delete=ON`` so deleted key rows are overwritten, WAL truncated
after erasures) by default; PostgreSQL (its own schema) for scale. No plaintext key ever
touches it: scope keys are wrapped under the owner's key-encryption key, fact keys under the
(owner, case) wrapping key. Rows carry only random ids and partner ids.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

NO_SUBJECT = ""
REGISTRY_CASE = ""
DERIVE = "derive"
WRAP = "wrap"


@dataclass(frozen=True, slots=True)
class ScopeKeyRow:
    """A scope key as stored: wrapped under KEK(owner, kek_version)."""

    key_id: str
    owner: str
    case_id: str
    subject_id: str
    kind: str
    kek_version: int
    wrapped: bytes


@dataclass(frozen=True, slots=True)
class FactKeyRow:
    """A fact key as stored: wrapped under the scope key ``wrap_key_id``."""

    key_id: str
    owner: str
    case_id: str
    wrap_key_id: str
    wrapped: bytes


class KeyStoreTransaction(Protocol):
    """Operations inside one serialised key-store transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS scope_keys (
        key_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        case_id TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        kek_version INTEGER NOT NULL,
        wrapped {blob} NOT NULL,
        UNIQUE (owner, case_id, subject_id, kind))""",
    "CREATE INDEX IF NOT EXISTS scope_keys_by_case ON scope_keys (case_id, subject_id)",
    """CREATE TABLE IF NOT EXISTS fact_keys (
        key_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        case_id TEXT NOT NULL,
        wrap_key_id TEXT NOT NULL,
        wrapped {blob} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS fact_keys_by_wrap ON fact_keys (wrap_key_id)",
    "CREATE INDEX IF NOT EXISTS fact_keys_by_case ON fact_keys (case_id)",
    """CREATE TABLE IF NOT EXISTS erased_scopes (
        owner TEXT NOT NULL,
        case_id TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        PRIMARY KEY (owner, case_id, subject_id))""",
    """CREATE TABLE IF NOT EXISTS generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value BIGINT NOT NULL)""",
]


class KeyStore:
    """Dialect-neutral key store; subclasses supply connections and locking."""

    blob_type = "BLOB"

    def __init__(self) -> None:
        self._mutex = threading.RLock()

    # -- lifecycle (subclasses) ------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[KeyStoreTransaction]:
        raise NotImplementedError  # pragma: no cover

    def close(self) -> None:
        raise NotImplementedError  # pragma: no cover

    def after_erasure(self) -> None:
        """Hook to make deletions physical where the backend allows (SQLite: checkpoint)."""

    def create_schema(self) -> None:
        with self.transaction(write=True) as tx:
            for statement in _SCHEMA:
                tx.execute(statement.format(blob=self.blob_type))
            if not tx.execute("SELECT value FROM generation WHERE id = 1"):
                tx.execute("INSERT INTO generation (id, value) VALUES (1, 0)")

    # -- reads -----------------------------------------------------------------------------

    def generation(self) -> int:
        with self.transaction(write=False) as tx:
            return int(tx.execute("SELECT value FROM generation WHERE id = 1")[0][0])

    def find_scope_key(
        self, owner: str, case_id: str, subject_id: str, kind: str
    ) -> ScopeKeyRow | None:
        with self.transaction(write=False) as tx:
            return _one_scope(
                tx.execute(
                    f"SELECT {_SCOPE_COLS} FROM scope_keys"
                    " WHERE owner = ? AND case_id = ? AND subject_id = ? AND kind = ?",
                    (owner, case_id, subject_id, kind),
                )
            )

    def get_scope_keys(self, key_ids: Sequence[str]) -> dict[str, ScopeKeyRow]:
        found: dict[str, ScopeKeyRow] = {}
        with self.transaction(write=False) as tx:
            for chunk in _chunks(key_ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = tx.execute(
                    f"SELECT {_SCOPE_COLS} FROM scope_keys WHERE key_id IN ({marks})", chunk
                )
                found.update((row[0], _scope(row)) for row in rows)
        return found

    def get_fact_keys(self, key_ids: Sequence[str]) -> dict[str, FactKeyRow]:
        found: dict[str, FactKeyRow] = {}
        with self.transaction(write=False) as tx:
            for chunk in _chunks(key_ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = tx.execute(
                    f"SELECT {_FACT_COLS} FROM fact_keys WHERE key_id IN ({marks})", chunk
                )
                found.update((row[0], FactKeyRow(*row)) for row in rows)
        return found

    def is_erased(self, tx: KeyStoreTransaction, owner: str, case_id: str, subject_id: str) -> bool:
        """True when this scope (or its case, or its owner) was erased."""
        rows = tx.execute(
            "SELECT 1 FROM erased_scopes WHERE owner IN (?, '*') AND"
            " ((case_id = ? AND subject_id IN (?, '*')) OR (case_id = '*'))",
            (owner, case_id, subject_id),
        )
        return bool(rows)

    def count_keys(self) -> tuple[int, int]:
        """(scope keys, fact keys) currently stored."""
        with self.transaction(write=False) as tx:
            scopes = tx.execute("SELECT COUNT(*) FROM scope_keys")[0][0]
            facts = tx.execute("SELECT COUNT(*) FROM fact_keys")[0][0]
        return int(scopes), int(facts)


_SCOPE_COLS = "key_id, owner, case_id, subject_id, kind, kek_version, wrapped"
_FACT_COLS = "key_id, owner, case_id, wrap_key_id, wrapped"


def _scope(row: Sequence[Any]) -> ScopeKeyRow:
    return ScopeKeyRow(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        int(row[5]),
        bytes(row[6]),
    )


def _one_scope(rows: list[tuple[Any, ...]]) -> ScopeKeyRow | None:
    return _scope(rows[0]) if rows else None


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class _SQLiteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, [tuple(r) for r in rows])


class SQLiteKeyStore(KeyStore):
    """Key store in its own SQLite file: WAL, synchronous=FULL, secure_delete=ON."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self.create_schema()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[KeyStoreTransaction]:
        with self._mutex:
            if not write:
                # Reads run in autocommit: each statement sees a consistent snapshot and no
                # BEGIN/COMMIT round trip is paid on the hot path.
                yield _SQLiteTx(self._conn)
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def after_erasure(self) -> None:
        with self._mutex:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def pragma(self, name: str) -> Any:
        """Read one PRAGMA (for durability tests)."""
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError("invalid pragma name")
        with self._mutex:
            return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    def close(self) -> None:
        with self._mutex:
            self._conn.close()


class _PostgresTx:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        if self._cursor.description is None:
            return []
        return list(self._cursor.fetchall())

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])


class PostgresKeyStore(KeyStore):
    """Key store in its own PostgreSQL schema; writers serialise on an advisory lock."""

    blob_type = "BYTEA"
    _LOCK_ID = 0x4B455953  # "KEYS"

    def __init__(self, conninfo: str, schema: str = "caseledger_keys") -> None:
        import psycopg

        super().__init__()
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ValueError("invalid schema name")
        self.schema = schema
        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        self._conn.execute(f"SET search_path TO {schema}")
        self._conn.execute("SET lock_timeout = '10s'")
        self.create_schema()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[KeyStoreTransaction]:
        with self._mutex, self._conn.transaction(), self._conn.cursor() as cursor:
            if write:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._LOCK_ID,))
            yield _PostgresTx(cursor)

    def close(self) -> None:
        with self._mutex:
            self._conn.close()
