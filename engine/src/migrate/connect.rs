//! The runner's own connection: sqlx's, with the engine's reading of connection settings.

use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::Connection;
use tokio_postgres::config::Host;

use super::MigrateError;
use crate::tls::SslMode;

/// Connects with the engine's reading of `url` (libpq URL or `key=value` pairs, `DATABASE_URL`
/// and `PG*` when `None`, libpq's `sslmode` and certificate files), through sqlx.
pub(super) async fn connect(url: Option<&str>) -> Result<PgConnection, MigrateError> {
    let options = connect_options(url)?;
    PgConnection::connect_with(&options).await.map_err(MigrateError::db("connecting"))
}

fn connect_options(url: Option<&str>) -> Result<PgConnectOptions, MigrateError> {
    let (config, tls) = crate::config::resolve(url)?;
    let mut options = PgConnectOptions::new_without_pgpass();
    options = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => options.host(host),
        #[cfg(unix)]
        Some(Host::Unix(dir)) => options.socket(dir),
        _ => options,
    };
    options = options.port(config.get_ports().first().copied().unwrap_or(5432));
    if let Some(user) = config.get_user() {
        options = options.username(user);
    }
    if let Some(password) = config.get_password() {
        options = options.password(&String::from_utf8_lossy(password));
    }
    if let Some(database) = config.get_dbname() {
        options = options.database(database);
    }
    if let Some(name) = config.get_application_name() {
        options = options.application_name(name);
    }
    if let Some(raw) = config.get_options() {
        options = options.options(server_options(raw));
    }
    options = options.ssl_mode(match tls.mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
        SslMode::VerifyCa => PgSslMode::VerifyCa,
        SslMode::VerifyFull => PgSslMode::VerifyFull,
    });
    if let Some(root) = &tls.root_cert {
        options = options.ssl_root_cert(root);
    }
    if let Some(cert) = &tls.cert {
        options = options.ssl_client_cert(cert);
    }
    if let Some(key) = &tls.key {
        options = options.ssl_client_key(key);
    }
    Ok(options)
}

/// `-c name=value` / `--name=value` settings of libpq's `options`, as pairs.
fn server_options(raw: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut words = raw.split_whitespace();
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" => words.next(),
            w => w.strip_prefix("-c").or_else(|| w.strip_prefix("--")),
        };
        if let Some((name, value)) = setting.and_then(|s| s.split_once('=')) {
            pairs.push((name.to_owned(), value.to_owned()));
        }
    }
    pairs
}

pub(super) async fn close(conn: PgConnection) {
    // Closing ends the session, which releases the advisory lock if unlocking failed.
    let _ = conn.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_options_become_settings() {
        assert_eq!(
            server_options("-c search_path=app  -cstatement_timeout=5s --lock_timeout=1s -x"),
            [
                ("search_path".to_owned(), "app".to_owned()),
                ("statement_timeout".to_owned(), "5s".to_owned()),
                ("lock_timeout".to_owned(), "1s".to_owned())
            ]
        );
    }

    #[test]
    fn urls_and_key_value_strings_are_read_like_the_pool_reads_them() {
        for url in [
            "postgresql://ann:pw@db.example:6543/shop?sslmode=require",
            "host=db.example port=6543 user=ann password=pw dbname=shop sslmode=require",
        ] {
            let options = connect_options(Some(url)).map_err(|e| e.to_string());
            let options = options.as_ref().map(|o| (o.get_host(), o.get_port(), o.get_username(), o.get_database()));
            assert_eq!(options, Ok(("db.example", 6543, "ann", Some("shop"))), "{url}");
        }
        assert!(connect_options(Some("postgresql://x/y?sslmode=bogus")).is_err());
    }
}
