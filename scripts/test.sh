#!/usr/bin/env bash
# Installs everything into ./.venv and runs the full check (lint, types, contracts, all
# tests including the PostgreSQL integration tests). Starts the local PostgreSQL if it is down.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
bash scripts/ensure-postgres.sh
bash scripts/ensure-softhsm.sh
exec bash scripts/check "$@"
