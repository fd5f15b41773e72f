//! `POST /EventHubTrigger`: one Event Hub batch into PostgreSQL.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use serde_json::{Value, json};
use tracing::{Instrument, error, info, info_span, warn};

use super::{AppState, FunctionError, InvocationResponse, error_chain};
use crate::ingest::{self, Invocation};
use crate::store::{self, BatchContext, StoredBatch};
use crate::telemetry;

/// The header carrying the host's invocation id.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

pub(super) async fn invoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<InvocationResponse>, FunctionError> {
    let invocation_id = headers
        .get(INVOCATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let span = info_span!(
        "EventHubTrigger",
        otel.kind = "server",
        invocation_id = invocation_id.as_deref().unwrap_or(""),
        partition_id = tracing::field::Empty,
        batch_size = tracing::field::Empty,
        accepted = tracing::field::Empty,
        duplicates = tracing::field::Empty,
        rejected = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    super::continue_trace(&span, &headers);
    let started = std::time::Instant::now();
    let result = handle(state, invocation_id, body)
        .instrument(span.clone())
        .await;
    telemetry::metrics::get()
        .batch_duration
        .record(started.elapsed().as_secs_f64(), &[]);
    if let Err(e) = &result {
        span.record("otel.status_code", "ERROR");
        span.in_scope(|| error!(error = %error_chain(e), "invocation failed; the host will retry"));
    }
    result
}

async fn handle(
    state: AppState,
    invocation_id: Option<String>,
    body: Body,
) -> Result<Json<InvocationResponse>, FunctionError> {
    let bytes = axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                FunctionError::BodyTooLarge {
                    limit: state.max_body_bytes,
                }
            } else {
                FunctionError::BodyUnreadable(e.to_string())
            }
        })?;
    let engine = state.engine.current();
    let context = BatchContext {
        invocation_id,
        now: Utc::now(),
        window_widths: engine.window_widths(),
    };
    let mut client = state.client().await?;

    let parsed = Invocation::parse(&bytes).map_err(|e| e.to_string()).and_then(|invocation| {
        let limit = engine.ingest.max_events_per_batch;
        if invocation.events.len() > limit {
            Err(format!(
                "the invocation carries {} events, more than ingest.max_events_per_batch ({limit}); \
                 lower maxEventBatchSize in host.json",
                invocation.events.len()
            ))
        } else {
            Ok(invocation)
        }
    });
    let invocation = match parsed {
        Ok(invocation) => invocation,
        Err(detail) => {
            store::store_envelope_invalid(&**client, &bytes, &detail, &context).await?;
            warn!(error = %detail, bytes = bytes.len(), "invalid invocation body quarantined");
            telemetry::metrics::get()
                .events_rejected
                .add(1, &telemetry::metrics::reason("envelope_invalid"));
            let mut rejected = serde_json::Map::new();
            rejected.insert("envelope_invalid".into(), json!(1));
            return Ok(Json(InvocationResponse::new(
                vec![format!(
                    "invalid invocation body quarantined in rejected_events as envelope_invalid: {detail}"
                )],
                json!({
                    "received": 0, "accepted": 0, "duplicates": 0, "rejected": 1,
                    "rejected_by_reason": rejected,
                }),
            )));
        }
    };
    let span = tracing::Span::current();
    span.record(
        "partition_id",
        invocation.partition_id.as_deref().unwrap_or(""),
    );
    span.record("batch_size", invocation.events.len());

    let partition_id = invocation.partition_id.clone();
    let batch = ingest::prepare(invocation.events, context.now, &engine.ingest);
    let db_started = std::time::Instant::now();
    let stored = store::store_batch(&mut client, batch, &context).await?;
    let instruments = telemetry::metrics::get();
    instruments
        .db_duration
        .record(db_started.elapsed().as_secs_f64(), &[]);
    instruments.events_received.add(stored.received as u64, &[]);
    instruments.events_accepted.add(stored.accepted as u64, &[]);
    instruments
        .events_duplicate
        .add(stored.duplicates as u64, &[]);
    instruments.late_events.add(stored.late as u64, &[]);
    for (reason, n) in &stored.rejected {
        instruments
            .events_rejected
            .add(*n as u64, &telemetry::metrics::reason(reason.as_str()));
    }
    span.record("accepted", stored.accepted);
    span.record("duplicates", stored.duplicates);
    span.record("rejected", stored.rejected_total());
    let summary = summary(&stored);
    info!(
        received = stored.received,
        accepted = stored.accepted,
        duplicates = stored.duplicates,
        rejected = stored.rejected_total(),
        "{summary}"
    );
    Ok(Json(InvocationResponse::new(
        vec![summary],
        return_value(&stored, partition_id),
    )))
}

fn summary(stored: &StoredBatch) -> String {
    let mut text = format!(
        "received {}, accepted {}, duplicates {}, rejected {}",
        stored.received,
        stored.accepted,
        stored.duplicates,
        stored.rejected_total()
    );
    if !stored.rejected.is_empty() {
        let reasons: Vec<String> = stored
            .rejected
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        text.push_str(&format!(" ({})", reasons.join(", ")));
    }
    text
}

fn return_value(stored: &StoredBatch, partition_id: Option<String>) -> Value {
    let by_reason: serde_json::Map<String, Value> = stored
        .rejected
        .iter()
        .map(|(reason, n)| (reason.as_str().to_owned(), json!(n)))
        .collect();
    json!({
        "received": stored.received,
        "accepted": stored.accepted,
        "duplicates": stored.duplicates,
        "rejected": stored.rejected_total(),
        "rejected_by_reason": by_reason,
        "partition_id": partition_id,
    })
}
