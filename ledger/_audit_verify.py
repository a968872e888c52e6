"""Verifying the access log: the chain recomputed from its first entry, every checkpoint
checked against it, and an exported checkpoint kept by a partner ("witness") compared with it,
which detects a rolled-back or forked log.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger._audit_entries import FIELDS, GENESIS, SEP, Checkpoint, VerifyReport
from ledger._audit_signing import AuditKeys, check_checkpoint, check_witness, checkpoint_of
from ledger._sql import Database


def verify_log(
    database: Database, keys: AuditKeys, witness: Checkpoint | None, *, page: int
) -> VerifyReport:
    """Recompute the chain and check every checkpoint (and the witness, if given), reading
    the entries ``page`` at a time."""
    with database.transaction(write=False) as tx:
        checkpoints = {
            int(r[0]): (bytes(r[1]), str(r[2]), bytes(r[3]))
            for r in tx.execute("SELECT seq, hash, time, signature FROM access_log_checkpoints")
        }
    public = keys.signing_key.public_key()
    prev, expected_seq, count = GENESIS, 1, 0
    hashes_at: dict[int, bytes] = {}
    link = keys.chain_link()
    for rows in _pages(database, page):
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
        problem = check_checkpoint(
            checkpoint_of(keys, seq, head, time, signature), public, hashes_at.get(seq)
        )
        if problem:
            return VerifyReport(False, count, len(checkpoints), seq, problem)
    if witness is not None:
        problem = check_witness(witness, keys, public, count, _hash_at(database, witness.seq))
        if problem:
            return VerifyReport(False, count, len(checkpoints), witness.seq, problem)
    return VerifyReport(True, count, len(checkpoints))


def _pages(database: Database, page: int) -> Iterator[list[tuple[int, str, bytes]]]:
    """(seq, canonical text, stored hash) in log order; the database builds the text.

    Pages are seq ranges from the lowest stored seq (an entry inserted below 1 is reported,
    not skipped) to the highest.
    """
    # One format() call builds the canonical text in the database (both SQLite and
    # PostgreSQL have it); it costs about half of concatenating the columns with ||.
    template = SEP.join(["%s"] * len(FIELDS))
    sql = (
        f"SELECT seq, format(?, {', '.join(FIELDS)})"
        " || CASE WHEN covenant = '' THEN '' ELSE CAST(? AS TEXT) || covenant END,"
        " hash FROM access_log WHERE seq > ? AND seq <= ? ORDER BY seq"
    )
    with database.transaction(write=False) as tx:
        low, high = tx.execute(
            "SELECT COALESCE(MIN(seq), 1), COALESCE(MAX(seq), 0) FROM access_log"
        )[0]

    def fetch(after: int) -> list[tuple[int, str, bytes]]:
        with database.transaction(write=False) as tx:
            rows: list[tuple[int, str, bytes]] = tx.execute(
                sql, (template, SEP, after, after + page)
            )
        return rows

    for after in range(min(int(low) - 1, 0), int(high), page):
        yield fetch(after)


def _hash_at(database: Database, seq: int) -> bytes | None:
    with database.transaction(write=False) as tx:
        rows = tx.execute("SELECT hash FROM access_log WHERE seq = ?", (seq,))
    return bytes(rows[0][0]) if rows else None
