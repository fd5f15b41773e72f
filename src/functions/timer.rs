//! `POST /TimerTrigger`: close due windows into `payment_metrics_5m`, keep the day
//! partitions in shape and purge the quarantine past its retention.
//!
//! The host sends `{"Data": {"timer": {"Schedule": ..., "ScheduleStatus": ...,
//! "IsPastDue": bool}}, "Metadata": {"sys": {"UtcNow": ...}}}`. The timer carries no
//! input that could be lost, so an unreadable body reads as "on time, no host clock" and
//! the run goes ahead on the handler's clock.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use chrono::{DateTime, Utc};
use opentelemetry::KeyValue;
use serde_json::Value;
use tracing::{info, warn};

use super::responses::{InvocationResponse, TimerOutcome};
use super::{AppState, FunctionError};
use crate::store;

/// What the handler reads of the host's timer invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerInvocation {
    /// The host's clock when it fired the timer (`Metadata.sys.UtcNow`).
    pub utc_now: Option<DateTime<Utc>>,
    /// The run is late: the host missed one or more scheduled runs.
    pub is_past_due: bool,
}

impl TimerInvocation {
    /// Reads what it can of a timer invocation body; never fails.
    pub fn parse(body: &[u8]) -> Self {
        let Ok(root) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let unwrap = |v: &Value| -> Value {
            match v {
                Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                other => other.clone(),
            }
        };
        let timer = root
            .get("Data")
            .and_then(Value::as_object)
            .and_then(|data| data.values().next())
            .map(unwrap)
            .unwrap_or(Value::Null);
        let is_past_due = timer
            .get("IsPastDue")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let utc_now = root
            .pointer("/Metadata/sys/UtcNow")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        Self {
            utc_now,
            is_past_due,
        }
    }

    /// The instant the run works at: the later of the host's `UtcNow` and the handler's
    /// clock (read once, by the caller). On Azure both are the same clock; a host clock
    /// ahead of ours never makes us close a window later than the host asked for.
    pub fn now(&self, clock: DateTime<Utc>) -> DateTime<Utc> {
        self.utc_now.map_or(clock, |host| host.max(clock))
    }
}

pub(super) async fn invoke(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<InvocationResponse<TimerOutcome>>, FunctionError> {
    let invocation = TimerInvocation::parse(&body);
    let now = invocation.now(Utc::now());
    if invocation.is_past_due {
        warn!("the timer is past due: scheduled runs were missed");
    }
    let engine = state.engine.current();
    let mut client = state.client().await?;
    let partitions = store::maintain_partitions(&mut client, now, &engine.retention).await?;
    let report = store::close_due_windows(&mut client, now, &engine.windows, &engine.rules).await?;
    let clusters = store::cluster_merchants(&mut client, now, &engine.clustering).await?;
    // After the windows and rules are written: judge what this run wrote.
    let transitions = store::evaluate_alerts(&mut client, &engine.alerts, now).await?;
    let alert_logs = tell(&transitions);
    let purge =
        store::purge_rejected_events(&**client, now, engine.retention.rejected_events).await?;
    let lag =
        store::window_close_lag(&**client, now, &engine.windows, &engine.window_widths()).await?;
    let instruments = crate::telemetry::metrics::get();
    instruments.windows_closed.add(report.closed, &[]);
    instruments.windows_recomputed.add(report.recomputed, &[]);
    instruments.rules_evaluated.add(report.rules_evaluated, &[]);
    instruments.window_close_lag.record(lag.as_secs_f64(), &[]);
    let summary = format!(
        "closed {} windows, recomputed {}, wrote {} payment_metrics_5m and {} dynamic_metrics rows, {} due windows remain",
        report.closed, report.recomputed, report.rows, report.rule_rows, report.remaining
    );
    info!(
        closed = report.closed,
        recomputed = report.recomputed,
        rows = report.rows,
        remaining = report.remaining,
        is_past_due = invocation.is_past_due,
        partitions_dropped = partitions.dropped.len(),
        rejected_events_deleted = purge.deleted,
        "{summary}"
    );
    let mut logs = vec![summary];
    logs.extend(alert_logs);
    if invocation.is_past_due {
        logs.push("the timer was past due".into());
    }
    if !partitions.dropped.is_empty() {
        logs.push(format!(
            "dropped partitions past retention: {}",
            partitions.dropped.join(", ")
        ));
    }
    if purge.deleted > 0 {
        logs.push(format!(
            "deleted {} quarantined events past retention{}",
            purge.deleted,
            if purge.more {
                ", more remain for the next run"
            } else {
                ""
            }
        ));
    }
    Ok(Json(InvocationResponse::new(
        logs,
        TimerOutcome {
            alerts_fired: transitions.iter().filter(|t| t.state == "fired").count(),
            alerts_resolved: transitions.iter().filter(|t| t.state == "resolved").count(),
            cluster_run_id: clusters.run_id,
            is_past_due: invocation.is_past_due,
            merchant_outliers: clusters.outliers,
            merchants_clustered: clusters.merchants,
            now: now.to_rfc3339(),
            partitions_dropped: partitions.dropped,
            rows_written: report.rows,
            rule_rows_written: report.rule_rows,
            window_close_lag_seconds: lag.as_secs(),
            windows_closed: report.closed,
            windows_recomputed: report.recomputed,
            windows_remaining: report.remaining,
        },
    )))
}

/// Tells each transition once: a log line, an Application Insights custom event
/// (`PaymetricsAlert`, through the invocation's span) and, when fired, the
/// `paymetrics.alerts.fired` counter. Returns the log lines for the host's log.
fn tell(transitions: &[store::Transition]) -> Vec<String> {
    let instruments = crate::telemetry::metrics::get();
    let mut lines = Vec::new();
    for t in transitions {
        let group = t.group_key.to_string();
        let number = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v}"));
        let line = format!(
            "alert {} {} (severity {}) for {group} at window {}: value {}, baseline {}",
            t.alert,
            t.state,
            t.severity,
            t.window_start.to_rfc3339(),
            number(t.value),
            number(t.baseline),
        );
        if t.state == "fired" {
            warn!(alert = %t.alert, severity = t.severity, group = %group, "{line}");
            instruments.alerts_fired.add(
                1,
                &[
                    KeyValue::new("alert", t.alert.clone()),
                    KeyValue::new("severity", i64::from(t.severity)),
                ],
            );
        } else {
            info!(alert = %t.alert, severity = t.severity, group = %group, "{line}");
            instruments
                .alerts_resolved
                .add(1, &[KeyValue::new("alert", t.alert.clone())]);
        }
        crate::telemetry::custom_event(
            crate::telemetry::ALERT_EVENT,
            vec![
                KeyValue::new("alert", t.alert.clone()),
                KeyValue::new("severity", t.severity.to_string()),
                KeyValue::new("state", t.state),
                KeyValue::new("group", group),
                KeyValue::new("value", number(t.value)),
                KeyValue::new("baseline", number(t.baseline)),
                KeyValue::new("window_start", t.window_start.to_rfc3339()),
                KeyValue::new("first_window", t.first_window.to_rfc3339()),
                KeyValue::new("last_window", t.last_window.to_rfc3339()),
                KeyValue::new("description", t.description.clone().unwrap_or_default()),
            ],
        );
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_timer_payload_is_read() {
        let body = br#"{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-11-26T11:55:00+00:00","Next":"2026-11-26T12:05:00+00:00","LastUpdated":"2026-11-26T11:55:00+00:00"},"IsPastDue":true}},"Metadata":{"sys":{"MethodName":"TimerTrigger","UtcNow":"2026-11-26T12:00:00.0123456Z","RandGuid":"0f8fad5b-d9cb-469f-a165-70867728950e"}}}"#;
        let invocation = TimerInvocation::parse(body);
        assert!(invocation.is_past_due);
        assert_eq!(
            invocation.utc_now.unwrap().to_rfc3339(),
            "2026-11-26T12:00:00.012345600+00:00"
        );
    }

    #[test]
    fn the_later_clock_wins_and_garbage_means_the_handlers_clock() {
        let clock: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let old =
            TimerInvocation::parse(br#"{"Metadata":{"sys":{"UtcNow":"2020-01-01T00:00:00Z"}}}"#);
        assert_eq!(old.now(clock), clock);
        let ahead =
            TimerInvocation::parse(br#"{"Metadata":{"sys":{"UtcNow":"2026-11-26T13:00:00Z"}}}"#);
        assert_eq!(ahead.now(clock).to_rfc3339(), "2026-11-26T13:00:00+00:00");
        assert_eq!(
            TimerInvocation::parse(b"not json"),
            TimerInvocation::default()
        );
    }
}
