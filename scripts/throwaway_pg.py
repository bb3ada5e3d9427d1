"""A throwaway PostgreSQL server for demos and local experiments.

    from throwaway_pg import throwaway_postgres

    with throwaway_postgres() as url:   # postgresql://postgres@127.0.0.1:<port>/postgres
        ...

The server lives in a fresh temporary folder (data directory, unix socket and
log), listens on a free TCP port on 127.0.0.1 only, trusts every local
connection, and is stopped and deleted when the block exits, including on an
exception, Ctrl-C or SIGTERM. PostgreSQL refuses to run as root, so when the
current user is root the server runs as the ``postgres`` OS user.

Run ``python scripts/throwaway_pg.py`` to start one by hand; Ctrl-C stops it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

SERVER_OS_USER = "postgres"
START_ATTEMPTS = 3
START_TIMEOUT_S = 60


def find_pg_bindir() -> Path:
    """Return the folder holding ``initdb`` and ``pg_ctl``.

    Prefers the ones on PATH; otherwise picks the newest Debian/Ubuntu install
    under ``/usr/lib/postgresql/<version>/bin``.
    """
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    candidates = [p for p in candidates if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    if not candidates:
        raise FileNotFoundError(
            "PostgreSQL server binaries not found: put initdb and pg_ctl on PATH "
            "or install the postgresql package"
        )
    return max(candidates, key=_version_key)


def _version_key(bindir: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``: the numeric version."""
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as_server_user(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run ``cmd`` (as ``postgres`` when we are root) and raise with its output on failure."""
    if os.geteuid() == 0:
        if shutil.which("runuser"):
            cmd = ["runuser", "-u", SERVER_OS_USER, "--", *cmd]
        else:
            cmd = ["su", SERVER_OS_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]
    result = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"command failed ({result.returncode}): {shlex.join(cmd)}\n{result.stdout}{result.stderr}"
        )
    return result


def _make_workdir() -> Path:
    """Create the temporary folder, owned by ``postgres`` when we are root."""
    workdir = Path(tempfile.mkdtemp(prefix="throwaway-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_OS_USER)
        os.chown(workdir, user.pw_uid, user.pw_gid)
    return workdir


def _initdb(bindir: Path, datadir: Path) -> None:
    """Create a cluster in ``datadir``: trust auth, UTF8, locale C, superuser ``postgres``."""
    _run_as_server_user(
        [str(bindir / "initdb"), "-D", str(datadir), "--auth=trust", "--encoding=UTF8",
         "--locale=C", "--username=postgres", "--no-sync"],
        cwd=datadir.parent,
    )


def _configure(datadir: Path) -> None:
    """Listen on 127.0.0.1 only, keep the unix socket next to the data dir, skip durability.

    The port is given at start time; the data is thrown away anyway, hence no fsync.
    """
    settings = (
        "\n# throwaway_pg\nlisten_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{datadir.parent}'\n"
        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
    )
    with open(datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(settings)


def _start_on(bindir: Path, datadir: Path, port: int) -> int:
    """Start the server on ``port`` and wait until it accepts connections; return the port."""
    log = datadir.parent / "server.log"
    try:
        _run_as_server_user(
            [str(bindir / "pg_ctl"), "start", "-D", str(datadir), "-l", str(log),
             "-o", f"-p {port}", "-w", "-t", str(START_TIMEOUT_S)],
            cwd=datadir.parent,
        )
    except RuntimeError as exc:
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"{exc}\nserver log:\n{server_log}") from None
    return port


def _start(bindir: Path, datadir: Path) -> int:
    """Start the server on a free port; return the port.

    Retries with a new port if another process grabbed the chosen one meanwhile.
    """
    for _ in range(START_ATTEMPTS - 1):
        with contextlib.suppress(RuntimeError):
            return _start_on(bindir, datadir, free_port())
    return _start_on(bindir, datadir, free_port())


def _stop(bindir: Path, datadir: Path) -> None:
    """Stop the server if it runs (fast mode, falling back to immediate mode).

    Only call this once ``_start`` has been tried: during initdb, ``postmaster.pid``
    belongs to initdb's single-user backend, which pg_ctl cannot stop.
    """
    if not (datadir / "postmaster.pid").exists():
        return
    pg_ctl = str(bindir / "pg_ctl")
    try:
        _run_as_server_user([pg_ctl, "stop", "-D", str(datadir), "-m", "fast", "-w"], cwd=datadir.parent)
    except RuntimeError:
        _run_as_server_user([pg_ctl, "stop", "-D", str(datadir), "-m", "immediate", "-w"], cwd=datadir.parent)


@contextlib.contextmanager
def _sigterm_raises_systemexit() -> Iterator[None]:
    """While active, SIGTERM raises SystemExit (so ``finally`` blocks run) instead of killing us."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while active, so a second Ctrl-C cannot interrupt cleanup."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def throwaway_postgres(bindir: Path | None = None) -> Iterator[str]:
    """Run a temporary PostgreSQL server; yield its URL (database ``postgres``, user ``postgres``).

    ``bindir`` overrides where ``initdb`` and ``pg_ctl`` are looked up.
    """
    bindir = bindir or find_pg_bindir()
    with _sigterm_raises_systemexit():
        datadir = _make_workdir() / "data"
        starting = False
        try:
            _initdb(bindir, datadir)
            _configure(datadir)
            starting = True
            port = _start(bindir, datadir)
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            with _signals_deferred():
                try:
                    if starting:
                        _stop(bindir, datadir)
                finally:
                    shutil.rmtree(datadir.parent, ignore_errors=True)


def main() -> None:
    """Start a throwaway server, print its URL and keep it up until Ctrl-C."""
    with throwaway_postgres() as url:
        print(url, flush=True)
        print("Ctrl-C stops and deletes it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
