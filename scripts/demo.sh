#!/usr/bin/env bash
# The main job: builds data-bridge, then reads a 1,000,000-row table into pyarrow, pandas and
# polars and prints rows/s for each. Uses DATABASE_URL when set, else a throwaway PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
