"""Who directs a case: naming its casusregisseur and procesregisseur, and who reads ``regie``.

``decide_direction`` guards ``PUT /v1/cases/{case}/casusregisseur`` and ``.../procesregisseur``
(one user, and its partner, per role). It checks, in this order, and the first failing check
decides:

====  ==============================================  ===========================================
step  check                                           denial
====  ==============================================  ===========================================
 1    caller's partner and roles declared             partner_unknown, role_not_permitted
 2    caller holds procesregisseur (a role the        role_required
      covenant gives the partnership office only)
 3    case in triage or active                        erased, case_closed, case_not_active
 4    the named partner declared                      undeclared_term
 5    the covenant lets the named partner hold the    director_role_not_held
      role (a procesregisseur: the office only)
 6    casusregisseur: the named partner an active     director_not_participant
      participant
 7    **allowed**: allowed_role
====  ==============================================  ===========================================

``admits_to_regie`` is the ``regie`` sharing level's rule (docs/domain.md "Need to know"): a
procesregisseur of the partnership office, or the very user the case names as casusregisseur
(at the partner named with it, holding the role). Holding the casusregisseur role elsewhere, or
having been named before a reassignment, admits nothing. The reader's partner must still be an
active participant (``decide_fact_read`` checks that first), so a named casusregisseur whose
partner was removed reads nothing.
"""

from __future__ import annotations

from datetime import datetime

from policies._checks import check_principal, check_status
from policies._covenant import Covenant
from policies._errors import PolicyError
from policies._identity import PartnerId, Principal
from policies._inputs import DIRECTOR_ROLES, CaseState, CaseStatus, Role, require_aware
from policies._reasons import AccessDecision, ReasonCode, allow, deny

R = ReasonCode


def decide_direction(
    covenant: Covenant,
    principal: Principal,
    role: str,
    named: PartnerId,
    case: CaseState,
    now: datetime,
) -> AccessDecision:
    """May ``principal`` name a user of partner ``named`` as the case's ``role``?"""
    require_aware("now", now)
    if role not in DIRECTOR_ROLES:
        raise PolicyError(f"{role} is not a role a case names a user for")
    basis = f"action=name_{role}"
    denial = check_principal(covenant, principal)
    if denial is not None:
        return denial
    if not principal.has_role(Role.procesregisseur):
        return deny(R.role_required, f"{basis}; needs procesregisseur")
    denial = check_status(case, (CaseStatus.triage, CaseStatus.active))
    if denial is not None:
        return denial
    if not covenant.is_partner(named):
        return deny(R.undeclared_term, f"{basis}; named partner not declared")
    # The covenant holds procesregisseur at the partnership office only (it refuses a file
    # that says otherwise), so a procesregisseur named or naming is always the office's.
    if not covenant.may_hold_role(named, role):
        return deny(R.director_role_not_held, f"{basis}; {named} may not hold {role}")
    if role == Role.casusregisseur and not case.is_active_participant(named, now):
        return deny(R.director_not_participant, f"{basis}; {named} does not take part")
    return allow(R.allowed_role, f"{basis}; {named}")


def admits_to_regie(covenant: Covenant, principal: Principal, case: CaseState) -> bool:
    """Does the ``regie`` sharing level admit this reader in this case (see the module)?"""
    if principal.has_role(Role.procesregisseur) and principal.partner == covenant.office:
        return True
    named = case.casusregisseur
    return (
        named is not None
        and principal.has_role(Role.casusregisseur)
        and named.is_reader(principal.user, principal.partner)
    )
