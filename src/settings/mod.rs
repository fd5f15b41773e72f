//! Typed settings: the handler's environment ([`HandlerSettings`], this file), the
//! engine's YAML file ([`EngineConfig`], `engine.rs`) and the handle that keeps it
//! current while the handler runs ([`EngineHandle`], `reload.rs`).
//!
//! The environment is read and validated once at start-up; a bad value stops the handler
//! with a message naming the variable and what was expected. The engine file is read at
//! start-up too (a bad one stops the handler, naming the file, line and key) and then
//! polled in the background: a valid change is in force within
//! [`RELOAD_INTERVAL`], an invalid one is refused with a logged error.
//!
//! Settings only parse values into types: what a database setting means for a
//! connection (TLS, authentication) is decided in [`crate::store`], which does not know
//! this module.

mod engine;
mod reload;

use std::path::PathBuf;
use std::time::Duration;

/// Kept here for the callers that name them through settings.
pub use crate::engine::retention::RetentionPolicy;
pub use crate::store::{DatabaseSettings, DbAuth, DbTarget, Secret, SslMode};
pub use engine::EngineConfig;
pub use reload::{EngineHandle, RELOAD_INTERVAL};

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
        /// The engine settings file, as `PAYMETRICS_CONFIG` (or its fallback) names it.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Rules of the engine settings file are not valid.
    #[error("invalid rules in {path}:\n  {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Rules {
        /// The engine settings file, as `PAYMETRICS_CONFIG` (or its fallback) names it.
        path: PathBuf,
        /// Every problem found.
        errors: Vec<RuleError>,
    },
    /// Alerts of the engine settings file are not valid.
    #[error("invalid alerts in {path}:\n  {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Alerts {
        /// The engine settings file, as `PAYMETRICS_CONFIG` (or its fallback) names it.
        path: PathBuf,
        /// Every problem found.
        errors: Vec<crate::engine::alerts::AlertError>,
    },
    /// The engine settings file is not valid.
    #[error("invalid engine settings {path}: {message}")]
    Yaml {
        /// The engine settings file, as `PAYMETRICS_CONFIG` (or its fallback) names it.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
}

/// Default engine settings path, relative to the function app root (the handler's
/// working directory under the Functions host).
pub const DEFAULT_ENGINE_CONFIG: &str = "config/engine.yaml";

/// When the handler applies its embedded migrations (`PAYMETRICS_MIGRATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateMode {
    /// Never by itself: an operator runs `handler migrate` (the default).
    Off,
    /// In the background after start-up, retried until the database answers. Instances
    /// starting together apply each migration once (an advisory lock serializes them).
    OnStart,
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

/// The environment, with blank values read as absent.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// `name`, parsed with `FromStr`; `default` when unset.
    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        expected: &'static str,
    ) -> Result<T, SettingsError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|_| SettingsError::Invalid {
                name,
                value,
                expected,
            }),
        }
    }

    /// `name` as one of `choices` (case-insensitive); `default` when unset.
    fn choice<T: Copy>(
        &self,
        name: &'static str,
        default: T,
        choices: &[(&str, T)],
        expected: &'static str,
    ) -> Result<T, SettingsError> {
        let Some(value) = self.get(name).map(|v| v.to_ascii_lowercase()) else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(text, _)| *text == value)
            .map(|(_, choice)| *choice)
            .ok_or(SettingsError::Invalid {
                name,
                value,
                expected,
            })
    }

    /// `name` as a duration such as `10s`; `default` seconds when unset.
    fn duration(&self, name: &'static str, default: u64) -> Result<Duration, SettingsError> {
        match self.get(name) {
            None => Ok(Duration::from_secs(default)),
            Some(text) => humantime::parse_duration(&text).map_err(|_| SettingsError::Invalid {
                name,
                value: text,
                expected: "a duration such as 10s",
            }),
        }
    }

    /// `DATABASE_URL`, or the `PAYMETRICS_DB_*` parts, and how to authenticate.
    fn database(&self) -> Result<DatabaseSettings, SettingsError> {
        let url = self.get("DATABASE_URL");
        let target = match url {
            Some(url) => DbTarget::Url(Secret::new(url)),
            None => self.database_parts()?,
        };
        let default_auth = match target {
            DbTarget::Url(_) => DbAuth::Password,
            DbTarget::Parts { .. } => DbAuth::Entra,
        };
        let auth = self.choice(
            "PAYMETRICS_DB_AUTH",
            default_auth,
            &[("password", DbAuth::Password), ("entra", DbAuth::Entra)],
            "password or entra",
        )?;
        let sslmode = self.choice(
            "PAYMETRICS_DB_SSLMODE",
            None,
            &[
                ("disable", Some(SslMode::Disable)),
                ("require", Some(SslMode::VerifyFull)),
                ("verify-full", Some(SslMode::VerifyFull)),
                ("verify-ca", Some(SslMode::VerifyFull)),
            ],
            "disable, require or verify-full",
        )?;
        Ok(DatabaseSettings {
            target,
            auth,
            sslmode,
            root_cert: self.get("PAYMETRICS_DB_SSLROOTCERT").map(PathBuf::from),
            client_id: self.get("PAYMETRICS_DB_CLIENT_ID"),
        })
    }

    /// The database's parts, when `DATABASE_URL` is not set.
    fn database_parts(&self) -> Result<DbTarget, SettingsError> {
        let Some(host) = self.get("PAYMETRICS_DB_HOST") else {
            return Err(SettingsError::Missing {
                name: "DATABASE_URL",
                hint: "set it to a PostgreSQL connection string such as \
                       postgres://postgres@127.0.0.1:5432/paymetrics, or set PAYMETRICS_DB_HOST \
                       and PAYMETRICS_DB_USER to connect with Microsoft Entra ID",
            });
        };
        let Some(user) = self.get("PAYMETRICS_DB_USER") else {
            return Err(SettingsError::Missing {
                name: "PAYMETRICS_DB_USER",
                hint: "set it to the database role: with Microsoft Entra ID, the name of the \
                       identity's principal (the Function App's name for its managed identity)",
            });
        };
        Ok(DbTarget::Parts {
            host,
            port: self.parse("PAYMETRICS_DB_PORT", 5432, "a TCP port number")?,
            name: self
                .get("PAYMETRICS_DB_NAME")
                .unwrap_or_else(|| "paymetrics".into()),
            user,
        })
    }

    /// The pool's size and time limits.
    fn pool(&self) -> Result<PoolSettings, SettingsError> {
        let max_size = self.parse("PAYMETRICS_DB_POOL_SIZE", 8usize, "a whole number")?;
        if max_size == 0 {
            return Err(SettingsError::Invalid {
                name: "PAYMETRICS_DB_POOL_SIZE",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        Ok(PoolSettings {
            max_size,
            timeout: self.duration("PAYMETRICS_DB_TIMEOUT", 10)?,
            statement_timeout: self.duration("PAYMETRICS_DB_STATEMENT_TIMEOUT", 300)?,
            lock_timeout: self.duration("PAYMETRICS_DB_LOCK_TIMEOUT", 30)?,
        })
    }
}

impl HandlerSettings {
    /// The engine settings these settings name: `PAYMETRICS_CONFIG`, or
    /// `PAYMETRICS_CONFIG_FALLBACK` while that file does not exist. Inside a Tokio
    /// runtime, the returned handle polls the file every [`RELOAD_INTERVAL`].
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
        let env = Env(lookup);
        let database = env.database()?;
        let migrate = env.choice(
            "PAYMETRICS_MIGRATE",
            MigrateMode::Off,
            &[
                ("off", MigrateMode::Off),
                ("on-start", MigrateMode::OnStart),
            ],
            "off or on-start",
        )?;
        let port = env.parse("FUNCTIONS_CUSTOMHANDLER_PORT", 3000, "a TCP port number")?;
        let engine_config = env.get("PAYMETRICS_CONFIG");
        Ok(Self {
            database,
            port,
            engine_config_explicit: engine_config.is_some(),
            engine_config: PathBuf::from(
                engine_config.unwrap_or_else(|| DEFAULT_ENGINE_CONFIG.into()),
            ),
            engine_config_fallback: env.get("PAYMETRICS_CONFIG_FALLBACK").map(PathBuf::from),
            migrate,
            pool: env.pool()?,
            max_body_bytes: env.parse(
                "PAYMETRICS_MAX_BODY_BYTES",
                256 * 1024 * 1024,
                "a number of bytes",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

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

    #[test]
    fn database_parts_connect_with_entra_by_default() {
        let s = HandlerSettings::from_lookup(env(&[
            ("PAYMETRICS_DB_HOST", "pg.example"),
            ("PAYMETRICS_DB_USER", "func-app"),
            ("PAYMETRICS_DB_PORT", "6432"),
        ]))
        .unwrap();
        assert_eq!(s.database.auth, DbAuth::Entra);
        let DbTarget::Parts {
            host,
            port,
            name,
            user,
        } = s.database.target
        else {
            panic!("expected parts, got {:?}", s.database.target);
        };
        assert_eq!(
            (host.as_str(), port, name.as_str(), user.as_str()),
            ("pg.example", 6432, "paymetrics", "func-app")
        );
        let err = HandlerSettings::from_lookup(env(&[("PAYMETRICS_DB_HOST", "pg.example")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "PAYMETRICS_DB_USER is not set; set it to the database role: with Microsoft Entra \
             ID, the name of the identity's principal (the Function App's name for its managed \
             identity)"
        );
    }

    #[test]
    fn pool_limits_and_the_body_limit_are_read_and_checked() {
        let url = ("DATABASE_URL", "postgres://h/db");
        let s = HandlerSettings::from_lookup(env(&[
            url,
            ("PAYMETRICS_DB_POOL_SIZE", " 3 "),
            ("PAYMETRICS_DB_TIMEOUT", "2s"),
            ("PAYMETRICS_DB_STATEMENT_TIMEOUT", "1m"),
            ("PAYMETRICS_DB_LOCK_TIMEOUT", "500ms"),
            ("PAYMETRICS_MAX_BODY_BYTES", "1048576"),
        ]))
        .unwrap();
        assert_eq!(s.pool.max_size, 3);
        assert_eq!(s.pool.timeout, Duration::from_secs(2));
        assert_eq!(s.pool.statement_timeout, Duration::from_secs(60));
        assert_eq!(s.pool.lock_timeout, Duration::from_millis(500));
        assert_eq!(s.max_body_bytes, 1_048_576);
        let refused = |name: &str, value: &str| {
            HandlerSettings::from_lookup(env(&[url, (name, value)]))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused("PAYMETRICS_DB_POOL_SIZE", "0"),
            "PAYMETRICS_DB_POOL_SIZE=\"0\" is invalid: expected at least 1"
        );
        assert_eq!(
            refused("PAYMETRICS_DB_LOCK_TIMEOUT", "soon"),
            "PAYMETRICS_DB_LOCK_TIMEOUT=\"soon\" is invalid: expected a duration such as 10s"
        );
        assert_eq!(
            refused("PAYMETRICS_MAX_BODY_BYTES", "lots"),
            "PAYMETRICS_MAX_BODY_BYTES=\"lots\" is invalid: expected a number of bytes"
        );
    }

    #[test]
    fn the_engine_file_named_by_the_settings_is_loaded() {
        let dir = std::env::temp_dir().join(format!("pm-settings-engine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (absent, fallback) = (dir.join("absent.yaml"), dir.join("packaged.yaml"));
        std::fs::write(&fallback, "windows:\n  allowed_lateness: 7m\n").unwrap();
        let settings = |config: &Path, fallback: Option<&Path>| {
            let mut pairs = vec![
                ("DATABASE_URL", "postgres://h/db"),
                ("PAYMETRICS_CONFIG", config.to_str().unwrap()),
            ];
            if let Some(fallback) = fallback {
                pairs.push(("PAYMETRICS_CONFIG_FALLBACK", fallback.to_str().unwrap()));
            }
            HandlerSettings::from_lookup(env(&pairs)).unwrap()
        };
        let lateness = |s: &HandlerSettings| s.engine().unwrap().current().windows.allowed_lateness;
        assert_eq!(
            lateness(&settings(&absent, Some(&fallback))),
            Duration::from_secs(420),
            "the fallback serves while the named file does not exist"
        );
        assert_eq!(
            lateness(&settings(&fallback, Some(&absent))),
            Duration::from_secs(420),
            "a named file that exists wins, and the fallback is not read"
        );
        let err = settings(&absent, None).engine().unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read the engine settings ") && err.contains("absent.yaml"),
            "an explicitly named file must exist: {err}"
        );
        let mut implicit = settings(&absent, None);
        implicit.engine_config_explicit = false;
        assert_eq!(
            *implicit.engine().unwrap().current(),
            EngineConfig::default(),
            "a missing default file means the built-in defaults"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
