//! Rule-based metrics: analysts declare them in the engine YAML, the engine computes them
//! for every closed window into `dynamic_metrics`.
//!
//! A rule's `where` and `ratio(...)` conditions are CEL expressions (parsed by the `cel`
//! crate), checked against the transaction fields and their types at load, and compiled
//! into a typed [`Rule`]: fields from a fixed list ([`field`]), conditions
//! ([`condition`]) and an aggregate ([`aggregate`]). This module does no I/O and writes
//! no SQL: `store` renders a rule into a statement in which every column name comes from
//! the fixed list and every literal is a bound parameter, so no text of a rule ever
//! reaches SQL.

mod aggregate;
mod condition;
mod field;

use serde::Deserialize;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

pub use aggregate::Aggregate;
pub use condition::{Cmp, Condition, Literal};
pub use field::{Field, Kind};

use aggregate::parse_aggregate;
use condition::{parse_condition, pins_one_currency};
use field::field_list;

use crate::engine::windows::FIVE_MINUTES;

/// A rule as written in the YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name; the `rule_name` of its rows.
    pub name: Spanned<String>,
    /// What the metric means, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Window width: whole minutes dividing a day (`1m`, `5m`, `15m`, `1h`, `24h`).
    #[serde(default)]
    pub window: Option<Spanned<String>>,
    /// Which transactions count.
    #[serde(default, rename = "where")]
    pub condition: Option<Spanned<String>>,
    /// Dimensions of the rows.
    #[serde(default)]
    pub group_by: Vec<Spanned<String>>,
    /// What is computed.
    pub aggregate: Spanned<String>,
}

/// A rule that failed validation: which, where, what and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: rule {rule:?}: {message}")]
pub struct RuleError {
    /// 1-based line in the YAML file.
    pub line: u64,
    /// The rule's name.
    pub rule: String,
    /// What is wrong and the fix.
    pub message: String,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique name: the `rule_name` of its rows in `dynamic_metrics`.
    pub name: String,
    /// What the metric means, for people; never used in computing it.
    pub description: Option<String>,
    /// Window width in seconds.
    pub window_seconds: i64,
    /// Which transactions count; `None` is all.
    pub filter: Option<Condition>,
    /// Dimensions, in the order written.
    pub group_by: Vec<Field>,
    /// What is computed.
    pub aggregate: Aggregate,
    /// Hash of the definition, stored as `rule_version`.
    pub version: String,
}

/// Validates every rule of the file.
///
/// # Errors
/// Every problem of every rule, each with its line, rule name and fix.
pub fn compile(specs: &[RuleSpec]) -> Result<Vec<Rule>, Vec<RuleError>> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    let mut names: Vec<(&str, u64)> = Vec::new();
    for spec in specs {
        let name = spec.name.value.as_str();
        let line = spec.name.referenced.line();
        if let Some((_, first)) = names.iter().find(|(n, _)| *n == name) {
            errors.push(RuleError {
                line,
                rule: name.to_owned(),
                message: format!(
                    "duplicate name: line {first} already defines it; rename one of them"
                ),
            });
            continue;
        }
        names.push((name, line));
        match compile_one(spec) {
            Ok(rule) => rules.push(rule),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// The problems found in one rule, each with its line.
struct Problems<'a> {
    rule: &'a str,
    errors: Vec<RuleError>,
}

impl Problems<'_> {
    fn fail(&mut self, line: u64, message: String) {
        self.errors.push(RuleError {
            line,
            rule: self.rule.to_owned(),
            message,
        });
    }

    /// The value of a step that succeeded; a failed step is recorded at `line`.
    fn take<T>(&mut self, line: u64, step: Result<T, String>) -> Option<T> {
        step.map_err(|message| self.fail(line, message)).ok()
    }
}

fn compile_one(spec: &RuleSpec) -> Result<Rule, Vec<RuleError>> {
    let name = spec.name.value.clone();
    let mut problems = Problems {
        rule: &name,
        errors: Vec::new(),
    };
    problems.take(spec.name.referenced.line(), check_name(&name));
    let window_seconds = match &spec.window {
        None => Some(FIVE_MINUTES),
        Some(window) => problems.take(window.referenced.line(), parse_window(&window.value)),
    };
    let filter = spec.condition.as_ref().and_then(|text| {
        let parsed = parse_condition(&text.value).map_err(|m| format!("where: {m}"));
        problems.take(text.referenced.line(), parsed)
    });
    let group_by = dimensions(spec, &mut problems);
    let line = spec.aggregate.referenced.line();
    let parsed = parse_aggregate(&spec.aggregate.value).map_err(|m| format!("aggregate: {m}"));
    let aggregate = problems.take(line, parsed).and_then(|aggregate| {
        let checked = one_currency(spec, &aggregate, filter.as_ref(), &group_by);
        problems.take(line, checked).map(|()| aggregate)
    });
    match (window_seconds, aggregate) {
        (Some(window_seconds), Some(aggregate)) if problems.errors.is_empty() => Ok(Rule {
            version: version(spec),
            description: spec.description.clone(),
            window_seconds,
            filter,
            group_by,
            aggregate,
            name,
        }),
        _ => Err(problems.errors),
    }
}

/// 1 to 63 lower-case letters, digits and underscores: a name safe in every report.
fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(
            "name: use 1 to 63 lower-case letters, digits and underscores, e.g. card_decline_rate"
                .into(),
        )
    }
}

/// The `group_by` fields, each a known text or boolean field listed once.
fn dimensions(spec: &RuleSpec, problems: &mut Problems<'_>) -> Vec<Field> {
    let mut group_by = Vec::new();
    for dimension in &spec.group_by {
        let line = dimension.referenced.line();
        match Field::parse(&dimension.value) {
            Some(Field::Amount) => problems.fail(
                line,
                "group_by: amount is a measure, not a dimension; group by a text field".into(),
            ),
            Some(field) if group_by.contains(&field) => problems.fail(
                line,
                format!("group_by: {} is listed twice", field.column()),
            ),
            Some(field) => group_by.push(field),
            None => problems.fail(
                line,
                format!(
                    "group_by: unknown field '{}'; {}",
                    dimension.value,
                    field_list()
                ),
            ),
        }
    }
    group_by
}

/// An aggregate over amounts must see one currency: grouped by it, or filtered to one.
fn one_currency(
    spec: &RuleSpec,
    aggregate: &Aggregate,
    filter: Option<&Condition>,
    group_by: &[Field],
) -> Result<(), String> {
    let grouped = group_by.contains(&Field::Currency);
    let pinned = filter.is_some_and(pins_one_currency);
    if aggregate.adds_money() && !grouped && !pinned {
        return Err(format!(
            "aggregate: {} would mix amounts of different currencies; add currency to \
             group_by or restrict where to one currency (currency == 'USD')",
            spec.aggregate.value.trim()
        ));
    }
    Ok(())
}

fn version(spec: &RuleSpec) -> String {
    let mut hash = Sha256::new();
    let mut part = |text: &str| {
        hash.update((text.len() as u64).to_be_bytes());
        hash.update(text.as_bytes());
    };
    part(&spec.name.value);
    part(spec.window.as_ref().map_or("5m", |w| w.value.trim()));
    part(spec.condition.as_ref().map_or("", |c| c.value.trim()));
    for dimension in &spec.group_by {
        part(&dimension.value);
    }
    part(spec.aggregate.value.trim());
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `15m`, `1h`, `24h`: whole minutes that divide a day.
fn parse_window(text: &str) -> Result<i64, String> {
    let fix =
        "window: use whole minutes that divide a day, such as 1m, 5m, 15m, 30m, 1h, 6h or 24h";
    let duration = humantime::parse_duration(text.trim())
        .map_err(|_| format!("{fix}; '{text}' is not a duration"))?;
    // Not `as i64`: 2^64 - 60 seconds wrapped to -60, which divides a day.
    match i64::try_from(duration.as_secs()) {
        Ok(seconds @ 60..=86_400)
            if duration.subsec_nanos() == 0 && seconds % 60 == 0 && 86_400 % seconds == 0 =>
        {
            Ok(seconds)
        }
        _ => Err(format!("{fix}; '{text}' is not one")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Result<Vec<Rule>, Vec<RuleError>> {
        #[derive(Deserialize)]
        struct File {
            rules: Vec<RuleSpec>,
        }
        let file: File = serde_saphyr::from_str(yaml).unwrap();
        compile(&file.rules)
    }

    fn error(yaml: &str) -> String {
        rules(yaml)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_issue_example_compiles() {
        let compiled = rules(
            "rules:
  - name: card_decline_rate
    description: Share of card transactions that were declined
    window: 15m
    where: payment_type == 'card'
    group_by: [merchant_category]
    aggregate: ratio(status == 'declined')
  - name: high_value_volume_usd
    where: currency == 'USD' && status == 'approved' && amount > 1000
    aggregate: sum(amount)
  - name: p95_ticket
    window: 1h
    group_by: [payment_type, currency]
    aggregate: p95(amount)
",
        )
        .unwrap();
        assert_eq!(compiled.len(), 3);
        assert_eq!(compiled[0].window_seconds, 900);
        assert_eq!(compiled[1].window_seconds, 300);
        assert_eq!(compiled[2].aggregate, Aggregate::Percentile(95));
        assert_eq!(compiled[0].version.len(), 16);
    }

    #[test]
    fn every_error_names_the_line_the_rule_and_the_fix() {
        let cases = [
            (
                "rules:\n  - name: a\n    where: amount == 'x'\n    aggregate: count()\n",
                "line 3: rule \"a\": where: amount is a number, but 'x' is a string",
            ),
            (
                "rules:\n  - name: a\n    where: amout > 5\n    aggregate: count()\n",
                "line 3: rule \"a\": where: unknown field 'amout'",
            ),
            (
                "rules:\n  - name: a\n    window: 7m\n    aggregate: count()\n",
                "line 3: rule \"a\": window: use whole minutes that divide a day",
            ),
            (
                "rules:\n  - name: a\n    window: 90s\n    aggregate: count()\n",
                "'90s' is not one",
            ),
            (
                // 2^64 - 60 seconds: it wrapped to a window of -60 s and was accepted.
                "rules:\n  - name: a\n    window: 18446744073709551556s\n    aggregate: count()\n",
                "'18446744073709551556s' is not one",
            ),
            (
                "rules:\n  - name: a\n    aggregate: count()\n  - name: a\n    aggregate: count()\n",
                "line 4: rule \"a\": duplicate name: line 2 already defines it",
            ),
            (
                "rules:\n  - name: a\n    aggregate: sum(amount)\n",
                "line 3: rule \"a\": aggregate: sum(amount) would mix amounts of different currencies; add currency to group_by",
            ),
            (
                "rules:\n  - name: a\n    aggregate: median(amount)\n",
                "unknown aggregate 'median'",
            ),
            (
                "rules:\n  - name: a\n    where: payment_type == 'cash'\n    aggregate: count()\n",
                "'cash' is never a payment_type",
            ),
            (
                "rules:\n  - name: a\n    where: merchant_id < 'b'\n    aggregate: count()\n",
                "only == and != (or in) apply to it",
            ),
            (
                "rules:\n  - name: a\n    group_by: [colour]\n    aggregate: count()\n",
                "line 3: rule \"a\": group_by: unknown field 'colour'",
            ),
            (
                "rules:\n  - name: a\n    group_by: [amount]\n    aggregate: count()\n",
                "line 3: rule \"a\": group_by: amount is a measure, not a dimension; group by a text field",
            ),
            (
                "rules:\n  - name: a\n    group_by: [status, status]\n    aggregate: count()\n",
                "line 3: rule \"a\": group_by: status is listed twice",
            ),
            (
                "rules:\n  - name: a\n    where: status ==\n    aggregate: count()\n",
                "is not a valid expression",
            ),
            (
                "rules:\n  - name: Bad-Name\n    aggregate: count()\n",
                "line 2: rule \"Bad-Name\": name: use 1 to 63 lower-case letters",
            ),
        ];
        for (yaml, expected) in cases {
            let message = error(yaml);
            assert!(message.contains(expected), "{message}\n  lacks: {expected}");
        }
    }

    #[test]
    fn a_currency_filter_or_grouping_allows_money_aggregates() {
        assert!(
            rules(
                "rules:\n  - name: a\n    where: currency in ['EUR']\n    aggregate: avg(amount)\n"
            )
            .is_ok()
        );
        assert!(
            rules("rules:\n  - name: a\n    group_by: [currency]\n    aggregate: max(amount)\n")
                .is_ok()
        );
        assert!(rules("rules:\n  - name: a\n    where: currency == 'EUR' || currency == 'USD'\n    aggregate: max(amount)\n").is_err());
        assert!(rules("rules:\n  - name: a\n    aggregate: distinct(customer_id)\n").is_ok());
    }
}
