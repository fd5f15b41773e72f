//! `POST /EventHubTrigger`: one Event Hub batch into PostgreSQL.
//!
//! Read the body (within `PAYMETRICS_MAX_BODY_BYTES`), take the invocation apart; a body
//! that is no invocation is quarantined whole as `envelope_invalid` and answered 200.
//! Otherwise validate every event ([`ingest::prepare`]), store the batch exactly once
//! ([`store::store_batch`]), count it in the metrics and answer with a [`BatchOutcome`].

use std::collections::BTreeMap;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use tracing::{Span, info, warn};

use super::responses::{BatchOutcome, InvocationResponse};
use super::{AppState, FunctionError, invocation_id};
use crate::ingest::{self, IngestPolicy, InvalidBody, Invocation, RejectReason};
use crate::store::{self, BatchContext, StoredBatch};
use crate::telemetry;

type Answer = Result<Json<InvocationResponse<BatchOutcome>>, FunctionError>;

pub(super) async fn invoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let bytes = read_body(body, state.max_body_bytes).await?;
    let engine = state.engine.current();
    let context = BatchContext {
        invocation_id: invocation_id(&headers),
        now: Utc::now(),
        window_widths: engine.window_widths(),
    };
    let mut client = state.client().await?;
    let invocation = match parse(&bytes, &engine.ingest) {
        Ok(invocation) => invocation,
        Err(detail) => {
            let invalid = InvalidBody::new(&bytes, detail);
            store::store_envelope_invalid(&**client, &invalid, &context).await?;
            return Ok(Json(envelope_invalid(&invalid.detail, bytes.len())));
        }
    };
    let span = Span::current();
    span.record(
        "partition_id",
        invocation.partition_id.as_deref().unwrap_or(""),
    );
    span.record("batch_size", invocation.events.len());

    let partition_id = invocation.partition_id;
    let batch = ingest::prepare(invocation.events, context.now, &engine.ingest);
    let db_started = std::time::Instant::now();
    let stored = store::store_batch(&mut client, batch, &context).await?;
    telemetry::metrics::get()
        .db_duration
        .record(db_started.elapsed().as_secs_f64(), &[]);
    count(&stored);
    let summary = summary(&stored);
    info!(
        received = stored.received,
        accepted = stored.accepted,
        duplicates = stored.duplicates,
        rejected = stored.rejected_total(),
        splits = stored.splits,
        "{summary}"
    );
    Ok(Json(InvocationResponse::new(
        vec![summary],
        outcome(&stored, partition_id),
    )))
}

/// The body, or why it cannot be had.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, FunctionError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            FunctionError::BodyTooLarge { limit }
        } else {
            FunctionError::BodyUnreadable(e.to_string())
        }
    })
}

/// The invocation in `bytes`, or why it is not one the handler takes.
fn parse(bytes: &[u8], policy: &IngestPolicy) -> Result<Invocation, String> {
    let invocation = Invocation::parse(bytes).map_err(|e| e.to_string())?;
    let limit = policy.max_events_per_batch;
    if invocation.events.len() > limit {
        return Err(format!(
            "the invocation carries {} events, more than ingest.max_events_per_batch ({limit}); \
             lower maxEventBatchSize in host.json",
            invocation.events.len()
        ));
    }
    Ok(invocation)
}

/// The answer once a body that is no invocation was quarantined.
fn envelope_invalid(detail: &str, bytes: usize) -> InvocationResponse<BatchOutcome> {
    let reason = RejectReason::EnvelopeInvalid.as_str();
    warn!(error = %detail, bytes, "invalid invocation body quarantined");
    telemetry::metrics::get()
        .events_rejected
        .add(1, &telemetry::metrics::reason(reason));
    InvocationResponse::new(
        vec![format!(
            "invalid invocation body quarantined in rejected_events as {reason}: {detail}"
        )],
        BatchOutcome {
            accepted: 0,
            duplicates: 0,
            partition_id: None,
            received: 0,
            rejected: 1,
            rejected_by_reason: BTreeMap::from([(reason, 1)]),
        },
    )
}

/// Adds the stored batch to the metrics and to the invocation's span.
fn count(stored: &StoredBatch) {
    let instruments = telemetry::metrics::get();
    instruments.events_received.add(stored.received as u64, &[]);
    instruments.events_accepted.add(stored.accepted as u64, &[]);
    instruments
        .events_duplicate
        .add(stored.duplicates as u64, &[]);
    instruments.late_events.add(stored.late as u64, &[]);
    instruments.batch_splits.add(stored.splits as u64, &[]);
    for (reason, n) in &stored.rejected {
        instruments
            .events_rejected
            .add(*n as u64, &telemetry::metrics::reason(reason.as_str()));
    }
    let span = Span::current();
    span.record("accepted", stored.accepted);
    span.record("duplicates", stored.duplicates);
    span.record("rejected", stored.rejected_total());
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

fn outcome(stored: &StoredBatch, partition_id: Option<String>) -> BatchOutcome {
    BatchOutcome {
        accepted: stored.accepted,
        duplicates: stored.duplicates,
        partition_id: Some(partition_id),
        received: stored.received,
        rejected: stored.rejected_total(),
        rejected_by_reason: stored
            .rejected
            .iter()
            .map(|(reason, n)| (reason.as_str(), *n))
            .collect(),
    }
}
