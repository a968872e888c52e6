"""The erasure journal: what was destroyed, kept where no restore rolls it back.

One file next to the stores (``<data dir>/erasure-journal``), append-only, one JSON entry a
line. Each line is ``<hash> <entry>``, where ``hash = SHA-256(previous hash || entry)``
(64 zeros before the first), so an edited, dropped or reordered line breaks the chain; every
append is fsynced before it returns. Entries carry ids and numbers only (random key ids,
partner, case and subject ids, KEK versions, the key store's erasure generation).

Invariant: a key is journaled before it is destroyed (the journal line is durable before the
key-store transaction that deletes the key commits, and before a KEK version is destroyed).
A line for a key that then survived is harmless; a destroyed key without a line is what the
order rules out. A restore replays the journal (``ledger._backup``), so every key destroyed
after the backup was taken is destroyed again before the service starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger._errors import LedgerError

JOURNAL_FILE = "erasure-journal"
#: The ledger environment entry naming the journal file (set by ``StoreConfig``).
ERASURE_JOURNAL = "CASELEDGER_ERASURE_JOURNAL"
_GENESIS = "0" * 64
_TAIL = 4096


class JournalError(LedgerError):
    """The erasure journal is unreadable or its hash chain is broken."""


@dataclass(slots=True)
class JournalState:
    """Everything the journal says was destroyed, folded over its entries."""

    scope_key_ids: set[str] = field(default_factory=set)
    fact_key_ids: dict[str, None] = field(default_factory=dict)  # ordered set
    # (owner, case, subject); "*" stands for every owner, case or subject.
    tombstones: dict[tuple[str, str, str], None] = field(default_factory=dict)
    kek_versions: dict[str, set[int]] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)
    generation: int = 0
    entries: int = 0
    head: str = _GENESIS
    chain: list[str] = field(default_factory=list)  # the head after each entry

    def holds(self, entries: int, head: str) -> bool:
        """Whether this journal begins with the one whose ``entries``-th head was ``head``
        (it was not lost, cut back or replaced since)."""
        if entries == 0:
            return True
        return entries <= len(self.chain) and self.chain[entries - 1] == head

    def apply(self, entry: Mapping[str, Any]) -> None:
        kind = entry.get("kind")
        if kind == "keys":
            self.scope_key_ids.update(str(k) for k in entry.get("scope", ()))
            self.fact_key_ids.update((str(k), None) for k in entry.get("fact", ()))
        elif kind == "tombstone":
            owner, case_id, subject_id = (str(x) for x in entry["scope"])
            self.tombstones[(owner, case_id, subject_id)] = None
        elif kind == "kek":
            versions = self.kek_versions.setdefault(str(entry["partner"]), set())
            versions.update(int(v) for v in entry["versions"])
            if entry.get("retired"):
                self.retired.add(str(entry["partner"]))
        elif kind == "generation":
            self.generation = max(self.generation, int(entry["value"]))
        else:
            raise JournalError("erasure journal has an entry of unknown kind")
        self.entries += 1

    @property
    def destroys_anything(self) -> bool:
        return bool(
            self.scope_key_ids
            or self.fact_key_ids
            or self.tombstones
            or self.kek_versions
            or self.retired
        )


class ErasureJournal:
    """Appends to and reads the journal file; safe for several processes (flock)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- what the destroying code calls, before it destroys -------------------------------

    def record_keys(self, scope_key_ids: Iterable[str], fact_key_ids: Iterable[str]) -> None:
        scope, fact = sorted(set(scope_key_ids)), sorted(set(fact_key_ids))
        if scope or fact:
            self._append({"kind": "keys", "scope": scope, "fact": fact})

    def record_tombstone(self, owner: str, case_id: str, subject_id: str) -> None:
        self._append({"kind": "tombstone", "scope": [owner, case_id, subject_id]})

    def record_kek_versions(
        self, partner: str, versions: Iterable[int], *, retired: bool = False
    ) -> None:
        doomed = sorted(set(versions))
        if doomed or retired:
            entry: dict[str, Any] = {"kind": "kek", "partner": partner, "versions": doomed}
            if retired:
                entry["retired"] = True
            self._append(entry)

    def record_generation(self, value: int) -> None:
        self._append({"kind": "generation", "value": int(value)})

    # -- reading --------------------------------------------------------------------------

    def read(self) -> JournalState:
        """The folded journal (empty if there is none); ``JournalError`` if tampered."""
        state = JournalState()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return state
        lines = data.split(b"\n")
        if lines and lines[-1] != b"":
            lines = lines[:-1]  # a torn last line (a crash mid-append) was never acknowledged
        for raw in lines:
            if not raw:
                continue
            digest, _, body = raw.partition(b" ")
            if _link(state.head, body) != digest.decode("ascii", "replace"):
                raise JournalError("erasure journal hash chain is broken")
            try:
                entry = json.loads(body)
            except ValueError:
                raise JournalError("erasure journal has an unreadable entry") from None
            state.apply(entry)
            state.head = digest.decode("ascii")
            state.chain.append(state.head)
        return state

    # -- file handling --------------------------------------------------------------------

    def _append(self, entry: Mapping[str, Any]) -> None:
        body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        new = not self.path.exists()
        with self._locked() as fd:
            head = _cut_torn_tail(fd)
            line = _link(head, body).encode("ascii") + b" " + body + b"\n"
            os.lseek(fd, 0, os.SEEK_END)
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        if new:
            _fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # releases the lock


def _link(previous: str, body: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + body).hexdigest()


def _cut_torn_tail(fd: int) -> str:
    """The hash of the last complete line; a torn last line is cut off first."""
    size = os.fstat(fd).st_size
    if size == 0:
        return _GENESIS
    tail = b""
    position = size
    while position > 0:
        step = min(_TAIL, position)
        position -= step
        tail = os.pread(fd, step, position) + tail
        if tail.count(b"\n") >= 2 or position == 0:
            break
    if not tail.endswith(b"\n"):
        os.ftruncate(fd, position + tail.rfind(b"\n") + 1)
        return _cut_torn_tail(fd)
    last = tail[:-1].rsplit(b"\n", 1)[-1]
    return last.partition(b" ")[0].decode("ascii")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def journal_from_environment(environment: Mapping[str, str]) -> ErasureJournal | None:
    """The journal the ledger environment names (``None``: this ledger keeps none)."""
    path = environment.get(ERASURE_JOURNAL)
    return ErasureJournal(Path(path)) if path else None
