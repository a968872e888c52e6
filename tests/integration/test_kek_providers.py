"""The key-encryption provider port, against both providers: the local keyring and a PKCS#11
token (SoftHSM2). One abstract test case, one subclass per backend, as eventsourcing tests
its recorders. Then what only a token can promise: its keys never leave it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import AttributeSensitive, PKCS11Error

from ledger import (
    KeyDestroyedError,
    KeyEncryptionProvider,
    KeyProviderUnavailableError,
    LocalKeyring,
    ScopeErasedError,
    SealedError,
)
from ledger._keys import KeyManager
from ledger._keystore import KeyStore
from ledger._pkcs11 import Pkcs11Config, Pkcs11KeyProvider, _module
from ledger._sql import SQLiteDatabase
from tests.softhsm import MODULE, SoftHsmToken

SCOPE_KEY = bytes(range(32))
CONTEXT = b"scope:0011:politie:case-1::derive"


class ProviderContract:
    """Every provider keeps the port's promises (subclasses give ``provider`` and ``twin``,
    a second instance on the same keys, as another process would have)."""

    @pytest.fixture
    def provider(self) -> KeyEncryptionProvider:
        raise NotImplementedError

    @pytest.fixture
    def twin(self) -> KeyEncryptionProvider:
        raise NotImplementedError

    def test_wrap_round_trip_under_the_first_version(self, provider: KeyEncryptionProvider) -> None:
        version, wrapped = provider.wrap("politie", SCOPE_KEY, CONTEXT)
        assert version == 1
        assert SCOPE_KEY not in wrapped
        assert provider.unwrap("politie", 1, wrapped, CONTEXT) == SCOPE_KEY
        assert provider.versions("politie") == [1]

    @pytest.mark.parametrize(
        ("partner", "version", "context"),
        [("politie", 1, b"scope:other"), ("ggz", 1, CONTEXT), ("politie", 2, CONTEXT)],
    )
    def test_wrapped_key_is_bound_to_partner_version_and_context(
        self, provider: KeyEncryptionProvider, partner: str, version: int, context: bytes
    ) -> None:
        _, wrapped = provider.wrap("politie", SCOPE_KEY, CONTEXT)
        provider.active_version("ggz")
        provider.rotate("politie")  # a version 2 exists, under other key material
        with pytest.raises(SealedError):
            provider.unwrap(partner, version, wrapped, context)

    def test_tampered_wrapping_fails_opaquely(self, provider: KeyEncryptionProvider) -> None:
        _, wrapped = provider.wrap("politie", SCOPE_KEY, CONTEXT)
        flipped = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
        with pytest.raises(SealedError) as raised:
            provider.unwrap("politie", 1, flipped, CONTEXT)
        assert SCOPE_KEY.hex() not in str(raised.value)

    def test_rotation_then_destroying_old_versions(
        self, provider: KeyEncryptionProvider, twin: KeyEncryptionProvider
    ) -> None:
        _, old = provider.wrap("politie", SCOPE_KEY, CONTEXT)
        assert provider.rotate("politie") == 2
        assert twin.active_version("politie") == 2  # another process sees the rotation
        version, new = twin.wrap("politie", SCOPE_KEY, CONTEXT)
        assert version == 2
        assert provider.unwrap("politie", 1, old, CONTEXT) == SCOPE_KEY  # not yet destroyed
        assert provider.destroy_versions_except("politie", 2) == [1]
        assert twin.versions("politie") == [2]
        with pytest.raises(KeyDestroyedError):
            twin.unwrap("politie", 1, old, CONTEXT)
        assert provider.unwrap("politie", 2, new, CONTEXT) == SCOPE_KEY
        # Destroying again (a journal replayed) destroys nothing more.
        assert provider.destroy_versions_except("politie", 2) == []

    def test_retiring_destroys_every_version_and_refuses_new_ones(
        self, provider: KeyEncryptionProvider, twin: KeyEncryptionProvider
    ) -> None:
        _, wrapped = provider.wrap("politie", SCOPE_KEY, CONTEXT)
        provider.rotate("politie")
        _, other = provider.wrap("ggz", SCOPE_KEY, CONTEXT)
        assert provider.retire("politie") == [1, 2]
        assert twin.is_retired("politie")
        assert twin.versions("politie") == []
        with pytest.raises(KeyDestroyedError):
            twin.unwrap("politie", 1, wrapped, CONTEXT)
        with pytest.raises(ScopeErasedError):
            twin.wrap("politie", SCOPE_KEY, CONTEXT)
        with pytest.raises(ScopeErasedError):
            twin.rotate("politie")
        assert provider.retire("politie") == []  # replayed: nothing left to destroy
        assert not twin.is_retired("ggz")
        assert twin.unwrap("ggz", 1, other, CONTEXT) == SCOPE_KEY

    def test_probe_passes_while_the_keys_are_reachable(
        self, provider: KeyEncryptionProvider
    ) -> None:
        provider.probe()


class TestLocalKeyring(ProviderContract):
    """The keyring file."""

    @pytest.fixture
    def provider(self, tmp_path: Path) -> KeyEncryptionProvider:
        return LocalKeyring.create(tmp_path / "keyring.json")

    @pytest.fixture
    def twin(self, tmp_path: Path, provider: KeyEncryptionProvider) -> KeyEncryptionProvider:
        return LocalKeyring(tmp_path / "keyring.json")


@pytest.mark.softhsm
class TestPkcs11KeyProvider(ProviderContract):
    """A PKCS#11 token (SoftHSM2)."""

    @pytest.fixture
    def provider(self, softhsm_token: SoftHsmToken) -> KeyEncryptionProvider:
        return Pkcs11KeyProvider(softhsm_token.config)

    @pytest.fixture
    def twin(self, softhsm_token: SoftHsmToken) -> KeyEncryptionProvider:
        return Pkcs11KeyProvider(softhsm_token.config)

    def test_wrong_pin_is_unavailable_and_never_echoed(
        self, softhsm_token: SoftHsmToken, tmp_path: Path
    ) -> None:
        pin_file = tmp_path / "wrong-pin"
        pin_file.write_text("999999-invented", encoding="utf-8")
        config = Pkcs11Config(MODULE, softhsm_token.config.token_label, pin_file=pin_file)
        with pytest.raises(KeyProviderUnavailableError) as raised:
            Pkcs11KeyProvider(config).wrap("politie", SCOPE_KEY, CONTEXT)
        assert "999999" not in str(raised.value)
        assert str(pin_file) not in str(raised.value)
        assert "999999" not in repr(config)

    def test_a_module_that_does_not_load_is_unavailable(self, tmp_path: Path) -> None:
        config = Pkcs11Config(tmp_path / "no-such-module.so", "any", pin="123456")
        with pytest.raises(KeyProviderUnavailableError) as raised:
            Pkcs11KeyProvider(config).probe()
        assert "no-such-module" not in str(raised.value)

    def test_token_gone_is_unavailable_never_destroyed_and_comes_back(
        self, softhsm_token: SoftHsmToken, provider: KeyEncryptionProvider
    ) -> None:
        _, wrapped = provider.wrap("politie", SCOPE_KEY, CONTEXT)
        softhsm_token.take_away()
        calls = [
            lambda: provider.unwrap("politie", 1, wrapped, CONTEXT),
            lambda: provider.wrap("politie", SCOPE_KEY, CONTEXT),
            lambda: provider.versions("politie"),
            lambda: provider.is_retired("politie"),
            provider.probe,
        ]
        for call in calls:
            with pytest.raises(KeyProviderUnavailableError):
                call()
        softhsm_token.bring_back()
        assert provider.unwrap("politie", 1, wrapped, CONTEXT) == SCOPE_KEY
        assert provider.versions("politie") == [1]  # no version was made meanwhile


@pytest.mark.softhsm
class TestTokenKeysCannotBeExtracted:
    """A KEK in the token is sensitive and non-extractable: its value never leaves it."""

    def test_attributes_and_export_attempts(self, softhsm_token: SoftHsmToken) -> None:
        provider = Pkcs11KeyProvider(softhsm_token.config)
        provider.wrap("politie", SCOPE_KEY, CONTEXT)
        # The provider's own loaded module (a second instance would finalise it when
        # dropped), and a session without a login of its own: login is per process.
        token = _module(str(MODULE)).lib.get_token(token_label=softhsm_token.config.token_label)
        with token.open(rw=True) as session:
            (kek,) = session.get_objects(
                {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: "caseledger:politie:v1"}
            )
            assert kek[Attribute.EXTRACTABLE] is False
            assert kek[Attribute.SENSITIVE] is True
            assert kek[Attribute.NEVER_EXTRACTABLE] is True
            assert kek[Attribute.ALWAYS_SENSITIVE] is True
            assert kek[Attribute.KEY_TYPE] == KeyType.AES
            assert kek[Attribute.VALUE_LEN] == 32
            with pytest.raises(AttributeSensitive):
                kek[Attribute.VALUE]
            wrapper = session.generate_key(KeyType.AES, 256, store=False)
            with pytest.raises(PKCS11Error):
                wrapper.wrap_key(kek, mechanism=Mechanism.AES_KEY_WRAP_PAD)
            with pytest.raises(PKCS11Error):
                kek[Attribute.EXTRACTABLE] = True


class TestKeyCacheLifetime:
    """Unwrapped keys are dropped once their lifetime has passed (time passed in)."""

    def test_caches_emptied_after_the_lifetime(self, tmp_path: Path) -> None:
        now = [100.0]
        store = KeyStore(SQLiteDatabase(tmp_path / "keys.sqlite3", secure_delete=True))
        keys = KeyManager(
            store,
            LocalKeyring.create(tmp_path / "keyring.json"),
            key_lifetime=60.0,
            monotonic=lambda: now[0],
        )
        try:
            key = keys.scope_key("politie", "case-1")
            assert keys.scope_key("politie", "case-1") is key  # cached
            now[0] += 59.0
            assert keys.sync() is False
            assert keys.scope_key("politie", "case-1") is key
            now[0] += 1.0
            assert keys.sync() is True  # lifetime reached: every cache dropped
            again = keys.scope_key("politie", "case-1")
            assert again is not key
            assert again.material == key.material
            assert keys.sync() is False  # a fresh lifetime started with the emptying
        finally:
            keys.close()
