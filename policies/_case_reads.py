"""Read decisions above the single fact: the case's process data and the art. 15 report.

``decide_case_read`` guards the case overview, the action list, participants and meeting
data ("nothing about the case is sent around, only the action list is shared"):

====  ==============================================  ===========================================
step  check                                           denial
====  ==============================================  ===========================================
 1-3  partner, roles, purpose (as for facts)          partner_unknown, role_not_permitted,
                                                      purpose_unknown
 4    metadata purpose                                privacy officer: **allowed**
                                                      privacy_officer_metadata; else
                                                      role_not_permitted
 5    no privacy officer / client role                role_excludes_facts (the clerk may read)
 6    declared purpose compatible with case purpose   purpose_incompatible
 7    case status active; triage: procesregisseur     erased, case_closed, case_not_active
      and melder only
 8    reader's partner an active participant          not_participant, participant_removed
 9    **allowed**: allowed_participant
====  ==============================================  ===========================================

``decide_subject_report`` guards one fact in an access report (AVG art. 15): only the privacy
officer, for a metadata purpose; then erased / retracted / consent_withdrawn /
retention_expired as for facts; a fact must concern the subject and nobody else (art. 15(4):
the rights of others), else concerns_other_subjects; while the subject's notification is
deferred, notification_deferred (art. 23); a fact owned by a partner other than the
partnership office waits for its owner's release, awaiting_owner_release; then **allowed**
allowed_access_report with content. Refused facts still appear in the report, as metadata
with their reason.

``decide_case_sight`` settles what a case overview shows: ``decide_case_read``'s decision, or,
when that refuses, an emergency-granted fact read of the same request (broken glass opens the
case's process data with the fact; the log records the case as opened by the glass).

``reads_beyond_participation`` says whether ``decide_case_read`` can allow a case the reader's
partner does not take part in (only the privacy officer's metadata view, step 4); a listing
narrows its candidates with it and still decides each case.

``decide_supervision`` guards the access log and the erasure records: partner, roles and
purpose as above; then only the privacy officer (role_not_permitted), only for a metadata
purpose (purpose_incompatible); then **allowed** privacy_officer_metadata, metadata only
(AVG art. 5(2) and 39: the officer supervises, and sees no content doing so).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from policies._checks import (
    check_compatible,
    check_fact_alive,
    check_participant,
    check_principal,
    check_purpose,
    check_status,
)
from policies._covenant import Covenant
from policies._fact_read import metadata_view
from policies._identity import Principal, SubjectId
from policies._inputs import CaseState, CaseStatus, FactMetadata, Role, require_aware
from policies._reasons import AccessDecision, Disclosure, ReasonCode, allow, deny

R = ReasonCode
#: Roles that never see case process data: the FG supervises via metadata, the client is
#: not yet served by the ledger. The clerk does see it: the clerk keeps the minutes.
_NO_CASE_DATA = (Role.privacy_officer, Role.client)
#: Bouwschema step 1: while in triage, the melder and the procesregisseur discuss the case.
_TRIAGE_ROLES = (Role.procesregisseur, Role.melder)


def decide_case_read(
    covenant: Covenant, principal: Principal, purpose: str, case: CaseState, now: datetime
) -> AccessDecision:
    """May ``principal`` see the case's process data (overview, actions, meetings)?"""
    require_aware("now", now)
    early = check_principal(covenant, principal) or check_purpose(covenant, purpose)
    if early is not None:
        return early
    if covenant.discloses_metadata_only(purpose):
        return metadata_view(principal, purpose, f"case status={case.status}")
    excluded = [role for role in _NO_CASE_DATA if principal.has_role(role)]
    if excluded:
        return deny(R.role_excludes_facts, f"role={excluded[0]} never sees case content")
    denial = check_compatible(covenant, case.purpose, purpose) or check_status(
        case, (CaseStatus.triage, CaseStatus.active)
    )
    if denial is not None:
        return denial
    triage_role = any(principal.has_role(role) for role in _TRIAGE_ROLES)
    if case.status is CaseStatus.triage and not triage_role:
        return deny(R.case_not_active, "case in triage: procesregisseur and melder only")
    denial = check_participant(case, principal.partner, now)
    if denial is not None:
        return denial
    return allow(R.allowed_participant, f"{principal.partner} participates; case {case.status}")


def decide_case_sight(
    case_read: AccessDecision, fact_reads: Iterable[AccessDecision]
) -> AccessDecision:
    """The decision that shows the case's process data in an overview, or refuses it.

    ``case_read`` (from ``decide_case_read``) stands when it allows. When it refuses, the first
    emergency-granted decision among ``fact_reads`` (the same request's fact reads) stands
    instead: the glass was broken for a fact, so its case is shown with it. Otherwise the
    refusal stands, with its reason.
    """
    if case_read.allowed:
        return case_read
    return next((d for d in fact_reads if d.allowed and d.emergency), case_read)


def reads_beyond_participation(covenant: Covenant, principal: Principal, purpose: str) -> bool:
    """Can ``decide_case_read`` allow ``principal`` a case its partner does not take part in?

    Only the privacy officer reading for a metadata purpose (step 4); every other allowance
    passes the participation check (step 8). False means: only the cases the partner takes
    part in can be allowed, so a listing need not decide the others.
    """
    return principal.has_role(Role.privacy_officer) and covenant.discloses_metadata_only(purpose)


def decide_subject_report(
    covenant: Covenant,
    principal: Principal,
    purpose: str,
    fact: FactMetadata,
    subject: SubjectId,
    case: CaseState,
    now: datetime,
) -> AccessDecision:
    """May ``fact`` appear, with its content, in ``subject``'s access report (AVG art. 15)?"""
    require_aware("now", now)
    early = check_principal(covenant, principal) or check_purpose(covenant, purpose)
    if early is not None:
        return early
    # Under the WGS one request at the partnership's contact point covers every partner; the
    # privacy officer compiles the answer, for the accountability (metadata) purpose.
    if not (principal.has_role(Role.privacy_officer) and covenant.discloses_metadata_only(purpose)):
        return deny(R.role_not_permitted, "access reports: privacy officer, metadata purpose")
    denial = check_fact_alive(covenant, fact, case, now)
    if denial is not None:
        return denial
    if subject not in fact.subjects:
        return deny(R.concerns_other_subjects, "fact does not concern the subject")
    others = len(fact.subjects) - 1
    if others:
        return deny(R.concerns_other_subjects, f"fact also concerns {others} other subject(s)")
    if case.notification is not None and case.notification.deferred:
        # AVG art. 23: the reasons for not informing the person yet also restrict access.
        return deny(R.notification_deferred, "subject notification deferred")
    if fact.owner != covenant.office:
        # Each partner is controller of its own facts: it releases them, not the office.
        return deny(R.awaiting_owner_release, f"owner={fact.owner}; not released")
    return allow(R.allowed_access_report, f"owner={fact.owner}; kind={fact.kind}")


def decide_supervision(covenant: Covenant, principal: Principal, purpose: str) -> AccessDecision:
    """May ``principal`` read the access log and the erasure records (metadata only)?"""
    early = check_principal(covenant, principal) or check_purpose(covenant, purpose)
    if early is not None:
        return early
    if not principal.has_role(Role.privacy_officer):
        return deny(R.role_not_permitted, "access log and erasure records: privacy officer only")
    if not covenant.discloses_metadata_only(purpose):
        return deny(R.purpose_incompatible, f"purpose {purpose} does not disclose metadata only")
    return allow(R.privacy_officer_metadata, "supervision; metadata only", Disclosure.metadata)
