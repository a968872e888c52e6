"""The shared starting point (gedeeld vertrekpunt) of a case: what it is, who records it, who
reads it (docs/domain.md, "The way of working", step 2).

A fact of kind ``shared_starting_point`` is one of two things, decided by its owner:

* owned by a partner other than the partnership office: that partner's **picture** (its body
  holds the picture, the chances and the threats as the partner sees them), visible per its
  own sharing level like any fact;
* owned by the partnership office (``covenant.office``): the **shared goal**. Only the
  office's procesregisseur records it (role_not_permitted otherwise), and it is shared with
  every active participant (sharing level ``participants``, else
  goal_not_shared_with_participants): the goal is common to all, so no narrower level, and so
  never a health or criminal fact (that level refuses them).

``current_starting_point`` picks the current one: per partner its latest live picture, and
the latest live goal; live means neither erased nor retracted, so removing the latest lets
the one before it stand again. Which of the current facts a reader sees is then each fact's
own read decision (``decide_fact_read``); a superseded picture is not part of the starting
point for anyone.

``decide_starting_point_read`` guards the starting-point read: ``decide_case_read``'s decision,
and then no content role (the clerk reads case process data, never a fact:
role_excludes_facts, on a case the clerk otherwise sees).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from policies._covenant import Covenant
from policies._fact_read import check_reads_content
from policies._identity import PartnerId, Principal
from policies._inputs import FactMetadata, Role, SharingLevel
from policies._reasons import AccessDecision, Disclosure, ReasonCode, deny

R = ReasonCode
#: The covenant's kind for pictures and the goal alike.
_KIND = "shared_starting_point"


@dataclass(frozen=True, slots=True)
class StartingPoint:
    """The current starting point of a case: one picture per partner (by partner id) and the
    goal, or None while the office has recorded none."""

    #: The covenant's fact kind of pictures and the goal alike.
    KIND: ClassVar[str] = _KIND

    pictures: tuple[FactMetadata, ...]
    goal: FactMetadata | None

    @property
    def facts(self) -> tuple[FactMetadata, ...]:
        """Every current fact: the pictures, then the goal."""
        return (*self.pictures, self.goal) if self.goal is not None else self.pictures


def is_goal(covenant: Covenant, fact: FactMetadata) -> bool:
    """The shared goal: a starting-point fact owned by the partnership office."""
    return fact.kind == _KIND and fact.owner == covenant.office


def current_starting_point(covenant: Covenant, facts: Iterable[FactMetadata]) -> StartingPoint:
    """The current pictures and goal among ``facts`` (a case's facts in recording order:
    later facts supersede earlier ones of the same owner)."""
    latest: dict[PartnerId, FactMetadata] = {}
    for fact in facts:
        if fact.kind == _KIND and not (fact.erased or fact.retracted):
            latest[fact.owner] = fact
    goal = latest.pop(covenant.office, None)
    return StartingPoint(tuple(latest[owner] for owner in sorted(latest)), goal)


def check_goal(
    covenant: Covenant, principal: Principal, fact: FactMetadata
) -> AccessDecision | None:
    """Recording ``fact``: a goal needs the office's procesregisseur and sharing
    ``participants``; any other fact passes (None)."""
    if not is_goal(covenant, fact):
        return None
    if not principal.has_role(Role.procesregisseur):
        return deny(R.role_not_permitted, "the shared goal is recorded by the procesregisseur")
    if fact.sharing.level is not SharingLevel.participants:
        return deny(R.goal_not_shared_with_participants, f"sharing={fact.sharing.describe()}")
    return None


def decide_starting_point_read(principal: Principal, case_read: AccessDecision) -> AccessDecision:
    """May ``principal`` read the case's starting point (each fact then decided on its own)?

    ``case_read`` is ``decide_case_read``'s decision for the same request: its refusal stands;
    its allowance stands unless ``principal`` holds a content-excluding role.
    """
    if not case_read.allowed or case_read.disclosure is Disclosure.metadata:
        return case_read
    # The clerk keeps the minutes and sees the case's process data, never a fact's content.
    return check_reads_content(principal) or case_read
