//! The checks a scenario passes after it parses: values that have the right type but do
//! not make sense (a negative rate, shares over 1, a ramp of no length), one function per
//! section, each naming the dotted key at fault and the fix.

use std::cmp::Ordering;
use std::time::Duration;

use chrono::TimeDelta;

use super::entries::{Entries, EntryKey};
use super::{
    Delivery, Fraud, Incident, IncidentKind, MerchantRef, Merchants, Pattern, PaymentTypeMix, Rate,
    Scenario, TimeMode,
};
use crate::domain::PaymentType;
use crate::simulator::generator::push_id;

/// A value that does not make sense, and where.
#[derive(Debug)]
pub(super) struct Problem {
    /// The key at fault, dotted.
    pub key: String,
    /// What is wrong and the fix.
    pub message: String,
}

type Checked = Result<(), Problem>;

fn fail(key: impl Into<String>, message: impl Into<String>) -> Checked {
    Err(Problem {
        key: key.into(),
        message: message.into(),
    })
}

fn share(key: &str, value: f64) -> Checked {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        fail(key, format!("{value} is not a share between 0 and 1"))
    }
}

fn positive(value: f64) -> bool {
    value.partial_cmp(&0.0) == Some(Ordering::Greater)
}

/// Relative weights: at least one positive, none negative or infinite.
fn weights(key: &str, weights: impl Iterator<Item = f64>) -> Checked {
    let weights: Vec<f64> = weights.collect();
    if weights.iter().all(|w| *w <= 0.0) || weights.iter().any(|w| *w < 0.0 || !w.is_finite()) {
        return fail(
            key,
            "needs at least one positive weight and no negative one",
        );
    }
    Ok(())
}

fn weighted<K: EntryKey>(key: &str, entries: &Entries<K, f64>) -> Checked {
    weights(key, entries.values().copied())
}

/// Every check, section by section, in the order of the file.
pub(super) fn scenario(s: &Scenario) -> Checked {
    rate(&s.rate)?;
    time(&s.time)?;
    weights("payment_types", s.payment_types.values().map(|m| m.weight))?;
    for (payment_type, mix) in s.payment_types.iter() {
        payment_type_mix(payment_type, mix, &s.merchants)?;
    }
    weights("currencies", s.currencies.values().map(|m| m.weight))?;
    for (currency, mix) in s.currencies.iter() {
        if !positive(mix.per_usd) {
            return fail(
                format!("currencies.{}.per_usd", currency.code()),
                "must be positive",
            );
        }
    }
    if let Some(hourly) = &s.outcomes_by_hour {
        outcomes_by_hour(hourly, &s.payment_types)?;
    }
    weighted("countries", &s.countries)?;
    weighted("channels", &s.channels)?;
    merchants(&s.merchants)?;
    if s.customers.count == 0 {
        return fail("customers.count", "must be at least 1");
    }
    fraud(&s.fraud)?;
    faults(s)?;
    for (index, incident) in s.incidents.iter().enumerate() {
        self::incident(s, index, incident)?;
    }
    delivery(&s.delivery)
}

fn rate(rate: &Rate) -> Checked {
    if !(rate.events_per_second > 0.0 && rate.events_per_second.is_finite()) {
        return fail(
            "rate.events_per_second",
            "must be a positive number of events per second",
        );
    }
    match &rate.pattern {
        Pattern::Diurnal { hourly } if hourly.len() != 24 => {
            return fail(
                "rate.pattern.hourly",
                format!("needs 24 values (hour 0 to 23), has {}", hourly.len()),
            );
        }
        Pattern::Weekly { daily, hourly } if daily.len() != 7 || hourly.len() != 24 => {
            return fail(
                "rate.pattern",
                "weekly needs 7 daily values (Monday first) and 24 hourly values",
            );
        }
        Pattern::Ramp { from, to, over } if *from < 0.0 || *to < 0.0 || over.is_zero() => {
            return fail(
                "rate.pattern",
                "a ramp needs non-negative from and to and a duration over",
            );
        }
        _ => {}
    }
    if let Some(bursts) = &rate.bursts {
        share("rate.bursts.probability", bursts.probability)?;
        if bursts.multiplier < 1.0 {
            return fail("rate.bursts.multiplier", "must be at least 1");
        }
    }
    Ok(())
}

fn time(time: &TimeMode) -> Checked {
    if let TimeMode::Backfill { from, to } = time
        && from >= to
    {
        return fail("time.to", format!("{to} is not after time.from ({from})"));
    }
    Ok(())
}

fn payment_type_mix(
    payment_type: PaymentType,
    mix: &PaymentTypeMix,
    merchants: &Merchants,
) -> Checked {
    let key = |k: &str| format!("payment_types.{payment_type}.{k}");
    if !positive(mix.median) {
        return fail(key("median"), "must be a positive amount");
    }
    if !(mix.sigma >= 0.0 && mix.sigma < 5.0) {
        return fail(key("sigma"), "must be between 0 and 5");
    }
    for (k, v) in [
        ("decline_rate", mix.decline_rate),
        ("failure_rate", mix.failure_rate),
        ("pending_rate", mix.pending_rate),
        ("refund_rate", mix.refund_rate),
    ] {
        share(&key(k), v)?;
    }
    if mix.decline_rate + mix.failure_rate + mix.pending_rate + mix.refund_rate > 1.0 {
        return fail(
            key("decline_rate"),
            "the outcome rates add up to more than 1",
        );
    }
    for (category, median) in &mix.category_medians {
        let key = key(&format!("category_medians.{category}"));
        if !merchants.categories.contains(category) {
            return fail(key, "is not one of merchants.categories");
        }
        if !positive(*median) {
            return fail(key, "must be a positive amount");
        }
    }
    Ok(())
}

fn outcomes_by_hour(hourly: &[f64], types: &Entries<PaymentType, PaymentTypeMix>) -> Checked {
    if hourly.len() != 24 || hourly.iter().any(|m| !m.is_finite() || *m < 0.0) {
        return fail(
            "outcomes_by_hour",
            "needs 24 non-negative multipliers, hour 0 first",
        );
    }
    let worst = hourly.iter().copied().fold(0.0, f64::max);
    for (payment_type, mix) in types.iter() {
        if (mix.decline_rate + mix.failure_rate) * worst + mix.pending_rate + mix.refund_rate > 1.0
        {
            return fail(
                "outcomes_by_hour",
                format!(
                    "at its largest multiplier the outcome rates of {payment_type} add up to more than 1"
                ),
            );
        }
    }
    Ok(())
}

fn merchants(merchants: &Merchants) -> Checked {
    if merchants.count == 0 || merchants.categories.is_empty() {
        return fail(
            "merchants",
            "needs a count of at least 1 and at least one category",
        );
    }
    if merchants.zipf_exponent < 0.0 {
        return fail("merchants.zipf_exponent", "must be 0 (uniform) or more");
    }
    Ok(())
}

fn fraud(fraud: &Fraud) -> Checked {
    share("fraud.rate", fraud.rate)?;
    share(
        "fraud.card_testing.decline_rate",
        fraud.card_testing.decline_rate,
    )
}

fn faults(s: &Scenario) -> Checked {
    let faults = &s.faults;
    share("faults.duplicates", faults.duplicates)?;
    share("faults.late.rate", faults.late.rate)?;
    share("faults.out_of_order.rate", faults.out_of_order.rate)?;
    // Further back, an event time leaves its stream's days, and at worst the plausible
    // times of ingest (after 2000), while the manifest still expects it accepted.
    if faults.out_of_order.max_jitter > Duration::from_secs(86_400) {
        return fail(
            "faults.out_of_order.max_jitter",
            "must be at most 1d; for events delivered long after their time use faults.late",
        );
    }
    share("faults.malformed", faults.malformed)?;
    share("faults.legacy_format", faults.legacy_format)
}

/// Whether a scope key (`name`, of `weight` in `section`, `None` when it is not there)
/// is one the scenario generates transactions of; the problem otherwise.
fn generated(name: &str, weight: Option<f64>, section: &str) -> Result<(), String> {
    match weight {
        None => Err(format!("{name} is not one of {section}")),
        Some(weight) if !positive(weight) => Err(format!(
            "{name} has weight 0 in {section}, so none of its transactions is generated"
        )),
        Some(_) => Ok(()),
    }
}

/// One entry of `incidents`: the fields its kind needs and no others, a scope the
/// scenario generates transactions of, shares, a positive duration, and a window that
/// meets the backfill's range when the scenario is one.
fn incident(s: &Scenario, index: usize, incident: &Incident) -> Checked {
    let kind = incident.kind;
    let key = |field: &str| format!("incidents[{index}].{field}");
    let (needs, refuses) = Incident::fields(kind);
    let takes = needs.join(", ");
    if let Some(field) = needs.iter().find(|f| !incident.has(f)) {
        return fail(
            key(field),
            format!("{kind} needs {field} (it takes {takes})"),
        );
    }
    if let Some(field) = refuses.iter().find(|f| incident.has(f)) {
        return fail(
            key(field),
            format!("{kind} does not take {field} (it takes {takes})"),
        );
    }
    let rates = [
        ("approval_rate", incident.approval_rate),
        ("fraud_rate", incident.fraud_rate),
        ("decline_rate", incident.decline_rate),
    ];
    let checked = incident_scope(s, incident)
        .and_then(
            |()| match rates.iter().find_map(|(f, r)| r.map(|r| (f, r))) {
                Some((field, rate)) if !(0.0..=1.0).contains(&rate) => {
                    Err((field, format!("{rate} is not a share between 0 and 1")))
                }
                _ => Ok(()),
            },
        )
        .and_then(|()| {
            if incident.duration.is_zero() {
                Err(("duration", "must be positive".to_owned()))
            } else {
                incident_window(&s.time, incident).map_err(|m| ("start", m))
            }
        });
    checked.map_err(|(field, message)| Problem {
        key: key(field),
        message: format!("{kind}: {message}"),
    })
}

/// The scope of an incident is one the scenario generates transactions of; the field at
/// fault and the problem otherwise.
fn incident_scope(s: &Scenario, incident: &Incident) -> Result<(), (&'static str, String)> {
    match incident.kind {
        IncidentKind::ApprovalDrop => {
            let payment_type = incident.payment_type.expect("checked before");
            let currency = incident.currency.expect("checked before");
            let type_weight = s.payment_types.get(payment_type).map(|m| m.weight);
            let currency_weight = s.currencies.get(currency).map(|m| m.weight);
            generated(payment_type.as_str(), type_weight, "payment_types")
                .map_err(|m| ("payment_type", m))?;
            generated(currency.code(), currency_weight, "currencies").map_err(|m| ("currency", m))
        }
        IncidentKind::FraudBurst => {
            let country = incident.country.expect("checked before");
            let weight = s.countries.get(country).copied();
            generated(country.as_str(), weight, "countries").map_err(|m| ("country", m))
        }
        IncidentKind::MerchantDeclineSpike => match incident.merchant {
            Some(MerchantRef::Id(n)) if u64::from(n) >= s.merchants.count => {
                let (mut id, mut last) = (String::new(), String::new());
                push_id(&mut id, 'm', n);
                push_id(&mut last, 'm', (s.merchants.count - 1) as u32);
                Err((
                    "merchant",
                    format!("{id} is not one of the merchants (m-000000 to {last})"),
                ))
            }
            _ => Ok(()),
        },
    }
}

/// In a backfill, an incident starts before its end and ends after its start.
fn incident_window(time: &TimeMode, incident: &Incident) -> Result<(), String> {
    if let TimeMode::Backfill { from, to } = *time {
        let start = incident.start_at(from);
        let end = start + TimeDelta::from_std(incident.duration).unwrap_or(TimeDelta::MAX);
        if start >= to {
            return Err(format!(
                "starts at {start}, not before the end of the backfill ({to})"
            ));
        }
        if end <= from {
            return Err(format!(
                "ends at {end}, not after the start of the backfill ({from})"
            ));
        }
    }
    Ok(())
}

fn delivery(delivery: &Delivery) -> Checked {
    if delivery.batch_size == 0 || delivery.partitions == 0 || delivery.max_attempts == 0 {
        return fail(
            "delivery",
            "batch_size, partitions and max_attempts must be at least 1",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::simulator::scenario::Scenario;

    /// Each scenario is refused with exactly `invalid scenario s.yaml, <expected>`.
    fn assert_refused(cases: &[(String, &str)]) {
        for (yaml, expected) in cases {
            let message = Scenario::from_yaml(yaml, "s.yaml").unwrap_err().to_string();
            assert_eq!(
                message,
                format!("invalid scenario s.yaml, {expected}"),
                "{yaml}"
            );
        }
    }

    #[test]
    fn weights_rates_and_populations_that_make_no_sense_name_their_line_key_and_fix() {
        let no_weight = "needs at least one positive weight and no negative one";
        assert_refused(&[
            (
                "payment_types:\n  card: {weight: 0, median: 10, sigma: 0.5}\n".to_owned(),
                &format!("line 1: payment_types: {no_weight}"),
            ),
            (
                "currencies:\n  EUR: {weight: 0, per_usd: 1}\n".to_owned(),
                &format!("line 1: currencies: {no_weight}"),
            ),
            (
                "channels: {online: -1}\n".to_owned(),
                &format!("line 1: channels: {no_weight}"),
            ),
            (
                "countries: {DE: -1, FR: 2}\n".to_owned(),
                &format!("line 1: countries: {no_weight}"),
            ),
            (
                "currencies:\n  EUR: {weight: 1, per_usd: 0}\n".to_owned(),
                "line 2: currencies.EUR.per_usd: must be positive",
            ),
            (
                "customers:\n  count: 0\n".to_owned(),
                "line 2: customers.count: must be at least 1",
            ),
            (
                "rate:\n  pattern:\n    kind: weekly\n    daily: [1, 2]\n".to_owned(),
                "line 2: rate.pattern: weekly needs 7 daily values (Monday first) and 24 hourly \
                 values",
            ),
            (
                "rate:\n  pattern: {kind: ramp, from: -1, to: 2, over: 1h}\n".to_owned(),
                "line 2: rate.pattern: a ramp needs non-negative from and to and a duration over",
            ),
            (
                "rate:\n  pattern: {kind: ramp, from: 1, to: 2, over: 0s}\n".to_owned(),
                "line 2: rate.pattern: a ramp needs non-negative from and to and a duration over",
            ),
            (
                "rate:\n  bursts: {probability: 0.1, multiplier: 0.5, duration: 1m}\n".to_owned(),
                "line 2: rate.bursts.multiplier: must be at least 1",
            ),
            (
                "merchants:\n  count: 0\n".to_owned(),
                "line 1: merchants: needs a count of at least 1 and at least one category",
            ),
            (
                "merchants:\n  zipf_exponent: -1\n".to_owned(),
                "line 2: merchants.zipf_exponent: must be 0 (uniform) or more",
            ),
            (
                "delivery:\n  max_attempts: 0\n".to_owned(),
                "line 1: delivery: batch_size, partitions and max_attempts must be at least 1",
            ),
        ]);
    }

    #[test]
    fn payment_type_mixes_and_hourly_outcomes_that_make_no_sense_name_their_line_key_and_fix() {
        let card = "payment_types:\n  card: {weight: 1, median: 10, sigma: 0.5";
        let mut hourly = vec!["1"; 24];
        hourly[18] = "20";
        assert_refused(&[
            (
                "payment_types:\n  card: {weight: 1, median: 0, sigma: 0.5}\n".to_owned(),
                "line 2: payment_types.card.median: must be a positive amount",
            ),
            (
                "payment_types:\n  card: {weight: 1, median: 10, sigma: 5}\n".to_owned(),
                "line 2: payment_types.card.sigma: must be between 0 and 5",
            ),
            (
                format!("{card}, decline_rate: 0.6, refund_rate: 0.5}}\n"),
                "line 2: payment_types.card.decline_rate: the outcome rates add up to more than 1",
            ),
            (
                format!("{card}, category_medians: {{yachts: 500}}}}\n"),
                "line 2: payment_types.card.category_medians.yachts: is not one of \
                 merchants.categories",
            ),
            (
                format!("{card}, category_medians: {{fuel: 0}}}}\n"),
                "line 2: payment_types.card.category_medians.fuel: must be a positive amount",
            ),
            (
                "outcomes_by_hour: [1, 2]\n".to_owned(),
                "line 1: outcomes_by_hour: needs 24 non-negative multipliers, hour 0 first",
            ),
            (
                // 0.1 declined, times 20 at 18:00, is 2.
                format!(
                    "{card}, decline_rate: 0.1}}\noutcomes_by_hour: [{}]\n",
                    hourly.join(", ")
                ),
                "line 3: outcomes_by_hour: at its largest multiplier the outcome rates of card add \
                 up to more than 1",
            ),
        ]);
    }

    /// `incidents:` with the entries `items` (each a list of `key: value` lines), after
    /// a one-day backfill and four payment types, of which wire is never generated.
    fn with_incidents(items: &[&[&str]]) -> String {
        let mut yaml = String::from(
            "time: {mode: backfill, from: 2026-11-25T00:00:00Z, to: 2026-11-26T00:00:00Z}\n\
             payment_types:\n  card: {weight: 1, median: 10, sigma: 0.5}\n  \
             wire: {weight: 0, median: 10, sigma: 0.5}\n\
             incidents:\n",
        );
        for item in items {
            for (i, line) in item.iter().enumerate() {
                yaml.push_str(if i == 0 { "  - " } else { "    " });
                yaml.push_str(line);
                yaml.push('\n');
            }
        }
        yaml
    }

    fn burst(extra: &[&'static str]) -> Vec<&'static str> {
        let mut item = vec!["kind: fraud_burst", "start: 6h", "duration: 20m"];
        item.extend_from_slice(extra);
        item
    }

    fn spike(merchant: &'static str) -> Vec<&'static str> {
        vec![
            "kind: merchant_decline_spike",
            merchant,
            "start: 12h",
            "duration: 30m",
            "decline_rate: 0.6",
        ]
    }

    /// [`DROP`] with its line `field` replaced.
    fn drop_with(field: usize, value: &'static str) -> Vec<&'static str> {
        let mut item = DROP.to_vec();
        item[field] = value;
        item
    }

    const DROP: &[&str] = &[
        "kind: approval_drop",
        "payment_type: card",
        "currency: USD",
        "start: 2h",
        "duration: 30m",
        "approval_rate: 0.5",
    ];

    #[test]
    fn simulator_incident_fields_and_shares_that_make_no_sense_name_the_incident_and_line() {
        assert_refused(&[
            (
                // Placed at the entry's first line, not at the next entry's country.
                with_incidents(&[
                    DROP,
                    &burst(&["fraud_rate: 0.2"]),
                    &burst(&["country: BR", "fraud_rate: 0.2"]),
                ]),
                "line 12: incidents[1].country: fraud_burst needs country (it takes country, \
                 fraud_rate)",
            ),
            (
                with_incidents(&[&burst(&["country: BR", "fraud_rate: 0.2", "currency: EUR"])]),
                "line 11: incidents[0].currency: fraud_burst does not take currency (it takes \
                 country, fraud_rate)",
            ),
            (
                with_incidents(&[&burst(&["country: BR", "fraud_rate: 1.5"])]),
                "line 10: incidents[0].fraud_rate: fraud_burst: 1.5 is not a share between 0 \
                 and 1",
            ),
            (
                with_incidents(&[&spike("merchant: shop-1")]),
                "line 7: incidents[0].merchant: \"shop-1\" is not a merchant id like m-000042, \
                 nor top (the busiest)",
            ),
            (
                with_incidents(&[&drop_with(3, "start: soon")]),
                "line 9: incidents[0].start: \"soon\" is neither an offset from the run's start \
                 (2h, 90m) nor an RFC 3339 time",
            ),
            (
                with_incidents(&[&drop_with(4, "duration: 0s")]),
                "line 10: incidents[0].duration: approval_drop: must be positive",
            ),
        ]);
        let unknown = Scenario::from_yaml(&with_incidents(&[&["kind: outage"]]), "s.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.starts_with(
                "invalid scenario s.yaml, line 6: incidents[0].kind: unknown variant `outage`"
            ),
            "{unknown}"
        );
    }

    #[test]
    fn simulator_incident_scopes_and_windows_the_run_does_not_have_name_the_incident_and_line() {
        assert_refused(&[
            (
                with_incidents(&[&burst(&["country: AQ", "fraud_rate: 0.2"])]),
                "line 9: incidents[0].country: fraud_burst: AQ is not one of countries",
            ),
            (
                with_incidents(&[&drop_with(1, "payment_type: ach")]),
                "line 7: incidents[0].payment_type: approval_drop: ach is not one of \
                 payment_types",
            ),
            (
                with_incidents(&[&drop_with(1, "payment_type: wire")]),
                "line 7: incidents[0].payment_type: approval_drop: wire has weight 0 in \
                 payment_types, so none of its transactions is generated",
            ),
            (
                with_incidents(&[&drop_with(2, "currency: CHF")]),
                "line 8: incidents[0].currency: approval_drop: CHF is not one of currencies",
            ),
            (
                with_incidents(&[DROP, DROP, &drop_with(3, "start: 24h")]),
                "line 21: incidents[2].start: approval_drop: starts at 2026-11-26 00:00:00 UTC, \
                 not before the end of the backfill (2026-11-26 00:00:00 UTC)",
            ),
            (
                with_incidents(&[&drop_with(3, "start: 2026-11-24T23:00:00Z")]),
                "line 9: incidents[0].start: approval_drop: ends at 2026-11-24 23:30:00 UTC, not \
                 after the start of the backfill (2026-11-25 00:00:00 UTC)",
            ),
            (
                with_incidents(&[&spike("merchant: m-000200")]),
                "line 7: incidents[0].merchant: merchant_decline_spike: m-000200 is not one of \
                 the merchants (m-000000 to m-000199)",
            ),
        ]);
    }

    #[test]
    fn simulator_incidents_of_each_kind_within_the_run_are_accepted() {
        let spike = [
            "kind: merchant_decline_spike",
            "merchant: m-42",
            "start: 2026-11-25T12:00:00Z",
            "duration: 30m",
            "decline_rate: 1",
        ];
        let burst = [
            "kind: fraud_burst",
            "country: br",
            "start: 23h59m",
            "duration: 1h",
            "fraud_rate: 0",
        ];
        let s = Scenario::from_yaml(&with_incidents(&[DROP, &burst, &spike]), "s.yaml").unwrap();
        assert_eq!(s.incidents.len(), 3);
        // A realtime run's length is not known: an offset past a day is its own business.
        let realtime = Scenario::from_yaml(
            "incidents:\n  - {kind: fraud_burst, country: BR, start: 30h, duration: 1m, \
             fraud_rate: 0.2}\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(realtime.incidents.len(), 1);
    }
}
