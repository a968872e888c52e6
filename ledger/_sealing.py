"""Sealing: the one module that touches cipher primitives (AES-256-GCM, HKDF-SHA256, BLAKE2s).

Threat model: an attacker who obtains copies of the event store, the projections or the key
store (backups, stolen disks, a curious database administrator) but not the keyring of
key-encryption keys learns no fact content, no fact metadata and no subject data. An attacker
who can write to those stores cannot move a sealed value to another event, fact, case, owner or
version, nor flip a bit, without opening failing. Every failure is the same opaque
``SealedError`` carrying ids only.

Envelope layout (format version 1), all integers big-endian::

    offset  size  field
    0       1     format version (0x01)
    1       1     flags (bit 0: a fact key id follows the scope key ids)
    2       1     n = number of scope key ids (1..255)
    3       16*n  scope key ids (random UUID bytes, never derived from personal data)
    ...     16    fact key id (only when flag bit 0 is set)
    ...     12    nonce (random)
    ...     rest  AES-256-GCM ciphertext with its 16-byte tag

The header (everything before the nonce) is part of the associated data, followed by the
caller's context (aggregate id, version, topic, owner, case, fact id, ...), so key ids cannot
be swapped either. The data key is derived with HKDF-SHA256 from the scope keys; a fact body's
key is then derived from that and its fact key with keyed BLAKE2s. Destroying any one of them
makes the value unreadable.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger._errors import SealedError

FORMAT_VERSION = 1
KEY_BYTES = 32
KEY_ID_BYTES = 16
NONCE_BYTES = 12
_FLAG_FACT_KEY = 0x01
_AD_PREFIX = b"caseledger/v1\x00"
_ZERO_SALT = bytes(32)


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def new_key_id() -> bytes:
    """A fresh random key id (16 bytes)."""
    return os.urandom(KEY_ID_BYTES)


class NonceSource:
    """Random 96-bit nonces read from the OS a batch at a time: one system call per 256 seals.

    A nonce need only never repeat under a key; these are as random as one ``os.urandom``
    call each. Each is handed out once (``list.pop`` is atomic, so threads never share one).
    A forked child drops the nonces it inherited: parent and child would hand out the same.
    """

    __slots__ = ("_batch", "_left", "_split")

    def __init__(self, batch: int = 256) -> None:
        self._batch = batch
        self._left: list[bytes] = []
        # Cuts one read into its nonces in a single call (a slice each costs more).
        self._split = struct.Struct(f"{NONCE_BYTES}s" * batch).unpack
        os.register_at_fork(after_in_child=self._left.clear)

    def take(self) -> bytes:
        left = self._left
        while True:
            try:
                return left.pop()
            except IndexError:
                left.extend(self._split(os.urandom(NONCE_BYTES * self._batch)))

    @property
    def pop_stored(self) -> Callable[[], bytes]:
        """For hot loops: hands out a stored nonce (as :meth:`take` does), or raises
        IndexError when none is stored; then call :meth:`take`. Saves a call per seal."""
        return self._left.pop


@functools.cache
def nonce_source() -> NonceSource:
    """The process's nonce source (made on first use, not at import)."""
    return NonceSource()


BLOCK_ID_BYTES = 10  # 80 random bits tell fact-key blocks apart
MAX_BLOCK_SLOTS = 1 << 20


def new_key_block(slots: int) -> tuple[bytes, bytes]:
    """A fresh block of ``slots`` random 256-bit keys: (block id, the keys concatenated).

    Fact keys are made in blocks and stored as one wrapped row per block; a key's id is the
    block id followed by its slot number (see ``ledger._fact_key_blocks``). The keys are
    independent and random; the ids carry no time or data and reveal only that keys were
    made together, which for fact keys the envelope already tells (same owner, same case).
    """
    if not 0 < slots <= MAX_BLOCK_SLOTS:
        raise ValueError("a key block holds 1 to 1,048,576 keys")
    return os.urandom(BLOCK_ID_BYTES), os.urandom(KEY_BYTES * slots)


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """Key ids needed to open a sealed value; stored in the clear in front of it."""

    scope_key_ids: tuple[bytes, ...]
    fact_key_id: bytes | None = None

    def encode(self) -> bytes:
        n = len(self.scope_key_ids)
        if not 1 <= n <= 255 or any(len(k) != KEY_ID_BYTES for k in self.scope_key_ids):
            raise SealedError("invalid envelope header")
        flags = _FLAG_FACT_KEY if self.fact_key_id is not None else 0
        parts = [bytes((FORMAT_VERSION, flags, n)), *self.scope_key_ids]
        if self.fact_key_id is not None:
            if len(self.fact_key_id) != KEY_ID_BYTES:
                raise SealedError("invalid envelope header")
            parts.append(self.fact_key_id)
        return b"".join(parts)


def read_header(blob: bytes) -> tuple[EnvelopeHeader, int]:
    """Parse the header of a sealed value; returns it and the offset of the nonce."""
    if len(blob) < 3 or blob[0] != FORMAT_VERSION:
        raise SealedError("unknown envelope format")
    flags, n = blob[1], blob[2]
    if n == 0 or flags & ~_FLAG_FACT_KEY:
        raise SealedError("malformed envelope")
    offset = 3 + KEY_ID_BYTES * n
    scope_ids = tuple(blob[3 + KEY_ID_BYTES * i : 3 + KEY_ID_BYTES * (i + 1)] for i in range(n))
    fact_key_id = None
    if flags & _FLAG_FACT_KEY:
        fact_key_id = blob[offset : offset + KEY_ID_BYTES]
        offset += KEY_ID_BYTES
    if len(blob) < offset + NONCE_BYTES + 16:
        raise SealedError("malformed envelope")
    return EnvelopeHeader(scope_ids, fact_key_id), offset


def derive_data_key(secrets: Sequence[bytes], info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869, zero salt) over the concatenated secrets.

    Losing any one of the secrets loses the key. Computed with the stdlib HMAC (one extract,
    one expand block), which is several times cheaper per call than building a KDF object.
    """
    if not secrets:
        raise SealedError("no key material")
    prk = hmac.digest(_ZERO_SALT, b"".join(secrets), "sha256")
    return hmac.digest(prk, info + b"\x01", "sha256")


_BODY_PERSON = b"clbody01"


def body_key(scope_secret: bytes, fact_key: bytes) -> bytes:
    """The key of one fact body: keyed BLAKE2s (a PRF, RFC 7693) of the scope's derived
    secret under the fact key, personalised for this use.

    Needs both: destroying the fact key (fact erasure) or any scope key the secret was
    derived from (subject, case, owner erasure) makes the body unreadable. BLAKE2s rather
    than HMAC-SHA256 because it runs once per fact on the write path and costs a quarter.
    """
    return hashlib.blake2s(scope_secret, key=fact_key, person=_BODY_PERSON).digest()


class SealedBody(NamedTuple):
    """A fact body sealed under its own fact key; ``fact_key_id`` is a hex id."""

    fact_key_id: str
    blob: bytes


# SealedBody from a (fact key id, blob) pair in one C call (made once per recorded fact;
# the named tuple's own constructor and ``_make`` run Python code).
_sealed_body = cast(
    Callable[[tuple[str, bytes]], SealedBody], functools.partial(tuple.__new__, SealedBody)
)


def seal_fact_bodies(
    scope_secret: bytes,
    header_prefix: bytes,
    context_suffix: bytes,
    fact_keys: Sequence[tuple[bytes, bytes]],
    bodies: Sequence[tuple[object, bytes, bytes]],
    take_nonce: Callable[[], bytes] | None = None,
) -> list[SealedBody]:
    """Fact bodies of one scope, each sealed under its own :func:`body_key`.

    ``fact_keys`` holds a (key id, key) pair per body and ``bodies`` a (any, plaintext,
    context) triple (the first item is the caller's and ignored here). Each body comes
    back as what :func:`seal` makes of it with the header ``header_prefix + key id`` (see
    :func:`body_header_prefix`) and the associated data ``context + context_suffix``.
    Built in one pass, with no call per body beyond the primitives, because it runs once
    per recorded fact; ``take_nonce`` exists for known-answer tests only.
    """
    source = nonce_source()
    pop = take_nonce or source.pop_stored
    derive, person, aead, join, make = hashlib.blake2s, _BODY_PERSON, AESGCM, b"".join, _sealed_body
    prefix = _AD_PREFIX + header_prefix
    sealed = []
    for (key_id, fact_key), (_, plaintext, context) in zip(fact_keys, bodies, strict=True):
        try:
            iv = pop()
        except IndexError:
            iv = source.take()
        key = derive(scope_secret, key=fact_key, person=person).digest()  # body_key, inline
        associated = join((prefix, key_id, context, context_suffix))
        ciphertext = aead(key).encrypt(iv, plaintext, associated)
        sealed.append(make((key_id.hex(), join((header_prefix, key_id, iv, ciphertext)))))
    return sealed


def seal(
    key: bytes,
    header: EnvelopeHeader,
    plaintext: bytes,
    context: bytes,
    *,
    nonce: bytes | None = None,
) -> bytes:
    """Seal ``plaintext`` under ``key``; ``context`` is bound as associated data.

    ``nonce`` exists for known-answer tests only; production code lets it be random.
    """
    nonce = nonce if nonce is not None else nonce_source().take()
    if len(nonce) != NONCE_BYTES:
        raise SealedError("invalid nonce")
    header_bytes = header.encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _AD_PREFIX + header_bytes + context)
    return header_bytes + nonce + ciphertext


def body_header_prefix(scope_key_ids: tuple[bytes, ...]) -> bytes:
    """The header of a fact body sealed under these scope keys, without its fact key id."""
    return EnvelopeHeader(scope_key_ids, bytes(KEY_ID_BYTES)).encode()[:-KEY_ID_BYTES]


class SealingKey:
    """A data key prepared once for many seals/opens under one header (hot paths)."""

    __slots__ = ("_ad_head", "_aead", "_pop_nonce", "_take_nonce", "header_bytes")

    def __init__(self, key: bytes, header: EnvelopeHeader) -> None:
        self._aead = AESGCM(key)
        nonces = nonce_source()
        self._pop_nonce, self._take_nonce = nonces.pop_stored, nonces.take
        self.header_bytes = header.encode()
        self._ad_head = _AD_PREFIX + self.header_bytes  # the associated data, up to the context

    def seal(self, plaintext: bytes, context: bytes, *trailer: bytes) -> bytes:
        """The envelope, followed by ``trailer`` (which is not sealed here) in one copy."""
        return self.seal_many(((plaintext, context, trailer),))[0]

    def seal_many(
        self, items: Iterable[tuple[bytes, bytes, tuple[bytes, ...]]], context_suffix: bytes = b""
    ) -> list[bytes]:
        """:meth:`seal` for each (plaintext, context, trailer) item, the context followed by
        ``context_suffix``: one tight loop, which keeps the cipher's code and tables in the
        processor's caches from one seal to the next (interleaved with other work, a seal
        cost over twice as much)."""
        pop, take, encrypt = self._pop_nonce, self._take_nonce, self._aead.encrypt
        head, header, join = self._ad_head, self.header_bytes, b"".join
        sealed = []
        for plaintext, context, trailer in items:
            try:
                nonce = pop()
            except IndexError:
                nonce = take()
            ciphertext = encrypt(nonce, plaintext, join((head, context, context_suffix)))
            sealed.append(join((header, nonce, ciphertext, *trailer)))
        return sealed

    def open(self, blob: bytes, context: bytes) -> bytes:
        offset = len(self.header_bytes)
        if blob[:offset] != self.header_bytes or len(blob) < offset + NONCE_BYTES + 16:
            raise SealedError("sealed value failed to open")
        nonce = blob[offset : offset + NONCE_BYTES]
        try:
            return self._aead.decrypt(
                nonce, blob[offset + NONCE_BYTES :], _AD_PREFIX + self.header_bytes + context
            )
        except (InvalidTag, ValueError):
            raise SealedError("sealed value failed to open") from None


def open_sealed(key: bytes, blob: bytes, context: bytes) -> bytes:
    """Open a value sealed by :func:`seal` with the same key and context, or raise."""
    _, offset = read_header(blob)
    return open_sealed_at(key, blob, offset, context)


def open_sealed_at(key: bytes, blob: bytes, offset: int, context: bytes) -> bytes:
    """:func:`open_sealed` for a blob whose header (ending at ``offset``) was already read."""
    header_bytes = blob[:offset]
    nonce = blob[offset : offset + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(
            nonce, blob[offset + NONCE_BYTES :], _AD_PREFIX + header_bytes + context
        )
    except (InvalidTag, ValueError):
        raise SealedError("sealed value failed to open") from None


def wrap_key(wrapping_key: bytes, key: bytes, context: bytes) -> bytes:
    """Wrap a key under another (AES-256-GCM, random nonce), bound to ``context``."""
    nonce = nonce_source().take()
    return nonce + AESGCM(wrapping_key).encrypt(nonce, key, b"caseledger/wrap\x00" + context)


def unwrap_key(wrapping_key: bytes, wrapped: bytes, context: bytes) -> bytes:
    """Unwrap a key wrapped by :func:`wrap_key`, or raise the opaque error."""
    try:
        return AESGCM(wrapping_key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"caseledger/wrap\x00" + context
        )
    except (InvalidTag, ValueError):
        raise SealedError("wrapped key failed to open") from None
