//! The Azure Functions custom handler adapter: routes, the invocation response
//! envelope, and the one place that maps errors to HTTP answers.
//!
//! The host POSTs each invocation to `/<FunctionFolderName>` and polls `GET /` until the
//! handler answers. Any non-2xx answer fails the invocation and the host retries it under
//! the function's retry policy, so transient failures answer 5xx and poison input answers
//! 200 with the problem in `Logs` and the input quarantined.

mod event_hub;
mod timer;

pub use timer::TimerInvocation;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use deadpool_postgres::Pool;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::settings::EngineHandle;
use crate::store::StoreError;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Database connections.
    pub pool: Pool,
    /// Engine settings in force, reloaded when their file changes.
    pub engine: Arc<EngineHandle>,
    /// Largest accepted invocation body in bytes.
    pub max_body_bytes: usize,
    /// Set once the database schema was found recent enough. Until then every invocation
    /// checks it first (the database may have been down at start-up).
    pub schema_checked: Arc<tokio::sync::OnceCell<()>>,
}

impl AppState {
    /// A database connection, after making sure (once) that the schema is recent enough.
    ///
    /// # Errors
    /// [`StoreError::SchemaTooOld`] (the invocation fails and is retried after
    /// `handler migrate`), or any error getting a connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        let client = self.pool.get().await?;
        self.schema_checked
            .get_or_try_init(|| async { crate::store::check_schema(&**client).await.map(|_| ()) })
            .await?;
        Ok(client)
    }
}

/// The handler's routes: `GET /` (readiness) and one `POST` per function folder:
/// `/EventHubTrigger` and `/TimerTrigger`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(ready))
        .route("/EventHubTrigger", post(event_hub::invoke))
        .route("/TimerTrigger", post(timer::invoke))
        .with_state(state)
}

/// The host polls this until it answers; it must answer fast and without the database.
async fn ready() -> Json<Value> {
    Json(json!({"status": "ready", "service": "paymetrics-handler"}))
}

/// The body the host expects back: `{"Outputs": {}, "Logs": [...], "ReturnValue": ...}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationResponse {
    /// Output bindings by name (none of our functions has any).
    pub outputs: Map<String, Value>,
    /// Lines the host writes to the function's log.
    pub logs: Vec<String>,
    /// The function's result, logged by the host; ours are counts.
    pub return_value: Value,
}

impl InvocationResponse {
    /// A response with logs and a return value.
    pub fn new(logs: Vec<String>, return_value: Value) -> Self {
        Self {
            outputs: Map::new(),
            logs,
            return_value,
        }
    }
}

/// Why an invocation failed as a whole; the host retries it.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The database failed; nothing of the batch was stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The body exceeds `PAYMETRICS_MAX_BODY_BYTES`.
    #[error("the invocation body is larger than {limit} bytes (PAYMETRICS_MAX_BODY_BYTES)")]
    BodyTooLarge {
        /// The limit.
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
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Store(e) if e.is_transient() => "database_unavailable",
            Self::Store(_) => "database_error",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyUnreadable(_) => "body_unreadable",
        }
    }
}

impl IntoResponse for FunctionError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = error_chain(&self);
        let body = json!({
            "Outputs": {},
            "Logs": [format!("invocation failed, the host will retry it: {message}")],
            "ReturnValue": null,
            "error": {"code": self.code(), "message": message, "retryable": true},
        });
        (status, Json(body)).into_response()
    }
}

/// Makes `span` continue the caller's W3C trace context (`traceparent`, `tracestate`)
/// when the host sends one.
fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
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
