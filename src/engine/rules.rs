//! Rule-based metrics: analysts declare them in the engine YAML, the engine computes them
//! for every closed window into `dynamic_metrics`.
//!
//! A rule's `where` and `ratio(...)` conditions are CEL expressions (parsed by the `cel`
//! crate), checked against the transaction fields and their types at load, and compiled
//! to SQL in which every column name comes from a fixed list and every literal is a
//! bound parameter: no text of a rule ever reaches SQL.

use std::fmt;
use std::str::FromStr;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

use crate::domain::{Channel, Country, Currency, PaymentType, Status};

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

/// A transaction field a rule can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `payment_type` (text)
    PaymentType,
    /// `status` (text)
    Status,
    /// `currency` (text)
    Currency,
    /// `amount` (number)
    Amount,
    /// `merchant_id` (text)
    MerchantId,
    /// `merchant_category` (text)
    MerchantCategory,
    /// `customer_id` (text)
    CustomerId,
    /// `country` (text)
    Country,
    /// `channel` (text)
    Channel,
    /// `is_fraud` (boolean)
    IsFraud,
    /// `decline_reason` (text)
    DeclineReason,
}

const FIELDS: &[(&str, Field)] = &[
    ("payment_type", Field::PaymentType),
    ("status", Field::Status),
    ("currency", Field::Currency),
    ("amount", Field::Amount),
    ("merchant_id", Field::MerchantId),
    ("merchant_category", Field::MerchantCategory),
    ("customer_id", Field::CustomerId),
    ("country", Field::Country),
    ("channel", Field::Channel),
    ("is_fraud", Field::IsFraud),
    ("decline_reason", Field::DeclineReason),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Bool,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "a string",
            Self::Number => "a number",
            Self::Bool => "a boolean",
        })
    }
}

impl Field {
    fn parse(name: &str) -> Option<Self> {
        FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// The column of `normalized_transactions`, from this fixed list only.
    pub fn column(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("listed")
    }

    fn kind(self) -> Kind {
        match self {
            Self::Amount => Kind::Number,
            Self::IsFraud => Kind::Bool,
            _ => Kind::Text,
        }
    }

    /// Checks a literal compared with this field, and normalizes it as stored.
    fn check_text(self, value: &str) -> Result<String, String> {
        // The stored (canonical) spelling is what is bound, so `'CARD '` matches `card`.
        let closed = |parsed: Option<&'static str>, allowed: &str| {
            if let Some(canonical) = parsed {
                Ok(canonical.to_owned())
            } else {
                Err(format!(
                    "'{value}' is never a {}: the values are {allowed}",
                    self.column()
                ))
            }
        };
        match self {
            Self::PaymentType => closed(
                PaymentType::parse(value).ok().map(PaymentType::as_str),
                "card, ach, wire, wallet, bnpl",
            ),
            Self::Status => closed(
                Status::parse(value).ok().map(Status::as_str),
                "approved, declined, failed, pending, refunded",
            ),
            Self::Channel => closed(
                Channel::parse(value).ok().map(Channel::as_str),
                "pos, online, mobile",
            ),
            Self::Currency => Currency::parse(value)
                .map(|c| c.code().to_owned())
                .map_err(|_| format!("'{value}' is not an ISO 4217 currency code")),
            Self::Country => Country::parse(value)
                .map(|c| c.as_str().to_owned())
                .map_err(|_| format!("'{value}' is not an ISO 3166-1 alpha-2 country code")),
            _ => Ok(value.to_owned()),
        }
    }
}

/// A literal of a condition, as it will be bound.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(Decimal),
    Bool(bool),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A checked boolean condition over one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// Does not hold.
    Not(Box<Condition>),
    /// A field compared with a literal.
    Compare(Field, CmpOp, LiteralValueOwned),
    /// A field is one of the literals.
    In(Field, Vec<LiteralValueOwned>),
    /// The boolean field `is_fraud` itself.
    Flag(Field),
    /// `true` or `false`.
    Constant(bool),
}

/// Public view of a comparison operator (for [`Condition`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmpOp(Cmp);

/// Public view of a literal (for [`Condition`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LiteralValueOwned(Literal);

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
    fn adds_money(&self) -> bool {
        matches!(
            self,
            Self::Sum | Self::Avg | Self::Min | Self::Max | Self::Percentile(_)
        )
    }
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// For people.
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

fn compile_one(spec: &RuleSpec) -> Result<Rule, Vec<RuleError>> {
    let name = spec.name.value.clone();
    let mut errors = Vec::new();
    let mut fail = |line: u64, message: String| {
        errors.push(RuleError {
            line,
            rule: name.clone(),
            message,
        })
    };
    let valid_name = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        fail(
            spec.name.referenced.line(),
            "name: use 1 to 63 lower-case letters, digits and underscores, e.g. card_decline_rate"
                .into(),
        );
    }

    let window_seconds = match &spec.window {
        None => Some(300),
        Some(window) => match parse_window(&window.value) {
            Ok(seconds) => Some(seconds),
            Err(message) => {
                fail(window.referenced.line(), message);
                None
            }
        },
    };

    let filter = match &spec.condition {
        None => None,
        Some(text) => match parse_condition(&text.value) {
            Ok(condition) => Some(condition),
            Err(message) => {
                fail(text.referenced.line(), format!("where: {message}"));
                None
            }
        },
    };

    let mut group_by = Vec::new();
    for dimension in &spec.group_by {
        match Field::parse(&dimension.value) {
            Some(Field::Amount) => fail(
                dimension.referenced.line(),
                "group_by: amount is a measure, not a dimension; group by a text field".into(),
            ),
            Some(field) if group_by.contains(&field) => fail(
                dimension.referenced.line(),
                format!("group_by: {} is listed twice", field.column()),
            ),
            Some(field) => group_by.push(field),
            None => fail(
                dimension.referenced.line(),
                format!(
                    "group_by: unknown field '{}'; {}",
                    dimension.value,
                    field_list()
                ),
            ),
        }
    }

    let aggregate = match parse_aggregate(&spec.aggregate.value) {
        Ok(aggregate) => Some(aggregate),
        Err(message) => {
            fail(
                spec.aggregate.referenced.line(),
                format!("aggregate: {message}"),
            );
            None
        }
    };
    if let Some(aggregate) = &aggregate {
        let grouped = group_by.contains(&Field::Currency);
        let pinned = filter.as_ref().is_some_and(pins_one_currency);
        if aggregate.adds_money() && !grouped && !pinned {
            fail(
                spec.aggregate.referenced.line(),
                format!(
                    "aggregate: {} would mix amounts of different currencies; add currency to \
                     group_by or restrict where to one currency (currency == 'USD')",
                    spec.aggregate.value.trim()
                ),
            );
        }
    }

    match (window_seconds, aggregate) {
        (Some(window_seconds), Some(aggregate)) if errors.is_empty() => Ok(Rule {
            version: version(spec),
            name,
            description: spec.description.clone(),
            window_seconds,
            filter,
            group_by,
            aggregate,
        }),
        _ => Err(errors),
    }
}

fn field_list() -> String {
    let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
    format!("the fields are {}", names.join(", "))
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
    let seconds = duration.as_secs() as i64;
    if duration.subsec_nanos() != 0 || seconds == 0 || seconds % 60 != 0 || 86_400 % seconds != 0 {
        return Err(format!("{fix}; '{text}' is not one"));
    }
    Ok(seconds)
}

fn parse_cel(text: &str) -> Result<IdedExpr, String> {
    cel::parser::Parser::new().parse(text).map_err(|e| {
        format!(
            "'{text}' is not a valid expression: {}",
            e.to_string().replace('\n', " ")
        )
    })
}

/// Parses and checks a condition.
fn parse_condition(text: &str) -> Result<Condition, String> {
    condition(&parse_cel(text)?.expr)
}

fn condition(expr: &Expr) -> Result<Condition, String> {
    match expr {
        Expr::Literal(LiteralValue::Boolean(b)) => Ok(Condition::Constant(*b.inner())),
        Expr::Ident(name) => match Field::parse(name) {
            Some(field) if field.kind() == Kind::Bool => Ok(Condition::Flag(field)),
            Some(field) => Err(format!(
                "{name} is {}, not a condition; compare it, e.g. {name} == ...",
                field.kind()
            )),
            None => Err(format!("unknown field '{name}'; {}", field_list())),
        },
        Expr::Call(call) => {
            let args = &call.args;
            match call.func_name.as_str() {
                operators::LOGICAL_AND | operators::LOGICAL_OR if args.len() == 2 => {
                    let (a, b) = (condition(&args[0].expr)?, condition(&args[1].expr)?);
                    Ok(if call.func_name == operators::LOGICAL_AND {
                        Condition::And(Box::new(a), Box::new(b))
                    } else {
                        Condition::Or(Box::new(a), Box::new(b))
                    })
                }
                operators::LOGICAL_NOT if args.len() == 1 => {
                    Ok(Condition::Not(Box::new(condition(&args[0].expr)?)))
                }
                operators::IN if args.len() == 2 => {
                    let field = field_of(&args[0].expr)?;
                    let Expr::List(list) = &args[1].expr else {
                        return Err(format!(
                            "{} in ... needs a list such as ['a', 'b']",
                            field.column()
                        ));
                    };
                    let values = list
                        .elements
                        .iter()
                        .map(|e| literal_for(field, &e.expr).map(LiteralValueOwned))
                        .collect::<Result<Vec<_>, _>>()?;
                    if values.is_empty() {
                        return Err(format!("{} in []: the list is empty", field.column()));
                    }
                    Ok(Condition::In(field, values))
                }
                op @ (operators::EQUALS
                | operators::NOT_EQUALS
                | operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS)
                    if args.len() == 2 =>
                {
                    let cmp = match op {
                        operators::EQUALS => Cmp::Eq,
                        operators::NOT_EQUALS => Cmp::Ne,
                        operators::LESS => Cmp::Lt,
                        operators::LESS_EQUALS => Cmp::Le,
                        operators::GREATER => Cmp::Gt,
                        _ => Cmp::Ge,
                    };
                    // field OP literal, or literal OP field (mirrored).
                    let (field, literal, cmp) =
                        match (field_of(&args[0].expr), field_of(&args[1].expr)) {
                            (Ok(field), _) => (field, &args[1].expr, cmp),
                            (Err(_), Ok(field)) => (field, &args[0].expr, mirror(cmp)),
                            (Err(e), Err(_)) => return Err(e),
                        };
                    let value = literal_for(field, literal)?;
                    if !matches!(cmp, Cmp::Eq | Cmp::Ne) && field.kind() != Kind::Number {
                        return Err(format!(
                            "{} is {}: only == and != (or in) apply to it",
                            field.column(),
                            field.kind()
                        ));
                    }
                    Ok(Condition::Compare(
                        field,
                        CmpOp(cmp),
                        LiteralValueOwned(value),
                    ))
                }
                other => Err(format!(
                    "'{}' is not supported in a condition; use == != < <= > >= in && || ! and parentheses",
                    other.trim_matches('_')
                )),
            }
        }
        Expr::Select(select) => Err(format!(
            "'.{}': fields are plain names, e.g. status",
            select.field
        )),
        Expr::Literal(_) => Err("a condition must be true or false, not a number or string".into()),
        _ => Err("not a condition; use == != < <= > >= in && || ! and parentheses".into()),
    }
}

fn mirror(cmp: Cmp) -> Cmp {
    match cmp {
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
        other => other,
    }
}

fn field_of(expr: &Expr) -> Result<Field, String> {
    match expr {
        Expr::Ident(name) => {
            Field::parse(name).ok_or_else(|| format!("unknown field '{name}'; {}", field_list()))
        }
        _ => Err("a comparison needs a field on one side, e.g. amount > 100".into()),
    }
}

/// A literal compared with `field`, type-checked and normalized as stored.
fn literal_for(field: Field, expr: &Expr) -> Result<Literal, String> {
    let (literal, kind) = match expr {
        Expr::Literal(LiteralValue::String(s)) => (Literal::Text(s.inner().to_owned()), Kind::Text),
        Expr::Literal(LiteralValue::Boolean(b)) => (Literal::Bool(*b.inner()), Kind::Bool),
        Expr::Literal(LiteralValue::Int(i)) => {
            (Literal::Number(Decimal::from(*i.inner())), Kind::Number)
        }
        Expr::Literal(LiteralValue::UInt(u)) => {
            (Literal::Number(Decimal::from(*u.inner())), Kind::Number)
        }
        Expr::Literal(LiteralValue::Double(d)) => {
            let value = Decimal::from_str(&d.inner().to_string())
                .or_else(|_| Decimal::from_scientific(&d.inner().to_string()))
                .map_err(|_| format!("{} is not a usable number", d.inner()))?;
            (Literal::Number(value), Kind::Number)
        }
        Expr::Call(call) if call.func_name == operators::NEGATE && call.args.len() == 1 => {
            return match literal_for(field, &call.args[0].expr)? {
                Literal::Number(n) => Ok(Literal::Number(-n)),
                _ => Err("only numbers can be negative".into()),
            };
        }
        Expr::Ident(name) if Field::parse(name).is_some() => {
            return Err(format!(
                "{} is compared with another field ({name}); compare it with a literal",
                field.column()
            ));
        }
        _ => {
            return Err(format!(
                "{} must be compared with a literal",
                field.column()
            ));
        }
    };
    if kind != field.kind() {
        let shown = match &literal {
            Literal::Text(t) => format!("'{t}'"),
            Literal::Number(n) => n.to_string(),
            Literal::Bool(b) => b.to_string(),
        };
        return Err(format!(
            "{} is {}, but {shown} is {kind}",
            field.column(),
            field.kind()
        ));
    }
    match literal {
        Literal::Text(text) => field.check_text(&text).map(Literal::Text),
        other => Ok(other),
    }
}

fn parse_aggregate(text: &str) -> Result<Aggregate, String> {
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
            [arg] => condition(&arg.expr).map(Aggregate::Ratio),
            _ => Err("ratio() takes one condition, as in ratio(status == 'declined')".into()),
        },
        other => Err(format!("unknown aggregate '{other}'; {fix}")),
    }
}

/// True when every transaction the condition admits has one and the same currency.
fn pins_one_currency(condition: &Condition) -> bool {
    match condition {
        Condition::And(a, b) => pins_one_currency(a) || pins_one_currency(b),
        Condition::Compare(Field::Currency, CmpOp(Cmp::Eq), _) => true,
        Condition::In(Field::Currency, values) => {
            let first = &values[0];
            values.iter().all(|v| v == first)
        }
        _ => false,
    }
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
            Condition::Compare(field, CmpOp(cmp), LiteralValueOwned(value)) => {
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
                            .filter_map(|v| match &v.0 {
                                Literal::Number(n) => Some(*n),
                                _ => None,
                            })
                            .collect();
                        self.bind(Box::new(numbers), "numeric[]")
                    }
                    Kind::Bool => {
                        let flags: Vec<bool> = values
                            .iter()
                            .filter_map(|v| match &v.0 {
                                Literal::Bool(b) => Some(*b),
                                _ => None,
                            })
                            .collect();
                        self.bind(Box::new(flags), "boolean[]")
                    }
                    Kind::Text => {
                        let texts: Vec<String> = values
                            .iter()
                            .filter_map(|v| match &v.0 {
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

    #[test]
    fn conditions_become_sql_with_bound_literals_only() {
        let rule = &rules(
            "rules:\n  - name: a\n    where: \"!(country in ['us', 'de']) && (is_fraud || 100 < amount) && channel != 'pos'\"\n    aggregate: count()\n",
        )
        .unwrap()[0];
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
