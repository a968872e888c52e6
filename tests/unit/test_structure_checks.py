"""scripts/check_structure.py finds what it is there to find, and nothing else."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_structure.py"


@pytest.fixture(scope="module")
def checks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_structure", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def messages(checks: ModuleType, root: Path) -> list[str]:
    return sorted(str(finding) for finding in checks.findings(root))


def test_a_clean_tree_has_no_findings(checks: ModuleType, tmp_path: Path) -> None:
    write(tmp_path, "ledger/__init__.py", "from ledger._keys import KeyManager\n")
    write(tmp_path, "ledger/_keys.py", "from ledger import _sealing\nclass KeyManager: ...\n")
    write(tmp_path, "projections/_views.py", "from ledger import KeyManager\n")
    write(tmp_path, "docs/a.md", "See [the domain](domain.md) and [site](https://x.example/a).\n")
    assert messages(checks, tmp_path) == []


def test_a_module_of_450_lines_is_too_long(checks: ModuleType, tmp_path: Path) -> None:
    write(tmp_path, "policies/_long.py", "x = 1\n" * 450)
    write(tmp_path, "policies/_fits.py", "x = 1\n" * 449)
    assert messages(checks, tmp_path) == [
        "policies/_long.py:450: 450 lines; a module stays under 450 (split it by responsibility)"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "from ledger._audit import AccessLog",
        "from ledger import _audit",
        "import ledger._audit",
        "from projections._views import ReadService",
    ],
)
def test_another_packages_private_module_is_refused(
    checks: ModuleType, tmp_path: Path, line: str
) -> None:
    write(tmp_path, "api/routes/cases.py", f"def f():\n    {line}\n")
    found = messages(checks, tmp_path)
    assert len(found) == 1
    assert found[0].startswith("api/routes/cases.py:2: imports ")
    assert "/__init__.py exports" in found[0]


#: Spelled in pieces, so that this file does not itself point outside the repository.
SHARED, DOMAIN = "../" + "shared", "DOMAIN" + ".md"


def test_references_outside_the_repository(checks: ModuleType, tmp_path: Path) -> None:
    write(tmp_path, "README.md", f"Background: {SHARED}/notes.md\n\n[up](../../elsewhere.md)\n")
    write(tmp_path, "policies/_rules.py", f'"""As {DOMAIN} says."""\n')
    assert messages(checks, tmp_path) == [
        f"README.md:1: points outside the repository ({SHARED}); name a file in docs/",
        "README.md:3: links outside the repository (../../elsewhere.md)",
        f"policies/_rules.py:1: points outside the repository ({DOMAIN}); name a file in docs/",
    ]
