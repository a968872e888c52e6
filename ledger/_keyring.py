"""Key-encryption keys (KEKs), one versioned key per partner, kept outside every database.

``KeyEncryptionProvider`` is the port; ``LocalKeyring`` keeps the keys in one JSON file (mode
0600) beside, never inside, the databases; ``ledger._pkcs11`` keeps them in an HSM. Which one a
ledger uses is named by topic in its environment (``CASELEDGER_KEK_PROVIDER_TOPIC``, set by the
composition root through ``StoreConfig``), so nothing that uses the port names an adapter.
Destroying a KEK version (the last step of an erasure epoch) rewrites the file atomically and
fsyncs it, so a key store copied before the epoch can no longer be unwrapped. Every provider
journals the versions it destroys first (``ledger._erasure_journal``), so that a restore
destroys them again.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from eventsourcing.utils import resolve_topic

from ledger._erasure_journal import ErasureJournal, journal_from_environment
from ledger._errors import KeyDestroyedError, KeyringError, LedgerError, ScopeErasedError
from ledger._sealing import new_key, unwrap_key, wrap_key

_FORMAT = 1
KEK_PROVIDER_TOPIC = "CASELEDGER_KEK_PROVIDER_TOPIC"
KEYRING_PATH = "CASELEDGER_KEYRING_PATH"


class KeyEncryptionProvider(Protocol):
    """Wraps and unwraps scope keys under a partner's current key-encryption key."""

    def wrap(self, partner: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        """Wrap under the partner's active version; returns (version, wrapped)."""
        ...

    def unwrap(self, partner: str, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Unwrap; raises KeyDestroyedError when that version no longer exists."""
        ...

    def active_version(self, partner: str) -> int:
        """The version new wraps use (created on first use)."""
        ...

    def rotate(self, partner: str) -> int:
        """Create and activate a new version; returns it."""
        ...

    def destroy_versions_except(self, partner: str, keep: int) -> list[int]:
        """Destroy every other version of the partner's KEK; returns what was destroyed."""
        ...

    def retire(self, partner: str) -> list[int]:
        """Destroy every version and refuse new ones (owner erasure)."""
        ...

    def is_retired(self, partner: str) -> bool:
        """True once the partner's keys were retired."""
        ...

    def versions(self, partner: str) -> list[int]:
        """Versions of the partner's KEK that still exist."""
        ...

    def probe(self) -> None:
        """Raise ``KeyringError`` (``KeyProviderUnavailableError``) unless the keys can be
        reached now (readiness)."""
        ...

    def close(self) -> None:
        """Release what the provider holds (sessions, handles)."""
        ...


class KeyProviderFactory(Protocol):
    """What a provider's topic resolves to: builds it from the ledger's environment."""

    def from_environment(self, environment: Mapping[str, str]) -> KeyEncryptionProvider: ...


def open_key_provider(environment: Mapping[str, str]) -> KeyEncryptionProvider:
    """The provider the environment names by topic (no fallback: unset is an error)."""
    topic = environment.get(KEK_PROVIDER_TOPIC)
    if not topic:
        raise LedgerError(f"{KEK_PROVIDER_TOPIC} is not set")
    factory = cast(KeyProviderFactory, resolve_topic(topic))
    return factory.from_environment(environment)


@dataclass
class _PartnerKeys:
    active: int
    versions: dict[int, bytes] = field(default_factory=dict)


class LocalKeyring:
    """KEKs in a local JSON file, safe for several processes (flock) and threads."""

    def __init__(self, path: Path, *, journal: ErasureJournal | None = None) -> None:
        self._path = path
        self.journal = journal
        self._lock_path = path.with_name(path.name + ".lock")
        self._mutex = threading.RLock()
        self._partners: dict[str, _PartnerKeys] = {}
        self._retired: set[str] = set()
        self._stamp: tuple[int, int, int] | None = None

    @classmethod
    def create(cls, path: Path, *, journal: ErasureJournal | None = None) -> LocalKeyring:
        """Create an empty keyring file if none exists (never overwrites one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        keyring = cls(path, journal=journal)
        with keyring._exclusive():
            if not path.exists():
                keyring._write()
        return keyring

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> LocalKeyring:
        """The keyring file ``CASELEDGER_KEYRING_PATH`` names (created if missing)."""
        path = environment.get(KEYRING_PATH)
        if not path:
            raise LedgerError(f"{KEYRING_PATH} is not set")
        return cls.create(Path(path), journal=journal_from_environment(environment))

    # -- the port -------------------------------------------------------------------------

    def wrap(self, partner: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        version = self.active_version(partner)
        with self._mutex:
            kek = self._partners[partner].versions[version]
        return version, wrap_key(kek, key, kek_context(partner, version, context))

    def unwrap(self, partner: str, version: int, wrapped: bytes, context: bytes) -> bytes:
        kek = self._find(partner, version)
        if kek is None:
            self._refresh()
            kek = self._find(partner, version)
        if kek is None:
            raise KeyDestroyedError(f"key-encryption key {partner}/v{version} is destroyed")
        return unwrap_key(kek, wrapped, kek_context(partner, version, context))

    def active_version(self, partner: str) -> int:
        self._refresh()
        with self._mutex:
            if partner in self._partners:
                return self._partners[partner].active
        with self._exclusive():
            self._read()
            if partner in self._retired:
                raise ScopeErasedError(f"partner {partner} is retired")
            if partner not in self._partners:
                self._partners[partner] = _PartnerKeys(1, {1: new_key()})
                self._write()
            return self._partners[partner].active

    def rotate(self, partner: str) -> int:
        with self._exclusive():
            self._read()
            if partner in self._retired:
                raise ScopeErasedError(f"partner {partner} is retired")
            keys = self._partners.setdefault(partner, _PartnerKeys(0))
            keys.active = max(keys.versions, default=0) + 1
            keys.versions[keys.active] = new_key()
            self._write()
            return keys.active

    def destroy_versions_except(self, partner: str, keep: int) -> list[int]:
        with self._exclusive():
            self._read()
            keys = self._partners.get(partner)
            if keys is None:
                return []
            destroyed = sorted(v for v in keys.versions if v != keep)
            if self.journal is not None:
                self.journal.record_kek_versions(partner, destroyed)
            for version in destroyed:
                del keys.versions[version]
            if destroyed:
                self._write()
            return destroyed

    def retire(self, partner: str) -> list[int]:
        with self._exclusive():
            self._read()
            if self.journal is not None:
                doomed = self._partners[partner].versions if partner in self._partners else {}
                self.journal.record_kek_versions(partner, doomed, retired=True)
            keys = self._partners.pop(partner, None)
            self._retired.add(partner)
            self._write()
            return sorted(keys.versions) if keys else []

    def versions(self, partner: str) -> list[int]:
        """Versions that still exist (for reports and tests)."""
        self._refresh()
        with self._mutex:
            keys = self._partners.get(partner)
            return sorted(keys.versions) if keys else []

    def is_retired(self, partner: str) -> bool:
        self._refresh()
        with self._mutex:
            return partner in self._retired

    def probe(self) -> None:
        self._refresh()

    def close(self) -> None:
        """Nothing to release: the file is opened per read."""

    # -- file handling --------------------------------------------------------------------

    def _find(self, partner: str, version: int) -> bytes | None:
        with self._mutex:
            keys = self._partners.get(partner)
            return keys.versions.get(version) if keys else None

    def _refresh(self) -> None:
        """Re-read the file when another process (or this one) changed it."""
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            raise KeyringError("keyring file is missing") from None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            with self._shared():
                self._read()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._mutex, _flock(self._lock_path, fcntl.LOCK_EX):
            yield

    @contextlib.contextmanager
    def _shared(self) -> Iterator[None]:
        with self._mutex, _flock(self._lock_path, fcntl.LOCK_SH):
            yield

    def _read(self) -> None:
        try:
            st = os.stat(self._path)
            raw = json.loads(self._path.read_bytes())
            if raw.get("format") != _FORMAT:
                raise KeyringError("keyring file has an unknown format")
            partners = {
                name: _PartnerKeys(
                    int(entry["active"]),
                    {int(v): base64.b64decode(k) for v, k in entry["versions"].items()},
                )
                for name, entry in raw["partners"].items()
            }
            retired = set(raw.get("retired", []))
        except FileNotFoundError:
            raise KeyringError("keyring file is missing") from None
        except (ValueError, KeyError, TypeError):
            raise KeyringError("keyring file is unreadable") from None
        self._partners, self._retired = partners, retired
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _write(self) -> None:
        document = {
            "format": _FORMAT,
            "partners": {
                name: {
                    "active": keys.active,
                    "versions": {
                        str(v): base64.b64encode(k).decode() for v, k in keys.versions.items()
                    },
                }
                for name, keys in sorted(self._partners.items())
            },
            "retired": sorted(self._retired),
        }
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(document, indent=1).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        st = os.stat(self._path)
        self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size)


def kek_context(partner: str, version: int, context: bytes) -> bytes:
    """The associated data a scope key is wrapped with under KEK ``partner``/``version``
    (every provider binds the same, so a wrapped key cannot move between partners or
    versions)."""
    return f"kek:{partner}:{version}:".encode() + context


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
