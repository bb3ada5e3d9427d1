"""The main job (scripts/demo.py) runs end to end on a throwaway PostgreSQL it starts itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "scripts" / "demo.py"


def test_demo_runs_on_a_throwaway_server() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, str(DEMO), "--rows", "20000"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "starting a throwaway PostgreSQL server" in done.stdout
    for reader in ("read_arrow", "read_pandas", "read_polars", "read_batches"):
        assert reader in done.stdout
    assert "all readers agree with the server" in done.stdout
