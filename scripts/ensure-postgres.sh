#!/usr/bin/env bash
# Starts the local PostgreSQL cluster if it is not accepting connections (CI machines).
set -euo pipefail
host="${CASELEDGER_TEST_PG_HOST:-127.0.0.1}"
if pg_isready -q -h "$host" -p 5432 2>/dev/null; then
    exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1; then
    version="$(ls /etc/postgresql | head -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
for _ in $(seq 1 30); do
    pg_isready -q -h "$host" -p 5432 2>/dev/null && exit 0
    sleep 1
done
echo "PostgreSQL on $host:5432 is not reachable" >&2
exit 1
