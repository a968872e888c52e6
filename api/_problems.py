"""RFC 9457 problem details: the stable problem types and the one mapping from domain errors.

Every problem has a ``code`` (snake_case, stable; also an extension member of the body) and a
``type`` URI made from it (``.../problems/<code with hyphens>``). Problem bodies carry covenant
ids, reason codes, versions and field names only: never a value the caller sent and never an
exception message (those could hold personal data). Every case resource the caller may not
see answers with the very same 404 body as an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from ledger import (
    AccessLogUnavailableError,
    ActionNotFoundError,
    CaseNotFoundError,
    ConcurrencyConflictError,
    ConsentNotFoundError,
    EmergencyGrantNotFoundError,
    ErasureRequestNotFoundError,
    FactNotFoundError,
    IdempotencyKeyReusedError,
    InvariantViolationError,
    KeyringError,
    LedgerError,
    MeetingNotFoundError,
    NotOwnerError,
    NotParticipantError,
    PurposeMismatchError,
    ScopeErasedError,
    SubjectNotFoundError,
)
from policies import AccessDecision, ReasonCode
from projections import ProjectionGapError

PROBLEM_BASE = "https://caseledger.example/problems/"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    code: str
    status: int
    title: str
    detail: str

    @property
    def slug(self) -> str:
        return self.code.replace("_", "-")

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


P = ProblemType
NOT_FOUND = P("not_found", 404, "Not found", "No such resource, or it is not available to you.")
UNAUTHENTICATED = P("unauthenticated", 401, "Not authenticated", "A valid bearer token is needed.")
FORBIDDEN = P("forbidden", 403, "Not permitted", "The covenant does not permit this request.")
PURPOSE = P("purpose_required", 400, "Purpose required", "Declare a covenant purpose in X-Purpose.")
BAD_HEADER = P("invalid_header", 400, "Invalid header", "A request header is malformed.")
BAD_BODY = P("invalid_body", 400, "Invalid body", "The body is not well-formed UTF-8 JSON.")
CONTENT = P(
    "unacceptable_content",
    422,
    "Unacceptable content",
    "Text may not hold control, bidi-override or lone surrogate characters; JSON may not nest "
    "too deeply.",
)
VALIDATION = P("validation_error", 422, "Invalid request", "Some fields are not acceptable.")
POLICY = P("policy_refused", 422, "Refused by the covenant", "The covenant does not allow this.")
REUSED_KEY = P("idempotency_key_reused", 422, "Idempotency key reused", "Use a new key.")
CONFLICT = P("version_conflict", 409, "Version conflict", "The case changed; reload and retry.")
STATUS = P("case_status", 409, "Not in this status", "The case or item does not allow this now.")
TOO_LARGE = P("payload_too_large", 413, "Payload too large", "The request body is too large.")
MEDIA = P("unsupported_media_type", 415, "Unsupported media type", "Send application/json.")
NOT_ACCEPTABLE = P("not_acceptable", 406, "Not acceptable", "No representation matches Accept.")
METHOD = P("method_not_allowed", 405, "Method not allowed", "See the Allow header.")
UNAVAILABLE = P("unavailable", 503, "Unavailable", "The service is not ready; try again later.")
LOG_DOWN = P("access_log_unavailable", 503, "Access log unavailable", "Nothing was revealed.")
KEYS_DOWN = P(
    "key_provider_unavailable",
    503,
    "Key provider unavailable",
    "The partners' keys cannot be reached now; nothing was revealed or stored. Try again later.",
)
INTERNAL = P("internal_error", 500, "Internal error", "Quote the X-Request-Id to support.")
OPENS_NO_CASES = P(
    "purpose_not_for_cases",
    422,
    "Purpose opens no cases",
    "The covenant does not let a case be opened for this purpose.",
)
FOUR_EYES = P(
    "four_eyes_required",
    403,
    "Second privacy officer needed",
    "Another privacy officer must confirm this erasure.",
)
REQUEST_EXPIRED = P(
    "erasure_request_expired",
    409,
    "Erasure request expired",
    "The request was not confirmed in time; request the erasure again.",
)
ROLE_REQUIRED = P("role_required", 403, "Role required", "This action needs another role.")
DIRECTOR_ROLE = P(
    "director_role_not_held",
    422,
    "Role not held by that partner",
    "The covenant does not let the named partner hold this role.",
)
DIRECTOR_PARTNER = P(
    "director_not_participant",
    422,
    "Partner not in the case",
    "The named casusregisseur's partner does not take part in the case.",
)


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
    code: str


def problem_response(error: ProblemError) -> JSONResponse:
    body = {
        "type": error.kind.uri,
        "title": error.kind.title,
        "status": error.kind.status,
        "detail": error.detail,
        "code": error.kind.code,
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
    EmergencyGrantNotFoundError,
    ErasureRequestNotFoundError,
    NotParticipantError,
    MeetingNotFoundError,
)

#: Refused commands by their stable code: (status, title, detail). 409: the state of the case
#: (or item) does not allow it now; 422: the request itself cannot be carried out.
_COMMAND_PROBLEMS: dict[str, tuple[int, str, str]] = {
    "case_not_active": (409, "Case not active", "The case's status does not allow this now."),
    "case_not_open": (409, "Case not open", "The case accepts no more facts."),
    "case_erased": (409, "Case erased", "The case was erased."),
    "fact_retracted": (409, "Fact retracted", "The fact was retracted or erased."),
    "consent_already_withdrawn": (409, "Already withdrawn", "The consent was withdrawn already."),
    "hold_not_in_force": (409, "No such hold in force", "The legal hold is not in force."),
    "already_reviewed": (409, "Already reviewed", "This item has been reviewed already."),
    "nothing_to_review": (409, "Nothing to review", "The case has no deferral to review."),
    "erasure_already_done": (409, "Erasure carried out", "This erasure was carried out."),
    "scope_erased": (409, "Scope erased", "Keys of this scope were destroyed."),
    "invalid_decision": (422, "Invalid decision", "The decision is not one of the choices."),
    "deferral_incomplete": (422, "Deferral incomplete", "A deferral needs a reason and a date."),
    "review_date_in_past": (422, "Review date in the past", "Give a review date from today on."),
    "invalid_date": (422, "Invalid date", "A date is not an RFC 3339 date or date-time."),
    "invalid_phase": (422, "Invalid phase", "The AVE phase is 1, 2, 3 or 4."),
    "no_facts": (422, "No facts", "Send at least one fact."),
    "unknown_action_status": (422, "Unknown status", "Use open, in_progress, done, cancelled."),
    "unknown_sharing_level": (422, "Unknown sharing level", "Use a declared sharing level."),
    "sharing_needs_partners": (422, "Partners needed", "Sharing level partners names partners."),
    "fact_body_not_json": (422, "Fact body not JSON", "The fact body must be JSON."),
    "invalid_outcome": (422, "Invalid outcome", "Use justified or not_justified."),
    "remark_required": (422, "Remark required", "An outcome not_justified needs a remark."),
    "meeting_status": (409, "Meeting status", "The meeting's status does not allow this now."),
    "minutes_approved": (409, "Minutes approved", "This version of the minutes is approved."),
    "item_not_for_case": (
        422,
        "No such item",
        "The meeting has no such agenda item for this case.",
    ),
    "subject_unknown": (422, "Unknown subject", "A subject id is not a subject of this case."),
    "starting_point_body": (
        422,
        "Starting point body",
        'A picture is {"picture", "chances", "threats"}; the shared goal is {"goal"}.',
    ),
}


def command_problem(code: str) -> ProblemType:
    """The problem type of a refused command's code (documented in the README)."""
    status, title, detail = _COMMAND_PROBLEMS.get(
        code, (422, "Not acceptable", "The command is not acceptable.")
    )
    return ProblemType(code, status, title, detail)


def command_problem_types() -> list[ProblemType]:
    return [command_problem(code) for code in sorted(_COMMAND_PROBLEMS)]


def from_ledger_error(error: LedgerError) -> ProblemError:
    """The one mapping from ledger errors to problems (ids in messages are not echoed)."""
    if isinstance(error, ConcurrencyConflictError):
        extra = {"current_version": error.current_version}
        headers = {"ETag": f'"{error.current_version}"'} if error.current_version else {}
        return ProblemError(CONFLICT, extra=extra, headers=headers)
    if isinstance(error, _LOOKUPS):
        return not_found()
    if isinstance(error, SubjectNotFoundError):
        return ProblemError(command_problem("subject_unknown"))
    if isinstance(error, NotOwnerError):
        return ProblemError(FORBIDDEN, extra={"reason": str(ReasonCode.not_owner)})
    if isinstance(error, PurposeMismatchError):  # the second line of defence held
        return ProblemError(FORBIDDEN, extra={"reason": str(ReasonCode.purpose_incompatible)})
    if isinstance(error, InvariantViolationError):
        return ProblemError(command_problem(error.code))
    if isinstance(error, ScopeErasedError):
        return ProblemError(command_problem("scope_erased"))
    if isinstance(error, IdempotencyKeyReusedError):
        return ProblemError(REUSED_KEY)
    if isinstance(error, AccessLogUnavailableError):
        return ProblemError(LOG_DOWN)
    if isinstance(error, KeyringError):  # fail closed: no fallback to other keys
        return ProblemError(KEYS_DOWN, headers={"Retry-After": "5"})
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
        ReasonCode.ground_not_for_scope,
        ReasonCode.office_not_erasable,
        ReasonCode.goal_not_shared_with_participants,
        ReasonCode.undeclared_term,
        ReasonCode.special_category_requires_named_partner,
        ReasonCode.purpose_unknown,
        ReasonCode.purpose_incompatible,
    }
)


#: Denials with a problem type of their own (the reason code is the problem's code).
_OWN_TYPES = {
    ReasonCode.purpose_not_for_cases: OPENS_NO_CASES,
    ReasonCode.four_eyes_required: FOUR_EYES,
    ReasonCode.erasure_request_expired: REQUEST_EXPIRED,
    ReasonCode.director_role_not_held: DIRECTOR_ROLE,
    ReasonCode.director_not_participant: DIRECTOR_PARTNER,
}


def from_denial(
    decision: AccessDecision, *, visible: bool, required_roles: tuple[str, ...] = ()
) -> ProblemError:
    """A refused decision. Invisible targets look unknown; otherwise the reason code is shown
    (reason codes are covenant vocabulary, never personal data). ``required_roles``: the roles
    an action needs, named when the caller holds none of them."""
    if not visible:
        return not_found()
    extra: dict[str, Any] = {"reason": str(decision.reason)}
    own = _OWN_TYPES.get(decision.reason)
    if own is not None:
        return ProblemError(own, extra=extra)
    if decision.reason is ReasonCode.role_required:
        needed = ", ".join(required_roles) or "another role"
        return ProblemError(
            ROLE_REQUIRED,
            detail=f"This action needs the role {needed}.",
            extra={**extra, "required_roles": list(required_roles)},
        )
    if decision.reason in _STATUS_REASONS:
        return ProblemError(STATUS, detail=decision.reason.description, extra=extra)
    if decision.reason in _POLICY_REASONS:
        return ProblemError(POLICY, detail=decision.reason.description, extra=extra)
    return ProblemError(FORBIDDEN, detail=decision.reason.description, extra=extra)
