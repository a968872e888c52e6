"""The demo: docs/domain.md's scenarios SC1-SC5 played over HTTP against a server it starts.

It sits above ``api`` in the layers (it may import api, projections, ledger and policies;
nothing imports it). ``demo.cli`` is the ``caseledger`` console script: the production
commands of ``api.cli`` plus ``caseledger demo``. All its data is invented.
"""

from __future__ import annotations

from demo._run import run_demo

__all__ = ["run_demo"]
