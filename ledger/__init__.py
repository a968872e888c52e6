"""The write side: sealed, partner-owned case events on eventsourcing, keys, erasure."""

from ledger._application import (
    CaseLedger,
    ErasureReport,
    NewFact,
    OpenedBody,
    RequestContext,
    WriteResult,
    body_context,
)
from ledger._bootstrap import open_ledger
from ledger._case import Case, FactState, SealingScope
from ledger._erasure import EpochReport
from ledger._errors import (
    ActionNotFoundError,
    CaseClosedError,
    CaseNotFoundError,
    CaseStatusError,
    ConcurrencyConflictError,
    ConsentNotFoundError,
    FactNotFoundError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    InvariantViolationError,
    KeyDestroyedError,
    KeyringError,
    LedgerError,
    NotOwnerError,
    NotParticipantError,
    ScopeErasedError,
    SealedError,
    SubjectNotFoundError,
)
from ledger._keyring import KeyEncryptionProvider, LocalKeyring
from ledger._stores import StoreConfig
from ledger._uuids import text_of

__all__ = [
    "ActionNotFoundError",
    "Case",
    "CaseClosedError",
    "CaseLedger",
    "CaseNotFoundError",
    "CaseStatusError",
    "ConcurrencyConflictError",
    "ConsentNotFoundError",
    "EpochReport",
    "ErasureReport",
    "FactNotFoundError",
    "FactState",
    "IdempotencyKeyReusedError",
    "InvalidCommandError",
    "InvariantViolationError",
    "KeyDestroyedError",
    "KeyEncryptionProvider",
    "KeyringError",
    "LedgerError",
    "LocalKeyring",
    "NewFact",
    "NotOwnerError",
    "NotParticipantError",
    "OpenedBody",
    "RequestContext",
    "ScopeErasedError",
    "SealedError",
    "SealingScope",
    "StoreConfig",
    "SubjectNotFoundError",
    "WriteResult",
    "body_context",
    "open_ledger",
    "text_of",
]
