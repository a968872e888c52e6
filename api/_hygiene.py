"""Request hygiene before routing: headers, body size, encoding, nesting and characters.

Hostile input is refused with a 4xx problem before any handler (or the ledger) sees it:
header values with control characters (CR/LF injection), bodies over the size limit (413),
non-JSON media types (415), invalid UTF-8 or JSON, nesting deeper than the limit, and strings
holding NUL, other control characters, bidi overrides (Trojan Source) or lone surrogates
(which could never be encoded again). Problems name the check, never the offending value.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api._problems import (
    BAD_BODY,
    BAD_HEADER,
    CONTENT,
    MEDIA,
    TOO_LARGE,
    ProblemError,
    problem_response,
)

#: C0 controls except TAB/LF/CR, DEL and C1, bidi embeddings/overrides/isolates, surrogates,
#: and the two non-characters U+FFFE/U+FFFF.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
_HEADER_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyRejectedError(Exception):
    """The body failed a hygiene check; ``check`` names which one."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


def has_forbidden_characters(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None


def check_document(value: Any, max_depth: int, depth: int = 1) -> None:
    """Walk a parsed JSON document: depth and characters of every key and string."""
    if depth > max_depth:
        raise BodyRejectedError("nesting")
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            raise BodyRejectedError("characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _FORBIDDEN.search(key):
                raise BodyRejectedError("characters")
            check_document(item, max_depth, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_document(item, max_depth, depth + 1)


def parse_body(body: bytes, max_depth: int) -> Any:
    """Strict UTF-8 JSON within the depth limit, or BodyRejectedError."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRejectedError("encoding") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise BodyRejectedError("nesting") from None
    except ValueError:
        raise BodyRejectedError("json") from None
    check_document(document, max_depth)
    return document


class HygieneMiddleware:
    """Checks every HTTP request; replays an accepted body to the app unchanged."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_headers(scope)
            if scope.get("method") in _BODY_METHODS:
                receive = await self._checked_body(scope, receive)
        except ProblemError as problem:
            await problem_response(problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_headers(self, scope: Scope) -> None:
        for name, value in scope.get("headers", []):
            if _HEADER_CONTROL.search(name) or _HEADER_CONTROL.search(value):
                raise ProblemError(BAD_HEADER, detail="A header holds control characters.")
        query = scope.get("query_string", b"")
        if query and has_forbidden_characters(unquote_plus(query.decode("latin-1"))):
            raise ProblemError(BAD_HEADER, detail="The query string holds control characters.")

    async def _checked_body(self, scope: Scope, receive: Receive) -> Receive:
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise ProblemError(TOO_LARGE, extra={"limit_bytes": self.max_body_bytes})
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ProblemError(BAD_BODY, detail="The client went away.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise ProblemError(TOO_LARGE, extra={"limit_bytes": self.max_body_bytes})
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body:
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                raise ProblemError(MEDIA)
            try:
                parse_body(body, self.max_json_depth)
            except BodyRejectedError as rejected:
                # Malformed bytes or JSON: 400. Well-formed JSON with content we refuse: 422.
                kind = BAD_BODY if rejected.check in ("encoding", "json") else CONTENT
                raise ProblemError(kind, extra={"check": rejected.check}) from None
        return _replay(body, receive)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
