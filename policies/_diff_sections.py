"""What a covenant change changes, section by section: the declarations themselves.

``diff_sections(old, new)`` compares every section of two covenants (every field of
``Covenant`` except its ``version`` and ``name``) and returns one ``SectionChange`` per
difference, with a dotted path and the old and new values:

* entries of a list with ids (partners, purposes, roles, legal bases, categories, kinds,
  emergency rules) are matched by id: an entry is ``added``, ``removed``, or each differing
  field of it is ``changed``;
* lists of ids inside an entry (``compatible_with``, a role's ``partners``, an emergency
  rule's ``roles`` and ``special_categories``) are compared as sets: each id ``added`` or
  ``removed``;
* the order of emergency rules matters (the first rule admitting a reader is the one a
  decision names), so a new order is a ``changed`` ``emergency.rules`` with both orders;
* anything else (retention periods, the emergency window, erasure, access-log settings) is
  ``changed`` with its old and new value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from policies._covenant import Covenant

#: Lists whose order is part of their meaning (file order decides between rules).
ORDERED = frozenset({"emergency.rules"})
#: Top-level fields that identify the document rather than a section of it.
_IDENTITY = frozenset({"version", "name"})


class ChangeKind(StrEnum):
    added = "added"
    removed = "removed"
    changed = "changed"


@dataclass(frozen=True, slots=True)
class SectionChange:
    """One difference between two covenants; values as in the covenant file (JSON shapes)."""

    section: str
    kind: ChangeKind
    path: str
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        """``purposes.signal.compatible_with: removed joint`` and the like."""
        if self.kind is ChangeKind.added:
            return f"{self.path}: added {_show(self.new)}"
        if self.kind is ChangeKind.removed:
            return f"{self.path}: removed {_show(self.old)}"
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


def covenant_sections() -> tuple[str, ...]:
    """Every section compared, in the covenant model's field order."""
    return tuple(name for name in Covenant.model_fields if name not in _IDENTITY)


def diff_sections(old: Covenant, new: Covenant) -> list[SectionChange]:
    """Every difference between ``old`` and ``new``, section by section (model order)."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    changes: list[SectionChange] = []
    for section in covenant_sections():
        changes.extend(_diff(section, section, before[section], after[section]))
    return changes


def _diff(section: str, path: str, old: Any, new: Any) -> list[SectionChange]:
    if old == new:
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return _diff_fields(section, path, old, new)
    if _is_list(old) and _is_list(new):
        # The covenant's lists hold either ids or entries with an id (never both kinds).
        if all(isinstance(v, str) for v in (*old, *new)):
            return _diff_members(section, path, old, new)
        return _diff_entries(section, path, old, new)
    return [SectionChange(section, ChangeKind.changed, path, old, new)]


def _diff_fields(
    section: str, path: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[SectionChange]:
    # Dumps of one model: the same keys on both sides (defaults included).
    changes: list[SectionChange] = []
    for key in old:
        changes.extend(_diff(section, f"{path}.{key}", old[key], new[key]))
    return changes


def _diff_entries(
    section: str, path: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[SectionChange]:
    before = {entry["id"]: entry for entry in old}
    after = {entry["id"]: entry for entry in new}
    changes: list[SectionChange] = []
    for entry_id, entry in before.items():
        where = f"{path}.{entry_id}"
        if entry_id not in after:
            changes.append(SectionChange(section, ChangeKind.removed, where, entry))
        else:
            changes.extend(_diff_fields(section, where, entry, after[entry_id]))
    for entry_id, entry in after.items():
        if entry_id not in before:
            changes.append(
                SectionChange(section, ChangeKind.added, f"{path}.{entry_id}", None, entry)
            )
    kept_before = [i for i in before if i in after]
    kept_after = [i for i in after if i in before]
    if path in ORDERED and kept_before != kept_after:
        changes.append(SectionChange(section, ChangeKind.changed, path, kept_before, kept_after))
    return changes


def _diff_members(
    section: str, path: str, old: Sequence[str], new: Sequence[str]
) -> list[SectionChange]:
    removed = [SectionChange(section, ChangeKind.removed, path, v) for v in old if v not in new]
    added = [SectionChange(section, ChangeKind.added, path, None, v) for v in new if v not in old]
    return removed + added


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    if _is_list(value):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
