"""Scenario fixtures: the API on SQLite or PostgreSQL with a clock the test controls.

``env`` is a fresh, empty deployment per test; ``world`` is one deployment per store in which
all five scenarios were played (``world.play_all``), shared by the tests that only ask
questions of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import make_settings
from tests.api.statuses import Traffic, checked_traffic
from tests.api.support import Auth
from tests.scenarios.world import Http, ScenarioClock, World, play_all


@dataclass
class Env:
    """One running deployment: the HTTP session, its settings and which store it uses."""

    http: Http
    settings: Settings
    store: str


@contextmanager
def deployment(tmp: Path, store: str, traffic: Traffic) -> Iterator[Env]:
    """Fresh stores (SQLite files in ``tmp`` or throw-away PostgreSQL schemas) and the app;
    ``traffic`` records the statuses its client sees."""
    settings_source = make_settings(tmp, store)
    settings = next(settings_source)
    try:
        clock = ScenarioClock()
        with traffic.watch(TestClient(create_app(settings, clock=clock))) as client:
            yield Env(Http(client, Auth(settings), clock), settings, store)
    finally:
        settings_source.close()  # drops the PostgreSQL schemas


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session", autouse=True)
def status_traffic() -> Iterator[Traffic]:
    """What the clients saw; the session fails on a status the OpenAPI document leaves out."""
    with checked_traffic() as traffic:
        yield traffic


@pytest.fixture
def env(store: str, tmp_path: Path, status_traffic: Traffic) -> Iterator[Env]:
    with deployment(tmp_path, store, status_traffic) as running:
        yield running


@pytest.fixture(scope="session")
def world(
    store: str, tmp_path_factory: pytest.TempPathFactory, status_traffic: Traffic
) -> Iterator[World]:
    with deployment(tmp_path_factory.mktemp(f"world-{store}"), store, status_traffic) as running:
        yield play_all(running.http)
