"""Liveness and readiness (no authentication, no data)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from api._deps import ServicesDep
from api._problems import UNAVAILABLE, ProblemError
from api._responses import Health
from api.bootstrap import Services
from api.routes._common import CommitterDep, problem_responses


def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


def readyz(services: ServicesDep, committer: CommitterDep) -> Health:
    """Every store answers, the projection runner is following the log, and the group
    committer (when on) takes facts."""
    checks = {name: _check(probe, services) for name, probe in _PROBES.items()}
    if services.runner.error is not None:
        checks["projection_runner"] = "failed"
    else:
        checks["projection_runner"] = "ok"
    if committer is not None:
        checks["fact_committer"] = "ok" if committer.alive else "stopped"
    if any(state != "ok" for state in checks.values()):
        raise ProblemError(UNAVAILABLE, extra={"checks": checks})
    return Health(status="ready", checks=checks)


def _check(probe: Callable[[Services], object], services: Services) -> str:
    try:
        probe(services)
    except Exception:  # a readiness probe reports, it never raises
        return "unreachable"
    return "ok"


_PROBES: dict[str, Callable[[Services], object]] = {
    "event_store": lambda s: s.ledger.recorder.max_notification_id(),
    "key_store": lambda s: s.ledger.keys.store.generation(),
    "key_provider": lambda s: s.ledger.keys.keyring.probe(),
    "projections": lambda s: s.views.max_tracking_id(s.ledger.name),
    "access_log": lambda s: s.access_log.database_fetch("SELECT 1"),
}


def build_router() -> APIRouter:
    router = APIRouter(tags=["health"])
    router.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health)
    router.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        response_model=Health,
        responses=problem_responses(UNAVAILABLE),
    )
    return router
