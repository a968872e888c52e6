"""The ledger's error tree. Messages carry ids only, never personal data or key material.

LedgerError
 ├── CaseNotFoundError (LookupError)
 ├── FactNotFoundError (LookupError)
 ├── SubjectNotFoundError (LookupError)
 ├── ActionNotFoundError (LookupError)
 ├── ConsentNotFoundError (LookupError)
 ├── EmergencyGrantNotFoundError (LookupError)
 ├── ErasureRequestNotFoundError (LookupError)
 ├── InvariantViolationError (ValueError)      each carries a stable ``code``
 │    ├── NotParticipantError
 │    ├── NotOwnerError
 │    ├── CaseClosedError
 │    ├── CaseStatusError
 │    ├── AlreadyReviewedError
 │    └── InvalidCommandError
 ├── PurposeMismatchError (PermissionError)
 ├── ConcurrencyConflictError
 ├── IdempotencyKeyReusedError
 ├── SealedError
 │    └── KeyDestroyedError
 ├── KeyringError
 │    └── KeyProviderUnavailableError
 └── ScopeErasedError
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error raised by the ledger package."""


class CaseNotFoundError(LedgerError, LookupError):
    """No case with this id exists (or it is not visible)."""


class FactNotFoundError(LedgerError, LookupError):
    """No fact with this id exists in the case."""


class SubjectNotFoundError(LedgerError, LookupError):
    """No subject with this id exists in the case."""


class ActionNotFoundError(LedgerError, LookupError):
    """No action with this id exists in the case."""


class ConsentNotFoundError(LedgerError, LookupError):
    """No consent with this id exists in the case."""


class EmergencyGrantNotFoundError(LedgerError, LookupError):
    """No emergency grant with this id exists in the case."""


class ErasureRequestNotFoundError(LedgerError, LookupError):
    """No erasure request with this id exists."""


class InvariantViolationError(LedgerError, ValueError):
    """A command would break a rule of the case; nothing was stored.

    ``code`` names the rule (snake_case, stable: the API shows it as the problem type); the
    message carries ids only.
    """

    code = "invalid_command"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotParticipantError(InvariantViolationError):
    """The acting partner is not an active participant of the case."""

    code = "not_participant"


class NotOwnerError(InvariantViolationError):
    """Only the partner that contributed a fact may correct or retract it."""

    code = "not_owner"


class CaseClosedError(InvariantViolationError):
    """The case is closed (or rejected, or erased) and accepts no more facts."""

    code = "case_not_open"


class CaseStatusError(InvariantViolationError):
    """The command does not fit the current status of the case (or of one of its items)."""

    code = "case_not_active"


class AlreadyReviewedError(InvariantViolationError):
    """The item (an emergency access, a notification deferral) was reviewed already."""

    code = "already_reviewed"


class InvalidCommandError(InvariantViolationError):
    """The command's arguments are not acceptable."""


class PurposeMismatchError(LedgerError, PermissionError):
    """A body was asked to open for a purpose its fact may not be read for (AVG art.
    5(1)(b)); nothing was opened. Raised below the policy as a second line of defence."""


class ConcurrencyConflictError(LedgerError):
    """The case changed since the caller read it; reload and retry."""

    def __init__(self, case_id: str, current_version: int | None) -> None:
        super().__init__(f"case {case_id} changed concurrently (now at {current_version})")
        self.case_id = case_id
        self.current_version = current_version


class IdempotencyKeyReusedError(LedgerError, ValueError):
    """An idempotency key was reused for a different command."""


class SealedError(LedgerError):
    """Opaque failure to seal or open data. Carries ids only, never key material."""


class KeyDestroyedError(SealedError):
    """The key needed to open this data was destroyed (erasure)."""


class KeyringError(LedgerError):
    """The key-encryption keyring is missing, unreadable or inconsistent."""


class KeyProviderUnavailableError(KeyringError):
    """The key-encryption keys cannot be reached now (token unreachable, PIN refused, module
    not loadable). Nothing was opened or stored; the next call tries again. Never says why
    in detail: the message must not carry a PIN, a path or a module's own error text."""


class ScopeErasedError(LedgerError):
    """The key scope was erased; no new keys are created in it."""


class KeysChangedError(LedgerError):
    """An erasure moved the key store on while a command was sealing with cached keys.

    Nothing was stored. Internal: the command pipeline drops its caches and runs the
    command again, so callers never see it.
    """
