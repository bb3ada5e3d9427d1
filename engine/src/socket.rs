//! Connection sockets opened here, so that they are read through a buffer.
//!
//! tokio-postgres reads a plain socket into its 8 KiB frame buffer: a system call per 8 KiB,
//! 62,000 `recvfrom` calls for one 2M-row (400 MB) read. A socket opened here goes to
//! `connect_raw` behind a [`SOCKET_READ_BYTES`] buffer, so one call takes whatever the socket
//! holds. This covers the usual setting, one server (TCP or Unix socket) and any session;
//! other settings (several hosts, `hostaddr`, `target_session_attrs`) connect the usual way.
//! A client connected raw cannot open its own socket to cancel a query, so cancelling goes
//! through [`Address::cancel`] too.

use std::io;
use std::path::PathBuf;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, TargetSessionAttrs};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{CancelToken, Client, Config};

use crate::tls::Connector;

/// Bytes one read of a connection's socket may take.
pub(crate) const SOCKET_READ_BYTES: usize = 256 << 10;

/// Where the one server of a configuration listens.
#[derive(Clone, Debug)]
pub(crate) enum Address {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// A socket opened to an [`Address`].
enum Opened {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Address {
    /// The configuration's server, when it names exactly one and no session requirement.
    pub(crate) fn of(config: &Config) -> Option<Address> {
        let single = config.get_hosts().len() == 1 && config.get_hostaddrs().is_empty();
        if !single || config.get_target_session_attrs() != TargetSessionAttrs::Any {
            return None;
        }
        let port = match config.get_ports() {
            [] => 5432,
            [port] => *port,
            _ => return None,
        };
        Some(match &config.get_hosts()[0] {
            Host::Tcp(host) => Address::Tcp { host: host.clone(), port },
            Host::Unix(directory) => Address::Unix(directory.join(format!(".s.PGSQL.{port}"))),
        })
    }

    /// The host name TLS checks the certificate against; none for a Unix socket.
    fn host(&self) -> &str {
        match self {
            Address::Tcp { host, .. } => host,
            Address::Unix(_) => "",
        }
    }

    /// Opens a socket to the server, set up as tokio-postgres would (no Nagle delay, the
    /// configuration's keepalives), within its connect timeout.
    async fn open(&self, config: &Config) -> io::Result<Opened> {
        let open = async {
            match self {
                Address::Unix(path) => Ok(Opened::Unix(UnixStream::connect(path).await?)),
                Address::Tcp { host, port } => {
                    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
                    for address in tokio::net::lookup_host((host.as_str(), *port)).await? {
                        match TcpStream::connect(address).await {
                            Ok(stream) => return Ok(Opened::Tcp(configured(stream, config)?)),
                            Err(error) => last = error,
                        }
                    }
                    Err(last)
                }
            }
        };
        match config.get_connect_timeout() {
            Some(limit) => tokio::time::timeout(*limit, open)
                .await
                .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))),
            None => open.await,
        }
    }

    /// Asks the server to cancel what `token`'s connection is running, over TLS when the
    /// connection's sslmode asks for it (the server takes a cancel inside TLS too).
    pub(crate) async fn cancel(&self, config: &Config, token: &CancelToken, mut tls: Connector) -> io::Result<()> {
        let outcome = match self.open(config).await? {
            Opened::Tcp(stream) => {
                let connect =
                    MakeTlsConnect::<TcpStream>::make_tls_connect(&mut tls, self.host()).map_err(io::Error::other)?;
                token.cancel_query_raw(stream, connect).await
            }
            // The server offers no TLS on a Unix socket.
            Opened::Unix(stream) => token.cancel_query_raw(stream, tokio_postgres::NoTls).await,
        };
        outcome.map_err(io::Error::other)
    }
}

/// `stream` with Nagle's delay off and the configuration's keepalives.
fn configured(stream: TcpStream, config: &Config) -> io::Result<TcpStream> {
    stream.set_nodelay(true)?;
    if config.get_keepalives() {
        let mut keepalive = socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
        if let Some(interval) = config.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
        if let Some(retries) = config.get_keepalives_retries() {
            keepalive = keepalive.with_retries(retries);
        }
        socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive)?;
    }
    Ok(stream)
}

/// deadpool's way of connecting: through a buffered socket of our own where [`Address::of`]
/// finds one server, else as tokio-postgres does.
pub(crate) struct BufferedConnect {
    pub tls: Connector,
}

impl deadpool_postgres::Connect for BufferedConnect {
    fn connect(&self, config: &Config) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), tokio_postgres::Error>> {
        let (config, tls) = (config.clone(), self.tls.clone());
        Box::pin(async move {
            if let Some(address) = Address::of(&config) {
                // A socket that fails to open is opened again below, where the failure becomes
                // tokio-postgres's own error.
                let connected = match address.open(&config).await {
                    Ok(Opened::Tcp(stream)) => start(&config, stream, &address, tls.clone()).await,
                    Ok(Opened::Unix(stream)) => start(&config, stream, &address, tls.clone()).await,
                    Err(_) => None,
                };
                if let Some(connected) = connected {
                    return connected;
                }
            }
            let (client, connection) = config.connect(tls).await?;
            Ok((client, tokio::spawn(drive(connection))))
        })
    }
}

/// Starts the session on `stream`; `None` if the TLS connector refuses the host name (the
/// usual way reports that).
async fn start<S>(
    config: &Config,
    stream: S,
    address: &Address,
    mut tls: Connector,
) -> Option<Result<(Client, JoinHandle<()>), tokio_postgres::Error>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connect = MakeTlsConnect::<BufReader<S>>::make_tls_connect(&mut tls, address.host()).ok()?;
    let stream = BufReader::with_capacity(SOCKET_READ_BYTES, stream);
    Some(match config.connect_raw(stream, connect).await {
        Ok((client, connection)) => Ok((client, tokio::spawn(drive(connection)))),
        Err(error) => Err(error),
    })
}

/// Runs a connection's I/O until it closes; its errors reach the client's calls.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    let _ = connection.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(config: &str) -> Option<String> {
        let config: Config = config.parse().expect("a valid configuration");
        Address::of(&config).map(|address| format!("{address:?}"))
    }

    #[test]
    fn only_a_single_server_is_opened_here() {
        assert_eq!(address("host=db.example port=6432").as_deref(), Some(r#"Tcp { host: "db.example", port: 6432 }"#));
        assert_eq!(address("host=127.0.0.1").as_deref(), Some(r#"Tcp { host: "127.0.0.1", port: 5432 }"#));
        assert_eq!(
            address("host=/run/postgresql port=5433").as_deref(),
            Some(r#"Unix("/run/postgresql/.s.PGSQL.5433")"#)
        );
        assert_eq!(address("host=a,b"), None);
        assert_eq!(address("host=a port=1,2"), None);
        assert_eq!(address("host=db.example hostaddr=10.0.0.1"), None);
        assert_eq!(address("host=a target_session_attrs=read-write"), None);
    }
}
