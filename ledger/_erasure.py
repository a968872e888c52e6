"""Erasure by key destruction (crypto-shredding) and the erasure epoch that makes it final.

Deleting a key row is not erasure on its own: database pages, WAL and backups keep copies.
Every erasure therefore ends with an epoch: the affected (owner, case) wrapping keys are
re-keyed (blocks of surviving fact keys rewrapped), the affected owners' key-encryption keys rotated
(surviving scope keys rewrapped) and the old KEK versions destroyed outside the database.
After that, a key-store copy from before the epoch opens nothing with the current keyring,
and an event-store copy from before opens none of the erased facts. Cost: O(keys touched).
Reports carry ids and counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger import _fact_key_blocks as blocks
from ledger._keys import KeyManager
from ledger._keystore import (
    FACT_BLOCK_COLUMNS,
    SCOPE_COLUMNS,
    WRAP,
    FactKeyBlockRow,
    KeyStoreTransaction,
    block_row,
    scope_row,
)
from ledger._scope_keys import scope_context
from ledger._sealing import new_key


@dataclass(slots=True)
class Destroyed:
    """What one erasure destroyed (ids and counts only) and what its epoch must redo."""

    scope_key_ids: list[str] = field(default_factory=list)
    fact_key_ids: list[str] = field(default_factory=list)
    owners: set[str] = field(default_factory=set)
    rekey: set[tuple[str, str]] = field(default_factory=set)
    retired_owner: str | None = None
    erased_case: str | None = None
    kek_versions_destroyed: dict[str, list[int]] = field(default_factory=dict)


#: Called by a destroy step inside its key-store transaction, with what it destroyed: keeps
#: the erasure's plan in the same transaction (``ledger._erasure_plans``).
PlanWriter = Callable[[KeyStoreTransaction, Destroyed], None]


@dataclass(frozen=True, slots=True)
class EpochReport:
    """What the erasure epoch did: wrapping keys re-keyed, KEKs rotated and destroyed."""

    rekeyed_scopes: int
    fact_keys_rewrapped: int
    scope_keys_rewrapped: int
    kek_rotations: dict[str, int]
    kek_versions_destroyed: dict[str, list[int]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids and counts only), kept in the Erased event."""
        return {
            "rekeyed_scopes": self.rekeyed_scopes,
            "fact_keys_rewrapped": self.fact_keys_rewrapped,
            "scope_keys_rewrapped": self.scope_keys_rewrapped,
            "kek_rotations": dict(self.kek_rotations),
            "kek_versions_destroyed": {k: list(v) for k, v in self.kek_versions_destroyed.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochReport:
        """The inverse of :meth:`as_dict`."""
        return cls(
            rekeyed_scopes=int(data["rekeyed_scopes"]),
            fact_keys_rewrapped=int(data["fact_keys_rewrapped"]),
            scope_keys_rewrapped=int(data["scope_keys_rewrapped"]),
            kek_rotations={str(k): int(v) for k, v in data["kek_rotations"].items()},
            kek_versions_destroyed={
                str(k): [int(x) for x in v] for k, v in data["kek_versions_destroyed"].items()
            },
        )


def _wrapping_key(keys: KeyManager, tx: KeyStoreTransaction, wrap_key_id: str) -> bytes | None:
    """The material of wrapping key W, read inside the erasure's own transaction."""
    rows = tx.execute(f"SELECT {SCOPE_COLUMNS} FROM scope_keys WHERE key_id = ?", (wrap_key_id,))
    if not rows:
        return None
    return keys.unwrap_scope(scope_row(rows[0])).material


def _blocks(tx: KeyStoreTransaction, where: str, value: str) -> list[FactKeyBlockRow]:
    return [
        block_row(r)
        for r in tx.execute(
            f"SELECT {FACT_BLOCK_COLUMNS} FROM fact_key_blocks WHERE {where} = ?", (value,)
        )
    ]


def _live_key_ids(
    keys: KeyManager, tx: KeyStoreTransaction, rows: list[FactKeyBlockRow]
) -> list[str]:
    """Ids of the fact keys in these blocks that were not destroyed before."""
    wrappers: dict[str, bytes | None] = {}
    live: list[str] = []
    for row in rows:
        if row.wrap_key_id not in wrappers:
            wrappers[row.wrap_key_id] = _wrapping_key(keys, tx, row.wrap_key_id)
        wrapper = wrappers[row.wrap_key_id]
        if wrapper is None:  # no wrapping key: nothing in the block can be opened any more
            continue
        live.extend(blocks.live_key_ids(row.block_id, blocks.open_block(wrapper, row)))
    return live


def destroy_fact_keys(
    keys: KeyManager, fact_key_ids: list[str], plan: PlanWriter | None = None
) -> Destroyed:
    """Erase one fact (all its revisions): overwrite its fact keys in their blocks."""
    destroyed = Destroyed()
    by_block: dict[str, list[tuple[str, int]]] = {}
    for key_id in fact_key_ids:
        block_id, slot = blocks.split_key_id(key_id)
        by_block.setdefault(block_id, []).append((key_id, slot))
    with keys.store.transaction(write=True) as tx:
        for block_id, wanted in by_block.items():
            rows = _blocks(tx, "block_id", block_id)
            wrapper = _wrapping_key(keys, tx, rows[0].wrap_key_id) if rows else None
            if wrapper is None:
                continue
            row = rows[0]
            opened = blocks.open_block(wrapper, row)
            live = [(k, slot) for k, slot in wanted if blocks.key_in(opened, slot) is not None]
            if not live:
                continue
            cleared = blocks.without(opened, [slot for _, slot in live])
            tx.execute(
                "UPDATE fact_key_blocks SET wrapped = ? WHERE block_id = ?",
                (blocks.wrap_block(wrapper, row, cleared), block_id),
            )
            destroyed.fact_key_ids.extend(k for k, _ in live)
            destroyed.owners.add(row.owner)
            destroyed.rekey.add((row.owner, row.case_id))
        keys.store.record_destroyed(tx, destroyed.scope_key_ids, destroyed.fact_key_ids)
        if plan is not None:
            plan(tx, destroyed)
        generation = keys.store.bump_generation(tx)
    _settle(keys, generation, destroyed)
    return destroyed


def destroy_subject(
    keys: KeyManager, case_id: str, subject_id: str, plan: PlanWriter | None = None
) -> Destroyed:
    """Erase everything about one subject in a case: every owner's keys for that subject."""
    destroyed = Destroyed()
    with keys.store.transaction(write=True) as tx:
        rows = tx.execute(
            "SELECT key_id, owner FROM scope_keys WHERE case_id = ? AND subject_id = ?",
            (case_id, subject_id),
        )
        for key_id, owner in rows:
            destroyed.scope_key_ids.append(str(key_id))
            destroyed.owners.add(str(owner))
        tx.execute(
            "DELETE FROM scope_keys WHERE case_id = ? AND subject_id = ?", (case_id, subject_id)
        )
        keys.store.tombstone(tx, "*", case_id, subject_id)
        keys.store.record_destroyed(tx, destroyed.scope_key_ids, destroyed.fact_key_ids)
        if plan is not None:
            plan(tx, destroyed)
        generation = keys.store.bump_generation(tx)
    _settle(keys, generation, destroyed)
    return destroyed


def destroy_case(keys: KeyManager, case_id: str, plan: PlanWriter | None = None) -> Destroyed:
    """Erase a whole case: all its scope keys and fact keys, of every owner."""
    destroyed = Destroyed(erased_case=case_id)
    with keys.store.transaction(write=True) as tx:
        for key_id, owner in tx.execute(
            "SELECT key_id, owner FROM scope_keys WHERE case_id = ?", (case_id,)
        ):
            destroyed.scope_key_ids.append(str(key_id))
            destroyed.owners.add(str(owner))
        destroyed.fact_key_ids = _live_key_ids(keys, tx, _blocks(tx, "case_id", case_id))
        tx.execute("DELETE FROM fact_key_blocks WHERE case_id = ?", (case_id,))
        tx.execute("DELETE FROM scope_keys WHERE case_id = ?", (case_id,))
        keys.store.tombstone(tx, "*", case_id, "*")
        keys.store.record_destroyed(tx, destroyed.scope_key_ids, destroyed.fact_key_ids)
        if plan is not None:
            plan(tx, destroyed)
        generation = keys.store.bump_generation(tx)
    _settle(keys, generation, destroyed)
    return destroyed


def destroy_owner(keys: KeyManager, owner: str, plan: PlanWriter | None = None) -> Destroyed:
    """Erase everything one partner contributed: retire its KEK and drop its key rows."""
    destroyed = Destroyed(retired_owner=owner)
    with keys.store.transaction(write=True) as tx:
        destroyed.scope_key_ids = [
            str(r[0]) for r in tx.execute("SELECT key_id FROM scope_keys WHERE owner = ?", (owner,))
        ]
        destroyed.fact_key_ids = _live_key_ids(keys, tx, _blocks(tx, "owner", owner))
        tx.execute("DELETE FROM fact_key_blocks WHERE owner = ?", (owner,))
        tx.execute("DELETE FROM scope_keys WHERE owner = ?", (owner,))
        keys.store.tombstone(tx, owner, "*", "*")
        keys.store.record_destroyed(tx, destroyed.scope_key_ids, destroyed.fact_key_ids)
        if plan is not None:
            plan(tx, destroyed)
        generation = keys.store.bump_generation(tx)
    destroyed.kek_versions_destroyed[owner] = keys.keyring.retire(owner)
    _settle(keys, generation, destroyed)
    return destroyed


def run_epoch(keys: KeyManager, destroyed: Destroyed) -> EpochReport:
    """Re-key affected wrapping keys, rotate affected owners' KEKs, destroy old versions."""
    rekeyed, fact_rewrapped = 0, 0
    for owner, case_id in sorted(destroyed.rekey):
        if owner == destroyed.retired_owner:
            continue
        fact_rewrapped += _rekey_wrapping_key(keys, owner, case_id)
        rekeyed += 1
    rotations: dict[str, int] = {}
    destroyed_versions: dict[str, list[int]] = dict(destroyed.kek_versions_destroyed)
    scope_rewrapped = 0
    for owner in sorted(destroyed.owners - {destroyed.retired_owner or ""}):
        if keys.keyring.is_retired(owner):
            continue
        version = keys.keyring.rotate(owner)
        scope_rewrapped += _rewrap_owner(keys, owner, version)
        rotations[owner] = version
        destroyed_versions[owner] = keys.keyring.destroy_versions_except(owner, version)
    keys.store.after_erasure()
    return EpochReport(rekeyed, fact_rewrapped, scope_rewrapped, rotations, destroyed_versions)


def _rekey_wrapping_key(keys: KeyManager, owner: str, case_id: str) -> int:
    with keys.store.transaction(write=True) as tx:
        rows = tx.execute(
            f"SELECT {SCOPE_COLUMNS}"
            " FROM scope_keys WHERE owner = ? AND case_id = ? AND subject_id = '' AND kind = ?",
            (owner, case_id, WRAP),
        )
        if not rows:
            return 0
        row = scope_row(rows[0])
        old = keys.unwrap_scope(row).material
        fresh = new_key()
        updates = []
        rewrapped = 0
        for block in _blocks(tx, "wrap_key_id", row.key_id):
            opened = blocks.open_block(old, block)
            rewrapped += len(blocks.live_key_ids(block.block_id, opened))
            updates.append((blocks.wrap_block(fresh, block, opened), block.block_id))
        tx.executemany("UPDATE fact_key_blocks SET wrapped = ? WHERE block_id = ?", updates)
        version, wrapped_new = keys.keyring.wrap(owner, fresh, scope_context(row, row.key_id))
        tx.execute(
            "UPDATE scope_keys SET kek_version = ?, wrapped = ? WHERE key_id = ?",
            (version, wrapped_new, row.key_id),
        )
        generation = keys.store.bump_generation(tx)
    keys.forget(generation, scope_key_ids=[row.key_id])  # same id, new material
    return rewrapped


def _rewrap_owner(keys: KeyManager, owner: str, version: int) -> int:
    with keys.store.transaction(write=True) as tx:
        rows = [
            scope_row(r)
            for r in tx.execute(
                f"SELECT {SCOPE_COLUMNS} FROM scope_keys WHERE owner = ? AND kek_version <> ?",
                (owner, version),
            )
        ]
        updates = []
        for row in rows:
            context = scope_context(row, row.key_id)
            material = keys.keyring.unwrap(owner, row.kek_version, row.wrapped, context)
            new_version, wrapped = keys.keyring.wrap(owner, material, context)
            updates.append((new_version, wrapped, row.key_id))
        tx.executemany(
            "UPDATE scope_keys SET kek_version = ?, wrapped = ? WHERE key_id = ?", updates
        )
        generation = keys.store.bump_generation(tx)
    keys.forget(generation)  # rewrapped, same material: nothing cached goes stale
    return len(updates)


def rotate_all(keys: KeyManager, owners: list[str]) -> EpochReport:
    """`caseledger keys rotate`: a KEK rotation epoch for the given owners (no erasure)."""
    return run_epoch(keys, Destroyed(owners=set(owners)))


def _settle(keys: KeyManager, generation: int, destroyed: Destroyed) -> None:
    """Make deletions physical, then drop what this erasure destroyed from the caches."""
    keys.store.after_erasure()
    keys.forget(
        generation,
        scope_key_ids=destroyed.scope_key_ids,
        fact_key_ids=destroyed.fact_key_ids,
        owner=destroyed.retired_owner,
        case_id=destroyed.erased_case,
    )
