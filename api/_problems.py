"""RFC 9457 problem details: the stable problem types and the one mapping from domain errors.

Problem bodies carry covenant ids, reason codes, versions and field names only: never a value
the caller sent and never an exception message (those could hold personal data). Every case
resource the caller may not see answers with the very same 404 body as an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from ledger import (
    ActionNotFoundError,
    CaseClosedError,
    CaseNotFoundError,
    CaseStatusError,
    ConcurrencyConflictError,
    ConsentNotFoundError,
    FactNotFoundError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    LedgerError,
    NotOwnerError,
    NotParticipantError,
    ScopeErasedError,
    SubjectNotFoundError,
)
from ledger._audit import AccessLogUnavailableError
from policies import AccessDecision, ReasonCode
from projections import ProjectionGapError

PROBLEM_BASE = "https://caseledger.example/problems/"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    detail: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


P = ProblemType
NOT_FOUND = P("not-found", 404, "Not found", "No such resource, or it is not available to you.")
UNAUTHENTICATED = P("unauthenticated", 401, "Not authenticated", "A valid bearer token is needed.")
FORBIDDEN = P("forbidden", 403, "Not permitted", "The covenant does not permit this request.")
PURPOSE = P("purpose-required", 400, "Purpose required", "Declare a covenant purpose in X-Purpose.")
BAD_HEADER = P("invalid-header", 400, "Invalid header", "A request header is malformed.")
BAD_BODY = P("invalid-body", 400, "Invalid body", "The body is not well-formed UTF-8 JSON.")
CONTENT = P(
    "unacceptable-content",
    422,
    "Unacceptable content",
    "Text may not hold control, bidi-override or lone surrogate characters; JSON may not nest "
    "too deeply.",
)
VALIDATION = P("validation-error", 422, "Invalid request", "Some fields are not acceptable.")
POLICY = P("policy-refused", 422, "Refused by the covenant", "The covenant does not allow this.")
REUSED_KEY = P("idempotency-key-reused", 422, "Idempotency key reused", "Use a new key.")
CONFLICT = P("version-conflict", 409, "Version conflict", "The case changed; reload and retry.")
STATUS = P("case-status", 409, "Not in this status", "The case or item does not allow this now.")
TOO_LARGE = P("payload-too-large", 413, "Payload too large", "The request body is too large.")
MEDIA = P("unsupported-media-type", 415, "Unsupported media type", "Send application/json.")
NOT_ACCEPTABLE = P("not-acceptable", 406, "Not acceptable", "No representation matches Accept.")
METHOD = P("method-not-allowed", 405, "Method not allowed", "See the Allow header.")
UNAVAILABLE = P("unavailable", 503, "Unavailable", "The service is not ready; try again later.")
LOG_DOWN = P("access-log-unavailable", 503, "Access log unavailable", "Nothing was revealed.")
INTERNAL = P("internal-error", 500, "Internal error", "Quote the X-Request-Id to support.")


class ProblemError(Exception):
    """Raised anywhere in the API; rendered as one problem response."""

    def __init__(
        self,
        kind: ProblemType,
        *,
        detail: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(kind.slug)
        self.kind = kind
        self.detail = detail or kind.detail
        self.extra = extra or {}
        self.headers = headers or {}


class Problem(BaseModel):
    """An RFC 9457 problem (extension members vary by type)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str


def problem_response(error: ProblemError) -> JSONResponse:
    body = {
        "type": error.kind.uri,
        "title": error.kind.title,
        "status": error.kind.status,
        "detail": error.detail,
        **error.extra,
    }
    headers = dict(error.headers)
    if error.kind is UNAUTHENTICATED:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="caseledger"')
    return JSONResponse(body, error.kind.status, headers=headers, media_type=PROBLEM_JSON)


def not_found() -> ProblemError:
    return ProblemError(NOT_FOUND)


_LOOKUPS = (
    CaseNotFoundError,
    FactNotFoundError,
    ActionNotFoundError,
    ConsentNotFoundError,
    NotParticipantError,
)


def from_ledger_error(error: LedgerError) -> ProblemError:
    """The one mapping from ledger errors to problems (ids in messages are not echoed)."""
    if isinstance(error, ConcurrencyConflictError):
        extra = {"current_version": error.current_version}
        headers = {"ETag": f'"{error.current_version}"'} if error.current_version else {}
        return ProblemError(CONFLICT, extra=extra, headers=headers)
    if isinstance(error, _LOOKUPS):
        return not_found()
    if isinstance(error, SubjectNotFoundError):
        return ProblemError(VALIDATION, detail="A subject id is not a subject of this case.")
    if isinstance(error, NotOwnerError):
        return ProblemError(FORBIDDEN, extra={"reason": str(ReasonCode.not_owner)})
    if isinstance(error, CaseClosedError | CaseStatusError | ScopeErasedError):
        return ProblemError(STATUS)
    if isinstance(error, IdempotencyKeyReusedError):
        return ProblemError(REUSED_KEY)
    if isinstance(error, InvalidCommandError):
        return ProblemError(VALIDATION, detail="The command is not acceptable for this case.")
    if isinstance(error, AccessLogUnavailableError):
        return ProblemError(LOG_DOWN)
    if isinstance(error, ProjectionGapError):
        return ProblemError(UNAVAILABLE)
    return ProblemError(INTERNAL)


_STATUS_REASONS = frozenset(
    {
        ReasonCode.case_closed,
        ReasonCode.case_not_active,
        ReasonCode.erased,
        ReasonCode.retracted,
        ReasonCode.retention_expired,
        ReasonCode.legal_hold,
    }
)
_POLICY_REASONS = frozenset(
    {
        ReasonCode.undeclared_term,
        ReasonCode.special_category_requires_named_partner,
        ReasonCode.purpose_unknown,
        ReasonCode.purpose_incompatible,
    }
)


def from_denial(decision: AccessDecision, *, visible: bool) -> ProblemError:
    """A refused decision. Invisible targets look unknown; otherwise the reason code is shown
    (reason codes are covenant vocabulary, never personal data)."""
    if not visible:
        return not_found()
    extra = {"reason": str(decision.reason)}
    if decision.reason in _STATUS_REASONS:
        return ProblemError(STATUS, detail=decision.reason.description, extra=extra)
    if decision.reason in _POLICY_REASONS:
        return ProblemError(POLICY, detail=decision.reason.description, extra=extra)
    return ProblemError(FORBIDDEN, detail=decision.reason.description, extra=extra)
