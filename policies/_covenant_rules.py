"""Cross-field rules of a covenant: references resolve and nothing contradicts the law.

Each rule yields ``CovenantProblem``s with the dotted path of the offending field, so one run
reports every problem at once. The rules run inside ``Covenant`` validation (after the shape of
every field is valid), hence a ``Covenant`` value always satisfies them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from policies._errors import CovenantProblem
from policies._inputs import NO_CONTENT_ROLES, Role

if TYPE_CHECKING:
    from policies._covenant import Covenant

#: The partnership office: the ledger adds it to every case, and only its staff direct
#: processes, keep minutes or act as privacy officer (docs/domain.md "Partner organisation").
OFFICE = "zvh"
OFFICE_ONLY_ROLES = (Role.procesregisseur, Role.administratief_medewerker, Role.privacy_officer)

#: Categories the AVG singles out; a covenant may not declare them as ordinary data.
SPECIAL_BY_LAW = {"health": "art9", "criminal": "art10"}


class CovenantProblemsError(ValueError):
    """Raised inside validation; carries the problems out through pydantic's error list."""

    def __init__(self, problems: Sequence[CovenantProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"{len(self.problems)} cross-field problem(s)")


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def cross_field_problems(covenant: Covenant) -> list[CovenantProblem]:
    """Every cross-field problem of ``covenant``, in file order."""
    return [
        *_unique("partners", covenant.partners),
        *_unique("purposes", covenant.purposes),
        *_unique("roles", covenant.roles),
        *_unique("legal_bases", covenant.legal_bases),
        *_unique("categories", covenant.categories),
        *_unique("kinds", covenant.kinds),
        *_office(covenant),
        *_compatibility(covenant),
        *_role_holders(covenant),
        *_special_categories(covenant),
        *_case_purposes(covenant),
        *_emergency_roles(covenant),
        *_emergency_rules(covenant),
    ]


def _unique(section: str, items: Sequence[_HasId]) -> Iterator[CovenantProblem]:
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in first:
            yield CovenantProblem(
                f"{section}[{index}].id",
                f"duplicate id '{item.id}' (first declared at {section}[{first[item.id]}])",
            )
        else:
            first[item.id] = index


def _office(covenant: Covenant) -> Iterator[CovenantProblem]:
    if all(p.id != OFFICE for p in covenant.partners):
        yield CovenantProblem(
            "partners", f"the partnership office '{OFFICE}' must be declared (every case has it)"
        )


def _compatibility(covenant: Covenant) -> Iterator[CovenantProblem]:
    # AVG art. 5(1)(b): compatibility is declared explicitly and only between real purposes.
    by_id = {p.id: p for p in covenant.purposes}
    for index, purpose in enumerate(covenant.purposes):
        where = f"purposes[{index}].compatible_with"
        if purpose.compatible_with and purpose.incompatible_with_all:
            yield CovenantProblem(where, "must be empty: the purpose is incompatible with all")
        elif purpose.compatible_with and purpose.disclosure == "metadata":
            yield CovenantProblem(where, "must be empty: a metadata purpose collects no content")
        for position, reader in enumerate(purpose.compatible_with):
            target = by_id.get(reader)
            if target is None:
                yield CovenantProblem(
                    f"{where}[{position}]",
                    f"unknown purpose '{reader}' (declared: {', '.join(sorted(by_id))})",
                )
            elif target.incompatible_with_all:
                yield CovenantProblem(
                    f"{where}[{position}]",
                    f"'{reader}' is incompatible with all purposes; it may appear in no "
                    "compatibility list",
                )
            elif target.disclosure == "metadata":
                yield CovenantProblem(
                    f"{where}[{position}]",
                    f"'{reader}' discloses metadata only; no content is reused for it",
                )


def _role_holders(covenant: Covenant) -> Iterator[CovenantProblem]:
    partners = {p.id for p in covenant.partners}
    for index, grant in enumerate(covenant.roles):
        for position, partner in enumerate(grant.partners):
            where = f"roles[{index}].partners[{position}]"
            if partner not in partners:
                yield CovenantProblem(where, f"unknown partner '{partner}'")
            elif grant.id in OFFICE_ONLY_ROLES and partner != OFFICE:
                yield CovenantProblem(
                    where, f"role '{grant.id}' is held only at the partnership office '{OFFICE}'"
                )


def _special_categories(covenant: Covenant) -> Iterator[CovenantProblem]:
    # AVG art. 9 (health) and art. 10 (criminal) are special whatever the covenant says.
    for index, category in enumerate(covenant.categories):
        required = SPECIAL_BY_LAW.get(category.id)
        if required is not None and category.special != required:
            yield CovenantProblem(
                f"categories[{index}].special",
                f"'{category.id}' is a special category by law: must be '{required}'",
            )


def _case_purposes(covenant: Covenant) -> Iterator[CovenantProblem]:
    # A case is processed for its purpose: one that reads no content cannot be one.
    for index, purpose in enumerate(covenant.purposes):
        if purpose.opens_cases and (
            purpose.incompatible_with_all or purpose.disclosure != "content"
        ):
            yield CovenantProblem(
                f"purposes[{index}].opens_cases",
                "must be false: no content is processed for this purpose",
            )


def _emergency_roles(covenant: Covenant) -> Iterator[CovenantProblem]:
    yield from _rule_roles(covenant, "emergency.roles", covenant.emergency.roles)


def _rule_roles(covenant: Covenant, path: str, roles: Sequence[str]) -> Iterator[CovenantProblem]:
    declared = {grant.id for grant in covenant.roles}
    for index, role in enumerate(roles):
        where = f"{path}[{index}]"
        if role not in declared:
            yield CovenantProblem(where, f"role '{role}' is not declared under roles")
        elif role in NO_CONTENT_ROLES:
            yield CovenantProblem(
                where, f"role '{role}' never reads fact content; emergency access cannot apply"
            )


def _emergency_rules(covenant: Covenant) -> Iterator[CovenantProblem]:
    emergency = covenant.emergency
    if emergency.roles and emergency.rules:
        yield CovenantProblem("emergency.roles", "give either roles or rules, not both")
    yield from _unique("emergency.rules", emergency.rules)
    partners = {p.id for p in covenant.partners}
    special = {c.id for c in covenant.categories if c.special != "none"}
    for index, rule in enumerate(emergency.rules):
        where = f"emergency.rules[{index}]"
        yield from _rule_roles(covenant, f"{where}.roles", rule.roles)
        for position, partner in enumerate(rule.partners):
            if partner not in partners:
                yield CovenantProblem(
                    f"{where}.partners[{position}]", f"unknown partner '{partner}'"
                )
        for position, category in enumerate(rule.special_categories):
            if category not in special:
                yield CovenantProblem(
                    f"{where}.special_categories[{position}]",
                    f"'{category}' is not a declared special category (art. 9/10)",
                )
