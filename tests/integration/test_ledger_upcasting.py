"""Old events decode into a newer event class: the sealing mapper upcasts after opening."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from ledger import Case, StoreConfig
from ledger._mapper import _topic_info
from tests.integration._ledger_support import REGIE, open_active_case, opened


def _v1_v2(state: dict[str, Any]) -> None:
    state["upcast_path"] = ["v2"]


def _v2_v3(state: dict[str, Any]) -> None:
    state["upcast_path"].append("v3")


def test_version_1_events_are_upcast_in_order(store_config: StoreConfig) -> None:
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        ledger.change_phase(REGIE, case_id, phase=4, reason="next step")
        (stored,) = [
            e
            for e in ledger.recorder.select_events(UUID(case_id))
            if e.topic.endswith("PhaseChanged")
        ]

        # PhaseChanged as if its class had since moved to version 3 (two upcasts).
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Case.PhaseChanged, "class_version", 3, raising=False)
            patch.setattr(Case.PhaseChanged, "upcast_v1_v2", staticmethod(_v1_v2), raising=False)
            patch.setattr(Case.PhaseChanged, "upcast_v2_v3", staticmethod(_v2_v3), raising=False)
            _topic_info.cache_clear()
            try:
                event = ledger.mapper.to_domain_event(stored)
            finally:
                _topic_info.cache_clear()

        assert isinstance(event, Case.PhaseChanged)
        assert event.upcast_path == ["v2", "v3"]  # type: ignore[attr-defined]
        assert event.phase == 4
        assert (event.originator_id, event.originator_version) == (
            UUID(case_id),
            stored.originator_version,
        )
        assert "class_version" not in vars(event)
