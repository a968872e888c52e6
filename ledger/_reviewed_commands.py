"""Commands a privacy officer reviews: notification decisions and emergency access.

Not informing a subject (a deferral) and breaking the glass are both recorded with their
reasons and reviewed afterwards; a second review of the same item is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from ledger._case import Case
from ledger._command_data import RequestContext, WriteResult
from ledger._errors import AlreadyReviewedError, CaseStatusError, InvalidCommandError
from ledger._ledger_base import LedgerBase

REVIEW_OUTCOMES = frozenset({"justified", "not_justified"})


class ReviewedCommands(LedgerBase):
    """Notification decisions, emergency grants and their reviews (mixed into ``CaseLedger``)."""

    def decide_notification(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        decision: str,
        reason: str,
        review_at: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        if decision not in {"inform", "defer"}:
            raise InvalidCommandError("decision must be inform or defer", code="invalid_decision")
        if decision == "defer" and (not reason or not review_at):
            raise InvalidCommandError(
                "a deferral needs a reason and a review date", code="deferral_incomplete"
            )
        if review_at is not None and _review_instant(review_at) < self._clock():
            raise InvalidCommandError("the review date is in the past", code="review_date_in_past")

        def decide(case: Case) -> None:
            case.require_status("triage", "active")
            self._pipeline.trigger(
                case,
                ctx,
                Case.NotificationDecided,
                decision=decision,
                reason=reason,
                review_at=review_at,
            )

        return self._pipeline.run(
            ctx,
            case_id,
            "notification",
            {"decision": decision, "reason": reason, "review_at": review_at},
            decide,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
        )

    def review_notification(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        outcome: str,
        remark: str,
        inform: Sequence[str],
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """The privacy officer's outcome for the case's current notification deferral."""
        _require_outcome(outcome, remark)

        def decide(case: Case) -> None:
            notification = case.notification
            if notification is None or notification.decision != "defer":
                raise CaseStatusError(
                    f"case {case_id} has no deferral to review", code="nothing_to_review"
                )
            if notification.review is not None:
                raise AlreadyReviewedError(f"the deferral of case {case_id} was reviewed")
            self.keys.scope_key(ctx.principal.partner, case_id)
            self._pipeline.trigger(
                case,
                ctx,
                Case.NotificationReviewed,
                decided_version=notification.decided_version,
                outcome=outcome,
                remark=remark,
                inform=sorted(set(inform)),
            )

        arguments = {"outcome": outcome, "remark": remark}
        return self._pipeline.run(
            ctx,
            case_id,
            "review_notification",
            arguments,
            decide,
            expected_version=None,
            idempotency_key=idempotency_key,
        )

    def grant_emergency_access(
        self,
        ctx: RequestContext,
        case_id: str,
        *,
        reason: str,
        started_at: datetime,
        ends_at: datetime,
    ) -> WriteResult:
        """Record a break-the-glass grant the read policy admitted (``created_id``: its id).

        A reader whose grant is still open at ``started_at`` gets that one back, unchanged.
        """
        grant_id = uuid.uuid4().hex
        reader = ctx.principal.user

        def decide(case: Case) -> str:
            if case.status == "erased":
                raise CaseStatusError(f"case {case_id} is erased", code="case_erased")
            current = case.open_grant(reader, started_at)
            if current is not None:
                return current.grant_id
            # Keys first: the grant is sealed under the reader's partner's keys of the case.
            self.keys.scope_key(ctx.principal.partner, case_id)
            self._pipeline.trigger(
                case,
                ctx,
                Case.EmergencyAccessGranted,
                grant_id=grant_id,
                roles=sorted(ctx.principal.roles),
                reason=reason,
                started_at=started_at,
                ends_at=ends_at,
            )
            return grant_id

        arguments = {"reason": reason, "started_at": started_at.isoformat()}
        return self._pipeline.run(
            ctx,
            case_id,
            "emergency",
            arguments,
            decide,
            expected_version=None,
            idempotency_key=None,
        )

    def review_emergency_access(
        self,
        ctx: RequestContext,
        case_id: str,
        grant_id: str,
        *,
        outcome: str,
        remark: str,
        inform: Sequence[str],
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """The privacy officer's outcome for one emergency grant; a second review is refused."""
        _require_outcome(outcome, remark)

        def decide(case: Case) -> None:
            grant = case.require_grant(grant_id)
            if grant.review is not None:
                raise AlreadyReviewedError(f"grant {grant_id} was reviewed already")
            self.keys.scope_key(ctx.principal.partner, case_id)
            self._pipeline.trigger(
                case,
                ctx,
                Case.EmergencyAccessReviewed,
                grant_id=grant_id,
                outcome=outcome,
                remark=remark,
                inform=sorted(set(inform)),
            )

        arguments = {"grant_id": grant_id, "outcome": outcome, "remark": remark}
        return self._pipeline.run(
            ctx,
            case_id,
            "review_emergency",
            arguments,
            decide,
            expected_version=None,
            idempotency_key=idempotency_key,
        )


def _require_outcome(outcome: str, remark: str) -> None:
    if outcome not in REVIEW_OUTCOMES:
        raise InvalidCommandError("outcome: justified or not_justified", code="invalid_outcome")
    if outcome == "not_justified" and not remark.strip():
        raise InvalidCommandError("not_justified needs a remark", code="remark_required")


def _review_instant(review_at: str) -> datetime:
    """A review date (RFC 3339 date or date-time) as an instant; a date is its end (UTC),
    so "today" is not in the past."""
    try:
        if len(review_at) == 10:
            day = datetime.fromisoformat(review_at)
            return day.replace(hour=23, minute=59, second=59, tzinfo=UTC)
        moment = datetime.fromisoformat(review_at)
    except ValueError:
        raise InvalidCommandError("review_at is not a date", code="invalid_date") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
