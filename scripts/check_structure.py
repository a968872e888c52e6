"""Structure checks that the linters do not make, run by ``scripts/check``.

1. Module size: every module of the project's packages stays under ``MAX_LINES`` lines, so
   a module keeps one responsibility a reader can hold in mind.
2. Public surfaces: a package imports another package only through what that package's
   ``__init__`` exports, never from its private ``_x`` modules (``from ledger._keys import
   KeyManager`` in ``projections/`` is refused; ``from ledger import KeyManager`` is fine).
   Within one package, private modules import each other freely.
3. The repository stands alone: no file points at documents outside it (the planning notes
   a clone does not have, or a relative link that leaves the repository).

Usage: ``python scripts/check_structure.py [ROOT]``; prints one line per finding and exits 1
if there is any.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: The project's packages, each with its public surface in its ``__init__``.
PACKAGES = ("api", "demo", "projections", "ledger", "policies")
MAX_LINES = 450
#: Documents of the planning workspace that a clone of the repository does not contain.
OUTSIDE_DOCUMENTS = re.compile(r"\.\./shared\b|\b(?:DOMAIN|DESIGN|STYLE|DEVELOPERS)\.md\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)")
TEXT_SUFFIXES = {".md", ".py", ".toml", ".sh", ".cfg", ".ini", ".txt", ".yml", ".yaml"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def package_modules(root: Path) -> Iterator[Path]:
    for package in PACKAGES:
        if (root / package).is_dir():
            yield from sorted((root / package).rglob("*.py"))


def oversized_modules(root: Path, modules: Iterable[Path]) -> Iterator[Finding]:
    for path in modules:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines >= MAX_LINES:
            yield Finding(
                str(path.relative_to(root)),
                lines,
                f"{lines} lines; a module stays under {MAX_LINES} (split it by responsibility)",
            )


def _private_target(imported: str) -> bool:
    """Whether a dotted module path names a private module of one of the packages."""
    parts = imported.split(".")
    return parts[0] in PACKAGES and any(part.startswith("_") for part in parts[1:])


def private_imports(root: Path, modules: Iterable[Path]) -> Iterator[Finding]:
    for path in modules:
        own_package = path.relative_to(root).parts[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
                # ``from ledger import _keys`` reaches a private module too.
                targets += [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                if target.split(".")[0] != own_package and _private_target(target):
                    yield Finding(
                        str(path.relative_to(root)),
                        node.lineno,
                        f"imports {target}: use what {target.split('.')[0]}/__init__.py exports",
                    )
                    break


def tracked_text_files(root: Path) -> list[Path]:
    git = shutil.which("git")
    try:
        if git is None:
            raise OSError("git is not installed")
        listed = subprocess.run(  # noqa: S603 (fixed arguments, git found on PATH)
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout
        names = [name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    return [
        root / name
        for name in names
        if Path(name).suffix in TEXT_SUFFIXES
        and (root / name).is_file()
        and not name.startswith(".venv")
    ]


def outside_references(root: Path, files: Iterable[Path]) -> Iterator[Finding]:
    this_file = Path(__file__).resolve()
    resolved_root = root.resolve()
    for path in files:
        if path.resolve() == this_file:
            continue  # it names what it looks for
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if match := OUTSIDE_DOCUMENTS.search(line):
                yield Finding(
                    str(path.relative_to(root)),
                    number,
                    f"points outside the repository ({match.group(0)}); name a file in docs/",
                )
            if path.suffix != ".md":
                continue
            for target in MARKDOWN_LINK.findall(line):
                if "://" in target or target.startswith("mailto:"):
                    continue
                resolved = (path.parent / target).resolve()
                if not resolved.is_relative_to(resolved_root):
                    yield Finding(
                        str(path.relative_to(root)),
                        number,
                        f"links outside the repository ({target})",
                    )


def findings(root: Path) -> list[Finding]:
    modules = list(package_modules(root))
    return [
        *oversized_modules(root, modules),
        *private_imports(root, modules),
        *outside_references(root, tracked_text_files(root)),
    ]


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found = findings(root)
    for finding in found:
        print(finding)
    if found:
        print(f"{len(found)} structure finding(s)")
        return 1
    print(f"structure: {len(list(package_modules(root)))} modules checked, nothing found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
