//! Typed settings: the handler's environment, and the engine's YAML file.
//!
//! Both are read and validated once at start-up; a bad value stops the handler with a
//! message naming the variable (or the file, line and key) and what was expected.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use serde::Deserialize;

use crate::engine::WindowPolicy;
use crate::engine::clustering::ClusteringPolicy;
use crate::engine::rules::{self, Rule, RuleError, RuleSpec};
use crate::engine::windows::FIVE_MINUTES;
use crate::ingest::IngestPolicy;
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

/// The engine settings file as written (`config/engine.yaml`). Every section is
/// optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct EngineFile {
    ingest: IngestPolicy,
    windows: WindowPolicy,
    retention: RetentionPolicy,
    rules: Vec<RuleSpec>,
    clustering: ClusteringPolicy,
}

/// The engine's validated settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineConfig {
    /// How events are accepted.
    pub ingest: IngestPolicy,
    /// When windows are closed.
    pub windows: WindowPolicy,
    /// How long stored data is kept.
    pub retention: RetentionPolicy,
    /// Rule-based metrics for `dynamic_metrics`.
    pub rules: Vec<Rule>,
    /// Merchant segmentation.
    pub clustering: ClusteringPolicy,
}

impl EngineConfig {
    /// Every window width in use, in seconds: the 5-minute windows of
    /// `payment_metrics_5m` and those of the rules.
    pub fn window_widths(&self) -> Vec<i64> {
        let mut widths: Vec<i64> = self.rules.iter().map(|r| r.window_seconds).collect();
        widths.push(FIVE_MINUTES);
        widths.sort_unstable();
        widths.dedup();
        widths
    }
}

/// How long data is kept, from the `retention` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionPolicy {
    /// Day partitions of `normalized_transactions` (and their `transaction_ids` and window
    /// bookkeeping) older than this are dropped by the timer. Unset: kept forever.
    #[serde(with = "optional_duration")]
    pub transactions: Option<Duration>,
    /// Days of partitions the timer creates ahead of today, so ingest never waits on DDL.
    pub partitions_ahead_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            transactions: None,
            partitions_ahead_days: 2,
        }
    }
}

/// Reads a duration written like `30s`, `5m`, `1h`, `90d`.
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub(super) fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration ({e}); write it like 30s, 5m or 1h"))
    }
}

/// An optional duration: absent or null means unset.
pub(crate) mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => super::duration::parse(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl EngineConfig {
    /// Parses YAML text; `path` only names the file in errors.
    ///
    /// # Errors
    /// [`SettingsError::Yaml`] with the line, column and key at fault.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, SettingsError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let file: EngineFile = serde_saphyr::from_str(text).map_err(|e| SettingsError::Yaml {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let rules = rules::compile(&file.rules).map_err(|errors| SettingsError::Rules {
            path: path.to_owned(),
            errors,
        })?;
        let mut config = Self {
            ingest: file.ingest,
            windows: file.windows,
            retention: file.retention,
            rules,
            clustering: file.clustering,
        };
        config.settle(path)?;
        Ok(config)
    }

    /// Checks constraints between sections and fills defaults that depend on other
    /// sections.
    fn settle(&mut self, path: &Path) -> Result<(), SettingsError> {
        let invalid = |message: String| SettingsError::Yaml {
            path: path.to_owned(),
            message,
        };
        self.clustering.validate().map_err(&invalid)?;
        if self.windows.windows_per_chunk == 0 {
            return Err(invalid(
                "windows.windows_per_chunk must be at least 1".into(),
            ));
        }
        if let Some(retention) = self.retention.transactions {
            match self.ingest.max_age {
                None => self.ingest.max_age = Some(retention),
                Some(age) if age > retention => {
                    return Err(invalid(format!(
                        "ingest.max_age ({}) exceeds retention.transactions ({}): events older \
                         than the retention would be stored and counted again after their day \
                         was dropped; lower ingest.max_age or remove it",
                        humantime::format_duration(age),
                        humantime::format_duration(retention)
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// The engine settings in force, reloaded when their file changes.
///
/// Every invocation asks for [`EngineHandle::current`], which reads the file (a few
/// microseconds for a small file) and, when its content changed, parses it: a valid new
/// file is swapped in atomically for this and later invocations; an invalid one is
/// refused with a logged error and the settings in force stay.
#[derive(Debug)]
pub struct EngineHandle {
    path: Option<PathBuf>,
    current: ArcSwap<EngineConfig>,
    /// Hash of the last file content looked at, valid or not, so a bad file is reported
    /// once, not on every invocation.
    seen: Mutex<Option<[u8; 32]>>,
}

impl EngineHandle {
    /// Loads the file at `path`, strictly: an invalid file is an error. A missing file
    /// is an error when `required`, else the defaults (and a file created later is
    /// picked up).
    ///
    /// # Errors
    /// [`SettingsError`] naming the file, line and key.
    pub fn load(path: &Path, required: bool) -> Result<Self, SettingsError> {
        let text = match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let config = match &text {
            Some(bytes) => EngineConfig::from_yaml(&String::from_utf8_lossy(bytes), path)?,
            None => EngineConfig::default(),
        };
        Ok(Self {
            path: Some(path.to_owned()),
            current: ArcSwap::from_pointee(config),
            seen: Mutex::new(text.map(|bytes| Sha256::digest(&bytes).into())),
        })
    }

    /// Loads `path` as [`EngineHandle::load`] does when the file is required, except
    /// that while `path` does not exist the settings come from `fallback` (read
    /// strictly). The file at `path` is picked up as soon as it appears, and from then on
    /// it alone counts: the fallback is never read again.
    ///
    /// # Errors
    /// [`SettingsError`] naming the file, line and key: of `path` when it exists, else
    /// of `fallback`.
    pub fn load_with_fallback(path: &Path, fallback: &Path) -> Result<Self, SettingsError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            _ => return Self::load(path, true),
        }
        let config = Self::load(fallback, true)?.current.load_full();
        tracing::warn!(
            path = %path.display(),
            fallback = %fallback.display(),
            "the engine settings file does not exist; using the fallback until it does"
        );
        Ok(Self {
            path: Some(path.to_owned()),
            current: ArcSwap::new(config),
            seen: Mutex::new(None),
        })
    }

    /// Fixed settings that never reload (tests, embedding).
    pub fn fixed(config: EngineConfig) -> Self {
        Self {
            path: None,
            current: ArcSwap::from_pointee(config),
            seen: Mutex::new(None),
        }
    }

    /// The settings in force, after picking up a changed file.
    pub fn current(&self) -> Arc<EngineConfig> {
        if let Some(path) = &self.path {
            self.reload_if_changed(path);
        }
        self.current.load_full()
    }

    fn reload_if_changed(&self, path: &Path) {
        let Ok(bytes) = std::fs::read(path) else {
            return;
        };
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *seen == Some(hash) {
            return;
        }
        *seen = Some(hash);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // An empty file is what a writer leaves between truncating and writing: never
            // a reason to drop every rule and setting in force.
            tracing::error!(
                path = %path.display(),
                "the engine settings file is empty; the previous settings stay in force"
            );
            return;
        }
        match EngineConfig::from_yaml(&String::from_utf8_lossy(&bytes), path) {
            Ok(config) => {
                tracing::info!(
                    path = %path.display(),
                    rules = config.rules.len(),
                    "engine settings reloaded"
                );
                self.current.store(Arc::new(config));
            }
            Err(e) => tracing::error!(
                error = %e,
                "the changed engine settings are invalid; the previous settings stay in force"
            ),
        }
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
    fn engine_yaml_is_typed_and_strict() {
        let config =
            EngineConfig::from_yaml("ingest:\n  max_future: 2m\n", Path::new("e.yaml")).unwrap();
        assert_eq!(config.ingest.max_future, Duration::from_secs(120));
        let err = EngineConfig::from_yaml("ingest:\n  max_futur: 2m\n", Path::new("e.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("e.yaml") && err.contains("max_futur"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = EngineConfig::from_yaml("ingest:\n  max_future: soon\n", Path::new("e.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"soon\" is not a duration"), "{err}");
    }

    #[test]
    fn retention_bounds_the_age_of_accepted_events() {
        let config =
            EngineConfig::from_yaml("retention:\n  transactions: 30d\n", Path::new("e.yaml"))
                .unwrap();
        assert_eq!(
            config.ingest.max_age,
            Some(Duration::from_secs(30 * 86_400))
        );
        let err = EngineConfig::from_yaml(
            "retention:\n  transactions: 30d\ningest:\n  max_age: 60d\n",
            Path::new("e.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("ingest.max_age") && err.contains("retention.transactions"),
            "{err}"
        );
    }

    #[test]
    fn a_changed_file_is_swapped_in_and_a_bad_one_refused() {
        let dir = std::env::temp_dir().join(format!("pm-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("engine.yaml");
        std::fs::write(&path, "windows:\n  allowed_lateness: 1m\n").unwrap();
        let handle = EngineHandle::load(&path, true).unwrap();
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(60)
        );

        std::fs::write(
            &path,
            "windows:\n  allowed_lateness: 3m\nrules:\n  - name: n\n    aggregate: count()\n",
        )
        .unwrap();
        let good = handle.current();
        assert_eq!(good.windows.allowed_lateness, Duration::from_secs(180));
        assert_eq!(good.rules.len(), 1);

        std::fs::write(&path, "rules:\n  - name: n\n    aggregate: sum(amount)\n").unwrap();
        assert_eq!(
            handle.current(),
            good,
            "a bad file leaves the settings in force"
        );
        std::fs::write(&path, "").unwrap();
        assert_eq!(
            handle.current(),
            good,
            "an empty (half-written) file leaves the settings in force"
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            handle.current(),
            good,
            "a removed file leaves the settings in force"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_fallback_serves_until_the_primary_file_appears_and_then_the_primary_wins() {
        let dir = std::env::temp_dir().join(format!("pm-fallback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (primary, fallback) = (dir.join("uploaded.yaml"), dir.join("packaged.yaml"));
        let _ = std::fs::remove_file(&primary);
        std::fs::write(&fallback, "windows:\n  allowed_lateness: 2m\n").unwrap();
        let handle = EngineHandle::load_with_fallback(&primary, &fallback).unwrap();
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(120)
        );
        std::fs::write(&primary, "windows:\n  allowed_lateness: 4m\n").unwrap();
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(240)
        );
        std::fs::write(&fallback, "windows:\n  allowed_lateness: 9m\n").unwrap();
        std::fs::remove_file(&primary).unwrap();
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(240),
            "once the primary appeared, the fallback is not read again"
        );
        let err = EngineHandle::load_with_fallback(&primary, &dir.join("absent.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent.yaml"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
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

    #[test]
    fn the_shipped_engine_file_loads() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/engine.yaml"));
        let config = EngineHandle::load(path, true).unwrap().current();
        assert_eq!(config.windows.allowed_lateness, Duration::from_secs(60));
    }
}
