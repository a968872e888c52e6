#!/usr/bin/env bash
# Installs Caseledger into ./.venv from the hashed runtime lock and runs the demo on the
# embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh runtime
.venv/bin/caseledger init --data-dir caseledger-data
exec .venv/bin/caseledger demo --data-dir caseledger-demo "$@"
