"""Token attacks: every forged, stale, misdirected or over-claiming token is a 401."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient

from api._auth import ConfigurationError
from api._tokens import issue_token, public_jwk
from api.app import create_app
from api.settings import Settings
from tests.api.support import Auth

URL = "/v1/cases"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(settings: Settings, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.token_issuer, "aud": settings.token_audience, "sub": "pr-anna",
        "org": "zvh", "roles": ["procesregisseur"], "iat": now, "nbf": now, "exp": now + 600,
    }  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _local_key(settings: Settings) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(settings.signing_key_file.read_bytes(), None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


def _signed(settings: Settings, **changes: object) -> str:
    key = _local_key(settings)
    kid = public_jwk(key.public_key())["kid"]
    return jwt.encode(_claims(settings, **changes), key, algorithm="EdDSA", headers={"kid": kid})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Purpose": "zvh_joint_approach"}


def _attacks(settings: Settings) -> dict[str, Callable[[], str]]:
    key = _local_key(settings)
    kid = public_jwk(key.public_key())["kid"]
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())

    def unsigned() -> str:
        header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(_claims(settings)).encode())}."

    def hs_confusion() -> str:
        header = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
        payload = _b64(json.dumps(_claims(settings)).encode())
        import hashlib
        import hmac

        signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def tampered() -> str:
        header, payload, signature = _signed(settings, roles=["melder"], org="politie").split(".")
        forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
        forged.update({"org": "zvh", "roles": ["procesregisseur"]})
        return f"{header}.{_b64(json.dumps(forged).encode())}.{signature}"

    def foreign(algorithm: str, private: object) -> Callable[[], str]:
        return lambda: jwt.encode(_claims(settings), private, algorithm=algorithm,  # type: ignore[arg-type]
                                  headers={"kid": kid})  # fmt: skip

    return {
        "alg_none": unsigned,
        "hs256_with_public_key": hs_confusion,
        "expired": lambda: _signed(settings, exp=now - 3600, nbf=now - 7200, iat=now - 7200),
        "future_nbf": lambda: _signed(settings, nbf=now + 3600, iat=now),
        "wrong_issuer": lambda: _signed(settings, iss="https://evil.example"),
        "wrong_audience": lambda: _signed(settings, aud="someone-else"),
        "missing_exp": lambda: _signed(settings, exp=None),
        "missing_aud": lambda: _signed(settings, aud=None),
        "unknown_kid": lambda: jwt.encode(
            _claims(settings), key, algorithm="EdDSA", headers={"kid": "nope"}
        ),
        "no_kid": lambda: jwt.encode(_claims(settings), key, algorithm="EdDSA"),
        "other_ed25519_key": foreign("EdDSA", ed25519.Ed25519PrivateKey.generate()),
        "es256_other_key": foreign("ES256", ec.generate_private_key(ec.SECP256R1())),
        "rs256_other_key": foreign("RS256", rsa.generate_private_key(65537, 2048)),
        "partner_not_in_covenant": lambda: _signed(settings, org="mafia"),
        "role_not_for_partner": lambda: _signed(settings, org="politie", roles=["procesregisseur"]),
        "role_unknown": lambda: _signed(settings, roles=["admin"]),
        "client_role_nobody_holds": lambda: _signed(settings, org="politie", roles=["client"]),
        "no_roles": lambda: _signed(settings, roles=[]),
        "roles_not_a_list_or_string": lambda: _signed(settings, roles={"procesregisseur": 1}),
        "sub_with_control_chars": lambda: _signed(settings, sub="anna\x1fx"),
        "tampered_payload": tampered,
        "truncated": lambda: _signed(settings).rsplit(".", 1)[0],
        "garbage": lambda: "not.a.token",
        "oversized": lambda: _signed(settings, pad="x" * 9000),
    }  # fmt: skip


class TestTokenAttacks:
    """100 % of attacks rejected with 401, nothing stored; a good token still works."""

    def test_every_attack_is_a_401(
        self, client: TestClient, api_settings: Settings, auth: Auth
    ) -> None:
        body = {
            "purpose": "zvh_joint_approach",
            "legal_basis": "wgs",
            "referred_by": "politie",
            "phase": 3,
        }
        attacks = _attacks(api_settings)
        rejected = []
        for name, make in attacks.items():
            headers = {"Authorization": f"Bearer {make()}", "X-Purpose": "zvh_joint_approach"}
            response = client.post(URL, json=body, headers=headers)
            if response.status_code == 401 and response.headers["www-authenticate"].startswith(
                "Bearer"
            ):
                rejected.append(name)
        print(f"token attacks rejected: {len(rejected)}/{len(attacks)}")
        assert sorted(rejected) == sorted(attacks)
        assert (
            client.get("/v1/cases", headers=auth.headers(("zvh", "procesregisseur"))).status_code
            == 200
        )
        assert (
            client.post(
                URL, json=body, headers={"Authorization": "Basic eDp5", "X-Purpose": "x"}
            ).status_code
            == 401
        )

    def test_on_behalf_of_is_recorded_and_checked(self, client: TestClient, auth: Auth) -> None:
        headers = auth.headers(("zvh", "procesregisseur"), X_On_Behalf_Of="pr-anna")
        assert client.get("/v1/cases", headers=headers).status_code == 200
        bad = {**headers, "X-On-Behalf-Of": "two words"}
        assert client.get("/v1/cases", headers=bad).status_code == 400


class TestTimeClaims:
    """exp is required; nbf is optional, and a future nbf is refused."""

    def test_token_without_nbf_is_accepted(
        self, sqlite_client: TestClient, sqlite_settings: Settings
    ) -> None:
        token = _signed(sqlite_settings, nbf=None)
        assert sqlite_client.get(URL, headers=_bearer(token)).status_code == 200

    def test_token_without_exp_or_with_future_nbf_is_refused(
        self, sqlite_client: TestClient, sqlite_settings: Settings
    ) -> None:
        now = int(time.time())
        for token in (_signed(sqlite_settings, exp=None), _signed(sqlite_settings, nbf=now + 3600)):
            assert sqlite_client.get(URL, headers=_bearer(token)).status_code == 401


class TestClaimNames:
    """The partner and role claims are settings; dotted names reach into nested claims."""

    def test_keycloak_style_nested_claims(self, sqlite_settings: Settings) -> None:
        settings = sqlite_settings.model_copy(
            update={
                "token_partner_claim": "tenant.partner",
                "token_roles_claim": "realm_access.roles",
            }
        )
        nested = _signed(
            settings,
            org=None,
            roles=None,
            tenant={"partner": "zvh"},
            realm_access={"roles": ["procesregisseur"]},
        )
        flat = _signed(settings)
        issued = issue_token(settings, sub="pr-anna", org="zvh", roles=["procesregisseur"])
        with TestClient(create_app(settings)) as client:
            assert client.get(URL, headers=_bearer(nested)).status_code == 200
            assert client.get(URL, headers=_bearer(issued)).status_code == 200
            assert client.get(URL, headers=_bearer(flat)).status_code == 401

    def test_a_claim_name_with_dots_is_matched_whole_first(self, sqlite_settings: Settings) -> None:
        adfs_role = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
        settings = sqlite_settings.model_copy(update={"token_roles_claim": adfs_role})
        token = _signed(settings, roles=None, **{adfs_role: ["procesregisseur"]})
        with TestClient(create_app(settings)) as client:
            assert client.get(URL, headers=_bearer(token)).status_code == 200
            assert client.get(URL, headers=_bearer(_signed(settings))).status_code == 401

    def test_a_single_role_may_be_a_plain_string(self, sqlite_settings: Settings) -> None:
        one = _signed(sqlite_settings, roles="procesregisseur")
        undeclared = _signed(sqlite_settings, roles="melder")
        empty = _signed(sqlite_settings, roles="")
        with TestClient(create_app(sqlite_settings)) as client:
            assert client.get(URL, headers=_bearer(one)).status_code == 200
            assert client.get(URL, headers=_bearer(undeclared)).status_code == 401
            assert client.get(URL, headers=_bearer(empty)).status_code == 401

    def test_claim_settings_from_the_environment(self) -> None:
        settings = Settings.from_environ(
            {"CASELEDGER_TOKEN_PARTNER_CLAIM": "tid", "CASELEDGER_TOKEN_ROLES_CLAIM": "a.b"}
        )
        assert (settings.token_partner_claim, settings.token_roles_claim) == ("tid", "a.b")
        for bad in ("", "a..b", ".roles", "roles.", "has space"):
            with pytest.raises(ValueError, match="claim name"):
                Settings(token_roles_claim=bad)


class TestConfiguration:
    """No verification key, no service; only asymmetric algorithms can be configured."""

    def test_refuses_to_start_without_a_key(self, tmp_path: Path, api_settings: Settings) -> None:
        bare = api_settings.model_copy(update={"data_dir": tmp_path / "empty"})
        with pytest.raises(ConfigurationError):
            create_app(bare)

    def test_rejects_shared_secret_algorithms(self) -> None:
        with pytest.raises(ValueError, match="allowed algorithms"):
            Settings(token_algorithms=("HS256",))

    def test_jwks_file_of_another_issuer(self, tmp_path: Path, api_settings: Settings) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        jwks = tmp_path / "issuer-jwks.json"
        jwks.write_text(
            json.dumps({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "ES256"}]})
        )
        settings = api_settings.model_copy(
            update={"jwks_file": jwks, "token_issuer": "https://idp.example"}
        )
        token = jwt.encode(_claims(settings), key, algorithm="ES256", headers={"kid": "idp-1"})
        local = issue_token(api_settings, sub="x", org="zvh", roles=["procesregisseur"])
        with TestClient(create_app(settings)) as client:
            headers = {"Authorization": f"Bearer {token}", "X-Purpose": "zvh_joint_approach"}
            assert client.get(URL, headers=headers).status_code == 200
            headers["Authorization"] = f"Bearer {local}"
            assert client.get(URL, headers=headers).status_code == 401
