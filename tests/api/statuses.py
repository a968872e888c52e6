"""The traffic check: every status a route answered in the tests is one its OpenAPI operation
documents.

The shared client fixtures (``tests/api/conftest.py``, ``tests/scenarios/conftest.py``) hand
their ``TestClient`` to :meth:`Traffic.watch`; each response is then recorded as (method,
route template, status). When the session ends, :func:`checked_traffic` compares what was
seen with the OpenAPI document and fails the run listing every status an operation does not
document. A request that reaches no operation (an unknown path, a method the path does not
have) is not checked. Under pytest-xdist each worker checks what it saw.

Every app is built by the same ``create_app``, so one document serves them all: it is taken
from the first app watched (building it costs a fifth of a second per app).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient


@dataclass(frozen=True, order=True, slots=True)
class Observation:
    """One status a route answered."""

    method: str
    route: str
    status: int


class Operations:
    """The operations of an OpenAPI document and the statuses each documents."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        paths: Mapping[str, Mapping[str, Any]] = document.get("paths", {})
        self.statuses = {
            (method.upper(), route): frozenset(operation.get("responses", {}))
            for route, item in paths.items()
            for method, operation in item.items()
        }
        self._patterns = [(route, _route_pattern(route)) for route in paths]

    def route(self, method: str, path: str) -> str | None:
        """The route template of the operation serving ``method path``, if there is one."""
        for template, pattern in self._patterns:
            if pattern.fullmatch(path) and (method, template) in self.statuses:
                return template
        return None

    def documents(self, seen: Observation) -> bool:
        documented = self.statuses.get((seen.method, seen.route), frozenset())
        return bool({str(seen.status), f"{seen.status // 100}XX", "default"} & documented)


def _route_pattern(template: str) -> re.Pattern[str]:
    """``/v1/cases/{case}`` -> a pattern matching its paths (a parameter is one segment)."""
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def undocumented(seen: Iterable[Observation], operations: Operations) -> list[Observation]:
    """The observations whose status their operation does not document, sorted."""
    return sorted(o for o in set(seen) if not operations.documents(o))


def report(missing: Mapping[Observation, str]) -> str:
    """The failure message: each undocumented status with the first test that saw it."""
    lines = [f"  {o.method} {o.route} -> {o.status}   (first in {missing[o]})" for o in missing]
    return "Statuses the OpenAPI document does not list for the operation:\n" + "\n".join(lines)


@dataclass
class Traffic:
    """What the watched clients saw: each observation with the first test that saw it."""

    operations: Operations | None = None
    seen: dict[Observation, str] = field(default_factory=dict)

    def watch(self, client: TestClient) -> TestClient:
        """Record every response ``client`` receives from now on."""
        if self.operations is None:
            self.operations = Operations(client.app.openapi())  # type: ignore[attr-defined]
        hooks = client.event_hooks
        client.event_hooks = {**hooks, "response": [*hooks.get("response", []), self.record]}
        return client

    def record(self, response: httpx2.Response) -> None:
        assert self.operations is not None
        request = response.request
        route = self.operations.route(request.method, request.url.path)
        if route is None:
            return
        seen = Observation(request.method, route, response.status_code)
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        self.seen.setdefault(seen, test)

    def missing(self) -> dict[Observation, str]:
        if self.operations is None:
            return {}
        return {o: self.seen[o] for o in undocumented(self.seen, self.operations)}


@contextmanager
def checked_traffic() -> Iterator[Traffic]:
    """A :class:`Traffic` for the session; at its end, fail on any undocumented status."""
    traffic = Traffic()
    yield traffic
    missing = traffic.missing()
    if missing:
        pytest.fail(report(missing), pytrace=False)
