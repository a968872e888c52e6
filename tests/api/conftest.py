"""API fixtures: settings on SQLite or PostgreSQL (throw-away schemas), the app, a client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api._tokens import create_local_signing_key
from api.app import create_app
from api.settings import Settings
from policies import sample_covenant_path
from tests.api.statuses import Traffic, checked_traffic
from tests.api.support import Auth
from tests.pg import PG_URL, create_schemas, drop_schemas


def make_settings(tmp_path: Path, store: str, **overrides: object) -> Iterator[Settings]:
    base: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "covenant_path": Path(str(sample_covenant_path())),
        **overrides,
    }
    if store == "sqlite":
        settings = Settings.model_validate(base)
        create_local_signing_key(settings)
        yield settings
        return
    suffix = uuid.uuid4().hex[:10]
    schemas = {
        "events_schema": f"t_{suffix}_events",
        "keystore_schema": f"t_{suffix}_keys",
        "views_schema": f"t_{suffix}_views",
        "audit_schema": f"t_{suffix}_audit",
    }
    create_schemas(*schemas.values())
    try:
        settings = Settings.model_validate({**base, "database_url": PG_URL, **schemas})
        create_local_signing_key(settings)
        yield settings
    finally:
        drop_schemas(*schemas.values())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty set of stores (SQLite files or PostgreSQL schemas)."""
    yield from make_settings(tmp_path, request.param)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings(tmp_path, "sqlite")


@pytest.fixture(scope="session", autouse=True)
def status_traffic() -> Iterator[Traffic]:
    """What the clients saw; the session fails on a status the OpenAPI document leaves out."""
    with checked_traffic() as traffic:
        yield traffic


@pytest.fixture
def client(api_settings: Settings, status_traffic: Traffic) -> Iterator[TestClient]:
    with status_traffic.watch(TestClient(create_app(api_settings))) as test_client:
        yield test_client


@pytest.fixture
def sqlite_client(sqlite_settings: Settings, status_traffic: Traffic) -> Iterator[TestClient]:
    with status_traffic.watch(TestClient(create_app(sqlite_settings))) as test_client:
        yield test_client


@pytest.fixture
def auth(api_settings: Settings) -> Auth:
    return Auth(api_settings)


@pytest.fixture
def sqlite_auth(sqlite_settings: Settings) -> Auth:
    return Auth(sqlite_settings)


# projections/_runner.py leaves the PostgreSQL LISTEN connection of its follower thread to the
# garbage collector when the runner stops (reported upstream); not an API defect.
_RUNNER_LEAK = "ignore:.*psycopg.Connection.* was deleted while still open:ResourceWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings(_RUNNER_LEAK))
