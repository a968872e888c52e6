"""Write decisions: who may change a case, and in which status (the routes table of docs/api.md).

``decide_write`` checks, in this order: the principal (partner_unknown, role_not_permitted);
the role the action needs (role_required, naming it); for ``open_case`` the case's purpose
(purpose_unknown; purpose_not_for_cases unless the covenant opens cases for it) and nothing
more; the case status (erased, case_closed, case_not_active); the caller's partner an active
participant (not_participant, participant_removed) unless noted; then the action's own rule.
Erasure is decided by ``decide_erasure_request`` (``policies._erasure_rules``).

====================  ==========================================  ================  =========
action                who                                         case status       granted
====================  ==========================================  ================  =========
open_case             procesregisseur; a purpose cases open for   (no case yet)     role
triage                procesregisseur                             triage            role
add_subject           participant; in triage only procesregisseur triage, active    participant
                      or melder (the referring partner's)
invite_participant    procesregisseur                             active            role
remove_participant    procesregisseur                             active            role
record_fact           as add_subject; the caller's partner owns   triage, active    participant
                      the fact; its terms are declared, its
                      purpose fits the case, special categories
                      are shared with named partners only; the
                      shared goal (policies._starting_point) by
                      the procesregisseur, shared with participants
correct_fact          the owner                                   triage, active    owner
retract_fact          the owner, also after removal               triage, active    owner
agree_action          procesregisseur, clerk                      active            role
change_action_status  the assignee partner, procesregisseur       active            assignee/role
change_phase          procesregisseur                             triage, active    role
decide_notification   procesregisseur                             triage, active    role
record_consent        as add_subject                              triage, active    participant
withdraw_consent      the owner of the consent record (pass its   any but erased    owner
                      ``consent_given`` fact), also after removal
close_case            procesregisseur                             active            role
====================  ==========================================  ================  =========

"participant" means a melder, deelnemer, casusregisseur or procesregisseur whose partner is an
active participant. A write needing a case (or fact) that is called without one raises
``PolicyError``: that is a bug in the caller, not a decision.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from policies._checks import (
    check_compatible,
    check_fact_alive,
    check_participant,
    check_principal,
    check_purpose,
    check_status,
    check_terms,
)
from policies._covenant import Covenant
from policies._errors import PolicyError
from policies._identity import PartnerId, Principal
from policies._inputs import CaseState, CaseStatus, FactMetadata, Role, SharingLevel, require_aware
from policies._reasons import AccessDecision, ReasonCode, allow, deny
from policies._starting_point import check_goal

R = ReasonCode
S = CaseStatus


class WriteAction(StrEnum):
    """The commands of the Case aggregate that policy rules on."""

    open_case = "open_case"
    triage = "triage"
    add_subject = "add_subject"
    invite_participant = "invite_participant"
    remove_participant = "remove_participant"
    record_fact = "record_fact"
    correct_fact = "correct_fact"
    retract_fact = "retract_fact"
    agree_action = "agree_action"
    change_action_status = "change_action_status"
    change_phase = "change_phase"
    decide_notification = "decide_notification"
    record_consent = "record_consent"
    withdraw_consent = "withdraw_consent"
    close_case = "close_case"


A = WriteAction
_DIRECTOR = frozenset({Role.procesregisseur})
_CONTRIBUTORS = frozenset({Role.melder, Role.deelnemer, Role.casusregisseur, Role.procesregisseur})
_WHO: dict[WriteAction, frozenset[Role]] = {
    **{a: _DIRECTOR for a in (A.open_case, A.triage, A.invite_participant)},
    **{a: _DIRECTOR for a in (A.remove_participant, A.change_phase, A.decide_notification)},
    A.close_case: _DIRECTOR,
    **{a: _CONTRIBUTORS for a in (A.add_subject, A.record_fact, A.record_consent)},
    **{a: _CONTRIBUTORS for a in (A.correct_fact, A.retract_fact, A.withdraw_consent)},
    A.change_action_status: _CONTRIBUTORS,
    A.agree_action: frozenset({Role.procesregisseur, Role.administratief_medewerker}),
}
_TRIAGE_OR_ACTIVE = (S.triage, S.active)
_STATUSES: dict[WriteAction, tuple[CaseStatus, ...]] = {
    A.triage: (S.triage,),
    **{a: (S.active,) for a in (A.invite_participant, A.remove_participant, A.agree_action)},
    **{a: (S.active,) for a in (A.change_action_status, A.close_case)},
    # AVG art. 7(3): withdrawing consent must stay as easy as giving it, in any status.
    A.withdraw_consent: (S.triage, S.rejected, S.active, S.closed),
}
#: The owner keeps control of its own contribution after it left the case.
_WITHOUT_PARTICIPATION = frozenset({A.retract_fact, A.withdraw_consent})
_CONTRIBUTIONS = frozenset({A.add_subject, A.record_fact, A.record_consent})
_OWNER_ONLY = frozenset({A.correct_fact, A.retract_fact, A.withdraw_consent})


def decide_write(
    covenant: Covenant,
    principal: Principal,
    action: WriteAction,
    case: CaseState | None,
    fact: FactMetadata | None,
    now: datetime,
    *,
    action_assignee: PartnerId | None = None,
    case_purpose: str | None = None,
) -> AccessDecision:
    """May ``principal`` perform ``action`` on ``case`` (and ``fact``) at ``now``?

    ``case_purpose``: for ``open_case``, the purpose the new case is for (required there).
    """
    require_aware("now", now)
    denial = check_principal(covenant, principal)
    if denial is not None:
        return denial
    basis = f"action={action}"
    if not principal.roles & _WHO[action]:
        return deny(R.role_required, f"{basis}; needs {'/'.join(sorted(_WHO[action]))}")
    if action is A.open_case:
        return _opening(covenant, case_purpose, basis)
    if case is None:
        raise PolicyError(f"{action} needs the case it applies to")
    denial = check_status(case, _STATUSES.get(action, _TRIAGE_OR_ACTIVE))
    if denial is None and action not in _WITHOUT_PARTICIPATION:
        denial = check_participant(case, principal.partner, now)
    if denial is not None:
        return denial
    if action in _CONTRIBUTIONS:
        return _contribution(covenant, principal, action, case, fact, basis)
    if action in _OWNER_ONLY:
        return _owner_only(covenant, principal, action, case, _need(action, fact), now)
    if action is A.change_action_status:
        if principal.partner == action_assignee:
            return allow(R.allowed_assignee, basis)
        if not principal.has_role(Role.procesregisseur):
            return deny(R.not_assignee, f"{basis}; assignee or procesregisseur only")
    return allow(R.allowed_role, basis)


def _opening(covenant: Covenant, purpose: str | None, basis: str) -> AccessDecision:
    if purpose is None:
        raise PolicyError("open_case needs the purpose of the case")
    denial = check_purpose(covenant, purpose)
    if denial is not None:
        return denial
    if not covenant.opens_cases(purpose):
        # AVG art. 5(1)(b): a case is processed for a purpose the partnership agreed on.
        return deny(R.purpose_not_for_cases, f"{basis}; purpose={purpose}")
    return allow(R.allowed_role, f"{basis}; purpose={purpose}")


def required_roles(action: WriteAction) -> tuple[str, ...]:
    """The roles of which the caller needs one for ``action`` (for messages and docs)."""
    return tuple(sorted(_WHO[action]))


def _need(action: WriteAction, fact: FactMetadata | None) -> FactMetadata:
    if fact is None:
        raise PolicyError(f"{action} needs the fact it applies to")
    return fact


def _contribution(
    covenant: Covenant,
    principal: Principal,
    action: WriteAction,
    case: CaseState,
    fact: FactMetadata | None,
    basis: str,
) -> AccessDecision:
    # Bouwschema step 1: in triage the referring melder and the procesregisseur only.
    in_triage = case.status is S.triage
    if in_triage and not (
        principal.has_role(Role.melder) or principal.has_role(Role.procesregisseur)
    ):
        return deny(R.case_not_active, f"{basis}; case in triage: melder and procesregisseur only")
    if action is A.record_fact:
        denial = check_recordable(covenant, principal, case.purpose, _need(action, fact))
        if denial is not None:
            return denial
    return allow(R.allowed_participant, f"{basis}; {principal.partner} participates")


def check_recordable(
    covenant: Covenant, principal: Principal, case_purpose: str, fact: FactMetadata
) -> AccessDecision | None:
    """The caller's partner owns ``fact``, its terms are declared, its purpose fits the case's
    and a special category is shared with named partners only (also for a referral)."""
    # DESIGN principle 1: the owner is the authenticated caller's partner, never the body's.
    if fact.owner != principal.partner:
        return deny(R.not_owner, "a fact is owned by the partner that records it")
    denial = (
        check_terms(covenant, fact)
        or check_purpose(covenant, fact.purpose)
        or check_compatible(covenant, fact.purpose, case_purpose)
    )
    if denial is not None:
        return denial
    if not all(covenant.is_partner(partner) for partner in fact.sharing.partners):
        return deny(R.undeclared_term, "sharing names a partner not declared")
    denial = check_goal(covenant, principal, fact)
    if denial is not None:
        return denial
    special = any(map(covenant.is_special, fact.categories))
    # AVG art. 9 and 10: health and criminal facts only to partners the owner names.
    if special and fact.sharing.level in (SharingLevel.regie, SharingLevel.participants):
        return deny(R.special_category_requires_named_partner, f"sharing={fact.sharing.level}")
    return None


def _owner_only(
    covenant: Covenant,
    principal: Principal,
    action: WriteAction,
    case: CaseState,
    fact: FactMetadata,
    now: datetime,
) -> AccessDecision:
    # docs/domain.md: owners may correct or retract their own facts; nobody else can.
    if fact.owner != principal.partner:
        return deny(R.not_owner, f"action={action}; owned by {fact.owner}")
    if action is not A.withdraw_consent:
        denial = check_fact_alive(covenant, fact, case, now)
        if denial is not None:
            return denial
    return allow(R.allowed_owner, f"action={action}; owner={fact.owner}")
