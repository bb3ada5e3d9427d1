//! Where to connect: a URL, `DATABASE_URL`, or libpq's `PG*` environment variables.

use std::str::FromStr;

use tokio_postgres::config::Host;
use tokio_postgres::Config;

use crate::error::{Error, Result};

/// Builds connection settings from `url`, or from the environment when `url` is `None`.
///
/// URLs take libpq's forms (`postgresql://user:pass@host:port/db?opt=...` or `key=value`
/// pairs). Without one, `DATABASE_URL` is used, else `PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, `PGDATABASE`. The application name defaults to `data-bridge`.
pub fn resolve(url: Option<&str>) -> Result<Config> {
    let env_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let mut config = match url.map(str::to_owned).or(env_url) {
        Some(url) => Config::from_str(&url).map_err(|e| Error::Config(crate::error::error_chain(&e)))?,
        None => from_pg_env(),
    };
    if config.get_hosts().is_empty() {
        config.host(std::env::var("PGHOST").as_deref().unwrap_or(default_host()));
    }
    if config.get_user().is_none() {
        if let Ok(user) = std::env::var("PGUSER") {
            config.user(user);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("data-bridge");
    }
    Ok(config)
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
    fn url_wins_and_names_the_target() {
        let config = resolve(Some("postgresql://alice@db.example:6543/sales")).unwrap();
        assert_eq!(config.get_user(), Some("alice"));
        assert_eq!(target(&config), "db.example:6543");
        assert_eq!(config.get_application_name(), Some("data-bridge"));
    }

    #[test]
    fn bad_url_is_a_config_error() {
        assert!(matches!(resolve(Some("postgresql://h:notaport/x")), Err(Error::Config(_))));
    }
}
