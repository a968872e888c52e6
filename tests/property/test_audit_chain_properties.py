"""The access log's fast chain link is exactly HMAC-SHA256 (RFC 2104) for any key and input."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from ledger._audit_entries import chain_link


@given(
    key=st.binary(min_size=0, max_size=130),
    prev=st.binary(min_size=32, max_size=32),
    message=st.binary(max_size=600),
)
def test_chain_link_equals_hmac_sha256(key: bytes, prev: bytes, message: bytes) -> None:
    assert chain_link(key)(prev, message) == hmac.digest(key, prev + message, "sha256")


def test_chain_link_is_reusable_and_stateless() -> None:
    link = chain_link(b"k" * 32)
    first = link(bytes(32), b"entry")
    link(bytes(32), b"another entry")
    assert link(bytes(32), b"entry") == first
