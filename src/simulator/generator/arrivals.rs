//! When events happen: Poisson arrivals at the scenario's rate, shaped by its pattern
//! (constant, diurnal, weekly, ramp) and its bursts, from a random stream of their own.

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use rand::Rng;
use rand::distributions::Distribution;
use rand_distr::Exp;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

use crate::simulator::scenario::{Pattern, Scenario, TimeMode};

/// Poisson arrival times for a scenario's rate, pattern and bursts.
pub struct Arrivals {
    rng: Xoshiro256PlusPlus,
    scenario: Scenario,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    burst_until: Option<DateTime<Utc>>,
}

impl Arrivals {
    /// Arrivals from `start`, with their own random stream (derived from the seed).
    pub fn new(scenario: &Scenario, start: DateTime<Utc>) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(scenario.seed ^ 0x9e37_79b9_7f4a_7c15),
            scenario: scenario.clone(),
            start,
            now: start,
            burst_until: None,
        }
    }

    /// Events per second at `t`.
    pub fn rate_at(&self, t: DateTime<Utc>) -> f64 {
        let base = self.scenario.rate.events_per_second;
        let pattern = match &self.scenario.rate.pattern {
            Pattern::Constant => 1.0,
            Pattern::Diurnal { hourly } => hourly[t.hour() as usize],
            Pattern::Weekly { daily, hourly } => {
                daily[t.weekday().num_days_from_monday() as usize] * hourly[t.hour() as usize]
            }
            Pattern::Ramp { from, to, over } => {
                let progress = ((t - self.start).num_milliseconds() as f64
                    / over.as_millis() as f64)
                    .clamp(0.0, 1.0);
                from + (to - from) * progress
            }
        };
        let burst = match (&self.scenario.rate.bursts, self.burst_until) {
            (Some(bursts), Some(until)) if t < until => bursts.multiplier,
            _ => 1.0,
        };
        base * pattern * burst
    }

    /// The next arrival time.
    pub fn next_time(&mut self) -> DateTime<Utc> {
        let rate = self.rate_at(self.now).max(1e-6);
        let gap = Exp::new(rate).expect("positive").sample(&mut self.rng);
        let gap = TimeDelta::microseconds((gap * 1e6).max(1.0) as i64);
        if let Some(bursts) = &self.scenario.rate.bursts
            && self.burst_until.is_none_or(|until| self.now >= until)
        {
            let seconds = gap.num_microseconds().unwrap_or(0) as f64 / 1e6;
            let chance = 1.0 - (1.0 - bursts.probability).powf(seconds.max(0.0));
            if self.rng.r#gen::<f64>() < chance {
                self.burst_until = Some(
                    self.now + TimeDelta::from_std(bursts.duration).unwrap_or(TimeDelta::zero()),
                );
            }
        }
        self.now += gap;
        self.now
    }
}

impl Scenario {
    /// The backfill range, when the scenario is one.
    pub fn backfill_range(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self.time {
            TimeMode::Backfill { from, to } => Some((from, to)),
            TimeMode::Realtime => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn arrivals(rate: &str, start: &str) -> Arrivals {
        let scenario = Scenario::from_yaml(rate, "s.yaml").unwrap();
        Arrivals::new(&scenario, t(start))
    }

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[test]
    fn a_weekly_pattern_multiplies_the_day_by_the_hour() {
        let a = arrivals(
            "rate:\n  events_per_second: 10\n  bursts: null\n  pattern: {kind: weekly}\n",
            "2026-11-26T00:00:00Z",
        );
        // Thursday (daily[3] = 1.05) at 12:30 (hourly[12] = 1.5).
        close(a.rate_at(t("2026-11-26T12:30:00Z")), 10.0 * 1.05 * 1.5);
        // Sunday (daily[6] = 0.9) at 03:00 (hourly[3] = 0.15).
        close(a.rate_at(t("2026-11-29T03:00:00Z")), 10.0 * 0.9 * 0.15);
    }

    #[test]
    fn a_diurnal_pattern_follows_the_hour_of_the_day() {
        let a = arrivals(
            "rate:\n  events_per_second: 10\n  bursts: null\n  pattern: {kind: diurnal, hourly: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]}\n",
            "2026-11-26T00:00:00Z",
        );
        close(a.rate_at(t("2026-11-26T00:59:59Z")), 0.0);
        close(a.rate_at(t("2026-11-26T07:00:00Z")), 70.0);
        close(a.rate_at(t("2026-11-27T23:30:00Z")), 230.0);
    }

    #[test]
    fn only_a_backfill_has_a_range() {
        let backfill = Scenario::from_yaml(
            "time: {mode: backfill, from: 2026-11-01T00:00:00Z, to: 2026-11-02T00:00:00Z}\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(
            backfill.backfill_range(),
            Some((t("2026-11-01T00:00:00Z"), t("2026-11-02T00:00:00Z")))
        );
        let realtime = Scenario::from_yaml("time: {mode: realtime}\n", "s.yaml").unwrap();
        assert_eq!(realtime.backfill_range(), None);
    }

    #[test]
    fn a_ramp_rises_linearly_over_its_duration_then_stays() {
        let a = arrivals(
            "rate:\n  events_per_second: 10\n  bursts: null\n  pattern: {kind: ramp, from: 1, to: 3, over: 1h}\n",
            "2026-11-26T00:00:00Z",
        );
        close(a.rate_at(t("2026-11-26T00:00:00Z")), 10.0);
        close(a.rate_at(t("2026-11-26T00:30:00Z")), 20.0);
        close(a.rate_at(t("2026-11-26T00:45:00Z")), 25.0);
        close(a.rate_at(t("2026-11-26T02:00:00Z")), 30.0);
    }

    #[test]
    fn a_burst_multiplies_the_rate_until_it_ends() {
        // Probability 1: a burst starts with the first arrival.
        let mut a = arrivals(
            "rate:\n  events_per_second: 10\n  pattern: {kind: constant}\n  bursts: {probability: 1, multiplier: 4, duration: 1h}\n",
            "2026-11-26T00:00:00Z",
        );
        close(a.rate_at(t("2026-11-26T00:00:00Z")), 10.0);
        let first = a.next_time();
        assert!(first < t("2026-11-26T01:00:00Z"), "{first}");
        close(a.rate_at(first), 40.0);
        close(a.rate_at(t("2026-11-26T00:59:59Z")), 40.0);
        close(a.rate_at(t("2026-11-26T01:00:00Z")), 10.0);
    }
}
