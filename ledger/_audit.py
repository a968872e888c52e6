"""The access log: who saw (or was refused) what, when, why; append-only and tamper-evident.

One entry per (read, subject): actor, partner, role, on-behalf-of, purpose (the processing
activity), case, fact ids, the subject as a keyed pseudonym (HMAC), decision, reason,
emergency flag, outcome. Entries form a SHA-256 hash chain; every ``checkpoint_every``
entries (and on demand) a checkpoint signs (seq, hash) with Ed25519. ``verify`` recomputes the
chain and checks every checkpoint; an exported checkpoint kept by a partner ("witness")
detects a rolled-back or forked log. Appends are serialised; a failed append raises
``AccessLogUnavailableError`` so callers fail closed (no data without a record).

Canonical entry encoding (hashed): the fields below joined by U+001F, UTF-8; no field may
contain U+001F. ``hash_n = HMAC-SHA256(chain_key, hash_{n-1} || canonical_n)``,
``hash_0 = 32 zero bytes``. The chain is keyed (the key lives with the audit keys, outside the
database), so someone who can write the database cannot re-hash a rewritten or appended tail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger._errors import LedgerError
from ledger._sql import Database, Transaction

GENESIS = bytes(32)
_SEP = "\x1f"
FIELDS = (
    "seq",
    "entry_id",
    "trace_id",
    "time",
    "actor",
    "org",
    "role",
    "on_behalf_of",
    "purpose",
    "case_id",
    "fact_ids",
    "subject",
    "decision",
    "reason",
    "emergency",
    "outcome",
    "note",
)


class AccessLogError(LedgerError):
    """Root of access-log errors."""


class AccessLogUnavailableError(AccessLogError):
    """The access log could not be written: nothing may be revealed (fail closed)."""


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access-log entry before it is appended (the log assigns seq and hashes)."""

    actor: str
    org: str
    role: str
    purpose: str
    case_id: str
    decision: str
    reason: str
    fact_ids: tuple[str, ...] = ()
    subject: str = ""
    on_behalf_of: str = ""
    emergency: bool = False
    outcome: str = "ok"
    trace_id: str = ""
    note: str = ""  # e.g. the stated reason for emergency access (sanitised, <= 200 chars)
    covenant: str = ""  # the covenant in force: ``<version>:<content hash>``


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as stored, with its position and chain hash."""

    seq: int
    entry_id: str
    trace_id: str
    time: str
    actor: str
    org: str
    role: str
    on_behalf_of: str
    purpose: str
    case_id: str
    fact_ids: tuple[str, ...]
    subject: str
    decision: str
    reason: str
    emergency: bool
    outcome: str
    hash: str
    note: str = ""
    covenant: str = ""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the log had ``seq`` entries ending in ``hash`` at ``time``."""

    log_id: str
    seq: int
    hash: str
    time: str
    signature: str
    public_key: str

    def to_json(self) -> str:
        return json.dumps(
            {
                k: getattr(self, k)
                for k in ("log_id", "seq", "hash", "time", "signature", "public_key")
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        try:
            raw = json.loads(text)
            return cls(
                str(raw["log_id"]),
                int(raw["seq"]),
                str(raw["hash"]),
                str(raw["time"]),
                str(raw["signature"]),
                str(raw["public_key"]),
            )
        except (ValueError, KeyError, TypeError):
            raise AccessLogError("checkpoint is malformed") from None

    def signed_message(self) -> bytes:
        return f"caseledger-checkpoint|{self.log_id}|{self.seq}|{self.hash}|{self.time}".encode()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of a verification: ok, or the first bad entry / checkpoint and why."""

    ok: bool
    entries: int
    checkpoints: int
    first_bad_seq: int | None = None
    problem: str | None = None


@dataclass
class AuditKeys:
    """The log's secrets: pseudonym HMAC key, Ed25519 signing key and the log id."""

    log_id: str
    pseudonym_key: bytes
    signing_key: Ed25519PrivateKey
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load_or_create(cls, path: Path) -> AuditKeys:
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(
                raw["log_id"],
                base64.b64decode(raw["pseudonym_key"]),
                Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw["signing_key"])),
            )
        keys = cls(uuid.uuid4().hex, os.urandom(32), Ed25519PrivateKey.generate())
        from cryptography.hazmat.primitives import serialization

        raw_private = keys.signing_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        document = {
            "log_id": keys.log_id,
            "pseudonym_key": base64.b64encode(keys.pseudonym_key).decode(),
            "signing_key": base64.b64encode(raw_private).decode(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(document).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return keys

    @property
    def chain_key(self) -> bytes:
        """The key of the hash chain (derived from the pseudonym key, domain-separated)."""
        return hmac.digest(self.pseudonym_key, b"caseledger/access-log-chain", "sha256")

    def chain_link(self) -> Callable[[bytes, bytes], bytes]:
        """``link(prev, canonical) = HMAC-SHA256(chain_key, prev || canonical)``, fast."""
        return chain_link(self.chain_key)

    def public_key_b64(self) -> str:
        from cryptography.hazmat.primitives import serialization

        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()


def chain_link(key: bytes) -> Callable[[bytes, bytes], bytes]:
    """HMAC-SHA256 under ``key`` with the padded key blocks hashed once (RFC 2104).

    Equal to ``hmac.digest(key, prev + message, "sha256")`` (a test pins this) but about four
    times faster per entry, which is what bounds ``verify`` on a long log.
    """
    block = (
        key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    )
    inner_start = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer_start = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def link(prev: bytes, message: bytes) -> bytes:
        inner = inner_start.copy()
        inner.update(prev)
        inner.update(message)
        outer = outer_start.copy()
        outer.update(inner.digest())
        return outer.digest()

    return link


def canonical(seq: int, entry_id: str, time: str, e: AccessEntry | StoredEntry) -> bytes:
    values = (
        str(seq),
        entry_id,
        e.trace_id,
        time,
        e.actor,
        e.org,
        e.role,
        e.on_behalf_of,
        e.purpose,
        e.case_id,
        ",".join(e.fact_ids),
        e.subject,
        e.decision,
        e.reason,
        "1" if e.emergency else "0",
        e.outcome,
        e.note,
    )
    for value in (*values, e.covenant):
        if _SEP in value:
            raise AccessLogError("access-log fields may not contain U+001F")
    text = _SEP.join(values)
    # Appended only when set, so entries written before covenants were recorded verify as
    # they were chained.
    return (text + _SEP + e.covenant if e.covenant else text).encode()


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
                    entry = _sanitised(entry)
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
        return Checkpoint(
            self.keys.log_id,
            seq,
            head.hex(),
            time,
            base64.b64encode(signature).decode(),
            self.keys.public_key_b64(),
        )

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
        with self.database.transaction(write=False) as tx:
            checkpoints = {
                int(r[0]): (bytes(r[1]), str(r[2]), bytes(r[3]))
                for r in tx.execute("SELECT seq, hash, time, signature FROM access_log_checkpoints")
            }
        public = self.keys.signing_key.public_key()
        prev, expected_seq, count = GENESIS, 1, 0
        hashes_at: dict[int, bytes] = {}
        link = self.keys.chain_link()
        for rows in self._pages(page):
            for seq, text, stored_hash in rows:  # seq int, text str, hash bytes-like
                if seq != expected_seq:
                    return VerifyReport(
                        False,
                        count,
                        len(checkpoints),
                        expected_seq,
                        "entry missing or out of order",
                    )
                prev = link(prev, text.encode())
                if prev != stored_hash:
                    return VerifyReport(
                        False, count, len(checkpoints), seq, "entry changed (hash mismatch)"
                    )
                if seq in checkpoints:
                    hashes_at[seq] = prev
                expected_seq += 1
                count += 1
        for seq, (head, time, signature) in sorted(checkpoints.items()):
            problem = _check_checkpoint(
                self._checkpoint(seq, head, time, signature), public, hashes_at.get(seq)
            )
            if problem:
                return VerifyReport(False, count, len(checkpoints), seq, problem)
        if witness is not None:
            problem = _check_witness(witness, self.keys, public, count, self._hash_at(witness.seq))
            if problem:
                return VerifyReport(False, count, len(checkpoints), witness.seq, problem)
        return VerifyReport(True, count, len(checkpoints))

    def _pages(self, page: int) -> Iterator[list[tuple[int, str, bytes]]]:
        """(seq, canonical text, stored hash) in log order; the database builds the text.

        Pages are seq ranges from the lowest stored seq (an entry inserted below 1 is reported,
        not skipped) to the highest.
        """
        # One format() call builds the canonical text in the database (both SQLite and
        # PostgreSQL have it); it costs about half of concatenating the columns with ||.
        template = _SEP.join(["%s"] * len(FIELDS))
        sql = (
            f"SELECT seq, format(?, {', '.join(FIELDS)})"
            " || CASE WHEN covenant = '' THEN '' ELSE CAST(? AS TEXT) || covenant END,"
            " hash FROM access_log WHERE seq > ? AND seq <= ? ORDER BY seq"
        )
        with self.database.transaction(write=False) as tx:
            low, high = tx.execute(
                "SELECT COALESCE(MIN(seq), 1), COALESCE(MAX(seq), 0) FROM access_log"
            )[0]

        def fetch(after: int) -> list[tuple[int, str, bytes]]:
            with self.database.transaction(write=False) as tx:
                rows: list[tuple[int, str, bytes]] = tx.execute(
                    sql, (template, _SEP, after, after + page)
                )
            return rows

        for after in range(min(int(low) - 1, 0), int(high), page):
            yield fetch(after)

    def _hash_at(self, seq: int) -> bytes | None:
        with self.database.transaction(write=False) as tx:
            rows = tx.execute("SELECT hash FROM access_log WHERE seq = ?", (seq,))
        return bytes(rows[0][0]) if rows else None


def _sanitised(entry: AccessEntry) -> AccessEntry:
    """Free text (the note) loses control characters and is capped; codes stay as they are."""
    if not entry.note:
        return entry
    clean = "".join(ch if ch.isprintable() else " " for ch in entry.note)[:200]
    if clean == entry.note:
        return entry
    return replace(entry, note=clean)


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


def _check_checkpoint(
    cp: Checkpoint, public: Ed25519PublicKey, chain_hash: bytes | None
) -> str | None:
    try:
        public.verify(base64.b64decode(cp.signature), cp.signed_message())
    except (InvalidSignature, ValueError):
        return "checkpoint signature invalid"
    if chain_hash is None and cp.seq != 0:
        return "checkpoint refers to a missing entry"
    if cp.seq != 0 and chain_hash is not None and chain_hash.hex() != cp.hash:
        return "checkpoint does not match the chain"
    return None


def _check_witness(
    witness: Checkpoint,
    keys: AuditKeys,
    public: Ed25519PublicKey,
    count: int,
    hash_at_seq: bytes | None,
) -> str | None:
    if witness.log_id != keys.log_id or witness.public_key != keys.public_key_b64():
        return "witness belongs to another log"
    try:
        public.verify(base64.b64decode(witness.signature), witness.signed_message())
    except (InvalidSignature, ValueError):
        return "witness signature invalid"
    if witness.seq > count:
        return "log is shorter than the witness (rolled back)"
    if witness.seq > 0 and (hash_at_seq is None or hash_at_seq.hex() != witness.hash):
        return "log differs from the witness (forked)"
    return None


def sign_document(keys: AuditKeys, document: dict[str, Any]) -> dict[str, Any]:
    """Wrap a JSON document with an Ed25519 signature over its canonical form."""
    signature = keys.signing_key.sign(_canonical_json(document))
    return {
        "document": document,
        "algorithm": "Ed25519",
        "signature": base64.b64encode(signature).decode(),
        "public_key": keys.public_key_b64(),
        "log_id": keys.log_id,
    }


def verify_document(signed: dict[str, Any], public_key_b64: str) -> bool:
    """True when ``signed`` carries a valid signature by the given public key."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(signed["signature"]), _canonical_json(signed["document"]))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


def _canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
