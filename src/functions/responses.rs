//! The bodies the handler answers with, as types: the host's invocation envelope
//! (`{"Outputs", "Logs", "ReturnValue"}`), each function's return value, and the body of
//! a failed invocation.
//!
//! The host reads the envelope's keys case-sensitively; the return values are what
//! operators see in the host's log and what the scripts read, so their keys are part of
//! the contract too.

use std::collections::BTreeMap;

use serde::Serialize;

/// The body the host expects back: `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationResponse<R, O = NoOutputs> {
    /// Output bindings by name (`res` of the Health function; the others have none).
    pub outputs: O,
    /// Lines the host writes to the function's log.
    pub logs: Vec<String>,
    /// The function's result, logged by the host.
    pub return_value: R,
}

impl<R> InvocationResponse<R> {
    /// A response without output bindings.
    pub fn new(logs: Vec<String>, return_value: R) -> Self {
        Self {
            outputs: NoOutputs {},
            logs,
            return_value,
        }
    }
}

/// A function without output bindings: `"Outputs": {}`.
#[derive(Debug, Serialize)]
pub struct NoOutputs {}

/// `ReturnValue` of `POST /EventHubTrigger`: what became of the batch's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    /// Events stored as new transactions.
    pub accepted: usize,
    /// Events whose transaction was stored before with the same content.
    pub duplicates: usize,
    /// The Event Hubs partition of the batch; absent when the body was no invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_id: Option<Option<String>>,
    /// Events in the invocation.
    pub received: usize,
    /// Events quarantined in `rejected_events`.
    pub rejected: usize,
    /// The quarantined events by reason code.
    pub rejected_by_reason: BTreeMap<&'static str, usize>,
}

/// `ReturnValue` of `POST /TimerTrigger`: what the run closed, cleaned up and clustered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimerOutcome {
    /// Alerts that fired in this run (`metric_alerts`).
    pub alerts_fired: usize,
    /// Alerts that resolved in this run.
    pub alerts_resolved: usize,
    /// The run's cluster run, when merchants were clustered.
    pub cluster_run_id: Option<i64>,
    /// The host missed scheduled runs before this one.
    pub is_past_due: bool,
    /// Merchants flagged as outliers by the cluster run.
    pub merchant_outliers: usize,
    /// Merchants the cluster run assigned.
    pub merchants_clustered: usize,
    /// The instant the run worked at (RFC 3339).
    pub now: String,
    /// Day partitions dropped past retention.
    pub partitions_dropped: Vec<String>,
    /// `payment_metrics_5m` rows written.
    pub rows_written: u64,
    /// `dynamic_metrics` rows written.
    pub rule_rows_written: u64,
    /// Now minus the end of the oldest due window still open, whole seconds.
    pub window_close_lag_seconds: u64,
    /// Windows closed for the first time.
    pub windows_closed: u64,
    /// Closed windows recomputed for late data.
    pub windows_recomputed: u64,
    /// Due windows left for the next run (the run's time budget ran out).
    pub windows_remaining: u64,
}

/// `Outputs` of an HTTP-triggered function (`Health`, `Metrics5m`, `RuleMetrics`,
/// `Clusters`, `Dashboard`): the HTTP response the host hands to the caller.
#[derive(Debug, Serialize)]
pub struct HttpOutputs {
    /// The caller's response.
    pub res: HttpResponse,
}

/// An HTTP output binding as the host reads it.
#[derive(Debug, Serialize)]
pub struct HttpResponse {
    /// The body, already serialized (the host passes it on as it is).
    pub body: String,
    /// Response headers.
    pub headers: Headers,
    /// The caller's status code.
    #[serde(rename = "statusCode")]
    pub status_code: u16,
}

/// The headers of the handler's HTTP outputs (the host wants each value a string).
#[derive(Debug, Serialize)]
pub struct Headers {
    /// `application/json`, or `text/html; charset=utf-8` for the dashboard.
    #[serde(rename = "Content-Type")]
    pub content_type: &'static str,
    /// The dashboard's: nothing but itself and its inline styles may load.
    #[serde(
        rename = "Content-Security-Policy",
        skip_serializing_if = "Option::is_none"
    )]
    pub content_security_policy: Option<&'static str>,
}

impl Headers {
    /// `Content-Type: application/json`.
    pub const JSON: Self = Self {
        content_type: "application/json",
        content_security_policy: None,
    };

    /// A self-contained HTML page: no script, no request to anywhere but its own origin.
    pub const HTML: Self = Self {
        content_type: "text/html; charset=utf-8",
        content_security_policy: Some(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    };
}

/// The body of a failed invocation (any non-2xx): the envelope the host expects, with
/// the reason in `Logs`, plus `error` for people and scripts reading the answer.
#[derive(Debug, Serialize)]
pub struct FailedInvocation {
    /// One line: the invocation failed and why.
    #[serde(rename = "Logs")]
    pub logs: [String; 1],
    /// `{}`: a failed invocation has no outputs.
    #[serde(rename = "Outputs")]
    pub outputs: NoOutputs,
    /// Always `null`.
    #[serde(rename = "ReturnValue")]
    pub return_value: (),
    /// What failed, for people and scripts reading the answer (the host ignores it).
    pub error: ErrorBody,
}

/// What failed, in [`FailedInvocation`].
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// A stable code (`database_unavailable`, `schema_too_old`, `body_too_large`, ...).
    pub code: &'static str,
    /// The error and its causes.
    pub message: String,
    /// Whether trying again can succeed: always true, the failure is transient. The host
    /// retries a failed Event Hub batch (its `retry` policy); the timer has none, and its
    /// next run closes what a failed one left.
    pub retryable: bool,
}

/// `GET /`: the readiness answer.
#[derive(Debug, Serialize)]
pub struct Ready {
    /// Always `paymetrics-handler`.
    pub service: &'static str,
    /// Always `ready`.
    pub status: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_the_hosts_keys_in_pascal_case() {
        let outcome = BatchOutcome {
            accepted: 2,
            duplicates: 1,
            partition_id: Some(Some("0".into())),
            received: 4,
            rejected: 1,
            rejected_by_reason: BTreeMap::from([("malformed_json", 1)]),
        };
        let body = InvocationResponse::new(vec!["received 4".into()], outcome);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"Outputs":{},"Logs":["received 4"],"ReturnValue":{"accepted":2,"duplicates":1,"partition_id":"0","received":4,"rejected":1,"rejected_by_reason":{"malformed_json":1}}}"#
        );
    }

    #[test]
    fn a_batch_without_a_partition_says_null_and_an_invalid_body_leaves_it_out() {
        let mut outcome = BatchOutcome {
            accepted: 0,
            duplicates: 0,
            partition_id: Some(None),
            received: 0,
            rejected: 1,
            rejected_by_reason: BTreeMap::from([("envelope_invalid", 1)]),
        };
        let text = serde_json::to_string(&outcome).unwrap();
        assert!(text.contains(r#""partition_id":null"#), "{text}");
        outcome.partition_id = None;
        assert_eq!(
            serde_json::to_string(&outcome).unwrap(),
            r#"{"accepted":0,"duplicates":0,"received":0,"rejected":1,"rejected_by_reason":{"envelope_invalid":1}}"#
        );
    }

    #[test]
    fn the_health_outputs_and_a_failure_keep_their_shape() {
        let health = InvocationResponse {
            outputs: HttpOutputs {
                res: HttpResponse {
                    body: "{}".into(),
                    headers: Headers::JSON,
                    status_code: 503,
                },
            },
            logs: vec![],
            return_value: (),
        };
        assert_eq!(
            serde_json::to_string(&health).unwrap(),
            r#"{"Outputs":{"res":{"body":"{}","headers":{"Content-Type":"application/json"},"statusCode":503}},"Logs":[],"ReturnValue":null}"#
        );
        let failed = FailedInvocation {
            logs: ["invocation failed".into()],
            outputs: NoOutputs {},
            return_value: (),
            error: ErrorBody {
                code: "database_unavailable",
                message: "down".into(),
                retryable: true,
            },
        };
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"{"Logs":["invocation failed"],"Outputs":{},"ReturnValue":null,"error":{"code":"database_unavailable","message":"down","retryable":true}}"#
        );
    }
}
