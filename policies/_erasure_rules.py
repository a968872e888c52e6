"""Erasure on request: which ground fits which scope, and when a second officer must confirm.

``decide_erasure_request`` rules on a privacy officer's request to erase a scope:

=======  ========================================  ================================  =========
scope    grounds                                   refused                           confirm
=======  ========================================  ================================  =========
fact     any but owner_withdrawal                  ground_not_for_scope              no
subject  any but owner_withdrawal                  ground_not_for_scope              no
case     retention, once the case is due           ground_not_for_scope (not due)    no
case     any other but owner_withdrawal            ground_not_for_scope              yes
owner    owner_withdrawal only; never the office   ground_not_for_scope,             yes
                                                   office_not_erasable
=======  ========================================  ================================  =========

Before the scope rules: the principal (partner_unknown, role_not_permitted), the privacy
officer role (role_required) and, for a case, a legal hold in force (legal_hold, AVG art.
17(3)(e)). Owner-scope erasure is for a partner leaving the covenant: it shreds everything
that partner contributed, in every case, so it and an erasure of a whole case outside its
retention take four eyes (AVG art. 5(2), 32: accountability, organisational measures).

``decide_erasure_confirmation`` rules on the confirmation: a privacy officer other than the
requester (four_eyes_required), within the covenant's ``erasure.confirm_within_hours`` of the
request (erasure_request_expired).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from policies._checks import check_principal
from policies._covenant import Covenant
from policies._errors import PolicyError
from policies._identity import PartnerId, Principal, UserId
from policies._inputs import CaseState, Role, require_aware
from policies._reasons import AccessDecision, ReasonCode, allow, deny
from policies._retention import case_retention_deadline, is_on_hold

R = ReasonCode


class ErasureScope(StrEnum):
    fact = "fact"
    subject = "subject"
    case = "case"
    owner = "owner"


class ErasureGround(StrEnum):
    """Grounds an erasure is recorded under (AVG art. 17(1); retention: art. 5(1)(e))."""

    art17_request = "art17_request"
    owner_withdrawal = "owner_withdrawal"
    consent_withdrawn = "consent_withdrawn"
    retention = "retention"
    owner_retraction = "owner_retraction"


@dataclass(frozen=True, slots=True)
class ErasureRuling:
    """The decision on an erasure request, and whether a second officer must confirm it."""

    decision: AccessDecision
    needs_confirmation: bool = False


def decide_erasure_request(
    covenant: Covenant,
    principal: Principal,
    scope: ErasureScope,
    ground: ErasureGround,
    now: datetime,
    *,
    case: CaseState | None = None,
    owner: PartnerId | None = None,
) -> ErasureRuling:
    """May ``principal`` erase this scope on this ground, and does it take four eyes?"""
    require_aware("now", now)
    denial = check_principal(covenant, principal)
    if denial is not None:
        return ErasureRuling(denial)
    basis = f"erase scope={scope}; ground={ground}"
    if not principal.has_role(Role.privacy_officer):
        return ErasureRuling(deny(R.role_required, f"{basis}; needs privacy_officer"))
    if scope is ErasureScope.owner:
        if owner is None:
            raise PolicyError("an owner erasure needs the owner")
        if ground is not ErasureGround.owner_withdrawal:
            return ErasureRuling(deny(R.ground_not_for_scope, f"{basis}; owner_withdrawal only"))
        if owner == covenant.office:
            return ErasureRuling(deny(R.office_not_erasable, f"{basis}; owner={owner}"))
        return ErasureRuling(allow(R.allowed_role, f"{basis}; owner={owner}"), True)
    if case is None:
        raise PolicyError(f"a {scope} erasure needs its case")
    if is_on_hold(case, now):
        return ErasureRuling(deny(R.legal_hold, f"{basis}; case {case.case_id} on legal hold"))
    if ground is ErasureGround.owner_withdrawal:
        return ErasureRuling(deny(R.ground_not_for_scope, f"{basis}; owner scope only"))
    if scope is not ErasureScope.case:
        return ErasureRuling(allow(R.allowed_role, basis))
    if ground is ErasureGround.retention:
        deadline = case_retention_deadline(covenant, case)
        if deadline is None or now < deadline:
            return ErasureRuling(deny(R.ground_not_for_scope, f"{basis}; case not yet due"))
        return ErasureRuling(allow(R.allowed_role, f"{basis}; due {deadline.isoformat()}"))
    return ErasureRuling(allow(R.allowed_role, f"{basis}; outside retention"), True)


def erasure_request_expires_at(covenant: Covenant, requested_at: datetime) -> datetime:
    """Until when a four-eyes erasure request may be confirmed."""
    require_aware("requested_at", requested_at)
    return requested_at + timedelta(hours=covenant.erasure.confirm_within_hours)


def decide_erasure_confirmation(
    covenant: Covenant,
    principal: Principal,
    requested_by: UserId,
    requested_at: datetime,
    now: datetime,
    *,
    confirmed: bool = False,
) -> AccessDecision:
    """May ``principal`` confirm (and so carry out) an erasure ``requested_by`` asked for?

    ``confirmed``: a second officer confirmed it already and carrying it out failed; it may
    be carried out again (by anyone but the requester) after its confirmation window.
    """
    require_aware("now", now)
    denial = check_principal(covenant, principal)
    if denial is not None:
        return denial
    if not principal.has_role(Role.privacy_officer):
        return deny(R.role_required, "confirm erasure; needs privacy_officer")
    if principal.user == requested_by:
        return deny(R.four_eyes_required, "confirm erasure; the requester may not confirm")
    expires = erasure_request_expires_at(covenant, requested_at)
    if not confirmed and now >= expires:
        return deny(R.erasure_request_expired, f"confirm erasure; expired {expires.isoformat()}")
    return allow(R.allowed_role, "confirm erasure; second privacy officer")
