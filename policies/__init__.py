"""Pure policy: the covenant and the decisions derived from it (no I/O, no clock)."""

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

__all__ = [
    "ActionId",
    "CaseId",
    "ConsentId",
    "FactId",
    "PartnerId",
    "Principal",
    "PurposeId",
    "RoleId",
    "SubjectId",
    "UserId",
]
