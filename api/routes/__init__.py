"""The HTTP routes, one module per resource; ``build_routers`` is called by the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    action_overview,
    actions,
    audit,
    cases,
    consents,
    direction,
    erasures,
    facts,
    health,
    meetings,
    members,
    privacy,
    referrals,
    starting_point,
)


def build_routers() -> list[APIRouter]:
    """Routers in matching order: requests are matched route by route, so the busiest routes
    (recording facts, then reading cases) come first. No two paths overlap, so the order
    changes nothing else."""
    return [
        health.build_router(),
        facts.build_router(),
        cases.build_router(),
        members.build_router(),
        actions.build_router(),
        consents.build_router(),
        audit.build_router(),
        erasures.build_router(),
        privacy.build_router(),
        direction.build_router(),
        referrals.build_router(),
        starting_point.build_router(),
        action_overview.build_router(),
        meetings.build_router(),
    ]
