"""Single checks shared by the read and write decisions; each returns a denial or ``None``.

A check answers one question (is the principal's partner declared, is the case still
open, ...). Decisions chain them in their documented order with ``or``, so the first denial
wins. Bases name covenant ids, statuses and opaque ids only; an id the covenant does not
declare is never echoed (it came from a caller and could hold anything).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from policies._covenant import Covenant
from policies._identity import PartnerId, Principal
from policies._inputs import CaseState, CaseStatus, FactMetadata
from policies._reasons import AccessDecision, ReasonCode, deny
from policies._retention import case_retention_deadline, fact_retention_deadline, is_expired

R = ReasonCode


def check_principal(covenant: Covenant, principal: Principal) -> AccessDecision | None:
    """The caller's partner is declared and may hold every role the caller claims."""
    if not covenant.is_partner(principal.partner):
        return deny(R.partner_unknown, f"partner not declared in covenant v{covenant.version}")
    if not principal.roles:
        return deny(R.role_not_permitted, "principal holds no role")
    for role in sorted(principal.roles):
        if not covenant.may_hold_role(principal.partner, role):
            shown = role if role in covenant.role_ids() else "(undeclared)"
            return deny(R.role_not_permitted, f"role={shown} not held at {principal.partner}")
    return None


def check_purpose(covenant: Covenant, purpose: str) -> AccessDecision | None:
    """The declared purpose is one of the covenant's (AVG art. 5(1)(b): explicit purposes)."""
    if covenant.find_purpose(purpose) is None:
        return deny(R.purpose_unknown, f"purpose not declared in covenant v{covenant.version}")
    return None


def check_terms(covenant: Covenant, fact: FactMetadata) -> AccessDecision | None:
    """The fact's kind, categories and legal basis are declared: what is not agreed is not
    processed (WGS: the covenant bounds the joint processing)."""
    if not covenant.is_kind(fact.kind):
        return deny(R.undeclared_term, "kind not declared")
    if not all(covenant.is_category(category) for category in fact.categories):
        return deny(R.undeclared_term, "category not declared")
    if not covenant.is_legal_basis(fact.legal_basis):
        return deny(R.undeclared_term, "legal basis not declared")
    return None


def check_compatible(covenant: Covenant, fact_purpose: str, purpose: str) -> AccessDecision | None:
    # AVG art. 5(1)(b): cross-purpose reuse only where the covenant declares it compatible.
    if not covenant.is_compatible(fact_purpose, purpose):
        return deny(R.purpose_incompatible, f"fact purpose={fact_purpose}; declared={purpose}")
    return None


def check_fact_alive(
    covenant: Covenant, fact: FactMetadata, case: CaseState, now: datetime
) -> AccessDecision | None:
    """Not erased, not retracted, within retention (AVG art. 5(1)(e), art. 17)."""
    if fact.erased or case.status is CaseStatus.erased:
        return deny(R.erased, "fact erased" if fact.erased else "case erased")
    if fact.retracted:
        return deny(R.retracted, "retracted by owner")
    if is_expired(covenant, fact, case, now):
        deadline = fact_retention_deadline(covenant, fact, case)
        assert deadline is not None  # is_expired implies a deadline
        case_deadline = case_retention_deadline(covenant, case)
        if case_deadline is None or now < case_deadline:
            # AVG art. 7(3): expired only because its consent was withdrawn.
            return deny(R.consent_withdrawn, f"consent withdrawn {deadline.isoformat()}")
        return deny(R.retention_expired, f"retention deadline {deadline.isoformat()}")
    return None


def check_status(case: CaseState, allowed: Collection[CaseStatus]) -> AccessDecision | None:
    """The case is in one of the ``allowed`` statuses (erased and closed named as such)."""
    if case.status in allowed:
        return None
    if case.status is CaseStatus.erased:
        return deny(R.erased, "case erased")
    if case.status is CaseStatus.closed:
        return deny(R.case_closed, "case closed")
    return deny(R.case_not_active, f"case status={case.status}")


def check_participant(case: CaseState, partner: PartnerId, now: datetime) -> AccessDecision | None:
    """The partner is an active participant at ``now``: invited, not (yet) removed."""
    participation = case.participants.get(partner)
    if participation is None or now < participation.invited_at:
        return deny(R.not_participant, f"{partner} not a participant")
    if participation.removed_at is not None and participation.removed_at <= now:
        return deny(R.participant_removed, f"{partner} removed")
    return None
