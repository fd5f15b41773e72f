//! Rule metrics in SQL: renders a compiled [`Rule`] (the engine's typed plan) into the
//! statement that recomputes its `dynamic_metrics` rows for a chunk of windows. Column
//! names come only from the engine's fixed field list and every literal of a rule is a
//! bound parameter.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::StoreError;
use super::windows::Spans;
use crate::engine::rules::{Aggregate, Cmp, Condition, Kind, Literal, Rule};

/// Recomputes one rule's rows for the given windows (of the rule's width), which cover
/// `spans`: one `GROUP BY` over the transactions in those time ranges, each finding its
/// window by `date_bin` as the 5-minute close does.
pub(crate) async fn compute_rule(
    client: &impl GenericClient,
    rule: &Rule,
    starts: &[DateTime<Utc>],
    spans: &Spans,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    client
        .execute(
            "DELETE FROM dynamic_metrics
             WHERE rule_name = $1 AND window_start = ANY($2::timestamptz[])",
            &[&rule.name, &starts],
        )
        .await
        .map_err(StoreError::query("clearing recomputed rule windows"))?;
    // $1 width, $2 rule name, $3 version, $4 now, then the spans; the rule's literals follow.
    let mut sql = Sql::starting_after(4 + spans.params_len());
    let filter = rule
        .filter
        .as_ref()
        .map_or_else(|| "true".to_owned(), |c| sql.condition(c));
    let value = sql.aggregate(&rule.aggregate);
    let dimensions: Vec<&str> = rule.group_by.iter().map(|f| f.column()).collect();
    let group_key = if dimensions.is_empty() {
        "'{}'::jsonb".to_owned()
    } else {
        let pairs: Vec<String> = dimensions.iter().map(|d| format!("'{d}', t.{d}")).collect();
        format!("jsonb_build_object({})", pairs.join(", "))
    };
    let group_columns: String = dimensions.iter().map(|d| format!(", t.{d}")).collect();
    let statement = format!(
        "INSERT INTO dynamic_metrics (rule_name, window_start, window_end, group_key, value,
                                      sample_count, rule_version, revision, computed_at)
         SELECT $2::text, g.ws, g.ws + $1::integer * interval '1 second', g.group_key, g.value,
                g.n, $3::text, st.revision + 1, $4::timestamptz
         FROM (
             SELECT date_bin($1::integer * interval '1 second', t.occurred_at, timestamptz 'epoch') AS ws,
                    {group_key} AS group_key, {value} AS value, count(*) AS n
             FROM normalized_transactions t
             WHERE {spans} AND {filter}
             GROUP BY 1{group_columns}
         ) g
         JOIN window_state st ON st.width_seconds = $1::integer AND st.window_start = g.ws",
        spans = spans.condition(5)
    );
    let width = i32::try_from(rule.window_seconds).expect("rule windows are at most a day");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&width, &rule.name, &rule.version, &now];
    params.extend(spans.params());
    params.extend(sql.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)));
    client
        .execute(statement.as_str(), &params)
        .await
        .map_err(StoreError::query("computing dynamic_metrics"))
}

/// SQL text with `$n` placeholders and the values bound to them.
#[derive(Debug, Default)]
pub struct Sql {
    /// Values for `$offset+1..`.
    pub params: Vec<Box<dyn ToSql + Sync + Send>>,
    offset: usize,
}

impl Sql {
    /// Placeholders will start after the first `offset` parameters of the statement.
    pub fn starting_after(offset: usize) -> Self {
        Self {
            params: Vec::new(),
            offset,
        }
    }

    fn bind(&mut self, value: Box<dyn ToSql + Sync + Send>, cast: &str) -> String {
        self.params.push(value);
        format!("${}::{cast}", self.offset + self.params.len())
    }

    fn literal(&mut self, literal: &Literal) -> String {
        match literal {
            Literal::Text(t) => self.bind(Box::new(t.clone()), "text"),
            Literal::Number(n) => self.bind(Box::new(*n), "numeric"),
            Literal::Bool(b) => self.bind(Box::new(*b), "boolean"),
        }
    }

    /// The condition as a SQL boolean over table alias `t`, never NULL: a missing optional
    /// field equals nothing and differs from everything.
    pub fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::And(a, b) => format!("({} AND {})", self.condition(a), self.condition(b)),
            Condition::Or(a, b) => format!("({} OR {})", self.condition(a), self.condition(b)),
            Condition::Not(a) => format!("(NOT {})", self.condition(a)),
            Condition::Constant(b) => (if *b { "true" } else { "false" }).to_owned(),
            Condition::Flag(field) => format!("(t.{} IS TRUE)", field.column()),
            Condition::Compare(field, cmp, value) => {
                let column = field.column();
                let value = self.literal(value);
                match cmp {
                    Cmp::Eq => format!("(t.{column} IS NOT DISTINCT FROM {value})"),
                    Cmp::Ne => format!("(t.{column} IS DISTINCT FROM {value})"),
                    Cmp::Lt => format!("coalesce(t.{column} < {value}, false)"),
                    Cmp::Le => format!("coalesce(t.{column} <= {value}, false)"),
                    Cmp::Gt => format!("coalesce(t.{column} > {value}, false)"),
                    Cmp::Ge => format!("coalesce(t.{column} >= {value}, false)"),
                }
            }
            Condition::In(field, values) => {
                let column = field.column();
                let list = match field.kind() {
                    Kind::Number => {
                        let numbers: Vec<Decimal> = values
                            .iter()
                            .filter_map(|v| match v {
                                Literal::Number(n) => Some(*n),
                                _ => None,
                            })
                            .collect();
                        self.bind(Box::new(numbers), "numeric[]")
                    }
                    Kind::Bool => {
                        let flags: Vec<bool> = values
                            .iter()
                            .filter_map(|v| match v {
                                Literal::Bool(b) => Some(*b),
                                _ => None,
                            })
                            .collect();
                        self.bind(Box::new(flags), "boolean[]")
                    }
                    Kind::Text => {
                        let texts: Vec<String> = values
                            .iter()
                            .filter_map(|v| match v {
                                Literal::Text(t) => Some(t.clone()),
                                _ => None,
                            })
                            .collect();
                        self.bind(Box::new(texts), "text[]")
                    }
                };
                format!("coalesce(t.{column} = ANY({list}), false)")
            }
        }
    }

    /// The aggregate over the group's rows (alias `t`).
    pub fn aggregate(&mut self, aggregate: &Aggregate) -> String {
        match aggregate {
            Aggregate::Count => "count(*)::numeric".into(),
            Aggregate::Sum => "sum(t.amount)".into(),
            Aggregate::Avg => "trim_scale(avg(t.amount))".into(),
            Aggregate::Min => "min(t.amount)".into(),
            Aggregate::Max => "max(t.amount)".into(),
            // Exact numeric interpolation (percentile_cont semantics), as in
            // payment_metrics_5m; percentile_cont itself only takes double precision.
            Aggregate::Percentile(p) => format!(
                "trim_scale(paymetrics_percentile(array_agg(t.amount ORDER BY t.amount), 0.{p:02}))"
            ),
            Aggregate::Distinct(field) => format!("count(DISTINCT t.{})::numeric", field.column()),
            Aggregate::Ratio(condition) => format!(
                "trim_scale(count(*) FILTER (WHERE {})::numeric / count(*))",
                self.condition(condition)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Vec<Rule> {
        #[derive(serde::Deserialize)]
        struct File {
            rules: Vec<crate::engine::RuleSpec>,
        }
        let file: File = serde_saphyr::from_str(yaml).unwrap();
        crate::engine::rules::compile(&file.rules).unwrap()
    }

    #[test]
    fn conditions_become_sql_with_bound_literals_only() {
        let rule = &rules(
            "rules:\n  - name: a\n    where: \"!(country in ['us', 'de']) && (is_fraud || 100 < amount) && channel != 'pos'\"\n    aggregate: count()\n",
        )[0];
        let mut sql = Sql::starting_after(2);
        let text = sql.condition(rule.filter.as_ref().unwrap());
        assert_eq!(
            text,
            "(((NOT coalesce(t.country = ANY($3::text[]), false)) AND ((t.is_fraud IS TRUE) OR coalesce(t.amount > $4::numeric, false))) AND (t.channel IS DISTINCT FROM $5::text))"
        );
        assert_eq!(sql.params.len(), 3);
        assert!(!text.contains("us") && !text.contains("pos"));
    }
}
