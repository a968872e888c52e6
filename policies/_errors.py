"""The error tree of the policy package.

::

    PolicyError (ValueError)          root: misuse of the policy API, inconsistent inputs
     └── CovenantError                an invalid covenant file; one line per problem

Decisions never raise for a *denied* request: a denial is a value (``AccessDecision``). Errors
are for inputs that cannot be decided on at all: an invalid covenant, a case state that
contradicts itself, a write decision asked without the case it is about. Messages carry ids,
field paths and covenant terms only, never personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PolicyError(ValueError):
    """Root of every error raised by ``policies``."""


@dataclass(frozen=True, slots=True)
class CovenantProblem:
    """One thing wrong with a covenant file: where (dotted field path) and what."""

    path: str
    message: str


class CovenantError(PolicyError, ValueError):
    """The covenant file is invalid: names the file, each field path and what is wrong."""

    def __init__(self, source: str, problems: Sequence[CovenantProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p.path}: {p.message}" for p in self.problems))
