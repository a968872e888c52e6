"""Reviews: subject notifications not (yet) given, and emergency (break-the-glass) grants.

Each list is a supervision read (``policies.decide_supervision``) and is logged as such.
A review outcome other than ``justified`` lists the partners to be informed: the owners of
the case's facts (notification), or the owners whose facts a grant opened (emergency).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger import CaseNotFoundError, RequestContext
from projections._privacy_desk import PrivacyDesk, json_list, utc
from projections._read_records import ReadRequest


class PrivacyReviews(PrivacyDesk):
    """The privacy officer's review lists and their outcomes."""

    def notification_review(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Cases where the subject was not (yet) informed: deferrals and undecided, overdue
        first (docs/domain.md, question 9), with the outcome of the deferral's review once
        reviewed."""
        supervision = self._require_officer(request)
        self.reads.runner.catch_up()
        now = self.clock()
        rows = self.views.fetch(
            "SELECT case_id, notification, notification_review_at, notification_decided_by,"
            " notification_decided_at, notification_reviewed, notification_reviewed_at,"
            " notification_inform FROM cl_cases WHERE status IN ('triage', 'active')"
            " AND (notification IS NULL OR notification = 'defer')"
        )
        items = []
        for case_id, decision, review_at, by, at, outcome, reviewed_at, inform in rows:
            reason = self.reads.notification_reason(str(case_id)) if decision else None
            overdue = decision is None or (review_at is not None and _before(str(review_at), now))
            items.append(
                {
                    "case_id": str(case_id),
                    "decision": decision or "undecided",
                    "reason": reason,
                    "review_at": review_at,
                    "decided_by": by,
                    "decided_at": at,
                    "overdue": overdue,
                    "review": _review(outcome, reviewed_at, inform),
                }
            )
        self.log.append([self.reads.case_entry(request, "", supervision)], now=now)
        return sorted(items, key=lambda i: (not i["overdue"], str(i["review_at"] or "")))

    def review_notification(
        self, request: ReadRequest, case_id: str, *, outcome: str, remark: str
    ) -> dict[str, Any]:
        """The outcome of reviewing a case's deferral; not justified: the owners of the
        case's facts are listed to be informed. A second review is refused (409)."""
        self._require_officer(request)
        inform = [] if outcome == "justified" else self._owners(case_id)
        result = self.ledger.review_notification(
            RequestContext(request.principal, request.purpose),
            case_id,
            outcome=outcome,
            remark=remark,
            inform=inform,
        )
        return {"case_id": case_id, "outcome": outcome, "inform": inform, "version": result.version}

    def emergency_review(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Emergency (break-the-glass) grants not yet reviewed, each with what it opened."""
        supervision = self._require_officer(request)
        self.reads.runner.catch_up()
        rows = self.views.fetch(
            "SELECT grant_id, case_id, actor, org, roles, started_at, ends_at"
            " FROM cl_emergency_grants WHERE reviewed IS NULL ORDER BY started_at, grant_id"
        )
        items = []
        for grant_id, case_id, actor, org, roles, started, ends in rows:
            accesses = self._grant_accesses(str(case_id), str(actor), str(started), str(ends))
            items.append(
                {
                    "grant_id": str(grant_id),
                    "case_id": str(case_id),
                    "actor": str(actor),
                    "org": str(org),
                    "roles": json_list(roles),
                    "started_at": str(started),
                    "ends_at": str(ends),
                    "stated_reason": accesses[0].note if accesses else None,
                    "accesses": [e.seq for e in accesses],
                    "fact_ids": sorted({f for e in accesses for f in e.fact_ids}),
                }
            )
        self.log.append([self.reads.case_entry(request, "", supervision)], now=self.clock())
        return items

    def review_emergency(
        self, request: ReadRequest, grant_id: str, *, outcome: str, remark: str
    ) -> dict[str, Any]:
        """The outcome of reviewing one emergency grant; not justified: the owners whose
        facts it opened (other than the reader's own partner) are listed to be informed."""
        self._require_officer(request)
        self.reads.runner.catch_up()
        rows = self.views.fetch(
            "SELECT case_id, actor, org, started_at, ends_at FROM cl_emergency_grants"
            " WHERE grant_id = ?",
            (grant_id,),
        )
        if not rows:
            raise CaseNotFoundError("emergency grant not found")
        case_id, actor, org, started, ends = (str(v) for v in rows[0])
        inform: list[str] = []
        if outcome != "justified":
            opened = {
                f for e in self._grant_accesses(case_id, actor, started, ends) for f in e.fact_ids
            }
            inform = sorted({o for f, o in self._fact_owners(case_id) if f in opened} - {org})
        result = self.ledger.review_emergency_access(
            RequestContext(request.principal, request.purpose),
            case_id,
            grant_id,
            outcome=outcome,
            remark=remark,
            inform=inform,
        )
        return {
            "grant_id": grant_id,
            "outcome": outcome,
            "inform": inform,
            "version": result.version,
        }

    def _grant_accesses(self, case_id: str, actor: str, started: str, ends: str) -> list[Any]:
        """The emergency reads a grant covered: its reader, its case, inside its time box."""
        return [
            e
            for e in self.log.entries(
                case_id=case_id,
                actor=actor,
                emergency="1",
                decision="allowed",
                time_from=utc(started),
                time_to=utc(ends),
                limit=100_000,
            )
        ]

    def _fact_owners(self, case_id: str) -> list[tuple[str, str]]:
        return [
            (str(f), str(o))
            for f, o in self.views.fetch(
                "SELECT fact_id, owner FROM cl_facts WHERE case_id = ?", (case_id,)
            )
        ]

    def _owners(self, case_id: str) -> list[str]:
        return sorted({owner for _, owner in self._fact_owners(case_id)})


def _review(outcome: Any, reviewed_at: Any, inform: Any) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {"outcome": str(outcome), "reviewed_at": reviewed_at, "inform": json_list(inform)}


def _before(review_at: str, now: datetime) -> bool:
    """Is a review date (RFC 3339 date or date-time) in the past?"""
    try:
        moment = datetime.fromisoformat(review_at)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return moment < now
