#!/usr/bin/env bash
# Regenerates the hashed locks from pyproject.toml and requirements/build.in with uv (a dev
# dependency). Pins that still satisfy the requirements are kept; pass --upgrade to move every
# package to its newest admitted release, or --upgrade-package NAME for one.
# Afterwards: bash scripts/install.sh dev, then scripts/check.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/uv ]; then UV=.venv/bin/uv; else UV=uv; fi
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
inputs=$("$PY" scripts/deps.py inputs-hash)
compile() {  # compile OUTPUT [uv options...]
    local out=$1; shift
    "$UV" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
        --custom-compile-command "bash scripts/lock.sh" \
        pyproject.toml requirements/build.in -o "$out" "$@"
    sed -i "1i # inputs-sha256: $inputs" "$out"
    sed -i '2,${/^# inputs-sha256: /d}' "$out"
}
compile requirements/runtime.lock "$@"
compile requirements/dev.lock --extra dev "$@"
echo "locked: requirements/runtime.lock requirements/dev.lock"
