"""Hostile input: 4xx only, nothing stored, every log line one escaped JSON object."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api._logging import LOGGER_NAME, JsonFormatter
from tests.api.support import PR, Auth, active_case, fact_body, stored_events


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _raw(client: TestClient, method: str, path: str, headers: list[tuple[bytes, bytes]],
         body: bytes = b"") -> int:  # fmt: skip
    """Send a request the HTTP client libraries would refuse to build (straight to ASGI)."""
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode("latin-1"), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("t", 80),
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    return int(messages[0]["status"])


class TestBodies:
    """Oversized, deeply nested, badly encoded or control-character bodies are refused."""

    def test_bad_bodies_are_4xx_and_store_nothing(
        self, client: TestClient, auth: Auth, log_lines: io.StringIO
    ) -> None:
        setup = active_case(client, auth)
        url = f"/v1/cases/{setup.case_id}/facts"
        before = stored_events(client)
        good = fact_body(setup.subject_id)
        headers = {**auth.headers(PR), "Content-Type": "application/json"}

        def with_text(text: str) -> bytes:
            return json.dumps({**good, "body": {"text": text}}).encode()

        def nested(depth: int) -> bytes:
            document = json.dumps({**good, "body": "PLACE"}).encode()
            return document.replace(b'"PLACE"', b"[" * depth + b"]" * depth)

        def chunks() -> Iterator[bytes]:
            for _ in range(100):
                yield b" " * 1024

        bodies: dict[str, Any] = {
            "oversized": json.dumps({**good, "body": "x" * 70_000}).encode(),
            "nested_10000": nested(10_000),
            "nested_40": nested(40),
            "invalid_utf8": with_text("ok").replace(b"ok", b"\xff\xfe\xc3"),
            "overlong_utf8": with_text("ok").replace(b"ok", b"\xc0\xaf"),
            "lone_surrogate": with_text("PLACE").replace(b"PLACE", b"\\ud800"),
            "nul_escape": with_text("a\x00b"),
            "bell": with_text("a\x07b"),
            "c1_control": with_text("a\x85b"),
            "bidi_override": with_text("abc\u202edef"),
            "bidi_isolate": with_text("abc\u2066def"),
            "control_in_key": json.dumps({**good, "body": {"k\x1bey": 1}}).encode(),
            "raw_control": with_text("PLACE").replace(b"PLACE", b"\x01"),
            "not_json": b"{not json",
            "streamed_oversized": chunks(),
        }  # fmt: skip
        statuses = {}
        for name, body in bodies.items():
            response = client.post(url, content=body, headers=headers)
            statuses[name] = response.status_code
            assert 400 <= response.status_code < 500, (name, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"
        assert statuses["oversized"] == statuses["streamed_oversized"] == 413
        assert statuses["invalid_utf8"] == statuses["not_json"] == 400
        assert statuses["nested_10000"] == statuses["lone_surrogate"] == statuses["bell"] == 422
        wrong_type = client.post(
            url, content=with_text("ok"), headers={**headers, "Content-Type": "text/plain"}
        )
        assert wrong_type.status_code == 415
        assert stored_events(client) == before
        lines = log_lines.getvalue().splitlines()
        assert len(lines) >= len(bodies)
        for line in lines:
            assert line.isascii()
            assert json.loads(line)["event"] in ("request", "unhandled")

    def test_json_depth_limit_allows_ordinary_bodies(self, client: TestClient, auth: Auth) -> None:
        setup = active_case(client, auth)
        body = fact_body(setup.subject_id)
        body["body"] = {"a": [[[[{"b": "newline\nand\ttab are fine"}]]]]}
        response = client.post(
            f"/v1/cases/{setup.case_id}/facts", json=body, headers=auth.headers(PR)
        )
        assert response.status_code == 201


class TestHeaders:
    """CR/LF and control characters in headers, bidi in free-text headers: 400."""

    def test_crlf_and_controls_in_headers(
        self, client: TestClient, auth: Auth, log_lines: io.StringIO
    ) -> None:
        token = auth.token(*PR).encode()
        base = [
            (b"authorization", b"Bearer " + token),
            (b"host", b"t"),
            (b"x-purpose", b"zvh_joint_approach"),
        ]
        for name, value in [
            (b"x-purpose", b"zvh_joint_approach\r\nX-Injected: 1"),
            (b"x-on-behalf-of", b"anna\nbob"),
            (b"x-emergency-reason", b"acute\x00risk"),
            (b"idempotency-key", b"key\rx"),
            (b"x-request-id", b"abc\x1b[31mred"),
            (b"x-emergency-reason", b"not utf-8 \xff\xfe"),
        ]:
            assert _raw(client, "GET", "/v1/cases", [*base, (name, value)]) == 400
        assert _raw(client, "GET\r\nX", "/v1/cases\x1b[2J", base) in (400, 404, 405)
        for line in log_lines.getvalue().splitlines():
            assert line.isascii()
            assert "\x1b" not in line
            assert json.loads(line)
        assert stored_events(client) == 0

    def test_emergency_reason_is_short_ascii(self, client: TestClient, auth: Auth) -> None:
        headers = auth.headers(PR)
        for reason in ["abc\u202edef".encode(), b"x" * 600, "één".encode()]:
            response = client.get("/v1/cases", headers={**headers, "X-Emergency-Reason": reason})
            assert response.status_code == 400
        ok = client.get("/v1/cases", headers={**headers, "X-Emergency-Reason": "acute risk"})
        assert ok.status_code == 200

    def test_control_characters_in_query(self, client: TestClient, auth: Auth) -> None:
        response = client.get(
            "/v1/audit/entries?actor=a%00b", headers=auth.headers(("zvh", "privacy_officer"))
        )
        assert response.status_code == 400


class TestLastResort:
    """An unexpected failure is an opaque 500; the log keeps trace id and exception type."""

    def test_unhandled_error_is_opaque(
        self,
        client: TestClient,
        auth: Auth,
        log_lines: io.StringIO,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        secret = "Invented-Person-In-An-Exception"

        def explode(*_: object) -> None:
            raise RuntimeError(secret)

        services = client.app.state.services  # type: ignore[attr-defined]
        monkeypatch.setattr(services.reads, "list_cases", explode)
        parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        response = client.get("/v1/cases", headers={**auth.headers(PR), "traceparent": parent})
        assert response.status_code == 500
        assert response.json()["type"].endswith("/internal-error")
        assert response.headers["x-request-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert secret not in response.text
        logged = [json.loads(line) for line in log_lines.getvalue().splitlines()]
        assert secret not in log_lines.getvalue()
        failure = next(entry for entry in logged if entry["event"] == "unhandled")
        assert failure["error_type"] == "builtins.RuntimeError"
        assert failure["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        request = next(entry for entry in logged if entry["event"] == "request")
        assert request["route"] == "/v1/cases"
        assert request["status"] == 500
