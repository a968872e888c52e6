"""Issue 18 item 11: reloading a changed covenant (SIGHUP) keeps the old one until the new one
validates; what is decided, written and logged afterwards records the covenant in force."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from api._covenant_reload import reload_and_log
from api._tokens import create_local_signing_key
from api.app import create_app
from api.settings import Settings
from policies import load_covenant, sample_covenant_path
from tests.api.support import PR, Auth, ok, open_case

SAMPLE = Path(str(sample_covenant_path()))


def edited(text: str, version: int) -> str:
    changed = text.replace("version = 1\n", f"version = {version}\n", 1)
    assert changed != text
    return changed


@pytest.fixture
def covenant_file(tmp_path: Path) -> Path:
    path = tmp_path / "covenant.toml"
    shutil.copyfile(SAMPLE, path)
    return path


@pytest.fixture
def settings(tmp_path: Path, covenant_file: Path) -> Settings:
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "data", "covenant_path": covenant_file}
    )
    create_local_signing_key(settings)
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def in_force(client: TestClient) -> str:
    return str(client.app.state.services.covenant.reference)  # type: ignore[attr-defined]


def case_event_covenants(client: TestClient, case_id: str) -> list[str]:
    ledger = client.app.state.services.ledger  # type: ignore[attr-defined]
    return [e.covenant for e in ledger.events.get(UUID(case_id))]


def last_log_covenant(client: TestClient) -> str:
    log = client.app.state.services.access_log  # type: ignore[attr-defined]
    return str(log.entries(after=log.count() - 1)[0].covenant)


def read_case(client: TestClient, auth: Auth, case_id: str) -> None:
    ok(client.get(f"/v1/cases/{case_id}", headers=auth.headers(PR)))


class TestReload:
    def test_a_valid_change_is_put_in_force(
        self, client: TestClient, settings: Settings, covenant_file: Path
    ) -> None:
        auth = Auth(settings)
        first = in_force(client)
        case_id = open_case(client, auth)
        read_case(client, auth, case_id)
        assert last_log_covenant(client) == first

        covenant_file.write_text(edited(SAMPLE.read_text(), 2))
        assert reload_and_log(client.app) is True  # type: ignore[arg-type]

        second = in_force(client)
        assert second.startswith("2:")
        assert second == load_covenant(covenant_file).reference
        ok(
            client.post(
                f"/v1/cases/{case_id}/triage",
                json={"decision": "accept", "reason": "complex"},
                headers=auth.headers(PR),
            )
        )
        read_case(client, auth, case_id)
        assert case_event_covenants(client, case_id) == [first, second]
        assert last_log_covenant(client) == second
        assert client.app.state.verifier.covenant.reference == second  # type: ignore[attr-defined]

    def test_an_invalid_file_keeps_the_old_covenant(
        self,
        client: TestClient,
        settings: Settings,
        covenant_file: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        auth = Auth(settings)
        first = in_force(client)
        covenant_file.write_text(edited(SAMPLE.read_text(), 3).replace("[retention]", "[retention"))

        with caplog.at_level(logging.INFO, logger="caseledger.http"):
            assert reload_and_log(client.app) is False  # type: ignore[arg-type]

        assert in_force(client) == first
        (record,) = [r for r in caplog.records if r.getMessage() == "covenant_reload_refused"]
        assert record.levelno == logging.WARNING
        assert record.fields["in_force"] == first  # type: ignore[attr-defined]
        assert record.fields["problems"]  # type: ignore[attr-defined]
        case_id = open_case(client, auth)  # still serving, under the old covenant
        assert case_event_covenants(client, case_id) == [first]

    def test_a_missing_file_keeps_the_old_covenant(
        self, client: TestClient, covenant_file: Path
    ) -> None:
        first = in_force(client)
        covenant_file.unlink()
        assert reload_and_log(client.app) is False  # type: ignore[arg-type]
        assert in_force(client) == first


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class TestHangupWhileServing:
    """A real ``caseledger serve`` process reloads on SIGHUP."""

    def test_sighup_reloads_or_keeps(
        self, tmp_path: Path, settings: Settings, covenant_file: Path
    ) -> None:
        port = free_port()
        log_path = tmp_path / "serve.log"
        env = {
            **os.environ,
            "CASELEDGER_DATA_DIR": str(settings.data_dir),
            "CASELEDGER_COVENANT": str(covenant_file),
        }
        caseledger = Path(sys.executable).parent / "caseledger"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [str(caseledger), "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            url = f"http://127.0.0.1:{port}/healthz"

            def healthy() -> bool:
                try:
                    return httpx.get(url, timeout=1).status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(healthy, "the server to start")
            covenant_file.write_text(edited(SAMPLE.read_text(), 2))
            server.send_signal(signal.SIGHUP)
            wait_for(lambda: b"covenant_reloaded" in log_path.read_bytes(), "the reload")
            assert b'"in_force":"2:' in log_path.read_bytes()

            covenant_file.write_text("version = ")
            server.send_signal(signal.SIGHUP)
            wait_for(lambda: b"covenant_reload_refused" in log_path.read_bytes(), "the refusal")
            assert healthy()
            assert server.poll() is None
        finally:
            server.terminate()
            server.wait(timeout=30)
