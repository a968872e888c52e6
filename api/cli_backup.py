"""`caseledger backup create DIR` and `caseledger backup restore DIR [--force]`.

The commands name the data dir's stores (``backup_layout``) and leave the work to
``ledger._backup`` (copies, signed manifest, checks) and ``ledger._replay`` (the erasure
journal replayed after a restore). Output is positions and counts only: no key material, no
case data. Exit codes as elsewhere: 0 done, 1 the backup or restore failed, 2 refused (bad
input, or a key store older than the latest erasure without --force); nothing is changed
when a restore is refused or a check fails.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from api._cli_support import Command, Group, progress_on_terminal, refuse
from api.bootstrap import AUDIT_FILE, AUDIT_KEYS_FILE, build_services
from api.settings import Settings
from ledger import (
    BackupLayout,
    BackupRefusedError,
    LedgerError,
    RestoreReport,
    create_backup,
    restore_backup,
)
from policies import CovenantError
from projections import PROJECTIONS_FILE

backup_app = typer.Typer(
    help="Back up the stores, and restore them without undoing an erasure.",
    no_args_is_help=True,
    cls=Group,
)
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Data directory (default: $CASELEDGER_DATA_DIR or ./caseledger-data).",
    ),
]
BackupDir = Annotated[Path, typer.Argument(metavar="DIR", help="The backup directory.")]


def backup_layout(settings: Settings) -> BackupLayout:
    """Where this data dir's stores are (SQLite files, or PostgreSQL schemas)."""
    config = settings.store_config()
    audit_keys = settings.data_dir / AUDIT_KEYS_FILE
    if not config.database_url:
        files = {
            "projections": config.data_dir / PROJECTIONS_FILE,
            "events": config.events_path,
            "keys": config.keystore_path,
            "audit": config.data_dir / AUDIT_FILE,
        }
        return BackupLayout(config, audit_keys, sqlite_files=files)
    url = config.database_url
    schemas = {
        "projections": (url, config.views_schema),
        "events": (url, config.events_schema or "public"),
        "keys": (config.keystore_url or url, config.keystore_schema),
        "audit": (url, config.audit_schema),
    }
    return BackupLayout(config, audit_keys, postgres_schemas=schemas)


@backup_app.command("create", cls=Command)
def backup_create(directory: BackupDir, data_dir: DataDir = None) -> None:
    """Back up the event store, projections, key store, keyring and access log into DIR.

    DIR must be new or empty. Each store is its own file (SQLite online backup, or
    pg_dump of its schema), with a manifest signed by the access log's key listing every
    file's SHA-256, the event store's position, the access log's chain head and the key
    store's erasure generation. The service may keep running. With a PKCS#11 token the
    key-encryption keys stay in the token (back it up with its vendor's tools). DIR holds
    keys: keep it as safe as the data dir.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        refuse(f"{directory}: not an empty directory (a backup never overwrites)")
    settings = _settings(data_dir)
    layout = backup_layout(settings)
    try:
        with progress_on_terminal("backing up") as progress:
            report = create_backup(layout, directory, now=datetime.now(tz=UTC), progress=progress)
    except LedgerError as error:
        _fail(error)
    typer.echo(
        f"backup written to {report.directory}: {report.files} files, events up to"
        f" {report.events_position}, {report.access_log_entries} access-log entries,"
        f" key generation {report.key_generation}"
    )


@backup_app.command("restore", cls=Command)
def backup_restore(
    directory: BackupDir,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore a key store older than the latest erasure or key rotation (every"
            " key destroyed since is destroyed again, so what it opened may be lost).",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Restore a backup made by `backup create` into the data dir; stop the service first.

    Checks the manifest's signature and every file's hash before touching anything. Then
    puts each store back (atomically, file by file), keeps a live access log that continues
    the backup's chain, and replays the erasure journal: every key destroyed after the
    backup is destroyed again, and the projections are rebuilt if anything was. The
    journal itself is never restored, and a journal that lost entries the backup saw is
    refused. A key store older than the latest erasure or rotation is refused unless --force.
    """
    settings = _settings(data_dir)
    try:
        report = run_restore(settings, directory, force=force)
    except BackupRefusedError as error:
        refuse(str(error))
    except LedgerError as error:
        _fail(error)
    replay = report.replay
    kept = "kept the live access log" if report.files.kept_live_access_log else "restored it"
    typer.echo(
        f"restored {len(report.files.roles)} stores from {directory} ({kept});"
        f" destroyed again: {replay.scopes_erased} scopes, {replay.scope_keys_destroyed} scope"
        f" keys, {replay.fact_keys_destroyed} fact keys"
    )


def run_restore(settings: Settings, directory: Path, *, force: bool = False) -> RestoreReport:
    """Restore, replay the journal, and rebuild the projections if replay destroyed keys
    (the restored projections still show what the keys opened)."""
    with progress_on_terminal("restoring") as progress:
        report = restore_backup(backup_layout(settings), directory, force=force, progress=progress)
    if report.replay.destroyed_anything:
        try:
            services = build_services(settings)
        except CovenantError as error:
            raise LedgerError(f"restored, but the projections need a rebuild: {error}") from None
        try:
            with progress_on_terminal("rebuilding projections") as progress:
                services.runner.rebuild(progress)
        finally:
            services.close()
    return report


def _settings(data_dir: Path | None) -> Settings:
    return Settings.from_environ(os.environ, data_dir=data_dir)


def _fail(error: Exception) -> NoReturn:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)
