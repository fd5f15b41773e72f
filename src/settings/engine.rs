//! The engine settings file (`config/engine.yaml`): its typed, validated form, and the
//! handle that reloads it when it changes (or while it is missing, serves a fallback).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::SettingsError;
use crate::engine::WindowPolicy;
use crate::engine::clustering::ClusteringPolicy;
use crate::engine::rules::{self, Rule, RuleSpec};
use crate::engine::windows::FIVE_MINUTES;
use crate::ingest::IngestPolicy;

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

    /// Reads and validates an engine settings file the way a running handler takes up a
    /// changed one (`handler check-config`): strictly, and an empty file is refused, since
    /// a running handler ignores it (it is what a writer leaves half-way).
    ///
    /// # Errors
    /// [`SettingsError`] naming the file, and the line and key at fault.
    pub fn check_file(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        if text.trim().is_empty() {
            return Err(SettingsError::Yaml {
                path: path.to_owned(),
                message: "the file is empty; a running handler would ignore it".into(),
            });
        }
        Self::from_yaml(&text, path)
    }

    /// One line about these settings: the rules, the window widths and the retention,
    /// e.g. `5 rules, window widths 5m 15m 1h, transactions kept forever`.
    pub fn summary(&self) -> String {
        let widths: Vec<String> = self
            .window_widths()
            .iter()
            .map(|w| humantime::format_duration(Duration::from_secs(w.unsigned_abs())).to_string())
            .collect();
        let retention = self
            .retention
            .transactions
            .map_or("kept forever".to_owned(), |d| {
                format!("kept {}", humantime::format_duration(d))
            });
        format!(
            "{} rules, window widths {}, transactions {retention}",
            self.rules.len(),
            widths.join(" ")
        )
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
    fn a_checked_file_is_summarized_and_an_empty_one_refused() {
        let dir = std::env::temp_dir().join(format!("pm-check-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("engine.yaml");
        std::fs::write(
            &path,
            "retention:\n  transactions: 30d\nrules:\n  - name: n\n    window: 1h\n    aggregate: count()\n",
        )
        .unwrap();
        assert_eq!(
            EngineConfig::check_file(&path).unwrap().summary(),
            "1 rules, window widths 5m 1h, transactions kept 30days"
        );
        std::fs::write(&path, "  \n").unwrap();
        let err = EngineConfig::check_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("engine.yaml") && err.contains("is empty"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_shipped_engine_file_loads() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/engine.yaml"));
        let config = EngineHandle::load(path, true).unwrap().current();
        assert_eq!(config.windows.allowed_lateness, Duration::from_secs(60));
    }
}
