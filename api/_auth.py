"""Bearer-token authentication: JWTs verified against a JWKS, claims checked against the covenant.

Threat model: anyone can send any token. A token is accepted only when its header names a key
id (``kid``) of the configured JWKS, its algorithm is on the allow-list *and* is the algorithm
of that key (no ``none``, no HS/RS confusion: no shared-secret algorithm is ever used), its
signature verifies, ``exp``/``iss``/``aud``/``sub`` are present and valid (``nbf`` is
optional, and honoured when present), and its partner and every one of its roles are declared
by the covenant for that partner. Which claims carry the partner and the roles is a setting
(``org`` and ``roles`` by default; Keycloak, Entra ID and ADFS differ). Every failure is the
same ``AuthenticationError`` (401); its code is for the request log and never carries token
content.

An issuer's JWKS is fetched again after a bounded interval, so a key the issuer removed stops
verifying, and on an unknown ``kid`` (rotation), at most once per ``UNKNOWN_KID_REFETCH_SECONDS``
so a client spraying made-up kids cannot make us hammer the issuer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from api._urls import UntrustedUrlError, require_trusted_url
from api.settings import Settings
from policies import Covenant, PartnerId, Principal, Role, RoleId, UserId

MAX_TOKEN_BYTES = 8192
CACHE_SIZE = 10_000
CACHE_SECONDS = 60.0
UNKNOWN_KID_REFETCH_SECONDS = 10.0
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
    """An OIDC issuer's JWKS, via discovery: fetched again once ``refresh_seconds`` have passed
    and on an unknown kid, never twice within ``UNKNOWN_KID_REFETCH_SECONDS``. A failed fetch
    keeps the keys from the last good one (and is retried no sooner than that)."""

    may_block = True

    def __init__(
        self,
        discovery_url: str,
        issuer: str,
        *,
        refresh_seconds: float = 300.0,
        fetch: Callable[[str], Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch or _get_json
        self._monotonic = monotonic
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        discovery = self._fetch(_trusted(discovery_url, "CASELEDGER_OIDC_DISCOVERY_URL"))
        if not isinstance(discovery, dict) or discovery.get("issuer") != issuer:
            raise ConfigurationError("OIDC discovery document does not name the token issuer")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ConfigurationError("OIDC discovery document names no jwks_uri")
        self._jwks_uri = _trusted(jwks_uri, "the OIDC discovery document's jwks_uri")
        self.keys = self._fetch_keys()
        self._fetched_at = self._attempted_at = self._monotonic()
        if not self.keys:
            raise ConfigurationError("the issuer's JWKS holds no usable signing key")

    def find(self, kid: str) -> jwt.PyJWK | None:
        now = self._monotonic()
        if kid not in self.keys or now - self._fetched_at >= self._refresh_seconds:
            self._refetch(now)
        return self.keys.get(kid)

    def _refetch(self, now: float) -> None:
        with self._lock:
            if now - self._attempted_at < UNKNOWN_KID_REFETCH_SECONDS:
                return
            self._attempted_at = now
            try:
                keys = self._fetch_keys()
            except (httpx.HTTPError, ValueError):
                return
            self.keys, self._fetched_at = keys, now

    def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        document = self._fetch(self._jwks_uri)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        return parse_jwks(document)


def _trusted(url: str, setting: str) -> str:
    try:
        return require_trusted_url(url, setting=setting)
    except UntrustedUrlError as error:
        raise ConfigurationError(str(error)) from None


def _get_json(url: str) -> Any:
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.json()


def key_source(settings: Settings) -> KeySource:
    """The configured verification keys; ConfigurationError when there are none."""
    if settings.oidc_discovery_url:
        try:
            return OidcKeys(
                settings.oidc_discovery_url,
                settings.token_issuer,
                refresh_seconds=settings.jwks_refresh_seconds,
            )
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
        self.partner_claim = settings.token_partner_claim
        self.roles_claim = settings.token_roles_claim
        self._verified: dict[str, _Verified] = {}

    def verify(self, token: str, *, on_behalf_of: str | None = None) -> Principal:
        """The token's principal (acting for ``on_behalf_of``), or AuthenticationError."""
        now = time.time()
        cached = self._verified.get(token)
        # A remembered token counts only while its key is still the one the source holds: a key
        # removed from the issuer's JWKS stops verifying at the refresh, not a minute later.
        if cached is None or now >= cached.until or self.keys.find(cached.kid) is not cached.key:
            cached = self._verify(token, now)
            if len(self._verified) >= CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = cached
        acting_for = UserId(on_behalf_of) if on_behalf_of else None
        return replace(cached.principal, on_behalf_of=acting_for)

    def _verify(self, token: str, now: float) -> _Verified:
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise AuthenticationError("token_size")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("token_malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise AuthenticationError("algorithm_not_allowed")
        if not isinstance(kid, str):
            raise AuthenticationError("unknown_key")
        key = self.keys.find(kid)
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
                # nbf is optional (not every issuer sends it); PyJWT still refuses a token
                # whose nbf is in the future.
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise AuthenticationError(_code(error)) from None
        # Remembered until its exp, at most a minute.
        until = min(float(claims["exp"]), now + CACHE_SECONDS)
        return _Verified(self._principal(claims), until, kid, key)

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        sub = claims.get("sub")
        org = find_claim(claims, self.partner_claim)
        roles = find_claim(claims, self.roles_claim)
        if not isinstance(sub, str) or not _PRINTABLE_ID.match(sub):
            raise AuthenticationError("sub_invalid")
        if not isinstance(org, str) or not self.covenant.is_partner(org):
            raise AuthenticationError("org_not_in_covenant")
        if isinstance(roles, str):
            roles = [roles]  # ADFS sends a single role as a plain string
        if not isinstance(roles, list) or not 0 < len(roles) <= 16:
            raise AuthenticationError("roles_invalid")
        for role in roles:
            if not isinstance(role, str) or role not in _ROLES:
                raise AuthenticationError("role_unknown")
            if not self.covenant.may_hold_role(org, role):
                raise AuthenticationError("role_not_in_covenant")
        return Principal(UserId(sub), PartnerId(org), frozenset(RoleId(r) for r in roles))


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    until: float
    kid: str
    key: jwt.PyJWK


def find_claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim ``name``, or else the claim at its dotted path (``realm_access.roles``); None
    when absent. The whole name is tried first: ADFS claim names are URIs with dots in them."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


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
