"""The serving process's garbage-collector settings: applied while the app runs, undone after."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

import api.app as app_module
from api.app import SERVING_GC_THRESHOLDS, create_app, create_app_from_env
from api.settings import Settings


def test_the_serve_factory_freezes_the_start_up_heap_while_it_runs(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELEDGER_DATA_DIR", str(sqlite_settings.data_dir))
    monkeypatch.setenv("CASELEDGER_COVENANT", str(sqlite_settings.covenant_path))
    monkeypatch.setattr(app_module, "configure_logging", lambda: None)  # keep pytest's capture
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with TestClient(create_app_from_env()) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_threshold() == SERVING_GC_THRESHOLDS
        assert gc.get_freeze_count() > 10_000  # the framework and the app, at least
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_app_built_directly_leaves_the_collector_alone(sqlite_settings: Settings) -> None:
    before = gc.get_threshold()
    with TestClient(create_app(sqlite_settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
