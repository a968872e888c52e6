"""One URL rule for OIDC discovery and the JWKS: parsed, https or plain http to loopback only."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api._auth import ConfigurationError, OidcKeys
from api._urls import UntrustedUrlError, require_trusted_url
from api.settings import Settings, SettingsError

ISSUER = "https://idp.example/realms/zvh"
DISCOVERY = "https://idp.example/realms/zvh/.well-known/openid-configuration"
JWKS = {
    "keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
         "kid": "idp-1", "alg": "EdDSA", "use": "sig"},
    ]
}  # fmt: skip

BAD = [
    "http://attacker.example/jwks?127.0.0.1",
    "http://127.0.0.1.attacker.example/jwks",
    "http://localhost.attacker.example/",
    "http://127.0.0.1@attacker.example/",
    "http://localhost@attacker.example/",
    "https://user:secret@idp.example/jwks",
    "http://10.0.0.1/jwks",
    "http://idp.example/jwks",
    "ftp://idp.example/jwks",
    "file:///etc/jwks.json",
    "https:///jwks",
    "https://:443/jwks",
    "idp.example/jwks",
    "http://127.0.0.1:port/jwks",
    "http://[::1/jwks",
    "https://idp.example/ jwks",
    "https://idp.example/\njwks",
]
GOOD = [
    "https://idp.example/realms/zvh/protocol/openid-connect/certs",
    "https://idp.example:8443/jwks?tenant=zvh",
    "http://127.0.0.1:8080/jwks",
    "http://127.3.2.1/jwks",
    "http://[::1]/jwks",
    "http://[::1]:8080/jwks",
    "http://localhost/jwks",
    "http://localhost:8080/.well-known/openid-configuration",
]


def _discovered(jwks_uri: str) -> OidcKeys:
    documents: dict[str, Any] = {
        DISCOVERY: {"issuer": ISSUER, "jwks_uri": jwks_uri},
        jwks_uri: JWKS,
    }
    return OidcKeys(DISCOVERY, ISSUER, fetch=documents.__getitem__)


class TestTheRule:
    """The pure function: bad URLs raise a one-line error naming the setting, good ones pass."""

    @pytest.mark.parametrize("url", BAD)
    def test_rejects(self, url: str) -> None:
        with pytest.raises(UntrustedUrlError) as raised:
            require_trusted_url(url, setting="CASELEDGER_X")
        message = str(raised.value)
        assert message.startswith("CASELEDGER_X: ")
        assert "\n" not in message
        assert "attacker" not in message
        assert "secret" not in message

    @pytest.mark.parametrize("url", GOOD)
    def test_accepts(self, url: str) -> None:
        assert require_trusted_url(url, setting="CASELEDGER_X") == url

    def test_never_echoes_the_query(self) -> None:
        with pytest.raises(UntrustedUrlError) as raised:
            require_trusted_url("http://idp.example/jwks?token=s3cr3t", setting="CASELEDGER_X")
        assert "s3cr3t" not in str(raised.value)


class TestDiscoverySetting:
    """CASELEDGER_OIDC_DISCOVERY_URL follows the rule, in Settings and from the environment."""

    @pytest.mark.parametrize("url", BAD)
    def test_rejects(self, url: str) -> None:
        with pytest.raises(ValidationError):
            Settings(oidc_discovery_url=url)
        with pytest.raises(SettingsError) as raised:
            Settings.from_environ({"CASELEDGER_OIDC_DISCOVERY_URL": url})
        assert str(raised.value).startswith("CASELEDGER_OIDC_DISCOVERY_URL: ")
        assert "attacker" not in str(raised.value)

    @pytest.mark.parametrize("url", GOOD)
    def test_accepts(self, url: str) -> None:
        assert Settings(oidc_discovery_url=url).oidc_discovery_url == url
        settings = Settings.from_environ({"CASELEDGER_OIDC_DISCOVERY_URL": url})
        assert settings.oidc_discovery_url == url


class TestJwksUri:
    """The jwks_uri a discovery document names follows the same rule (no fetch when it fails)."""

    @pytest.mark.parametrize("url", BAD)
    def test_rejects(self, url: str) -> None:
        with pytest.raises(ConfigurationError, match="jwks_uri: ") as raised:
            _discovered(url)
        assert "attacker" not in str(raised.value)

    @pytest.mark.parametrize("url", GOOD)
    def test_accepts(self, url: str) -> None:
        assert set(_discovered(url).keys) == {"idp-1"}

    @pytest.mark.parametrize("url", BAD)
    def test_discovery_url_is_checked_before_any_fetch(self, url: str) -> None:
        fetched: list[str] = []

        def fetch(address: str) -> Any:
            fetched.append(address)
            return {"issuer": ISSUER, "jwks_uri": GOOD[0]}

        with pytest.raises(ConfigurationError, match="CASELEDGER_OIDC_DISCOVERY_URL: "):
            OidcKeys(url, ISSUER, fetch=fetch)
        assert fetched == []
