"""The access log's keys and Ed25519 signatures: checkpoints, witnesses, signed documents.

The only part of the access log that touches ``cryptography`` (see the import-linter
contract in pyproject.toml). The audit keys live in their own file, outside every database:
the pseudonym key (from which the chain key is derived) and the checkpoint signing key.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger._audit_entries import Checkpoint, chain_link


@dataclass
class AuditKeys:
    """The log's secrets: pseudonym HMAC key, Ed25519 signing key and the log id."""

    log_id: str
    pseudonym_key: bytes
    signing_key: Ed25519PrivateKey
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load_or_create(cls, path: Path) -> AuditKeys:
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(
                raw["log_id"],
                base64.b64decode(raw["pseudonym_key"]),
                Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw["signing_key"])),
            )
        keys = cls(uuid.uuid4().hex, os.urandom(32), Ed25519PrivateKey.generate())
        from cryptography.hazmat.primitives import serialization

        raw_private = keys.signing_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        document = {
            "log_id": keys.log_id,
            "pseudonym_key": base64.b64encode(keys.pseudonym_key).decode(),
            "signing_key": base64.b64encode(raw_private).decode(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(document).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return keys

    @property
    def chain_key(self) -> bytes:
        """The key of the hash chain (derived from the pseudonym key, domain-separated)."""
        return hmac.digest(self.pseudonym_key, b"caseledger/access-log-chain", "sha256")

    def chain_link(self) -> Callable[[bytes, bytes], bytes]:
        """``link(prev, canonical) = HMAC-SHA256(chain_key, prev || canonical)``, fast."""
        return chain_link(self.chain_key)

    def public_key_b64(self) -> str:
        from cryptography.hazmat.primitives import serialization

        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()


def checkpoint_of(
    keys: AuditKeys, seq: int, head: bytes, time: str, signature: bytes
) -> Checkpoint:
    """The checkpoint of this log at ``seq`` (head hash ``head``), as stored or exported."""
    return Checkpoint(
        keys.log_id,
        seq,
        head.hex(),
        time,
        base64.b64encode(signature).decode(),
        keys.public_key_b64(),
    )


def check_checkpoint(
    cp: Checkpoint, public: Ed25519PublicKey, chain_hash: bytes | None
) -> str | None:
    try:
        public.verify(base64.b64decode(cp.signature), cp.signed_message())
    except (InvalidSignature, ValueError):
        return "checkpoint signature invalid"
    if chain_hash is None and cp.seq != 0:
        return "checkpoint refers to a missing entry"
    if cp.seq != 0 and chain_hash is not None and chain_hash.hex() != cp.hash:
        return "checkpoint does not match the chain"
    return None


def check_witness(
    witness: Checkpoint,
    keys: AuditKeys,
    public: Ed25519PublicKey,
    count: int,
    hash_at_seq: bytes | None,
) -> str | None:
    if witness.log_id != keys.log_id or witness.public_key != keys.public_key_b64():
        return "witness belongs to another log"
    try:
        public.verify(base64.b64decode(witness.signature), witness.signed_message())
    except (InvalidSignature, ValueError):
        return "witness signature invalid"
    if witness.seq > count:
        return "log is shorter than the witness (rolled back)"
    if witness.seq > 0 and (hash_at_seq is None or hash_at_seq.hex() != witness.hash):
        return "log differs from the witness (forked)"
    return None


def sign_document(keys: AuditKeys, document: dict[str, Any]) -> dict[str, Any]:
    """Wrap a JSON document with an Ed25519 signature over its canonical form."""
    signature = keys.signing_key.sign(_canonical_json(document))
    return {
        "document": document,
        "algorithm": "Ed25519",
        "signature": base64.b64encode(signature).decode(),
        "public_key": keys.public_key_b64(),
        "log_id": keys.log_id,
    }


def verify_document(signed: dict[str, Any], public_key_b64: str) -> bool:
    """True when ``signed`` carries a valid signature by the given public key."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(signed["signature"]), _canonical_json(signed["document"]))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


def _canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
