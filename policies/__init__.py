"""Pure policy: the covenant and the decisions derived from it (no I/O, no clock).

The covenant file is loaded once (``load_covenant``); every decision is a pure function of
(covenant, principal, purpose, fact metadata, case state, now) returning an
``AccessDecision`` with a ``ReasonCode`` the access log keeps.
"""

from policies._action_listing import decide_action_listing
from policies._case_reads import (
    decide_case_read,
    decide_case_sight,
    decide_subject_report,
    decide_supervision,
    reads_beyond_participation,
)
from policies._covenant import Covenant, Domain, EmergencyRule
from policies._covenant_load import load_covenant, parse_covenant, sample_covenant_path
from policies._diff import (
    CovenantDiff,
    DecisionChange,
    DecisionGroup,
    compare_covenants,
    diff_covenants,
)
from policies._diff_sections import ChangeKind, SectionChange, covenant_sections, diff_sections
from policies._direction import admits_to_regie, decide_direction
from policies._erasure_rules import (
    ErasureGround,
    ErasureRuling,
    ErasureScope,
    decide_erasure_confirmation,
    decide_erasure_request,
    erasure_request_expires_at,
)
from policies._errors import CovenantError, CovenantProblem, PolicyError
from policies._fact_read import (
    decide_fact_read,
    emergency_for_read,
    emergency_rules_for,
    emergency_window,
)
from policies._identity import (
    ActionId,
    CaseId,
    ConsentId,
    FactId,
    PartnerId,
    Principal,
    PurposeId,
    RoleId,
    SubjectId,
    UserId,
)
from policies._inputs import (
    CaseState,
    CaseStatus,
    ConsentState,
    Director,
    EmergencyRequest,
    FactMetadata,
    LegalHold,
    NotificationDecision,
    Participation,
    Role,
    Sharing,
    SharingLevel,
)
from policies._meetings import (
    MeetingAction,
    MinutesMetadata,
    cancelled_meeting_deadline,
    decide_meeting_write,
    decide_minutes_read,
    meeting_roles,
    sees_item,
)
from policies._reasons import (
    AccessDecision,
    Disclosure,
    ReasonCode,
    Withheld,
    explain,
    withheld_reason,
)
from policies._referral import decide_case_overview, decide_referral
from policies._retention import (
    access_log_retention_until,
    case_retention_deadline,
    fact_retention_deadline,
    is_expired,
    is_on_hold,
)
from policies._starting_point import (
    StartingPoint,
    current_starting_point,
    decide_starting_point_read,
    is_goal,
)
from policies._writes import WriteAction, decide_write, required_roles

__all__ = [
    "AccessDecision",
    "ActionId",
    "CaseId",
    "CaseState",
    "CaseStatus",
    "ChangeKind",
    "ConsentId",
    "ConsentState",
    "Covenant",
    "CovenantDiff",
    "CovenantError",
    "CovenantProblem",
    "DecisionChange",
    "DecisionGroup",
    "Director",
    "Disclosure",
    "Domain",
    "EmergencyRequest",
    "EmergencyRule",
    "ErasureGround",
    "ErasureRuling",
    "ErasureScope",
    "FactId",
    "FactMetadata",
    "LegalHold",
    "MeetingAction",
    "MinutesMetadata",
    "NotificationDecision",
    "Participation",
    "PartnerId",
    "PolicyError",
    "Principal",
    "PurposeId",
    "ReasonCode",
    "Role",
    "RoleId",
    "SectionChange",
    "Sharing",
    "SharingLevel",
    "StartingPoint",
    "SubjectId",
    "UserId",
    "Withheld",
    "WriteAction",
    "access_log_retention_until",
    "admits_to_regie",
    "cancelled_meeting_deadline",
    "case_retention_deadline",
    "compare_covenants",
    "covenant_sections",
    "current_starting_point",
    "decide_action_listing",
    "decide_case_overview",
    "decide_case_read",
    "decide_case_sight",
    "decide_direction",
    "decide_erasure_confirmation",
    "decide_erasure_request",
    "decide_fact_read",
    "decide_meeting_write",
    "decide_minutes_read",
    "decide_referral",
    "decide_starting_point_read",
    "decide_subject_report",
    "decide_supervision",
    "decide_write",
    "diff_covenants",
    "diff_sections",
    "emergency_for_read",
    "emergency_rules_for",
    "emergency_window",
    "erasure_request_expires_at",
    "explain",
    "fact_retention_deadline",
    "is_expired",
    "is_goal",
    "is_on_hold",
    "load_covenant",
    "meeting_roles",
    "parse_covenant",
    "reads_beyond_participation",
    "required_roles",
    "sample_covenant_path",
    "sees_item",
    "withheld_reason",
]
