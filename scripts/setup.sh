#!/usr/bin/env bash
# Prepares a fresh machine (idempotent): a virtualenv in .venv with the Python packages the
# tests, notebooks and demo use, and data-bridge itself built from source (release) into it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The TLS tests make their certificates with the openssl command.
if ! command -v openssl >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

venv=${VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# Builds the Rust extension with maturin (PEP 517) and installs the package.
"$venv/bin/python" -m pip install -q --disable-pip-version-check ./py
