"""The covenant: what a partnership agreed, as a frozen, validated pydantic model.

Partners, purposes and their compatibility, which partner may hold which role, legal bases,
data categories, fact kinds, retention periods, emergency access and access-log settings. The
model checks the shape of each field; the cross-field rules live in ``_covenant_rules`` and run
as part of validation, so no ``Covenant`` exists that breaks them. The lookups below are what
the decision functions ask; an id the covenant does not declare is never compatible, never
permitted and (for categories) treated as special: default deny.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from policies._covenant_rules import OFFICE, CovenantProblemsError, cross_field_problems
from policies._identity import PartnerId, PurposeId
from policies._inputs import Role

#: Covenant ids: lowercase words joined by underscores (they appear in logs and tokens).
Id = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z_]+$")]
Text = Annotated[str, StringConstraints(strict=True, min_length=1)]
Positive = Annotated[StrictInt, Field(gt=0)]

#: NEN 7513 keeps access logs at least five years.
MIN_ACCESS_LOG_YEARS = 5


class Domain(StrEnum):
    """The life domain a partner works in (docs/domain.md "Partner organisation")."""

    care = "care"
    safety = "safety"
    justice = "justice"
    social = "social"
    housing = "housing"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Partner(_Model):
    id: Id
    name: Text
    domain: Domain


class Purpose(_Model):
    """A processing purpose (art. 30 register entry) and who may reuse its facts."""

    id: Id
    description: Text
    # Reader purposes allowed to reuse facts collected for this one (AVG art. 6(4)).
    compatible_with: tuple[Id, ...] = ()
    # Declared only to be refused: facts are never read for it, nor is it read for.
    incompatible_with_all: StrictBool = False
    # "metadata": the privacy officer's purpose; sees who/what/when of every fact, no content.
    disclosure: Literal["content", "metadata"] = "content"
    # Cases may be opened for this purpose (a content purpose that is not closed to all).
    opens_cases: StrictBool = False


class RoleGrant(_Model):
    """A role and the partners whose users may hold it (empty: nobody yet)."""

    id: Role
    description: str = ""
    partners: tuple[Id, ...] = ()


class LegalBasis(_Model):
    id: Id
    description: Text
    # Facts on this basis are readable only while a matching consent is in force (art. 7(3)).
    consent: StrictBool = False


class Category(_Model):
    id: Id
    description: Text
    special: Literal["art9", "art10", "none"] = "none"


class Kind(_Model):
    id: Id
    description: Text


class Retention(_Model):
    """Storage limitation (AVG art. 5(1)(e)): the covenant sets the periods, not the AVG."""

    rejected_signal_weeks: Positive
    closed_case_years: Positive
    consent_withdrawn: Literal["next_run"]
    access_log_years_after_case: Positive

    @field_validator("access_log_years_after_case")
    @classmethod
    def _nen_7513_minimum(cls, years: int) -> int:
        if years < MIN_ACCESS_LOG_YEARS:
            raise ValueError(f"must be at least {MIN_ACCESS_LOG_YEARS} (NEN 7513 minimum)")
        return years


class EmergencyRule(_Model):
    """Who may break the glass, and which special categories that may open for them.

    ``partners`` empty: any partner whose users may hold one of ``roles``.
    ``special_categories``: the art. 9/10 categories this rule opens (vital interest, AVG
    art. 9(2)(c)); facts of other special categories stay closed even in an emergency.
    """

    id: Id
    description: str = ""
    roles: Annotated[tuple[Role, ...], Field(min_length=1)]
    partners: tuple[Id, ...] = ()
    special_categories: tuple[Id, ...] = ()

    def admits(self, partner: str, roles: frozenset[str]) -> bool:
        return bool(roles & set(self.roles)) and (not self.partners or partner in self.partners)


class Emergency(_Model):
    """Break the glass: the rules of who may, and how long one grant stays open.

    ``roles`` is the short form of one rule (id ``default``) opening no special category; a
    covenant with ``rules`` uses those, in file order (the first rule admitting the reader and
    covering the fact's special categories is the one a decision names).
    """

    roles: tuple[Role, ...] = ()
    rules: tuple[EmergencyRule, ...] = ()
    max_window_minutes: Annotated[StrictInt, Field(gt=0, le=24 * 60)]

    @cached_property
    def effective_rules(self) -> tuple[EmergencyRule, ...]:
        if self.rules:
            return self.rules
        if not self.roles:
            return ()
        return (EmergencyRule(id="default", roles=self.roles),)


class Erasure(_Model):
    """Four eyes (AVG art. 5(2), 32): erasing a whole owner, or a case outside retention,
    needs a second privacy officer's confirmation within this many hours."""

    confirm_within_hours: Annotated[StrictInt, Field(gt=0, le=30 * 24)] = 72


class AccessLog(_Model):
    checkpoint_every: Positive


@dataclass(frozen=True, slots=True)
class _Index:
    partners: dict[str, Partner]
    purposes: dict[str, Purpose]
    holders: dict[str, frozenset[str]]
    bases: dict[str, LegalBasis]
    categories: dict[str, Category]
    kinds: frozenset[str]


class Covenant(_Model):
    """A validated covenant. Build it with ``parse_covenant`` or ``load_covenant``.

    Frozen: a new covenant version is a new file, loaded and validated again (never
    ``model_copy(update=...)``, which skips validation).
    """

    version: Annotated[StrictInt, Field(ge=1)]
    name: Text
    partners: Annotated[tuple[Partner, ...], Field(min_length=1)]
    purposes: Annotated[tuple[Purpose, ...], Field(min_length=1)]
    roles: tuple[RoleGrant, ...]
    legal_bases: Annotated[tuple[LegalBasis, ...], Field(min_length=1)]
    categories: Annotated[tuple[Category, ...], Field(min_length=1)]
    kinds: Annotated[tuple[Kind, ...], Field(min_length=1)]
    retention: Retention
    emergency: Emergency
    access_log: AccessLog
    erasure: Erasure = Erasure()

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Covenant:
        problems = cross_field_problems(self)
        if problems:
            raise CovenantProblemsError(problems)
        return self

    @cached_property
    def _index(self) -> _Index:
        # Built once per covenant, on first use; kept out of the fields (not compared, not
        # dumped). Decisions run per fact, so lookups must be plain dictionary hits.
        return _Index(
            partners={p.id: p for p in self.partners},
            purposes={p.id: p for p in self.purposes},
            holders={r.id: frozenset(r.partners) for r in self.roles},
            bases={b.id: b for b in self.legal_bases},
            categories={c.id: c for c in self.categories},
            kinds=frozenset(k.id for k in self.kinds),
        )

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the covenant's rules in canonical JSON: the same rules give the
        same hash whatever the file's comments, layout or key order."""
        document = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(document.encode()).hexdigest()

    @property
    def reference(self) -> str:
        """``<version>:<content hash>``: what each access-log entry and write event records
        as the covenant in force (``caseledger covenant check`` prints it for a file)."""
        return f"{self.version}:{self.content_hash}"

    # -- lookups asked by the decision functions ------------------------------------------

    def is_partner(self, partner: str) -> bool:
        return partner in self._index.partners

    def partner_ids(self) -> tuple[PartnerId, ...]:
        return tuple(PartnerId(p.id) for p in self.partners)

    def purpose_ids(self) -> tuple[PurposeId, ...]:
        return tuple(PurposeId(p.id) for p in self.purposes)

    def find_purpose(self, purpose: str) -> Purpose | None:
        return self._index.purposes.get(purpose)

    def may_hold_role(self, partner: str, role: str) -> bool:
        return partner in self._index.holders.get(role, frozenset())

    def role_ids(self) -> tuple[str, ...]:
        return tuple(str(r.id) for r in self.roles)

    def is_compatible(self, fact_purpose: str, reader_purpose: str) -> bool:
        """May facts collected for ``fact_purpose`` be read for ``reader_purpose``?

        AVG art. 5(1)(b): only the same purpose or one the covenant declares compatible.
        Purposes flagged ``incompatible_with_all`` and metadata-only purposes match nothing,
        not even themselves: no content is ever read for them.
        """
        fact = self._index.purposes.get(fact_purpose)
        reader = self._index.purposes.get(reader_purpose)
        if fact is None or reader is None:
            return False
        if _closed(fact) or _closed(reader):
            return False
        return fact.id == reader.id or reader.id in fact.compatible_with

    def opens_cases(self, purpose: str) -> bool:
        """May a case be opened for ``purpose``? Only where the covenant says so."""
        found = self._index.purposes.get(purpose)
        return found is not None and found.opens_cases

    @property
    def office(self) -> PartnerId:
        """The partnership office (every case has it; it owns the process records)."""
        return PartnerId(OFFICE)

    def discloses_metadata_only(self, purpose: str) -> bool:
        found = self._index.purposes.get(purpose)
        return found is not None and found.disclosure == "metadata"

    def is_kind(self, kind: str) -> bool:
        return kind in self._index.kinds

    def is_category(self, category: str) -> bool:
        return category in self._index.categories

    def is_legal_basis(self, legal_basis: str) -> bool:
        return legal_basis in self._index.bases

    def is_consent_basis(self, legal_basis: str) -> bool:
        found = self._index.bases.get(legal_basis)
        return found is not None and found.consent

    def is_special(self, category: str) -> bool:
        """AVG art. 9 / art. 10 category; an undeclared category counts as special."""
        found = self._index.categories.get(category)
        return found is None or found.special != "none"

    def category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    def kind_ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self.kinds)

    def legal_basis_ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.legal_bases)


def _closed(purpose: Purpose) -> bool:
    return purpose.incompatible_with_all or purpose.disclosure == "metadata"
