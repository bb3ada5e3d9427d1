//! TLS for connections, with libpq's `sslmode` semantics, on rustls.
//!
//! | mode | encrypted | server certificate checked |
//! |---|---|---|
//! | disable | no | - |
//! | prefer (default) | when the server offers it | no |
//! | require | yes | no (as verify-ca when a root certificate is given, like libpq) |
//! | verify-ca | yes | chain against the root certificate |
//! | verify-full | yes | chain and host name |

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::BufReader;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Plain connections only.
    Disable,
    /// TLS when the server offers it, unverified.
    #[default]
    Prefer,
    /// TLS, unverified (unless a root certificate is given).
    Require,
    /// TLS, the certificate chain verified against the root certificate.
    VerifyCa,
    /// TLS, the chain and the host name verified.
    VerifyFull,
}

impl std::str::FromStr for SslMode {
    type Err = Error;

    fn from_str(mode: &str) -> Result<Self> {
        Ok(match mode {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::Config(format!(
                    "sslmode {other:?}: use disable, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }
}

/// TLS settings: libpq's `sslmode`, `sslrootcert`, `sslcert` and `sslkey`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// How much TLS to insist on.
    pub mode: SslMode,
    /// PEM file of the certificate authorities to trust.
    pub root_cert: Option<PathBuf>,
    /// PEM file of the client certificate (chain), for certificate authentication.
    pub cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub key: Option<PathBuf>,
}

impl TlsOptions {
    /// The mode tokio-postgres negotiates with (it knows no verification levels).
    pub(crate) fn pg_mode(&self) -> PgSslMode {
        match self.mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        }
    }

    /// The connector for these settings.
    pub(crate) fn connector(&self) -> Result<Connector> {
        let provider = Arc::new(ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let verify = match (self.mode, &self.root_cert) {
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                return Err(Error::Config(format!(
                    "sslmode={} needs a root certificate (sslrootcert=PATH or ssl={{\"root_cert\": PATH}})",
                    if self.mode == SslMode::VerifyCa { "verify-ca" } else { "verify-full" }
                )))
            }
            (SslMode::VerifyFull, Some(root)) => Verify::Full(roots(root)?),
            (SslMode::VerifyCa | SslMode::Require, Some(root)) => Verify::ChainOnly(roots(root)?),
            _ => Verify::Nothing,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match verify {
            Verify::Nothing => Arc::new(AcceptAny(provider.clone())),
            Verify::Full(roots) | Verify::ChainOnly(roots) => {
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| Error::Config(format!("TLS root certificate: {e}")))?;
                match self.mode {
                    SslMode::VerifyFull => webpki,
                    _ => Arc::new(ChainOnly(webpki)),
                }
            }
        };
        let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
        let config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| file_error("sslcert", cert, e))?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error("sslkey", key, e))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::Config(format!("TLS client certificate: {e}")))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(Error::Config("a client certificate needs both sslcert and sslkey".into())),
        };
        Ok(Connector(MakeRustlsConnect::new(config)))
    }
}

/// Bytes the TLS layer reads from the socket at once. rustls asks for 4 KiB at a time, which
/// made a system call per 4 KiB of a large result (64,750 `recvfrom` calls for one 2M-row
/// read); through a buffer this big, one call takes whatever the socket holds.
const SOCKET_READ_BYTES: usize = 256 << 10;

/// The rustls connector, also for Unix-domain sockets: they have no host name (and never
/// TLS, which the server does not offer there), which rustls would refuse up front.
#[derive(Clone)]
pub(crate) struct Connector(MakeRustlsConnect);

impl<S> MakeTlsConnect<S> for Connector
where
    S: tokio::io::AsyncRead,
    MakeRustlsConnect: MakeTlsConnect<BufReader<S>>,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<BufReader<S>>>::Stream;
    type TlsConnect = BufferedConnect<<MakeRustlsConnect as MakeTlsConnect<BufReader<S>>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<BufReader<S>>>::Error;

    fn make_tls_connect(&mut self, hostname: &str) -> std::result::Result<Self::TlsConnect, Self::Error> {
        let hostname = if hostname.is_empty() { "localhost" } else { hostname };
        MakeTlsConnect::<BufReader<S>>::make_tls_connect(&mut self.0, hostname).map(BufferedConnect)
    }
}

/// A TLS handshake over the socket read through a [`SOCKET_READ_BYTES`] buffer. It starts
/// after the server accepted TLS, so the buffer holds only TLS records.
pub(crate) struct BufferedConnect<T>(T);

impl<S: tokio::io::AsyncRead, T: TlsConnect<BufReader<S>>> TlsConnect<S> for BufferedConnect<T> {
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = T::Future;

    fn connect(self, stream: S) -> Self::Future {
        self.0.connect(BufReader::with_capacity(SOCKET_READ_BYTES, stream))
    }
}

enum Verify {
    Nothing,
    ChainOnly(RootCertStore),
    Full(RootCertStore),
}

fn roots(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_error("sslrootcert", path, e))? {
        let cert = cert.map_err(|e| file_error("sslrootcert", path, e))?;
        roots.add(cert).map_err(|e| Error::Config(format!("sslrootcert {}: {e}", path.display())))?;
    }
    if roots.is_empty() {
        return Err(Error::Config(format!("sslrootcert {}: no certificate in the file", path.display())));
    }
    Ok(roots)
}

fn file_error(what: &str, path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Config(format!("{what} {}: {error}", path.display()))
}

/// `require` and `prefer`: encryption without authentication of the server, as libpq.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
