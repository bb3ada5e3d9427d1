#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, golden, property and integration tests against a
# real PostgreSQL), the Python suite, and the notebooks. Fails when any of them fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/ensure_postgres.sh
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}

echo "== rustfmt and clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
cargo run -q --locked -p data-bridge-postgres --example quickstart
echo "== type stubs and annotations"
.venv/bin/python -m mypy.stubtest --mypy-config-file mypy.ini data_bridge._native
.venv/bin/python -m mypy py/python/data_bridge
echo "== pytest"
.venv/bin/python -m pytest
echo "== notebooks"
.venv/bin/python scripts/run_notebooks.py notebooks/*.ipynb
