"""Bearer-token authentication: JWTs verified against a JWKS, claims checked against the covenant.

Threat model: anyone can send any token. A token is accepted only when its header names a key
id (``kid``) of the configured JWKS, its algorithm is on the allow-list *and* is the algorithm
of that key (no ``none``, no HS/RS confusion: no shared-secret algorithm is ever used), its
signature verifies, ``exp``/``nbf``/``iss``/``aud``/``sub`` are present and valid, and its
``org`` and every one of its ``roles`` are declared by the covenant for that partner. Every
failure is the same ``AuthenticationError`` (401); its code is for the request log and never
carries token content.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from api.settings import Settings
from policies import Covenant, PartnerId, Principal, Role, RoleId, UserId

MAX_TOKEN_BYTES = 8192
CACHE_SIZE = 10_000
CACHE_SECONDS = 60.0
_PRINTABLE_ID = re.compile(r"^[\x21-\x7e]{1,255}$")
_ROLES = frozenset(str(r) for r in Role)


class AuthenticationError(Exception):
    """The caller is not authenticated. ``code`` names the failed check (for logs only)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ConfigurationError(Exception):
    """The service has no usable way to verify tokens; it refuses to start."""


class KeySource(Protocol):
    #: True when ``find`` may wait on the network (then callers keep it off the event loop).
    may_block: bool

    def find(self, kid: str) -> jwt.PyJWK | None: ...


def parse_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """Signing keys by ``kid``; keys without a kid or of unsupported types are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    for raw in document.get("keys", []):
        if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str):
            continue
        if raw.get("use", "sig") != "sig":
            continue
        try:
            keys[raw["kid"]] = jwt.PyJWK(raw)
        except jwt.PyJWTError:
            continue
    return keys


class StaticKeys:
    """A JWKS read once from a file (the embedded default, or a mounted issuer JWKS)."""

    may_block = False

    def __init__(self, path: Path) -> None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ConfigurationError(f"cannot read the JWKS file {path}") from None
        self.keys = parse_jwks(document)
        if not self.keys:
            raise ConfigurationError(f"the JWKS file {path} holds no usable signing key")

    def find(self, kid: str) -> jwt.PyJWK | None:
        return self.keys.get(kid)


class OidcKeys:
    """An OIDC issuer's JWKS, via discovery; refreshed (rate-limited) on an unknown kid."""

    may_block = True

    def __init__(
        self, discovery_url: str, issuer: str, *, fetch: Callable[[str], Any] | None = None
    ) -> None:
        self._fetch = fetch or _get_json
        self._lock = threading.Lock()
        self._fetched_at = 0.0
        discovery = self._fetch(discovery_url)
        if not isinstance(discovery, dict) or discovery.get("issuer") != issuer:
            raise ConfigurationError("OIDC discovery document does not name the token issuer")
        self._jwks_uri = str(discovery.get("jwks_uri", ""))
        if not self._jwks_uri.startswith("https://") and "127.0.0.1" not in self._jwks_uri:
            raise ConfigurationError("OIDC jwks_uri must be https")
        self.keys: dict[str, jwt.PyJWK] = {}
        self._refresh()
        if not self.keys:
            raise ConfigurationError("the issuer's JWKS holds no usable signing key")

    def _refresh(self) -> None:
        self.keys = parse_jwks(self._fetch(self._jwks_uri))
        self._fetched_at = time.monotonic()

    def find(self, kid: str) -> jwt.PyJWK | None:
        key = self.keys.get(kid)
        if key is None and time.monotonic() - self._fetched_at > 60:
            with self._lock:
                try:
                    self._refresh()
                except (httpx.HTTPError, ValueError):
                    return None
            key = self.keys.get(kid)
        return key


def _get_json(url: str) -> Any:
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.json()


def key_source(settings: Settings) -> KeySource:
    """The configured verification keys; ConfigurationError when there are none."""
    if settings.oidc_discovery_url:
        try:
            return OidcKeys(settings.oidc_discovery_url, settings.token_issuer)
        except (httpx.HTTPError, ValueError) as error:
            raise ConfigurationError(f"OIDC discovery failed ({type(error).__name__})") from None
    path = settings.jwks_file
    if path is None and settings.local_jwks_file.exists():
        path = settings.local_jwks_file
    if path is None:
        raise ConfigurationError(
            "no token verification key configured: set CASELEDGER_JWKS_FILE or "
            "CASELEDGER_OIDC_DISCOVERY_URL, or run `caseledger init` for a local key"
        )
    return StaticKeys(path)


class TokenVerifier:
    """Turns a bearer token into a covenant-checked ``Principal`` or raises."""

    def __init__(self, keys: KeySource, covenant: Covenant, settings: Settings) -> None:
        self.keys = keys
        self.covenant = covenant
        self.issuer = settings.token_issuer
        self.audience = settings.token_audience
        self.algorithms = frozenset(settings.token_algorithms)
        self.leeway = settings.token_leeway_seconds
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str, *, on_behalf_of: str | None = None) -> Principal:
        """The token's principal (acting for ``on_behalf_of``), or AuthenticationError."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and now < cached[1]:
            return replace(cached[0], on_behalf_of=UserId(on_behalf_of) if on_behalf_of else None)
        principal, expires = self._verify(token)
        if len(self._verified) >= CACHE_SIZE:
            self._verified.clear()
        # A verified token is remembered until its exp, at most a minute (key rotation).
        self._verified[token] = (principal, min(expires, now + CACHE_SECONDS))
        return replace(principal, on_behalf_of=UserId(on_behalf_of) if on_behalf_of else None)

    def _verify(self, token: str) -> tuple[Principal, float]:
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise AuthenticationError("token_size")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("token_malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise AuthenticationError("algorithm_not_allowed")
        key = self.keys.find(kid) if isinstance(kid, str) else None
        if key is None:
            raise AuthenticationError("unknown_key")
        if key.algorithm_name != algorithm:
            raise AuthenticationError("algorithm_key_mismatch")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "nbf", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise AuthenticationError(_code(error)) from None
        return self._principal(claims), float(claims["exp"])

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        sub, org, roles = claims.get("sub"), claims.get("org"), claims.get("roles")
        if not isinstance(sub, str) or not _PRINTABLE_ID.match(sub):
            raise AuthenticationError("sub_invalid")
        if not isinstance(org, str) or not self.covenant.is_partner(org):
            raise AuthenticationError("org_not_in_covenant")
        if not isinstance(roles, list) or not 0 < len(roles) <= 16:
            raise AuthenticationError("roles_invalid")
        for role in roles:
            if not isinstance(role, str) or role not in _ROLES:
                raise AuthenticationError("role_unknown")
            if not self.covenant.may_hold_role(org, role):
                raise AuthenticationError("role_not_in_covenant")
        return Principal(UserId(sub), PartnerId(org), frozenset(RoleId(r) for r in roles))


def is_printable_id(value: str) -> bool:
    """Visible ASCII, 1-255 characters: what user ids (``sub``, on-behalf-of) may contain."""
    return bool(_PRINTABLE_ID.match(value))


def _code(error: jwt.PyJWTError) -> str:
    codes: list[tuple[type[jwt.PyJWTError], str]] = [
        (jwt.ExpiredSignatureError, "expired"),
        (jwt.ImmatureSignatureError, "not_yet_valid"),
        (jwt.InvalidAudienceError, "audience"),
        (jwt.InvalidIssuerError, "issuer"),
        (jwt.MissingRequiredClaimError, "claim_missing"),
        (jwt.InvalidSignatureError, "signature"),
    ]
    for kind, code in codes:
        if isinstance(error, kind):
            return code
    return "token_invalid"
