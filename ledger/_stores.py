"""Where the ledger keeps things: the environment mapping for eventsourcing and the key store.

Embedded default: SQLite files in a data directory (events, key store) plus the keyring file;
``pkcs11`` set, the key-encryption keys live in an HSM instead (``ledger._pkcs11``).
PostgreSQL when a database URL is given (the library's postgres module for events, its own
schema for the key store). The core never reads ``os.environ``: settings build a
``StoreConfig`` and this module turns it into the explicit mapping the library takes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteFactory,
)
from psycopg.sql import SQL, Composed, Identifier

from ledger._erasure_journal import ERASURE_JOURNAL, JOURNAL_FILE
from ledger._errors import KeysChangedError
from ledger._faults import armed_fault
from ledger._keyring import KEK_PROVIDER_TOPIC, KEYRING_PATH
from ledger._keystore import KEYSTORE_LOCK_ID
from ledger._pkcs11 import Pkcs11Config
from ledger._uuids import uuid_of

EVENTS_FILE = "events.sqlite3"
KEYSTORE_FILE = "keys.sqlite3"
KEYRING_FILE = "keyring.json"
KEY_GENERATION_SCHEMA = "CASELEDGER_KEY_GENERATION_SCHEMA"
#: How long an unwrapped key stays cached by default (seconds): an HSM taken away (or a
#: partner's keys destroyed by another process) stops serving from memory within this time.
KEY_CACHE_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Locations of the stores. ``database_url`` switches events to PostgreSQL; ``pkcs11``
    keeps the key-encryption keys in that token instead of the keyring file."""

    data_dir: Path
    database_url: str | None = None
    keystore_url: str | None = None
    events_schema: str | None = None
    keystore_schema: str = "caseledger_keys"
    views_schema: str = "caseledger_views"
    audit_schema: str = "caseledger_audit"
    fact_key_batch: int = 64
    pool_size: int = 4
    pkcs11: Pkcs11Config | None = None
    key_cache_seconds: float | None = KEY_CACHE_SECONDS

    @property
    def keyring_path(self) -> Path:
        return self.data_dir / KEYRING_FILE

    @property
    def events_path(self) -> Path:
        return self.data_dir / EVENTS_FILE

    @property
    def keystore_path(self) -> Path:
        return self.data_dir / KEYSTORE_FILE

    @property
    def journal_path(self) -> Path:
        """The erasure journal: outside every store, so no restore rolls it back."""
        return self.data_dir / JOURNAL_FILE

    def application_env(self) -> dict[str, str]:
        """The explicit environment for a ledger application (no os.environ lookups)."""
        env = {
            "MAPPER_TOPIC": "ledger._mapper:SealingMapper",
            "CIPHER_TOPIC": "ledger._mapper:SealingCipher",
            "CASELEDGER_FACT_KEY_BATCH": str(self.fact_key_batch),
            "IS_SNAPSHOTTING_ENABLED": "no",  # a snapshot would outlive shredding
            ERASURE_JOURNAL: str(self.journal_path),
        }
        env.update(self._key_provider_env())
        keystore_url = self.keystore_url or self.database_url
        if keystore_url:
            env["CASELEDGER_KEYSTORE_URL"] = keystore_url
            env["CASELEDGER_KEYSTORE_SCHEMA"] = self.keystore_schema
        else:
            env["CASELEDGER_KEYSTORE_PATH"] = str(self.keystore_path)
        if self.database_url:
            env.update(postgres_env(self.database_url, self.events_schema, self.pool_size))
            if keystore_url == self.database_url:
                # Same database: event inserts check the key store's erasure generation.
                env[KEY_GENERATION_SCHEMA] = self.keystore_schema
        else:
            env.update(
                {
                    "PERSISTENCE_MODULE": "ledger._stores:DurableSQLiteFactory",
                    "SQLITE_DBNAME": str(self.events_path),
                    "SQLITE_LOCK_TIMEOUT": "30",
                }
            )
        return env

    def _key_provider_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.key_cache_seconds is not None:
            env["CASELEDGER_KEY_CACHE_SECONDS"] = str(self.key_cache_seconds)
        if self.pkcs11 is not None:
            env[KEK_PROVIDER_TOPIC] = "ledger._pkcs11:Pkcs11KeyProvider"
            env.update(self.pkcs11.environment())
        else:
            env[KEK_PROVIDER_TOPIC] = "ledger._keyring:LocalKeyring"
            env[KEYRING_PATH] = str(self.keyring_path)
        return env


@contextmanager
def startup_lock(url: str | None) -> Iterator[None]:
    """Serialise table creation across processes starting at once (PostgreSQL only)."""
    if not url:
        yield
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_STARTUP_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_STARTUP_LOCK,))


_STARTUP_LOCK = 0x43415345  # "CASE"


def ensure_schema(url: str, schema: str) -> None:
    """Create a PostgreSQL schema if it does not exist (the library expects it)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_identifier(schema)}")


def _identifier(name: str) -> str:
    if not name.replace("_", "a").isalnum() or not name[0].isalpha():
        raise ValueError("invalid schema name")
    return name


def postgres_env(url: str, schema: str | None, pool_size: int = 4) -> dict[str, str]:
    """Translate a postgresql:// URL into the library's POSTGRES_* settings."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ValueError("database URL must start with postgresql://")
    env = {
        "PERSISTENCE_MODULE": "ledger._stores:ColumnArrayPostgresFactory",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        # Off on purpose: in eventsourcing 9.5.6 the insert function skips the table lock
        # that keeps notification ids in commit order, and a follower reading past a
        # not-yet-committed lower id would skip that event for good.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size * 2),
    }
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    return env


class _PinnedPragmaPool(SQLiteConnectionPool):
    """Every connection the pool makes runs with the class's ``pragmas`` set."""

    pragmas: tuple[str, ...] = ("synchronous=FULL",)

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        for pragma in self.pragmas:
            connection._sqlite_conn.execute(f"PRAGMA {pragma}")
        return connection


class _DurableConnectionPool(_PinnedPragmaPool):
    """Every connection commits with synchronous=FULL: an acknowledged fact survives power loss."""

    pragmas = ("synchronous=FULL",)


class _DerivedConnectionPool(_PinnedPragmaPool):
    """WAL with synchronous=NORMAL: a crash never corrupts, at worst it loses the last commits.

    Deleted rows are overwritten (``secure_delete``): the views hold fact metadata, and the
    rows of an erased fact must not linger in free pages. Some SQLite builds (Debian's)
    default to this; it is set here so that it holds on every build.
    """

    pragmas = ("synchronous=NORMAL", "secure_delete=ON")


class _InterningRecorder(SQLiteApplicationRecorder):
    """The library's recorder, handing out one shared UUID object per aggregate id."""

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        plan = armed_fault()
        fail_after = None if plan is None else plan.fail_after(stored_events)
        if fail_after is None:
            return super()._insert_events(c, stored_events, **kwargs)
        super()._insert_events(c, stored_events[:fail_after], **kwargs)
        raise sqlite3.DataError("injected fault")  # tests only (ledger._faults)

    def convert_originator_id(self, originator_id: str) -> UUID | str:
        if self.datastore.originator_id_type == "uuid":
            return uuid_of(originator_id)
        return originator_id


class _PinnedSyncFactory(SQLiteFactory):
    """The library's SQLite persistence with its pool narrowed to ``pool_class``."""

    pool_class: type[_PinnedPragmaPool] = _DurableConnectionPool
    application_recorder_class = _InterningRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # The library builds its pool internally; narrow its class to the pinned variant.
        self.datastore.pool.__class__ = self.pool_class


class DurableSQLiteFactory(_PinnedSyncFactory):
    """The library's SQLite persistence with durability pinned (WAL + synchronous=FULL)."""

    pool_class = _DurableConnectionPool


class DerivedSQLiteFactory(_PinnedSyncFactory):
    """For stores rebuilt from the event log (projections): a commit need not wait for fsync.

    Each batch of view updates commits together with its tracking position, so whatever a
    power loss takes back is taken back consistently, and the next catch-up re-applies it.
    """

    pool_class = _DerivedConnectionPool


_RETURNING = SQL(" RETURNING notification_id")


class _ColumnArrayRecorder(PostgresApplicationRecorder):
    """The library's recorder, sending a commit's events as four binary column arrays.

    The library passes them as one array of a composite type in text form, parsed field by
    field: 100 rows of 860 bytes took 3.8 ms as JSON and 5 ms as ciphertext on the development
    machine. As column arrays in binary form the same ``INSERT ... SELECT FROM unnest(...)
    RETURNING notification_id`` took 0.9 ms for either. Everything else is
    the library's: the table lock that keeps notification ids in commit order, the NOTIFY,
    the pipeline, reading the returned ids in insert order.

    Once told the key store's schema in the same database (``check_key_generation_in``), an insert
    given ``key_generation`` stores its events only if the key store's erasure generation is
    still that value, and raises ``KeysChangedError`` otherwise (nothing stored). It holds
    the key store's advisory lock shared for the rest of its transaction, and every key-store
    write but a fact-key block insert (every erasure among them) holds it exclusively, so an
    erasure commits either wholly before such an insert reads the generation or after the
    insert has committed. The check rides in the insert's pipeline: no extra round trip.
    """

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._insert = SQL(
            "INSERT INTO {schema}.{table} AS t"
            " (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )
        self._column_insert = self._insert + _RETURNING
        self._guarded_insert: Composed | None = None

    def check_key_generation_in(self, key_generation_schema: str) -> None:
        """Let inserts given ``key_generation`` check it against this key-store schema."""
        guard = SQL(
            " WHERE (SELECT value FROM {keys}.generation WHERE id = 1) = %b::bigint"
        ).format(keys=Identifier(key_generation_schema))
        self._guarded_insert = self._insert + guard + _RETURNING

    @property
    def checks_key_generation(self) -> bool:
        """Whether inserts given ``key_generation`` check it in their own transaction."""
        return self._guarded_insert is not None

    def _insert_stored_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        key_generation: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        plan = armed_fault()
        fail_after = None if plan is None else plan.fail_after(stored_events)
        if fail_after is not None:  # tests only (ledger._faults)
            stored_events = stored_events[:fail_after]
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        if key_generation is None or self._guarded_insert is None:
            curs.execute(self._column_insert, columns)
            if fail_after is not None:
                curs.execute("SELECT 1 / 0")
            return
        # A statement of its own: the guarded insert's snapshot must be taken after the lock
        # is granted, so that it sees an erasure that held the lock meanwhile.
        curs.execute("SELECT pg_advisory_xact_lock_shared(%s)", (KEYSTORE_LOCK_ID,))
        curs.execute(self._guarded_insert, (*columns, key_generation))
        if fail_after is not None:
            curs.execute("SELECT 1 / 0")

    def _fetch_ids_after_insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        key_generation: int | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        guarded = key_generation is not None and self._guarded_insert is not None
        if guarded and (ids is None or len(ids) != len(stored_events)):
            raise KeysChangedError("the key store moved on; nothing was stored")
        return ids


class ColumnArrayPostgresFactory(PostgresFactory):
    """The library's PostgreSQL persistence with the column-array insert above.

    ``CASELEDGER_KEY_GENERATION_SCHEMA`` in the environment names the key store's schema
    when it lives in the events database; inserts can then check its erasure generation.
    """

    application_recorder_class = _ColumnArrayRecorder

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        schema = self.env.get(KEY_GENERATION_SCHEMA)
        if schema and isinstance(recorder, _ColumnArrayRecorder):
            recorder.check_key_generation_in(schema)
        return recorder


def sqlite_pragma(path: Path, name: str) -> Any:
    """Read a PRAGMA of a database file (durability checks)."""
    with sqlite3.connect(str(path)) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
