"""scripts/deps.py: the hashed locks are checked offline and the audit honours exceptions."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deps.py"
TODAY = date(2026, 12, 5)
HASH = "--hash=sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def deps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deps_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def exception_entry(
    package: str = "fastapi",
    advisory: str = "GHSA-2c2j-9gv5-cj73",
    review_by: str = "2027-02-01",
    reason: str = "not reachable: the affected form parser is not used by any route",
) -> str:
    return (
        f'[[exception]]\npackage = "{package}"\nadvisory = "{advisory}"\n'
        f'reason = "{reason}"\nreview_by = {review_by}\n'
    )


def test_a_lock_with_hashes_and_markers_parses_into_pins(deps: ModuleType) -> None:
    text = (
        "# a comment\n"
        f"fastapi==0.120.0 \\\n    {HASH}\n    # via caseledger\n"
        f"atheris==3.0.0 ; platform_machine == 'x86_64' \\\n    {HASH} \\\n    {HASH}\n"
    )
    pins, problems = deps.parse_lock(text)
    assert problems == []
    assert [(p.name, p.version, len(p.hashes), p.line) for p in pins] == [
        ("fastapi", "0.120.0", 1, 2),
        ("atheris", "3.0.0", 2, 5),
    ]


def test_a_pin_without_a_hash_or_without_an_exact_version_is_a_problem(
    deps: ModuleType,
) -> None:
    _, problems = deps.parse_lock(f"fastapi==0.120.0\nhttpx>=0.27 \\\n    {HASH}\n")
    assert problems == [
        "line 1: fastapi has no sha256 hash",
        "line 2: httpx is not pinned with ==",
    ]


def test_a_requirement_the_lock_does_not_satisfy_is_named(deps: ModuleType) -> None:
    pins, _ = deps.parse_lock(f"fastapi==0.100.0 {HASH}\nHTTPX==0.28.1 {HASH}\n")
    problems = deps.unlocked_requirements(["fastapi>=0.115", "httpx>=0.27", "typer>=0.12"], pins)
    assert problems == [
        "fastapi: no locked version satisfies 'fastapi>=0.115'",
        "typer is required but not locked",
    ]


def test_the_environment_must_hold_exactly_the_pins_for_its_platform(deps: ModuleType) -> None:
    pins, _ = deps.parse_lock(
        f"fastapi==0.120.0 {HASH}\nhttpx==0.28.1 {HASH}\n"
        f"pywin32==311 ; sys_platform == 'win32' {HASH}\n"
    )
    problems = deps.installed_mismatches(pins, {"fastapi": "0.119.0"})
    assert problems == [
        "fastapi is 0.119.0, the lock pins 0.120.0",
        "httpx==0.28.1 is locked but not installed",
    ]


def test_both_locks_must_pin_shared_packages_alike(deps: ModuleType) -> None:
    runtime, _ = deps.parse_lock(f"fastapi==0.120.0 {HASH}\nhttpx==0.28.1 {HASH}\n")
    dev, _ = deps.parse_lock(f"fastapi==0.121.0 {HASH}\npytest==8.4.0 {HASH}\n")
    assert deps.disagreements(runtime, dev) == [
        "fastapi: runtime 0.120.0, dev 0.121.0",
        "httpx is in the runtime lock only",
    ]


def test_a_well_formed_exception_is_accepted(deps: ModuleType) -> None:
    accepted, problems = deps.load_exceptions(exception_entry(), ["fastapi"], TODAY)
    assert problems == []
    assert [(e.package, e.advisory, e.review_by) for e in accepted] == [
        ("fastapi", "GHSA-2c2j-9gv5-cj73", date(2027, 2, 1))
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (exception_entry(review_by="2026-12-04"), "was due for review on 2026-12-04"),
        (exception_entry(review_by="2028-01-01"), "more than a year ahead"),
        (exception_entry(review_by='"2027-02-01"'), "review_by must be a TOML date"),
        (exception_entry(review_by="2027-02-01T10:00:00"), "review_by must be a TOML date"),
        (exception_entry(package="left-pad"), "package 'left-pad' is not in the lock"),
        (exception_entry(advisory="SNYK-123"), "advisory must be a GHSA-, PYSEC- or CVE-"),
        (exception_entry(reason="fine"), "reason must say why"),
        ('[[exception]]\npackage = "fastapi"\n', "missing ['advisory', 'reason', 'review_by']"),
        (exception_entry() + exception_entry(), "is excepted twice"),
        ("[[exception]\n", "not valid TOML"),
        ("exception = 3\n", "must be an array of tables"),
        ("[other]\n", "unknown table 'other'"),
    ],
)
def test_a_bad_exception_is_refused_with_a_reason(
    deps: ModuleType, entry: str, message: str
) -> None:
    _, problems = deps.load_exceptions(entry, ["fastapi"], TODAY)
    assert any(message in problem for problem in problems), problems


def audit_report(*dependencies: dict[str, object]) -> dict[str, object]:
    return {"dependencies": list(dependencies), "fixes": []}


def vulnerable(name: str, vuln_id: str, aliases: list[str]) -> dict[str, object]:
    vuln = {"id": vuln_id, "aliases": aliases, "fix_versions": ["9.9.9"], "description": "x"}
    return {"name": name, "version": "1.0", "vulns": [vuln]}


def test_an_audit_that_skipped_packages_is_incomplete_not_a_pass(deps: ModuleType) -> None:
    report = audit_report(
        {"name": "fastapi", "version": "1.0", "vulns": []},
        {"name": "anyio", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    )
    verdict = deps.judge_audit(report, [])
    assert (verdict.audited, verdict.skipped, verdict.exit_code) == (1, ["anyio"], 2)


def test_an_excepted_advisory_matches_by_id_or_alias_and_passes(deps: ModuleType) -> None:
    accepted, _ = deps.load_exceptions(exception_entry(), ["fastapi"], TODAY)
    report = audit_report(vulnerable("FastAPI", "PYSEC-2026-17", ["GHSA-2c2j-9gv5-cj73"]))
    verdict = deps.judge_audit(report, accepted)
    assert verdict.excepted == ["fastapi 1.0: PYSEC-2026-17"]
    assert (verdict.open_advisories, verdict.exit_code) == ([], 0)


def test_an_advisory_without_a_current_exception_is_open(deps: ModuleType) -> None:
    overdue, problems = deps.load_exceptions(
        exception_entry(review_by="2026-11-30"), ["fastapi"], TODAY
    )
    assert overdue == []
    assert problems
    report = audit_report(
        vulnerable("fastapi", "GHSA-2c2j-9gv5-cj73", []),
        vulnerable("httpx", "CVE-2026-12345", []),
    )
    verdict = deps.judge_audit(report, overdue)
    assert verdict.open_advisories == [
        "fastapi 1.0: GHSA-2c2j-9gv5-cj73 (fixed in: 9.9.9)",
        "httpx 1.0: CVE-2026-12345 (fixed in: 9.9.9)",
    ]
    assert verdict.exit_code == 1


def test_the_committed_locks_are_complete_current_and_hashed(deps: ModuleType) -> None:
    assert deps.check(ROOT, installed=False, today=TODAY) == []


def copy_inputs(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "requirements"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def test_a_requirement_added_without_relocking_fails_the_check(
    deps: ModuleType, tmp_path: Path
) -> None:
    root = copy_inputs(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace('    "typer>=0.12",\n', '    "typer>=0.12",\n    "jinja2>=3.1",\n'),
        encoding="utf-8",
    )
    problems = deps.check(root, installed=False, today=TODAY)
    assert "requirements/runtime.lock: jinja2 is required but not locked" in problems
    assert (
        "requirements/dev.lock: generated from other requirements; run scripts/lock.sh" in problems
    )


def test_an_overdue_exception_in_the_committed_file_fails_the_check(
    deps: ModuleType, tmp_path: Path
) -> None:
    root = copy_inputs(tmp_path)
    exceptions = root / "requirements" / "audit-exceptions.toml"
    exceptions.write_text(exception_entry(review_by="2026-12-01"), encoding="utf-8")
    problems = deps.check(root, installed=False, today=TODAY)
    assert problems == [
        "requirements/audit-exceptions.toml: exception 1: fastapi GHSA-2c2j-9gv5-cj73 "
        "was due for review on 2026-12-01"
    ]
