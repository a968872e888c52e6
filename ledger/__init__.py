"""The write side: sealed, partner-owned case events on eventsourcing, keys, erasure."""

from ledger._application import CaseLedger
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
from ledger._keyring import KeyEncryptionProvider, LocalKeyring
from ledger._replay import RestoreReport, restore_backup
from ledger._stores import StoreConfig
from ledger._uuids import text_of

__all__ = [
    "ActionNotFoundError",
    "AlreadyReviewedError",
    "BackupError",
    "BackupLayout",
    "BackupRefusedError",
    "Case",
    "CaseClosedError",
    "CaseLedger",
    "CaseNotFoundError",
    "CaseStatusError",
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
    "NewFact",
    "NotOwnerError",
    "NotParticipantError",
    "OpenedBody",
    "PurposeMismatchError",
    "PurposeRule",
    "RequestContext",
    "RestoreReport",
    "ScopeErasedError",
    "SealedError",
    "SealingScope",
    "StoreConfig",
    "SubjectNotFoundError",
    "WriteResult",
    "body_context",
    "create_backup",
    "open_ledger",
    "restore_backup",
    "text_of",
]
