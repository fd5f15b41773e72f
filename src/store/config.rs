//! The database configuration: where the server is, how the handler authenticates, and
//! the one TLS policy, turned into the driver's [`tokio_postgres::Config`] and a [`Tls`]
//! (deadpool's placement: the translation lives with the database adapter).
//!
//! `settings` parses the environment into a [`DatabaseSettings`]; this module alone
//! decides what the values mean for a connection.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use tokio_postgres::config::{Host, SslMode as DriverSslMode};

use super::connect::Tls;

/// A secret string (a connection string with a password) that never prints itself.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the handler authenticates to PostgreSQL (`PAYMETRICS_DB_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbAuth {
    /// The password in `DATABASE_URL` (local development).
    Password,
    /// A Microsoft Entra ID access token of the handler's identity, fetched per new
    /// connection and refreshed before it expires.
    Entra,
}

/// Transport security asked for explicitly (`PAYMETRICS_DB_SSLMODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP; refused with Entra ID (a token would travel in clear).
    Disable,
    /// TLS with the certificate verified (`require` and `verify-full` alike).
    VerifyFull,
}

/// Where the database is: one connection string, or its parts.
#[derive(Debug, Clone)]
pub enum DbTarget {
    /// `DATABASE_URL`: host, database, user (and password) in one string.
    Url(Secret),
    /// `PAYMETRICS_DB_HOST`, `PAYMETRICS_DB_PORT`, `PAYMETRICS_DB_NAME`,
    /// `PAYMETRICS_DB_USER` (the Function App's settings; the user is the identity's
    /// principal name).
    Parts {
        /// Server host name.
        host: String,
        /// Port (5432 by default).
        port: u16,
        /// Database name.
        name: String,
        /// Database role.
        user: String,
    },
}

/// Where the database is and how to reach it.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// The server and database.
    pub target: DbTarget,
    /// Password or Entra ID token; Entra ID is refused without TLS.
    pub auth: DbAuth,
    /// TLS asked for explicitly; `None` follows the URL's `sslmode`, else verifies
    /// unless the server is on this machine.
    pub sslmode: Option<SslMode>,
    /// `PAYMETRICS_DB_SSLROOTCERT`: a PEM file of root certificates to verify the server
    /// against instead of the Mozilla roots (a private or test CA).
    pub root_cert: Option<PathBuf>,
    /// `PAYMETRICS_DB_CLIENT_ID`: the client id of the user-assigned managed identity whose
    /// tokens open database connections. The app and its staging slot share one such
    /// identity, so objects a migration creates from either slot have the same owner.
    /// Unset: the system-assigned identity.
    pub client_id: Option<String>,
}

/// A database setting whose value cannot be used; displays like the settings' own errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}={value:?} is invalid: expected {expected}")]
pub struct ConfigError {
    /// The setting (environment variable) at fault.
    pub setting: &'static str,
    /// Its value (`(hidden)` for a connection string).
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

impl DatabaseSettings {
    /// A connection string with its password, TLS as the policy decides.
    pub fn from_url(url: &str) -> Self {
        Self {
            target: DbTarget::Url(Secret::new(url)),
            auth: DbAuth::Password,
            sslmode: None,
            root_cert: None,
            client_id: None,
        }
    }

    /// The driver's connection settings (without a token) and the TLS to use.
    ///
    /// The TLS policy: an explicit [`SslMode`] wins; else the URL's `sslmode`
    /// (`require`, `verify-ca` and `verify-full` verify, `disable` and `prefer` do not);
    /// else TLS is verified unless the URL names a server on this machine. Entra ID
    /// without TLS is refused.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting: an unreadable URL, TLS disabled with Entra ID,
    /// or a root certificate file that cannot be used.
    pub fn connection(&self) -> Result<(tokio_postgres::Config, Tls), ConfigError> {
        let (mut config, url_sslmode) = self.driver_config()?;
        let verify = match (self.sslmode, url_sslmode) {
            (Some(mode), _) => mode == SslMode::VerifyFull,
            (None, Some(wants_tls)) => wants_tls,
            (None, None) => matches!(self.target, DbTarget::Parts { .. }) || !is_local(&config),
        };
        if self.auth == DbAuth::Entra && !verify {
            return Err(ConfigError {
                setting: "PAYMETRICS_DB_SSLMODE",
                value: "disable".into(),
                expected: "require or verify-full with PAYMETRICS_DB_AUTH=entra (a token must not travel in clear)",
            });
        }
        if !verify {
            config.ssl_mode(DriverSslMode::Disable);
            return Ok((config, Tls::Disable));
        }
        config.ssl_mode(DriverSslMode::Require);
        let tls = Tls::verify(self.root_cert.as_deref()).map_err(|_| ConfigError {
            setting: "PAYMETRICS_DB_SSLROOTCERT",
            value: self
                .root_cert
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            expected: "a readable PEM file of root certificates",
        })?;
        Ok((config, tls))
    }

    /// The driver's settings, and whether the URL's `sslmode` asks for TLS (`None` when
    /// it names none).
    fn driver_config(&self) -> Result<(tokio_postgres::Config, Option<bool>), ConfigError> {
        match &self.target {
            DbTarget::Url(url) => {
                // libpq's verify-full / verify-ca mean "TLS, verified": what require means here.
                let text = url
                    .expose()
                    .replace("sslmode=verify-full", "sslmode=require")
                    .replace("sslmode=verify-ca", "sslmode=require");
                let config = tokio_postgres::Config::from_str(&text).map_err(|_| ConfigError {
                    setting: "DATABASE_URL",
                    value: "(hidden)".into(),
                    expected: "a PostgreSQL URL or key=value connection string \
                               (sslmode: disable, prefer, require, verify-ca or verify-full)",
                })?;
                let wants_tls = text
                    .contains("sslmode=")
                    .then(|| config.get_ssl_mode() == DriverSslMode::Require);
                Ok((config, wants_tls))
            }
            DbTarget::Parts {
                host,
                port,
                name,
                user,
            } => {
                let mut config = tokio_postgres::Config::new();
                config.host(host).port(*port).dbname(name).user(user);
                Ok((config, None))
            }
        }
    }
}

/// Whether every host of `config` is this machine (a loopback address, `localhost` or a
/// Unix socket).
fn is_local(config: &tokio_postgres::Config) -> bool {
    config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Host::Unix(_) => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_database_gets_verified_tls_unless_told_otherwise() {
        let tls_of = |url: &str| {
            matches!(
                DatabaseSettings::from_url(url).connection().unwrap().1,
                Tls::Verify(_)
            )
        };
        assert!(tls_of(
            "postgres://u:p@psql-x.postgres.database.azure.com/db"
        ));
        assert!(tls_of(
            "postgres://u:p@psql-x.postgres.database.azure.com/db?sslmode=verify-full"
        ));
        assert!(!tls_of("postgres://u:p@127.0.0.1/db"));
        assert!(!tls_of("postgres://u:p@remote.example/db?sslmode=disable"));
        assert!(tls_of("postgres://u:p@localhost/db?sslmode=require"));
    }

    #[test]
    fn entra_without_tls_is_refused() {
        let settings = DatabaseSettings {
            auth: DbAuth::Entra,
            sslmode: Some(SslMode::Disable),
            ..DatabaseSettings::from_url("postgres://u@remote.example/db")
        };
        assert_eq!(
            settings.connection().unwrap_err().setting,
            "PAYMETRICS_DB_SSLMODE"
        );
    }
}
