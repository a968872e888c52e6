"""The embedded identity provider: a local Ed25519 signing key, its JWKS, and tokens.

``caseledger init`` writes the private key (mode 0600) and the public JWKS into the data
directory; ``caseledger token`` signs short-lived tokens with it. Production deployments point
the API at their own issuer instead (``jwks_file`` / ``oidc_discovery_url``): the API only
ever verifies, with the same code for both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from api.settings import Settings

MAX_TTL_SECONDS = 24 * 3600


class SigningKeyError(Exception):
    """The local signing key is missing or unreadable."""


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK with an RFC 7638 thumbprint as ``kid``."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=")
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": kid.decode(),
        "alg": "EdDSA",
        "use": "sig",
    }


def create_local_signing_key(settings: Settings) -> bool:
    """Create the signing key and its JWKS if absent; True when a new key was made."""
    key_file, jwks_file = settings.signing_key_file, settings.local_jwks_file
    if key_file.exists():
        if not jwks_file.exists():
            _write(jwks_file, _jwks_document(_load_private(key_file)), mode=0o644)
        return False
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_file, pem, mode=0o600)
    _write(jwks_file, _jwks_document(key), mode=0o644)
    return True


def issue_token(
    settings: Settings,
    *,
    sub: str,
    org: str,
    roles: Sequence[str],
    ttl_seconds: int = 3600,
    now: datetime | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """A token signed with the local key, for the configured issuer and audience, with the
    partner and the roles under the configured claim names (dotted paths nest)."""
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
    key = _load_private(settings.signing_key_file)
    issued = now or datetime.now(tz=UTC)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": sub,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    _put_claim(claims, settings.token_partner_claim, org)
    _put_claim(claims, settings.token_roles_claim, list(roles))
    claims.update(extra_claims or {})
    kid = public_jwk(key.public_key())["kid"]
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def _put_claim(claims: dict[str, Any], path: str, value: object) -> None:
    *parents, name = path.split(".")
    for parent in parents:
        claims = claims.setdefault(parent, {})
    claims[name] = value


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise SigningKeyError(f"no usable signing key at {path}; run `caseledger init`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def _jwks_document(key: Ed25519PrivateKey) -> bytes:
    return json.dumps({"keys": [public_jwk(key.public_key())]}, indent=2).encode() + b"\n"


def _write(path: Path, data: bytes, *, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
