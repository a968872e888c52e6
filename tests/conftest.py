"""Shared fixtures: store configurations on SQLite and PostgreSQL, invented principals."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ledger import RequestContext, StoreConfig
from policies import PartnerId, Principal, RoleId, UserId
from tests.pg import PG_URL, create_schemas, drop_schemas
from tests.softhsm import SoftHsm, SoftHsmToken, softhsm_session

# CI machines are shared and slow at times: no per-example deadline there, and a fixed
# derandomised search so a run is reproducible (local runs keep exploring).
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
if os.environ.get("CI"):
    settings.load_profile("ci")


def ctx(
    partner: str,
    role: str = "deelnemer",
    purpose: str = "zvh_joint_approach",
    user: str | None = None,
) -> RequestContext:
    """An invented principal of ``partner`` with one role, declaring ``purpose``."""
    principal = Principal(
        UserId(user or f"{partner}-user"), PartnerId(partner), frozenset({RoleId(role)})
    )
    return RequestContext(principal, purpose)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreConfig]:
    """A fresh, empty set of stores: SQLite files in tmp_path, or PostgreSQL schemas."""
    if request.param == "sqlite":
        yield StoreConfig(data_dir=tmp_path / "data")
        return
    suffix = uuid.uuid4().hex[:10]
    events_schema, keys_schema = f"t_{suffix}_events", f"t_{suffix}_keys"
    views_schema, audit_schema = f"t_{suffix}_views", f"t_{suffix}_audit"
    create_schemas(events_schema, keys_schema, views_schema, audit_schema)
    try:
        yield StoreConfig(
            data_dir=tmp_path / "data",
            database_url=PG_URL,
            events_schema=events_schema,
            keystore_schema=keys_schema,
            views_schema=views_schema,
            audit_schema=audit_schema,
        )
    finally:
        drop_schemas(events_schema, keys_schema, views_schema, audit_schema)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """SoftHSM2 for the session (fails under CI when missing, skips elsewhere)."""
    yield from softhsm_session(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture
def softhsm_token(softhsm: SoftHsm) -> SoftHsmToken:
    """A fresh, empty token of the session's SoftHSM2."""
    return softhsm.new_token()


@pytest.fixture(params=["local", pytest.param("pkcs11", marks=pytest.mark.softhsm)])
def kek_provider(request: pytest.FixtureRequest) -> str:
    """Which key-encryption provider: the local keyring file, or a PKCS#11 token."""
    return str(request.param)


@pytest.fixture
def fixed_now() -> datetime:
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
