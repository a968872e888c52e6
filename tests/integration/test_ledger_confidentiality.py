"""Nothing personal is stored in the clear, and a stolen copy of the stores opens nothing."""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger import Case, CaseLedger, LocalKeyring, SealedError, StoreConfig, body_context
from ledger._idempotency import IdempotencyRecord
from ledger._stores import KEYRING_FILE
from tests.integration._ledger_support import (
    POLITIE,
    PURPOSE,
    RECLASSERING,
    REGIE,
    add_subject,
    copy_events,
    copy_keystore,
    dump_events,
    dump_keys,
    encodings,
    files_holding,
    opened,
    pg_database,
    readable,
    record,
    restored_config,
)
from tests.pg import PG_URL, pg_dump
from tests.softhsm import SoftHsmToken, keyed

#: Four weeks from now (a deferral's review date may not lie in the past).
REVIEW_AT = (datetime.now(UTC) + timedelta(weeks=4)).date().isoformat()


@pytest.fixture
def keyed_config(
    store_config: StoreConfig, kek_provider: str, request: pytest.FixtureRequest
) -> StoreConfig:
    """The stores, with the key-encryption keys in the keyring file or in a SoftHSM2 token."""
    return keyed(store_config, kek_provider, request)


def _canary() -> str:
    # Non-ASCII on purpose: a leak through any text encoding must show up in the scan.
    return f"Canary-{uuid.uuid4().hex}-Jänsen-Øster"


def _record_everywhere(ledger: CaseLedger, canary: str) -> tuple[str, list[str]]:
    """Put the canary in every free-text place of a case: bodies, identity, reasons."""
    case_id = ledger.open_case(
        REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=3
    ).case_id
    ledger.triage(REGIE, case_id, decision="accept", reason=f"reason {canary}")
    ledger.invite_participant(REGIE, case_id, org="reclassering")
    subject = add_subject(ledger, case_id)
    identity = record(
        ledger,
        REGIE,
        case_id,
        {"name": canary, "born": "1990-01-01", "address": f"{canary}straat 1"},
        subjects=[subject],
        categories=["identity"],
    )
    note = record(
        ledger,
        POLITIE,
        case_id,
        {"note": f"seen with {canary}", "nested": [{"who": canary}]},
        subjects=[subject],
        categories=["criminal"],
        idempotency_key=f"k-{uuid.uuid4().hex}",
    )
    corrected = record(ledger, RECLASSERING, case_id, {"note": "draft"}, subjects=[subject])
    ledger.correct_fact(RECLASSERING, case_id, corrected, body={"note": f"final {canary}"})
    ledger.agree_action(
        REGIE, case_id, assignee="reclassering", what=f"visit {canary}", due="2026-12-01"
    )
    ledger.change_phase(REGIE, case_id, phase=4, reason=f"escalate {canary}")
    ledger.decide_notification(
        REGIE, case_id, decision="defer", reason=f"defer {canary}", review_at=REVIEW_AT
    )
    return case_id, [identity, note, corrected]


class TestCanaryInFiles:
    """A unique string put into fact bodies and a subject's identity appears in no stored byte."""

    def test_no_canary_in_data_dir_or_dump(
        self, keyed_config: StoreConfig, request: pytest.FixtureRequest
    ) -> None:
        store_config = keyed_config
        canary = _canary()
        needles = encodings(canary)
        with opened(store_config) as ledger:
            case_id, facts = _record_everywhere(ledger, canary)
            # The owner reads the canary back: it was stored, just not in the clear.
            opened_now = readable(ledger, case_id)
            assert set(opened_now) == set(facts)
            assert canary in str(opened_now)
            # While the ledger is open the WALs hold the latest pages.
            assert files_holding(store_config.data_dir, needles) == []
            if store_config.database_url:
                assert store_config.events_schema is not None
                dump = pg_dump(store_config.events_schema, store_config.keystore_schema)
                assert b"CREATE TABLE" in dump  # the dump really holds both schemas
                assert b"scope_keys" in dump
                assert [n for n in needles if n in dump] == []
            else:
                names = {p.name for p in store_config.data_dir.iterdir()}
                assert {"events.sqlite3", "keys.sqlite3"} <= names
                # Keys in a token leave no keyring file behind.
                assert (KEYRING_FILE in names) == (store_config.pkcs11 is None)
        # After closing (checkpointed WAL) the files still hold no canary.
        assert files_holding(store_config.data_dir, needles) == []
        if store_config.pkcs11 is not None:
            token: SoftHsmToken = request.getfixturevalue("softhsm_token")
            assert any(token.directory.iterdir())  # the token's objects are files here
            assert files_holding(token.directory, needles) == []

    def test_the_scan_finds_a_planted_canary(self, tmp_path: Path) -> None:
        # Guards the scanner itself: a canary that does reach a file is found.
        canary = _canary()
        (tmp_path / "a.bin").write_bytes(b"xx" + canary.encode("utf-16-le") + b"yy")
        assert files_holding(tmp_path, encodings(canary)) == [str(tmp_path / "a.bin")]


class TestCanaryOnPostgresServer:
    """The PostgreSQL server's own files (heap pages, WAL) hold no canary either."""

    @pytest.mark.postgres
    @pytest.mark.parametrize("store_config", ["postgres"], indirect=True)
    def test_server_files(self, store_config: StoreConfig) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        data_directory = Path(str(row[0]))
        if not os.access(data_directory, os.R_OK | os.X_OK):
            pytest.skip("the server's data directory is not readable here")
        canary, control = _canary(), _canary()
        with opened(store_config) as ledger:
            _record_everywhere(ledger, canary)
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            # A control written in the clear must be found, or the scan proves nothing.
            conn.execute(
                sql.SQL("CREATE TABLE {}.control (note text)").format(
                    sql.Identifier(str(store_config.events_schema))
                )
            )
            conn.execute(
                sql.SQL("INSERT INTO {}.control VALUES (%s)").format(
                    sql.Identifier(str(store_config.events_schema))
                ),
                (control,),
            )
            conn.execute("CHECKPOINT")  # heap pages on disk, not only in shared buffers
        assert files_holding(data_directory, encodings(canary), live_server=True) == []
        assert files_holding(data_directory, [control.encode()], live_server=True) != []


def _thief_keyring(data_dir: Path, variant: str) -> None:
    """A fresh keyring: empty, or holding other keys under the same partner names."""
    data_dir.mkdir(parents=True, exist_ok=True)
    keyring = LocalKeyring.create(data_dir / KEYRING_FILE)
    if variant == "same_partner_names":
        for partner in ("zvh", "politie", "reclassering", "_ledger"):
            keyring.active_version(partner)


def _open_nothing(thief: CaseLedger, case_id: str, blobs: list[tuple[bytes, bytes]]) -> None:
    """Assert the thief's ledger opens no fact, no body and no event."""
    try:
        case = thief.get_case(case_id)
    except SealedError:
        pass
    else:
        assert case.facts == {}
        assert case.redacted_events == case.version
    for blob, context in blobs:
        with contextlib.suppress(SealedError):
            assert thief.keys.open_bodies([(blob, context)]) == [None]
    notifications = thief.recorder.select_notifications(start=1, limit=10_000)
    assert len(notifications) > 10
    opened_events = 0
    for notification in notifications:
        try:
            event: Any = thief.mapper.to_domain_event(notification)
        except SealedError:
            continue
        if not isinstance(event, (Case.Redacted, IdempotencyRecord.Redacted)):
            opened_events += 1
    assert opened_events == 0


@pytest.mark.parametrize("variant", ["empty", "same_partner_names"])
class TestStolenCopy:
    """A copy of the databases without the keyring (or the token) opens 0 facts, 0 bodies
    and 0 events."""

    def test_stolen_copy_opens_nothing(
        self, keyed_config: StoreConfig, tmp_path: Path, variant: str
    ) -> None:
        store_config = keyed_config
        canary = _canary()
        with opened(store_config) as ledger:
            case_id, facts = _record_everywhere(ledger, canary)
            case = ledger.get_case(case_id)
            blobs = [
                (
                    case.facts[f].current.sealed_body,
                    body_context(case_id, f, case.facts[f].current.case_version),
                )
                for f in facts
            ]
            assert len(readable(ledger, case_id)) == len(facts)
            thief_dir = tmp_path / "stolen"
            if store_config.database_url:
                dumps = (dump_events(store_config), dump_keys(store_config))
            else:
                copy_events(store_config, thief_dir)
                copy_keystore(store_config, thief_dir)
        _thief_keyring(thief_dir, variant)
        if store_config.database_url:
            with pg_database() as dbname:
                # The thief has the databases, not the HSM: its own keyring file.
                stolen = replace(
                    restored_config(store_config, dbname, thief_dir, *dumps), pkcs11=None
                )
                with opened(stolen) as thief:
                    _open_nothing(thief, case_id, blobs)
        else:
            with opened(store_config.__class__(data_dir=thief_dir)) as thief:
                _open_nothing(thief, case_id, blobs)
