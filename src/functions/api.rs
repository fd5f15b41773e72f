//! The HTTP API: `Metrics5m` (`api/metrics/5m`), `RuleMetrics`
//! (`api/metrics/rules/{rule}`), `Clusters` (`api/clusters`) and `Dashboard`
//! (`api/dashboard`), each an HTTP-triggered function served like `Health`.
//!
//! The invocation answers 200 whenever it could build `res`, so the host hands the
//! caller exactly that response: 200 with the data, 400 naming a bad parameter, 404 for
//! an unknown rule, 503 when the database failed. The caller's parameters reach SQL only
//! as bound values (see [`store::Selection`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use super::request::{BadParameter, Request, rfc3339};
use super::responses::{Headers, HttpOutputs, HttpResponse, InvocationResponse};
use super::{AppState, FunctionError, error_chain};
use crate::dashboard::{self, window_text};
use crate::store::{self, ClusterRun, Metrics5mRow, RuleMetricRow};

type Answer = Json<InvocationResponse<(), HttpOutputs>>;

/// Why a request has no data to show: the caller's status and a JSON error.
enum Refusal {
    Bad(BadParameter),
    NoRule { rule: String, known: Vec<String> },
    Database(String),
}

impl Refusal {
    fn status(&self) -> u16 {
        match self {
            Self::Bad(_) => 400,
            Self::NoRule { .. } => 404,
            Self::Database(_) => 503,
        }
    }

    fn body(&self) -> serde_json::Value {
        match self {
            Self::Bad(bad) => json!({"error": {
                "code": "invalid_parameter",
                "parameter": bad.parameter,
                "expected": bad.expected,
                "got": bad.got,
                "message": bad.to_string(),
            }}),
            Self::NoRule { rule, known } => json!({"error": {
                "code": "rule_not_found",
                "parameter": "rule",
                "rule": rule,
                "message": format!(
                    "no rule named '{rule}' in the engine settings; the rules are: {}",
                    if known.is_empty() { "(none)".to_owned() } else { known.join(", ") }
                ),
            }}),
            Self::Database(message) => json!({"error": {
                "code": "database_unavailable",
                "message": message,
            }}),
        }
    }
}

impl From<BadParameter> for Refusal {
    fn from(bad: BadParameter) -> Self {
        Self::Bad(bad)
    }
}

impl From<FunctionError> for Refusal {
    fn from(e: FunctionError) -> Self {
        Self::Database(error_chain(&e))
    }
}

impl From<store::StoreError> for Refusal {
    fn from(e: store::StoreError) -> Self {
        Self::Database(error_chain(&e))
    }
}

/// The invocation's answer: `res` carries the caller's response.
fn answer(function: &str, result: Result<(String, Headers, String), Refusal>) -> Answer {
    let (status, body, headers, summary) = match result {
        Ok((body, headers, summary)) => (200, body, headers, summary),
        Err(refusal) => {
            let status = refusal.status();
            let body = refusal.body();
            let summary = body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (status, body.to_string(), Headers::JSON, summary)
        }
    };
    let line = format!("{function} {status}: {summary}");
    if status == 200 {
        info!("{line}");
    } else {
        warn!("{line}");
    }
    Json(InvocationResponse {
        outputs: HttpOutputs {
            res: HttpResponse {
                body,
                headers,
                status_code: status,
            },
        },
        logs: vec![line],
        return_value: (),
    })
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("the API's bodies serialize")
}

/// `GET api/metrics/5m?from&to&payment_type&currency`.
#[derive(Serialize)]
struct Metrics5mBody {
    from: String,
    to: String,
    windows: Vec<Metrics5mRow>,
}

pub(super) async fn metrics_5m(State(state): State<AppState>, body: Bytes) -> Answer {
    answer(
        "Metrics5m",
        read_metrics_5m(&state, &body, Utc::now()).await,
    )
}

async fn read_metrics_5m(
    state: &AppState,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(String, Headers, String), Refusal> {
    let request = Request::from_invocation(body)?;
    request.only(&["from", "to", "payment_type", "currency"])?;
    let selection = request.selection(now)?;
    let client = state.client().await?;
    let windows = store::metrics_5m(&**client, &selection).await?;
    let summary = format!("{} rows", windows.len());
    let body = Metrics5mBody {
        from: rfc3339(selection.from),
        to: rfc3339(selection.to),
        windows,
    };
    Ok((to_json(&body), Headers::JSON, summary))
}

/// `GET api/metrics/rules/{rule}?from&to`.
#[derive(Serialize)]
struct RuleMetricsBody<'a> {
    rule: &'a str,
    description: Option<&'a str>,
    /// The rule's window, as written in the settings (`15m`).
    window: String,
    window_seconds: i64,
    group_by: Vec<&'static str>,
    rule_version: &'a str,
    from: String,
    to: String,
    windows: Vec<RuleMetricRow>,
}

pub(super) async fn rule_metrics(State(state): State<AppState>, body: Bytes) -> Answer {
    answer(
        "RuleMetrics",
        read_rule_metrics(&state, &body, Utc::now()).await,
    )
}

async fn read_rule_metrics(
    state: &AppState,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(String, Headers, String), Refusal> {
    let request = Request::from_invocation(body)?;
    request.only(&["from", "to"])?;
    let range = request.range(now)?;
    let name = request.params.get("rule").cloned().unwrap_or_default();
    let engine = state.engine.current();
    let Some(rule) = engine.rules.iter().find(|r| r.name == name) else {
        return Err(Refusal::NoRule {
            rule: name,
            known: engine.rules.iter().map(|r| r.name.clone()).collect(),
        });
    };
    let client = state.client().await?;
    let windows = store::rule_metrics(&**client, &rule.name, range.from, range.to).await?;
    let summary = format!("{} rows of {}", windows.len(), rule.name);
    let body = RuleMetricsBody {
        rule: &rule.name,
        description: rule.description.as_deref(),
        window: window_text(rule.window_seconds),
        window_seconds: rule.window_seconds,
        group_by: rule.group_by.iter().map(|f| f.column()).collect(),
        rule_version: &rule.version,
        from: rfc3339(range.from),
        to: rfc3339(range.to),
        windows,
    };
    Ok((to_json(&body), Headers::JSON, summary))
}

/// `GET api/clusters`: the latest segmentation run, `{"run": null}` before the first.
#[derive(Serialize)]
struct ClustersBody {
    run: Option<ClusterRun>,
}

pub(super) async fn clusters(State(state): State<AppState>, body: Bytes) -> Answer {
    answer("Clusters", read_clusters(&state, &body).await)
}

async fn read_clusters(
    state: &AppState,
    body: &[u8],
) -> Result<(String, Headers, String), Refusal> {
    let request = Request::from_invocation(body)?;
    request.only(&[])?;
    let client = state.client().await?;
    let run = store::latest_cluster_run(&**client).await?;
    let summary = match &run {
        Some(run) => format!("run {} of {} merchants", run.run_id, run.merchants),
        None => "no segmentation run yet".to_owned(),
    };
    Ok((to_json(&ClustersBody { run }), Headers::JSON, summary))
}

/// `GET api/alerts?from`: alerts firing now, and those resolved since `from` (default
/// the last 24 hours), firing first, then the most recently fired.
#[derive(Serialize)]
struct AlertsBody {
    from: String,
    firing: usize,
    alerts: Vec<store::AlertRow>,
}

pub(super) async fn alerts(State(state): State<AppState>, body: Bytes) -> Answer {
    answer("Alerts", read_alerts(&state, &body, Utc::now()).await)
}

async fn read_alerts(
    state: &AppState,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(String, Headers, String), Refusal> {
    let request = Request::from_invocation(body)?;
    request.only(&["from"])?;
    let from = request.since(now, chrono::TimeDelta::hours(24))?;
    let client = state.client().await?;
    let alerts = store::recent_alerts(&**client, from).await?;
    let firing = alerts.iter().filter(|a| a.state == "firing").count();
    let summary = format!("{firing} firing, {} in all", alerts.len());
    let body = AlertsBody {
        from: rfc3339(from),
        firing,
        alerts,
    };
    Ok((to_json(&body), Headers::JSON, summary))
}

/// `GET api/dashboard?from&to&payment_type&currency`: the HTML page.
pub(super) async fn dashboard(State(state): State<AppState>, body: Bytes) -> Answer {
    answer("Dashboard", read_dashboard(&state, &body, Utc::now()).await)
}

async fn read_dashboard(
    state: &AppState,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(String, Headers, String), Refusal> {
    let request = Request::from_invocation(body)?;
    request.only(&["from", "to", "payment_type", "currency"])?;
    let selection = request.selection(now)?;
    let engine = state.engine.current();
    let client = state.client().await?;
    let html = dashboard::build(&**client, selection, &engine, now, request.function_key()).await?;
    let summary = format!("{} bytes", html.len());
    Ok((html, Headers::HTML, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_its_parameter_and_its_status() {
        let bad = Refusal::Bad(BadParameter {
            parameter: "from".into(),
            expected: "an RFC 3339 time".into(),
            got: Some("x".into()),
        });
        assert_eq!(bad.status(), 400);
        assert_eq!(bad.body()["error"]["parameter"], "from");
        let none = Refusal::NoRule {
            rule: "nope".into(),
            known: vec!["a".into(), "b".into()],
        };
        assert_eq!(none.status(), 404);
        assert!(
            none.body()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("'nope'")
        );
        assert_eq!(Refusal::Database("down".into()).status(), 503);
    }
}
