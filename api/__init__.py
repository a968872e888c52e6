"""The HTTP API, its composition root and the command line.

Public modules: ``api.app`` (``create_app``), ``api.settings`` (``Settings``), ``api.bootstrap``
(the composition root), ``api.cli`` (the production commands). What other packages (the
demo) need besides those is exported here.
"""

from api._cli_support import Command
from api._tokens import create_local_signing_key, issue_token

__all__ = ["Command", "create_local_signing_key", "issue_token"]
