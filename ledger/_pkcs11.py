"""Key-encryption keys in a PKCS#11 token (an HSM; SoftHSM2 in the tests).

Each version of a partner's KEK is a non-extractable, sensitive AES-256 secret key in the
token, labelled ``caseledger:<partner>:v<n>`` with CKA_ID ``caseledger:<partner>``. Scope keys
are wrapped inside the token with AES-GCM (random nonce, the associated data the local keyring
binds), so no KEK ever leaves it. Rotation generates the next version; destroying versions
destroys the token objects; retiring a partner (owner withdrawal) leaves a data object
``caseledger:<partner>:retired`` behind that refuses new versions. Every destroy is idempotent,
so a journal of destroyed versions can be replayed against the token after a restore.

Absence means "destroyed" only in a token that shows itself: an answer built on a missing
object is trusted only if the token's marker (the data object ``caseledger:token``, made on
first use) is there. A module that does not load, a token that is gone, a wrong PIN all raise
``KeyProviderUnavailableError`` with an opaque message; nothing falls back to other keys, and
the next call connects anew (so service resumes by itself when the token is back). A PIN the
token refused is not offered again until the PIN changes, so retries cannot lock the token.

PKCS#11 login state belongs to the whole process, and finalising a module ends every session
on it: so a process keeps one logged-in session per (module, token), shared by every provider
on that token and used under one lock (``_Connection``), and one loaded module per path.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PinIncorrect, PinLocked, PKCS11Error
from pkcs11.mechanisms import GCMParams
from pkcs11.types import DecryptMixin, EncryptMixin, Object

from ledger._erasure_journal import ErasureJournal, journal_from_environment
from ledger._errors import (
    KeyDestroyedError,
    KeyProviderUnavailableError,
    LedgerError,
    ScopeErasedError,
    SealedError,
)
from ledger._keyring import kek_context
from ledger._sealing import NONCE_BYTES, nonce_source

MODULE = "CASELEDGER_PKCS11_MODULE"
TOKEN_LABEL = "CASELEDGER_PKCS11_TOKEN_LABEL"  # noqa: S105 - a variable name, not a secret
PIN_FILE = "CASELEDGER_PKCS11_PIN_FILE"
PIN = "CASELEDGER_PKCS11_PIN"  # a variable name; the PIN itself is never a constant

_PREFIX = "caseledger"
_MARKER = f"{_PREFIX}:token"
_WRAP_AD = b"caseledger/wrap\x00"  # the prefix ledger._sealing.wrap_key binds, too
_TAG_BITS = 128
_KEY_BITS = 256
_UNAVAILABLE = "the key provider is unavailable"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pkcs11Config:
    """Which module and token, and where the user PIN comes from (a file, or the value)."""

    module: Path
    token_label: str
    pin_file: Path | None = None
    pin: str | None = field(default=None, repr=False)

    def environment(self) -> dict[str, str]:
        """The ledger environment entries for this provider (the PIN only if given)."""
        env = {MODULE: str(self.module), TOKEN_LABEL: self.token_label}
        if self.pin_file is not None:
            env[PIN_FILE] = str(self.pin_file)
        if self.pin is not None:
            env[PIN] = self.pin
        return env

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Pkcs11Config:
        module, label = environment.get(MODULE), environment.get(TOKEN_LABEL)
        pin_file, pin = environment.get(PIN_FILE), environment.get(PIN)
        if not module or not label or bool(pin_file) == bool(pin):
            raise LedgerError(f"{MODULE}, {TOKEN_LABEL} and one of {PIN_FILE}, {PIN} are needed")
        return cls(Path(module), label, Path(pin_file) if pin_file else None, pin or None)

    def read_pin(self) -> str:
        """The PIN as it is now (a PIN file is read on every connect, so it can change)."""
        if self.pin is not None:
            return self.pin
        assert self.pin_file is not None
        try:
            return self.pin_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise KeyProviderUnavailableError(_UNAVAILABLE) from None


class _TokenGoneError(Exception):
    """The session answers, but the token behind it does not show itself (internal)."""


class _Module:
    """A loaded PKCS#11 module; ``resets`` counts re-initialisations (they end all sessions)."""

    def __init__(self, path: str) -> None:
        self.lib = pkcs11.lib(path)
        self.resets = 0


_modules: dict[str, _Module] = {}
_module_locks: dict[str, threading.RLock] = {}
_connections: dict[tuple[str, str], _Connection] = {}
_registry = threading.Lock()


def _module(path: str) -> _Module:
    """The process's one instance of a module (python-pkcs11 finalises it when dropped)."""
    with _registry:
        module = _modules.get(path)
        if module is None:
            try:
                module = _modules[path] = _Module(path)
            except PKCS11Error:
                raise KeyProviderUnavailableError(_UNAVAILABLE) from None
        return module


def _connection(config: Pkcs11Config) -> _Connection:
    with _registry:
        ref = (str(config.module), config.token_label)
        found = _connections.get(ref)
        if found is None:
            # Sessions on one module share its lock: re-initialising ends all of them.
            lock = _module_locks.setdefault(ref[0], threading.RLock())
            found = _connections[ref] = _Connection(*ref, lock)
        return found


class _Connection:
    """One logged-in read/write session on one token, for the whole process, used under the
    lock of its module."""

    def __init__(self, module_path: str, token_label: str, lock: threading.RLock) -> None:
        self.lock = lock
        self._module_path = module_path
        self._token_label = token_label
        self._session: pkcs11.Session | None = None
        self._pin_digest = b""  # the PIN the session logged in with (compared, never kept)
        self._refused_digest = b""  # a PIN the token refused: not offered again
        self._broken_at: int | None = None  # module resets when our session last broke
        self._opened_at = 0  # module resets when the session was opened

    def run(self, pin: str, op: Callable[[pkcs11.Session], T]) -> T:
        """``op`` on the session; reconnects once if the session broke (else unavailable)."""
        digest = hashlib.sha256(pin.encode()).digest()
        with self.lock:
            for _ in range(2):
                session = self._session_for(digest, pin)
                try:
                    return op(session)
                except (PKCS11Error, _TokenGoneError):
                    self._drop()
            raise KeyProviderUnavailableError(_UNAVAILABLE)

    def _session_for(self, digest: bytes, pin: str) -> pkcs11.Session:
        module = _module(self._module_path)
        if self._session is not None and self._opened_at != module.resets:
            # The module was re-initialised since: the handle is dead, and its number may
            # already name another connection's new session.
            self._session = None
        if self._session is not None:
            if not hmac.compare_digest(digest, self._pin_digest):
                raise KeyProviderUnavailableError(_UNAVAILABLE)  # logged in, but not by this PIN
            return self._session
        if self._refused_digest and hmac.compare_digest(digest, self._refused_digest):
            raise KeyProviderUnavailableError(_UNAVAILABLE)
        try:
            if self._broken_at == module.resets:
                # A module only sees a token that came back after re-initialisation (it ends
                # every session of this process on the module; each reconnects on next use).
                module.lib.reinitialize()
                module.resets += 1
            session = self._open(module, pin)
        except (PinIncorrect, PinLocked):
            self._refused_digest = digest
            raise KeyProviderUnavailableError(_UNAVAILABLE) from None
        except (PKCS11Error, _TokenGoneError):
            self._broken_at = module.resets
            raise KeyProviderUnavailableError(_UNAVAILABLE) from None
        self._session, self._pin_digest, self._broken_at = session, digest, None
        self._opened_at = module.resets
        self._refused_digest = b""
        return session

    def _open(self, module: _Module, pin: str) -> pkcs11.Session:
        try:
            token = module.lib.get_token(token_label=self._token_label)
        except PKCS11Error:
            # A token made after the module was loaded shows only once it is re-initialised.
            module.lib.reinitialize()
            module.resets += 1
            token = module.lib.get_token(token_label=self._token_label)
        session = token.open(rw=True, user_pin=pin)
        if not _find(session, ObjectClass.DATA, _MARKER):
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.LABEL: _MARKER,
                    Attribute.APPLICATION: _PREFIX,
                    Attribute.VALUE: b"caseledger key-encryption keys",
                }
            )
        return session

    def _drop(self) -> None:
        module = _modules.get(self._module_path)
        self._broken_at = module.resets if module is not None else 0
        self._session = None  # not closed: C_Logout would end the login of every session


class Pkcs11KeyProvider:
    """``KeyEncryptionProvider`` over a PKCS#11 token (see the module docstring)."""

    def __init__(self, config: Pkcs11Config, *, journal: ErasureJournal | None = None) -> None:
        self.config = config
        self.journal = journal  # versions are journaled before they are destroyed
        self._connection = _connection(config)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Pkcs11KeyProvider:
        return cls(
            Pkcs11Config.from_environment(environment),
            journal=journal_from_environment(environment),
        )

    # -- the port -------------------------------------------------------------------------

    def wrap(self, partner: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        def op(session: pkcs11.Session) -> tuple[int, bytes]:
            keys = self._active_keys(session, partner)
            version = max(keys)
            nonce = nonce_source().take()
            params = GCMParams(nonce, _WRAP_AD + kek_context(partner, version, context), _TAG_BITS)
            sealed = cast(EncryptMixin, keys[version][0]).encrypt(
                key, mechanism=Mechanism.AES_GCM, mechanism_param=params
            )
            return version, nonce + cast(bytes, sealed)

        return self._run(op)

    def unwrap(self, partner: str, version: int, wrapped: bytes, context: bytes) -> bytes:
        if len(wrapped) <= NONCE_BYTES + _TAG_BITS // 8:
            raise SealedError("wrapped key failed to open")
        params = GCMParams(
            wrapped[:NONCE_BYTES], _WRAP_AD + kek_context(partner, version, context), _TAG_BITS
        )

        def op(session: pkcs11.Session) -> bytes:
            candidates = _find(session, ObjectClass.SECRET_KEY, _label(partner, version))
            if not candidates:
                _require_marker(session)
                raise KeyDestroyedError(f"key-encryption key {partner}/v{version} is destroyed")
            for kek in candidates:
                try:
                    opened = cast(DecryptMixin, kek).decrypt(
                        wrapped[NONCE_BYTES:], mechanism=Mechanism.AES_GCM, mechanism_param=params
                    )
                    return cast(bytes, opened)
                except PKCS11Error:
                    continue  # tampered or bound to other data; or the token failed (below)
            _require_marker(session)
            raise SealedError("wrapped key failed to open")

        return self._run(op)

    def active_version(self, partner: str) -> int:
        return self._run(lambda session: max(self._active_keys(session, partner)))

    def rotate(self, partner: str) -> int:
        def op(session: pkcs11.Session) -> int:
            if _is_retired(session, partner):
                raise ScopeErasedError(f"partner {partner} is retired")
            version = max(_versions(session, partner), default=0) + 1
            _generate(session, partner, version)
            return version

        return self._run(op)

    def destroy_versions_except(self, partner: str, keep: int) -> list[int]:
        def op(session: pkcs11.Session) -> list[int]:
            doomed = {v: objs for v, objs in _versions(session, partner).items() if v != keep}
            if self.journal is not None:
                self.journal.record_kek_versions(partner, doomed)
            for objects in doomed.values():
                for obj in objects:
                    obj.destroy()
            return sorted(doomed)

        return self._run(op)

    def retire(self, partner: str) -> list[int]:
        def op(session: pkcs11.Session) -> list[int]:
            if not _is_retired(session, partner):
                # The marker first: an interrupted retire still refuses new versions.
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.DATA,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: True,
                        Attribute.LABEL: _retired_label(partner),
                        Attribute.APPLICATION: _PREFIX,
                        Attribute.VALUE: b"retired",
                    }
                )
            doomed = _versions(session, partner)
            if self.journal is not None:
                self.journal.record_kek_versions(partner, doomed, retired=True)
            for objects in doomed.values():
                for obj in objects:
                    obj.destroy()
            return sorted(doomed)

        return self._run(op)

    def is_retired(self, partner: str) -> bool:
        return self._run(lambda session: _is_retired(session, partner))

    def versions(self, partner: str) -> list[int]:
        return self._run(lambda session: sorted(_versions(session, partner)))

    def probe(self) -> None:
        self._run(_require_marker)

    def close(self) -> None:
        """The session is the process's, shared with other providers on the token: kept."""

    # -- token access -----------------------------------------------------------------------

    def _run(self, op: Callable[[pkcs11.Session], T]) -> T:
        return self._connection.run(self.config.read_pin(), op)

    def _active_keys(self, session: pkcs11.Session, partner: str) -> dict[int, list[Object]]:
        """The partner's versions (the first made on first use); refused once retired."""
        if _is_retired(session, partner):
            raise ScopeErasedError(f"partner {partner} is retired")
        keys = _versions(session, partner)
        if not keys:
            keys = {1: [_generate(session, partner, 1)]}
        return keys


def _label(partner: str, version: int) -> str:
    return f"{_PREFIX}:{partner}:v{version}"


def _retired_label(partner: str) -> str:
    return f"{_PREFIX}:{partner}:retired"


def _partner_id(partner: str) -> bytes:
    return f"{_PREFIX}:{partner}".encode()


def _find(session: pkcs11.Session, kind: ObjectClass, label: str) -> list[Object]:
    return list(session.get_objects({Attribute.CLASS: kind, Attribute.LABEL: label}))


def _require_marker(session: pkcs11.Session) -> None:
    """An absent object is only destroyed if the token shows its marker."""
    if not _find(session, ObjectClass.DATA, _MARKER):
        raise _TokenGoneError


def _is_retired(session: pkcs11.Session, partner: str) -> bool:
    if _find(session, ObjectClass.DATA, _retired_label(partner)):
        return True
    _require_marker(session)
    return False


def _versions(session: pkcs11.Session, partner: str) -> dict[int, list[Object]]:
    """Version -> key objects (normally one; a race between processes may leave two, and
    unwrap tries each)."""
    prefix = f"{_PREFIX}:{partner}:v"
    found: dict[int, list[Object]] = {}
    for obj in session.get_objects(
        {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.ID: _partner_id(partner)}
    ):
        label = str(obj[Attribute.LABEL])
        if label.startswith(prefix) and label[len(prefix) :].isdigit():
            found.setdefault(int(label[len(prefix) :]), []).append(obj)
    if not found:
        _require_marker(session)
    return found


def _generate(session: pkcs11.Session, partner: str, version: int) -> Object:
    """A new KEK version in the token: AES-256, never to leave it in the clear."""
    return session.generate_key(
        KeyType.AES,
        _KEY_BITS,
        id=_partner_id(partner),
        label=_label(partner, version),
        store=True,
        template={
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.ENCRYPT: True,
            Attribute.DECRYPT: True,
            Attribute.WRAP: False,
            Attribute.UNWRAP: False,
            Attribute.SIGN: False,
            Attribute.VERIFY: False,
            Attribute.DERIVE: False,
        },
    )
