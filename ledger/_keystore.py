"""The key store: wrapped scope keys and fact keys, in their own database.

SQLite (its own file, ``secure_delete=ON`` so deleted key rows are overwritten, WAL truncated
after erasures) by default; PostgreSQL (its own schema) for scale. No plaintext key ever
touches it: scope keys are wrapped under the owner's key-encryption key, blocks of fact keys
under the (owner, case) wrapping key. Rows carry only random ids and partner ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger._erasure_journal import ErasureJournal
from ledger._interprocess import SharedCounter, shared_counter
from ledger._sql import Database, PostgresDatabase, SQLiteDatabase, Transaction

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
class FactKeyBlockRow:
    """A block of fact keys as stored: ``slots`` keys of 32 bytes each, concatenated and
    wrapped as one value under the scope key ``wrap_key_id``. A destroyed key's slot holds
    zeros (the block is rewrapped without it)."""

    block_id: str
    owner: str
    case_id: str
    wrap_key_id: str
    slots: int
    wrapped: bytes


KeyStoreTransaction = Transaction


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
    """CREATE TABLE IF NOT EXISTS fact_key_blocks (
        block_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        case_id TEXT NOT NULL,
        wrap_key_id TEXT NOT NULL,
        slots INTEGER NOT NULL,
        wrapped {blob} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS fact_key_blocks_by_wrap ON fact_key_blocks (wrap_key_id)",
    "CREATE INDEX IF NOT EXISTS fact_key_blocks_by_case ON fact_key_blocks (case_id)",
    """CREATE TABLE IF NOT EXISTS erased_scopes (
        owner TEXT NOT NULL,
        case_id TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        PRIMARY KEY (owner, case_id, subject_id))""",
    # Ids of destroyed keys (random ids only): a missing key that is not listed here was
    # never ours, so the data pointing at it was tampered with and must fail loudly.
    "CREATE TABLE IF NOT EXISTS destroyed_keys (key_id TEXT PRIMARY KEY)",
    # Erasures whose keys are destroyed and whose records are not all committed yet
    # (``ledger._erasure_plans``): ids, codes and counts only.
    """CREATE TABLE IF NOT EXISTS erasure_plans (
        plan_key TEXT PRIMARY KEY,
        erasure_id TEXT NOT NULL,
        plan TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value BIGINT NOT NULL)""",
]


# The advisory lock every PostgreSQL key-store write holds, exclusively (erasures among
# them), except fact-key block inserts, which hold it shared; so does an event insert that
# checks the erasure generation (``ledger._stores``).
KEYSTORE_LOCK_ID = 0x4B455953


class KeyStore:
    """The key store on a SQLite file (secure_delete) or a PostgreSQL schema."""

    def __init__(
        self,
        database: Database,
        *,
        create: bool = True,
        generation_mirror: SharedCounter | None = None,
        journal: ErasureJournal | None = None,
    ) -> None:
        self.database = database
        # Every key this store destroys is journaled first (``ledger._erasure_journal``).
        self.journal = journal
        self.blob_type = database.blob_type
        # SQLite: the erasure generation mirrored in shared memory (see ``still_at``).
        self._mirror = generation_mirror
        if create:
            self.create_schema()

    def another_connection(self) -> KeyStore:
        """The same store on a connection of its own, for a background writer of fact-key
        blocks (which never moves the erasure generation)."""
        return KeyStore(self.database.reopen(), create=False, journal=self.journal)

    def transaction(self, *, write: bool, shared: bool = False) -> Any:
        """A transaction; ``shared`` for a writer that only inserts rows nothing else
        depends on (fact-key blocks), which on PostgreSQL may then run beside event
        inserts and other such writers, though never beside an erasure."""
        return self.database.transaction(write=write, shared=shared)

    def close(self) -> None:
        self.database.close()
        if self._mirror is not None:
            self._mirror.close()

    def after_erasure(self) -> None:
        """Make deletions physical where the backend allows (SQLite: truncate the WAL)."""
        self.database.checkpoint()

    def pragma(self, name: str) -> Any:
        """Read a SQLite PRAGMA of the key store (durability tests)."""
        if not isinstance(self.database, SQLiteDatabase):
            raise TypeError("not a SQLite key store")
        return self.database.pragma(name)

    def create_schema(self) -> None:
        with self.transaction(write=True) as tx:
            for statement in _SCHEMA:
                tx.execute(statement.format(blob=self.blob_type))
            if not tx.execute("SELECT value FROM generation WHERE id = 1"):
                tx.execute("INSERT INTO generation (id, value) VALUES (1, 0)")

    # -- reads -----------------------------------------------------------------------------

    def generation(self) -> int:
        """The erasure generation (checked before every read: kept to one statement)."""
        return int(self.database.scalar("SELECT value FROM generation WHERE id = 1"))

    def still_at(self, generation: int) -> bool:
        """Whether the erasure generation is still ``generation`` (a commit's check).

        With a mirror (SQLite), a mirror at ``generation`` answers yes with no statement:
        every move of the generation raises the mirror before it commits, and the mirror is
        never lowered, so the stored value is at most the mirror's, and not below what the
        caller read earlier unless the key store was replaced by an older copy (a restore,
        which is done with the processes stopped). Otherwise the store answers, and a
        mirror found below it (a new side file) is raised to it.
        """
        mirror = self._mirror
        if mirror is not None and mirror.value == generation:
            return True
        current = self.generation()
        if mirror is not None:
            mirror.raise_to(current)
        return current == generation

    def bump_generation(self, tx: KeyStoreTransaction) -> int:
        """Move the erasure generation on, in ``tx``; the new value. The mirror is raised
        before ``tx`` commits (if ``tx`` then fails, the mirror is ahead and commits just
        ask the store until the generation catches up)."""
        tx.execute("UPDATE generation SET value = value + 1 WHERE id = 1")
        return self._moved_to(tx)

    def raise_generation(self, tx: KeyStoreTransaction, at_least: int) -> int:
        """Move the generation past ``at_least`` (a restored store catching up with the
        journal, so that no older copy passes for a current one); the new value."""
        tx.execute(
            "UPDATE generation SET value = CASE WHEN value > ? THEN value + 1 ELSE ? END"
            " WHERE id = 1",
            (at_least, at_least + 1),
        )
        return self._moved_to(tx)

    def _moved_to(self, tx: KeyStoreTransaction) -> int:
        value = int(tx.execute("SELECT value FROM generation WHERE id = 1")[0][0])
        if self.journal is not None:
            self.journal.record_generation(value)
        if self._mirror is not None:
            self._mirror.raise_to(value)
        return value

    # -- destruction (journaled first: see ``ledger._erasure_journal``) --------------------

    def record_destroyed(
        self, tx: KeyStoreTransaction, scope_key_ids: Sequence[str], fact_key_ids: Sequence[str]
    ) -> None:
        """Journal, then list as destroyed (in ``tx``), the keys ``tx`` destroys."""
        ids = {*scope_key_ids, *fact_key_ids}
        if self.journal is not None:
            self.journal.record_keys(scope_key_ids, fact_key_ids)
        tx.executemany("INSERT INTO destroyed_keys (key_id) VALUES (?)", [(k,) for k in ids])

    def tombstone(self, tx: KeyStoreTransaction, owner: str, case_id: str, subject_id: str) -> None:
        """Journal, then record (in ``tx``), that this scope was erased ("*": every one)."""
        if self.journal is not None:
            self.journal.record_tombstone(owner, case_id, subject_id)
        tx.execute(
            "DELETE FROM erased_scopes WHERE owner = ? AND case_id = ? AND subject_id = ?",
            (owner, case_id, subject_id),
        )
        tx.execute(
            "INSERT INTO erased_scopes (owner, case_id, subject_id) VALUES (?, ?, ?)",
            (owner, case_id, subject_id),
        )

    def find_scope_key(
        self, owner: str, case_id: str, subject_id: str, kind: str
    ) -> ScopeKeyRow | None:
        with self.transaction(write=False) as tx:
            return _one_scope(
                tx.execute(
                    f"SELECT {SCOPE_COLUMNS} FROM scope_keys"
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
                    f"SELECT {SCOPE_COLUMNS} FROM scope_keys WHERE key_id IN ({marks})", chunk
                )
                found.update((row[0], scope_row(row)) for row in rows)
        return found

    def get_fact_key_blocks(self, block_ids: Sequence[str]) -> dict[str, FactKeyBlockRow]:
        found: dict[str, FactKeyBlockRow] = {}
        with self.transaction(write=False) as tx:
            for chunk in _chunks(block_ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = tx.execute(
                    f"SELECT {FACT_BLOCK_COLUMNS} FROM fact_key_blocks WHERE block_id IN ({marks})",
                    chunk,
                )
                found.update((str(row[0]), block_row(row)) for row in rows)
        return found

    def destroyed(self, key_ids: Sequence[str]) -> set[str]:
        """Which of these key ids belong to keys that were destroyed by an erasure."""
        found: set[str] = set()
        with self.transaction(write=False) as tx:
            for chunk in _chunks(key_ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = tx.execute(
                    f"SELECT key_id FROM destroyed_keys WHERE key_id IN ({marks})", chunk
                )
                found.update(str(r[0]) for r in rows)
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
        """(scope keys, fact-key slots) currently stored (a destroyed fact key keeps its
        zeroed slot)."""
        with self.transaction(write=False) as tx:
            scopes = tx.execute("SELECT COUNT(*) FROM scope_keys")[0][0]
            slots = tx.execute("SELECT COALESCE(SUM(slots), 0) FROM fact_key_blocks")[0][0]
        return int(scopes), int(slots)


SCOPE_COLUMNS = "key_id, owner, case_id, subject_id, kind, kek_version, wrapped"
FACT_BLOCK_COLUMNS = "block_id, owner, case_id, wrap_key_id, slots, wrapped"


def scope_row(row: Sequence[Any]) -> ScopeKeyRow:
    """A ``SCOPE_COLUMNS`` row as a ScopeKeyRow."""
    return ScopeKeyRow(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        int(row[5]),
        bytes(row[6]),
    )


def block_row(row: Sequence[Any]) -> FactKeyBlockRow:
    """A ``FACT_BLOCK_COLUMNS`` row as a FactKeyBlockRow."""
    return FactKeyBlockRow(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]), bytes(row[5])
    )


def _one_scope(rows: list[tuple[Any, ...]]) -> ScopeKeyRow | None:
    return scope_row(rows[0]) if rows else None


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def SQLiteKeyStore(  # noqa: N802 - a factory named like the store
    path: Path, *, journal: ErasureJournal | None = None
) -> KeyStore:
    """The key store in its own SQLite file (WAL, synchronous=FULL, secure_delete=ON).

    The WAL is folded back every 100 pages (SQLite's default is 1,000), so the checkpoint
    that ends an erasure has little else to write: its time does not grow with the writes
    (and the store size) that came before it.
    """
    return KeyStore(
        SQLiteDatabase(path, secure_delete=True, wal_autocheckpoint=100),
        generation_mirror=shared_counter(path, ".generation"),
        journal=journal,
    )


def PostgresKeyStore(  # noqa: N802
    conninfo: str, schema: str = "caseledger_keys", *, journal: ErasureJournal | None = None
) -> KeyStore:
    """The key store in its own PostgreSQL schema."""
    return KeyStore(PostgresDatabase(conninfo, schema, lock_id=KEYSTORE_LOCK_ID), journal=journal)
