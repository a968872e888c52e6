"""Structured request logs (stdlib logging, one JSON object per line) and the last resort.

A request line holds: trace id, method, route template, status, duration, the caller's
partner and roles when known. Never a body, a query string, a token or a free-text header:
those can hold personal data. JSON encoding with ``ensure_ascii`` escapes every control,
bidi and non-ASCII character, so one request is always exactly one line.

The outermost middleware also is the last-resort handler: an exception that escaped every
other handler becomes an opaque 500 problem, logged with the trace id and the exception
*type* only (messages and tracebacks can carry data).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api._problems import INTERNAL, ProblemError, problem_response

LOGGER_NAME = "caseledger.http"
TRACE_KEY = "caseledger.trace_id"
CALLER_KEY = "caseledger.caller"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "event", ...extra fields}`` on one ASCII line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            document.update(fields)
        return json.dumps(document, ensure_ascii=True, default=str, separators=(",", ":"))


def configure_logging(level: int = logging.INFO) -> logging.Logger:
    """Give the request logger a JSON handler on stderr (idempotent)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger


def trace_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """Continue the caller's W3C trace or request id when well-formed; else a new one."""
    for name, value in headers:
        if name == b"traceparent":
            match = _TRACEPARENT.match(value.decode("latin-1"))
            if match and match.group(1) != "0" * 32:
                return match.group(1)
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def trace_id(scope: Scope) -> str:
    return str(scope.get(TRACE_KEY, ""))


class RequestLogMiddleware:
    """Outermost layer: trace id in, request line out, opaque 500 for anything unhandled."""

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        tid = trace_id_from(list(scope.get("headers", [])))
        scope[TRACE_KEY] = tid
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", tid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:  # the last resort: nothing escapes to the server
            self.logger.error(
                "unhandled", extra={"fields": {"trace_id": tid, "error_type": _type(error)}}
            )
            if not response_started:
                response = problem_response(ProblemError(INTERNAL))
                await response(scope, receive, send_with_id)
        self._log(scope, tid, status, started)

    def _log(self, scope: Scope, tid: str, status: int, started: float) -> None:
        route = scope.get("route")
        fields: dict[str, Any] = {
            "trace_id": tid,
            "method": str(scope.get("method", "")),
            "route": getattr(route, "path", None) or "(unmatched)",
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        caller = scope.get(CALLER_KEY)
        if isinstance(caller, dict):
            fields.update(caller)
        self.logger.info("request", extra={"fields": fields})


def _type(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"
