"""Backup and restore keep erasure final (R8), on SQLite and PostgreSQL.

Back up, erase, restore the backup: what the erasure destroyed stays destroyed (the erasure
journal is never restored and is replayed), everything else reads back, the access log's
chain verifies and the projections rebuild to the views the restore left. A restore checks
the manifest's signature and every hash before it touches anything, and refuses a key store
older than the latest erasure unless forced. All data is invented.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.bootstrap import Services, build_services
from api.cli_backup import backup_layout, run_restore
from api.settings import Settings
from ledger._backup import MANIFEST, BackupError, BackupRefusedError, create_backup
from ledger._erasure_journal import ErasureJournal
from policies import sample_covenant_path
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    World,
    all_bodies,
    build_world,
    record,
)
from tests.pg import PG_URL, create_schemas, drop_schemas
from tests.softhsm import SoftHsmToken

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COVENANT = Path(str(sample_covenant_path()))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for fresh stores: SQLite files, or throw-away PostgreSQL schemas."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        yield Settings(data_dir=data_dir, covenant_path=COVENANT)
        return
    suffix = uuid.uuid4().hex[:10]
    schemas = {k: f"t_{suffix}_{k}" for k in ("events", "keys", "views", "audit")}
    create_schemas(*schemas.values())
    try:
        yield Settings(
            data_dir=data_dir,
            covenant_path=COVENANT,
            database_url=PG_URL,
            events_schema=schemas["events"],
            keystore_schema=schemas["keys"],
            views_schema=schemas["views"],
            audit_schema=schemas["audit"],
        )
    finally:
        drop_schemas(*schemas.values())


@contextmanager
def services_of(settings: Settings) -> Iterator[Services]:
    services = build_services(settings)
    try:
        yield services
    finally:
        services.close()


def _world_with_reads(services: Services) -> World:
    """The shared invented world, its projections caught up and two checkpointed reads."""
    w = build_world(services.ledger)
    services.runner.catch_up()
    services.access_log.checkpoint(now=NOW)
    return w


def _about_a(w: World) -> set[str]:
    return w.ids("identity_a", "politie_a", "reclassering_a", "reclassering_ab")


def _assert_readable_except(services: Services, w: World, erased: set[str]) -> None:
    found = all_bodies(services.ledger, w)
    assert {f for f in erased if found.get(f) is not None} == set()
    others = w.all_ids - erased
    assert {f: found.get(f) for f in others} == {f: w.expected[f] for f in others}


class TestRestoreKeepsErasureFinal:
    """R8: back up, erase a subject, restore the backup."""

    def test_erased_subject_stays_unreadable(self, settings: Settings, tmp_path: Path) -> None:
        backup = tmp_path / "backup"
        with services_of(settings) as services:
            w = _world_with_reads(services)
            head = services.access_log.count()
            create_backup(backup_layout(settings), backup, now=NOW)
            services.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
            services.runner.catch_up()
        with pytest.raises(BackupRefusedError):
            run_restore(settings, backup)  # older than the erasure's epoch: needs --force
        report = run_restore(settings, backup, force=True)
        assert report.replay.scopes_erased == 1
        assert report.replay.scope_keys_destroyed == 3  # A's key of each of three owners
        assert report.replay.epoch is not None
        assert set(report.replay.epoch.kek_rotations) == {"zvh", "politie", "reclassering"}
        with services_of(settings) as services:
            _assert_readable_except(services, w, _about_a(w))
            case = services.ledger.get_case(w.case_1)
            assert w.subject_a not in case.subjects
            assert w.subject_b in case.subjects
            verified = services.access_log.verify()
            assert verified.ok
            assert verified.entries >= head
            services.runner.catch_up()
            restored_views = services.views.content_hash()
            services.runner.rebuild()
            assert services.views.content_hash() == restored_views
            # The KEK versions the erasure destroyed stay destroyed, and no number is reused.
            keyring = services.ledger.keys.keyring
            journal = ErasureJournal(settings.store_config().journal_path).read()
            for owner in ("zvh", "politie", "reclassering"):
                assert not set(keyring.versions(owner)) & journal.kek_versions[owner]
            assert services.ledger.keys.store.generation() == journal.generation

    def test_a_second_restore_of_the_same_backup_is_as_final(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        with services_of(settings) as services:
            w = _world_with_reads(services)
            create_backup(backup_layout(settings), backup, now=NOW)
            services.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
        run_restore(settings, backup, force=True)
        run_restore(settings, backup, force=True)
        with services_of(settings) as services:
            _assert_readable_except(services, w, _about_a(w))

    def test_a_fact_erased_after_the_backup_stays_erased(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        with services_of(settings) as services:
            w = _world_with_reads(services)
            create_backup(backup_layout(settings), backup, now=NOW)
            fact = w.facts["politie_b"]
            services.ledger.erase_fact(PRIVACY_OFFICER, w.case_1, fact, ground="art17")
        report = run_restore(settings, backup, force=True)
        assert report.replay.fact_keys_destroyed == 1  # its one revision
        with services_of(settings) as services:
            _assert_readable_except(services, w, {fact})


class TestRestoreWithoutErasureSince:
    def test_restores_without_force_and_drops_later_facts(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        with services_of(settings) as services:
            w = _world_with_reads(services)
            report = create_backup(backup_layout(settings), backup, now=NOW)
            assert report.events_position > 0
            later = record(services.ledger, POLITIE, w.case_2, {"note": "after the backup"})
        restored = run_restore(settings, backup)
        assert not restored.replay.destroyed_anything
        with services_of(settings) as services:
            _assert_readable_except(services, w, set())
            assert later not in services.ledger.get_case(w.case_2).facts
            assert services.access_log.verify().ok


class TestRestoreChecksBeforeTouching:
    """Refusals leave the live stores as they are: a fact recorded after the backup stays."""

    def _backup_then_record(self, settings: Settings, backup: Path) -> tuple[World, str]:
        with services_of(settings) as services:
            w = _world_with_reads(services)
            create_backup(backup_layout(settings), backup, now=NOW)
            later = record(services.ledger, POLITIE, w.case_2, {"note": "after the backup"})
        return w, later

    def _still_live(self, settings: Settings, w: World, later: str) -> None:
        with services_of(settings) as services:
            assert later in services.ledger.get_case(w.case_2).facts
            _assert_readable_except(services, w, set())

    def test_older_key_store_refused_without_force(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        w, later = self._backup_then_record(settings, backup)
        with services_of(settings) as services:
            services.ledger.rotate_keys(["politie"])  # a key epoch after the backup
        with pytest.raises(BackupRefusedError, match="--force"):
            run_restore(settings, backup)
        self._still_live(settings, w, later)
        report = run_restore(settings, backup, force=True)
        assert report.replay.kek_versions_destroyed["politie"] == [1]
        with services_of(settings) as services:
            _assert_readable_except(services, w, set())
            assert services.ledger.keys.keyring.versions("politie") == [2]

    def test_tampered_file_refused(self, settings: Settings, tmp_path: Path) -> None:
        backup = tmp_path / "backup"
        w, later = self._backup_then_record(settings, backup)
        victim = backup / backup_layout(settings).file_name("events")
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01
        victim.write_bytes(bytes(data))
        with pytest.raises(BackupError, match="does not match the manifest"):
            run_restore(settings, backup, force=True)
        self._still_live(settings, w, later)

    def test_tampered_manifest_refused(self, settings: Settings, tmp_path: Path) -> None:
        backup = tmp_path / "backup"
        w, later = self._backup_then_record(settings, backup)
        signed = json.loads((backup / MANIFEST).read_text())
        signed["document"]["key_generation"] += 100  # to pass for a newer key store
        (backup / MANIFEST).write_text(json.dumps(signed))
        with pytest.raises(BackupError, match="signature"):
            run_restore(settings, backup, force=True)
        self._still_live(settings, w, later)

    def test_broken_journal_refused(self, settings: Settings, tmp_path: Path) -> None:
        backup = tmp_path / "backup"
        with services_of(settings) as services:
            w = _world_with_reads(services)
            create_backup(backup_layout(settings), backup, now=NOW)
            services.ledger.erase_fact(
                PRIVACY_OFFICER, w.case_1, w.facts["politie_b"], ground="art17"
            )
            later = record(services.ledger, POLITIE, w.case_2, {"note": "after the backup"})
        journal = settings.store_config().journal_path
        lines = journal.read_bytes().splitlines(keepends=True)
        journal.write_bytes(b"".join(lines[1:]))  # an entry dropped
        with pytest.raises(BackupError, match="journal"):
            run_restore(settings, backup, force=True)
        with services_of(settings) as services:
            assert later in services.ledger.get_case(w.case_2).facts

    def test_lost_journal_refused_even_with_force(self, settings: Settings, tmp_path: Path) -> None:
        backup = tmp_path / "backup"
        with services_of(settings) as services:
            w = _world_with_reads(services)
            services.ledger.erase_fact(
                PRIVACY_OFFICER, w.case_1, w.facts["politie_b"], ground="art17"
            )
            create_backup(backup_layout(settings), backup, now=NOW)
            later = record(services.ledger, POLITIE, w.case_2, {"note": "after the backup"})
        settings.store_config().journal_path.unlink()  # the disk it was on is gone
        with pytest.raises(BackupRefusedError, match="journal is missing"):
            run_restore(settings, backup, force=True)
        with services_of(settings) as services:
            assert later in services.ledger.get_case(w.case_2).facts

    def test_backup_into_a_non_empty_directory_refused(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        backup.mkdir()
        (backup / "other").write_text("x")
        with services_of(settings) as services:
            _world_with_reads(services)
        with pytest.raises(BackupError, match="not empty"):
            create_backup(backup_layout(settings), backup, now=NOW)


@pytest.mark.softhsm
class TestWithKeysInAToken:
    """The KEKs stay in the token: not copied, and the journal replays into the token."""

    @pytest.fixture
    def token_settings(self, tmp_path: Path, softhsm_token: SoftHsmToken) -> Settings:
        config = softhsm_token.config
        return Settings(
            data_dir=tmp_path / "data",
            covenant_path=COVENANT,
            kek_provider="pkcs11",
            pkcs11_module=config.module,
            pkcs11_token_label=config.token_label,
            pkcs11_pin_file=config.pin_file,
        )

    def test_restore_without_erasure_since_reads_everything(
        self, token_settings: Settings, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        with services_of(token_settings) as services:
            w = _world_with_reads(services)
            create_backup(backup_layout(token_settings), backup, now=NOW)
        manifest = json.loads((backup / MANIFEST).read_text())["document"]
        assert manifest["keys_in_token"] is True
        assert "keyring.json" not in manifest["files"]
        run_restore(token_settings, backup)
        with services_of(token_settings) as services:
            _assert_readable_except(services, w, set())

    def test_forced_restore_of_an_older_key_store_keeps_the_erasure(
        self, token_settings: Settings, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        with services_of(token_settings) as services:
            w = _world_with_reads(services)
            create_backup(backup_layout(token_settings), backup, now=NOW)
            services.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
        with pytest.raises(BackupRefusedError):
            run_restore(token_settings, backup)
        report = run_restore(token_settings, backup, force=True)
        # The backup's keys were wrapped under versions the token destroyed: they open for
        # no one, so they are dropped as destroyed (and read as redacted, not as tampered).
        assert report.replay.unopenable_keys_dropped > 0
        with services_of(token_settings) as services:
            found = all_bodies(services.ledger, w)  # loads: no SealedError
            assert {f for f in _about_a(w) if found.get(f) is not None} == set()
            journal = ErasureJournal(token_settings.store_config().journal_path).read()
            keyring = services.ledger.keys.keyring
            for owner, versions in journal.kek_versions.items():
                assert not set(keyring.versions(owner)) & versions


class TestJournalFirst:
    def test_no_key_is_destroyed_when_the_journal_cannot_be_written(
        self, settings: Settings
    ) -> None:
        journal = settings.store_config().journal_path
        with services_of(settings) as services:
            w = _world_with_reads(services)
            journal.mkdir()  # appending to it now fails
            with pytest.raises(IsADirectoryError):
                services.ledger.erase_subject(
                    PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17"
                )
            _assert_readable_except(services, w, set())
            journal.rmdir()
            services.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
            _assert_readable_except(services, w, _about_a(w))
        assert ErasureJournal(journal).read().tombstones == {("*", w.case_1, w.subject_a): None}


class TestBackupWhileWriting:
    def test_a_backup_taken_under_writes_restores_whole(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """Facts recorded (and projected) while the backup runs: the restored stores agree
        with each other, whatever point each copy caught."""
        backup = tmp_path / "backup"
        with services_of(settings) as services:
            w = _world_with_reads(services)
            stop = threading.Event()

            def write() -> None:
                while not stop.is_set():
                    record(services.ledger, POLITIE, w.case_2, {"note": "while backing up"})
                    services.runner.catch_up()

            writer = threading.Thread(target=write)
            writer.start()
            try:
                report = create_backup(backup_layout(settings), backup, now=NOW)
            finally:
                stop.set()
                writer.join(30)
        run_restore(settings, backup)
        with services_of(settings) as services:
            assert services.runner.position <= report.events_position
            case_2 = services.ledger.get_case(w.case_2)
            found = all_bodies(services.ledger, w)  # every key an event names is there
            assert all(found[f] is not None for f in case_2.facts)
            services.runner.catch_up()
            caught_up = services.views.content_hash()
            services.runner.rebuild()
            assert services.views.content_hash() == caught_up
