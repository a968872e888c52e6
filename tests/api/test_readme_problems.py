"""The README's problem-type table lists exactly the problem types the API answers with."""

from __future__ import annotations

import re
from pathlib import Path

import api._problems as problems

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| (\d{3}) \| (.+) \|$")


def registered() -> dict[str, int]:
    types = [v for v in vars(problems).values() if isinstance(v, problems.ProblemType)]
    found = {t.code: t.status for t in types}
    found.update({code: status for code, (status, _, _) in problems._COMMAND_PROBLEMS.items()})
    return found


def documented() -> dict[str, int]:
    rows = [ROW.match(line) for line in README.read_text().splitlines()]
    return {m.group(1): int(m.group(2)) for m in rows if m}


def test_every_problem_type_is_documented_with_its_status() -> None:
    assert documented() == registered()


def test_codes_are_unique_across_the_registry() -> None:
    types = [v for v in vars(problems).values() if isinstance(v, problems.ProblemType)]
    codes = [t.code for t in types] + list(problems._COMMAND_PROBLEMS)
    assert len(codes) == len(set(codes))


def test_a_command_code_maps_to_its_documented_type() -> None:
    for code, status in documented().items():
        if code in problems._COMMAND_PROBLEMS:
            assert problems.command_problem(code).status == status
