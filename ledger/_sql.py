"""Small SQL plumbing shared by the ledger's own stores (key store, access log).

One serialised connection per store and process: these stores see short transactions, and a
single connection keeps SQLite's locking and PostgreSQL's advisory locks simple. Statements
are written with ``?`` placeholders; the PostgreSQL adapter translates them.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from ledger._interprocess import sqlite_writer_lock


class Transaction(Protocol):
    """Statements inside one transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Database(Protocol):
    """A store's database: SQLite file or PostgreSQL schema."""

    blob_type: str
    bigint_type: str

    def transaction(self, *, write: bool, shared: bool = False) -> Any: ...

    def reopen(self) -> Database: ...

    def scalar(self, sql: str) -> Any: ...

    def checkpoint(self) -> None: ...

    def close(self) -> None: ...


class _SQLiteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, [tuple(r) for r in rows])


class SQLiteDatabase:
    """A SQLite file in WAL mode with synchronous=FULL (and optional secure_delete)."""

    blob_type = "BLOB"
    bigint_type = "INTEGER"

    def __init__(
        self, path: Path, *, secure_delete: bool = False, wal_autocheckpoint: int | None = None
    ) -> None:
        self.path = path
        self._options = (secure_delete, wal_autocheckpoint)
        self._mutex = threading.RLock()
        self._writer = sqlite_writer_lock(path)
        self._conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        if secure_delete:
            self._conn.execute("PRAGMA secure_delete=ON")
        if wal_autocheckpoint is not None:
            self._conn.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")

    def reopen(self) -> SQLiteDatabase:
        """Another connection to the same file, with the same settings."""
        secure_delete, wal_autocheckpoint = self._options
        return SQLiteDatabase(
            self.path, secure_delete=secure_delete, wal_autocheckpoint=wal_autocheckpoint
        )

    @contextmanager
    def transaction(self, *, write: bool, shared: bool = False) -> Iterator[Transaction]:
        """A transaction; SQLite has one writer at a time, so ``shared`` changes nothing."""
        with self._mutex:
            if not write:
                # Reads run in autocommit: no BEGIN/COMMIT round trip on hot paths.
                yield _SQLiteTx(self._conn)
                return
            with self._writer.hold():
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield _SQLiteTx(self._conn)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of a parameterless read (a hot-path probe)."""
        with self._mutex:
            return self._conn.execute(sql).fetchone()[0]

    def checkpoint(self) -> None:
        """Fold the WAL into the file and truncate it (after erasures)."""
        with self._mutex:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def pragma(self, name: str) -> Any:
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError("invalid pragma name")
        with self._mutex:
            return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    def close(self) -> None:
        with self._mutex:
            self._conn.close()
            self._writer.close()


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


class PostgresDatabase:
    """A PostgreSQL schema; writers serialise on a per-store advisory lock."""

    blob_type = "BYTEA"
    bigint_type = "BIGINT"

    def __init__(self, conninfo: str, schema: str, *, lock_id: int) -> None:
        import psycopg

        if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ValueError("invalid schema name")
        self.schema = schema
        self._conninfo = conninfo
        self._lock_id = lock_id
        self._mutex = threading.RLock()
        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        self._conn.execute(f"SET search_path TO {schema}")
        self._conn.execute("SET lock_timeout = '10s'")

    def reopen(self) -> PostgresDatabase:
        """Another connection to the same schema, with the same settings."""
        return PostgresDatabase(self._conninfo, self.schema, lock_id=self._lock_id)

    @contextmanager
    def transaction(self, *, write: bool, shared: bool = False) -> Iterator[Transaction]:
        """A transaction; a writer holds the store's advisory lock until it ends.

        ``shared`` writers (inserts that no other writer's rows depend on) may run together;
        every other writer holds the lock alone.
        """
        with self._mutex, self._conn.transaction(), self._conn.cursor() as cursor:
            if write:
                lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
                cursor.execute(f"SELECT {lock}(%s)", (self._lock_id,))
            yield _PostgresTx(cursor)

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of a parameterless read (a hot-path probe)."""
        with self._mutex:
            row = self._conn.execute(sql).fetchone()
        assert row is not None
        return row[0]

    def checkpoint(self) -> None:
        """Nothing to do here; PostgreSQL WAL retention is the operator's (see README)."""

    def close(self) -> None:
        with self._mutex:
            self._conn.close()
