"""Referral by the melder (``POST /v1/referrals``) and what the referring melder sees after.

``decide_referral`` guards bringing a concern in: partner and roles declared; the melder role
(role_required); the case's purpose declared (purpose_unknown) and one the covenant opens
cases for (purpose_not_for_cases); then the ``referral`` fact as for any recorded fact
(``check_recordable``: owned by the caller's partner, declared terms, a purpose that fits the
case, special categories only to named partners); then **allowed** allowed_role.

A referred case has the partnership office as its only participant: the referring partner
takes part only once a procesregisseur invites it. Until then ``decide_case_overview`` gives
its melder the *referrer's view* (allowed_referrer): the case's status (the triage outcome,
also when rejected) and the facts its own partner owns (``decide_fact_read``: allowed_owner);
nothing else (no participants, actions, other facts, notification or direction). Process data
stays behind ``decide_case_read``, which never admits a referrer, so the action list, meetings
and every other case read refuse it. Once the partner was invited, participant rules apply
(also after its removal: then nothing).
"""

from __future__ import annotations

from datetime import datetime

from policies._case_reads import decide_case_read
from policies._checks import check_principal, check_purpose
from policies._covenant import Covenant
from policies._identity import Principal
from policies._inputs import CaseState, FactMetadata, Role, require_aware
from policies._reasons import AccessDecision, ReasonCode, allow, deny
from policies._writes import check_recordable

R = ReasonCode
REFERRAL_KIND = "referral"


def decide_referral(
    covenant: Covenant, principal: Principal, case_purpose: str, fact: FactMetadata, now: datetime
) -> AccessDecision:
    """May ``principal`` refer a case for ``case_purpose`` with the referral ``fact``?"""
    require_aware("now", now)
    basis = "action=refer_case"
    denial = check_principal(covenant, principal)
    if denial is not None:
        return denial
    if not principal.has_role(Role.melder):
        return deny(R.role_required, f"{basis}; needs melder")
    denial = check_purpose(covenant, case_purpose)
    if denial is not None:
        return denial
    if not covenant.opens_cases(case_purpose):
        return deny(R.purpose_not_for_cases, f"{basis}; purpose={case_purpose}")
    if fact.kind != REFERRAL_KIND:
        return deny(R.undeclared_term, f"{basis}; a referral is a fact of kind {REFERRAL_KIND}")
    denial = check_recordable(covenant, principal, case_purpose, fact)
    if denial is not None:
        return denial
    return allow(R.allowed_role, f"{basis}; purpose={case_purpose}")


def decide_case_overview(
    covenant: Covenant, principal: Principal, purpose: str, case: CaseState, now: datetime
) -> AccessDecision:
    """May ``principal`` see the case overview: ``decide_case_read``, or the referrer's view."""
    read = decide_case_read(covenant, principal, purpose, case, now)
    if read.allowed or read.reason not in (R.not_participant, R.case_not_active):
        return read
    referrer = case.referrer is not None and case.referrer == principal.partner
    if not referrer or not principal.has_role(Role.melder):
        return read
    if principal.partner in case.participants:
        return read  # invited once (or to be, later): the participant rules decide
    # Refused only for participation or status, so the case is in triage, rejected or active.
    return allow(R.allowed_referrer, f"{principal.partner} referred the case; case {case.status}")
