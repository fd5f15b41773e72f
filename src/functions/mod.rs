//! The Azure Functions custom handler adapter: the [`app`] (the routes behind one
//! middleware for span, trace context, timing and failure logs), the typed
//! [`responses`], and the one place that maps errors to HTTP answers
//! ([`FunctionError`]).
//!
//! The host POSTs each invocation to `/<FunctionFolderName>` and polls `GET /` until the
//! handler answers. Any non-2xx answer fails the invocation and the host retries it under
//! the function's retry policy, so transient failures answer 5xx and poison input answers
//! 200 with the problem in `Logs` and the input quarantined. A schema older than this
//! build needs is transient too (503, see [`SchemaGate`]). The HTTP-triggered `Health`
//! answers 200 with the caller's status inside `Outputs.res`, and so do the HTTP API's
//! functions (`api`), whose requests [`request`] parses.

mod api;
mod event_hub;
mod health;
mod middleware;
pub mod request;
pub mod responses;
mod schema_gate;
mod timer;

pub use health::{HEALTH_DATABASE_TIMEOUT, health_body};
pub use middleware::{INVOCATION_ID_HEADER, invocation_id};
pub use schema_gate::{RECHECK_INTERVAL, SchemaGate, prepare_schema};
pub use timer::TimerInvocation;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use deadpool_postgres::Pool;

use crate::settings::EngineHandle;
use crate::store::StoreError;
use middleware::Failure;
use responses::{ErrorBody, FailedInvocation, NoOutputs, Ready};

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Database connections, shared by every invocation (`PAYMETRICS_DB_POOL_SIZE`).
    pub pool: Pool,
    /// Engine settings in force, reloaded when their file changes.
    pub engine: Arc<EngineHandle>,
    /// Largest accepted invocation body in bytes.
    pub max_body_bytes: usize,
    /// Whether the schema is current, so invocations may use the database.
    pub schema: Arc<SchemaGate>,
}

impl AppState {
    /// The state of a handler that has not looked at its database yet: the schema gate
    /// is closed until [`prepare_schema`] or the first invocation finds the schema current.
    pub fn new(pool: Pool, engine: EngineHandle, max_body_bytes: usize) -> Self {
        Self {
            pool,
            engine: Arc::new(engine),
            max_body_bytes,
            schema: Arc::default(),
        }
    }

    /// A database connection, once the schema is current.
    ///
    /// # Errors
    /// 503s: no connection, or the schema is older than this build needs (the host
    /// retries until it is migrated); or the error reading the schema.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, FunctionError> {
        let client = self.pool.get().await.map_err(StoreError::from)?;
        self.schema
            .admit(&**client, tokio::time::Instant::now())
            .await?;
        Ok(client)
    }
}

/// The handler as the host sees it: `GET /` (readiness) and one `POST` per function
/// folder (`/EventHubTrigger`, `/TimerTrigger`, `/Health`, and the HTTP API's
/// `/Metrics5m`, `/RuleMetrics`, `/Clusters`, `/Alerts`, `/Dashboard`), each invocation inside the
/// middleware that gives it its span, trace context, timing and failure log.
///
/// The handler binary serves this, and the tests drive it the same way.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/Alerts", post(api::alerts))
        .route("/Clusters", post(api::clusters))
        .route("/Dashboard", post(api::dashboard))
        .route("/EventHubTrigger", post(event_hub::invoke))
        .route("/Health", post(health::invoke))
        .route("/Metrics5m", post(api::metrics_5m))
        .route("/RuleMetrics", post(api::rule_metrics))
        .route("/TimerTrigger", post(timer::invoke))
        .route_layer(axum::middleware::from_fn(middleware::invocation))
        .route("/", get(ready))
        .with_state(state)
}

/// The host polls this until it answers (and pings it later); it answers at once and
/// never touches the database.
async fn ready() -> Json<Ready> {
    Json(Ready {
        service: "paymetrics-handler",
        status: "ready",
    })
}

/// Why an invocation failed as a whole; the host retries it.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The database failed, or its schema is older than this build needs; nothing of
    /// the batch was stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This handler is applying migrations (`PAYMETRICS_MIGRATE=on-start`).
    #[error(
        "the database schema is being migrated to version {required} \
         (PAYMETRICS_MIGRATE=on-start)"
    )]
    SchemaMigrating {
        /// Version this build needs.
        required: u32,
    },
    /// The body exceeds `PAYMETRICS_MAX_BODY_BYTES`.
    #[error("the invocation body is larger than {limit} bytes (PAYMETRICS_MAX_BODY_BYTES)")]
    BodyTooLarge {
        /// The limit in bytes, named in the answer so the sender knows what to lower.
        limit: usize,
    },
    /// The body could not be read from the connection.
    #[error("the invocation body could not be read: {0}")]
    BodyUnreadable(String),
}

impl FunctionError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            // Retried by the host until the schema is migrated: 503, not a bug (500).
            Self::Store(StoreError::SchemaTooOld { .. }) | Self::SchemaMigrating { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Store(e) if e.is_transient() => "database_unavailable",
            Self::Store(StoreError::SchemaTooOld { .. }) => "schema_too_old",
            Self::SchemaMigrating { .. } => "schema_migrating",
            Self::Store(_) => "database_error",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyUnreadable(_) => "body_unreadable",
        }
    }
}

/// The answer to a failed invocation; the message also goes into the response's
/// extensions, for the invocation middleware to log inside the invocation's span.
impl IntoResponse for FunctionError {
    fn into_response(self) -> Response {
        let message = error_chain(&self);
        let body = FailedInvocation {
            logs: [format!(
                "invocation failed, the host will retry it: {message}"
            )],
            outputs: NoOutputs {},
            return_value: (),
            error: ErrorBody {
                code: self.code(),
                message: message.clone(),
                retryable: true,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        response.extensions_mut().insert(Failure(message));
        response
    }
}

/// An error and its causes, `: `-separated.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::settings::EngineConfig;
    use crate::store::{self, PoolSettings};

    /// The app in front of a database that is not there (nothing listens on port 1).
    fn app_without_database() -> Router {
        let pool = store::pool(
            "postgres://postgres@127.0.0.1:1/none",
            PoolSettings {
                max_size: 1,
                timeout: Duration::from_millis(500),
                statement_timeout: Duration::from_secs(1),
                lock_timeout: Duration::from_secs(1),
            },
        )
        .unwrap();
        app(AppState::new(
            pool,
            EngineHandle::fixed(EngineConfig::default()),
            1024,
        ))
    }

    async fn call(app: Router, request: Request<Body>) -> (StatusCode, Value) {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn readiness_answers_without_the_database() {
        let request = Request::get("/").body(Body::empty()).unwrap();
        let (status, body) = call(app_without_database(), request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            serde_json::json!({"service": "paymetrics-handler", "status": "ready"})
        );
    }

    #[tokio::test]
    async fn a_failed_invocation_answers_the_hosts_envelope_with_a_retryable_error() {
        let request = Request::post("/EventHubTrigger")
            .header(INVOCATION_ID_HEADER, "unit-1")
            .body(Body::from("{}"))
            .unwrap();
        let (status, body) = call(app_without_database(), request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Logs", "Outputs", "ReturnValue", "error"]);
        assert_eq!(body["error"]["code"], "database_unavailable");
        assert_eq!(body["error"]["retryable"], true);
        assert!(body["ReturnValue"].is_null());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_before_the_database_is_asked() {
        let request = Request::post("/EventHubTrigger")
            .body(Body::from(vec![b' '; 2048]))
            .unwrap();
        let (status, body) = call(app_without_database(), request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "body_too_large");
    }

    /// Log lines written while the guard returned with them is held.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_middleware_logs_a_failure_once_inside_the_functions_span() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let request = Request::post("/TimerTrigger")
            .header(INVOCATION_ID_HEADER, "unit-2")
            .body(Body::from("{}"))
            .unwrap();
        let (status, _) = call(app_without_database(), request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let failures: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|line| line["level"] == "ERROR")
            .collect();
        assert_eq!(failures.len(), 1, "{text}");
        let failure = &failures[0];
        assert_eq!(
            failure["fields"]["message"],
            "invocation failed; the host will retry"
        );
        assert!(
            failure["fields"]["error"]
                .as_str()
                .unwrap()
                .starts_with("no database connection"),
            "{failure}"
        );
        assert_eq!(failure["span"]["name"], "TimerTrigger");
        assert_eq!(failure["span"]["invocation_id"], "unit-2");
    }
}
