"""Throwaway PostgreSQL clusters for tests that need a server of their own: TLS, pg_hba.conf
rules, password methods, restarts.

Each cluster lives in a fresh temporary folder (data directory, Unix socket, log, certificates),
listens on a free TCP port on 127.0.0.1 and on whatever ``localhost`` resolves to, and runs as
the ``postgres`` OS user when we are root (PostgreSQL refuses to run as root). The superuser
``postgres`` always connects through the Unix socket without a password (the first
pg_hba.conf line); every other rule comes from the test. Durability is off: the data is thrown
away anyway.

Usage, one cluster per test module::

    from clusters import Cluster

    @pytest.fixture(scope="module")
    def cluster():
        with Cluster(tls=True, hba=["hostssl all alice all scram-sha-256"]) as c:
            c.create_role("alice", "secret")
            yield c

    def test_alice(cluster):
        db = data_bridge.connect(cluster.dsn("alice", "secret", sslmode="require"))

With ``tls=True`` the cluster gets its own CA (``ca_cert``), a server certificate signed by it
whose only subject alternative name is ``DNS:localhost`` (so verify-full succeeds for host
``localhost`` and fails for ``127.0.0.1``), and ``client_cert(cn)`` issues client certificates
for the ``cert`` method. ``make_ca`` makes further, unrelated CAs. Certificates come from the
``openssl`` command-line tool.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql

SERVER_OS_USER = "postgres"
START_ATTEMPTS = 3
START_TIMEOUT_S = 60
CERT_DAYS = 2
_AS_ROOT = os.geteuid() == 0


class Cluster:
    """A temporary PostgreSQL server; ``start()`` creates it, ``close()`` stops and deletes it.

    ``hba``: pg_hba.conf lines after the superuser's socket line (default: trust every TCP
    connection); write ``all`` or ``samehost`` as the address. ``settings``: extra
    postgresql.conf lines. ``tls``: enable SSL with a fresh CA and server certificate.
    """

    def __init__(
        self,
        *,
        tls: bool = False,
        hba: list[str] | None = None,
        settings: dict[str, str | int | float] | None = None,
        bindir: Path | str | None = None,
    ) -> None:
        self.tls = tls
        self.bindir = Path(bindir) if bindir else find_pg_bindir()
        self._hba = list(hba) if hba is not None else ["host all all all trust"]
        self._settings = dict(settings or {})
        self.workdir: Path | None = None
        self._port: int | None = None
        self._client_certs: dict[str, tuple[Path, Path]] = {}
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Cluster":
        """Creates the cluster on first use, then starts the server and waits until it accepts
        connections."""
        if self.workdir is None:
            self._create()
        if self.running:
            return self
        for attempt in range(START_ATTEMPTS):
            try:
                self._pg_ctl("start", "-l", str(self.log_path), "-w", "-t", str(START_TIMEOUT_S))
                return self
            except RuntimeError as exc:
                if attempt == START_ATTEMPTS - 1 or "already in use" not in self.log_text():
                    raise RuntimeError(f"{exc}\nserver log:\n{self.log_text()}") from None
                self._port = free_port()  # someone took the port meanwhile
                self._write_settings()
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stops the server (``mode``: smart, fast or immediate); no-op when it is not running."""
        if self.running:
            _stop_server(self.bindir, self.datadir, mode)

    def restart(self, mode: str = "fast") -> None:
        """Stops and starts the server on the same port; existing connections are cut."""
        self._pg_ctl("restart", "-m", mode, "-l", str(self.log_path), "-w", "-t", str(START_TIMEOUT_S))

    def reload(self) -> None:
        """Makes the server re-read postgresql.conf and pg_hba.conf (applies to new connections)."""
        self.sql("SELECT pg_reload_conf()")

    def close(self) -> None:
        """Stops the server and deletes its folder. Idempotent."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> "Cluster":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self.workdir is not None and (self.datadir / "postmaster.pid").exists()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        assert self._port is not None, "start() the cluster first"
        return self._port

    @property
    def datadir(self) -> Path:
        assert self.workdir is not None, "start() the cluster first"
        return self.workdir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.workdir is not None, "start() the cluster first"
        return self.workdir

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "start() the cluster first"
        return self.workdir / "server.log"

    def dsn(
        self,
        user: str = "postgres",
        password: str | None = None,
        *,
        host: str = "127.0.0.1",
        dbname: str = "postgres",
        **params: str | os.PathLike,
    ) -> str:
        """A libpq URL, e.g. ``dsn("alice", "pw", host="localhost", sslmode="verify-full",
        sslrootcert=cluster.ca_cert)``; extra keywords become query parameters."""
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        url = f"postgresql://{auth}@{host}:{self.port}/{quote(dbname, safe='')}"
        if params:
            url += "?" + urlencode({k: os.fspath(v) for k, v in params.items()}, safe="/")
        return url

    def conninfo(
        self,
        user: str = "postgres",
        password: str | None = None,
        *,
        host: str = "127.0.0.1",
        dbname: str = "postgres",
        **params: str | os.PathLike,
    ) -> str:
        """The same as ``dsn`` in libpq's ``key=value`` form."""
        pairs = {"host": host, "port": str(self.port), "user": user, "dbname": dbname}
        if password is not None:
            pairs["password"] = password
        pairs.update({k: os.fspath(v) for k, v in params.items()})
        return " ".join(f"{k}={_conninfo_value(v)}" for k, v in pairs.items())

    # ------------------------------------------------------------------ administration

    def connect_admin(self) -> psycopg.Connection:
        """A psycopg connection as the superuser through the Unix socket (autocommit)."""
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def sql(self, statement: str | sql.Composed, params: Sequence[Any] | None = None) -> list[tuple]:
        """Runs one statement as the superuser; returns its rows ([] when it has none)."""
        with self.connect_admin() as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def create_role(self, name: str, password: str | None = None, *, encryption: str = "scram-sha-256") -> None:
        """``CREATE ROLE name LOGIN [PASSWORD ...]``, the password hashed with ``encryption``
        (``scram-sha-256`` or ``md5``)."""
        with self.connect_admin() as conn:
            conn.execute(sql.SQL("SET password_encryption = {}").format(sql.Literal(encryption)))
            if password is None:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
            else:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password))
                )

    def set_hba(self, lines: list[str]) -> None:
        """Replaces the test's pg_hba.conf rules and reloads them."""
        self._hba = list(lines)
        self._write_hba()
        if self.running:
            self.reload()

    def backend_pids(self, application_name: str) -> list[int]:
        """Pids of the client backends with this application_name, sorted."""
        rows = self.sql(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND backend_type = 'client backend'"
            " ORDER BY pid",
            (application_name,),
        )
        return [pid for (pid,) in rows]

    def log_text(self) -> str:
        """The server log so far (log_connections is on)."""
        return self.log_path.read_text(errors="replace") if self.workdir and self.log_path.exists() else ""

    # ------------------------------------------------------------------ TLS

    @property
    def ca_cert(self) -> Path:
        """The CA that signed the server certificate and every ``client_cert``."""
        return self._tls_dir() / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self._tls_dir() / "server.crt"

    def client_cert(self, cn: str) -> tuple[Path, Path]:
        """(certificate, key) of a client certificate with common name ``cn``, signed by
        ``ca_cert``; issued on first use."""
        if cn not in self._client_certs:
            stem = "client-" + re.sub(r"[^A-Za-z0-9_.-]", "_", cn) + f"-{len(self._client_certs)}"
            self._client_certs[cn] = issue_cert(
                self._ca_pair(), self._tls_dir() / "client", stem, cn, usage="clientAuth"
            )
        return self._client_certs[cn]

    def _tls_dir(self) -> Path:
        assert self.tls, "this cluster was created without tls=True"
        assert self.workdir is not None, "start() the cluster first"
        return self.workdir / "tls"

    def _ca_pair(self) -> tuple[Path, Path]:
        return self._tls_dir() / "ca.crt", self._tls_dir() / "ca" / "ca.key"

    # ------------------------------------------------------------------ internals

    def _create(self) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="dbt-cluster-"))
        self.workdir = workdir
        self._finalizer = weakref.finalize(self, _destroy, self.bindir, workdir)
        _chown_to_server_user(workdir)
        _run_as_server_user(
            [str(self.bindir / "initdb"), "-D", str(self.datadir), "--auth=trust", "--encoding=UTF8",
             "--locale=C", "--username=postgres", "--no-sync", "--no-instructions"],
            cwd=workdir,
        )
        if self.tls:
            self._make_tls_files()
        self._port = free_port()
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\ninclude = 'clusters.conf'\n")
        self._write_settings()
        self._write_hba()

    def _make_tls_files(self) -> None:
        tls = self._tls_dir()
        (tls / "ca").mkdir(parents=True)
        ca = make_ca(tls / "ca", "data-bridge test CA")
        shutil.copyfile(ca[0], tls / "ca.crt")
        issue_cert(ca, tls, "server", "localhost", usage="serverAuth", san="DNS:localhost")
        # The server reads these as the postgres OS user, and insists on a private key file.
        for name in ("ca.crt", "server.crt", "server.key"):
            _chown_to_server_user(tls / name)
        _chown_to_server_user(tls)

    def _write_settings(self) -> None:
        listen = ",".join(_loopback_addresses())
        lines = {
            "listen_addresses": f"'{listen}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_connections": "on",
            "log_disconnections": "on",
            "log_line_prefix": "'%m [%p] %u@%d %a: '",
        }
        if self.tls:
            tls = self._tls_dir()
            lines.update(
                ssl="on",
                ssl_cert_file=f"'{tls / 'server.crt'}'",
                ssl_key_file=f"'{tls / 'server.key'}'",
                ssl_ca_file=f"'{tls / 'ca.crt'}'",
            )
        for key, value in self._settings.items():
            lines[key] = str(value) if isinstance(value, (int, float)) else f"'{value}'"
        path = self.datadir / "clusters.conf"
        path.write_text("".join(f"{k} = {v}\n" for k, v in lines.items()), encoding="utf-8")
        _chown_to_server_user(path)

    def _write_hba(self) -> None:
        path = self.datadir / "pg_hba.conf"
        path.write_text("# clusters.py\nlocal all postgres trust\n" + "".join(f"{l}\n" for l in self._hba))
        _chown_to_server_user(path)

    def _pg_ctl(self, action: str, *args: str) -> None:
        _run_as_server_user([str(self.bindir / "pg_ctl"), action, "-D", str(self.datadir), *args], cwd=self.workdir)


# ---------------------------------------------------------------------- certificates


def make_ca(directory: Path | str, name: str) -> tuple[Path, Path]:
    """A self-signed CA (P-256) in ``directory``: returns (ca.crt, ca.key)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "ca.crt", directory / "ca.key"
    _openssl(
        "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", str(CERT_DAYS), "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )
    return cert, key


def issue_cert(
    ca: tuple[Path, Path], directory: Path | str, stem: str, cn: str, *, usage: str, san: str | None = None
) -> tuple[Path, Path]:
    """A P-256 end-entity certificate for ``cn`` signed by ``ca`` = (cert, key); ``usage`` is
    the extended key usage (serverAuth or clientAuth), ``san`` e.g. ``DNS:localhost``.
    Returns (stem.crt, stem.key); the key file is private (0600)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, csr, ext = (directory / f"{stem}{suffix}" for suffix in (".crt", ".key", ".csr", ".ext"))
    extensions = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        f"extendedKeyUsage={usage}",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
    ]
    if san:
        extensions.append(f"subjectAltName={san}")
    ext.write_text("\n".join(extensions) + "\n")
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}",
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-set_serial", str(secrets.randbits(63)), "-days", str(CERT_DAYS), "-extfile", str(ext),
        "-out", str(cert),
    )
    key.chmod(0o600)
    csr.unlink()
    ext.unlink()
    return cert, key


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise FileNotFoundError("the openssl command-line tool is needed to make test certificates")
    result = subprocess.run([openssl, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {shlex.join(args)} failed:\n{result.stdout}{result.stderr}")


# ---------------------------------------------------------------------- helpers


def find_pg_bindir() -> Path:
    """``$PG_BINDIR``, else the folder of ``initdb`` on PATH, else the newest
    ``/usr/lib/postgresql/<version>/bin``."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()]
    if not candidates:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    return max(candidates, key=lambda p: tuple(int(n) for n in re.findall(r"\d+", p.parent.name)))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loopback_addresses() -> list[str]:
    """127.0.0.1 and every address ``localhost`` resolves to."""
    addresses = ["127.0.0.1"]
    with contextlib.suppress(OSError):
        for *_, sockaddr in socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM):
            if sockaddr[0] not in addresses:
                addresses.append(str(sockaddr[0]))
    return addresses


def _conninfo_value(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _chown_to_server_user(path: Path) -> None:
    if _AS_ROOT:
        user = pwd.getpwnam(SERVER_OS_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def _run_as_server_user(cmd: list[str], cwd: Path | None) -> subprocess.CompletedProcess:
    """Runs ``cmd`` (as ``postgres`` when we are root); raises with its output on failure."""
    if _AS_ROOT:
        cmd = ["runuser", "-u", SERVER_OS_USER, "--", *cmd] if shutil.which("runuser") else [
            "su", SERVER_OS_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]
    result = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"command failed ({result.returncode}): {shlex.join(cmd)}\n{result.stdout}{result.stderr}")
    return result


def _stop_server(bindir: Path, datadir: Path, mode: str) -> None:
    pg_ctl = str(bindir / "pg_ctl")
    try:
        _run_as_server_user([pg_ctl, "stop", "-D", str(datadir), "-m", mode, "-w"], cwd=datadir.parent)
    except RuntimeError:
        if not (datadir / "postmaster.pid").exists():
            return
        _run_as_server_user([pg_ctl, "stop", "-D", str(datadir), "-m", "immediate", "-w"], cwd=datadir.parent)


def _destroy(bindir: Path, workdir: Path) -> None:
    """Stops the server if it runs and deletes the folder (also at interpreter exit)."""
    try:
        datadir = workdir / "data"
        if (datadir / "postmaster.pid").exists():
            _stop_server(bindir, datadir, "fast")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
