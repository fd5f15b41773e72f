//! `POST /Health`: the HTTP-triggered health function (`Health/function.json`, route
//! `api/health`), which the deploy scripts and a smoke test can trust.
//!
//! With `enableForwardingHttpRequest: false` the host POSTs the caller's request wrapped
//! in the invocation envelope (`Data.req`), and passes `Outputs.res` to the caller as it
//! is. So this invocation answers 200 whenever it could build `res`, the database down
//! included; the caller's status is `res.statusCode`: 200 when the database answers and
//! has every migration of this build, else 503. A failed invocation would reach the
//! caller as a bare 500 with nothing to say why.
//!
//! The request is not read: it carries the function key (`Url`, `Query`), which must not
//! end up in a log.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tracing::{info, warn};

use super::responses::{Headers, HttpOutputs, HttpResponse, InvocationResponse};
use super::{AppState, error_chain};
use crate::store::{self, HealthFacts};

/// Longest the function waits for the database (connecting included) before it reports
/// it as down: a probe must answer while the database is gone.
pub const HEALTH_DATABASE_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) async fn invoke(
    State(state): State<AppState>,
) -> Json<InvocationResponse<(), HttpOutputs>> {
    let facts = probe(&state, Utc::now()).await;
    let (status, body) = health_body(&facts);
    let summary = format!(
        "health {status}: database {}, schema {} (this build needs {})",
        body["database"].as_str().unwrap_or("?"),
        body["schema_version"],
        body["schema_expected"]
    );
    if status == 200 {
        info!("{summary}");
    } else {
        warn!("{summary}");
    }
    Json(InvocationResponse {
        outputs: HttpOutputs {
            res: HttpResponse {
                body: body.to_string(),
                headers: Headers::JSON,
                status_code: status,
            },
        },
        logs: vec![summary],
        return_value: (),
    })
}

/// The database's facts, or why they could not be had within
/// [`HEALTH_DATABASE_TIMEOUT`].
async fn probe(state: &AppState, now: DateTime<Utc>) -> Result<HealthFacts, String> {
    let engine = state.engine.current();
    let read = async {
        let client = state.pool.get().await.map_err(store::StoreError::from)?;
        store::health_facts(&**client, now, &engine.windows, &engine.window_widths()).await
    };
    match tokio::time::timeout(HEALTH_DATABASE_TIMEOUT, read).await {
        Ok(Ok(facts)) => Ok(facts),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(_) => Err(format!(
            "the database did not answer within {} s",
            HEALTH_DATABASE_TIMEOUT.as_secs()
        )),
    }
}

/// The caller's status and the health document for `facts`.
///
/// The status is 200 only when the database answered and every migration of this build
/// is applied. A schema *newer* than this build is healthy: migrations are expand-only,
/// so a rolled-back release runs against the schema of the release after it.
pub fn health_body(facts: &Result<HealthFacts, String>) -> (u16, Value) {
    let expected = store::MIGRATIONS.last().map_or(0, |m| m.version);
    let activity = facts.as_ref().ok().and_then(|f| f.activity.as_ref());
    let status = match facts {
        Ok(f) if f.schema_current => 200,
        _ => 503,
    };
    let body = json!({
        "version": crate::VERSION,
        "schema_version": facts.as_ref().ok().map(|f| f.schema_version),
        "schema_expected": expected,
        "database": match facts {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.clone(),
        },
        "window_close_lag_seconds": activity.map(|a| a.window_close_lag.as_secs()),
        "last_ingested_at": activity
            .and_then(|a| a.last_ingested_at)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        "rejected_last_hour": activity.map(|a| a.rejected_last_hour),
    });
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Activity;

    #[test]
    fn a_current_schema_is_healthy_and_an_old_one_or_no_database_is_not() {
        let expected = store::MIGRATIONS.last().unwrap().version;
        let current = HealthFacts {
            schema_version: expected,
            schema_current: true,
            activity: Some(Activity {
                window_close_lag: Duration::from_secs(42),
                last_ingested_at: Some("2026-11-26T12:00:00.5Z".parse().unwrap()),
                rejected_last_hour: 3,
            }),
        };
        let (status, body) = health_body(&Ok(current));
        assert_eq!(status, 200);
        assert_eq!(body["database"], "ok");
        assert_eq!(body["window_close_lag_seconds"], 42);
        assert_eq!(body["last_ingested_at"], "2026-11-26T12:00:00.500000Z");
        assert_eq!(body["rejected_last_hour"], 3);

        let old = HealthFacts {
            schema_version: expected - 1,
            schema_current: false,
            activity: None,
        };
        let (status, body) = health_body(&Ok(old));
        assert_eq!(status, 503);
        assert_eq!(body["schema_version"], expected - 1);
        assert!(body["rejected_last_hour"].is_null());

        let (status, body) = health_body(&Err("no database connection: refused".into()));
        assert_eq!(status, 503);
        assert_eq!(body["database"], "no database connection: refused");
        assert!(body["schema_version"].is_null());
        assert_eq!(body["schema_expected"], expected);
    }

    #[test]
    fn the_version_names_the_crate_version_and_a_commit() {
        let (version, commit) = crate::VERSION.split_once('+').unwrap();
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        assert!(
            !commit.is_empty() && !commit.contains(char::is_whitespace),
            "{commit}"
        );
    }
}
