"""The action list across cases (``GET /v1/actions``): the gate before any case is decided.

``decide_action_listing`` checks what ``decide_case_read`` checks before it looks at a case
(steps 1-5: partner, roles, purpose; the privacy officer's metadata purpose; no privacy
officer or client role otherwise), so a listing that no case could ever allow is refused as a
whole, with its reason, instead of coming back empty. Each case's actions are then shown only
where ``decide_case_read`` allows that case, exactly as on the case's own action list.
"""

from __future__ import annotations

from policies._checks import check_principal, check_purpose
from policies._covenant import Covenant
from policies._fact_read import metadata_view
from policies._identity import Principal
from policies._inputs import Role
from policies._reasons import AccessDecision, ReasonCode, allow, deny

R = ReasonCode
_NO_CASE_DATA = (Role.privacy_officer, Role.client)


def decide_action_listing(covenant: Covenant, principal: Principal, purpose: str) -> AccessDecision:
    """May ``principal`` list actions across cases for ``purpose`` (each case then decided)?"""
    early = check_principal(covenant, principal) or check_purpose(covenant, purpose)
    if early is not None:
        return early
    if covenant.discloses_metadata_only(purpose):
        return metadata_view(principal, purpose, "action list across cases")
    excluded = [role for role in _NO_CASE_DATA if principal.has_role(role)]
    if excluded:
        return deny(R.role_excludes_facts, f"role={excluded[0]} never sees case content")
    return allow(R.allowed_role, "action list across cases; each case decided")
