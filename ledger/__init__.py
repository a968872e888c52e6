"""The write side: sealed, partner-owned case events on eventsourcing, keys, erasure."""

from ledger._application import CaseLedger
from ledger._audit import AccessLog
from ledger._audit_entries import (
    AccessEntry,
    AccessLogError,
    AccessLogUnavailableError,
    Checkpoint,
)
from ledger._audit_export import export_csv, export_jsonl
from ledger._audit_signing import AuditKeys, sign_document, verify_document
from ledger._backup import BackupError, BackupLayout, BackupRefusedError, create_backup
from ledger._bodies import body_context
from ledger._bootstrap import open_ledger
from ledger._case import Case, SealingScope
from ledger._case_state import EmergencyGrantState, FactState
from ledger._command_data import (
    ErasureReport,
    NewFact,
    OpenedBody,
    PurposeRule,
    RequestContext,
    WriteResult,
)
from ledger._erasure import EpochReport
from ledger._erasure_requests import ErasureRequest
from ledger._errors import (
    ActionNotFoundError,
    AlreadyReviewedError,
    CaseClosedError,
    CaseNotFoundError,
    CaseStatusError,
    ConcurrencyConflictError,
    ConsentNotFoundError,
    EmergencyGrantNotFoundError,
    ErasureRequestNotFoundError,
    FactNotFoundError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    InvariantViolationError,
    KeyDestroyedError,
    KeyProviderUnavailableError,
    KeyringError,
    LedgerError,
    NotOwnerError,
    NotParticipantError,
    PurposeMismatchError,
    ScopeErasedError,
    SealedError,
    SubjectNotFoundError,
)
from ledger._interprocess import WriterLock, sqlite_writer_lock
from ledger._keyring import KeyEncryptionProvider, LocalKeyring
from ledger._lru import trim_lru
from ledger._meeting import (
    OFFICE,
    AgendaItem,
    Meeting,
    MeetingNotFoundError,
    MinutesState,
    MinutesVersion,
)
from ledger._meeting_commands import minutes_context
from ledger._pkcs11 import Pkcs11Config
from ledger._replay import RestoreReport, restore_backup
from ledger._sql import PostgresDatabase, SQLiteDatabase
from ledger._stores import StoreConfig, ensure_schema, postgres_env, startup_lock
from ledger._uuids import text_of

__all__ = [
    "OFFICE",
    "AccessEntry",
    "AccessLog",
    "AccessLogError",
    "AccessLogUnavailableError",
    "ActionNotFoundError",
    "AgendaItem",
    "AlreadyReviewedError",
    "AuditKeys",
    "BackupError",
    "BackupLayout",
    "BackupRefusedError",
    "Case",
    "CaseClosedError",
    "CaseLedger",
    "CaseNotFoundError",
    "CaseStatusError",
    "Checkpoint",
    "ConcurrencyConflictError",
    "ConsentNotFoundError",
    "EmergencyGrantNotFoundError",
    "EmergencyGrantState",
    "EpochReport",
    "ErasureReport",
    "ErasureRequest",
    "ErasureRequestNotFoundError",
    "FactNotFoundError",
    "FactState",
    "IdempotencyKeyReusedError",
    "InvalidCommandError",
    "InvariantViolationError",
    "KeyDestroyedError",
    "KeyEncryptionProvider",
    "KeyProviderUnavailableError",
    "KeyringError",
    "LedgerError",
    "LocalKeyring",
    "Meeting",
    "MeetingNotFoundError",
    "MinutesState",
    "MinutesVersion",
    "NewFact",
    "NotOwnerError",
    "NotParticipantError",
    "OpenedBody",
    "Pkcs11Config",
    "PostgresDatabase",
    "PurposeMismatchError",
    "PurposeRule",
    "RequestContext",
    "RestoreReport",
    "SQLiteDatabase",
    "ScopeErasedError",
    "SealedError",
    "SealingScope",
    "StoreConfig",
    "SubjectNotFoundError",
    "WriteResult",
    "WriterLock",
    "body_context",
    "create_backup",
    "ensure_schema",
    "export_csv",
    "export_jsonl",
    "minutes_context",
    "open_ledger",
    "postgres_env",
    "restore_backup",
    "sign_document",
    "sqlite_writer_lock",
    "startup_lock",
    "text_of",
    "trim_lru",
    "verify_document",
]
