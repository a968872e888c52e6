#!/usr/bin/env bash
# Installs Caseledger into ./.venv and runs the demo on the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/caseledger init --data-dir caseledger-data
exec .venv/bin/caseledger demo --data-dir caseledger-demo "$@"
