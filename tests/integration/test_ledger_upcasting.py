"""Old events decode into a newer event class: the sealing mapper upcasts after opening."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from ledger import Case, StoreConfig
from ledger._mapper import _topic_info
from tests.integration._ledger_support import REGIE, open_active_case, opened


def _v2_v3(state: dict[str, Any]) -> None:
    state["upcast_path"] = ["v3"]


def _v3_v4(state: dict[str, Any]) -> None:
    state["upcast_path"].append("v4")


def test_older_events_are_upcast_in_order(store_config: StoreConfig) -> None:
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        ledger.change_phase(REGIE, case_id, phase=4, reason="next step")
        (stored,) = [
            e
            for e in ledger.recorder.select_events(UUID(case_id))
            if e.topic.endswith("PhaseChanged")
        ]

        # Stored at version 2 (case events record the covenant since v2); PhaseChanged as if
        # its class had since moved on to version 4 (two upcasts).
        assert Case.PhaseChanged.class_version == 2
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Case.PhaseChanged, "class_version", 4, raising=False)
            patch.setattr(Case.PhaseChanged, "upcast_v2_v3", staticmethod(_v2_v3), raising=False)
            patch.setattr(Case.PhaseChanged, "upcast_v3_v4", staticmethod(_v3_v4), raising=False)
            _topic_info.cache_clear()
            try:
                event = ledger.mapper.to_domain_event(stored)
            finally:
                _topic_info.cache_clear()

        assert isinstance(event, Case.PhaseChanged)
        assert event.upcast_path == ["v3", "v4"]  # type: ignore[attr-defined]
        assert event.phase == 4
        assert (event.originator_id, event.originator_version) == (
            UUID(case_id),
            stored.originator_version,
        )
        assert "class_version" not in vars(event)
