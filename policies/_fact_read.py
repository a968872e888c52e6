"""The read decision for one fact: need to know, default deny (docs/domain.md "Need to know").

``decide_fact_read`` checks, in this order, and the first failing check decides:

====  ===========================================  =============================================
step  check                                        denial
====  ===========================================  =============================================
 1    reader's partner declared                    partner_unknown
 2    every claimed role held at that partner      role_not_permitted
 3    declared purpose in the covenant             purpose_unknown
 4    metadata purpose (accountability)            privacy officer: **allowed**
                                                   privacy_officer_metadata (metadata, any fact,
                                                   any status); anyone else: role_not_permitted
 5    no clerk / privacy officer / client role     role_excludes_facts
 6    kind, categories, legal basis declared       undeclared_term
 7    fact purpose equal or compatible             purpose_incompatible
 8    fact and case not erased                     erased
 9    fact not retracted                           retracted
10    within retention (unless on legal hold)      retention_expired
11    case not closed                              case_closed
12    consent basis: matching consent in force     consent_absent_or_withdrawn
13    reader's partner owns the fact               **allowed** allowed_owner
14    case active (procesregisseur: also triage)   case_not_active
15    reader's partner an active participant       not_participant (*), participant_removed
16    sharing level admits the reader (``regie``:  sharing_excludes_reader (*),
      the office's procesregisseur and the case's  special_category_requires_named_partner (*)
      named casusregisseur only)
17    **allowed**: allowed_consent on a consent basis, else allowed_regie / allowed_sharing /
      allowed_named_partner
====  ===========================================  =============================================

(*) Emergency access may override these denials, and only these, with a grant
(``EmergencyRequest``: a non-empty reason and its time box) made for a reader whom a covenant
emergency rule admits (role and partner); else emergency_reason_missing /
emergency_role_not_permitted / emergency_expired (outside the grant's time box), in that
order. Even then it never opens an ``owner``-level fact (emergency_not_for_owner_facts), and an
art. 9/10 fact only where the admitting rule names each of its special categories
(emergency_category_not_covered; AVG art. 9(2)(c): vital interest). A granted override is
``emergency_granted`` with ``emergency=True``; its basis names the rule used. Steps 1-14 and
participant removal can never be overridden. An emergency request on a read that is allowed
anyway does not count as emergency access. Which grant a read is under is
``emergency_for_read``'s: the reader's open grant, else a new one for a stated reason, but
never a renewal of an ended grant with the same reason.

Step 10 names a fact past its deadline because its consent was withdrawn
``consent_withdrawn`` rather than retention_expired; its owner is then **allowed**
``allowed_owner_metadata``: metadata only ("consent withdrawn, awaiting erasure"), where the
owner could otherwise read it (steps 11 and 14 still apply).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from policies._checks import (
    check_compatible,
    check_fact_alive,
    check_participant,
    check_principal,
    check_purpose,
    check_status,
    check_terms,
)
from policies._covenant import Covenant, EmergencyRule
from policies._direction import admits_to_regie
from policies._identity import Principal
from policies._inputs import (
    NO_CONTENT_ROLES,
    CaseState,
    CaseStatus,
    ConsentState,
    EmergencyRequest,
    FactMetadata,
    Role,
    SharingLevel,
    require_aware,
)
from policies._reasons import AccessDecision, Disclosure, ReasonCode, allow, deny

R = ReasonCode
_OPEN = (CaseStatus.triage, CaseStatus.rejected, CaseStatus.active)


def decide_fact_read(
    covenant: Covenant,
    principal: Principal,
    purpose: str,
    emergency: EmergencyRequest | None,
    fact: FactMetadata,
    case: CaseState,
    now: datetime,
) -> AccessDecision:
    """May ``principal`` read ``fact`` for ``purpose`` at ``now``? See the module table."""
    require_aware("now", now)
    early = check_principal(covenant, principal) or check_purpose(covenant, purpose)
    if early is not None:
        return early
    if covenant.discloses_metadata_only(purpose):
        return metadata_view(principal, purpose, f"owner={fact.owner}; kind={fact.kind}")
    denial = (
        check_reads_content(principal)
        or check_terms(covenant, fact)
        or check_compatible(covenant, fact.purpose, purpose)
    )
    if denial is not None:
        return denial
    owner = fact.owner == principal.partner
    alive, status = check_fact_alive(covenant, fact, case, now), check_status(case, _OPEN)
    if alive is not None and alive.reason is R.consent_withdrawn and owner and status is None:
        # AVG art. 7(3): hidden at once; the owner still sees that it awaits erasure.
        return allow(R.allowed_owner_metadata, alive.basis, Disclosure.metadata)
    denial = alive or status
    if denial is not None:
        return denial
    basis = f"sharing={fact.sharing.describe()}; legal_basis={fact.legal_basis}"
    consent: ConsentState | None = None
    if covenant.is_consent_basis(fact.legal_basis):
        consent = matching_consent(principal, purpose, fact, case, now, owner=owner)
        if consent is None:
            return deny(R.consent_absent_or_withdrawn, f"{basis}; no matching consent in force")
        basis = f"{basis}; consent={consent.consent_id}"
    if owner:
        return allow(R.allowed_owner, basis)
    # Bouwschema step 1: during triage only the procesregisseur reads the referral.
    in_triage = case.status is CaseStatus.triage and principal.has_role(Role.procesregisseur)
    if case.status is not CaseStatus.active and not in_triage:
        return deny(R.case_not_active, f"case status={case.status}")
    participation = check_participant(case, principal.partner, now)
    if participation is not None and participation.reason is R.participant_removed:
        return participation
    sharing = _sharing(covenant, principal, fact, case, basis, consent=consent is not None)
    if participation is None and sharing.allowed:
        return sharing
    blocked = participation or sharing
    if emergency is None:
        return blocked
    return _break_glass(covenant, principal, emergency, fact, now, blocked, basis)


def metadata_view(principal: Principal, purpose: str, basis: str) -> AccessDecision:
    """The privacy officer's view for a metadata purpose (AVG art. 5(2), 39: supervision)."""
    if not principal.has_role(Role.privacy_officer):
        return deny(R.role_not_permitted, f"purpose {purpose} is for the privacy officer")
    return allow(R.privacy_officer_metadata, f"metadata only; {basis}", Disclosure.metadata)


def check_reads_content(principal: Principal) -> AccessDecision | None:
    excluded = sorted(principal.roles & NO_CONTENT_ROLES)
    if excluded:
        return deny(R.role_excludes_facts, f"role={excluded[0]} never sees fact content")
    return None


def matching_consent(
    principal: Principal,
    purpose: str,
    fact: FactMetadata,
    case: CaseState,
    now: datetime,
    *,
    owner: bool,
) -> ConsentState | None:
    """The first consent (by id) that covers this read at ``now``, if any.

    Same subject among the fact's subjects; given for exactly the declared purpose (AVG
    art. 6(4): consent-based data is not reused for "compatible" purposes); every fact
    category consented to; the reader's partner a named recipient (the owner needs none);
    given and not withdrawn at ``now`` (art. 7(3)).
    """
    candidates = sorted(case.consents, key=lambda c: c.consent_id)
    for consent in candidates:
        if (
            consent.subject in fact.subjects
            and consent.purpose == purpose
            and fact.categories <= consent.categories
            and (owner or principal.partner in consent.recipients)
            and consent.is_in_force(now)
        ):
            return consent
    return None


def _sharing(
    covenant: Covenant,
    principal: Principal,
    fact: FactMetadata,
    case: CaseState,
    basis: str,
    *,
    consent: bool,
) -> AccessDecision:
    level = fact.sharing.level
    if level is SharingLevel.owner:
        return deny(R.sharing_excludes_reader, basis)
    # AVG art. 9 and 10: special categories never reach a partner by a wildcard share.
    if level is not SharingLevel.partners and any(map(covenant.is_special, fact.categories)):
        return deny(R.special_category_requires_named_partner, basis)
    if level is SharingLevel.regie:
        # Only the office's procesregisseur and the casusregisseur this case names.
        admitted, granted = admits_to_regie(covenant, principal, case), R.allowed_regie
    elif level is SharingLevel.participants:
        admitted, granted = True, R.allowed_sharing
    else:
        admitted, granted = principal.partner in fact.sharing.partners, R.allowed_named_partner
    if not admitted:
        return deny(R.sharing_excludes_reader, basis)
    return allow(R.allowed_consent if consent else granted, basis)


def _break_glass(
    covenant: Covenant,
    principal: Principal,
    emergency: EmergencyRequest,
    fact: FactMetadata,
    now: datetime,
    blocked: AccessDecision,
    basis: str,
) -> AccessDecision:
    # The reason text is logged by the ledger; it is free text, so never part of the basis.
    overrides = f"{basis}; would override {blocked.reason}"
    if not emergency.reason.strip():
        return deny(R.emergency_reason_missing, overrides)
    admitting = emergency_rules_for(covenant, principal)
    if not admitting:
        return deny(R.emergency_role_not_permitted, overrides)
    if not emergency.is_open(now):
        return deny(
            R.emergency_expired, f"{overrides}; grant ended {emergency.ends_at.isoformat()}"
        )
    if fact.sharing.level is SharingLevel.owner:
        return deny(R.emergency_not_for_owner_facts, overrides)
    special = {category for category in fact.categories if covenant.is_special(category)}
    rule = next((r for r in admitting if special <= set(r.special_categories)), None)
    if rule is None:
        return deny(R.emergency_category_not_covered, f"{overrides}; no rule opens it")
    return AccessDecision(
        True,
        R.emergency_granted,
        f"{basis}; overrides {blocked.reason}; emergency_rule={rule.id}; "
        f"until {emergency.ends_at.isoformat()}",
        emergency=True,
        disclosure=Disclosure.content,
    )


def emergency_rules_for(covenant: Covenant, principal: Principal) -> tuple[EmergencyRule, ...]:
    """The covenant's emergency rules that admit this reader (role and partner), in order."""
    return tuple(
        rule
        for rule in covenant.emergency.effective_rules
        if rule.admits(principal.partner, principal.roles)
    )


def emergency_window(covenant: Covenant, reason: str, now: datetime) -> EmergencyRequest:
    """A new grant for ``reason`` starting ``now``, boxed by the covenant's window.

    Whether it opens anything is ``decide_fact_read``'s call; a grant is recorded only when it
    does (an emergency request on a read that is allowed anyway is no emergency access).
    """
    require_aware("now", now)
    minutes = covenant.emergency.max_window_minutes
    return EmergencyRequest(reason, now, now + timedelta(minutes=minutes))


def emergency_for_read(
    covenant: Covenant,
    stated_reason: str | None,
    now: datetime,
    *,
    open_grant: EmergencyRequest | None,
    last_grant: EmergencyRequest | None,
) -> EmergencyRequest | None:
    """The emergency grant a read is decided under, if any (``decide_fact_read`` then says
    what it opens).

    ``open_grant`` is the reader's grant in the case open at ``now``; ``last_grant`` the
    reader's most recent grant in the case when none is open. An open grant is used, with or
    without a stated reason: its time box runs from the grant, never from the read. Without
    one, no stated reason means no emergency. A reason that is the last grant's returns that
    grant, which has ended (its reads get ``emergency_expired``): a grant is not renewed with
    the same words. Any other reason asks for a new grant from ``now``
    (``emergency_window``). The result is one of the grants passed in, or a new request.
    """
    require_aware("now", now)
    if open_grant is not None:
        return open_grant
    if stated_reason is None:
        return None
    if last_grant is not None and last_grant.reason == stated_reason:
        return last_grant
    return emergency_window(covenant, stated_reason, now)
