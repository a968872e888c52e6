"""The projection store: view tables plus the library's tracking table, in one transaction.

View classes extend the library's tracking recorders (SQLite and PostgreSQL), so each batch
of view updates commits together with its tracking position. Reads for role views go
through :meth:`CaseViewsMixin.fetch`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InfrastructureFactory, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder

from ledger import (
    StoreConfig,
    WriterLock,
    ensure_schema,
    postgres_env,
    sqlite_writer_lock,
    startup_lock,
)
from projections._apply import CaseHistory, apply_event, case_ids_of
from projections._schema import HASHED_TABLES, INDEXES, TABLES

_VERSION_CHUNK = 500  # case ids per version query (well under every parameter limit)

PROJECTIONS_FILE = "projections.sqlite3"
#: Identifies the view tables' layout; a store made with another layout is rebuilt.
SCHEMA_DIGEST = hashlib.sha256("\n".join([*TABLES.values(), *INDEXES]).encode()).hexdigest()[:16]
VIEW_NAME = "caseviews"


class _Executor:
    """Adapts a library cursor to ``?`` placeholders and tuple rows, batching writes.

    INSERTs are buffered per statement and sent with ``executemany``; any other statement or
    read flushes them first, so every statement still sees the effects of earlier ones.
    Case versions live in memory for the batch and are written once at the end.
    """

    def __init__(self, cursor: Any, *, postgres: bool) -> None:
        self._cursor = cursor
        self._postgres = postgres
        self._inserts: dict[str, list[tuple[Any, ...]]] = {}
        self._versions: dict[str, int] = {}
        self._dirty: set[str] = set()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if sql.startswith("INSERT"):
            self._inserts.setdefault(sql, []).append(tuple(params))
            return
        self.flush()
        self._cursor.execute(self._sql(sql), tuple(params))

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.flush()
        self._cursor.execute(self._sql(sql), tuple(params))
        rows = self._cursor.fetchall()
        if self._postgres:
            return [tuple(r.values()) for r in rows]
        return [tuple(r) for r in rows]

    def flush(self) -> None:
        inserts, self._inserts = self._inserts, {}
        for sql, rows in inserts.items():
            self._cursor.executemany(self._sql(sql), rows)

    def load_versions(self, case_ids: Iterable[str]) -> None:
        """Read the projected versions of these cases in a few queries, up front.

        One query per case would flush the buffered inserts each time (a read must see
        them), which breaks a batch into many small ``executemany`` calls.
        """
        wanted = sorted(set(case_ids) - self._versions.keys())
        for start in range(0, len(wanted), _VERSION_CHUNK):
            chunk = wanted[start : start + _VERSION_CHUNK]
            self._versions.update(dict.fromkeys(chunk, 0))
            marks = ", ".join("?" * len(chunk))
            rows = self.fetch(
                f"SELECT case_id, version FROM cl_cases WHERE case_id IN ({marks})",  # noqa: S608
                chunk,
            )
            self._versions.update((str(c), int(v)) for c, v in rows)

    def version(self, case_id: str) -> int:
        if case_id not in self._versions:
            rows = self.fetch("SELECT version FROM cl_cases WHERE case_id = ?", (case_id,))
            self._versions[case_id] = int(rows[0][0]) if rows else 0
        return self._versions[case_id]

    def set_version(self, case_id: str, version: int) -> None:
        self._versions[case_id] = version
        self._dirty.add(case_id)

    def finish(self) -> None:
        """Flush buffered inserts and write the batch's case versions."""
        self.flush()
        if self._dirty:
            self._cursor.executemany(
                self._sql("UPDATE cl_cases SET version = ? WHERE case_id = ?"),
                [(self._versions[c], c) for c in sorted(self._dirty)],
            )
            self._dirty.clear()


class CaseViewsMixin:
    """View tables and batch application; mixed into the library's tracking recorders."""

    datastore: Any
    postgres = False
    #: Serialises SQLite writers across processes (set by ``open_views``; no-op otherwise).
    writer = WriterLock(None)

    if TYPE_CHECKING:  # provided by the library's tracking recorder

        def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

        def max_tracking_id(self, application_name: str) -> int | None: ...

        def _max_tracking_id(self, application_name: str, c: Any) -> int | None: ...

        table_migration_identifier: str

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[_Executor]:
        with self.datastore.transaction(commit=commit) as cursor:
            if self.postgres:
                cursor.execute(f"SET LOCAL search_path TO {self.datastore.schema}")
            ex = _Executor(cursor, postgres=self.postgres)
            yield ex
            ex.finish()

    def create_view_tables(self) -> None:
        """Create the view tables; tables of another schema version are dropped first and
        the tracking position forgotten, so the views are rebuilt from the event log (they
        are derived data: nothing is lost)."""
        with self._transaction(commit=True) as ex:
            ex.execute("CREATE TABLE IF NOT EXISTS cl_schema (digest TEXT NOT NULL)")
            stored = [str(r[0]) for r in ex.fetch("SELECT digest FROM cl_schema")]
            if stored == [SCHEMA_DIGEST]:
                return
            for table in TABLES:
                ex.execute(f"DROP TABLE IF EXISTS {table}")
            self._create_view_tables(ex)
            ex.execute(
                f"DELETE FROM {self.tracking_table()} WHERE application_name <> ?",  # noqa: S608
                (self.table_migration_identifier,),
            )
            ex.execute("DELETE FROM cl_schema")
            ex.execute("INSERT INTO cl_schema (digest) VALUES (?)", (SCHEMA_DIGEST,))

    def _create_view_tables(self, ex: _Executor) -> None:
        # Narrow tables keyed by their primary key skip SQLite's rowid b-tree.
        without_rowid = "" if self.postgres else " WITHOUT ROWID"
        for statement in [*TABLES.values(), *INDEXES]:
            ex.execute(statement.replace("{without_rowid}", without_rowid))

    def apply_batch(self, events: Sequence[Any], tracking: Tracking, history: CaseHistory) -> int:
        """Apply events and record the tracking position in one transaction.

        Other followers (API processes, a CLI rebuild) may apply the same notifications at
        the same time: the batch takes the store's write lock before reading anything and
        does nothing if that position is already tracked (redelivery changes nothing).
        """
        applied = 0
        with self.writer.hold(), self.datastore.transaction(commit=True) as cursor:
            if self.postgres:
                cursor.execute(f"SET LOCAL search_path TO {self.datastore.schema}")
            ex = _Executor(cursor, postgres=self.postgres)
            if self.postgres:
                # Self-conflicting, but plain SELECTs (role views) are not blocked.
                ex.execute("LOCK TABLE cl_cases IN SHARE ROW EXCLUSIVE MODE")
            else:
                # A write first: a deferred SQLite transaction that has read cannot upgrade.
                ex.execute("UPDATE cl_cases SET version = version WHERE 0 = 1")
            done = self._max_tracking_id(tracking.application_name, cursor)
            if done is not None and done >= tracking.notification_id:
                return 0
            ex.load_versions(case_ids_of(events))
            for event in events:
                applied += apply_event(ex, event, history)
            ex.finish()
            self._insert_tracking(cursor, tracking)
        return applied

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._transaction(commit=False) as ex:
            return ex.fetch(sql, params)

    def clear(self) -> None:
        """Empty every view table and forget the tracking position (for a rebuild)."""
        with self.writer.hold(), self._transaction(commit=True) as ex:
            self._empty_tables(ex)

    def _empty_tables(self, ex: _Executor) -> None:
        """Tables are emptied wholesale (TRUNCATE; on SQLite, dropped and created again)."""
        if self.postgres:
            ex.execute(f"TRUNCATE {', '.join(TABLES)}")
        else:
            for table in TABLES:
                ex.execute(f"DROP TABLE {table}")
            self._create_view_tables(ex)
        # Keep the library's own "__migration__" row: without it, reopening the store
        # mistakes the table for a legacy one and renames it (fails the second time).
        ex.execute(
            f"DELETE FROM {self.tracking_table()} WHERE application_name <> ?",  # noqa: S608
            (self.table_migration_identifier,),
        )

    def tracking_table(self) -> str:
        return "tracking"

    def content_hash(self) -> str:
        """SHA-256 over every view row in a stable order (rebuild == live checks)."""
        digest = hashlib.sha256()
        with self._transaction(commit=False) as ex:
            for table, order in HASHED_TABLES.items():
                digest.update(table.encode())
                for row in ex.fetch(f"SELECT * FROM {table} ORDER BY {order}"):  # noqa: S608
                    digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()


class SQLiteCaseViews(CaseViewsMixin, SQLiteTrackingRecorder):
    """Case projections in their own SQLite file."""

    def create_table(self) -> None:
        super().create_table()
        self.create_view_tables()

    def clear(self) -> None:
        """Empty the views, then compact the file.

        Secure delete is off while the tables are dropped: it would overwrite every page of
        them (four seconds for a million facts), and the compaction that follows cuts those
        pages from the file anyway. Erased rows were overwritten when they were erased.
        Compacting also matters for speed: a rebuild into the free list of the dropped
        tables runs a fifth slower than into a compact file.
        """
        with self.writer.hold(), self.datastore.get_connection(commit=True) as connection:
            raw = connection._sqlite_conn
            raw.execute("PRAGMA secure_delete=OFF")
            try:
                with connection.transaction(commit=True) as cursor:
                    ex = _Executor(cursor, postgres=False)
                    self._empty_tables(ex)
                    ex.finish()
                raw.execute("VACUUM")
                # Fold the compacted file back now, which cuts the dropped pages off its end.
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.execute("PRAGMA secure_delete=ON")


class PostgresCaseViews(CaseViewsMixin, PostgresTrackingRecorder):
    """Case projections in a PostgreSQL schema."""

    postgres = True

    def create_table(self) -> None:
        super().create_table()
        self.create_view_tables()

    def tracking_table(self) -> str:
        return self.tracking_table_name


CaseViews = SQLiteCaseViews | PostgresCaseViews


def open_views(config: StoreConfig, *, schema: str | None = None) -> CaseViews:
    """The projection store for these stores (SQLite file or PostgreSQL schema)."""
    env: dict[str, str]
    if config.database_url:
        ensure_schema(config.database_url, schema or config.views_schema)
        env = postgres_env(config.database_url, schema or config.views_schema)
        view_class: type[TrackingRecorder] = PostgresCaseViews
    else:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "ledger._stores:DerivedSQLiteFactory",
            "SQLITE_DBNAME": str(config.data_dir / PROJECTIONS_FILE),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
        view_class = SQLiteCaseViews
    from eventsourcing.utils import Environment

    with startup_lock(config.database_url):
        factory = InfrastructureFactory[Any].construct(Environment(VIEW_NAME, env))
        views = factory.tracking_recorder(view_class)
    assert isinstance(views, SQLiteCaseViews | PostgresCaseViews)
    if not config.database_url:
        views.writer = sqlite_writer_lock(config.data_dir / PROJECTIONS_FILE)
    return views
