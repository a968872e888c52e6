"""Fitting the key hierarchy onto eventsourcing: a context-aware Mapper and its Cipher.

The stock ``Cipher.encrypt(bytes)`` sees no event context, so ``SealingMapper`` (set with
``MAPPER_TOPIC``) asks each event for its sealing scope (owner, case, subjects), seals the
transcoded state under the keys of that scope and binds aggregate id, version and topic as
associated data. ``SealingCipher`` (set with ``CIPHER_TOPIC``) is built by the library's
factory from the application's environment and carries the key store and the key-encryption
provider the environment names (``open_key_provider``: this module names no implementation).

An event whose keys were destroyed comes back as a ``Redacted`` placeholder that only
advances the aggregate's version; a tampered or wrongly keyed event still fails loudly.
"""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    Cipher,
    Compressor,
    EventStore,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import Environment, get_topic, resolve_topic

from ledger._case import REGISTRY_SCOPE, Case, SealingScope
from ledger._erasure_journal import journal_from_environment
from ledger._errors import KeyDestroyedError, LedgerError, SealedError
from ledger._keyring import open_key_provider
from ledger._keys import KeyManager, runs
from ledger._keystore import KeyStore, PostgresKeyStore, SQLiteKeyStore
from ledger._uuids import text_of

KEYSTORE_PATH = "CASELEDGER_KEYSTORE_PATH"
KEYSTORE_URL = "CASELEDGER_KEYSTORE_URL"
KEYSTORE_SCHEMA = "CASELEDGER_KEYSTORE_SCHEMA"
FACT_KEY_BATCH = "CASELEDGER_FACT_KEY_BATCH"
KEY_CACHE_SECONDS = "CASELEDGER_KEY_CACHE_SECONDS"
_LENGTH = struct.Struct(">I")  # length of an appended, already sealed body


class SealingCipher(Cipher):
    """Carries the key manager; plain ``encrypt``/``decrypt`` use the ledger registry key."""

    def __init__(self, environment: Environment) -> None:
        provider = open_key_provider(environment)
        store: KeyStore
        journal = journal_from_environment(environment)
        url = environment.get(KEYSTORE_URL)
        if url:
            schema = environment.get(KEYSTORE_SCHEMA, "caseledger_keys")
            store = PostgresKeyStore(url, schema, journal=journal)
        else:
            path = environment.get(KEYSTORE_PATH)
            if not path:
                raise LedgerError(f"{KEYSTORE_PATH} or {KEYSTORE_URL} must be set")
            store = SQLiteKeyStore(Path(path), journal=journal)
        batch = int(environment.get(FACT_KEY_BATCH, "64"))
        lifetime = environment.get(KEY_CACHE_SECONDS)
        self.keys = KeyManager(
            store,
            provider,
            fact_key_batch=batch,
            key_lifetime=float(lifetime) if lifetime else None,
        )

    def encrypt(self, plaintext: bytes) -> bytes:
        return self.keys.seal_event(REGISTRY_SCOPE, plaintext, b"registry")

    def decrypt(self, ciphertext: bytes) -> bytes:
        return self.keys.open_event(ciphertext, b"registry")

    def close(self) -> None:
        self.keys.close()  # the key manager it made: its store and background worker
        self.keys.keyring.close()


def _id_text(originator_id: UUID | str) -> str:
    return originator_id if isinstance(originator_id, str) else text_of(originator_id)


def _event_context(originator_id: str, version: int, topic: str) -> bytes:
    return f"event|{originator_id}|{version}|{topic}".encode()


class SealingMapper(Mapper[UUID]):
    """Seals every event's state under the keys of its scope; no event state in the clear."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        if not isinstance(cipher, SealingCipher):
            raise LedgerError("SealingMapper needs CIPHER_TOPIC set to SealingCipher")
        if compressor is not None:
            # Compression leaks content length and costs write throughput.
            raise LedgerError("compression must stay off for sealed events")
        # The stock mapper only decodes here; sealing is done with event context below.
        super().__init__(transcoder=transcoder)
        self.sealing_cipher = cipher
        self.keys = cipher.keys
        decoder = getattr(transcoder, "decoder", None)
        scan = (
            getattr(decoder, "scan_once", None) if isinstance(decoder, json.JSONDecoder) else None
        )
        self._scan_once = cast(Callable[[str, int], tuple[Any, int]] | None, scan)

    def _decode_state(self, plaintext: bytes) -> Any:
        """What ``transcoder.decode`` returns, skipping its wrappers on the common path.

        The library's JSON transcoder decodes with a ``json.JSONDecoder``; its C scanner is
        called directly for a document with nothing around it (which is how the library
        writes them). Anything else, errors included, goes through the full decoder, so
        the result and the errors are the library's.
        """
        if self._scan_once is not None:
            text = plaintext.decode("utf-8")
            try:
                value, end = self._scan_once(text, 0)
            except StopIteration:
                pass
            else:
                if end == len(text):
                    return value
        return self.transcoder.decode(plaintext)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        return self.to_stored_events((domain_event,))[0]

    def to_stored_events(self, domain_events: Sequence[Any]) -> list[StoredEvent]:
        """Stored events for a commit's domain events, in order (``BatchSealingEventStore``).

        Each event's state is transcoded first; then each run of events sealed in the same
        scope (a batch of facts is one run) is sealed in one tight loop, which costs far less
        per event than sealing each between transcodings (``SealingKey.seal_many``).
        """
        encode = self.transcoder.encode
        heads: list[tuple[Any, int, str]] = []  # (originator id, version, topic)
        scopes: list[SealingScope] = []
        items: list[tuple[bytes, bytes, tuple[bytes, ...]]] = []  # see seal_events
        for domain_event in domain_events:
            topic, presealed, class_version, scope_of = _class_info(type(domain_event))
            state = dict(vars(domain_event))
            originator_id = state.pop("originator_id")
            originator_version = state.pop("originator_version")
            if class_version > 1:
                state["class_version"] = class_version
            oid = _id_text(originator_id)
            heads.append((originator_id, originator_version, topic))
            scopes.append(REGISTRY_SCOPE if scope_of is None else scope_of(domain_event, oid))
            context = _event_context(oid, originator_version, topic)
            if presealed is None:
                items.append((encode(state), context, ()))
            else:
                # Already sealed under its own fact key (bound to case, fact and version):
                # the envelope is followed by the body and its length (one copy), instead of
                # the body being transcoded and encrypted a second time.
                body = state.pop(presealed)
                items.append((encode(state), context, (body, _LENGTH.pack(len(body)))))
        blobs: list[bytes] = []
        for start, end in runs(scopes):
            blobs.extend(self.keys.seal_events(scopes[start], items[start:end]))
        return [
            StoredEvent(originator_id, version, topic, blob)
            for (originator_id, version, topic), blob in zip(heads, blobs, strict=True)
        ]

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event_cls, presealed, class_version = _topic_info(stored_event.topic)
        originator_id = stored_event.originator_id
        version = stored_event.originator_version
        context = _event_context(_id_text(originator_id), version, stored_event.topic)
        state = stored_event.state
        body = b""
        if presealed is not None:
            state, body = _split_presealed(state)
        try:
            plaintext = self.keys.open_event(state, context)
        except KeyDestroyedError:
            return _redacted(stored_event)
        except SealedError:
            raise SealedError(f"event {originator_id}/{version} failed to open") from None
        # Decryption first; then what the stock mapper does (decode, ids, upcast, construct),
        # inline because this is the read and rebuild hot path.
        try:
            event_state: dict[str, Any] = self._decode_state(plaintext)
        except ValueError:
            raise SealedError(f"event {originator_id}/{version} failed to decode") from None
        event_state["originator_id"] = _as_uuid(originator_id)
        event_state["originator_version"] = version
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(event_cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        if presealed is not None:
            event_state[presealed] = body
        event = object.__new__(event_cls)
        object.__setattr__(event, "__dict__", event_state)
        return event


class BatchSealingEventStore(EventStore[UUID]):
    """The library's event store, except that a commit's events are mapped in one batch
    (``SealingMapper.to_stored_events``) rather than one at a time."""

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        mapper = self.mapper
        if not isinstance(mapper, SealingMapper):
            return super().put(domain_events, **kwargs)
        stored_events = mapper.to_stored_events(domain_events)
        notification_ids = self.recorder.insert_events(stored_events, **kwargs)
        if not notification_ids:
            return []
        # What the library's put returns: a recording of each event, in order.
        return [
            Recording(
                event,
                Notification(
                    originator_id=stored.originator_id,
                    originator_version=stored.originator_version,
                    topic=stored.topic,
                    state=stored.state,
                    id=notification_id,
                ),
            )
            for event, stored, notification_id in zip(
                domain_events, stored_events, notification_ids, strict=True
            )
        ]


ScopeOf = Callable[[Any, str], SealingScope]
"""An event class's ``sealing_scope(event, aggregate id as text)``."""
_CLASS_INFO: dict[type[Any], tuple[str, str | None, int, ScopeOf | None]] = {}


def _class_info(event_cls: type[Any]) -> tuple[str, str | None, int, ScopeOf | None]:
    """(topic, presealed field, class version, ``sealing_scope`` function or None for the
    registry scope) of an event class, looked up once."""
    info = _CLASS_INFO.get(event_cls)
    if info is None:
        scope_of = cast(ScopeOf | None, getattr(event_cls, "sealing_scope", None))
        info = (
            get_topic(event_cls),
            _presealed_field(event_cls),
            _class_version(event_cls),
            scope_of,
        )
        _CLASS_INFO[event_cls] = info
    return info


def _class_version(event_cls: type[Any]) -> int:
    return int(getattr(event_cls, "class_version", 1))


@functools.cache
def _topic_info(topic: str) -> tuple[type[Any], str | None, int]:
    """(event class, presealed field, class version) of a topic, resolved once."""
    event_cls = resolve_topic(topic)
    return event_cls, _presealed_field(event_cls), _class_version(event_cls)


def _presealed_field(event_cls: type[Any]) -> str | None:
    return cast(str | None, getattr(event_cls, "presealed_field", None))


def _split_presealed(state: bytes) -> tuple[bytes, bytes]:
    """Separate the event envelope from an appended, already sealed body."""
    if len(state) < 4:
        raise SealedError("malformed event state")
    (length,) = _LENGTH.unpack(state[-4:])
    if length > len(state) - 4:
        raise SealedError("malformed event state")
    body_start = len(state) - 4 - length
    return state[:body_start], state[body_start:-4]


def _redacted(stored_event: StoredEvent) -> Any:
    event_cls = resolve_topic(stored_event.topic)
    redacted_cls = getattr(event_cls, "redacted_class", None) or Case.Redacted
    placeholder = object.__new__(redacted_cls)
    object.__setattr__(
        placeholder,
        "__dict__",
        {
            "originator_id": _as_uuid(stored_event.originator_id),
            "originator_version": stored_event.originator_version,
            "timestamp": _UNKNOWN_TIME,  # the real time was sealed with the event
        },
    )
    return placeholder


_UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
