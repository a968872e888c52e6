#!/usr/bin/env bash
# Installs SoftHSM2 (the PKCS#11 token the key-provider tests use) if it is missing.
set -euo pipefail
if [ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq softhsm2 >/dev/null
