"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import StoreConfig
from tests.integration.read_helpers import ReadStack, open_stack


@pytest.fixture
def stack(store_config: StoreConfig) -> Iterator[ReadStack]:
    """A ledger, its projections and its read service on a fresh store, closed afterwards."""
    opened = open_stack(store_config)
    try:
        yield opened
    finally:
        opened.close()
