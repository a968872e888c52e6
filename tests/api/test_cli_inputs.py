"""The CLI's inputs: ISO 8601 times, choices, declared partners, past instants, progress
only on terminals, and audit reads that are logged like the API's."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.bootstrap import build_services
from api.cli import app
from api.settings import Settings
from ledger._audit_entries import AccessEntry, StoredEntry

#: The invented access-log entries' times: one per day, 2026-11-29 to 2026-12-02, at noon.
DAYS = [datetime(2026, 11, 29, 12, tzinfo=UTC) + timedelta(days=n) for n in range(4)]
NOT_ISO = "caseledger: --from: not an ISO 8601 date or date-time\n"


def run(data_dir: Path, *args: str) -> Result:
    """Run the CLI on ``data_dir`` with no CASELEDGER_* variable of the calling environment."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CASELEDGER_")}
    return CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], env=env)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir from ``caseledger init``, its access log holding one read a day."""
    data = tmp_path / "data"
    assert run(data, "init").exit_code == 0
    services = build_services(Settings(data_dir=data))
    try:
        for n, day in enumerate(DAYS):
            entry = AccessEntry(
                actor=f"reader-{n}",
                org="ggz",
                role="deelnemer",
                purpose="zvh_joint_approach",
                case_id=f"case{n}",
                decision="allowed",
                reason="allowed_sharing",
            )
            services.access_log.append([entry], now=day)
    finally:
        services.close()
    return data


def log_entries(data_dir: Path) -> list[StoredEntry]:
    services = build_services(Settings(data_dir=data_dir))
    try:
        return services.access_log.entries()
    finally:
        services.close()


def actors(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [json.loads(line)["dpl.core.user_id"] for line in result.stdout.splitlines()]


class TestAuditTimes:
    """--from/--to take ISO 8601 dates and date-times and compare them as instants."""

    @pytest.mark.parametrize(
        ("window", "expected"),
        [
            (("--from", "2026-12-01"), ["reader-2", "reader-3"]),
            (("--to", "2026-12-01"), ["reader-0", "reader-1"]),
            (("--from", "2026-11-30T12:00:00Z", "--to", "2026-12-01T12:00:00Z"), ["reader-1"]),
            # 13:00 at +02:00 is 11:00 UTC, before that day's read at noon.
            (("--from", "2026-12-02T13:00:00+02:00"), ["reader-3"]),
            # Without an offset: UTC, so 12:00:01 is after the noon read.
            (("--from", "2026-12-01T12:00:01"), ["reader-3"]),
        ],
    )
    def test_windows(self, data_dir: Path, window: tuple[str, ...], expected: list[str]) -> None:
        result = run(data_dir, "audit", "query", "--format", "jsonl", "--org", "ggz", *window)
        assert actors(result) == expected

    @pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "1 Dec 2026", ""])
    def test_not_iso_is_refused_in_one_line(self, data_dir: Path, value: str) -> None:
        result = run(data_dir, "audit", "query", "--from", value)
        assert result.exit_code == 2
        assert result.stderr == NOT_ISO
        assert result.stdout == ""

    def test_bad_to_names_its_option(self, data_dir: Path) -> None:
        result = run(data_dir, "audit", "query", "--to", "tomorrow")
        assert (result.exit_code, result.stderr) == (
            2,
            "caseledger: --to: not an ISO 8601 date or date-time\n",
        )


class TestChoices:
    """Enumerated options accept only their values (exit 2 otherwise)."""

    @pytest.mark.parametrize(
        "args",
        [
            ("audit", "query", "--format", "xml"),
            ("audit", "query", "--shape", "ldv2"),
            ("audit", "query", "--decision", "maybe"),
            ("audit", "query", "--reason", "because"),
            ("audit", "export", "--format", "table"),
            ("audit", "export", "--shape", "nen"),
        ],
    )
    def test_unknown_value(self, data_dir: Path, args: tuple[str, ...]) -> None:
        result = run(data_dir, *args)
        assert result.exit_code == 2
        assert result.stdout == ""

    def test_known_values(self, data_dir: Path) -> None:
        result = run(
            data_dir, "audit", "query", "--format", "csv", "--shape", "nen7513",
            "--decision", "allowed", "--reason", "allowed_sharing",
        )  # fmt: skip
        assert result.exit_code == 0
        assert len(result.stdout.splitlines()) == 1 + len(DAYS)  # header and the four reads


class TestKeysRotate:
    """Only partners the covenant declares are rotated; others leave the keyring alone."""

    def test_undeclared_partner(self, data_dir: Path) -> None:
        keyring = data_dir / "keyring.json"
        before = keyring.read_bytes()
        result = run(data_dir, "keys", "rotate", "--partner", "ggz", "--partner", "nosuch")
        assert result.exit_code == 2
        assert result.stderr == ("caseledger: --partner: not declared in the covenant: nosuch\n")
        assert keyring.read_bytes() == before
        assert "nosuch" not in json.loads(before)["partners"]

    def test_declared_partner(self, data_dir: Path) -> None:
        result = run(data_dir, "keys", "rotate", "--partner", "ggz")
        assert result.exit_code == 0, result.output
        assert "ggz" in json.loads((data_dir / "keyring.json").read_text())["partners"]


class TestRetentionNow:
    """--now in the past needs --allow-past; now-or-later does not."""

    def test_past_is_refused(self, data_dir: Path) -> None:
        result = run(data_dir, "retention", "run", "--dry-run", "--now", "2020-01-01")
        assert result.exit_code == 2
        assert result.stderr == (
            "caseledger: --now: lies in the past; add --allow-past to evaluate as of then\n"
        )

    def test_past_allowed(self, data_dir: Path) -> None:
        result = run(
            data_dir, "retention", "run", "--dry-run", "--now", "2020-01-01", "--allow-past"
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("as of 2020-01-01T00:00:00+00:00: would erase")

    def test_future(self, data_dir: Path) -> None:
        result = run(data_dir, "retention", "run", "--dry-run", "--now", "2999-01-01T00:00Z")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("as of 2999-01-01T00:00:00+00:00: would erase 0")

    def test_not_iso(self, data_dir: Path) -> None:
        result = run(data_dir, "retention", "run", "--now", "next week")
        assert (result.exit_code, result.stderr) == (
            2,
            "caseledger: --now: not an ISO 8601 date or date-time\n",
        )


class TestProgress:
    """Away from a terminal (here: CliRunner's streams) no progress line is written."""

    def test_rebuild(self, data_dir: Path) -> None:
        result = run(data_dir, "projections", "rebuild")
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        assert result.stdout.splitlines() == ["applied 0 events; position 0"]

    def test_retention(self, data_dir: Path) -> None:
        result = run(data_dir, "retention", "run", "--dry-run")
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        assert len(result.stdout.splitlines()) == 1
        assert result.stdout.startswith("as of ")


class TestAuditReadsAreLogged:
    """A CLI query or export appends one supervision entry for the officer, after reading."""

    def test_query(self, data_dir: Path) -> None:
        result = run(data_dir, "audit", "query", "--officer", "fg-anna", "--case", "case1")
        assert result.exit_code == 0, result.output
        assert len(result.stdout.splitlines()) == 1  # the query did not see its own entry
        *_, last = log_entries(data_dir)
        assert last.seq == len(DAYS) + 1
        assert (last.actor, last.org, last.role, last.purpose) == (
            "fg-anna", "zvh", "privacy_officer", "accountability",
        )  # fmt: skip
        assert (last.trace_id, last.case_id) == ("cli-audit-query", "case1")
        assert (last.decision, last.reason) == ("allowed", "privacy_officer_metadata")

    def test_export(self, data_dir: Path, tmp_path: Path) -> None:
        out = tmp_path / "log.jsonl"
        result = run(data_dir, "audit", "export", "--officer", "fg-bert", "--output", str(out))
        assert result.exit_code == 0, result.output
        assert len(out.read_text().splitlines()) == len(DAYS)
        entries = log_entries(data_dir)
        assert len(entries) == len(DAYS) + 1
        assert (entries[-1].actor, entries[-1].trace_id) == ("fg-bert", "cli-audit-export")
        assert entries[-1].purpose == "accountability"

    def test_refused_input_is_not_a_read(self, data_dir: Path) -> None:
        assert run(data_dir, "audit", "query", "--from", "yesterday").exit_code == 2
        assert len(log_entries(data_dir)) == len(DAYS)
