//! What every invocation gets, written once: a server span named after the function,
//! continuing the host's W3C trace context (`traceparent`, `tracestate`), its timing,
//! and the one log line of a failed invocation.
//!
//! Handlers record their own facts on the current span (`partition_id`, `batch_size`,
//! `accepted`, `duplicates`, `rejected`) and return errors; they never log a failure
//! themselves. A [`FunctionError`](super::FunctionError) leaves its message in the
//! response's extensions ([`Failure`]), so turning it into a response has no side effect
//! and this layer logs it inside the invocation's span.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use tracing::field::Empty;
use tracing::{Instrument, Span, error, info_span};

use crate::telemetry;

/// The header carrying the host's invocation id.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// The host's invocation id, when it sent one.
pub fn invocation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(INVOCATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Why an invocation failed, left in the response's extensions for [`invocation`] to log.
#[derive(Debug, Clone)]
pub(super) struct Failure(pub(super) String);

/// Runs one invocation inside its span; see the module docs.
pub(super) async fn invocation(request: Request, next: Next) -> Response {
    let function = request.uri().path().trim_start_matches('/').to_owned();
    let id = invocation_id(request.headers()).unwrap_or_default();
    let span = span(&function, &id);
    continue_trace(&span, request.headers());
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    if function == "EventHubTrigger" {
        telemetry::metrics::get()
            .batch_duration
            .record(started.elapsed().as_secs_f64(), &[]);
    }
    if let Some(Failure(message)) = response.extensions().get::<Failure>() {
        span.record("otel.status_code", "ERROR");
        span.in_scope(|| error!(error = %message, "invocation failed; the host will retry"));
    }
    response
}

/// The invocation's span, named after the function (span names are static, hence the
/// one arm per function), with every field a handler may record declared up front.
fn span(function: &str, invocation_id: &str) -> Span {
    macro_rules! invocation_span {
        ($name:literal) => {
            info_span!(
                $name,
                otel.kind = "server",
                invocation_id,
                partition_id = Empty,
                batch_size = Empty,
                accepted = Empty,
                duplicates = Empty,
                rejected = Empty,
                otel.status_code = Empty,
            )
        };
    }
    match function {
        "EventHubTrigger" => invocation_span!("EventHubTrigger"),
        "TimerTrigger" => invocation_span!("TimerTrigger"),
        "Health" => invocation_span!("Health"),
        _ => invocation_span!("invocation"),
    }
}

/// Makes `span` continue the caller's W3C trace context when the host sends one.
fn continue_trace(span: &Span, headers: &HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
}
