"""Associated data in the stores: moved or tampered sealed values never open.

An attacker here can write to the event store (a restored, edited backup; a curious database
administrator) but holds no keyring. Fact bodies travel appended to their (separately sealed)
event, so moving one between stored events is a plain byte splice; it must fail to open.
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from ledger import Case, CaseLedger, SealedError, StoreConfig, body_context
from ledger._sealing import KEY_ID_BYTES, NONCE_BYTES
from tests.integration._ledger_support import (
    POLITIE,
    RECLASSERING,
    add_subject,
    open_active_case,
    opened,
    record,
)
from tests.opening import open_as_recorded
from tests.softhsm import keyed


@dataclass
class World:
    config: StoreConfig
    case_id: str
    other_case_id: str
    politie_fact: str
    politie_fact_2: str
    reclassering_fact: str
    corrected_fact: str
    other_case_fact: str
    bodies: dict[str, Any]
    events_table: str


@pytest.fixture
def store_config(
    store_config: StoreConfig, kek_provider: str, request: pytest.FixtureRequest
) -> StoreConfig:
    """These key tests run with either provider: the local keyring or a PKCS#11 token."""
    return keyed(store_config, kek_provider, request)


@pytest.fixture
def world(store_config: StoreConfig) -> World:
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        other_case_id = open_active_case(ledger)
        bodies = {
            "politie_fact": {"note": "first politie note"},
            "politie_fact_2": {"note": "second politie note"},
            "reclassering_fact": {"note": "reclassering note"},
            "corrected_fact": {"note": "corrected"},
            "other_case_fact": {"note": "a note in another case"},
        }
        ids = {
            "politie_fact": record(
                ledger, POLITIE, case_id, bodies["politie_fact"], subjects=[subject]
            ),
            "politie_fact_2": record(
                ledger, POLITIE, case_id, bodies["politie_fact_2"], subjects=[subject]
            ),
            "reclassering_fact": record(
                ledger, RECLASSERING, case_id, bodies["reclassering_fact"], subjects=[subject]
            ),
            "corrected_fact": record(ledger, POLITIE, case_id, {"note": "draft"}),
            "other_case_fact": record(ledger, POLITIE, other_case_id, bodies["other_case_fact"]),
        }
        ledger.correct_fact(POLITIE, case_id, ids["corrected_fact"], body=bodies["corrected_fact"])
        events_table = str(ledger.recorder.events_table_name)  # type: ignore[attr-defined]
    return World(
        store_config,
        case_id,
        other_case_id,
        **ids,
        bodies={ids[name]: body for name, body in bodies.items()},
        events_table=events_table,
    )


# -- raw access to the event store ----------------------------------------------------------


def _stored(ledger: CaseLedger, case_id: str) -> list[StoredEvent]:
    return list(ledger.recorder.select_events(UUID(case_id)))


def _version_of(ledger: CaseLedger, case_id: str, fact_id: str, *, revision: int = -1) -> int:
    return ledger.get_case(case_id).facts[fact_id].revisions[revision].case_version


def _state(ledger: CaseLedger, case_id: str, version: int) -> bytes:
    (event,) = [e for e in _stored(ledger, case_id) if e.originator_version == version]
    return event.state


def _split(state: bytes) -> tuple[bytes, bytes]:
    """(event envelope, appended sealed body) of a stored FactRecorded/FactCorrected."""
    (length,) = struct.unpack(">I", state[-4:])
    return state[: len(state) - 4 - length], state[len(state) - 4 - length : -4]


def _join(envelope: bytes, body: bytes) -> bytes:
    return envelope + body + struct.pack(">I", len(body))


def _overwrite(w: World, version: int, state: bytes) -> None:
    """Edit one stored event of the case in place, as an attacker with database access could."""
    config, case_id = w.config, w.case_id
    if config.database_url:
        assert config.events_schema is not None
        statement = sql.SQL(
            "UPDATE {}.{} SET state = %s WHERE originator_id = %s AND originator_version = %s"
        ).format(sql.Identifier(config.events_schema), sql.Identifier(w.events_table))
        with psycopg.connect(config.database_url, autocommit=True) as conn:
            updated = conn.execute(statement, (state, UUID(case_id), version)).rowcount
    else:
        with sqlite3.connect(str(config.events_path)) as conn:
            updated = conn.execute(
                f"UPDATE {w.events_table} SET state = ? WHERE originator_id = ?"  # noqa: S608
                " AND originator_version = ?",
                (state, UUID(case_id).hex, version),
            ).rowcount
    assert updated == 1


def _open_one(ledger: CaseLedger, case_id: str, fact_id: str) -> Any:
    case = ledger.get_case(case_id)
    (opened_body,) = open_as_recorded(ledger, case, [fact_id])
    return opened_body.body


class TestMovedBodies:
    """A sealed body spliced into another fact's, case's, owner's or version's event fails."""

    def test_every_body_opens_in_place(self, world: World) -> None:
        with opened(world.config) as ledger:
            for case_id in (world.case_id, world.other_case_id):
                case = ledger.get_case(case_id)
                for opened_body in open_as_recorded(ledger, case, list(case.facts)):
                    assert opened_body.body == world.bodies[opened_body.fact_id]

    @pytest.mark.parametrize(
        "move", ["another_fact", "another_owner", "another_case", "another_version"]
    )
    def test_moved_body_fails_to_open(self, world: World, move: str) -> None:
        with opened(world.config) as ledger:
            source_case, source_fact, source_revision, target_fact, target_revision = {
                "another_fact": (world.case_id, world.politie_fact, -1, world.politie_fact_2, -1),
                "another_owner": (
                    world.case_id,
                    world.politie_fact,
                    -1,
                    world.reclassering_fact,
                    -1,
                ),
                "another_case": (
                    world.other_case_id,
                    world.other_case_fact,
                    -1,
                    world.politie_fact,
                    -1,
                ),
                "another_version": (
                    world.case_id,
                    world.corrected_fact,
                    0,
                    world.corrected_fact,
                    1,
                ),
            }[move]
            source_version = _version_of(ledger, source_case, source_fact, revision=source_revision)
            target_version = _version_of(
                ledger, world.case_id, target_fact, revision=target_revision
            )
            _, moved_body = _split(_state(ledger, source_case, source_version))
            envelope, _ = _split(_state(ledger, world.case_id, target_version))
        _overwrite(world, target_version, _join(envelope, moved_body))

        with opened(world.config) as ledger:
            case = ledger.get_case(world.case_id)  # the case still loads
            assert case.facts[target_fact].current.sealed_body == moved_body
            with pytest.raises(SealedError):
                _open_one(ledger, world.case_id, target_fact)
            others = [f for f in case.facts if f != target_fact]
            for opened_body in open_as_recorded(ledger, case, others):
                assert opened_body.body == world.bodies[opened_body.fact_id]

    def test_the_same_body_opens_with_its_own_context_only(self, world: World) -> None:
        with opened(world.config) as ledger:
            case = ledger.get_case(world.case_id)
            fact = case.facts[world.politie_fact]
            blob, version = fact.current.sealed_body, fact.current.case_version
            right = body_context(world.case_id, world.politie_fact, version)
            assert ledger.keys.open_bodies([(blob, right)]) == [b'{"note":"first politie note"}']
            wrong = [
                body_context(world.case_id, world.politie_fact_2, version),
                body_context(world.other_case_id, world.politie_fact, version),
                body_context(world.case_id, world.politie_fact, version + 1),
            ]
            for context in wrong:
                with pytest.raises(SealedError):
                    ledger.keys.open_bodies([(blob, context)])


class TestMovedEvents:
    """A whole stored event moved to another aggregate, version or topic fails to open."""

    def test_event_state_under_another_identity(self, world: World) -> None:
        with opened(world.config) as ledger:
            events = _stored(ledger, world.case_id)
            other = _stored(ledger, world.other_case_id)
            source = events[-1]
            assert isinstance(ledger.mapper.to_domain_event(source), Case.FactCorrected)
            forgeries = [
                StoredEvent(
                    source.originator_id, source.originator_version - 1, source.topic, source.state
                ),
                StoredEvent(
                    other[0].originator_id, source.originator_version, source.topic, source.state
                ),
                StoredEvent(
                    source.originator_id,
                    source.originator_version,
                    "ledger._case:Case.FactRecorded",
                    source.state,
                ),
            ]
            for forged in forgeries:
                with pytest.raises(SealedError):
                    ledger.mapper.to_domain_event(forged)

    def test_replayed_event_in_the_store_fails_loudly(self, world: World) -> None:
        with opened(world.config) as ledger:
            newest = _version_of(ledger, world.case_id, world.corrected_fact, revision=0)
            earlier = _version_of(ledger, world.case_id, world.reclassering_fact)
            state = _state(ledger, world.case_id, earlier)
        # Both are FactRecorded events: only the associated data tells them apart.
        _overwrite(world, newest, state)
        with opened(world.config) as ledger, pytest.raises(SealedError):
            ledger.get_case(world.case_id)


def _flip(blob: bytes, bit: int) -> bytes:
    mutable = bytearray(blob)
    mutable[bit // 8] ^= 1 << (bit % 8)
    return bytes(mutable)


class TestBitFlips:
    """One flipped bit in a stored body or event never yields plaintext."""

    def test_body_nonce_ciphertext_and_tag(self, world: World) -> None:
        with opened(world.config) as ledger:
            fact = ledger.get_case(world.case_id).facts[world.politie_fact]
            blob = fact.current.sealed_body
            context = body_context(world.case_id, world.politie_fact, fact.current.case_version)
            header_end = 3 + 2 * KEY_ID_BYTES + KEY_ID_BYTES  # case + subject key, fact key
            assert blob[2] == 2
            for bit in range(header_end * 8, len(blob) * 8):
                with pytest.raises(SealedError):
                    ledger.keys.open_bodies([(_flip(blob, bit), context)])

    def test_body_header(self, world: World) -> None:
        with opened(world.config) as ledger:
            fact = ledger.get_case(world.case_id).facts[world.politie_fact]
            blob = fact.current.sealed_body
            context = body_context(world.case_id, world.politie_fact, fact.current.case_version)
            header_end = 3 + 3 * KEY_ID_BYTES
            for bit in range(header_end * 8):
                try:
                    result = ledger.keys.open_bodies([(_flip(blob, bit), context)])
                except SealedError:
                    continue
                # A flipped key id names no stored key: it reads as redacted, never as data.
                assert result == [None], bit
            for bit in range(3 * 8):  # version, flags and count fail loudly
                if bit // 8 == 2:
                    continue
                with pytest.raises(SealedError):
                    ledger.keys.open_bodies([(_flip(blob, bit), context)])

    def test_stored_event_envelope(self, world: World) -> None:
        with opened(world.config) as ledger:
            version = _version_of(ledger, world.case_id, world.politie_fact)
            (source,) = [
                e for e in _stored(ledger, world.case_id) if e.originator_version == version
            ]
            envelope, body = _split(source.state)
            header_end = 3 + 2 * KEY_ID_BYTES
            start = header_end + NONCE_BYTES - 1
            for bit in range(start * 8, len(envelope) * 8, 3):
                forged = StoredEvent(
                    source.originator_id,
                    source.originator_version,
                    source.topic,
                    _join(_flip(envelope, bit), body),
                )
                with pytest.raises(SealedError):
                    ledger.mapper.to_domain_event(forged)
            for bit in range(header_end * 8):
                forged = StoredEvent(
                    source.originator_id,
                    source.originator_version,
                    source.topic,
                    _join(_flip(envelope, bit), body),
                )
                try:
                    event = ledger.mapper.to_domain_event(forged)
                except SealedError:
                    continue
                assert isinstance(event, Case.Redacted), bit

    def test_appended_length_and_body_in_the_store(self, world: World) -> None:
        with opened(world.config) as ledger:
            version = _version_of(ledger, world.case_id, world.politie_fact)
            state = _state(ledger, world.case_id, version)
        envelope, body = _split(state)
        # A flipped bit in the appended body: the case loads, the body fails to open.
        _overwrite(world, version, _join(envelope, _flip(body, 8 * 60)))
        with opened(world.config) as ledger:
            with pytest.raises(SealedError):
                _open_one(ledger, world.case_id, world.politie_fact)
            assert _open_one(ledger, world.case_id, world.politie_fact_2) == {
                "note": "second politie note"
            }
        # A flipped bit in the length field misplaces the split: the event fails loudly.
        _overwrite(world, version, _flip(state, 8 * (len(state) - 1)))
        with opened(world.config) as ledger, pytest.raises(SealedError):
            ledger.get_case(world.case_id)

    def test_flipped_event_key_id_fails_loudly(self, world: World) -> None:
        with opened(world.config) as ledger:
            version = _version_of(ledger, world.case_id, world.politie_fact)
            state = _state(ledger, world.case_id, version)
        _overwrite(world, version, _flip(state, 8 * 3))
        with opened(world.config) as ledger, pytest.raises(SealedError):
            ledger.get_case(world.case_id)
