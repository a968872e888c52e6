"""Replaying the erasure journal onto a restored key store and keyring (or token).

A restored key store and keyring are as they were when the backup was taken; the journal
(never restored) names everything destroyed since, and before. Replay destroys again, with
the erasure primitives themselves, whatever of that the restored stores still hold: erased
scopes (their keys deleted, the scope tombstoned so it takes no new keys), fact keys, and
any other journaled scope key. Then it runs an erasure epoch for every owner touched: the
affected wrapping keys are re-keyed, the owner's KEK rotated to a version above every version
the journal names, surviving scope keys rewrapped, and every other version destroyed. After
that no journaled key and no journaled KEK version exists any more, and the key store's
erasure generation is moved past the journal's, so no older copy passes for the current one.

With a PKCS#11 token the KEKs were not restored: scope keys of the backup wrapped under a
version the token has since destroyed cannot be opened by anyone; replay drops them (listed
as destroyed, so the events naming them load as redacted, not as tampered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ledger import _fact_key_blocks as blocks
from ledger._backup import BackupLayout, Progress, RestoredFiles, restore_files
from ledger._bootstrap import open_ledger
from ledger._erasure import (
    Destroyed,
    EpochReport,
    destroy_case,
    destroy_fact_keys,
    destroy_owner,
    destroy_subject,
    run_epoch,
)
from ledger._erasure_journal import ErasureJournal, JournalState
from ledger._errors import KeyDestroyedError, LedgerError
from ledger._keys import KeyManager

ANY = "*"


@dataclass(slots=True)
class ReplayReport:
    """What replay destroyed again (counts and ids of partners only)."""

    scopes_erased: int = 0
    scope_keys_destroyed: int = 0
    fact_keys_destroyed: int = 0
    unopenable_keys_dropped: int = 0
    epoch: EpochReport | None = None
    kek_versions_destroyed: dict[str, list[int]] = field(default_factory=dict)

    @property
    def destroyed_anything(self) -> bool:
        return bool(
            self.scopes_erased
            or self.scope_keys_destroyed
            or self.fact_keys_destroyed
            or self.unopenable_keys_dropped
            or any(self.kek_versions_destroyed.values())
        )


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What a restore put back and what its replay destroyed again."""

    files: RestoredFiles
    replay: ReplayReport


def restore_backup(
    layout: BackupLayout, directory: Path, *, force: bool = False, progress: Progress | None = None
) -> RestoreReport:
    """Restore a backup directory (checked first: ``ledger._backup``), then replay the
    erasure journal onto it. Run with the service stopped."""
    files = restore_files(layout, directory, force=force, progress=progress)
    journal = ErasureJournal(layout.config.journal_path).read()
    ledger = open_ledger(layout.config)
    try:
        replay = replay_journal(ledger.keys, journal)
    finally:
        ledger.close()
    return RestoreReport(files, replay)


def replay_journal(keys: KeyManager, journal: JournalState) -> ReplayReport:
    """Destroy again everything the journal names that the restored stores still hold."""
    report = ReplayReport()
    touched = Destroyed()
    # Owners first, then cases, then subjects: a wider erasure leaves the narrower no work.
    order = sorted(journal.tombstones, key=lambda s: (s[1] != ANY, s[2] != ANY))
    for owner, case_id, subject_id in order:
        if _already_erased(keys, owner, case_id, subject_id):
            continue
        if case_id == ANY:
            done = destroy_owner(keys, owner)
        elif subject_id == ANY:
            done = destroy_case(keys, case_id)
        else:
            done = destroy_subject(keys, case_id, subject_id)
        report.scopes_erased += 1
        _merge(touched, done)
    report.fact_keys_destroyed = _destroy_fact_keys(keys, list(journal.fact_key_ids), touched)
    report.scope_keys_destroyed = len(touched.scope_key_ids) + _destroy_scope_keys(
        keys, journal.scope_key_ids, touched
    )
    for partner in journal.retired - {touched.retired_owner or ""}:
        if not keys.keyring.is_retired(partner):
            touched.kek_versions_destroyed[partner] = keys.keyring.retire(partner)
    owners = _owners_to_rotate(keys, journal, touched)
    report.unopenable_keys_dropped = _drop_unopenable(keys, owners)
    for owner in sorted(owners):
        # The epoch's new version (one above the active) must not reuse a number the
        # journal names as destroyed.
        while keys.keyring.active_version(owner) < max(journal.kek_versions.get(owner, {0})):
            keys.keyring.rotate(owner)
    if owners or touched.rekey:
        touched.owners = owners
        report.epoch = run_epoch(keys, touched)
        report.kek_versions_destroyed.update(report.epoch.kek_versions_destroyed)
    for partner, versions in touched.kek_versions_destroyed.items():
        report.kek_versions_destroyed.setdefault(partner, versions)
    _check_nothing_survived(keys, journal)
    with keys.store.transaction(write=True) as tx:
        generation = keys.store.raise_generation(tx, journal.generation)
    keys.forget(generation)
    return report


def _already_erased(keys: KeyManager, owner: str, case_id: str, subject_id: str) -> bool:
    """The restored store has this tombstone: its erasure happened before the backup (its
    keys went in the same transaction), so there is nothing left to destroy."""
    with keys.store.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT 1 FROM erased_scopes WHERE owner = ? AND case_id = ? AND subject_id = ?",
            (owner, case_id, subject_id),
        )
    return bool(rows)


def _destroy_fact_keys(keys: KeyManager, key_ids: list[str], touched: Destroyed) -> int:
    """Zero the journaled fact keys still live in restored blocks (one block at a time if a
    block's wrapping key cannot be opened: such a block opens nothing anyway)."""
    present = keys.store.get_fact_key_blocks(sorted({blocks.split_key_id(k)[0] for k in key_ids}))
    wanted = [k for k in key_ids if blocks.split_key_id(k)[0] in present]
    if not wanted:
        return 0
    try:
        done = destroy_fact_keys(keys, wanted)
    except KeyDestroyedError:
        destroyed = 0
        for block_id in sorted({blocks.split_key_id(k)[0] for k in wanted}):
            in_block = [k for k in wanted if blocks.split_key_id(k)[0] == block_id]
            try:
                destroyed += _merge(touched, destroy_fact_keys(keys, in_block))
            except KeyDestroyedError:
                continue
        return destroyed
    return _merge(touched, done)


def _destroy_scope_keys(keys: KeyManager, key_ids: set[str], touched: Destroyed) -> int:
    """Delete journaled scope keys the erasures above did not reach."""
    if not key_ids:
        return 0
    found = keys.store.get_scope_keys(sorted(key_ids))
    if not found:
        return 0
    with keys.store.transaction(write=True) as tx:
        tx.executemany("DELETE FROM scope_keys WHERE key_id = ?", [(k,) for k in found])
        keys.store.record_destroyed(tx, sorted(found), [])
        generation = keys.store.bump_generation(tx)
    keys.store.after_erasure()
    keys.forget(generation, scope_key_ids=sorted(found))
    for row in found.values():
        touched.owners.add(row.owner)
        touched.rekey.add((row.owner, row.case_id))
    return len(found)


def _owners_to_rotate(keys: KeyManager, journal: JournalState, touched: Destroyed) -> set[str]:
    """Owners whose keys replay touched, and partners still holding a journaled KEK version."""
    owners = set(touched.owners)
    for partner, versions in journal.kek_versions.items():
        if versions & set(keys.keyring.versions(partner)):
            owners.add(partner)
    return {o for o in owners if o != touched.retired_owner and not keys.keyring.is_retired(o)}


def _drop_unopenable(keys: KeyManager, owners: set[str]) -> int:
    """Scope keys wrapped under a KEK version that no longer exists (a token that was not
    restored) open for no one: drop them, listed as destroyed, before the epoch rewraps."""
    dropped: list[str] = []
    with keys.store.transaction(write=True) as tx:
        for owner in sorted(owners):
            alive = set(keys.keyring.versions(owner))
            rows = tx.execute(
                "SELECT key_id, kek_version FROM scope_keys WHERE owner = ?", (owner,)
            )
            dropped.extend(str(r[0]) for r in rows if int(r[1]) not in alive)
        if not dropped:
            return 0
        tx.executemany("DELETE FROM scope_keys WHERE key_id = ?", [(k,) for k in dropped])
        keys.store.record_destroyed(tx, dropped, [])
        generation = keys.store.bump_generation(tx)
    keys.store.after_erasure()
    keys.forget(generation, scope_key_ids=dropped)
    return len(dropped)


def _check_nothing_survived(keys: KeyManager, journal: JournalState) -> None:
    """Every journaled KEK version and scope key is gone (else replay stops, loudly)."""
    for partner, versions in journal.kek_versions.items():
        if versions & set(keys.keyring.versions(partner)):
            raise LedgerError(f"replay left a destroyed key-encryption key of {partner}")
    if keys.store.get_scope_keys(sorted(journal.scope_key_ids)):
        raise LedgerError("replay left a destroyed scope key in the key store")


def _merge(into: Destroyed, done: Destroyed) -> int:
    into.scope_key_ids.extend(done.scope_key_ids)
    into.fact_key_ids.extend(done.fact_key_ids)
    into.owners |= done.owners
    into.rekey |= done.rekey
    if done.retired_owner is not None:
        into.retired_owner = done.retired_owner
    into.kek_versions_destroyed.update(done.kek_versions_destroyed)
    return len(done.fact_key_ids)
