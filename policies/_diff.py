"""What a covenant change changes: its sections, and the fact-read decisions that flip.

``compare_covenants(old, new)`` gives both: the declarations that differ, section by section
(``diff_sections``), and the canonical read decisions whose outcome differs
(``diff_covenants``), with those decisions grouped by direction and reasons for a summary.

``diff_covenants(old, new)`` evaluates ``decide_fact_read`` under both covenants for every
combination of role, reader purpose, fact purpose, fact kind, data category and sharing
level (the union of what either version declares) and lists those whose ``allowed`` differs.
Every combination is evaluated in one canonical setup, so only the covenant varies:

* time: the case opened and was accepted at 2025-03-01T00:00Z (the WGS in force), the fact
  recorded then, the read one day later; no consents, no legal holds, no emergency;
* reader: one user holding only the role, at the first partner (by id) that may hold it in
  the new covenant, else in the old one (roles nobody may hold in either are skipped);
* owner: the first partner (by id, either version) other than the reader's partner;
* case: ``active``, its purpose the fact's purpose, participants the owner, the reader's
  partner and ``zvh``, all invited at the start and never removed;
* fact: one category, one subject, legal basis the first non-consent basis (by id) of the
  covenant being evaluated (else its first basis); sharing ``partners`` names the reader's
  partner only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product

from policies._covenant import Covenant
from policies._diff_sections import ChangeKind, SectionChange, covenant_sections, diff_sections
from policies._fact_read import decide_fact_read
from policies._identity import (
    CaseId,
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
    FactMetadata,
    Participation,
    Sharing,
    SharingLevel,
)
from policies._reasons import AccessDecision

START = datetime(2025, 3, 1, tzinfo=UTC)
READ_AT = START + timedelta(days=1)
OFFICE = PartnerId("zvh")


@dataclass(frozen=True, slots=True)
class DecisionChange:
    """One combination whose read decision differs between the old and the new covenant."""

    role: str
    purpose: str
    fact_purpose: str
    kind: str
    category: str
    sharing: SharingLevel
    old: AccessDecision
    new: AccessDecision

    def describe(self) -> str:
        """``deelnemer reads early_signal facts for zvh_joint_approach ...: denied -> ...``."""
        return (
            f"{self.role} reads {self.fact_purpose} facts for {self.purpose} "
            f"(kind={self.kind}, category={self.category}, sharing={self.sharing}): "
            f"{_verdict(self.old)} -> {_verdict(self.new)}"
        )


def _verdict(decision: AccessDecision) -> str:
    return f"{'allowed' if decision.allowed else 'denied'} ({decision.reason})"


@dataclass(frozen=True, slots=True)
class DecisionGroup:
    """Changed decisions with one direction and one refusal reason: the reason the new
    covenant gives for a decision now denied, or the old one gave for a decision now allowed."""

    now_allowed: bool
    reason: str
    count: int

    def describe(self) -> str:
        """``12 decisions now denied (purpose_incompatible)``."""
        noun = "decision" if self.count == 1 else "decisions"
        if self.now_allowed:
            return f"{self.count} {noun} now allowed (denied before: {self.reason})"
        return f"{self.count} {noun} now denied ({self.reason})"


@dataclass(frozen=True, slots=True)
class CovenantDiff:
    """Everything that differs between two covenants: declarations and read decisions."""

    sections: tuple[SectionChange, ...]
    decisions: tuple[DecisionChange, ...]

    @property
    def is_empty(self) -> bool:
        return not self.sections and not self.decisions

    def section_counts(self) -> dict[str, Counter[ChangeKind]]:
        """Per section (every section, in covenant order), its changes counted by kind."""
        counts: dict[str, Counter[ChangeKind]] = {s: Counter() for s in covenant_sections()}
        for change in self.sections:
            counts[change.section][change.kind] += 1
        return counts

    def decision_groups(self) -> list[DecisionGroup]:
        """The changed decisions grouped by direction and refusal reason: now denied first,
        then now allowed, each largest group first."""
        tally = Counter(
            (c.new.allowed, str(c.old.reason if c.new.allowed else c.new.reason))
            for c in self.decisions
        )
        groups = [DecisionGroup(*key, count) for key, count in tally.items()]
        return sorted(groups, key=lambda g: (g.now_allowed, -g.count, g.reason))


def compare_covenants(old: Covenant, new: Covenant) -> CovenantDiff:
    """The section changes and the changed read decisions between ``old`` and ``new``."""
    return CovenantDiff(tuple(diff_sections(old, new)), tuple(diff_covenants(old, new)))


def diff_covenants(old: Covenant, new: Covenant) -> list[DecisionChange]:
    """Every canonical combination whose ``allowed`` differs between ``old`` and ``new``.

    Ordered by role, fact purpose, kind, category, sharing level, then reader purpose.
    """
    partners = sorted({*old.partner_ids(), *new.partner_ids()})
    roles = sorted({*old.role_ids(), *new.role_ids()})
    purposes = sorted({*old.purpose_ids(), *new.purpose_ids()})
    kinds = sorted({*old.kind_ids(), *new.kind_ids()})
    categories = sorted({*old.category_ids(), *new.category_ids()})
    old_basis, new_basis = _canonical_basis(old), _canonical_basis(new)
    changes: list[DecisionChange] = []
    for role in roles:
        reader = _reader(new, role) or _reader(old, role)
        if reader is None:
            continue
        owner = next((p for p in partners if p != reader.partner), PartnerId("other_partner"))
        named = frozenset({reader.partner})
        cases = {p: _case(PurposeId(p), owner, reader.partner) for p in purposes}
        for fact_purpose, kind, category, level in product(
            purposes, kinds, categories, SharingLevel
        ):
            case = cases[fact_purpose]
            sharing = Sharing(level, named if level is SharingLevel.partners else frozenset())
            old_fact = _fact(owner, kind, category, fact_purpose, old_basis, sharing)
            new_fact = _fact(owner, kind, category, fact_purpose, new_basis, sharing)
            for purpose in purposes:
                before = decide_fact_read(old, reader, purpose, None, old_fact, case, READ_AT)
                after = decide_fact_read(new, reader, purpose, None, new_fact, case, READ_AT)
                if before.allowed != after.allowed:
                    changes.append(
                        DecisionChange(
                            role, purpose, fact_purpose, kind, category, level, before, after
                        )
                    )
    return changes


def _reader(covenant: Covenant, role: str) -> Principal | None:
    for partner in sorted(covenant.partner_ids()):
        if covenant.may_hold_role(partner, role):
            return Principal(UserId("diff_reader"), partner, frozenset({RoleId(role)}))
    return None


def _canonical_basis(covenant: Covenant) -> str:
    ids = sorted(covenant.legal_basis_ids())
    plain = [basis for basis in ids if not covenant.is_consent_basis(basis)]
    return (plain or ids)[0]


def _case(purpose: PurposeId, owner: PartnerId, reader: PartnerId) -> CaseState:
    members = {owner, reader, OFFICE}
    return CaseState(
        case_id=CaseId("diff_case"),
        status=CaseStatus.active,
        purpose=purpose,
        opened_at=START,
        decided_at=START,
        participants={p: Participation(p, START) for p in members},
    )


def _fact(
    owner: PartnerId, kind: str, category: str, purpose: str, basis: str, sharing: Sharing
) -> FactMetadata:
    return FactMetadata(
        fact_id=FactId("diff_fact"),
        case_id=CaseId("diff_case"),
        owner=owner,
        kind=kind,
        categories=frozenset({category}),
        subjects=frozenset({SubjectId("diff_subject")}),
        purpose=PurposeId(purpose),
        legal_basis=basis,
        sharing=sharing,
        recorded_at=START,
    )
