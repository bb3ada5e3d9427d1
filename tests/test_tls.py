"""TLS modes, certificate checks and password methods, against throwaway clusters whose
pg_hba.conf makes each role reachable in exactly one way.

The TLS cluster's server certificate names only ``DNS:localhost``: verify-full must accept host
``localhost`` and refuse ``127.0.0.1``, while verify-ca accepts both. Every successful connection
runs a query that reports, from the server's side, who we are and whether the session is
encrypted.
"""

from __future__ import annotations

import re
import time

import pytest

import data_bridge
from clusters import Cluster, issue_cert, make_ca

TLS_PASSWORD = "tls-secret-1"
SCRAM_PASSWORD = "scram-secret-2"
MD5_PASSWORD = "md5-secret-3"

HBA = [
    "hostssl all tls_user all scram-sha-256",
    "hostnossl all tls_user all reject",
    "hostssl all cert_user all cert clientcert=verify-full",
    "host all scram_user all scram-sha-256",
    "host all md5_user all md5",
]

# Failures must come back quickly, never hang the suite on a retry loop.
FAST = {"connect_timeout": 5.0, "acquire_timeout": 10.0}


@pytest.fixture(scope="module")
def cluster():
    with Cluster(tls=True, hba=HBA) as c:
        c.create_role("tls_user", TLS_PASSWORD)
        c.create_role("cert_user")
        c.create_role("other_user")
        c.create_role("scram_user", SCRAM_PASSWORD, encryption="scram-sha-256")
        c.create_role("md5_user", MD5_PASSWORD, encryption="md5")
        yield c


@pytest.fixture(scope="module")
def plain_cluster():
    """A server without TLS at all."""
    with Cluster(hba=["host all all all trust"]) as c:
        yield c


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """A CA unrelated to the cluster's, with a client certificate for cert_user."""
    directory = tmp_path_factory.mktemp("other-ca")
    ca = make_ca(directory, "unrelated CA")
    client = issue_cert(ca, directory, "cert_user", "cert_user", usage="clientAuth")
    return ca[0], client


def session(url: str, **kwargs) -> dict:
    """Connects, runs a query through read_arrow and returns the server's view of the session:
    {"who": current_user, "ssl": encrypted?}."""
    with data_bridge.connect(url, **{**FAST, **kwargs}) as db:
        table = db.read_arrow(
            "SELECT current_user::text AS who, s.ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
        )
    return table.to_pylist()[0]


def refused(url: str, **kwargs) -> data_bridge.OperationalError:
    """Connecting and querying must fail with OperationalError; returns it."""
    with pytest.raises(data_bridge.OperationalError) as info:
        session(url, **kwargs)
    return info.value


# ---------------------------------------------------------------------- sslmode


@pytest.mark.parametrize("form", ["url", "str", "dict"])
def test_disable_is_refused_for_a_tls_only_role(cluster, form):
    """pg_hba.conf rejects tls_user without encryption: disable must really not encrypt."""
    url, kwargs = with_mode(cluster.dsn("tls_user", TLS_PASSWORD), form, {"mode": "disable"})
    error = refused(url, **kwargs)
    assert error.sqlstate == "28000", error  # invalid_authorization_specification


@pytest.mark.parametrize("form", ["url", "str", "dict"])
def test_disable_gives_an_unencrypted_session(cluster, form):
    """The server offers TLS, but disable must not use it."""
    url, kwargs = with_mode(cluster.dsn("scram_user", SCRAM_PASSWORD), form, {"mode": "disable"})
    assert session(url, **kwargs) == {"who": "scram_user", "ssl": False}


@pytest.mark.parametrize("form", ["url", "str", "dict"])
def test_require_encrypts_without_a_root_cert(cluster, form):
    """require does not check the certificate, so no CA is needed (and 127.0.0.1 is fine)."""
    url, kwargs = with_mode(cluster.dsn("tls_user", TLS_PASSWORD), form, {"mode": "require"})
    assert session(url, **kwargs) == {"who": "tls_user", "ssl": True}


def test_default_mode_prefers_tls(cluster):
    """Without sslmode or ssl=, a server offering TLS is used encrypted (libpq's prefer)."""
    assert session(cluster.dsn("tls_user", TLS_PASSWORD)) == {"who": "tls_user", "ssl": True}


@pytest.mark.parametrize("form", ["url", "dict"])
def test_verify_ca_accepts_an_ip_address(cluster, form):
    """verify-ca checks the chain only, not the host name: 127.0.0.1 is not in the certificate."""
    url, kwargs = with_mode(
        cluster.dsn("tls_user", TLS_PASSWORD, host="127.0.0.1"), form,
        {"mode": "verify-ca", "root_cert": cluster.ca_cert},
    )
    assert session(url, **kwargs) == {"who": "tls_user", "ssl": True}


@pytest.mark.parametrize("form", ["url", "dict", "conninfo"])
def test_verify_full_accepts_the_certified_host_name(cluster, form):
    """The certificate's SAN is DNS:localhost."""
    if form == "conninfo":
        url = cluster.conninfo(
            "tls_user", TLS_PASSWORD, host="localhost", sslmode="verify-full", sslrootcert=cluster.ca_cert
        )
        kwargs: dict = {}
    else:
        url, kwargs = with_mode(
            cluster.dsn("tls_user", TLS_PASSWORD, host="localhost"), form,
            {"mode": "verify-full", "root_cert": cluster.ca_cert},
        )
    assert session(url, **kwargs) == {"who": "tls_user", "ssl": True}


@pytest.mark.parametrize("form", ["url", "dict"])
def test_verify_full_refuses_a_host_name_not_in_the_certificate(cluster, form):
    """Host 127.0.0.1 is not in the certificate (DNS:localhost only), although the chain is good."""
    url, kwargs = with_mode(
        cluster.dsn("tls_user", TLS_PASSWORD, host="127.0.0.1"), form,
        {"mode": "verify-full", "root_cert": cluster.ca_cert},
    )
    assert "certificate" in str(refused(url, **kwargs)).lower()


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
@pytest.mark.parametrize("form", ["url", "dict"])
def test_verification_refuses_an_unrelated_ca(cluster, other_ca, mode, form):
    """A server certificate not signed by root_cert fails both verifying modes."""
    url, kwargs = with_mode(
        cluster.dsn("tls_user", TLS_PASSWORD, host="localhost"), form,
        {"mode": mode, "root_cert": other_ca[0]},
    )
    assert "certificate" in str(refused(url, **kwargs)).lower()


def test_ssl_argument_overrides_the_url(cluster):
    """ssl= wins over the URL's sslmode: disable in the URL would be rejected for tls_user."""
    url = cluster.dsn("tls_user", TLS_PASSWORD, sslmode="disable")
    assert session(url, ssl="require") == {"who": "tls_user", "ssl": True}
    assert session(url, ssl={"mode": "verify-ca", "root_cert": str(cluster.ca_cert)}) == {
        "who": "tls_user", "ssl": True}


def test_prefer_falls_back_to_plain_on_a_server_without_tls(plain_cluster):
    """prefer (explicit or default) connects unencrypted when the server has no TLS."""
    assert session(plain_cluster.dsn(sslmode="prefer")) == {"who": "postgres", "ssl": False}
    assert session(plain_cluster.dsn()) == {"who": "postgres", "ssl": False}
    assert session(plain_cluster.dsn(), ssl="prefer") == {"who": "postgres", "ssl": False}


@pytest.mark.parametrize("form", ["url", "str", "dict"])
def test_require_fails_on_a_server_without_tls(plain_cluster, form):
    """require must never fall back to plain text."""
    url, kwargs = with_mode(plain_cluster.dsn(), form, {"mode": "require"})
    assert re.search("ssl|tls", str(refused(url, **kwargs)), re.IGNORECASE)


# ---------------------------------------------------------------------- client certificates


@pytest.mark.parametrize("form", ["url", "dict"])
def test_client_certificate_authenticates(cluster, form):
    """The cert method: the client certificate's CN is the role; no password anywhere."""
    cert, key = cluster.client_cert("cert_user")
    url, kwargs = with_mode(
        cluster.dsn("cert_user", host="localhost"), form,
        {"mode": "verify-full", "root_cert": cluster.ca_cert, "cert": cert, "key": key},
    )
    logged = 'identity="CN=cert_user" method=cert'
    before = cluster.log_text().count(logged)
    assert session(url, **kwargs) == {"who": "cert_user", "ssl": True}
    assert cluster.log_text().count(logged) > before


def test_client_certificate_with_verify_ca_on_an_ip_address(cluster):
    """sslcert/sslkey in the URL, combined with verify-ca on 127.0.0.1."""
    cert, key = cluster.client_cert("cert_user")
    url = cluster.dsn(
        "cert_user", host="127.0.0.1", sslmode="verify-ca", sslrootcert=cluster.ca_cert, sslcert=cert, sslkey=key
    )
    assert session(url) == {"who": "cert_user", "ssl": True}


@pytest.mark.parametrize("mode", ["require", "verify-full"])
def test_cert_method_without_a_client_certificate_is_refused(cluster, mode):
    """The server demands a certificate that we do not present."""
    url = cluster.dsn("cert_user", host="localhost")
    error = refused(url, ssl={"mode": mode, "root_cert": str(cluster.ca_cert)})
    assert error.sqlstate == "28000", error


def test_client_certificate_of_another_role_is_refused(cluster):
    """A valid certificate whose CN is not the requested role."""
    cert, key = cluster.client_cert("other_user")
    url = cluster.dsn("cert_user", host="localhost")
    error = refused(url, ssl={"mode": "verify-full", "root_cert": str(cluster.ca_cert), "cert": str(cert),
                              "key": str(key)})
    assert error.sqlstate == "28000", error


def test_client_certificate_from_an_unrelated_ca_is_refused(cluster, other_ca):
    """The server checks client certificates against its ssl_ca_file."""
    _, (cert, key) = other_ca
    url = cluster.dsn("cert_user", host="localhost")
    refused(url, ssl={"mode": "verify-full", "root_cert": str(cluster.ca_cert), "cert": str(cert), "key": str(key)})


# ---------------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    ("user", "password", "method"),
    [("scram_user", SCRAM_PASSWORD, "scram-sha-256"), ("md5_user", MD5_PASSWORD, "md5")],
)
@pytest.mark.parametrize("mode", ["disable", "require"])
def test_password_methods(cluster, user, password, method, mode):
    """SCRAM and md5 (the role's stored hash is md5, so the server really uses md5), with and
    without TLS; the server log names the method used."""
    logged = f'identity="{user}" method={method}'
    before = cluster.log_text().count(logged)
    assert session(cluster.dsn(user, password, sslmode=mode)) == {"who": user, "ssl": mode == "require"}
    assert cluster.log_text().count(logged) > before


def test_stored_password_hashes(cluster):
    """Guards the md5 test: a SCRAM verifier would make the server upgrade md5 to SCRAM."""
    rows = cluster.sql(
        "SELECT rolname, split_part(rolpassword, '$', 1) FROM pg_authid"
        " WHERE rolname IN ('scram_user', 'md5_user', 'tls_user') ORDER BY rolname"
    )
    assert [(name, prefix[:13] if prefix.startswith("SCRAM") else prefix[:3]) for name, prefix in rows] == [
        ("md5_user", "md5"), ("scram_user", "SCRAM-SHA-256"), ("tls_user", "SCRAM-SHA-256")]


def test_password_from_pgpassword(cluster, monkeypatch):
    """A URL without a password takes PGPASSWORD."""
    monkeypatch.setenv("PGPASSWORD", SCRAM_PASSWORD)
    assert session(cluster.dsn("scram_user")) == {"who": "scram_user", "ssl": True}


@pytest.mark.parametrize(("user", "mode"), [("scram_user", "disable"), ("md5_user", "disable"),
                                            ("tls_user", "require")])
def test_wrong_password(cluster, user, mode):
    """invalid_password, as the server reports it."""
    error = refused(cluster.dsn(user, "not-the-password", sslmode=mode))
    assert error.sqlstate == "28P01", error


def test_missing_password(cluster, monkeypatch):
    """The server asks for a password that we do not have: a clean error, no hang."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    refused(cluster.dsn("scram_user"))


# ---------------------------------------------------------------------- helpers


def with_mode(url: str, form: str, ssl: dict) -> tuple[str, dict]:
    """The TLS settings ``ssl`` (spec dict form: mode, root_cert, cert, key) expressed as URL
    parameters ("url"), as ssl="<mode>" ("str", mode only) or as the ssl= dict ("dict")."""
    if form == "url":
        names = {"mode": "sslmode", "root_cert": "sslrootcert", "cert": "sslcert", "key": "sslkey"}
        query = "&".join(f"{names[k]}={v}" for k, v in ssl.items())
        return f"{url}{'&' if '?' in url else '?'}{query}", {}
    if form == "str":
        assert set(ssl) == {"mode"}
        return url, {"ssl": ssl["mode"]}
    return url, {"ssl": {k: str(v) for k, v in ssl.items()}}


# ---------------------------------------------------------------------- cancel


@pytest.mark.parametrize("mode", ["require", "prefer"])
def test_closing_a_reader_early_cancels_its_query_over_tls(cluster, mode):
    """The cancel request goes over TLS as the connection did (under sslmode=require a plain
    one is refused on our side). Without it the connection is only dropped after 5 s of
    waiting for the query to end, and the backend stops when it next writes."""
    marker = f"tls_cancel_{mode}"
    url = cluster.dsn("tls_user", TLS_PASSWORD, sslmode=mode)
    with data_bridge.connect(url, **FAST) as db:
        # 400M rows: minutes unless cancelled.
        sql = f"SELECT a.i, b.j FROM generate_series(1, 20000) a(i), generate_series(1, 20000) b(j) /* {marker} */"
        reader = db.read_batches(sql, batch_rows=1000)
        assert reader.read_next_batch().num_rows == 1000
        closed = time.monotonic()
        reader.close()
        active = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND position(%s in query) > 0"
        while cluster.sql(active, [marker])[0][0]:
            assert time.monotonic() - closed < 3.0, "query still running on the server after close()"
            time.sleep(0.05)
        assert db.read_arrow("SELECT 1 AS one").to_pylist() == [{"one": 1}]
