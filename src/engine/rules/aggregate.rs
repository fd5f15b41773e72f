//! Aggregates (`count()`, `sum(amount)`, `p95(amount)`, `ratio(...)`): what a rule
//! computes per window and group.

use cel::common::ast::Expr;

use super::condition::{self, Condition, parse_cel};
use super::field::Field;

/// What a rule computes per window and group.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// `count()`
    Count,
    /// `sum(amount)`
    Sum,
    /// `avg(amount)`
    Avg,
    /// `min(amount)`
    Min,
    /// `max(amount)`
    Max,
    /// `p50|p90|p95|p99(amount)`: continuous percentile (`percentile_cont`), in hundredths.
    Percentile(u8),
    /// `distinct(customer_id|merchant_id)`
    Distinct(Field),
    /// `ratio(condition)`: share of the rule's transactions that match.
    Ratio(Condition),
}

impl Aggregate {
    pub(super) fn adds_money(&self) -> bool {
        matches!(
            self,
            Self::Sum | Self::Avg | Self::Min | Self::Max | Self::Percentile(_)
        )
    }
}

/// Parses and checks an aggregate such as `p95(amount)` or `ratio(status == 'declined')`.
pub(super) fn parse_aggregate(text: &str) -> Result<Aggregate, String> {
    let fix = "use count(), sum(amount), avg(amount), min(amount), max(amount), p50|p90|p95|p99(amount), \
               distinct(customer_id|merchant_id) or ratio(<condition>)";
    let expr = parse_cel(text.trim())?;
    let Expr::Call(call) = &expr.expr else {
        return Err(format!("'{text}' is not an aggregate; {fix}"));
    };
    if call.target.is_some() {
        return Err(format!("'{text}' is not an aggregate; {fix}"));
    }
    let amount_only = |aggregate: Aggregate| match call.args.as_slice() {
        [arg] if matches!(&arg.expr, Expr::Ident(n) if n == "amount") => Ok(aggregate),
        _ => Err(format!(
            "{}() takes amount, as in {}(amount)",
            call.func_name, call.func_name
        )),
    };
    match call.func_name.as_str() {
        "count" if call.args.is_empty() => Ok(Aggregate::Count),
        "count" => Err("count() takes no argument; filter with where".into()),
        "sum" => amount_only(Aggregate::Sum),
        "avg" => amount_only(Aggregate::Avg),
        "min" => amount_only(Aggregate::Min),
        "max" => amount_only(Aggregate::Max),
        "p50" => amount_only(Aggregate::Percentile(50)),
        "p90" => amount_only(Aggregate::Percentile(90)),
        "p95" => amount_only(Aggregate::Percentile(95)),
        "p99" => amount_only(Aggregate::Percentile(99)),
        "distinct" => match call.args.as_slice() {
            [arg] => match &arg.expr {
                Expr::Ident(n) if n == "customer_id" => Ok(Aggregate::Distinct(Field::CustomerId)),
                Expr::Ident(n) if n == "merchant_id" => Ok(Aggregate::Distinct(Field::MerchantId)),
                _ => Err("distinct() takes customer_id or merchant_id".into()),
            },
            _ => Err("distinct() takes customer_id or merchant_id".into()),
        },
        "ratio" => match call.args.as_slice() {
            [arg] => condition::condition(&arg.expr).map(Aggregate::Ratio),
            _ => Err("ratio() takes one condition, as in ratio(status == 'declined')".into()),
        },
        other => Err(format!("unknown aggregate '{other}'; {fix}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::{Cmp, Literal};

    #[test]
    fn each_aggregate_is_recognized() {
        let declined = Condition::Compare(Field::Status, Cmp::Eq, Literal::Text("declined".into()));
        let cases = [
            ("count()", Aggregate::Count),
            ("sum(amount)", Aggregate::Sum),
            (" avg(amount) ", Aggregate::Avg),
            ("min(amount)", Aggregate::Min),
            ("max(amount)", Aggregate::Max),
            ("p50(amount)", Aggregate::Percentile(50)),
            ("p90(amount)", Aggregate::Percentile(90)),
            ("p95(amount)", Aggregate::Percentile(95)),
            ("p99(amount)", Aggregate::Percentile(99)),
            (
                "distinct(customer_id)",
                Aggregate::Distinct(Field::CustomerId),
            ),
            (
                "distinct(merchant_id)",
                Aggregate::Distinct(Field::MerchantId),
            ),
            ("ratio(status == 'declined')", Aggregate::Ratio(declined)),
        ];
        for (written, expected) in cases {
            assert_eq!(parse_aggregate(written), Ok(expected), "{written}");
        }
    }

    #[test]
    fn a_misused_aggregate_names_its_fix() {
        let fix = "use count(), sum(amount), avg(amount), min(amount), max(amount), \
                   p50|p90|p95|p99(amount), distinct(customer_id|merchant_id) or \
                   ratio(<condition>)";
        let cases = [
            ("amount", format!("'amount' is not an aggregate; {fix}")),
            (
                "amount.sum()",
                format!("'amount.sum()' is not an aggregate; {fix}"),
            ),
            (
                "sum(status)",
                "sum() takes amount, as in sum(amount)".into(),
            ),
            ("p99()", "p99() takes amount, as in p99(amount)".into()),
            (
                "count(amount)",
                "count() takes no argument; filter with where".into(),
            ),
            (
                "distinct(status)",
                "distinct() takes customer_id or merchant_id".into(),
            ),
            (
                "distinct()",
                "distinct() takes customer_id or merchant_id".into(),
            ),
            (
                "ratio()",
                "ratio() takes one condition, as in ratio(status == 'declined')".into(),
            ),
            (
                "ratio(amount)",
                "amount is a number, not a condition; compare it, e.g. amount == ...".into(),
            ),
        ];
        for (written, expected) in cases {
            assert_eq!(parse_aggregate(written), Err(expected), "{written}");
        }
    }
}
