"""Request dependencies as ``Annotated`` aliases: services, the caller, preconditions.

``CurrentCaller`` authenticates the bearer token, reads ``X-On-Behalf-Of``, requires a declared
``X-Purpose`` and takes ``X-Emergency-Reason``; ``WritePreconditions`` parses ``If-Match`` and
``Idempotency-Key`` (both are part of every write's context, ``api._writes.Write``). Header
values never appear in a problem body. Each is one dependency with its headers as its own
parameters (FastAPI's cost is per dependency; the OpenAPI parameters are the same).

The dependencies are ``async``: they only compute, and FastAPI runs a plain ``def``
dependency on a worker thread, a hand-off that cost more than the work itself. Token
verification moves to a thread only when its key source may wait on the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api._auth import AuthenticationError, TokenVerifier, is_printable_id
from api._logging import CALLER_KEY, trace_id
from api._problems import BAD_HEADER, PURPOSE, UNAUTHENTICATED, ProblemError
from api.bootstrap import Services
from ledger import RequestContext
from policies import Principal
from projections import ReadRequest

_bearer = HTTPBearer(auto_error=False, description="A JWT from the configured issuer.")
_ETAG = re.compile(r'^(?:W/)?"(\d{1,12})"$')
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
USER_ID_PATTERN = r"^[\x21-\x7e]{1,255}$"
#: Printable ASCII, not blank: header values carry no reliable character set beyond ASCII.
REASON_PATTERN = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"
_REASON = re.compile(REASON_PATTERN)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal, its declared purpose, and maybe a break-the-glass reason."""

    principal: Principal
    purpose: str
    emergency_reason: str | None
    trace_id: str

    @property
    def context(self) -> RequestContext:
        return RequestContext(self.principal, self.purpose)

    @property
    def read_request(self) -> ReadRequest:
        return ReadRequest(self.principal, self.purpose, self.emergency_reason, self.trace_id)


async def _authenticate(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    on_behalf_of: str | None,
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(UNAUTHENTICATED)
    if on_behalf_of is not None and not is_printable_id(on_behalf_of):
        raise ProblemError(BAD_HEADER, detail="X-On-Behalf-Of must be a user id.")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        if verifier.keys.may_block:
            principal = await run_in_threadpool(
                verifier.verify, credentials.credentials, on_behalf_of=on_behalf_of
            )
        else:
            principal = verifier.verify(credentials.credentials, on_behalf_of=on_behalf_of)
    except AuthenticationError as error:
        request.scope[CALLER_KEY] = {"auth_failure": error.code}
        raise ProblemError(UNAUTHENTICATED) from None
    request.scope[CALLER_KEY] = {"org": principal.partner, "roles": sorted(principal.roles)}
    return principal


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    on_behalf_of: Annotated[
        str | None,
        Header(
            alias="X-On-Behalf-Of",
            description="The user this request is made for (a user id).",
            pattern=USER_ID_PATTERN,
        ),
    ] = None,
    purpose: Annotated[
        str | None,
        Header(alias="X-Purpose", description="The covenant purpose of this request."),
    ] = None,
    emergency_reason: Annotated[
        str | None,
        Header(
            alias="X-Emergency-Reason",
            description="Break the glass: why (ASCII; logged, time-boxed, reviewed).",
            pattern=REASON_PATTERN,
            max_length=500,
        ),
    ] = None,
) -> Caller:
    """Who asks (the bearer token, checked against the covenant), for whom and why.

    One dependency for all of it: every data request resolves this, and FastAPI's cost is
    per dependency, so the token is verified here rather than in a dependency of its own.
    """
    principal = await _authenticate(request, credentials, on_behalf_of)
    services: Services = request.app.state.services
    covenant = services.covenant
    if purpose is None or covenant.find_purpose(purpose) is None:
        raise ProblemError(PURPOSE, extra={"allowed_purposes": sorted(covenant.purpose_ids())})
    if emergency_reason is not None and not (
        len(emergency_reason) <= 500 and _REASON.match(emergency_reason)
    ):
        raise ProblemError(BAD_HEADER, detail="X-Emergency-Reason: 1-500 ASCII characters.")
    reason = emergency_reason.strip() if emergency_reason else None
    scope_caller = request.scope.get(CALLER_KEY)
    if isinstance(scope_caller, dict):
        scope_caller["purpose"] = purpose
    return Caller(principal, purpose, reason, trace_id(request.scope))


CurrentCaller = Annotated[Caller, Depends(current_caller)]


@dataclass(frozen=True, slots=True)
class Preconditions:
    expected_version: int | None
    idempotency_key: str | None


_IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A retry with this key gets the first answer; nothing is written twice.",
        pattern=r"^[\x21-\x7e]{1,200}$",
    ),
]


async def idempotency_key_only(
    idempotency_key: _IdempotencyKeyHeader = None,
) -> str | None:
    """The ``Idempotency-Key`` of a write (every write route takes it, erasures included)."""
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise ProblemError(BAD_HEADER, detail="Idempotency-Key: 1-200 visible ASCII characters.")
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key_only)]


async def write_preconditions(
    idempotency_key: _IdempotencyKeyHeader = None,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The case version you read, as its ETag (`"7"`); 409 when it moved.',
            pattern=r'^(?:W/)?"\d{1,12}"$|^\*$',
        ),
    ] = None,
) -> Preconditions:
    idempotency_key = await idempotency_key_only(idempotency_key)
    expected: int | None = None
    if if_match is not None and if_match.strip() != "*":
        match = _ETAG.match(if_match.strip())
        if match is None:
            raise ProblemError(BAD_HEADER, detail='If-Match must be an ETag such as "7".')
        expected = int(match.group(1))
    return Preconditions(expected, idempotency_key)


WritePreconditions = Annotated[Preconditions, Depends(write_preconditions)]
