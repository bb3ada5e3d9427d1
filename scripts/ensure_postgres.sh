#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster when DATABASE_URL is unset and nothing answers on
# 127.0.0.1:5432.
set -euo pipefail
if [ -z "${DATABASE_URL:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done
    echo "PostgreSQL did not start" >&2
    exit 1
fi
