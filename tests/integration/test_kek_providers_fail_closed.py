"""Fail closed over HTTP: the token goes away mid-run, then comes back.

While it is away, nothing that needs a key answers 2xx (503 ``key_provider_unavailable``),
/readyz fails, no plaintext reaches a response, no event is stored, and nothing falls back to
a local keyring. When it is back the service answers again without a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import make_settings
from tests.api.support import PR, Auth, active_case, fact_body, ok, record, stored_events
from tests.softhsm import SoftHsmToken

GGZ = ("ggz", "deelnemer")
PROBLEM = "https://caseledger.example/problems/key-provider-unavailable"


@pytest.fixture
def hsm_settings(tmp_path: Path, softhsm_token: SoftHsmToken) -> Iterator[Settings]:
    config = softhsm_token.config
    yield from make_settings(
        tmp_path,
        "sqlite",
        kek_provider="pkcs11",
        pkcs11_module=config.module,
        pkcs11_token_label=config.token_label,
        pkcs11_pin_file=config.pin_file,
    )


def _refused(response: object, *secrets: str) -> None:
    status = getattr(response, "status_code", 0)
    text = getattr(response, "text", "")
    assert status == 503, (status, text)
    assert getattr(response, "json")()["type"] == PROBLEM  # noqa: B009 - a response object
    for secret in secrets:
        assert secret not in text


@pytest.mark.softhsm
class TestTokenAwayMidRun:
    """Reads and writes that need keys answer 503 while the token is away, then recover."""

    def test_fail_closed_and_recover(
        self, hsm_settings: Settings, softhsm_token: SoftHsmToken
    ) -> None:
        auth = Auth(hsm_settings)
        pin = softhsm_token.config.read_pin()
        with TestClient(create_app(hsm_settings)) as client:
            services = client.app.state.services  # type: ignore[attr-defined]
            setup = active_case(client, auth)
            record(client, auth, setup, GGZ, "before")
            secret = setup.canaries["before"]
            view = ok(client.get(f"/v1/cases/{setup.case_id}", headers=auth.headers(GGZ)))
            assert secret in str(view)
            assert ok(client.get("/readyz"))["checks"]["key_provider"] == "ok"
            assert not (hsm_settings.data_dir / "keyring.json").exists()  # no local keys
            events = stored_events(client)

            softhsm_token.take_away()
            # As once the cache lifetime has run out: every unwrapped key is dropped.
            services.ledger.keys.key_lifetime = 0.0

            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["key_provider"] == "unreachable"
            url = f"/v1/cases/{setup.case_id}"
            _refused(client.get(url, headers=auth.headers(GGZ)), secret, pin)
            body = fact_body(setup.subject_id, text="written while the token is away")
            _refused(client.post(f"{url}/facts", json=body, headers=auth.headers(GGZ)), secret, pin)
            opened = {"purpose": "zvh_joint_approach", "legal_basis": "wgs", "phase": 3}
            opened["referred_by"] = "politie"
            _refused(client.post("/v1/cases", json=opened, headers=auth.headers(PR)), pin)
            assert stored_events(client) == events  # nothing half-written
            assert not (hsm_settings.data_dir / "keyring.json").exists()  # no fallback

            softhsm_token.bring_back()
            assert ok(client.get("/readyz"))["checks"]["key_provider"] == "ok"
            view = ok(client.get(url, headers=auth.headers(GGZ)))
            assert secret in str(view)
            record(client, auth, setup, GGZ, "after")
            assert stored_events(client) > events
            ok(client.post("/v1/cases", json=opened, headers=auth.headers(PR)), 201)


class TestProviderSettings:
    """The provider is a setting; an incomplete PKCS#11 setting is refused at start-up."""

    def test_environment_names_the_token_and_hides_the_pin(self, tmp_path: Path) -> None:
        settings = Settings.from_environ(
            {
                "CASELEDGER_DATA_DIR": str(tmp_path),
                "CASELEDGER_KEK_PROVIDER": "pkcs11",
                "CASELEDGER_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
                "CASELEDGER_PKCS11_TOKEN_LABEL": "caseledger",
                "CASELEDGER_PKCS11_PIN": "864209-invented",
            }
        )
        config = settings.store_config()
        assert config.pkcs11 is not None
        assert config.pkcs11.token_label == "caseledger"
        assert "864209" not in repr(settings) + repr(config)
        assert Settings(data_dir=tmp_path).store_config().pkcs11 is None  # local by default

    @pytest.mark.parametrize(
        "missing",
        ["CASELEDGER_PKCS11_MODULE", "CASELEDGER_PKCS11_TOKEN_LABEL", "CASELEDGER_PKCS11_PIN"],
    )
    def test_incomplete_pkcs11_settings_are_refused(self, missing: str) -> None:
        environ = {
            "CASELEDGER_KEK_PROVIDER": "pkcs11",
            "CASELEDGER_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
            "CASELEDGER_PKCS11_TOKEN_LABEL": "caseledger",
            "CASELEDGER_PKCS11_PIN": "864209-invented",
        }
        del environ[missing]
        with pytest.raises(ValueError, match="pkcs11") as raised:
            Settings.from_environ(environ)
        assert "864209" not in str(raised.value)
