//! Tumbling windows on event time.
//!
//! A window of width `w` is the half-open interval `[start, start + w)`, aligned to the
//! Unix epoch in UTC: `start = t - (t mod w)` with Euclidean division, so times before
//! 1970 and exact boundaries behave (an event at 12:05:00.000 belongs to 12:05).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

/// The width of the fixed `payment_metrics_5m` windows, in seconds.
pub const FIVE_MINUTES: i64 = 300;

/// Every window width in use, in seconds, ascending and without repeats: the fixed
/// [`FIVE_MINUTES`] of `payment_metrics_5m` and `rule_widths`, those of the rules. The
/// one definition that the ingest bookkeeping, the closer and the health report share.
pub fn widths(rule_widths: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut widths: Vec<i64> = rule_widths.into_iter().collect();
    widths.push(FIVE_MINUTES);
    widths.sort_unstable();
    widths.dedup();
    widths
}

/// A window: its start and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    start: DateTime<Utc>,
    width_seconds: i64,
}

impl Window {
    /// The window of `width_seconds` containing `at`.
    ///
    /// # Example
    /// ```
    /// use paymetrics::engine::Window;
    /// let at = "2026-11-26T12:05:00Z".parse().unwrap();
    /// assert_eq!(Window::containing(at, 300).start(), at);
    /// let just_before = "2026-11-26T12:04:59.999999Z".parse().unwrap();
    /// assert_eq!(Window::containing(just_before, 300).end(), at);
    /// ```
    pub fn containing(at: DateTime<Utc>, width_seconds: i64) -> Self {
        assert!(width_seconds > 0, "a window has a positive width");
        let width_micros = width_seconds * 1_000_000;
        let micros = at.timestamp_micros();
        let start_micros = micros - micros.rem_euclid(width_micros);
        Self {
            start: DateTime::from_timestamp_micros(start_micros).expect("in chrono's range"),
            width_seconds,
        }
    }

    /// First instant inside the window.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// First instant after the window.
    pub fn end(&self) -> DateTime<Utc> {
        self.start + TimeDelta::seconds(self.width_seconds)
    }

    /// Width in seconds.
    pub fn width_seconds(&self) -> i64 {
        self.width_seconds
    }
}

/// When windows are closed, from the `windows` section of the engine settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowPolicy {
    /// How long after its end a window waits for stragglers before it is closed: a window
    /// is due when `window_end + allowed_lateness <= now`. Data arriving later still
    /// counts: it reopens the window, and the next run recomputes it (a new revision).
    #[serde(with = "crate::serde_duration::duration")]
    pub allowed_lateness: Duration,
    /// Windows closed per database transaction. Bounds the work (and locks) of one step
    /// of a backfill.
    pub windows_per_chunk: u32,
    /// Time budget of one timer invocation; a backfill beyond it continues at the next
    /// run (the invocation reports how many windows remain). Keep it well inside the
    /// Functions timeout (`functionTimeout` in host.json).
    #[serde(with = "crate::serde_duration::duration")]
    pub max_run_time: Duration,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        Self {
            allowed_lateness: Duration::from_secs(60),
            windows_per_chunk: 48,
            max_run_time: Duration::from_secs(120),
        }
    }
}

impl WindowPolicy {
    /// The latest window end that is due at `now`: windows ending at or before it close.
    pub fn due_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - TimeDelta::from_std(self.allowed_lateness).unwrap_or(TimeDelta::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_boundary_instant_opens_the_next_window() {
        assert_eq!(
            Window::containing(t("2026-11-26T12:05:00Z"), 300).start(),
            t("2026-11-26T12:05:00Z")
        );
        assert_eq!(
            Window::containing(t("2026-11-26T12:04:59.999999Z"), 300).start(),
            t("2026-11-26T12:00:00Z")
        );
    }

    #[test]
    fn a_window_keeps_its_width_and_ends_that_far_after_its_start() {
        let window = Window::containing(t("2026-11-26T12:34:56Z"), 900);
        assert_eq!(window.width_seconds(), 900);
        assert_eq!(window.start(), t("2026-11-26T12:30:00Z"));
        assert_eq!(window.end(), t("2026-11-26T12:45:00Z"));
    }

    #[test]
    fn times_before_the_epoch_align_downwards() {
        assert_eq!(
            Window::containing(t("1969-12-31T23:59:59Z"), 300).start(),
            t("1969-12-31T23:55:00Z")
        );
    }

    #[test]
    fn a_window_is_due_only_after_its_lateness() {
        let policy = WindowPolicy::default();
        let window = Window::containing(t("2026-11-26T12:00:00Z"), 300);
        assert!(window.end() > policy.due_before(t("2026-11-26T12:05:59Z")));
        assert!(window.end() <= policy.due_before(t("2026-11-26T12:06:00Z")));
    }

    proptest! {
        #[test]
        fn every_instant_lies_in_its_window(micros in -10_000_000_000_000_000i64..10_000_000_000_000_000, width in prop::sample::select(vec![60i64, 300, 900, 3600, 86_400])) {
            let at = DateTime::from_timestamp_micros(micros).unwrap();
            let window = Window::containing(at, width);
            prop_assert!(window.start() <= at && at < window.end());
            prop_assert_eq!(window.start().timestamp().rem_euclid(width), 0);
        }
    }
}
