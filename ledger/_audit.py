"""The access log: who saw (or was refused) what, when, why; append-only and tamper-evident.

One entry per (read, subject): actor, partner, role, on-behalf-of, purpose (the processing
activity), case, fact ids, the subject as a keyed pseudonym (HMAC), decision, reason,
emergency flag, outcome. Entries form a SHA-256 hash chain; every ``checkpoint_every``
entries (and on demand) a checkpoint signs (seq, hash) with Ed25519. ``verify`` recomputes the
chain and checks every checkpoint; an exported checkpoint kept by a partner ("witness")
detects a rolled-back or forked log. Appends are serialised; a failed append raises
``AccessLogUnavailableError`` so callers fail closed (no data without a record).

Canonical entry encoding (hashed): the ``FIELDS`` joined by U+001F, UTF-8; no field may
contain U+001F. ``hash_n = HMAC-SHA256(chain_key, hash_{n-1} || canonical_n)``,
``hash_0 = 32 zero bytes``. The chain is keyed (the key lives with the audit keys, outside the
database), so someone who can write the database cannot re-hash a rewritten or appended tail.

Parts: ``ledger._audit_entries`` (the entry records, their canonical form and the chain
link), ``ledger._audit_signing`` (the audit keys and every Ed25519 signature: checkpoints,
witnesses, signed documents), ``ledger._audit_verify`` (verification); this module stores the
log and is where the rest of the code imports all of it from.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ledger._audit_entries import (
    FIELDS,
    GENESIS,
    AccessEntry,
    AccessLogError,
    AccessLogUnavailableError,
    Checkpoint,
    StoredEntry,
    VerifyReport,
    canonical,
    sanitised,
)
from ledger._audit_signing import AuditKeys, checkpoint_of
from ledger._audit_verify import verify_log
from ledger._sql import Database, Transaction

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS access_log (
        seq {bigint} PRIMARY KEY, entry_id TEXT NOT NULL, trace_id TEXT NOT NULL,
        time TEXT NOT NULL, actor TEXT NOT NULL, org TEXT NOT NULL, role TEXT NOT NULL,
        on_behalf_of TEXT NOT NULL, purpose TEXT NOT NULL, case_id TEXT NOT NULL,
        fact_ids TEXT NOT NULL, subject TEXT NOT NULL, decision TEXT NOT NULL,
        reason TEXT NOT NULL, emergency INTEGER NOT NULL, outcome TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '', hash {blob} NOT NULL,
        covenant TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS access_log_subject ON access_log (subject, seq)",
    "CREATE INDEX IF NOT EXISTS access_log_case ON access_log (case_id, seq)",
    "CREATE INDEX IF NOT EXISTS access_log_actor ON access_log (actor, seq)",
    "CREATE INDEX IF NOT EXISTS access_log_org ON access_log (org, seq)",
    """CREATE TABLE IF NOT EXISTS access_log_checkpoints (
        seq {bigint} PRIMARY KEY, hash {blob} NOT NULL, time TEXT NOT NULL,
        signature {blob} NOT NULL)""",
]
_COLUMNS = ", ".join(FIELDS) + ", hash, covenant"
#: Added after the first release: a log created before it gains the column (empty).
_ADD_COVENANT = "ALTER TABLE access_log ADD COLUMN covenant TEXT NOT NULL DEFAULT ''"


class AccessLog:
    """Append-only, hash-chained, checkpointed access log on its own database."""

    def __init__(
        self, database: Database, keys: AuditKeys, *, checkpoint_every: int = 1000
    ) -> None:
        self.database = database
        self.keys = keys
        self.checkpoint_every = checkpoint_every
        self._lock = threading.Lock()
        with database.transaction(write=True) as tx:
            for statement in _SCHEMA:
                tx.execute(statement.format(bigint=database.bigint_type, blob=database.blob_type))
        _add_covenant_column(database)

    def close(self) -> None:
        self.database.close()

    def pseudonym(self, subject_id: str) -> str:
        """The subject's keyed pseudonym (stable, not reversible without the key)."""
        if not subject_id:
            return ""
        return hmac.digest(self.keys.pseudonym_key, subject_id.encode(), "sha256").hex()[:32]

    # -- append ---------------------------------------------------------------------------

    def append(self, entries: Sequence[AccessEntry], *, now: datetime) -> list[int]:
        """Append entries in one transaction; raises AccessLogUnavailableError on failure."""
        if not entries:
            return []
        time = now.astimezone(UTC).isoformat()
        try:
            link = self.keys.chain_link()
            with self._lock, self.database.transaction(write=True) as tx:
                seq, prev = _head(tx)
                rows = []
                for entry in entries:
                    entry = sanitised(entry)
                    seq += 1
                    entry_id = uuid.uuid4().hex
                    prev = link(prev, canonical(seq, entry_id, time, entry))
                    rows.append(
                        (
                            seq,
                            entry_id,
                            entry.trace_id,
                            time,
                            entry.actor,
                            entry.org,
                            entry.role,
                            entry.on_behalf_of,
                            entry.purpose,
                            entry.case_id,
                            ",".join(entry.fact_ids),
                            entry.subject,
                            entry.decision,
                            entry.reason,
                            1 if entry.emergency else 0,
                            entry.outcome,
                            entry.note,
                            prev,
                            entry.covenant,
                        )
                    )
                    if seq % self.checkpoint_every == 0:
                        self._insert_checkpoint(tx, seq, prev, time)
                marks = ", ".join("?" * (len(FIELDS) + 2))
                tx.executemany(f"INSERT INTO access_log ({_COLUMNS}) VALUES ({marks})", rows)
        except AccessLogError:
            raise
        except Exception as error:
            raise AccessLogUnavailableError("access log could not be written") from error
        return [int(r[0]) for r in rows]

    def checkpoint(self, *, now: datetime) -> Checkpoint:
        """Sign the current head now (on demand, e.g. to hand a witness to a partner)."""
        time = now.astimezone(UTC).isoformat()
        with self._lock, self.database.transaction(write=True) as tx:
            seq, head = _head(tx)
            existing = tx.execute(
                "SELECT hash, time, signature FROM access_log_checkpoints WHERE seq = ?", (seq,)
            )
            if existing:
                return self._checkpoint(
                    seq, bytes(existing[0][0]), str(existing[0][1]), bytes(existing[0][2])
                )
            signature = self._insert_checkpoint(tx, seq, head, time)
        return self._checkpoint(seq, head, time, signature)

    def _insert_checkpoint(self, tx: Transaction, seq: int, head: bytes, time: str) -> bytes:
        unsigned = self._checkpoint(seq, head, time, b"")
        signature = self.keys.signing_key.sign(unsigned.signed_message())
        tx.execute(
            "INSERT INTO access_log_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)",
            (seq, head, time, signature),
        )
        return signature

    def _checkpoint(self, seq: int, head: bytes, time: str, signature: bytes) -> Checkpoint:
        return checkpoint_of(self.keys, seq, head, time, signature)

    # -- read -----------------------------------------------------------------------------

    def entries(
        self, *, after: int = 0, limit: int = 10_000, **filters: str | None
    ) -> list[StoredEntry]:
        """Entries in log order after ``after``, filtered by equality on indexed fields."""
        clauses, params = ["seq > ?"], [after]
        for name in (
            "subject",
            "case_id",
            "actor",
            "org",
            "purpose",
            "decision",
            "reason",
            "covenant",
        ):
            value = filters.get(name)
            if value is not None:
                clauses.append(f"{name} = ?")
                params.append(value)  # type: ignore[arg-type]
        for name, op in (("time_from", ">="), ("time_to", "<")):
            value = filters.get(name)
            if value is not None:
                clauses.append(f"time {op} ?")
                params.append(value)  # type: ignore[arg-type]
        if filters.get("emergency") is not None:
            clauses.append("emergency = ?")
            params.append(1 if filters["emergency"] == "1" else 0)
        sql = (
            f"SELECT {_COLUMNS} FROM access_log WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
        )
        with self.database.transaction(write=False) as tx:
            rows = tx.execute(sql, [*params, limit])
        return [_stored(r) for r in rows]

    def database_fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read-only query over the log's tables (aggregations for reports)."""
        with self.database.transaction(write=False) as tx:
            rows: list[tuple[Any, ...]] = tx.execute(sql, params)
        return rows

    def count(self) -> int:
        with self.database.transaction(write=False) as tx:
            return int(tx.execute("SELECT COUNT(*) FROM access_log")[0][0])

    # -- verification ---------------------------------------------------------------------

    def verify(self, witness: Checkpoint | None = None, *, page: int = 20_000) -> VerifyReport:
        """Recompute the chain and check every checkpoint (and the witness, if given)."""
        return verify_log(self.database, self.keys, witness, page=page)


def _head(tx: Transaction) -> tuple[int, bytes]:
    rows = tx.execute("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")
    return (int(rows[0][0]), bytes(rows[0][1])) if rows else (0, GENESIS)


def _stored(r: tuple[Any, ...]) -> StoredEntry:
    return StoredEntry(
        int(r[0]),
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        tuple(x for x in str(r[10]).split(",") if x),
        r[11],
        r[12],
        r[13],
        bool(r[14]),
        r[15],
        bytes(r[17]).hex(),
        r[16],
        r[18],
    )


def _add_covenant_column(database: Database) -> None:
    try:
        with database.transaction(write=False) as tx:
            tx.execute("SELECT covenant FROM access_log LIMIT 1")
    except Exception:  # the column is missing (a log from before it existed)
        with database.transaction(write=True) as tx:
            tx.execute(_ADD_COVENANT)
