#!/usr/bin/env bash
# Installs the hashed dev lock into ./.venv (scripts/install.sh) and runs the full check (lint,
# types, contracts, dependency locks, all tests including the PostgreSQL integration tests).
# Starts the local PostgreSQL if it is down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
bash scripts/ensure-postgres.sh
bash scripts/ensure-softhsm.sh
exec bash scripts/check "$@"
