"""Decision values: the closed set of reason codes, ``AccessDecision`` and its explanation.

Every decision (read or write, allowed or denied) carries exactly one ``ReasonCode``; the
access log stores the code, so the set is closed and each code keeps its meaning forever
(add codes, never rename or reuse them). ``explain`` turns a decision into the one-line
answer a privacy officer reads ("denied: case_closed (...)").
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from enum import StrEnum

from policies._errors import PolicyError


class ReasonCode(StrEnum):
    """Why a decision came out as it did.

    ========================================  =======  =============================================
    code                                      grants   meaning
    ========================================  =======  =============================================
    allowed_owner                             yes      the reader's partner owns the fact
    allowed_sharing                           yes      sharing ``participants``; reader participates
    allowed_regie                             yes      sharing ``regie``; reader directs the case
                                                       (office procesregisseur, named
                                                       casusregisseur)
    allowed_named_partner                     yes      sharing ``partners``; reader's partner named
    allowed_consent                           yes      admitted, and a matching consent is in force
    allowed_participant                       yes      active participant (case data, writes)
    allowed_role                              yes      the reader's role may do this (writes)
    allowed_assignee                          yes      the action is assigned to the reader
    allowed_access_report                     yes      art. 15 report; fact concerns only subject
    privacy_officer_metadata                  yes      privacy officer: metadata, never content
    emergency_granted                         yes      break the glass: granted, flagged, reviewed
    partner_unknown                           no       reader's partner not in the covenant
    role_not_permitted                        no       role missing, undeclared or not for partner
    role_excludes_facts                       no       clerk, privacy officer, client: no content
    purpose_unknown                           no       declared purpose not in the covenant
    purpose_incompatible                      no       cross-purpose reuse not declared compatible
    undeclared_term                           no       kind, category, basis or partner undeclared
    not_participant                           no       reader's partner not (yet) a participant
    participant_removed                       no       reader's partner was removed from the case
    sharing_excludes_reader                   no       the sharing level does not admit the reader
    special_category_requires_named_partner   no       art. 9/10 facts only to named partners
    consent_absent_or_withdrawn               no       consent basis, no matching consent in force
    case_closed                               no       case closed: participants see nothing
    case_not_active                           no       case status does not allow this
    retention_expired                         no       past its retention deadline, no hold
    erased                                    no       fact or case erased
    retracted                                 no       fact retracted by its owner
    not_owner                                 no       only the owner may do this
    not_assignee                              no       action assigned to another partner
    concerns_other_subjects                   no       fact (also) about others: withheld
    legal_hold                                no       erasure suspended by a legal hold
    emergency_reason_missing                  no       break the glass without a reason
    emergency_window_expired                  no       outside the emergency time window
    emergency_role_not_permitted              no       role may not break the glass
    emergency_expired                         no       the reader's emergency grant has ended
    emergency_not_for_owner_facts             no       emergency never opens owner-only facts
    emergency_category_not_covered            no       no emergency rule opens this art. 9/10 fact
    consent_withdrawn                         no       the consent it rested on was withdrawn
    allowed_owner_metadata                    yes      the owner sees its own hidden fact's metadata
    purpose_not_for_cases                     no       the covenant opens no cases for this purpose
    role_required                             no       the action needs a role the caller lacks
    awaiting_owner_release                    no       art. 15: content awaits its owner's release
    notification_deferred                     no       art. 15: content withheld during a deferral
    four_eyes_required                        no       a second privacy officer must confirm
    erasure_request_expired                   no       the erasure request was not confirmed in time
    ground_not_for_scope                      no       this erasure ground does not fit this scope
    office_not_erasable                       no       the partnership office is never erased whole
    director_role_not_held                    no       the named partner may not hold that role
    director_not_participant                  no       the named casusregisseur's partner is no
                                                       participant
    allowed_referrer                          yes      the referring melder: its referral and the
                                                       triage outcome, nothing else
    goal_not_shared_with_participants         no       the shared goal is for every participant
    ========================================  =======  =============================================

    ``emergency_window_expired`` is no longer decided (grants end with ``emergency_expired``);
    it stays so older access-log entries keep their meaning.
    """

    allowed_owner = "allowed_owner"
    allowed_sharing = "allowed_sharing"
    allowed_regie = "allowed_regie"
    allowed_named_partner = "allowed_named_partner"
    allowed_consent = "allowed_consent"
    allowed_participant = "allowed_participant"
    allowed_role = "allowed_role"
    allowed_assignee = "allowed_assignee"
    allowed_access_report = "allowed_access_report"
    privacy_officer_metadata = "privacy_officer_metadata"
    emergency_granted = "emergency_granted"
    partner_unknown = "partner_unknown"
    role_not_permitted = "role_not_permitted"
    role_excludes_facts = "role_excludes_facts"
    purpose_unknown = "purpose_unknown"
    purpose_incompatible = "purpose_incompatible"
    undeclared_term = "undeclared_term"
    not_participant = "not_participant"
    participant_removed = "participant_removed"
    sharing_excludes_reader = "sharing_excludes_reader"
    special_category_requires_named_partner = "special_category_requires_named_partner"
    consent_absent_or_withdrawn = "consent_absent_or_withdrawn"
    case_closed = "case_closed"
    case_not_active = "case_not_active"
    retention_expired = "retention_expired"
    erased = "erased"
    retracted = "retracted"
    not_owner = "not_owner"
    not_assignee = "not_assignee"
    concerns_other_subjects = "concerns_other_subjects"
    legal_hold = "legal_hold"
    emergency_reason_missing = "emergency_reason_missing"
    emergency_window_expired = "emergency_window_expired"
    emergency_role_not_permitted = "emergency_role_not_permitted"
    emergency_expired = "emergency_expired"
    emergency_not_for_owner_facts = "emergency_not_for_owner_facts"
    emergency_category_not_covered = "emergency_category_not_covered"
    consent_withdrawn = "consent_withdrawn"
    allowed_owner_metadata = "allowed_owner_metadata"
    purpose_not_for_cases = "purpose_not_for_cases"
    role_required = "role_required"
    awaiting_owner_release = "awaiting_owner_release"
    notification_deferred = "notification_deferred"
    four_eyes_required = "four_eyes_required"
    erasure_request_expired = "erasure_request_expired"
    ground_not_for_scope = "ground_not_for_scope"
    office_not_erasable = "office_not_erasable"
    director_role_not_held = "director_role_not_held"
    director_not_participant = "director_not_participant"
    allowed_referrer = "allowed_referrer"
    goal_not_shared_with_participants = "goal_not_shared_with_participants"

    @property
    def grants(self) -> bool:
        return self in _GRANTING

    @property
    def metadata_only(self) -> bool:
        """A grant that shows metadata and never content (no disclosure to another reader)."""
        return self in _METADATA_ONLY

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_GRANTING = frozenset(
    {
        ReasonCode.allowed_owner,
        ReasonCode.allowed_sharing,
        ReasonCode.allowed_regie,
        ReasonCode.allowed_named_partner,
        ReasonCode.allowed_consent,
        ReasonCode.allowed_participant,
        ReasonCode.allowed_role,
        ReasonCode.allowed_assignee,
        ReasonCode.allowed_access_report,
        ReasonCode.privacy_officer_metadata,
        ReasonCode.emergency_granted,
        ReasonCode.allowed_owner_metadata,
        ReasonCode.allowed_referrer,
    }
)

#: Grants that show the reader metadata and never content: the privacy officer's supervision
#: and an owner's sight of its own hidden fact. Neither discloses the person's data to another
#: reader, so reports of who received that data (recipients, exposure) leave them out.
_METADATA_ONLY = frozenset({ReasonCode.privacy_officer_metadata, ReasonCode.allowed_owner_metadata})

_R = ReasonCode
_DESCRIPTIONS: dict[ReasonCode, str] = {
    _R.allowed_owner: "the reader's organisation contributed the fact and remains its owner",
    _R.allowed_sharing: "the owner shared it with every active participant",
    _R.allowed_regie: "the owner shared it with the procesregisseur and the named casusregisseur",
    _R.allowed_named_partner: "the owner named the reader's organisation",
    _R.allowed_consent: "the person's consent for this reader and purpose is in force",
    _R.allowed_participant: "the reader's organisation is an active participant",
    _R.allowed_role: "the reader's role may do this",
    _R.allowed_assignee: "the action is assigned to the reader's organisation",
    _R.allowed_access_report: "the fact concerns only the person asking for access",
    _R.privacy_officer_metadata: "the privacy officer sees metadata of everything, no content",
    _R.emergency_granted: "emergency access granted for a limited time; reviewed afterwards",
    _R.partner_unknown: "the reader's organisation is not a partner in the covenant",
    _R.role_not_permitted: "the covenant does not let the reader's organisation hold this role",
    _R.role_excludes_facts: "this role never sees the content of facts",
    _R.purpose_unknown: "the declared purpose is not in the covenant",
    _R.purpose_incompatible: "the declared purpose is not compatible with the fact's purpose",
    _R.undeclared_term: "the fact uses a kind, category or legal basis the covenant lacks",
    _R.not_participant: "the reader's organisation is not a participant of the case",
    _R.participant_removed: "the reader's organisation was removed from the case",
    _R.sharing_excludes_reader: "the owner did not share the fact with the reader",
    _R.special_category_requires_named_partner: (
        "health and criminal facts reach only partners named by the owner"
    ),
    _R.consent_absent_or_withdrawn: "no consent covering this read is in force",
    _R.case_closed: "the case is closed; only metadata remains visible",
    _R.case_not_active: "the case is not in a status that allows this",
    _R.retention_expired: "the retention period has ended",
    _R.erased: "the data has been erased",
    _R.retracted: "the owner retracted the fact",
    _R.not_owner: "only the owning organisation may do this",
    _R.not_assignee: "the action is assigned to another organisation",
    _R.concerns_other_subjects: "the fact is (also) about other people, so it is withheld",
    _R.legal_hold: "erasure is suspended by a legal hold",
    _R.emergency_reason_missing: "emergency access needs a stated reason",
    _R.emergency_window_expired: "the emergency access window has ended",
    _R.emergency_role_not_permitted: "the reader's role may not use emergency access",
    _R.emergency_expired: "the emergency access has ended; a new one needs a new reason",
    _R.emergency_not_for_owner_facts: "emergency access never opens facts kept by their owner",
    _R.emergency_category_not_covered: (
        "no emergency rule of the covenant opens this special category for the reader"
    ),
    _R.consent_withdrawn: "the consent this fact rested on was withdrawn",
    _R.allowed_owner_metadata: (
        "the owner sees that its fact exists (consent withdrawn, awaiting erasure), not its content"
    ),
    _R.purpose_not_for_cases: "the covenant does not let a case be opened for this purpose",
    _R.role_required: "this action needs a role the caller does not hold",
    _R.awaiting_owner_release: "the owning organisation has not released this content",
    _R.notification_deferred: "content is withheld while informing the person is deferred",
    _R.four_eyes_required: "a second privacy officer must confirm this erasure",
    _R.erasure_request_expired: "the erasure request was not confirmed in time",
    _R.ground_not_for_scope: "this ground cannot justify erasing this scope",
    _R.office_not_erasable: "the partnership office itself cannot be erased as an owner",
    _R.director_role_not_held: "the covenant does not let the named partner hold this role",
    _R.director_not_participant: "the named casusregisseur's organisation does not take part",
    _R.allowed_referrer: (
        "the reader's organisation referred the case: its referral and the triage outcome only"
    ),
    _R.goal_not_shared_with_participants: (
        "the shared goal is shared with every active participant (sharing participants)"
    ),
}


class Disclosure(StrEnum):
    """What an allowed decision reveals: the body, only the metadata, or nothing."""

    content = "content"
    metadata = "metadata"
    none = "none"


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """The outcome of one decision; ``basis`` is short, audited and free of personal data.

    Consistency is enforced: a decision is allowed exactly when its reason grants and its
    disclosure is not ``none``; ``emergency`` goes with ``emergency_granted`` and nothing else.
    """

    allowed: bool
    reason: ReasonCode
    basis: str
    _: KW_ONLY
    emergency: bool = False
    disclosure: Disclosure

    def __post_init__(self) -> None:
        if self.allowed != self.reason.grants:
            raise PolicyError(f"reason {self.reason} cannot go with allowed={self.allowed}")
        if self.allowed == (self.disclosure is Disclosure.none):
            raise PolicyError(f"disclosure {self.disclosure} cannot go with {self.reason}")
        if self.emergency != (self.reason is ReasonCode.emergency_granted):
            raise PolicyError(f"emergency={self.emergency} cannot go with {self.reason}")


def allow(
    reason: ReasonCode, basis: str, disclosure: Disclosure = Disclosure.content
) -> AccessDecision:
    return AccessDecision(True, reason, basis, disclosure=disclosure)


def deny(reason: ReasonCode, basis: str) -> AccessDecision:
    return AccessDecision(False, reason, basis, disclosure=Disclosure.none)


def explain(decision: AccessDecision) -> str:
    """The one-line answer: ``denied: case_closed (the case is closed; ...)``."""
    if not decision.allowed:
        verdict = "denied"
    elif decision.emergency:
        verdict = "allowed (emergency)"
    elif decision.disclosure is Disclosure.metadata:
        verdict = "allowed (metadata only)"
    else:
        verdict = "allowed"
    return f"{verdict}: {decision.reason} ({decision.reason.description})"


class Withheld(StrEnum):
    """Why a fact of a case is not shown to a reader: one bucketing for every view.

    A view's ``withheld`` count is the number of the case's facts the reader cannot see, and
    ``withheld_by_reason`` splits it by these buckets (never naming a fact).
    """

    owner_only = "owner_only"
    not_shared = "not_shared"
    category = "category"
    purpose = "purpose"
    consent = "consent"
    consent_withdrawn = "consent_withdrawn"
    erased = "erased"
    retention = "retention"
    case_status = "case_status"
    not_participant = "not_participant"
    role = "role"
    undeclared = "undeclared"
    emergency = "emergency"
    other = "other"


_W = Withheld
_WITHHELD: dict[ReasonCode, Withheld] = {
    _R.partner_unknown: _W.role,
    _R.role_not_permitted: _W.role,
    _R.role_excludes_facts: _W.role,
    _R.role_required: _W.role,
    _R.purpose_unknown: _W.purpose,
    _R.purpose_incompatible: _W.purpose,
    _R.purpose_not_for_cases: _W.purpose,
    _R.undeclared_term: _W.undeclared,
    _R.not_participant: _W.not_participant,
    _R.participant_removed: _W.not_participant,
    _R.special_category_requires_named_partner: _W.category,
    _R.emergency_category_not_covered: _W.category,
    _R.emergency_not_for_owner_facts: _W.owner_only,
    _R.consent_absent_or_withdrawn: _W.consent,
    _R.consent_withdrawn: _W.consent_withdrawn,
    _R.case_closed: _W.case_status,
    _R.case_not_active: _W.case_status,
    _R.retention_expired: _W.retention,
    _R.erased: _W.erased,
    _R.retracted: _W.erased,
    _R.emergency_reason_missing: _W.emergency,
    _R.emergency_window_expired: _W.emergency,
    _R.emergency_role_not_permitted: _W.emergency,
    _R.emergency_expired: _W.emergency,
}


def withheld_reason(decision: AccessDecision, *, owner_level: bool) -> Withheld:
    """The bucket a refused fact read counts in; ``owner_level``: the fact is shared with
    nobody but its owner (so "not shared with you" means "kept by the owner")."""
    if decision.reason is ReasonCode.sharing_excludes_reader:
        return Withheld.owner_only if owner_level else Withheld.not_shared
    return _WITHHELD.get(decision.reason, Withheld.other)
