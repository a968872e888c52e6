"""The shape of a shared-starting-point fact's body (gedeeld vertrekpunt, docs/domain.md).

A partner's picture is ``{"picture": text, "chances": [text, ...], "threats": [text, ...]}``
(chances and threats may be empty or left out); the partnership office's shared goal is
``{"goal": text}``. Texts are non-empty strings. Nothing else is accepted, so every reader of
the starting point can rely on the shape. A refusal names the field, never the content.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ledger._errors import InvalidCommandError
from ledger._meeting import OFFICE

STARTING_POINT_KIND = "shared_starting_point"
_PICTURE_LISTS = ("chances", "threats")
_MAX_ITEMS = 100


def check_starting_point_body(kind: str, owner: str, body: Any) -> None:
    """For a ``shared_starting_point`` fact owned by ``owner``: the goal's shape when the
    owner is the partnership office, else a picture's. Other kinds pass unchecked."""
    if kind != STARTING_POINT_KIND:
        return
    if not isinstance(body, dict):
        _refuse("the body must be an object")
    if owner == OFFICE:
        _require_only(body, {"goal"})
        _require_text(body, "goal")
        return
    _require_only(body, {"picture", *_PICTURE_LISTS})
    _require_text(body, "picture")
    for field in _PICTURE_LISTS:
        items = body.get(field, [])
        if not isinstance(items, list) or len(items) > _MAX_ITEMS:
            _refuse(f"{field} must be a list of at most {_MAX_ITEMS} texts")
        if not all(isinstance(item, str) and item.strip() for item in items):
            _refuse(f"every item of {field} must be a non-empty text")


def _require_only(body: dict[str, Any], allowed: set[str]) -> None:
    if set(body) - allowed:  # the names are not repeated: they are the caller's input
        _refuse(f"unexpected fields; allowed: {', '.join(sorted(allowed))}")


def _require_text(body: dict[str, Any], field: str) -> None:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        _refuse(f"{field} must be a non-empty text")


def _refuse(detail: str) -> NoReturn:
    raise InvalidCommandError(f"shared starting point: {detail}", code="starting_point_body")
