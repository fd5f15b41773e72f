//! Conditions (`where:` and `ratio(...)`): CEL text parsed by the `cel` crate, then
//! type-checked against the fields into a [`Condition`] tree whose literals are typed
//! and normalized.

use std::str::FromStr;

use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue, operators};
use rust_decimal::Decimal;

use super::field::{Field, Kind, field_list};

/// A literal of a condition, type-checked against its field and normalized as stored:
/// the value the store binds.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string, in its stored spelling (`'CARD '` becomes `card`).
    Text(String),
    /// An exact number.
    Number(Decimal),
    /// `true` or `false`.
    Bool(bool),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
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
    Compare(Field, Cmp, Literal),
    /// A field is one of the literals (at least one, all of the field's kind).
    In(Field, Vec<Literal>),
    /// The boolean field `is_fraud` itself.
    Flag(Field),
    /// `true` or `false`.
    Constant(bool),
}

/// Parses CEL text into its syntax tree.
pub(super) fn parse_cel(text: &str) -> Result<IdedExpr, String> {
    cel::parser::Parser::new().parse(text).map_err(|e| {
        format!(
            "'{text}' is not a valid expression: {}",
            e.to_string().replace('\n', " ")
        )
    })
}

/// Parses and checks a condition.
pub(super) fn parse_condition(text: &str) -> Result<Condition, String> {
    condition(&parse_cel(text)?.expr)
}

/// A CEL expression as a checked condition.
pub(super) fn condition(expr: &Expr) -> Result<Condition, String> {
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
        Expr::Call(call) => call_condition(call),
        Expr::Select(select) => Err(format!(
            "'.{}': fields are plain names, e.g. status",
            select.field
        )),
        Expr::Literal(_) => Err("a condition must be true or false, not a number or string".into()),
        _ => Err("not a condition; use == != < <= > >= in && || ! and parentheses".into()),
    }
}

/// A call (`&&`, `||`, `!`, `in`, a comparison) as a condition.
fn call_condition(call: &CallExpr) -> Result<Condition, String> {
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
        operators::IN if args.len() == 2 => membership(&args[0].expr, &args[1].expr),
        op @ (operators::EQUALS
        | operators::NOT_EQUALS
        | operators::LESS
        | operators::LESS_EQUALS
        | operators::GREATER
        | operators::GREATER_EQUALS)
            if args.len() == 2 =>
        {
            comparison(op, &args[0].expr, &args[1].expr)
        }
        other => Err(format!(
            "'{}' is not supported in a condition; use == != < <= > >= in && || ! and parentheses",
            other.trim_matches('_')
        )),
    }
}

/// `field in [literal, ...]`.
fn membership(field: &Expr, list: &Expr) -> Result<Condition, String> {
    let field = field_of(field)?;
    let Expr::List(list) = list else {
        return Err(format!(
            "{} in ... needs a list such as ['a', 'b']",
            field.column()
        ));
    };
    let values = list
        .elements
        .iter()
        .map(|e| literal_for(field, &e.expr))
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        return Err(format!("{} in []: the list is empty", field.column()));
    }
    Ok(Condition::In(field, values))
}

/// `field OP literal`, or `literal OP field` (mirrored).
fn comparison(op: &str, left: &Expr, right: &Expr) -> Result<Condition, String> {
    let cmp = match op {
        operators::EQUALS => Cmp::Eq,
        operators::NOT_EQUALS => Cmp::Ne,
        operators::LESS => Cmp::Lt,
        operators::LESS_EQUALS => Cmp::Le,
        operators::GREATER => Cmp::Gt,
        _ => Cmp::Ge,
    };
    let (field, literal, cmp) = match (field_of(left), field_of(right)) {
        (Ok(field), _) => (field, right, cmp),
        (Err(_), Ok(field)) => (field, left, mirror(cmp)),
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
    Ok(Condition::Compare(field, cmp, value))
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

/// True when every transaction the condition admits has one and the same currency.
pub(super) fn pins_one_currency(condition: &Condition) -> bool {
    match condition {
        Condition::And(a, b) => pins_one_currency(a) || pins_one_currency(b),
        Condition::Compare(Field::Currency, Cmp::Eq, _) => true,
        Condition::In(Field::Currency, values) => {
            let first = &values[0];
            values.iter().all(|v| v == first)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compare(field: Field, cmp: Cmp, literal: Literal) -> Condition {
        Condition::Compare(field, cmp, literal)
    }

    fn number(n: i64) -> Literal {
        Literal::Number(Decimal::from(n))
    }

    fn text(t: &str) -> Literal {
        Literal::Text(t.to_owned())
    }

    #[test]
    fn conditions_are_typed_and_a_literal_on_the_left_is_mirrored() {
        let cases = [
            ("true", Condition::Constant(true)),
            ("is_fraud", Condition::Flag(Field::IsFraud)),
            (
                "!is_fraud",
                Condition::Not(Box::new(Condition::Flag(Field::IsFraud))),
            ),
            ("100 < amount", compare(Field::Amount, Cmp::Gt, number(100))),
            (
                "100 <= amount",
                compare(Field::Amount, Cmp::Ge, number(100)),
            ),
            ("100 > amount", compare(Field::Amount, Cmp::Lt, number(100))),
            (
                "100 >= amount",
                compare(Field::Amount, Cmp::Le, number(100)),
            ),
            (
                "100 != amount",
                compare(Field::Amount, Cmp::Ne, number(100)),
            ),
            (
                "'CARD' == payment_type",
                compare(Field::PaymentType, Cmp::Eq, text("card")),
            ),
            ("amount > 5u", compare(Field::Amount, Cmp::Gt, number(5))),
            (
                "amount >= 12.5",
                compare(
                    Field::Amount,
                    Cmp::Ge,
                    Literal::Number(Decimal::new(125, 1)),
                ),
            ),
            ("amount > -(3)", compare(Field::Amount, Cmp::Gt, number(-3))),
            (
                "is_fraud == true",
                compare(Field::IsFraud, Cmp::Eq, Literal::Bool(true)),
            ),
            (
                "status in ['declined', 'FAILED']",
                Condition::In(Field::Status, vec![text("declined"), text("failed")]),
            ),
            (
                "is_fraud || currency == 'eur'",
                Condition::Or(
                    Box::new(Condition::Flag(Field::IsFraud)),
                    Box::new(compare(Field::Currency, Cmp::Eq, text("EUR"))),
                ),
            ),
        ];
        for (written, expected) in cases {
            assert_eq!(parse_condition(written), Ok(expected), "{written}");
        }
    }

    #[test]
    fn a_condition_that_does_not_check_names_the_problem_and_the_fix() {
        let fields = "the fields are payment_type, status, currency, amount, merchant_id, \
                      merchant_category, customer_id, country, channel, is_fraud, decline_reason";
        let cases = [
            (
                "amount",
                "amount is a number, not a condition; compare it, e.g. amount == ...".to_owned(),
            ),
            ("colour", format!("unknown field 'colour'; {fields}")),
            (
                "tx.status",
                "'.status': fields are plain names, e.g. status".to_owned(),
            ),
            (
                "1",
                "a condition must be true or false, not a number or string".to_owned(),
            ),
            (
                "[true]",
                "not a condition; use == != < <= > >= in && || ! and parentheses".to_owned(),
            ),
            (
                "amount + 1",
                "'+' is not supported in a condition; use == != < <= > >= in && || ! and \
                 parentheses"
                    .to_owned(),
            ),
            (
                "status in 'declined'",
                "status in ... needs a list such as ['a', 'b']".to_owned(),
            ),
            ("status in []", "status in []: the list is empty".to_owned()),
            (
                "status == -'declined'",
                "only numbers can be negative".to_owned(),
            ),
            (
                "amount > merchant_id",
                "amount is compared with another field (merchant_id); compare it with a literal"
                    .to_owned(),
            ),
            (
                "amount > limit",
                "amount must be compared with a literal".to_owned(),
            ),
            (
                "amount == true",
                "amount is a number, but true is a boolean".to_owned(),
            ),
            (
                "is_fraud == 1",
                "is_fraud is a boolean, but 1 is a number".to_owned(),
            ),
            (
                "1 == 2",
                "a comparison needs a field on one side, e.g. amount > 100".to_owned(),
            ),
        ];
        for (written, expected) in cases {
            assert_eq!(parse_condition(written), Err(expected), "{written}");
        }
    }
}
