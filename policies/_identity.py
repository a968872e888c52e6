"""Who is asking: identifiers and the authenticated principal.

Ids are opaque strings (random for cases, subjects and facts; covenant-declared for partners,
purposes and roles). They never carry personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NewType

PartnerId = NewType("PartnerId", str)
UserId = NewType("UserId", str)
PurposeId = NewType("PurposeId", str)
RoleId = NewType("RoleId", str)
CaseId = NewType("CaseId", str)
SubjectId = NewType("SubjectId", str)
FactId = NewType("FactId", str)
ActionId = NewType("ActionId", str)
ConsentId = NewType("ConsentId", str)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user of one partner, with roles, maybe acting for another."""

    user: UserId
    partner: PartnerId
    roles: frozenset[RoleId] = field(default_factory=frozenset)
    on_behalf_of: UserId | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles
