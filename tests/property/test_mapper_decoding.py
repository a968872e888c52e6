"""The sealing mapper's fast state decoding returns what the library's transcoder returns,
and fails where it fails."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import CaseLedger, StoreConfig, open_ledger
from ledger._mapper import SealingMapper


@pytest.fixture(scope="module")
def mapper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SealingMapper]:
    data_dir: Path = tmp_path_factory.mktemp("mapper")
    ledger: CaseLedger = open_ledger(StoreConfig(data_dir=data_dir))
    assert isinstance(ledger.mapper, SealingMapper)
    try:
        yield ledger.mapper
    finally:
        ledger.close()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.binary(max_size=16),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(document=documents)
def test_every_document_decodes_as_the_library_decodes_it(
    mapper: SealingMapper, document: Any
) -> None:
    data = mapper.transcoder.encode(document)
    assert _same(mapper._decode_state(data), mapper.transcoder.decode(data))


@pytest.mark.parametrize(
    "data",
    [b' {"a": 1}', b'{"a": 1} ', b'{"a": 1}\n', b"\t[1, 2]\r\n"],
)
def test_whitespace_around_a_document_is_read_by_the_library(
    mapper: SealingMapper, data: bytes
) -> None:
    assert mapper._decode_state(data) == json.loads(data)


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": 1}x', b'{"a": 1}{}', b"nul", b"[1,]"])
def test_malformed_documents_fail_as_in_the_library(mapper: SealingMapper, data: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as fast:
        mapper._decode_state(data)
    with pytest.raises(json.JSONDecodeError) as library:
        mapper.transcoder.decode(data)
    assert str(fast.value) == str(library.value)
