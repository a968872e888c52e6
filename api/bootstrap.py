"""The composition root: builds the ledger, projections, access log and read service once.

Nothing here runs at import time; ``build_services`` is called by the app factory, the CLI
and the tests, with explicit settings and an explicit clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from api.settings import Settings
from ledger import (
    AccessLog,
    AuditKeys,
    CaseLedger,
    PostgresDatabase,
    SQLiteDatabase,
    ensure_schema,
    open_ledger,
)
from policies import Covenant, load_covenant
from projections import CaseViews, ProjectionRunner, ReadService, open_views

Clock = Callable[[], datetime]
AUDIT_FILE = "audit.sqlite3"
AUDIT_KEYS_FILE = "audit-keys.json"


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


@dataclass
class Services:
    """Everything a request handler or CLI command needs, built once per process."""

    settings: Settings
    covenant: Covenant
    ledger: CaseLedger
    views: CaseViews
    runner: ProjectionRunner
    access_log: AccessLog
    reads: ReadService
    clock: Clock

    def use_covenant(self, covenant: Covenant) -> None:
        """Put a validated covenant in force for every service built here."""
        self.covenant = covenant
        self.reads.covenant = covenant
        self.ledger.purposes = covenant
        self.access_log.checkpoint_every = covenant.access_log.checkpoint_every

    def close(self) -> None:
        self.runner.stop()
        self.access_log.close()
        self.ledger.close()


def open_access_log(settings: Settings, covenant: Covenant) -> AccessLog:
    config = settings.store_config()
    keys = AuditKeys.load_or_create(settings.data_dir / AUDIT_KEYS_FILE)
    every = covenant.access_log.checkpoint_every
    if config.database_url:
        ensure_schema(config.database_url, config.audit_schema)
        database = PostgresDatabase(config.database_url, config.audit_schema, lock_id=0x4C4F47)
        return AccessLog(database, keys, checkpoint_every=every)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return AccessLog(SQLiteDatabase(settings.data_dir / AUDIT_FILE), keys, checkpoint_every=every)


def build_services(settings: Settings, *, clock: Clock = utcnow) -> Services:
    """Open every store for these settings (the covenant is validated first)."""
    covenant = load_covenant(settings.covenant_file)
    config = settings.store_config()
    ledger = open_ledger(config, clock=clock, purposes=covenant)
    views = open_views(config)
    runner = ProjectionRunner(ledger, views, listen_url=config.database_url)
    access_log = open_access_log(settings, covenant)
    reads = ReadService(runner, access_log, covenant, clock)
    return Services(settings, covenant, ledger, views, runner, access_log, reads, clock)
