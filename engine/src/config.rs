//! Where to connect: a URL, `DATABASE_URL`, or libpq's `PG*` environment variables.

use std::str::FromStr;

use tokio_postgres::config::Host;
use tokio_postgres::Config;

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::tls::{SslMode, TlsOptions};

/// Builds connection settings from `url`, or from the environment when `url` is `None`.
///
/// URLs take libpq's forms (`postgresql://user:pass@host:port/db?opt=...` or `key=value`
/// pairs). Without one, `DATABASE_URL` is used, else `PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`. The
/// application name defaults to `data-bridge`. The TLS settings (`sslmode`, `sslrootcert`,
/// `sslcert`, `sslkey`) come back apart: tokio-postgres knows only part of them.
pub fn resolve(url: Option<&str>) -> Result<(Config, TlsOptions)> {
    let env_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let (mut config, tls) = match url.map(str::to_owned).or(env_url) {
        Some(url) => {
            let (rest, tls) = split_tls(&url)?;
            let config = Config::from_str(&rest).map_err(|e| Error::Config(crate::error::error_chain(&e)))?;
            (config, tls)
        }
        None => (from_pg_env(), TlsParts::default()),
    };
    let mut tls = tls;
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    if tls.mode_given.is_none() {
        if let Some(mode) = var("PGSSLMODE") {
            tls.mode_given = Some(mode.parse()?);
        }
    }
    tls.root_cert = tls.root_cert.or_else(|| var("PGSSLROOTCERT").map(Into::into));
    tls.cert = tls.cert.or_else(|| var("PGSSLCERT").map(Into::into));
    tls.key = tls.key.or_else(|| var("PGSSLKEY").map(Into::into));
    if config.get_hosts().is_empty() {
        config.host(std::env::var("PGHOST").as_deref().unwrap_or(default_host()));
    }
    // libpq's environment fills in what the URL leaves out.
    if config.get_user().is_none() {
        if let Some(user) = var("PGUSER") {
            config.user(user);
        }
    }
    if config.get_password().is_none() {
        if let Some(password) = var("PGPASSWORD") {
            config.password(password);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(dbname) = var("PGDATABASE") {
            config.dbname(dbname);
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(port);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("data-bridge");
    }
    let options = tls.into_options();
    config.ssl_mode(options.pg_mode());
    Ok((config, options))
}

/// TLS settings as read from a URL, before defaults.
#[derive(Default)]
struct TlsParts {
    mode_given: Option<SslMode>,
    root_cert: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

impl TlsParts {
    fn into_options(self) -> TlsOptions {
        TlsOptions {
            mode: self.mode_given.unwrap_or_default(),
            root_cert: self.root_cert,
            cert: self.cert,
            key: self.key,
        }
    }

    /// Takes `key`'s value when it is a TLS setting.
    fn take(&mut self, key: &str, value: String) -> Result<bool> {
        match key {
            "sslmode" => self.mode_given = Some(value.parse()?),
            "sslrootcert" => self.root_cert = Some(value.into()),
            "sslcert" => self.cert = Some(value.into()),
            "sslkey" => self.key = Some(value.into()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `url` without its TLS settings, and those settings.
fn split_tls(url: &str) -> Result<(String, TlsParts)> {
    let mut tls = TlsParts::default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else { return Ok((url.to_string(), tls)) };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !tls.take(key, percent_decode(value))? {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        return Ok((rest, tls));
    }
    // key=value pairs; values may be single-quoted with backslash escapes.
    let mut kept = Vec::new();
    let mut chars = url.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut key = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|&(_, c)| c.is_whitespace()) {
            chars.next();
        }
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err(Error::Config(format!("missing \"=\" after {key:?} in the connection string")));
        }
        while chars.peek().is_some_and(|&(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek().is_some_and(|&(_, c)| c == '\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                    Some((_, '\'')) => break,
                    Some((_, c)) => value.push(c),
                    None => return Err(Error::Config("unterminated quoted value in the connection string".into())),
                }
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        let end = chars.peek().map_or(url.len(), |&(at, _)| at);
        if !tls.take(&key, value)? {
            kept.push(&url[start..end]);
        }
    }
    Ok((kept.join(" "), tls))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn from_pg_env() -> Config {
    let mut config = Config::new();
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    if let Some(host) = var("PGHOST") {
        config.host(&host);
    }
    if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
        config.port(port);
    }
    if let Some(user) = var("PGUSER") {
        config.user(user);
    }
    if let Some(password) = var("PGPASSWORD") {
        config.password(password);
    }
    if let Some(dbname) = var("PGDATABASE") {
        config.dbname(dbname);
    }
    config
}

/// libpq's default: the Debian socket directory when it exists, else localhost.
fn default_host() -> &'static str {
    if std::path::Path::new("/var/run/postgresql").exists() {
        "/var/run/postgresql"
    } else {
        "localhost"
    }
}

/// `host:port` of the first host, for error messages.
pub fn target(config: &Config) -> String {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(Host::Tcp(host)) => format!("{host}:{port}"),
        Some(Host::Unix(path)) => format!("{}/.s.PGSQL.{port}", path.display()),
        None => format!("localhost:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_taken_out_of_urls() {
        let (rest, tls) =
            split_tls("postgresql://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem")
                .unwrap();
        assert_eq!(rest, "postgresql://u@h/db?application_name=x");
        let tls = tls.into_options();
        assert_eq!((tls.mode, tls.root_cert), (SslMode::VerifyFull, Some("/tmp/ca.pem".into())));
        let (rest, tls) = split_tls("host=h sslmode = require sslcert='/a b/c.pem' user=u sslkey=/k").unwrap();
        assert_eq!(rest, "host=h user=u");
        let tls = tls.into_options();
        assert_eq!((tls.mode, tls.cert, tls.key), (SslMode::Require, Some("/a b/c.pem".into()), Some("/k".into())));
        assert!(split_tls("postgresql://h/db?sslmode=bogus").is_err());
        assert_eq!(split_tls("postgresql://h/db").unwrap().1.into_options(), TlsOptions::default());
    }

    #[test]
    fn url_wins_and_names_the_target() {
        let (config, _) = resolve(Some("postgresql://alice@db.example:6543/sales")).unwrap();
        assert_eq!(config.get_user(), Some("alice"));
        assert_eq!(target(&config), "db.example:6543");
        assert_eq!(config.get_application_name(), Some("data-bridge"));
    }

    #[test]
    fn bad_url_is_a_config_error() {
        assert!(matches!(resolve(Some("postgresql://h:notaport/x")), Err(Error::Config(_))));
    }
}
