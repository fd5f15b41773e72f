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
