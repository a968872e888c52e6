"""The sealing envelope: pinned format, associated data binding, tamper detection (no I/O)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import SealedError, body_context
from ledger._scope_keys import ScopeKey, _bind_suffix
from ledger._sealing import (
    FORMAT_VERSION,
    KEY_ID_BYTES,
    NONCE_BYTES,
    EnvelopeHeader,
    SealingKey,
    body_header_prefix,
    body_key,
    derive_data_key,
    new_key_block,
    open_sealed,
    read_header,
    seal,
    seal_fact_bodies,
    unwrap_key,
    wrap_key,
)

# Known-answer vector: invented fixed inputs; the expected bytes were computed once with the
# format-1 implementation and are pinned here. Any change to the layout, the associated-data
# prefix or the cipher breaks this test on purpose: old events must keep opening.
KEY = bytes(range(32))
SCOPE_IDS = (
    bytes.fromhex("00112233445566778899aabbccddeeff"),
    bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
)
FACT_KEY_ID = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
NONCE = bytes.fromhex("000102030405060708090a0b")
PLAINTEXT = b'{"note":"invented"}'
CONTEXT = b"body|case=c|fact=f|version=7|owner=politie|case=c"
EXPECTED = bytes.fromhex(
    "010102"
    "00112233445566778899aabbccddeeff"
    "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "000102030405060708090a0b"
    "3c20b874b180e021af28f9fdd4870c08e7f4fa"
    "abcae39e67961989728bca4cb2345d2d"
)
EXPECTED_NO_FACT_KEY = bytes.fromhex(
    "010001"
    "00112233445566778899aabbccddeeff"
    "000102030405060708090a0b"
    "3c20b874b180e021af28f9fdd4870c08e7f4fa"
    "eab786b927454f7d28ccf073150b1c34"
)
AD_PREFIX = b"caseledger/v1\x00"


def _sealed() -> bytes:
    return seal(KEY, EnvelopeHeader(SCOPE_IDS, FACT_KEY_ID), PLAINTEXT, CONTEXT, nonce=NONCE)


def _flip(blob: bytes, bit: int) -> bytes:
    mutable = bytearray(blob)
    mutable[bit // 8] ^= 1 << (bit % 8)
    return bytes(mutable)


class TestKnownAnswer:
    """Fixed key, nonce, header, plaintext and context seal to exactly the pinned bytes."""

    def test_envelope_with_fact_key(self) -> None:
        assert _sealed().hex() == EXPECTED.hex()
        assert open_sealed(KEY, EXPECTED, CONTEXT) == PLAINTEXT

    def test_envelope_without_fact_key(self) -> None:
        blob = seal(KEY, EnvelopeHeader(SCOPE_IDS[:1]), PLAINTEXT, CONTEXT, nonce=NONCE)
        assert blob.hex() == EXPECTED_NO_FACT_KEY.hex()
        assert open_sealed(KEY, EXPECTED_NO_FACT_KEY, CONTEXT) == PLAINTEXT

    def test_layout_at_documented_offsets(self) -> None:
        blob = EXPECTED
        assert FORMAT_VERSION == 1
        assert blob[0] == 1  # format version
        assert blob[1] == 0x01  # flags: a fact key id follows the scope key ids
        assert blob[2] == 2  # number of scope key ids
        assert blob[3:19] == SCOPE_IDS[0]
        assert blob[19:35] == SCOPE_IDS[1]
        assert blob[35:51] == FACT_KEY_ID
        assert blob[51:63] == NONCE
        assert len(blob) == 63 + len(PLAINTEXT) + 16  # ciphertext plus a 16-byte tag
        header, offset = read_header(blob)
        assert header == EnvelopeHeader(SCOPE_IDS, FACT_KEY_ID)
        assert offset == 3 + 2 * KEY_ID_BYTES + KEY_ID_BYTES == 51
        no_fact = EXPECTED_NO_FACT_KEY
        assert (no_fact[0], no_fact[1], no_fact[2]) == (1, 0, 1)
        assert no_fact[3:19] == SCOPE_IDS[0]
        assert no_fact[19 : 19 + NONCE_BYTES] == NONCE

    def test_associated_data_is_prefix_header_context(self) -> None:
        # The documented associated data, checked with the primitive directly.
        aead = AESGCM(KEY)
        assert aead.decrypt(NONCE, EXPECTED[63:], AD_PREFIX + EXPECTED[:51] + CONTEXT) == PLAINTEXT

    def test_key_derivation_known_answer(self) -> None:
        derived = derive_data_key([bytes(32), bytes([1]) * 32], b"caseledger/body")
        assert derived.hex() == "8b60bc8f400d393ac2bd177db02dcf50105c327b878c60c3ca2608ae56953547"

    def test_body_key_known_answer(self) -> None:
        # Keyed BLAKE2s, personalised "clbody01" (pinned when it replaced HMAC-SHA256 before
        # any store was released).
        derived = body_key(bytes([3]) * 32, bytes([4]) * 32)
        assert derived.hex() == "29ee097393f6d8fcbcea9d7872e17701241cd10bcb94744f9b9ce35e480c07f3"

    def test_key_wrapping_known_answer(self) -> None:
        kek = bytes.fromhex("5f" * 32)
        context = b"scope:00112233445566778899aabbccddeeff:politie:c:s:derive"
        wrapped = bytes.fromhex(
            "0b0a09080706050403020100"
            "e0c4ee83da1abac00e758c2bcedd20be21b3e4f82b631a2c9e64efd8ea6c5984"
            "96ca2ab9940f6c1bcd3732b347fa8a8d"
        )
        assert unwrap_key(kek, wrapped, context) == bytes(range(100, 132))

    def test_fact_body_path_writes_the_same_envelope(self) -> None:
        # The per-fact hot path builds the envelope in one pass; it must be the pinned one.
        scope_secret, fact_key = bytes([3]) * 32, bytes([4]) * 32
        suffix = b"|owner=politie|case=c"
        ((key_id, blob),) = seal_fact_bodies(
            scope_secret,
            body_header_prefix(SCOPE_IDS),
            suffix,
            [(FACT_KEY_ID, fact_key)],
            [(None, PLAINTEXT, CONTEXT)],
            lambda: NONCE,
        )
        assert key_id == FACT_KEY_ID.hex()
        key = body_key(scope_secret, fact_key)
        header = EnvelopeHeader(SCOPE_IDS, FACT_KEY_ID)
        assert blob == seal(key, header, PLAINTEXT, CONTEXT + suffix, nonce=NONCE)
        assert open_sealed(key, blob, CONTEXT + suffix) == PLAINTEXT

    def test_fact_bodies_get_their_own_keys_and_nonces(self) -> None:
        scope_secret = bytes([3]) * 32
        fact_keys = [bytes([k]) * 32 for k in (4, 5)]
        ids = [bytes([i]) * KEY_ID_BYTES for i in (1, 2)]
        sealed = seal_fact_bodies(
            scope_secret,
            body_header_prefix(SCOPE_IDS),
            b"",
            list(zip(ids, fact_keys, strict=True)),
            [(None, PLAINTEXT, CONTEXT)] * 2,
        )
        assert [key_id for key_id, _ in sealed] == [i.hex() for i in ids]
        blobs = [blob for _, blob in sealed]
        nonces = {read_header(b)[0].fact_key_id: b[51:63] for b in blobs}
        assert list(nonces) == ids
        assert len(set(nonces.values())) == 2
        for blob, key in zip(blobs, fact_keys, strict=True):
            assert open_sealed(body_key(scope_secret, key), blob, CONTEXT) == PLAINTEXT
        with pytest.raises(SealedError):
            open_sealed(body_key(scope_secret, fact_keys[1]), blobs[0], CONTEXT)

    def test_body_context_format(self) -> None:
        assert body_context("c1", "f1", 7) == b"body|case=c1|fact=f1|version=7"


class TestPreparedKey:
    """The hot-path SealingKey writes and reads exactly the pinned envelope format."""

    def test_opens_the_known_answer(self) -> None:
        prepared = SealingKey(KEY, EnvelopeHeader(SCOPE_IDS[:1]))
        assert prepared.open(EXPECTED_NO_FACT_KEY, CONTEXT) == PLAINTEXT

    def test_its_seals_open_with_open_sealed(self) -> None:
        prepared = SealingKey(KEY, EnvelopeHeader(SCOPE_IDS))
        blob = prepared.seal(PLAINTEXT, CONTEXT)
        assert blob[:35] == EnvelopeHeader(SCOPE_IDS).encode()
        assert open_sealed(KEY, blob, CONTEXT) == PLAINTEXT

    def test_seal_many_seals_each_item_with_its_context_and_appends_its_trailer(self) -> None:
        prepared = SealingKey(KEY, EnvelopeHeader(SCOPE_IDS))
        items = [
            (PLAINTEXT, CONTEXT, ()),
            (b"second", b"ctx-2", (b"appended", b"\x00\x01")),
            (b"", b"ctx-3", (b"",)),
        ]
        blobs = prepared.seal_many(items, b"|suffix")
        assert len(blobs) == 3
        for blob, (plaintext, context, trailer) in zip(blobs, items, strict=True):
            tail = b"".join(trailer)
            envelope = blob[: len(blob) - len(tail)]
            assert blob.endswith(tail)
            assert open_sealed(KEY, envelope, context + b"|suffix") == plaintext
            with pytest.raises(SealedError):
                open_sealed(KEY, envelope, context)  # the suffix is bound too
        nonces = {blob[35 : 35 + NONCE_BYTES] for blob in blobs}
        assert len(nonces) == 3
        assert prepared.seal_many([]) == []

    def test_refuses_other_headers_contexts_and_flips(self) -> None:
        prepared = SealingKey(KEY, EnvelopeHeader(SCOPE_IDS))
        blob = prepared.seal(PLAINTEXT, CONTEXT)
        with pytest.raises(SealedError):
            SealingKey(KEY, EnvelopeHeader(SCOPE_IDS[:1])).open(blob, CONTEXT)
        with pytest.raises(SealedError):
            prepared.open(blob, CONTEXT + b"x")
        for bit in range(len(blob) * 8):
            with pytest.raises(SealedError):
                prepared.open(_flip(blob, bit), CONTEXT)


class TestKeyDerivation:
    """The data key depends on every secret, their order and the purpose label."""

    def test_body_key_needs_both_secrets(self) -> None:
        scope, fact = bytes([3]) * 32, bytes([4]) * 32
        base = body_key(scope, fact)
        assert body_key(bytes(32), fact) != base
        assert body_key(scope, bytes(32)) != base

    def test_every_secret_counts(self) -> None:
        a, b, c = bytes(32), bytes([1]) * 32, bytes([2]) * 32
        base = derive_data_key([a, b, c], b"caseledger/body")
        assert derive_data_key([a, b], b"caseledger/body") != base
        assert derive_data_key([a, c, b], b"caseledger/body") != base
        assert derive_data_key([a, b, c], b"caseledger/event") != base

    def test_no_secrets(self) -> None:
        with pytest.raises(SealedError):
            derive_data_key([], b"caseledger/body")


def _scope(owner: str, case_id: str, subject: str = "") -> ScopeKey:
    return ScopeKey(bytes(16), owner, case_id, subject, "derive", bytes(32))


def _bound(owner: str, case_id: str, fact_id: str, version: int) -> bytes:
    """The associated data the key manager binds a fact body to."""
    return body_context(case_id, fact_id, version) + _bind_suffix([_scope(owner, case_id)])


class TestAssociatedData:
    """A body opens only with the exact context it was sealed with."""

    SEALED_WITH = ("politie", "case-1", "fact-1", 5)

    @pytest.mark.parametrize(
        "moved_to",
        [
            pytest.param(("politie", "case-1", "fact-2", 5), id="another-fact"),
            pytest.param(("politie", "case-2", "fact-1", 5), id="another-case"),
            pytest.param(("reclassering", "case-1", "fact-1", 5), id="another-owner"),
            pytest.param(("politie", "case-1", "fact-1", 6), id="another-version"),
        ],
    )
    def test_moved_body_fails_to_open(self, moved_to: tuple[str, str, str, int]) -> None:
        header = EnvelopeHeader(SCOPE_IDS, FACT_KEY_ID)
        blob = seal(KEY, header, PLAINTEXT, _bound(*self.SEALED_WITH))
        assert open_sealed(KEY, blob, _bound(*self.SEALED_WITH)) == PLAINTEXT
        with pytest.raises(SealedError):
            open_sealed(KEY, blob, _bound(*moved_to))

    def test_owner_and_case_are_bound(self) -> None:
        assert _bound("politie", "c", "f", 1).endswith(b"|owner=politie|case=c")

    def test_mixed_owners_refuse_to_bind(self) -> None:
        with pytest.raises(SealedError):
            _bind_suffix([_scope("politie", "c"), _scope("reclassering", "c")])
        with pytest.raises(SealedError):
            _bind_suffix([_scope("politie", "c"), _scope("politie", "d")])

    def test_swapped_key_ids_fail(self) -> None:
        swapped = EnvelopeHeader((SCOPE_IDS[1], SCOPE_IDS[0]), FACT_KEY_ID)
        blob = _sealed()
        forged = swapped.encode() + blob[51:]
        with pytest.raises(SealedError):
            open_sealed(KEY, forged, CONTEXT)

    def test_wrong_key_fails(self) -> None:
        with pytest.raises(SealedError):
            open_sealed(bytes(32), _sealed(), CONTEXT)


class TestBitFlips:
    """Any single flipped bit anywhere in the envelope makes it fail to open."""

    @pytest.mark.parametrize(
        ("part", "start", "end"),
        [
            ("header", 0, 51),
            ("nonce", 51, 63),
            ("ciphertext", 63, 63 + len(PLAINTEXT)),
            ("tag", 63 + len(PLAINTEXT), 63 + len(PLAINTEXT) + 16),
        ],
    )
    def test_every_bit(self, part: str, start: int, end: int) -> None:
        blob = _sealed()
        for bit in range(start * 8, end * 8):
            with pytest.raises(SealedError):
                open_sealed(KEY, _flip(blob, bit), CONTEXT)

    def test_truncated_or_extended(self) -> None:
        blob = _sealed()
        for cut in (0, 1, 3, 50, 51, 62, 63, len(blob) - 1):
            with pytest.raises(SealedError):
                open_sealed(KEY, blob[:cut], CONTEXT)
        with pytest.raises(SealedError):
            open_sealed(KEY, blob + b"\x00", CONTEXT)

    def test_unknown_format_and_flags(self) -> None:
        blob = _sealed()
        for first in (0, 2, 255):
            with pytest.raises(SealedError):
                read_header(bytes([first]) + blob[1:])
        with pytest.raises(SealedError):
            read_header(blob[:1] + b"\x03" + blob[2:])
        with pytest.raises(SealedError):
            read_header(blob[:2] + b"\x00" + blob[3:])

    def test_wrapped_key_bit_flips(self) -> None:
        kek, key, context = bytes([7]) * 32, bytes([9]) * 32, b"scope:x"
        wrapped = wrap_key(kek, key, context)
        assert unwrap_key(kek, wrapped, context) == key
        for bit in range(len(wrapped) * 8):
            with pytest.raises(SealedError):
                unwrap_key(kek, _flip(wrapped, bit), context)
        with pytest.raises(SealedError):
            unwrap_key(kek, wrapped, b"scope:y")
        with pytest.raises(SealedError):
            unwrap_key(bytes(32), wrapped, context)


class TestHeaderValidation:
    """Headers that do not fit the format are refused when sealing."""

    @pytest.mark.parametrize(
        "header",
        [
            EnvelopeHeader(()),
            EnvelopeHeader((bytes(15),)),
            EnvelopeHeader(tuple(bytes(16) for _ in range(256))),
            EnvelopeHeader((bytes(16),), bytes(8)),
        ],
    )
    def test_invalid(self, header: EnvelopeHeader) -> None:
        with pytest.raises(SealedError):
            seal(KEY, header, PLAINTEXT, CONTEXT, nonce=NONCE)

    def test_bad_nonce_length(self) -> None:
        with pytest.raises(SealedError):
            seal(KEY, EnvelopeHeader(SCOPE_IDS), PLAINTEXT, CONTEXT, nonce=bytes(8))

    def test_random_nonces_differ(self) -> None:
        header = EnvelopeHeader(SCOPE_IDS)
        assert seal(KEY, header, PLAINTEXT, CONTEXT) != seal(KEY, header, PLAINTEXT, CONTEXT)


class TestOpaqueErrors:
    """Failures carry no plaintext and no key material."""

    def test_message(self) -> None:
        with pytest.raises(SealedError) as raised:
            open_sealed(bytes(32), _sealed(), CONTEXT)
        text = str(raised.value)
        assert "invented" not in text
        assert KEY.hex() not in text
        assert raised.value.__cause__ is None
        assert raised.value.__suppress_context__


class TestKeyBlocks:
    def test_a_block_has_distinct_random_keys(self) -> None:
        block_id, keys = new_key_block(300)
        assert len(block_id) == 10
        assert len(keys) == 32 * 300
        assert len({keys[32 * i : 32 * (i + 1)] for i in range(300)}) == 300

    def test_blocks_do_not_share_ids(self) -> None:
        assert len({new_key_block(4)[0] for _ in range(200)}) == 200

    @pytest.mark.parametrize("slots", [0, -1, (1 << 20) + 1])
    def test_a_block_size_out_of_range_is_refused(self, slots: int) -> None:
        with pytest.raises(ValueError, match="a key block holds"):
            new_key_block(slots)
