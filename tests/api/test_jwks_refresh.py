"""An issuer's JWKS is refreshed: a removed key stops verifying, a new kid is fetched, and
made-up kids cannot make the service hammer the issuer. No network, no sleeping: the fetch and
the monotonic clock are injected."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from api._auth import UNKNOWN_KID_REFETCH_SECONDS, AuthenticationError, OidcKeys, TokenVerifier
from api.settings import Settings
from policies import load_covenant, sample_covenant_path

ISSUER = "https://idp.example/realms/zvh"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
JWKS_URI = f"{ISSUER}/protocol/openid-connect/certs"
REFRESH = 300.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeIssuer:
    """Serves a discovery document and a JWKS whose keys the test adds and removes."""

    def __init__(self) -> None:
        self.private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.published: list[str] = []
        self.jwks_fetches = 0
        self.down = False

    def add(self, kid: str) -> None:
        self.private[kid] = ec.generate_private_key(ec.SECP256R1())
        self.published.append(kid)

    def remove(self, kid: str) -> None:
        self.published.remove(kid)

    def fetch(self, url: str) -> Any:
        if url == DISCOVERY:
            return {"issuer": ISSUER, "jwks_uri": JWKS_URI}
        assert url == JWKS_URI
        self.jwks_fetches += 1
        if self.down:
            raise httpx.ConnectError("issuer unreachable")
        keys = []
        for kid in self.published:
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private[kid].public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": keys}

    def token(self, kid: str, *, signer: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": "caseledger", "sub": "pr-anna", "org": "zvh",
            "roles": ["procesregisseur"], "iat": now, "exp": now + 600,
        }  # fmt: skip
        key = self.private[signer or kid]
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


@pytest.fixture
def issuer() -> FakeIssuer:
    issuer = FakeIssuer()
    issuer.add("k1")
    issuer.add("k2")
    return issuer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(issuer: FakeIssuer, clock: FakeClock) -> TokenVerifier:
    keys = OidcKeys(DISCOVERY, ISSUER, refresh_seconds=REFRESH, fetch=issuer.fetch, monotonic=clock)
    settings = Settings(token_issuer=ISSUER, token_algorithms=("ES256",))
    return TokenVerifier(keys, load_covenant(sample_covenant_path()), settings)


def _refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthenticationError) as raised:
        verifier.verify(token)
    return raised.value.code


class TestRemovedKey:
    """A key the issuer removed verifies until the refresh interval ends, then never again."""

    def test_removed_key_stops_verifying_after_the_refresh(
        self, issuer: FakeIssuer, clock: FakeClock, verifier: TokenVerifier
    ) -> None:
        old, kept = issuer.token("k1"), issuer.token("k2")
        assert verifier.verify(old).user == "pr-anna"
        issuer.remove("k1")
        clock.now += REFRESH - 1
        assert verifier.verify(old).user == "pr-anna"  # not refreshed yet
        assert issuer.jwks_fetches == 1
        clock.now += 1
        # The same token string, remembered by the verifier: still refused after the refresh.
        assert _refused(verifier, old) == "unknown_key"
        assert issuer.jwks_fetches == 2
        assert verifier.verify(kept).user == "pr-anna"

    def test_a_failed_refresh_keeps_the_last_keys_and_retries_later(
        self, issuer: FakeIssuer, clock: FakeClock, verifier: TokenVerifier
    ) -> None:
        token = issuer.token("k1")
        issuer.down = True
        clock.now += REFRESH
        assert verifier.verify(token).user == "pr-anna"
        assert verifier.verify(token).user == "pr-anna"
        assert issuer.jwks_fetches == 2  # one failed attempt, not one per request
        issuer.down = False
        issuer.remove("k1")
        clock.now += UNKNOWN_KID_REFETCH_SECONDS
        assert _refused(verifier, token) == "unknown_key"
        assert issuer.jwks_fetches == 3


class TestUnknownKid:
    """An unknown kid fetches the JWKS once; more unknown kids within the window fetch nothing."""

    def test_rotated_in_key_is_fetched_and_sprayed_kids_are_rate_limited(
        self, issuer: FakeIssuer, clock: FakeClock, verifier: TokenVerifier
    ) -> None:
        issuer.add("k3")
        issuer.add("made-up")  # signed by a key, but the issuer never publishes it
        issuer.remove("made-up")
        clock.now += UNKNOWN_KID_REFETCH_SECONDS
        assert verifier.verify(issuer.token("k3")).user == "pr-anna"
        assert issuer.jwks_fetches == 2
        clock.now += UNKNOWN_KID_REFETCH_SECONDS - 1
        for _ in range(20):
            assert _refused(verifier, issuer.token("made-up")) == "unknown_key"
        assert issuer.jwks_fetches == 2
        clock.now += 1
        assert _refused(verifier, issuer.token("made-up")) == "unknown_key"
        assert issuer.jwks_fetches == 3

    def test_unknown_kid_right_after_start_does_not_refetch(
        self, issuer: FakeIssuer, verifier: TokenVerifier
    ) -> None:
        issuer.add("k3")
        assert _refused(verifier, issuer.token("k3")) == "unknown_key"
        assert issuer.jwks_fetches == 1

    def test_a_known_kid_with_another_signature_is_refused(
        self, issuer: FakeIssuer, verifier: TokenVerifier
    ) -> None:
        assert _refused(verifier, issuer.token("k1", signer="k2")) == "signature"
        assert issuer.jwks_fetches == 1


class TestRefreshSetting:
    """The refresh interval is bounded and comes from CASELEDGER_JWKS_REFRESH_SECONDS."""

    def test_bounds(self) -> None:
        assert Settings().jwks_refresh_seconds == 300
        environ = {"CASELEDGER_JWKS_REFRESH_SECONDS": "60"}
        assert Settings.from_environ(environ).jwks_refresh_seconds == 60
        for bad in (0, -1, 86_401):
            with pytest.raises(ValueError, match="jwks_refresh_seconds"):
                Settings(jwks_refresh_seconds=bad)
