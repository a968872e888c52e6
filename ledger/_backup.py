"""Backups of a data directory's stores, and restores that keep erasure final.

A backup directory holds one file per store (SQLite: the online backup API; PostgreSQL:
``pg_dump --format=custom`` of the store's schema, every schema of a database under one
exported snapshot), the keyring file (not with a PKCS#11 token: its keys stay in the token),
the access log's keys, and ``manifest.json``: each file's SHA-256, the event store's last
notification id, the access log's chain head, the key store's erasure generation and the
time, signed with the access log's Ed25519 key.

Copy order keeps a backup usable while the service runs: the projections before the events
(their position never runs ahead of the events they were built from), the events before the
key store (every key an event names is in the key-store copy: keys are committed before
use), and the key store with the keyring inside one unchanged erasure generation (retried
otherwise), so the copied keyring opens the copied key store.

Restore checks the signature and every hash before it touches anything, and refuses a key
store older than the erasure journal's latest generation unless forced. It puts each file
in place atomically (write beside, fsync, rename), keeps a live access log that continues the
backup's chain (the log is never rolled back), then replays the erasure journal
(``ledger._replay``), which is never restored: every key destroyed after the backup is
destroyed again before the service starts.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger._application import CaseLedger
from ledger._audit_signing import AuditKeys, sign_document, verify_document
from ledger._backup_files import copy_file, place, sha256_of, write_atomically
from ledger._erasure_journal import ErasureJournal, JournalError, JournalState
from ledger._errors import LedgerError
from ledger._stores import StoreConfig

MANIFEST = "manifest.json"
FORMAT = 1
#: Stores in the order they are copied (see the module docstring).
ROLES = ("projections", "events", "keys", "audit")
KEYRING_COPY = "keyring.json"
AUDIT_KEYS_COPY = "audit-keys.json"
_ATTEMPTS = 5

Progress = Callable[[int, int], None]


class BackupError(LedgerError):
    """A backup cannot be made, or a backup directory cannot be restored (nothing changed)."""


class BackupRefusedError(BackupError):
    """The backup's key store is older than the erasure journal (``--force`` restores it)."""


@dataclass(frozen=True, slots=True)
class BackupLayout:
    """Where a data dir's stores are, as the composition root names them.

    ``sqlite_files`` maps a role of ``ROLES`` to its SQLite file; ``postgres_schemas`` maps
    it to (database URL, schema). A role is in one of the two.
    """

    config: StoreConfig
    audit_keys: Path
    sqlite_files: Mapping[str, Path] = field(default_factory=dict)
    postgres_schemas: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for _url, schema in self.postgres_schemas.values():
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
                raise BackupError("invalid schema name")

    @property
    def store(self) -> str:
        return "postgres" if self.postgres_schemas else "sqlite"

    @property
    def key_provider(self) -> str:
        return "pkcs11" if self.config.pkcs11 is not None else "local"

    def file_name(self, role: str) -> str:
        return f"{role}.sqlite3" if role in self.sqlite_files else f"{role}.pgdump"


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What a backup holds (positions and counts only)."""

    directory: Path
    files: int
    events_position: int
    access_log_entries: int
    key_generation: int


@dataclass(frozen=True, slots=True)
class RestoredFiles:
    """What a restore put back; the manifest it trusted."""

    manifest: dict[str, Any]
    roles: tuple[str, ...]
    kept_live_access_log: bool


def create_backup(
    layout: BackupLayout, directory: Path, *, now: datetime, progress: Progress | None = None
) -> BackupReport:
    """Back the stores up into ``directory`` (new or empty), signed manifest last."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files: dict[str, str] = {}
    positions: dict[str, Any] = {}
    total = len(ROLES) + 1
    journal = _journal(layout)  # a prefix of the journal any later restore must find
    positions["erasure_journal"] = {"entries": journal.entries, "head": journal.head}
    for attempt in range(_ATTEMPTS):
        with _snapshots(layout) as snapshots:
            for done, role in enumerate(ROLES):
                if progress:
                    progress(done, total)
                positions.update(_copy_store(layout, role, directory, snapshots))
                if role == "keys" and layout.config.pkcs11 is None:
                    copy_file(layout.config.keyring_path, directory / KEYRING_COPY)
        # No erasure step since the key store was copied: the keyring copy opens it.
        if _live_generation(layout) == positions["key_generation"]:
            break
        if attempt == _ATTEMPTS - 1:
            raise BackupError("the key store kept changing during the backup; try again")
    copy_file(layout.audit_keys, directory / AUDIT_KEYS_COPY)
    for role in ROLES:
        files[layout.file_name(role)] = sha256_of(directory / layout.file_name(role))
    for name in (KEYRING_COPY, AUDIT_KEYS_COPY):
        if (directory / name).exists():
            files[name] = sha256_of(directory / name)
    document = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "store": layout.store,
        "key_provider": layout.key_provider,
        "keys_in_token": layout.config.pkcs11 is not None,
        "files": files,
        **positions,
    }
    signed = sign_document(AuditKeys.load_or_create(layout.audit_keys), document)
    write_atomically(directory / MANIFEST, json.dumps(signed, indent=1).encode())
    if progress:
        progress(total, total)
    return BackupReport(
        directory,
        len(files),
        int(positions["events_position"]),
        int(positions["access_log_head"]["seq"]),
        int(positions["key_generation"]),
    )


def verified_manifest(layout: BackupLayout, directory: Path) -> dict[str, Any]:
    """The manifest's document once its signature and every file's hash check out."""
    try:
        signed = json.loads((directory / MANIFEST).read_bytes())
        document = signed["document"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"{directory}: no readable {MANIFEST}") from None
    trusted = _trusted_public_key(layout, directory)
    if signed.get("public_key") != trusted or not verify_document(signed, trusted):
        raise BackupError("the manifest's signature does not verify")
    if document.get("format") != FORMAT:
        raise BackupError("the backup has an unknown format")
    if document.get("store") != layout.store:
        raise BackupError(f"the backup is of a {document.get('store')} store, not {layout.store}")
    if document.get("key_provider") != layout.key_provider:
        raise BackupError("the backup was made with another key provider")
    for name, digest in document["files"].items():
        path = directory / name
        if Path(name).name != name or not path.is_file() or sha256_of(path) != digest:
            raise BackupError(f"{name}: missing or does not match the manifest")
    expected = {layout.file_name(role) for role in ROLES} | {AUDIT_KEYS_COPY}
    if layout.config.pkcs11 is None:
        expected.add(KEYRING_COPY)
    if not expected <= set(document["files"]):
        raise BackupError("the manifest does not list every store")
    return dict(document)


def restore_files(
    layout: BackupLayout,
    directory: Path,
    *,
    force: bool,
    progress: Progress | None = None,
) -> RestoredFiles:
    """Check everything, then put the backup's stores back (the journal replay follows)."""
    document = verified_manifest(layout, directory)
    journal = _journal(layout)
    kept = document["erasure_journal"]
    if not journal.holds(int(kept["entries"]), str(kept["head"])):
        # Without the journal, erasures made after the backup would come back: no override.
        raise BackupRefusedError(
            "the erasure journal is missing or older than the backup's; put its copy back"
            f" at {layout.config.journal_path} first"
        )
    if int(document["key_generation"]) < journal.generation and not force:
        raise BackupRefusedError(
            f"the backup's key store (generation {document['key_generation']}) is older than"
            f" the latest erasure or rotation (generation {journal.generation}); --force"
            " restores it and destroys again every key destroyed since"
        )
    keep_log = _live_log_continues(layout, document["access_log_head"])
    roles = tuple(r for r in ROLES if not (r == "audit" and keep_log))
    for done, role in enumerate(roles):
        if progress:
            progress(done, len(roles) + 1)
        _restore_store(layout, role, directory / layout.file_name(role))
    if KEYRING_COPY in document["files"]:  # only a listed, checked file is ever placed
        place(directory / KEYRING_COPY, layout.config.keyring_path)
    if not keep_log:
        place(directory / AUDIT_KEYS_COPY, layout.audit_keys)
    if progress:
        progress(len(roles) + 1, len(roles) + 1)
    return RestoredFiles(document, roles, keep_log)


def _journal(layout: BackupLayout) -> JournalState:
    try:
        return ErasureJournal(layout.config.journal_path).read()
    except JournalError as error:
        raise BackupError(f"{error}; nothing was changed") from None


# -- copying ------------------------------------------------------------------------------


@contextmanager
def _snapshots(layout: BackupLayout) -> Iterator[dict[str, tuple[Any, str]]]:
    """PostgreSQL: one exported snapshot per database (url -> (connection, snapshot id)),
    held open while its schemas are dumped; SQLite: none."""
    opened: dict[str, tuple[Any, str]] = {}
    try:
        for url, _schema in layout.postgres_schemas.values():
            if url not in opened:
                import psycopg

                conn = psycopg.connect(url, autocommit=True)  # BEGIN below sets the level
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
                assert snapshot is not None
                opened[url] = (conn, str(snapshot[0]))
        yield opened
    finally:
        for conn, _ in opened.values():
            conn.close()


def _copy_store(
    layout: BackupLayout, role: str, directory: Path, snapshots: dict[str, tuple[Any, str]]
) -> dict[str, Any]:
    target = directory / layout.file_name(role)
    if role in layout.sqlite_files:
        source = layout.sqlite_files[role]
        if not source.exists():
            raise BackupError(f"{source.name} is missing; run caseledger init")
        with _sqlite(source) as live, _sqlite(target) as copy:
            live.backup(copy)
        os.chmod(target, 0o600)
        with _sqlite(target) as copy:
            return _positions(role, lambda sql: copy.execute(sql).fetchall(), "", "rowid")
    url, schema = layout.postgres_schemas[role]
    conn, snapshot = snapshots[url]
    dump = ["pg_dump", f"--dbname={url}", "--format=custom", "--no-owner"]
    _run([*dump, f"--snapshot={snapshot}", f"--schema={schema}", f"--file={target}"])
    os.chmod(target, 0o600)
    # Read in the snapshot the dump was taken from: the positions are the dump's.
    return _positions(
        role, lambda sql: conn.execute(sql).fetchall(), f'"{schema}".', "notification_id"
    )


# The library names its PostgreSQL events table after the application; SQLite's is fixed.
_EVENTS_TABLE = {"rowid": "stored_events", "notification_id": f"{CaseLedger.name.lower()}_events"}


def _positions(
    role: str, query: Callable[[str], list[Any]], prefix: str, notification_id: str
) -> dict[str, Any]:
    """What the manifest records of one store copy (``prefix``: its schema, if any)."""
    if role == "events":
        table = _EVENTS_TABLE[notification_id]
        rows = query(f"SELECT MAX({notification_id}) FROM {prefix}{table}")
        return {"events_position": int(rows[0][0] or 0)}
    if role == "keys":
        rows = query(f"SELECT value FROM {prefix}generation WHERE id = 1")
        return {"key_generation": int(rows[0][0])}
    if role == "audit":
        rows = query(f"SELECT seq, hash FROM {prefix}access_log ORDER BY seq DESC LIMIT 1")
        seq, digest = (int(rows[0][0]), bytes(rows[0][1]).hex()) if rows else (0, "")
        return {"access_log_head": {"seq": seq, "hash": digest}}
    return {}


def _live_generation(layout: BackupLayout) -> int:
    """The key store's erasure generation now (outside any snapshot)."""
    statement = "SELECT value FROM {}generation WHERE id = 1"
    if "keys" in layout.sqlite_files:
        with _sqlite(layout.sqlite_files["keys"]) as conn:
            return int(conn.execute(statement.format("")).fetchone()[0])
    import psycopg

    url, schema = layout.postgres_schemas["keys"]
    with psycopg.connect(url) as conn:
        row = conn.execute(statement.format(f'"{schema}".')).fetchone()
        return int(row[0]) if row else 0


# -- restoring ----------------------------------------------------------------------------


def _restore_store(layout: BackupLayout, role: str, source: Path) -> None:
    if role in layout.sqlite_files:
        target = layout.sqlite_files[role]
        for suffix in ("-wal", "-shm"):
            # A stale WAL beside the new file would be replayed into it.
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        place(source, target)
        return
    url, _schema = layout.postgres_schemas[role]
    restore = ["pg_restore", f"--dbname={url}", "--clean", "--if-exists", "--no-owner"]
    _run([*restore, "--single-transaction", str(source)])


def _live_log_continues(layout: BackupLayout, head: Mapping[str, Any]) -> bool:
    """Whether a live access log (with its keys) holds the backup's chain head at its place:
    then it is kept, so a restore never rolls the access log back."""
    if not layout.audit_keys.exists():
        return False
    seq = int(head["seq"])
    try:
        found = _live_hash_at(layout, seq)
    except (sqlite3.Error, OSError, LedgerError):
        return False
    if found is None:
        return False
    return seq == 0 or found.hex() == head["hash"]


def _live_hash_at(layout: BackupLayout, seq: int) -> bytes | None:
    """The live log's hash at ``seq`` (``b""`` for 0 on an existing log); None if absent."""
    statement = "SELECT hash FROM {}access_log WHERE seq = {}"
    if "audit" in layout.sqlite_files:
        path = layout.sqlite_files["audit"]
        if not path.exists():
            return None
        with _sqlite(path) as conn:
            conn.execute("SELECT COUNT(*) FROM access_log")  # the table is there
            rows = conn.execute(statement.format("", int(seq))).fetchall()
    else:
        import psycopg

        url, schema = layout.postgres_schemas["audit"]
        try:
            with psycopg.connect(url) as pg:
                pg.execute(f'SELECT COUNT(*) FROM "{schema}".access_log')
                query = statement.format(f'"{schema}".', int(seq))
                rows = pg.execute(query).fetchall()
        except psycopg.Error:
            return None
    if seq == 0:
        return b""
    return bytes(rows[0][0]) if rows else None


def _trusted_public_key(layout: BackupLayout, directory: Path) -> str:
    """The live access log's public key; after losing the data dir, the backup's own."""
    source = layout.audit_keys if layout.audit_keys.exists() else directory / AUDIT_KEYS_COPY
    if not source.exists():
        raise BackupError("no access-log key to check the manifest with")
    try:
        return AuditKeys.load_or_create(source).public_key_b64()
    except (ValueError, KeyError, TypeError):
        raise BackupError("the access-log key file is unreadable") from None


# -- files --------------------------------------------------------------------------------


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(path))
    try:
        yield conn
    finally:
        conn.close()


def _run(args: list[str]) -> None:
    try:
        subprocess.run(args, check=True, capture_output=True)
    except FileNotFoundError:
        raise BackupError(f"{args[0]} is not installed") from None
    except subprocess.CalledProcessError as failed:
        # The tool's own first line (no data: it names objects and options only).
        detail = failed.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise BackupError(f"{args[0]} failed: {' '.join(detail) or failed.returncode}") from None
