"""The access log is tamper-evident: verify finds changed, removed, reordered and inserted
entries, rejects corrupted checkpoints, and a partner's witness exposes rollbacks and forks."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.bootstrap import AUDIT_FILE, AUDIT_KEYS_FILE
from ledger import StoreConfig
from ledger._audit import AccessLog
from ledger._audit_entries import (
    FIELDS,
    GENESIS,
    AccessLogError,
    Checkpoint,
    VerifyReport,
    canonical,
)
from ledger._audit_signing import AuditKeys
from ledger._sql import SQLiteDatabase
from tests.integration.read_helpers import (
    STORE_PARAMS,
    RawSQL,
    TickingClock,
    invented_entries,
    open_audit_log,
    temporary_stores,
)

N = 1000
EVERY = 100
POSITIONS = [
    1,
    2,
    37,
    99,
    100,
    101,
    150,
    199,
    200,
    333,
    400,
    499,
    500,
    501,
    666,
    777,
    850,
    901,
    999,
    1000,
]
CHECKPOINTS = list(range(EVERY, N + 1, EVERY))
TEXT_COLUMNS = (
    "actor",
    "org",
    "role",
    "purpose",
    "case_id",
    "fact_ids",
    "subject",
    "decision",
    "reason",
    "time",
    "entry_id",
    "trace_id",
    "on_behalf_of",
    "outcome",
    "covenant",
)
CONTENT = (*TEXT_COLUMNS, "emergency")
COLUMNS = (*CONTENT, "hash")


@dataclasses.dataclass
class Log:
    """A 1,000-entry log (checkpoint every 100) plus a pristine copy to restore from."""

    config: StoreConfig
    log: AccessLog
    raw: RawSQL

    def restore(self) -> None:
        self.raw.script(
            "DELETE FROM access_log",
            "INSERT INTO access_log SELECT * FROM pristine_log",
            "DELETE FROM access_log_checkpoints",
            "INSERT INTO access_log_checkpoints SELECT * FROM pristine_checkpoints",
        )

    def stored_checkpoint(self, seq: int) -> Checkpoint:
        """A stored checkpoint exported as a witness (what ``audit checkpoint --export``
        hands a partner)."""
        ((hash_, time, signature),) = self.raw.execute(
            "SELECT hash, time, signature FROM access_log_checkpoints WHERE seq = ?", (seq,)
        )
        return Checkpoint(
            self.log.keys.log_id,
            seq,
            bytes(hash_).hex(),
            str(time),
            base64.b64encode(bytes(signature)).decode(),
            self.log.keys.public_key_b64(),
        )


@pytest.fixture(scope="module", params=STORE_PARAMS)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Log]:
    with temporary_stores(request.param, tmp_path_factory.mktemp("audit")) as config:
        log = open_audit_log(config, EVERY)
        clock = TickingClock()
        for start in range(0, N, 5):
            log.append(invented_entries(log, 5, start=start), now=clock())
        raw = RawSQL(config)
        raw.script(
            "CREATE TABLE pristine_log AS SELECT * FROM access_log",
            "CREATE TABLE pristine_checkpoints AS SELECT * FROM access_log_checkpoints",
        )
        try:
            yield Log(config, log, raw)
        finally:
            raw.close()
            log.close()


@pytest.fixture
def audit(built: Log) -> Iterator[Log]:
    assert built.log.verify() == VerifyReport(True, N, len(CHECKPOINTS))
    yield built
    built.restore()


# -- what a database administrator could do ------------------------------------------------


def flip(value: Any) -> Any:
    if isinstance(value, int):
        return 1 - value
    data = bytearray(bytes(value) if not isinstance(value, str) else value.encode())
    data[len(data) // 2] ^= 0x01  # ASCII stays ASCII
    return bytes(data) if not isinstance(value, str) else data.decode()


def flip_byte(raw: RawSQL, seq: int, column: str) -> None:
    ((value,),) = raw.execute(f"SELECT {column} FROM access_log WHERE seq = ?", (seq,))  # noqa: S608
    raw.execute(f"UPDATE access_log SET {column} = ? WHERE seq = ?", (flip(value), seq))  # noqa: S608


def delete(raw: RawSQL, seq: int, *, renumber: bool = False) -> None:
    statements: list[Any] = [("DELETE FROM access_log WHERE seq = ?", (seq,))]
    if renumber:
        statements += [
            ("UPDATE access_log SET seq = -(seq - 1) WHERE seq > ?", (seq,)),
            "UPDATE access_log SET seq = -seq WHERE seq < 0",
        ]
    raw.script(*statements)


def swap(raw: RawSQL, seq: int) -> int:
    """Swap an entry with its successor (or predecessor at the end); returns the earlier."""
    other = seq + 1 if seq < N else seq - 1
    raw.script(
        ("UPDATE access_log SET seq = -1 WHERE seq = ?", (seq,)),
        ("UPDATE access_log SET seq = ? WHERE seq = ?", (seq, other)),
        ("UPDATE access_log SET seq = ? WHERE seq = -1", (other,)),
    )
    return min(seq, other)


def insert(raw: RawSQL, seq: int) -> None:
    """Insert a forged entry at ``seq``, moving the later entries up by one."""
    columns = (*FIELDS, "covenant")
    ((*row,),) = raw.execute(
        f"SELECT {', '.join(columns)} FROM access_log WHERE seq = ?",  # noqa: S608
        (seq,),
    )
    forged = [seq, "f" * 32, *row[2:]]
    forged[4] = "user-forged"  # actor
    marks = ", ".join("?" * (len(forged) + 1))
    insert_sql = f"INSERT INTO access_log ({', '.join(columns)}, hash) VALUES ({marks})"  # noqa: S608
    raw.script(
        ("UPDATE access_log SET seq = -seq - 1 WHERE seq >= ?", (seq,)),
        "UPDATE access_log SET seq = -seq WHERE seq < 0",
        (insert_sql, (*forged, hashlib.sha256(b"x").digest())),
    )


def recompute_chain(audit: Log, from_seq: int, *, with_key: bool = False) -> None:
    """Re-hash every entry from ``from_seq`` on: as an outsider (plain SHA-256, no chain key)
    or as an insider who stole the chain key (``with_key``)."""
    log = audit.log
    prev = (
        GENESIS
        if from_seq == 1
        else bytes.fromhex(log.entries(after=from_seq - 2, limit=1)[0].hash)
    )
    updates = []
    for e in log.entries(after=from_seq - 1, limit=10 * N):
        body = prev + canonical(e.seq, e.entry_id, e.time, e)
        if with_key:
            prev = hmac.digest(log.keys.chain_key, body, "sha256")
        else:
            prev = hashlib.sha256(body).digest()
        updates.append((prev, e.seq))
    audit.raw.executemany("UPDATE access_log SET hash = ? WHERE seq = ?", updates)


def next_checkpoint(seq: int) -> int:
    return -(-seq // EVERY) * EVERY


Tamper = Callable[[RawSQL, int, int], int]
"""(raw, position, index) -> the first seq whose entry differs from the original log."""


TAMPERS: dict[str, Tamper] = {
    "flip_byte": lambda raw, pos, i: (flip_byte(raw, pos, COLUMNS[i % len(COLUMNS)]), pos)[1],
    # Content only: re-hashing would simply repair a flipped stored hash.
    "flip_content_byte": lambda raw, pos, i: (flip_byte(raw, pos, CONTENT[i % len(CONTENT)]), pos)[
        1
    ],
    "delete": lambda raw, pos, i: (delete(raw, pos), pos)[1],
    "reorder": lambda raw, pos, i: swap(raw, pos),
    "insert": lambda raw, pos, i: (insert(raw, pos), pos)[1],
}


def detections(
    audit: Log, tamper: Tamper, *, recompute: bool, positions: list[int] = POSITIONS
) -> list[tuple[int, VerifyReport]]:
    results = []
    for i, pos in enumerate(positions):
        first = tamper(audit.raw, pos, i)
        if recompute and audit.raw.execute("SELECT 1 FROM access_log WHERE seq = ?", (first,)):
            recompute_chain(audit, first)
        results.append((first, audit.log.verify()))
        audit.restore()
    return results


class TestEntryTampering:
    """Changing one byte, deleting, reordering or inserting an entry at any of 20 positions
    makes verify fail at that entry."""

    @pytest.mark.parametrize("kind", ["flip_byte", "delete", "reorder", "insert"])
    def test_detected_at_the_entry(self, audit: Log, kind: str) -> None:
        results = detections(audit, TAMPERS[kind], recompute=False)

        assert [(pos, r.ok) for pos, r in results] == [(pos, False) for pos, _ in results]
        assert [r.first_bad_seq for _, r in results] == [pos for pos, _ in results]

    @pytest.mark.parametrize("kind", ["flip_content_byte", "reorder", "insert"])
    def test_recomputed_chain_is_caught_at_the_entry(self, audit: Log, kind: str) -> None:
        """Without the chain key, a re-hashed chain fails at the first changed entry."""
        results = detections(audit, TAMPERS[kind], recompute=True, positions=POSITIONS[::2])

        assert [r.ok for _, r in results] == [False] * len(POSITIONS[::2])
        assert [r.first_bad_seq for _, r in results] == [p for p, _ in results]
        assert {r.problem for _, r in results} <= {
            "entry changed (hash mismatch)",
            "checkpoint refers to a missing entry",
        }

    def test_renumbered_deletion_is_caught_at_the_entry(self, audit: Log) -> None:
        positions = POSITIONS[1::2]
        results = []
        for pos in positions:
            delete(audit.raw, pos, renumber=True)
            if pos < N:
                recompute_chain(audit, pos)
            results.append(audit.log.verify())
            audit.restore()

        assert [r.ok for r in results] == [False] * len(positions)
        assert [r.first_bad_seq for r in results] == [
            p if p < N else next_checkpoint(p) for p in positions
        ]

    def test_entry_planted_before_the_first_is_caught(self, audit: Log) -> None:
        """Pages start at the lowest stored seq, so a row numbered 0 is not skipped."""
        ((*row, stored_hash),) = audit.raw.execute("SELECT * FROM access_log WHERE seq = 1")
        marks = ", ".join("?" * (len(row) + 1))
        audit.raw.script((f"INSERT INTO access_log VALUES ({marks})", (0, *row[1:], stored_hash)))  # noqa: S608

        report = audit.log.verify()
        audit.restore()

        assert (report.ok, report.first_bad_seq) == (False, 1)
        assert report.problem == "entry missing or out of order"

    @pytest.mark.parametrize("page", [1, 7, 999, 1000, 1001])
    def test_small_pages_verify_the_same_log(self, audit: Log, page: int) -> None:
        assert audit.log.verify(page=page) == audit.log.verify()
        assert audit.log.verify(page=page).entries == N

    def test_restored_log_verifies(self, audit: Log) -> None:
        """The detections above are not artefacts: the restored log is intact."""
        flip_byte(audit.raw, 500, "actor")
        assert not audit.log.verify().ok
        audit.restore()
        assert audit.log.verify().ok


class TestSQLiteFileBytes:
    """Flipping one byte of an entry in the SQLite file itself (a hex editor, a restored
    backup) is found at that entry."""

    def test_flipped_file_byte(self, tmp_path: Path) -> None:
        config = StoreConfig(data_dir=tmp_path / "data")
        log = open_audit_log(config, EVERY)
        clock = TickingClock()
        for start in range(0, N, 20):
            log.append(invented_entries(log, 20, start=start), now=clock())
        entries = {e.seq: e for e in log.entries(limit=N)}
        log.database.checkpoint()  # everything into the main file
        log.close()
        pristine = (config.data_dir / AUDIT_FILE).read_bytes()
        keys = AuditKeys.load_or_create(config.data_dir / AUDIT_KEYS_FILE)

        results = []
        for i, pos in enumerate(POSITIONS):
            needle = bytes.fromhex(entries[pos].hash)
            if i % 2 or pristine.count(needle) > 1:  # checkpoints hold their hash too
                needle = entries[pos].entry_id.encode()
            assert pristine.count(needle) == 1
            data = bytearray(pristine)
            data[pristine.index(needle) + len(needle) // 2] ^= 0x01
            copy = tmp_path / f"copy-{pos}.sqlite3"
            copy.write_bytes(bytes(data))
            tampered = AccessLog(SQLiteDatabase(copy), keys, checkpoint_every=EVERY)
            results.append(tampered.verify())
            tampered.close()

        assert [(r.ok, r.first_bad_seq) for r in results] == [(False, p) for p in POSITIONS]
        shutil.copy(config.data_dir / AUDIT_FILE, tmp_path / "intact.sqlite3")
        intact = AccessLog(
            SQLiteDatabase(tmp_path / "intact.sqlite3"), keys, checkpoint_every=EVERY
        )
        assert intact.verify().ok
        intact.close()


def corrupt_checkpoint(raw: RawSQL, seq: int, how: str) -> int:
    """Corrupt the stored checkpoint at ``seq``; returns the seq it is stored under now."""
    if how == "seq":
        raw.execute("UPDATE access_log_checkpoints SET seq = seq + 1 WHERE seq = ?", (seq,))
        return seq + 1
    if how == "foreign_key":
        ((time,),) = raw.execute("SELECT time FROM access_log_checkpoints WHERE seq = ?", (seq,))
        forged = Ed25519PrivateKey.generate().sign(
            b"caseledger-checkpoint|forged|" + str(time).encode()
        )
        raw.execute("UPDATE access_log_checkpoints SET signature = ? WHERE seq = ?", (forged, seq))
        return seq
    column = {"signature": "signature", "hash": "hash", "time": "time"}[how]
    ((value,),) = raw.execute(f"SELECT {column} FROM access_log_checkpoints WHERE seq = ?", (seq,))  # noqa: S608
    raw.execute(f"UPDATE access_log_checkpoints SET {column} = ? WHERE seq = ?", (flip(value), seq))  # noqa: S608
    return seq


CORRUPTIONS = ["signature", "hash", "seq", "time", "foreign_key"]


class TestCheckpointCorruption:
    """Twenty corrupted stored checkpoints and twenty corrupted witnesses are rejected."""

    def test_corrupted_stored_checkpoints(self, audit: Log) -> None:
        results = []
        for i in range(20):
            seq, how = CHECKPOINTS[i % len(CHECKPOINTS)], CORRUPTIONS[i % len(CORRUPTIONS)]
            stored_at = corrupt_checkpoint(audit.raw, seq, how)
            report = audit.log.verify()
            results.append((how, report.ok, report.first_bad_seq == stored_at, report.problem))
            audit.restore()

        assert [r[1:3] for r in results] == [(False, True)] * 20
        assert all("checkpoint" in str(r[3]) for r in results)

    def test_corrupted_witnesses(self, audit: Log, tmp_path: Path) -> None:
        other = AuditKeys.load_or_create(tmp_path / "other-keys.json")
        foreign = dataclasses.replace(
            audit.stored_checkpoint(500), public_key=other.public_key_b64()
        )
        witnesses = []
        for i, seq in enumerate(CHECKPOINTS * 2):
            good = audit.stored_checkpoint(seq)
            assert audit.log.verify(good).ok
            witnesses.append(
                [
                    dataclasses.replace(good, seq=seq - 1),
                    dataclasses.replace(good, hash=flip(good.hash)),
                    dataclasses.replace(good, signature=flip(good.signature)),
                    dataclasses.replace(good, time=flip(good.time)),
                    dataclasses.replace(good, log_id=other.log_id),
                    foreign,
                    dataclasses.replace(good, seq=N + 5),
                ][i % 7]
            )

        reports = [audit.log.verify(w) for w in witnesses]

        assert len(witnesses) == 20
        assert [r.ok for r in reports] == [False] * 20

    def test_malformed_witness_is_refused(self) -> None:
        with pytest.raises(AccessLogError):
            Checkpoint.from_json('{"log_id": "x", "seq": "not a number"}')


class TestWitness:
    """A checkpoint exported earlier and kept by a partner exposes a log that was rolled
    back or forked, even when the attacker also rewrote the stored checkpoints."""

    def export(self, audit: Log, tmp_path: Path) -> Checkpoint:
        path = tmp_path / "witness.json"
        path.write_text(audit.log.checkpoint(now=TickingClock()()).to_json())
        return Checkpoint.from_json(path.read_text())

    def test_witness_accepts_a_log_that_grew(self, audit: Log, tmp_path: Path) -> None:
        witness = self.export(audit, tmp_path)
        audit.log.append(invented_entries(audit.log, 7, start=N), now=TickingClock()())

        assert witness.seq == N
        assert audit.log.verify(witness).ok

    def test_rolled_back_log(self, audit: Log, tmp_path: Path) -> None:
        witness = self.export(audit, tmp_path)
        audit.raw.script(
            ("DELETE FROM access_log WHERE seq > ?", (950,)),
            ("DELETE FROM access_log_checkpoints WHERE seq > ?", (950,)),
        )

        assert audit.log.verify().ok  # self-consistent: only the witness can tell
        report = audit.log.verify(witness)
        assert (report.ok, report.first_bad_seq) == (False, N)
        assert report.problem == "log is shorter than the witness (rolled back)"

    def test_forked_log(self, audit: Log, tmp_path: Path) -> None:
        """Even an insider holding the chain key (but not a partner's witness) is caught."""
        witness = self.export(audit, tmp_path)
        flip_byte(audit.raw, 600, "actor")
        recompute_chain(audit, 600, with_key=True)
        audit.raw.execute("DELETE FROM access_log_checkpoints WHERE seq >= ?", (600,))

        report = audit.log.verify(witness)
        assert (report.ok, report.first_bad_seq) == (False, N)
        assert report.problem == "log differs from the witness (forked)"

    def test_witness_of_another_log(self, audit: Log, tmp_path: Path) -> None:
        other = AuditKeys.load_or_create(tmp_path / "other-keys.json")
        witness = dataclasses.replace(self.export(audit, tmp_path), log_id=other.log_id)

        report = audit.log.verify(witness)
        assert report.problem == "witness belongs to another log"


class TestRehashedChain:
    """A chain re-hashed without the chain key fails even with the later checkpoints gone."""

    def test_rehashed_chain_with_deleted_checkpoints(self, audit: Log) -> None:
        flip_byte(audit.raw, 600, "actor")
        recompute_chain(audit, 600)
        audit.raw.execute("DELETE FROM access_log_checkpoints WHERE seq >= ?", (600,))

        report = audit.log.verify()
        assert (report.ok, report.first_bad_seq) == (False, 600)
