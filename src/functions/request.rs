//! The caller's request of an HTTP-triggered function, as the host forwards it, and its
//! parameters parsed into what the reads take.
//!
//! With `enableForwardingHttpRequest: false` the host POSTs `{"Data": {"req": {"Url",
//! "Method", "Query", "Headers", "Params", ...}}, "Metadata": {...}}`: `Query` is an
//! object of strings (already URL-decoded, a repeated key joined with `,`) and `Params`
//! the route's values. `code` (the function key) is in `Query` too; it is never echoed
//! into an error or a log, only into the dashboard's own links, which need it.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, SubsecRound as _, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Currency, PaymentType};
use crate::store::Selection;

/// The range when the caller gives none: the last 3 hours.
pub const DEFAULT_RANGE: TimeDelta = TimeDelta::hours(3);
/// The longest range one request may ask for.
pub const MAX_RANGE: TimeDelta = TimeDelta::days(7);

/// The query parameter that carries the function key; allowed everywhere, read nowhere.
const FUNCTION_KEY: &str = "code";

/// What the handler reads of the host's envelope.
#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(rename = "Data")]
    data: Data,
}

#[derive(Debug, Default, Deserialize)]
struct Data {
    #[serde(default)]
    req: Request,
}

/// The caller's request: its query string and route values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Request {
    /// Query parameters.
    #[serde(rename = "Query", default)]
    pub query: BTreeMap<String, String>,
    /// Route values (`{rule}` of `metrics/rules/{rule}`).
    #[serde(rename = "Params", default)]
    pub params: BTreeMap<String, String>,
}

impl Request {
    /// The request inside an invocation body.
    ///
    /// # Errors
    /// A [`BadParameter`] naming `req` when the body is not the host's HTTP envelope.
    pub fn from_invocation(body: &[u8]) -> Result<Self, BadParameter> {
        serde_json::from_slice::<Envelope>(body)
            .map(|e| e.data.req)
            .map_err(|e| BadParameter {
                parameter: "req".to_owned(),
                expected: "the Functions host's HTTP request envelope (Data.req)".to_owned(),
                got: Some(e.to_string()),
            })
    }

    /// A request with these query parameters (for tests and the simulator's report).
    pub fn with_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            query: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            params: BTreeMap::new(),
        }
    }

    /// The function key the caller used, to carry into links back to the same app.
    pub fn function_key(&self) -> Option<&str> {
        self.query.get(FUNCTION_KEY).map(String::as_str)
    }

    /// Refuses any parameter but `allowed` (and `code`), so a typo (`form=`) is an
    /// error instead of a silently ignored filter.
    ///
    /// # Errors
    /// [`BadParameter`] naming the first unknown parameter.
    pub fn only(&self, allowed: &[&str]) -> Result<(), BadParameter> {
        match self
            .query
            .keys()
            .find(|k| k.as_str() != FUNCTION_KEY && !allowed.contains(&k.as_str()))
        {
            None => Ok(()),
            Some(unknown) => Err(BadParameter {
                parameter: unknown.clone(),
                expected: if allowed.is_empty() {
                    "no parameters".to_owned()
                } else {
                    format!("one of the parameters {}", allowed.join(", "))
                },
                got: None,
            }),
        }
    }

    /// `from` and `to` (RFC 3339), by default the last 3 hours before `now`, at most
    /// 7 days apart.
    ///
    /// # Errors
    /// [`BadParameter`] naming `from` or `to`.
    pub fn range(&self, now: DateTime<Utc>) -> Result<TimeRange, BadParameter> {
        // Whole seconds, so a default range reads as one.
        let to = self.time("to")?.unwrap_or_else(|| now.trunc_subsecs(0));
        let from = self.time("from")?.unwrap_or(to - DEFAULT_RANGE);
        if from >= to {
            return Err(BadParameter {
                parameter: "from".to_owned(),
                expected: format!("a time before to ({})", rfc3339(to)),
                got: Some(rfc3339(from)),
            });
        }
        if to - from > MAX_RANGE {
            return Err(BadParameter {
                parameter: "to".to_owned(),
                expected: format!(
                    "at most 7 days after from ({}), so no later than {}",
                    rfc3339(from),
                    rfc3339(from + MAX_RANGE)
                ),
                got: Some(rfc3339(to)),
            });
        }
        Ok(TimeRange { from, to })
    }

    /// `from` alone (RFC 3339, not after `now`), by default `default` before `now`.
    ///
    /// # Errors
    /// [`BadParameter`] naming `from`.
    pub fn since(
        &self,
        now: DateTime<Utc>,
        default: TimeDelta,
    ) -> Result<DateTime<Utc>, BadParameter> {
        let from = self
            .time("from")?
            .unwrap_or_else(|| now.trunc_subsecs(0) - default);
        if from > now {
            return Err(BadParameter {
                parameter: "from".to_owned(),
                expected: format!("a time before now ({})", rfc3339(now)),
                got: Some(rfc3339(from)),
            });
        }
        Ok(from)
    }

    /// The range and the `payment_type` and `currency` filters.
    ///
    /// # Errors
    /// [`BadParameter`] naming the parameter.
    pub fn selection(&self, now: DateTime<Utc>) -> Result<Selection, BadParameter> {
        let range = self.range(now)?;
        let payment_type = self
            .text("payment_type")
            .map(|v| {
                PaymentType::parse(v).map_err(|_| BadParameter {
                    parameter: "payment_type".to_owned(),
                    expected: format!(
                        "one of {}",
                        PaymentType::ALL
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    got: Some(v.to_owned()),
                })
            })
            .transpose()?;
        let currency = self
            .text("currency")
            .map(|v| {
                Currency::parse(v).map_err(|_| BadParameter {
                    parameter: "currency".to_owned(),
                    expected: "an ISO 4217 currency code with minor units, such as USD".to_owned(),
                    got: Some(v.to_owned()),
                })
            })
            .transpose()?;
        Ok(Selection {
            from: range.from,
            to: range.to,
            payment_type,
            currency,
        })
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, BadParameter> {
        self.text(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| BadParameter {
                        parameter: name.to_owned(),
                        expected: "an RFC 3339 time, such as 2026-12-01T09:00:00Z".to_owned(),
                        got: Some(v.to_owned()),
                    })
            })
            .transpose()
    }
}

/// A half-open range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, inclusive.
    pub from: DateTime<Utc>,
    /// End, exclusive.
    pub to: DateTime<Utc>,
}

/// A parameter the function cannot use: the caller's `400`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{parameter}: expected {expected}{}", got.as_ref().map(|g| format!(", got '{g}'")).unwrap_or_default())]
pub struct BadParameter {
    /// The parameter's name.
    pub parameter: String,
    /// What it must be.
    pub expected: String,
    /// What it was, when it had a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
}

/// A time as the API writes it: RFC 3339, UTC, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_hosts_envelope_gives_the_query_and_the_route_values() {
        let body = br#"{"Data":{"req":{"Url":"https://x/api/metrics/rules/r1?code=k&from=2026-12-01T10:00:00Z","Method":"GET",
            "Query":{"code":"k","from":"2026-12-01T10:00:00Z"},"Headers":{"Accept":["*/*"]},
            "Params":{"rule":"r1"},"Identities":[]}},"Metadata":{"sys":{"MethodName":"RuleMetrics"}}}"#;
        let request = Request::from_invocation(body).unwrap();
        assert_eq!(request.params["rule"], "r1");
        assert_eq!(request.function_key(), Some("k"));
        let range = request.range(now()).unwrap();
        assert_eq!(rfc3339(range.from), "2026-12-01T10:00:00Z");
        assert_eq!(range.to, now());
        let error = Request::from_invocation(b"[1]").unwrap_err();
        assert_eq!(error.parameter, "req");
    }

    #[test]
    fn the_range_defaults_to_the_last_three_hours_and_is_at_most_seven_days() {
        let range = Request::default().range(now()).unwrap();
        assert_eq!((range.to - range.from).num_hours(), 3);
        assert_eq!(range.to, now());

        let only_to = Request::with_query([("to", "2026-11-30T00:00:00+01:00")]);
        let range = only_to.range(now()).unwrap();
        assert_eq!(rfc3339(range.to), "2026-11-29T23:00:00Z");
        assert_eq!(rfc3339(range.from), "2026-11-29T20:00:00Z");

        let week = Request::with_query([
            ("from", "2026-11-24T12:00:00Z"),
            ("to", "2026-12-01T12:00:00Z"),
        ]);
        assert!(week.range(now()).is_ok());
        let longer = Request::with_query([
            ("from", "2026-11-24T11:59:59Z"),
            ("to", "2026-12-01T12:00:00Z"),
        ]);
        let error = longer.range(now()).unwrap_err();
        assert_eq!(error.parameter, "to");
        assert!(error.expected.contains("7 days"), "{error}");
    }

    #[test]
    fn each_bad_parameter_is_named_with_what_was_expected() {
        let cases = [
            (("from", "yesterday"), "from", "RFC 3339"),
            (("to", "2026-13-01T00:00:00Z"), "to", "RFC 3339"),
            (("from", "2026-12-01T12:00:01Z"), "from", "before to"),
            (("payment_type", "cash"), "payment_type", "card, ach, wire"),
            (("currency", "XYZ"), "currency", "ISO 4217"),
        ];
        for ((key, value), parameter, expected) in cases {
            let error = Request::with_query([(key, value)])
                .selection(now())
                .unwrap_err();
            assert_eq!(error.parameter, parameter, "{key}={value}");
            assert!(error.expected.contains(expected), "{error}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{parameter}: expected"))
            );
        }
        let error = Request::with_query([("form", "x"), ("code", "secret")])
            .only(&["from", "to"])
            .unwrap_err();
        assert_eq!(error.parameter, "form");
        assert!(!error.to_string().contains("secret"));
        assert!(Request::with_query([("code", "secret")]).only(&[]).is_ok());
    }

    #[test]
    fn filters_are_parsed_to_their_stored_spelling() {
        let selection = Request::with_query([("payment_type", "Card"), ("currency", "usd")])
            .selection(now())
            .unwrap();
        assert_eq!(selection.payment_type, Some(PaymentType::Card));
        assert_eq!(selection.currency.unwrap().code(), "USD");
    }
}
