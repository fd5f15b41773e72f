//! The engine settings file (`config/engine.yaml`): its sections as written, and the
//! typed, validated [`EngineConfig`] with the checks between sections.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::SettingsError;
use crate::engine::WindowPolicy;
use crate::engine::alerts::{self, Alert, AlertSpec};
use crate::engine::clustering::ClusteringPolicy;
use crate::engine::retention::RetentionPolicy;
use crate::engine::rules::{self, Rule, RuleSpec};
use crate::engine::windows;
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
    alerts: Vec<AlertSpec>,
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
    /// Alerts on the metrics, judged at each close into `metric_alerts`.
    pub alerts: Vec<Alert>,
    /// Merchant segmentation, run by the timer.
    pub clustering: ClusteringPolicy,
}

impl EngineConfig {
    /// Every window width in use, in seconds: the 5-minute windows of
    /// `payment_metrics_5m` and those of the rules.
    pub fn window_widths(&self) -> Vec<i64> {
        windows::widths(self.rules.iter().map(|r| r.window_seconds))
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
        let alerts =
            alerts::compile(&file.alerts, &rules).map_err(|errors| SettingsError::Alerts {
                path: path.to_owned(),
                errors,
            })?;
        let mut config = Self {
            ingest: file.ingest,
            windows: file.windows,
            retention: file.retention,
            rules,
            alerts,
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
    fn durations_that_would_overflow_a_date_are_refused_with_their_key() {
        // Accepted before, they panicked the handler: every event (ingest.max_future,
        // max_age) or every timer run (windows.allowed_lateness, the retention cutoffs).
        for (yaml, key) in [
            ("ingest:\n  max_future: 300000y\n", "max_future"),
            ("ingest:\n  max_age: 300000y\n", "max_age"),
            (
                "windows:\n  allowed_lateness: 300000y\n",
                "allowed_lateness",
            ),
            (
                "retention:\n  rejected_events: 300000y\n",
                "rejected_events",
            ),
            ("clustering:\n  period: 300000y\n", "period"),
        ] {
            let err = EngineConfig::from_yaml(yaml, Path::new("e.yaml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("e.yaml") && err.contains(key) && err.contains("longer than 100y"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_quarantine_is_kept_forever_unless_its_retention_is_set() {
        let config = EngineConfig::from_yaml("{}\n", Path::new("e.yaml")).unwrap();
        assert_eq!(config.retention.rejected_events, None);
        let config =
            EngineConfig::from_yaml("retention:\n  rejected_events: 30d\n", Path::new("e.yaml"))
                .unwrap();
        assert_eq!(
            config.retention.rejected_events,
            Some(Duration::from_secs(30 * 86_400))
        );
        let err = EngineConfig::from_yaml(
            "retention:\n  rejected_events: later\n",
            Path::new("e.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("e.yaml")
                && err.contains("rejected_events")
                && err.contains("\"later\" is not a duration"),
            "{err}"
        );
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
    fn a_blank_file_means_the_defaults() {
        let config = EngineConfig::from_yaml(" \n\n", Path::new("e.yaml")).unwrap();
        assert_eq!(config, EngineConfig::default());
    }

    #[test]
    fn a_file_that_cannot_be_read_is_named() {
        let path = std::env::temp_dir().join(format!("pm-no-such-{}.yaml", std::process::id()));
        let err = EngineConfig::check_file(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "cannot read the engine settings {}: ",
                path.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn checks_between_sections_name_the_key_and_the_fix() {
        for (yaml, message) in [
            (
                "windows:\n  windows_per_chunk: 0\n",
                "invalid engine settings e.yaml: windows.windows_per_chunk must be at least 1",
            ),
            (
                "clustering:\n  k: 1\n",
                "invalid engine settings e.yaml: clustering.k must be at least 2",
            ),
        ] {
            let err = EngineConfig::from_yaml(yaml, Path::new("e.yaml")).unwrap_err();
            assert_eq!(err.to_string(), message, "{yaml}");
        }
    }

    #[test]
    fn a_maximum_age_within_the_retention_is_kept() {
        let config = EngineConfig::from_yaml(
            "retention:\n  transactions: 30d\ningest:\n  max_age: 1d\n",
            Path::new("e.yaml"),
        )
        .unwrap();
        assert_eq!(config.ingest.max_age, Some(Duration::from_secs(86_400)));
    }
}
