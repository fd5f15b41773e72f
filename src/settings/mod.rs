//! Typed settings: the handler's environment ([`HandlerSettings`]) and the engine's YAML
//! file ([`EngineConfig`], kept current by [`EngineHandle`]).
//!
//! Both are read and validated once at start-up; a bad value stops the handler with a
//! message naming the variable (or the file, line and key) and what was expected.

mod engine;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use engine::{EngineConfig, EngineHandle, RetentionPolicy};
pub(crate) use engine::{duration, optional_duration};

use crate::engine::rules::RuleError;
use crate::store::PoolSettings;

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required environment variable is absent.
    #[error("{name} is not set; {hint}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What to set it to.
        hint: &'static str,
    },
    /// An environment variable has a value of the wrong form.
    #[error("{name}={value:?} is invalid: expected {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The engine settings file could not be read.
    #[error("cannot read the engine settings {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Rules of the engine settings file are not valid.
    #[error("invalid rules in {path}:\n  {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Rules {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        errors: Vec<RuleError>,
    },
    /// The engine settings file is not valid.
    #[error("invalid engine settings {path}: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
}

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

/// Default engine settings path, relative to the function app root (the handler's
/// working directory under the Functions host).
pub const DEFAULT_ENGINE_CONFIG: &str = "config/engine.yaml";

/// How the handler authenticates to PostgreSQL (`PAYMETRICS_DB_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbAuth {
    /// The password in `DATABASE_URL` (local development).
    Password,
    /// A Microsoft Entra ID access token of the handler's identity, fetched per new
    /// connection and refreshed before it expires.
    Entra,
}

/// When the handler applies its embedded migrations (`PAYMETRICS_MIGRATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateMode {
    /// Never by itself: an operator runs `handler migrate` (the default).
    Off,
    /// In the background after start-up, retried until the database answers. Instances
    /// starting together apply each migration once (an advisory lock serializes them).
    OnStart,
}

/// Transport security (`PAYMETRICS_DB_SSLMODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP; refused with Entra ID (a token would travel in clear).
    Disable,
    /// TLS with the certificate verified (`require` and `verify-full` alike).
    VerifyFull,
}

/// Where the database is and how to reach it.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`, when set: host, database, user (and password) in one string.
    pub url: Option<Secret>,
    /// `PAYMETRICS_DB_HOST`, `PAYMETRICS_DB_PORT` (5432), `PAYMETRICS_DB_NAME`
    /// (`paymetrics`), `PAYMETRICS_DB_USER`: the parts, used when `DATABASE_URL` is not set
    /// (the Function App's settings; the user is the identity's principal name).
    pub host: Option<String>,
    /// Port.
    pub port: u16,
    /// Database name.
    pub name: String,
    /// Database user.
    pub user: Option<String>,
    /// Authentication mode.
    pub auth: DbAuth,
    /// TLS; `None` follows `DATABASE_URL`'s `sslmode`.
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

impl DatabaseSettings {
    /// The driver's connection settings (without a token) and the TLS to use.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the variable.
    pub fn connection(
        &self,
    ) -> Result<(tokio_postgres::Config, crate::store::connect::Tls), SettingsError> {
        use std::str::FromStr;
        // libpq's verify-full / verify-ca mean "TLS, verified": what require means here.
        let url_text = self.url.as_ref().map(|url| {
            url.expose()
                .replace("sslmode=verify-full", "sslmode=require")
                .replace("sslmode=verify-ca", "sslmode=require")
        });
        let url_names_sslmode = url_text.as_deref().is_some_and(|u| u.contains("sslmode="));
        let mut config = match &url_text {
            Some(url) => {
                tokio_postgres::Config::from_str(url).map_err(|_| SettingsError::Invalid {
                    name: "DATABASE_URL",
                    value: "(hidden)".into(),
                    expected: "a PostgreSQL URL or key=value connection string \
                           (sslmode: disable, prefer, require, verify-ca or verify-full)",
                })?
            }
            None => {
                let mut config = tokio_postgres::Config::new();
                config
                    .host(self.host.as_deref().unwrap_or_default())
                    .port(self.port)
                    .dbname(&self.name)
                    .user(self.user.as_deref().unwrap_or_default());
                config
            }
        };
        let url_wants_tls = matches!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        // Without an explicit sslmode, TLS is verified unless the server is on this machine.
        let local = config.get_hosts().iter().all(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            tokio_postgres::config::Host::Unix(_) => true,
        });
        let verify = match self.sslmode {
            Some(SslMode::VerifyFull) => true,
            Some(SslMode::Disable) => false,
            None if url_names_sslmode => url_wants_tls,
            None => self.url.is_none() || !local,
        };
        if self.auth == DbAuth::Entra && !verify {
            return Err(SettingsError::Invalid {
                name: "PAYMETRICS_DB_SSLMODE",
                value: "disable".into(),
                expected: "require or verify-full with PAYMETRICS_DB_AUTH=entra (a token must not travel in clear)",
            });
        }
        let tls = if verify {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            crate::store::connect::Tls::verify(self.root_cert.as_deref()).map_err(|_| {
                SettingsError::Invalid {
                    name: "PAYMETRICS_DB_SSLROOTCERT",
                    value: self
                        .root_cert
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    expected: "a readable PEM file of root certificates",
                }
            })?
        } else {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            crate::store::connect::Tls::Disable
        };
        Ok((config, tls))
    }
}

/// The handler's settings, from the environment.
#[derive(Debug, Clone)]
pub struct HandlerSettings {
    /// The database: `DATABASE_URL`, or the `PAYMETRICS_DB_*` parts.
    pub database: DatabaseSettings,
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`: the port the host forwards invocations to
    /// (default 3000 when started by hand). The handler listens on 127.0.0.1 only.
    pub port: u16,
    /// `PAYMETRICS_CONFIG`: the engine's YAML settings (default `config/engine.yaml`).
    pub engine_config: PathBuf,
    /// Whether `PAYMETRICS_CONFIG` was set: a missing file is then an error, while a
    /// missing default file means built-in defaults.
    pub engine_config_explicit: bool,
    /// `PAYMETRICS_CONFIG_FALLBACK`: the engine settings used while the file named by
    /// `PAYMETRICS_CONFIG` does not exist (in Azure: the packaged, reviewed file, until an
    /// analyst uploads one to persistent storage).
    pub engine_config_fallback: Option<PathBuf>,
    /// `PAYMETRICS_MIGRATE`: `off` (default) or `on-start`.
    pub migrate: MigrateMode,
    /// `PAYMETRICS_DB_POOL_SIZE` (default 8), `PAYMETRICS_DB_TIMEOUT` (10s),
    /// `PAYMETRICS_DB_STATEMENT_TIMEOUT` (5m) and `PAYMETRICS_DB_LOCK_TIMEOUT` (30s).
    pub pool: PoolSettings,
    /// `PAYMETRICS_MAX_BODY_BYTES` (default 256 MiB): the largest invocation body
    /// accepted. It must stay above `maxEventBatchSize` (host.json, 100) times the largest
    /// event (1 MiB on Event Hubs) times 4/3 for base64, or a batch could never be
    /// delivered.
    pub max_body_bytes: usize,
}

impl HandlerSettings {
    /// The engine settings these settings name: `PAYMETRICS_CONFIG`, or
    /// `PAYMETRICS_CONFIG_FALLBACK` while that file does not exist.
    ///
    /// # Errors
    /// [`SettingsError`] naming the file, line and key.
    pub fn engine(&self) -> Result<EngineHandle, SettingsError> {
        match &self.engine_config_fallback {
            Some(fallback) => EngineHandle::load_with_fallback(&self.engine_config, fallback),
            None => EngineHandle::load(&self.engine_config, self.engine_config_explicit),
        }
    }

    /// Reads the process environment.
    ///
    /// # Errors
    /// [`SettingsError::Missing`] or [`SettingsError::Invalid`], naming the variable.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, for tests.
    ///
    /// # Errors
    /// As [`HandlerSettings::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = get("DATABASE_URL");
        let host = get("PAYMETRICS_DB_HOST");
        if database_url.is_none() && host.is_none() {
            return Err(SettingsError::Missing {
                name: "DATABASE_URL",
                hint: "set it to a PostgreSQL connection string such as \
                       postgres://postgres@127.0.0.1:5432/paymetrics, or set PAYMETRICS_DB_HOST \
                       and PAYMETRICS_DB_USER to connect with Microsoft Entra ID",
            });
        }
        let auth = match get("PAYMETRICS_DB_AUTH")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None if database_url.is_some() => DbAuth::Password,
            None => DbAuth::Entra,
            Some("password") => DbAuth::Password,
            Some("entra") => DbAuth::Entra,
            Some(other) => {
                return Err(SettingsError::Invalid {
                    name: "PAYMETRICS_DB_AUTH",
                    value: other.to_owned(),
                    expected: "password or entra",
                });
            }
        };
        let sslmode = match get("PAYMETRICS_DB_SSLMODE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => None,
            Some("disable") => Some(SslMode::Disable),
            Some("require" | "verify-full" | "verify-ca") => Some(SslMode::VerifyFull),
            Some(other) => {
                return Err(SettingsError::Invalid {
                    name: "PAYMETRICS_DB_SSLMODE",
                    value: other.to_owned(),
                    expected: "disable, require or verify-full",
                });
            }
        };
        let migrate = match get("PAYMETRICS_MIGRATE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("off") => MigrateMode::Off,
            Some("on-start") => MigrateMode::OnStart,
            Some(other) => {
                return Err(SettingsError::Invalid {
                    name: "PAYMETRICS_MIGRATE",
                    value: other.to_owned(),
                    expected: "off or on-start",
                });
            }
        };
        let user = get("PAYMETRICS_DB_USER");
        if database_url.is_none() && user.is_none() {
            return Err(SettingsError::Missing {
                name: "PAYMETRICS_DB_USER",
                hint: "set it to the database role: with Microsoft Entra ID, the name of the \
                       identity's principal (the Function App's name for its managed identity)",
            });
        }
        let database = DatabaseSettings {
            url: database_url.map(Secret::new),
            host,
            port: parse(&get, "PAYMETRICS_DB_PORT", 5432, "a TCP port number")?,
            name: get("PAYMETRICS_DB_NAME").unwrap_or_else(|| "paymetrics".into()),
            user,
            auth,
            sslmode,
            root_cert: get("PAYMETRICS_DB_SSLROOTCERT").map(PathBuf::from),
            client_id: get("PAYMETRICS_DB_CLIENT_ID"),
        };
        let port = parse(
            &get,
            "FUNCTIONS_CUSTOMHANDLER_PORT",
            3000,
            "a TCP port number",
        )?;
        let engine_config = get("PAYMETRICS_CONFIG");
        let max_size = parse(&get, "PAYMETRICS_DB_POOL_SIZE", 8usize, "a whole number")?;
        if max_size == 0 {
            return Err(SettingsError::Invalid {
                name: "PAYMETRICS_DB_POOL_SIZE",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        let duration = |name: &'static str, default: u64| match get(name) {
            None => Ok(Duration::from_secs(default)),
            Some(text) => humantime::parse_duration(&text).map_err(|_| SettingsError::Invalid {
                name,
                value: text,
                expected: "a duration such as 10s",
            }),
        };
        let timeout = duration("PAYMETRICS_DB_TIMEOUT", 10)?;
        let statement_timeout = duration("PAYMETRICS_DB_STATEMENT_TIMEOUT", 300)?;
        let lock_timeout = duration("PAYMETRICS_DB_LOCK_TIMEOUT", 30)?;
        Ok(Self {
            database,
            port,
            engine_config_explicit: engine_config.is_some(),
            engine_config_fallback: get("PAYMETRICS_CONFIG_FALLBACK").map(PathBuf::from),
            migrate,
            engine_config: PathBuf::from(
                engine_config.unwrap_or_else(|| DEFAULT_ENGINE_CONFIG.into()),
            ),
            pool: PoolSettings {
                max_size,
                timeout,
                statement_timeout,
                lock_timeout,
            },
            max_body_bytes: parse(
                &get,
                "PAYMETRICS_MAX_BODY_BYTES",
                256 * 1024 * 1024,
                "a number of bytes",
            )?,
        })
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    expected: &'static str,
) -> Result<T, SettingsError> {
    match get(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| SettingsError::Invalid {
            name,
            value,
            expected,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_remote_database_gets_verified_tls_unless_told_otherwise() {
        let tls_of = |url: &str| {
            let s = HandlerSettings::from_lookup(env(&[("DATABASE_URL", url)])).unwrap();
            matches!(
                s.database.connection().unwrap().1,
                crate::store::connect::Tls::Verify(_)
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
    fn defaults_apply_when_only_the_database_is_set() {
        let s =
            HandlerSettings::from_lookup(env(&[("DATABASE_URL", "postgres://x:pw@h/db")])).unwrap();
        assert_eq!(s.port, 3000);
        assert_eq!(s.engine_config, PathBuf::from("config/engine.yaml"));
        assert!(!s.engine_config_explicit);
        assert_eq!(s.pool.max_size, 8);
        assert!(
            !format!("{s:?}").contains("pw"),
            "the password leaked into Debug"
        );
    }

    #[test]
    fn a_missing_database_url_and_a_bad_port_are_named() {
        let err = HandlerSettings::from_lookup(env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("DATABASE_URL is not set"), "{err}");
        let err = HandlerSettings::from_lookup(env(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "http"),
        ]))
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "FUNCTIONS_CUSTOMHANDLER_PORT=\"http\" is invalid: expected a TCP port number"
        );
    }

    #[test]
    fn migrate_mode_is_off_unless_on_start_and_anything_else_is_named() {
        let url = ("DATABASE_URL", "postgres://h/db");
        let mode = |value: &str| {
            HandlerSettings::from_lookup(env(&[url, ("PAYMETRICS_MIGRATE", value)]))
                .map(|s| s.migrate)
        };
        assert_eq!(mode("").unwrap(), MigrateMode::Off);
        assert_eq!(mode("off").unwrap(), MigrateMode::Off);
        assert_eq!(mode("on-start").unwrap(), MigrateMode::OnStart);
        assert_eq!(
            mode("always").unwrap_err().to_string(),
            "PAYMETRICS_MIGRATE=\"always\" is invalid: expected off or on-start"
        );
    }
}
