#!/usr/bin/env bash
# Creates ./.venv and installs exactly the hashed lock into it: `runtime` (the server and the
# demo, requirements/runtime.lock) or `dev` (also tests, linters, fuzzing; requirements/dev.lock).
# pip refuses any file whose hash is not in the lock; the project itself is installed without
# resolving anything further (its build backend, setuptools, is in the lock too).
set -euo pipefail
cd "$(dirname "$0")/.."
set_name=${1:-dev}
case "$set_name" in
    runtime|dev) ;;
    *) echo "usage: scripts/install.sh [runtime|dev]" >&2; exit 2 ;;
esac
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --require-hashes -r "requirements/$set_name.lock"
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
