//! Alerts on the metrics: analysts declare them in the engine YAML (`alerts:`), the timer
//! judges every window it has just closed or recomputed, and an alert is state: it fires
//! once when its condition has held for `for` consecutive windows of a group, and
//! resolves once when a later window of that group no longer breaches.
//!
//! This module parses and checks the definitions ([`compile`]) and judges a group's
//! series ([`judge`]); it does no I/O. `store` reads the series, keeps the state in
//! `metric_alerts` and reports the transitions.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::rules::Rule;
use super::windows::FIVE_MINUTES;

/// An alert as written in the YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// Unique name.
    pub name: Spanned<String>,
    /// What it means, for the person told.
    #[serde(default)]
    pub description: Option<String>,
    /// Azure Monitor's scale: 0 critical, 1 error, 2 warning, 3 informational, 4 verbose.
    #[serde(default)]
    pub severity: Option<Spanned<i64>>,
    /// A rule's name, or a `payment_metrics_5m` measure.
    pub on: Spanned<String>,
    /// Breach when the value is above this.
    #[serde(default)]
    pub above: Option<Spanned<f64>>,
    /// Breach when the value is below this.
    #[serde(default)]
    pub below: Option<Spanned<f64>>,
    /// Breach when the value is this many standard deviations from the baseline's mean
    /// (`3 sigma`).
    #[serde(default)]
    pub deviates_by: Option<Spanned<String>>,
    /// Breach when the value falls this far under the baseline's mean (`20%`).
    #[serde(default)]
    pub drops_by: Option<Spanned<String>>,
    /// Breach when the value rises this far over the baseline's mean (`200%`: tripled).
    #[serde(default)]
    pub rises_by: Option<Spanned<String>>,
    /// Baseline: the previous N windows of the group.
    #[serde(default)]
    pub baseline_windows: Option<Spanned<i64>>,
    /// Baseline: the same window of the previous N days.
    #[serde(default)]
    pub baseline_days: Option<Spanned<i64>>,
    /// Consecutive breaching windows before it fires (default 1).
    #[serde(default, rename = "for")]
    pub for_windows: Option<Spanned<i64>>,
    /// Groups with fewer transactions in a window never breach (default 1).
    #[serde(default)]
    pub min_samples: Option<Spanned<i64>>,
}

/// A `payment_metrics_5m` measure an alert can watch, per payment type and currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `approval_rate`
    ApprovalRate,
    /// `declined_count / txn_count`
    DeclineRate,
    /// `fraud_count / txn_count`
    FraudRate,
    /// `txn_count`
    TxnCount,
    /// `total_amount`
    TotalAmount,
    /// `avg_amount`
    AvgAmount,
    /// `p95_amount`
    P95Amount,
    /// `fraud_count`
    FraudCount,
    /// `declined_count`
    DeclinedCount,
    /// `failed_count`
    FailedCount,
    /// `refunded_count`
    RefundedCount,
}

/// Every measure by its name in the YAML.
pub const MEASURES: &[(&str, Measure)] = &[
    ("approval_rate", Measure::ApprovalRate),
    ("decline_rate", Measure::DeclineRate),
    ("fraud_rate", Measure::FraudRate),
    ("txn_count", Measure::TxnCount),
    ("total_amount", Measure::TotalAmount),
    ("avg_amount", Measure::AvgAmount),
    ("p95_amount", Measure::P95Amount),
    ("fraud_count", Measure::FraudCount),
    ("declined_count", Measure::DeclinedCount),
    ("failed_count", Measure::FailedCount),
    ("refunded_count", Measure::RefundedCount),
];

impl Measure {
    /// The measure's name, as written.
    pub fn name(self) -> &'static str {
        MEASURES
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .expect("listed")
    }
}

/// What an alert watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `payment_metrics_5m` measure per payment type and currency, 5-minute windows.
    Measure(Measure),
    /// A rule's `dynamic_metrics` value per group, in the rule's windows.
    Rule {
        /// The rule's name.
        name: String,
        /// Its window width in seconds.
        window_seconds: i64,
    },
}

impl Source {
    /// The width of the windows judged, in seconds.
    pub fn window_seconds(&self) -> i64 {
        match self {
            Self::Measure(_) => FIVE_MINUTES,
            Self::Rule { window_seconds, .. } => *window_seconds,
        }
    }
}

/// The history a deviation is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The previous N windows of the group.
    Windows(u32),
    /// The same window on each of the previous N days.
    Days(u32),
}

/// When a window breaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// The value is above the threshold.
    Above(f64),
    /// The value is below the threshold.
    Below(f64),
    /// `|value - mean| >= sigmas * stddev` of the baseline.
    Deviates {
        /// How many standard deviations.
        sigmas: f64,
        /// Against what.
        baseline: Baseline,
    },
    /// `value <= mean * (1 - fraction)`.
    Drops {
        /// How far under the mean, as a fraction.
        fraction: f64,
        /// Against what.
        baseline: Baseline,
    },
    /// `value >= mean * (1 + fraction)`.
    Rises {
        /// How far over the mean, as a fraction.
        fraction: f64,
        /// Against what.
        baseline: Baseline,
    },
}

impl Condition {
    /// The baseline the condition needs, if any.
    pub fn baseline(&self) -> Option<Baseline> {
        match self {
            Self::Above(_) | Self::Below(_) => None,
            Self::Deviates { baseline, .. }
            | Self::Drops { baseline, .. }
            | Self::Rises { baseline, .. } => Some(*baseline),
        }
    }
}

/// A validated alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Unique name: `alert` of its rows in `metric_alerts`.
    pub name: String,
    /// What it means.
    pub description: Option<String>,
    /// 0 (critical) to 4 (verbose).
    pub severity: u8,
    /// What it watches.
    pub source: Source,
    /// When a window breaches.
    pub condition: Condition,
    /// Consecutive breaching windows before it fires.
    pub for_windows: u32,
    /// Windows of a group with fewer transactions never breach, nor count in a baseline.
    pub min_samples: i64,
}

/// An alert that failed validation: which, where, what and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: alert {alert:?}: {message}")]
pub struct AlertError {
    /// 1-based line in the YAML file.
    pub line: u64,
    /// The alert's name.
    pub alert: String,
    /// What is wrong and the fix.
    pub message: String,
}

/// The default baseline of a deviation: the previous hour of 5-minute windows.
const DEFAULT_BASELINE_WINDOWS: u32 = 12;
const MAX_BASELINE_WINDOWS: i64 = 2016;
const MAX_BASELINE_DAYS: i64 = 35;
const MAX_FOR: i64 = 288;

/// Validates every alert against the rules of the same file.
///
/// # Errors
/// Every problem of every alert, each with its line, alert name and fix.
pub fn compile(specs: &[AlertSpec], rules: &[Rule]) -> Result<Vec<Alert>, Vec<AlertError>> {
    let mut alerts = Vec::new();
    let mut errors = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for spec in specs {
        let name = spec.name.value.as_str();
        let line = spec.name.referenced.line();
        let mut fail = |line: u64, message: String| {
            errors.push(AlertError {
                line,
                alert: name.to_owned(),
                message,
            });
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            fail(
                line,
                "the name must be letters, digits, _ or - (it names the alert in Azure Monitor)"
                    .into(),
            );
        }
        if names.contains(&name) {
            fail(
                line,
                "another alert has this name; names must be unique".into(),
            );
        }
        names.push(name);
        match compile_one(spec, rules) {
            Ok(alert) => alerts.push(alert),
            Err((line, message)) => fail(line, message),
        }
    }
    if errors.is_empty() {
        Ok(alerts)
    } else {
        Err(errors)
    }
}

fn compile_one(spec: &AlertSpec, rules: &[Rule]) -> Result<Alert, (u64, String)> {
    let at = |s: &serde_saphyr::Location| s.line();
    let severity = match &spec.severity {
        None => 2,
        Some(s) if (0..=4).contains(&s.value) => u8::try_from(s.value).unwrap_or(2),
        Some(s) => {
            return Err((
                at(&s.referenced),
                format!(
                    "severity {} is not on Azure Monitor's scale: use 0 (critical), 1 (error), \
                     2 (warning), 3 (informational) or 4 (verbose)",
                    s.value
                ),
            ));
        }
    };
    let source = source(spec, rules)?;
    let baseline = baseline(spec)?;
    let condition = condition(spec, baseline)?;
    let positive = |field: &Option<Spanned<i64>>, what: &str, default: i64, max: i64| match field {
        None => Ok(default),
        Some(v) if (1..=max).contains(&v.value) => Ok(v.value),
        Some(v) => Err((
            at(&v.referenced),
            format!(
                "{what} must be a whole number from 1 to {max}, not {}",
                v.value
            ),
        )),
    };
    let for_windows = positive(&spec.for_windows, "for", 1, MAX_FOR)?;
    let min_samples = match &spec.min_samples {
        None => 1,
        Some(v) if v.value >= 0 => v.value,
        Some(v) => {
            return Err((
                at(&v.referenced),
                format!("min_samples must not be negative, not {}", v.value),
            ));
        }
    };
    Ok(Alert {
        name: spec.name.value.clone(),
        description: spec.description.clone(),
        severity,
        source,
        condition,
        for_windows: u32::try_from(for_windows).unwrap_or(1),
        min_samples,
    })
}

/// What `on` names: a measure, or a rule of the same file.
fn source(spec: &AlertSpec, rules: &[Rule]) -> Result<Source, (u64, String)> {
    let on = spec.on.value.trim();
    if let Some((_, m)) = MEASURES.iter().find(|(n, _)| *n == on) {
        Ok(Source::Measure(*m))
    } else if let Some(rule) = rules.iter().find(|r| r.name == on) {
        Ok(Source::Rule {
            name: rule.name.clone(),
            window_seconds: rule.window_seconds,
        })
    } else {
        Err((
            spec.on.referenced.line(),
            format!(
                "on: '{on}' is neither a rule of this file nor a payment_metrics_5m measure; \
                 the measures are {}{}",
                MEASURES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
                if rules.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", the rules {}",
                        rules
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        ))
    }
}

fn baseline(spec: &AlertSpec) -> Result<Option<Baseline>, (u64, String)> {
    match (&spec.baseline_windows, &spec.baseline_days) {
        (Some(_), Some(days)) => Err((
            days.referenced.line(),
            "baseline_windows and baseline_days exclude each other: choose the previous \
             windows or the same time on previous days"
                .into(),
        )),
        (Some(w), None) if (2..=MAX_BASELINE_WINDOWS).contains(&w.value) => Ok(Some(
            Baseline::Windows(u32::try_from(w.value).unwrap_or(12)),
        )),
        (Some(w), None) => Err((
            w.referenced.line(),
            format!(
                "baseline_windows must be from 2 to {MAX_BASELINE_WINDOWS}, not {}",
                w.value
            ),
        )),
        (None, Some(d)) if (1..=MAX_BASELINE_DAYS).contains(&d.value) => {
            Ok(Some(Baseline::Days(u32::try_from(d.value).unwrap_or(7))))
        }
        (None, Some(d)) => Err((
            d.referenced.line(),
            format!(
                "baseline_days must be from 1 to {MAX_BASELINE_DAYS}, not {}",
                d.value
            ),
        )),
        (None, None) => Ok(None),
    }
}

fn condition(spec: &AlertSpec, baseline: Option<Baseline>) -> Result<Condition, (u64, String)> {
    let line = spec.name.referenced.line();
    let set: Vec<&str> = [
        ("above", spec.above.is_some()),
        ("below", spec.below.is_some()),
        ("deviates_by", spec.deviates_by.is_some()),
        ("drops_by", spec.drops_by.is_some()),
        ("rises_by", spec.rises_by.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(n, _)| *n)
    .collect();
    if set.len() != 1 {
        return Err((
            line,
            format!(
                "give exactly one condition of above, below, deviates_by, drops_by, rises_by \
                 (found {})",
                if set.is_empty() {
                    "none".to_owned()
                } else {
                    set.join(", ")
                }
            ),
        ));
    }
    let threshold_with_baseline = |field: &Spanned<f64>| -> Result<(), (u64, String)> {
        if baseline.is_some() {
            return Err((
                field.referenced.line(),
                "a threshold (above/below) compares with a fixed value: remove \
                 baseline_windows/baseline_days"
                    .into(),
            ));
        }
        if field.value.is_finite() {
            Ok(())
        } else {
            Err((
                field.referenced.line(),
                "the threshold must be a number".into(),
            ))
        }
    };
    if let Some(above) = &spec.above {
        threshold_with_baseline(above)?;
        return Ok(Condition::Above(above.value));
    }
    if let Some(below) = &spec.below {
        threshold_with_baseline(below)?;
        return Ok(Condition::Below(below.value));
    }
    let baseline = baseline.unwrap_or(Baseline::Windows(DEFAULT_BASELINE_WINDOWS));
    if let Some(d) = &spec.deviates_by {
        let sigmas = sigmas(d)?;
        return Ok(Condition::Deviates { sigmas, baseline });
    }
    if let Some(d) = &spec.drops_by {
        let fraction = percent(d, "drops_by", 100.0)?;
        return Ok(Condition::Drops { fraction, baseline });
    }
    let r = spec.rises_by.as_ref().expect("one condition is set");
    let fraction = percent(r, "rises_by", 100_000.0)?;
    Ok(Condition::Rises { fraction, baseline })
}

/// `3 sigma` as a number of standard deviations.
fn sigmas(field: &Spanned<String>) -> Result<f64, (u64, String)> {
    field
        .value
        .trim()
        .strip_suffix("sigma")
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            (
                field.referenced.line(),
                format!(
                    "deviates_by: '{}' is not a number of standard deviations such as '3 sigma'",
                    field.value
                ),
            )
        })
}

/// `20%` as a fraction, above 0 and at most `max` percent.
fn percent(field: &Spanned<String>, what: &str, max: f64) -> Result<f64, (u64, String)> {
    field
        .value
        .trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|p| p.is_finite() && *p > 0.0 && *p <= max)
        .map(|p| p / 100.0)
        .ok_or_else(|| {
            (
                field.referenced.line(),
                format!(
                    "{what}: '{}' is not a percentage above 0 and at most {max}%, such as '20%'",
                    field.value
                ),
            )
        })
}

/// One window of a group: its value and how many transactions it had.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The measure's or rule's value (`None`: nothing to compute, never a breach).
    pub value: Option<f64>,
    /// Transactions in the window (the rule's `sample_count`).
    pub samples: i64,
}

/// What one window of a group is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The window judged.
    pub window_start: DateTime<Utc>,
    /// Its value.
    pub value: Option<f64>,
    /// The baseline's mean (a threshold for `above`/`below`).
    pub baseline: Option<f64>,
    /// The window breaches the condition.
    pub breach: bool,
    /// Consecutive breaching windows ending with this one (0 when it does not breach).
    pub streak: u32,
}

impl Verdict {
    /// The alert should be firing at this window.
    pub fn fires(&self, alert: &Alert) -> bool {
        self.streak >= alert.for_windows
    }
}

/// Judges the window of `series` (one group's windows by start) that starts at `window`.
///
/// Windows are judged in order from the start of the series, so that a baseline of the
/// previous windows leaves out those that breached: during a drop that lasts an hour the
/// baseline stays what it was before the drop, instead of sinking with it and resolving
/// the alert while the drop goes on.
pub fn judge(
    alert: &Alert,
    series: &BTreeMap<DateTime<Utc>, Sample>,
    window: DateTime<Utc>,
) -> Verdict {
    judge_all(alert, series, &[window]).remove(0)
}

/// [`judge`] for several windows of the same group, in one pass over its series.
pub fn judge_all(
    alert: &Alert,
    series: &BTreeMap<DateTime<Utc>, Sample>,
    windows: &[DateTime<Utc>],
) -> Vec<Verdict> {
    let width = TimeDelta::seconds(alert.source.window_seconds());
    let Some(last) = windows.iter().max() else {
        return Vec::new();
    };
    let mut judged: BTreeMap<DateTime<Utc>, Judged> = BTreeMap::new();
    for at in series.range(..=*last).map(|(at, _)| *at) {
        let verdict = breach(alert, series, &judged, at, width);
        judged.insert(at, verdict);
    }
    windows
        .iter()
        .map(|window| {
            let (breaches, value, baseline) =
                judged.get(window).copied().unwrap_or((false, None, None));
            let mut streak = 0;
            if breaches {
                streak = 1;
                let mut at = *window - width;
                while streak < alert.for_windows && judged.get(&at).is_some_and(|j| j.0) {
                    streak += 1;
                    at -= width;
                }
            }
            Verdict {
                window_start: *window,
                value,
                baseline,
                breach: breaches,
                streak,
            }
        })
        .collect()
}

/// A window's judgement: breaches, its value, the baseline it was judged by.
type Judged = (bool, Option<f64>, Option<f64>);

/// Whether the window at `at` breaches, its value, and the baseline it was judged by;
/// `judged` holds the verdicts of the windows before it.
fn breach(
    alert: &Alert,
    series: &BTreeMap<DateTime<Utc>, Sample>,
    judged: &BTreeMap<DateTime<Utc>, Judged>,
    at: DateTime<Utc>,
    width: TimeDelta,
) -> Judged {
    let Some(sample) = series.get(&at) else {
        return (false, None, None);
    };
    let value = sample.value;
    let counted = |s: &Sample| s.samples >= alert.min_samples.max(1);
    let Some(v) = value.filter(|_| counted(sample)) else {
        return (false, value, None);
    };
    let history = |baseline: Baseline| -> Vec<f64> {
        match baseline {
            // The previous N windows that did not breach, looking back at most 3N.
            Baseline::Windows(n) => (1..=i32::try_from(n * 3).unwrap_or(0))
                .map(|k| at - width * k)
                .filter(|w| !judged.get(w).is_some_and(|j| j.0))
                .filter_map(|w| series.get(&w))
                .filter(|s| counted(s))
                .filter_map(|s| s.value)
                .take(usize::try_from(n).unwrap_or(0))
                .collect(),
            Baseline::Days(n) => (1..=i32::try_from(n).unwrap_or(0))
                .filter_map(|k| series.get(&(at - TimeDelta::days(1) * k)))
                .filter(|s| counted(s))
                .filter_map(|s| s.value)
                .collect(),
        }
    };
    match alert.condition {
        Condition::Above(t) => (v > t, value, Some(t)),
        Condition::Below(t) => (v < t, value, Some(t)),
        Condition::Deviates { sigmas, baseline } => {
            let past = history(baseline);
            if past.len() < 2 {
                return (false, value, None);
            }
            let n = past.len() as f64;
            let mean = past.iter().sum::<f64>() / n;
            let sd = (past.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let breaches = if sd == 0.0 {
                (v - mean).abs() > f64::EPSILON * mean.abs().max(1.0)
            } else {
                (v - mean).abs() >= sigmas * sd
            };
            (breaches, value, Some(mean))
        }
        Condition::Drops { fraction, baseline } | Condition::Rises { fraction, baseline } => {
            let past = history(baseline);
            if past.is_empty() {
                return (false, value, None);
            }
            let mean = past.iter().sum::<f64>() / past.len() as f64;
            let breaches = match alert.condition {
                Condition::Drops { .. } => v <= mean * (1.0 - fraction),
                _ => v >= mean * (1.0 + fraction),
            };
            (breaches, value, Some(mean))
        }
    }
}

/// How far back of the earliest judged window the series must reach: the windows of the
/// `for` streak and of the baseline.
pub fn lookback(alert: &Alert) -> TimeDelta {
    let width = TimeDelta::seconds(alert.source.window_seconds());
    let streak = width * i32::try_from(alert.for_windows.saturating_sub(1)).unwrap_or(0);
    let baseline = match alert.condition.baseline() {
        None => TimeDelta::zero(),
        // Breaching windows are left out of the baseline: up to 3N windows back.
        Some(Baseline::Windows(n)) => width * i32::try_from(n * 3).unwrap_or(0),
        Some(Baseline::Days(n)) => TimeDelta::days(i64::from(n)),
    };
    streak + baseline
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::settings::EngineConfig;

    fn compiled(yaml: &str) -> Result<Vec<Alert>, String> {
        EngineConfig::from_yaml(yaml, Path::new("engine.yaml"))
            .map(|c| c.alerts)
            .map_err(|e| e.to_string())
    }

    fn t(minutes: i64) -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minutes)
    }

    fn series(values: &[(i64, f64, i64)]) -> BTreeMap<DateTime<Utc>, Sample> {
        values
            .iter()
            .map(|(m, v, n)| {
                (
                    t(*m),
                    Sample {
                        value: Some(*v),
                        samples: *n,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn each_condition_kind_and_baseline_is_read() {
        let alerts = compiled(
            "rules:
  - name: declines
    window: 15m
    aggregate: ratio(status == 'declined')
alerts:
  - name: a
    severity: 1
    on: approval_rate
    drops_by: 20%
    baseline_windows: 6
    for: 2
    min_samples: 50
  - name: b
    on: declines
    deviates_by: 3 sigma
    baseline_days: 7
  - name: c
    on: fraud_count
    above: 5
",
        )
        .unwrap();
        assert_eq!(alerts[0].severity, 1);
        assert_eq!(alerts[0].source, Source::Measure(Measure::ApprovalRate));
        assert_eq!(
            alerts[0].condition,
            Condition::Drops {
                fraction: 0.2,
                baseline: Baseline::Windows(6)
            }
        );
        assert_eq!((alerts[0].for_windows, alerts[0].min_samples), (2, 50));
        assert_eq!(
            alerts[1].source,
            Source::Rule {
                name: "declines".into(),
                window_seconds: 900
            }
        );
        assert_eq!(
            alerts[1].condition,
            Condition::Deviates {
                sigmas: 3.0,
                baseline: Baseline::Days(7)
            }
        );
        assert_eq!(alerts[2].severity, 2, "warning by default");
        assert_eq!(alerts[2].condition, Condition::Above(5.0));
        assert_eq!(lookback(&alerts[0]), TimeDelta::minutes(5 * (18 + 1)));
        assert_eq!(lookback(&alerts[1]), TimeDelta::days(7));
    }

    #[test]
    fn every_mistake_is_named_with_its_line_and_fix() {
        let cases = [
            ("on: approval_rat\n    above: 1", 3, "neither a rule"),
            ("on: approval_rate", 2, "exactly one condition"),
            (
                "on: approval_rate\n    above: 1\n    below: 0",
                2,
                "found above, below",
            ),
            (
                "on: approval_rate\n    severity: 7\n    above: 1",
                4,
                "Azure Monitor's scale",
            ),
            ("on: approval_rate\n    drops_by: 20", 4, "percentage"),
            ("on: approval_rate\n    deviates_by: lots", 4, "'3 sigma'"),
            (
                "on: approval_rate\n    above: 1\n    baseline_days: 3",
                4,
                "fixed value",
            ),
            (
                "on: approval_rate\n    drops_by: 10%\n    baseline_days: 3\n    baseline_windows: 4",
                5,
                "exclude each other",
            ),
            (
                "on: approval_rate\n    above: 1\n    for: 0",
                5,
                "for must be",
            ),
        ];
        for (body, line, message) in cases {
            let yaml = format!("alerts:\n  - name: x\n    {body}\n");
            let error = compiled(&yaml).unwrap_err();
            assert!(
                error.contains(&format!("line {line}: alert \"x\"")),
                "{yaml}\n{error}"
            );
            assert!(error.contains(message), "{yaml}\n{error}");
        }
        let error = compiled(
            "alerts:\n  - name: x\n    on: txn_count\n    above: 1\n  - name: x\n    on: txn_count\n    above: 2\n",
        )
        .unwrap_err();
        assert!(
            error.contains("line 5") && error.contains("unique"),
            "{error}"
        );
    }

    fn alert(yaml_condition: &str) -> Alert {
        compiled(&format!(
            "alerts:\n  - name: x\n    on: approval_rate\n    {yaml_condition}\n"
        ))
        .unwrap()
        .remove(0)
    }

    #[test]
    fn a_drop_against_the_previous_windows_breaches_and_needs_its_streak() {
        let a = alert("drops_by: 20%\n    baseline_windows: 4\n    for: 2\n    min_samples: 10");
        // 0.9 for an hour, then 0.6 at 60 and 65, back to 0.9 at 70.
        let mut points: Vec<(i64, f64, i64)> = (0..12).map(|i| (i * 5, 0.9, 100)).collect();
        points.extend([(60, 0.6, 100), (65, 0.6, 100), (70, 0.9, 100)]);
        let s = series(&points);
        let first = judge(&a, &s, t(60));
        assert!(
            first.breach && !first.fires(&a),
            "one window is not yet two"
        );
        assert!((first.baseline.unwrap() - 0.9).abs() < 1e-12);
        let second = judge(&a, &s, t(65));
        assert!(second.fires(&a), "{second:?}");
        assert_eq!(second.streak, 2);
        assert!(!judge(&a, &s, t(70)).breach);
        assert!(!judge(&a, &s, t(50)).breach);
    }

    #[test]
    fn a_long_drop_keeps_its_baseline_from_before_the_drop() {
        let a = alert("drops_by: 20%\n    baseline_windows: 4");
        // 0.9 for an hour, then 0.6 for 8 windows: against the previous 4 windows the 5th
        // low window would see a baseline of 0.6 and stop breaching.
        let mut points: Vec<(i64, f64, i64)> = (0..12).map(|i| (i * 5, 0.9, 100)).collect();
        points.extend((12..20).map(|i| (i * 5, 0.6, 100)));
        let s = series(&points);
        for i in 12..20 {
            let v = judge(&a, &s, t(i * 5));
            assert!(v.breach, "window {i}: {v:?}");
            assert!((v.baseline.unwrap() - 0.9).abs() < 1e-12);
        }
    }

    #[test]
    fn too_few_samples_neither_breach_nor_count_in_the_baseline() {
        let a = alert("below: 0.8\n    min_samples: 20");
        let s = series(&[(0, 0.1, 5), (5, 0.1, 20)]);
        assert!(!judge(&a, &s, t(0)).breach, "5 transactions are too few");
        assert!(judge(&a, &s, t(5)).breach);
        let d = alert("drops_by: 50%\n    baseline_windows: 2\n    min_samples: 20");
        // The only earlier window is too small to be a baseline: no judgement.
        let s = series(&[(0, 0.9, 5), (5, 0.1, 50)]);
        assert!(!judge(&d, &s, t(5)).breach);
    }

    #[test]
    fn a_deviation_is_measured_in_standard_deviations_of_the_same_time_on_earlier_days() {
        let a = alert("deviates_by: 3 sigma\n    baseline_days: 3");
        let day = 24 * 60;
        let s = series(&[
            (0, 0.90, 100),
            (day, 0.92, 100),
            (2 * day, 0.88, 100),
            (3 * day, 0.80, 100),
            (3 * day + 5, 0.91, 100),
        ]);
        let v = judge(&a, &s, t(3 * day));
        assert!(v.breach, "0.80 is 5 sd under 0.90 ± 0.02: {v:?}");
        // The window 5 minutes later has no history at its own time of day.
        assert!(!judge(&a, &s, t(3 * day + 5)).breach);
    }
}
