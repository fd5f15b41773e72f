//! Writing one invocation's batch: set-based, in one transaction, exactly once.
//!
//! 1. The day partitions the batch needs are created if missing (outside the batch's
//!    transaction, so partition DDL never holds locks while a batch is written).
//! 2. In one transaction: the batch's candidate ids ([`ingest::candidates`], the first
//!    occurrence of each) are claimed in `transaction_ids` (`INSERT .. ON CONFLICT DO
//!    NOTHING`, in id order so concurrent batches cannot deadlock), and the fingerprints
//!    stored with the ids that were already there are read. [`ingest::settle`] decides
//!    from that what each event is: new, a duplicate (counted) or a `duplicate_conflict`
//!    reject. The new transactions go to `normalized_transactions` by one binary `COPY`
//!    (their ids are claimed, so none can conflict), and the rejects to
//!    `rejected_events` (`ON CONFLICT (fingerprint) DO NOTHING`, so a redelivered batch
//!    adds nothing).
//!
//!    A concurrent batch with the same id waits on the claim's row lock until the first
//!    commits, then finds the id taken and its fingerprint stored: the first version wins
//!    across batches as it does within one.
//!    The part's new and duplicate transactions are added to its hour's row of
//!    `ingest_counts` (the dashboard's ingest health).
//! 3. Last in the transaction, the windows that received new transactions are marked
//!    changed in `window_state` (see [`super::windows`]), counting late arrivals.
//!
//! Every other step is one statement over arrays (`unnest`), sent with its parameter
//! types (`query_typed`: one round trip, no separate prepare), never a round trip per
//! event.
//!
//! A batch the database refuses for a reason retrying cannot fix is split in halves,
//! each half going through the same steps in its own transaction, down to single events;
//! those still refused are quarantined as `store_failed` ([`store_batch`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, GenericClient, Transaction};

use super::StoreError;
use crate::ingest::{
    self, Accepted, Claimed, InvalidBody, PreparedBatch, RejectReason, Rejected, Rejection,
};

/// Facts about the invocation that every stored row shares.
#[derive(Debug, Clone)]
pub struct BatchContext {
    /// The host's `X-Azure-Functions-InvocationId`, kept with rejects for support.
    pub invocation_id: Option<String>,
    /// The handler's clock, read once for the invocation.
    pub now: DateTime<Utc>,
    /// Window widths in use (seconds): the windows of new transactions in each are marked
    /// changed. Always includes the 5-minute windows.
    pub window_widths: Vec<i64>,
}

/// What storing a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredBatch {
    /// Events in the invocation.
    pub received: usize,
    /// Transactions stored for the first time.
    pub accepted: usize,
    /// Events whose transaction was already stored (or earlier in the batch) with the
    /// same content.
    pub duplicates: usize,
    /// Rejected events by reason, including conflicting duplicates.
    pub rejected: BTreeMap<RejectReason, usize>,
    /// Accepted transactions that landed in 5-minute windows already closed.
    pub late: usize,
    /// How often a part of the batch was split in halves after the database refused it
    /// for good (0 when the batch was stored whole).
    pub splits: usize,
}

impl StoredBatch {
    /// Total rejected events.
    pub fn rejected_total(&self) -> usize {
        self.rejected.values().sum()
    }

    /// Adds what storing one part of the batch did (not its `received`: the parts share
    /// the invocation's events).
    fn add(&mut self, part: &Self) {
        self.accepted += part.accepted;
        self.duplicates += part.duplicates;
        self.late += part.late;
        for (reason, n) in &part.rejected {
            *self.rejected.entry(*reason).or_default() += n;
        }
    }
}

/// Stores a validated batch; see the module docs for the steps.
///
/// When a part fails for a reason retrying cannot fix ([`StoreError::is_transient`] is
/// false: a constraint, a trigger, a value the database refuses), the part is split in
/// halves and each half is tried again, in delivery order, down to single events; an
/// event that still fails alone is quarantined as `store_failed` with the database's
/// error. One poisoned event then costs about `2 log2(n)` transactions instead of
/// stalling its partition.
///
/// # Errors
/// A transient [`StoreError`] (the host retries: parts already committed count as
/// duplicates then), or one that quarantining a single event did not get past.
pub async fn store_batch(
    client: &mut Client,
    batch: PreparedBatch,
    context: &BatchContext,
) -> Result<StoredBatch, StoreError> {
    let mut outcome = StoredBatch {
        received: batch.received,
        ..StoredBatch::default()
    };
    // A stack of parts, the earliest on top, so the first occurrence of an id is still
    // the one that is stored.
    let mut pending = vec![batch];
    while let Some(part) = pending.pop() {
        let error = match store_part(client, part.clone(), context).await {
            Ok(stored) => {
                outcome.add(&stored);
                continue;
            }
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => error,
        };
        match split(part) {
            Ok((first, second)) => {
                outcome.splits += 1;
                pending.push(second);
                pending.push(first);
            }
            Err(single) => {
                let quarantined = store_failed(single, &error);
                let stored = store_part(client, quarantined, context).await?;
                outcome.add(&stored);
            }
        }
    }
    Ok(outcome)
}

/// The two halves of a part, or the part itself when it holds a single event.
fn split(part: PreparedBatch) -> Result<(PreparedBatch, PreparedBatch), PreparedBatch> {
    let PreparedBatch {
        mut accepted,
        mut rejected,
        ..
    } = part;
    let events = accepted.len() + rejected.len();
    if events <= 1 {
        return Err(PreparedBatch {
            received: events,
            accepted,
            rejected,
        });
    }
    let second_accepted = accepted.split_off(accepted.len() / 2);
    let second_rejected = rejected.split_off(rejected.len().div_ceil(2));
    let first = PreparedBatch {
        received: accepted.len() + rejected.len(),
        accepted,
        rejected,
    };
    let second = PreparedBatch {
        received: second_accepted.len() + second_rejected.len(),
        accepted: second_accepted,
        rejected: second_rejected,
    };
    Ok((first, second))
}

/// A single event that could not be stored, as a `store_failed` reject carrying the
/// database's SQLSTATE and message (never the statement's values).
fn store_failed(single: PreparedBatch, error: &StoreError) -> PreparedBatch {
    let detail = match error {
        StoreError::Query { context, source } => match source.as_db_error() {
            Some(db) => format!(
                "SQLSTATE {} while {context}: {}",
                db.code().code(),
                db.message()
            ),
            None => format!("while {context}: {source}"),
        },
        other => other.to_string(),
    };
    let rejected = single
        .accepted
        .into_iter()
        .map(|a| Rejected {
            rejection: Rejection {
                reason: RejectReason::StoreFailed,
                detail: detail.clone(),
                transaction_id: Some(a.transaction.id.as_str().to_owned()),
            },
            raw: a.raw,
            lineage: a.lineage,
        })
        .chain(single.rejected.into_iter().map(|mut r| {
            r.rejection.reason = RejectReason::StoreFailed;
            r.rejection.detail = detail.clone();
            r
        }))
        .collect();
    PreparedBatch {
        received: single.received,
        accepted: Vec::new(),
        rejected,
    }
}

/// Stores one part in one transaction: all of it, or nothing.
async fn store_part(
    client: &mut Client,
    batch: PreparedBatch,
    context: &BatchContext,
) -> Result<StoredBatch, StoreError> {
    ensure_partitions(client, &batch.accepted).await?;
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("starting the batch transaction"))?;
    let PreparedBatch {
        received,
        accepted,
        mut rejected,
    } = batch;
    // One invocation is one partition's batch.
    let partition = accepted
        .first()
        .and_then(|a| a.lineage.partition_id.clone())
        .unwrap_or_default();
    let claimed = claim(&tx, ingest::candidates(&accepted), context.now).await?;
    let settled = ingest::settle(accepted, &claimed);
    rejected.extend(settled.conflicts);

    insert_transactions(&tx, &settled.fresh, context.now).await?;
    // Sent together: the driver pipelines them on the connection.
    tokio::try_join!(
        insert_rejects(&tx, &rejected, context),
        count_ingest(
            &tx,
            &partition,
            settled.fresh.len(),
            settled.duplicates,
            context.now
        ),
    )?;
    // Last, so the window rows stay locked only for the commit.
    let late =
        super::windows::mark_windows(&tx, &settled.fresh, &context.window_widths, context.now)
            .await?;
    tx.commit()
        .await
        .map_err(StoreError::query("committing the batch"))?;

    let mut outcome = StoredBatch {
        received,
        accepted: settled.fresh.len(),
        duplicates: settled.duplicates,
        late,
        ..StoredBatch::default()
    };
    for reject in &rejected {
        *outcome.rejected.entry(reject.rejection.reason).or_default() += 1;
    }
    Ok(outcome)
}

/// Creates the day partitions the accepted transactions need, outside the batch's
/// transaction.
async fn ensure_partitions(client: &Client, accepted: &[Accepted]) -> Result<(), StoreError> {
    let mut days: Vec<NaiveDate> = accepted
        .iter()
        .map(|a| a.transaction.occurred_at.date_naive())
        .collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return Ok(());
    }
    client
        .execute_typed(
            "SELECT paymetrics_ensure_partition(d) FROM unnest($1::date[]) AS d",
            &[(&days, Type::DATE_ARRAY)],
        )
        .await
        .map_err(StoreError::query("creating day partitions"))?;
    Ok(())
}

/// Claims the candidates' ids and reads the fingerprints stored with those that were
/// claimed before: what [`ingest::settle`] needs.
async fn claim(
    client: &impl GenericClient,
    candidates: Vec<&Accepted>,
    now: DateTime<Utc>,
) -> Result<Claimed, StoreError> {
    let new = claim_ids(client, &candidates, now).await?;
    let known: Vec<&str> = candidates
        .iter()
        .map(|a| a.transaction.id.as_str())
        .filter(|id| !new.contains(*id))
        .collect();
    let stored = stored_fingerprints(client, &known).await?;
    Ok(Claimed { new, stored })
}

/// Claims ids in `transaction_ids`; returns those that were new.
async fn claim_ids(
    client: &impl GenericClient,
    accepted: &[&Accepted],
    now: DateTime<Utc>,
) -> Result<HashSet<String>, StoreError> {
    if accepted.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<&str> = accepted.iter().map(|a| a.transaction.id.as_str()).collect();
    let hashes: Vec<&[u8]> = accepted.iter().map(|a| a.fingerprint.as_slice()).collect();
    let times: Vec<DateTime<Utc>> = accepted.iter().map(|a| a.transaction.occurred_at).collect();
    let rows = client
        .query_typed(
            "INSERT INTO transaction_ids (transaction_id, content_hash, occurred_at, first_seen_at)
             SELECT id, hash, at, $4
             FROM unnest($1::text[], $2::bytea[], $3::timestamptz[]) AS u(id, hash, at)
             ORDER BY id
             ON CONFLICT (transaction_id) DO NOTHING
             RETURNING transaction_id",
            &[
                (&ids, Type::TEXT_ARRAY),
                (&hashes, Type::BYTEA_ARRAY),
                (&times, Type::TIMESTAMPTZ_ARRAY),
                (&now, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query("claiming transaction ids"))?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

async fn stored_fingerprints(
    client: &impl GenericClient,
    ids: &[&str],
) -> Result<HashMap<String, Vec<u8>>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query_typed(
            "SELECT transaction_id, content_hash FROM transaction_ids
             WHERE transaction_id = ANY($1::text[])",
            &[(&ids, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(StoreError::query("reading stored fingerprints"))?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The columns of `normalized_transactions` a batch writes with `COPY`, in the order of
/// [`TRANSACTION_COPY_TYPES`] and [`TransactionRow::values`].
pub const TRANSACTION_COPY_COLUMNS: &str = "transaction_id, occurred_at, amount, currency, \
     payment_type, status, merchant_id, merchant_category, customer_id, country, channel, \
     decline_reason, is_fraud, partition_id, sequence_number, enqueued_at, source_format, mcc, \
     ingested_at";

/// The types of [`TRANSACTION_COPY_COLUMNS`], for a binary `COPY`.
pub const TRANSACTION_COPY_TYPES: &[Type] = &[
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::NUMERIC,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::INT2,
    Type::TIMESTAMPTZ,
];

/// One accepted transaction as a row of [`TRANSACTION_COPY_COLUMNS`] (the benchmarks
/// write the same rows with a plain `COPY` to compare against).
pub struct TransactionRow<'a> {
    id: &'a str,
    occurred_at: DateTime<Utc>,
    amount: Decimal,
    currency: &'static str,
    payment_type: &'static str,
    status: &'static str,
    merchant_id: &'a str,
    merchant_category: Option<&'a str>,
    customer_id: Option<&'a str>,
    country: Option<&'static str>,
    channel: Option<&'static str>,
    decline_reason: Option<&'a str>,
    is_fraud: bool,
    partition_id: Option<&'a str>,
    sequence_number: Option<i64>,
    enqueued_at: Option<DateTime<Utc>>,
    source_format: &'static str,
    mcc: Option<i16>,
    ingested_at: DateTime<Utc>,
}

impl<'a> TransactionRow<'a> {
    /// The row of `accepted`, ingested at `now`.
    pub fn new(accepted: &'a Accepted, now: DateTime<Utc>) -> Self {
        let t = &accepted.transaction;
        Self {
            id: t.id.as_str(),
            occurred_at: t.occurred_at,
            amount: t.money.amount(),
            currency: t.money.currency().code(),
            payment_type: t.payment_type.as_str(),
            status: t.status.as_str(),
            merchant_id: t.merchant_id.as_str(),
            merchant_category: t.merchant_category.as_ref().map(|l| l.as_str()),
            customer_id: t.customer_id.as_ref().map(|l| l.as_str()),
            country: t.country.as_ref().map(|c| c.as_str()),
            channel: t.channel.map(|c| c.as_str()),
            decline_reason: t.decline_reason.as_ref().map(|l| l.as_str()),
            is_fraud: t.is_fraud,
            partition_id: accepted.lineage.partition_id.as_deref(),
            sequence_number: accepted.lineage.sequence_number,
            enqueued_at: accepted.lineage.enqueued_at,
            source_format: accepted.format.as_str(),
            mcc: t.mcc.map(|m| m.code() as i16),
            ingested_at: now,
        }
    }

    /// Its values, typed as [`TRANSACTION_COPY_TYPES`].
    pub fn values(&self) -> [&(dyn ToSql + Sync); 19] {
        [
            &self.id,
            &self.occurred_at,
            &self.amount,
            &self.currency,
            &self.payment_type,
            &self.status,
            &self.merchant_id,
            &self.merchant_category,
            &self.customer_id,
            &self.country,
            &self.channel,
            &self.decline_reason,
            &self.is_fraud,
            &self.partition_id,
            &self.sequence_number,
            &self.enqueued_at,
            &self.source_format,
            &self.mcc,
            &self.ingested_at,
        ]
    }
}

/// Writes the batch's new transactions with one binary `COPY`: their ids were just
/// claimed in `transaction_ids` by this transaction, so no row can conflict, and COPY is
/// the cheapest way into the table (no statement to plan, no arrays to unpack).
async fn insert_transactions(
    tx: &Transaction<'_>,
    fresh: &[Accepted],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if fresh.is_empty() {
        return Ok(());
    }
    let context = "inserting normalized transactions";
    let sink = tx
        .copy_in(&format!(
            "COPY normalized_transactions ({TRANSACTION_COPY_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await
        .map_err(StoreError::query(context))?;
    let writer = BinaryCopyInWriter::new(sink, TRANSACTION_COPY_TYPES);
    let mut writer = std::pin::pin!(writer);
    for accepted in fresh {
        let row = TransactionRow::new(accepted, now);
        writer
            .as_mut()
            .write(&row.values())
            .await
            .map_err(StoreError::query(context))?;
    }
    writer.finish().await.map_err(StoreError::query(context))?;
    Ok(())
}

async fn insert_rejects(
    client: &impl GenericClient,
    rejected: &[Rejected],
    context: &BatchContext,
) -> Result<(), StoreError> {
    if rejected.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<(&Rejected, [u8; 32])> =
        rejected.iter().map(|r| (r, r.fingerprint())).collect();
    // One order for every writer, so concurrent redeliveries cannot deadlock.
    rows.sort_by_key(|row| row.1);
    rows.dedup_by(|a, b| a.1 == b.1);
    // PostgreSQL text cannot hold NUL; raw is already base64 when it has one, and the
    // other texts quote values, but a NUL in them must not fail the whole batch.
    let col = |f: fn(&Rejected) -> Option<&str>| {
        rows.iter()
            .map(|(r, _)| f(r).map(without_nul))
            .collect::<Vec<_>>()
    };
    let reasons = col(|r| Some(r.rejection.reason.as_str()));
    let details = col(|r| Some(r.rejection.detail.as_str()));
    let raws = col(|r| Some(r.raw.as_str()));
    let encodings = col(|r| Some(r.raw.encoding()));
    let ids = col(|r| r.rejection.transaction_id.as_deref());
    let partitions = col(|r| r.lineage.partition_id.as_deref());
    let offsets = col(|r| r.lineage.offset.as_deref());
    let sequences: Vec<Option<i64>> = rows
        .iter()
        .map(|(r, _)| r.lineage.sequence_number)
        .collect();
    let enqueued: Vec<Option<DateTime<Utc>>> =
        rows.iter().map(|(r, _)| r.lineage.enqueued_at).collect();
    let indexes: Vec<i32> = rows
        .iter()
        .map(|(r, _)| i32::try_from(r.lineage.batch_index).unwrap_or(i32::MAX))
        .collect();
    let fingerprints: Vec<&[u8]> = rows.iter().map(|(_, f)| f.as_slice()).collect();
    client
        .execute_typed(
            "INSERT INTO rejected_events (
                 reason, detail, raw, raw_encoding, transaction_id, partition_id, event_offset,
                 sequence_number, enqueued_at, batch_index, fingerprint, invocation_id, rejected_at)
             SELECT u.*, $12, $13
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::bigint[], $9::timestamptz[], $10::integer[],
                         $11::bytea[]) AS u
             ON CONFLICT (fingerprint) DO NOTHING",
            &[
                (&reasons, Type::TEXT_ARRAY),
                (&details, Type::TEXT_ARRAY),
                (&raws, Type::TEXT_ARRAY),
                (&encodings, Type::TEXT_ARRAY),
                (&ids, Type::TEXT_ARRAY),
                (&partitions, Type::TEXT_ARRAY),
                (&offsets, Type::TEXT_ARRAY),
                (&sequences, Type::INT8_ARRAY),
                (&enqueued, Type::TIMESTAMPTZ_ARRAY),
                (&indexes, Type::INT4_ARRAY),
                (&fingerprints, Type::BYTEA_ARRAY),
                (&context.invocation_id, Type::TEXT),
                (&context.now, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query("inserting rejected events"))?;
    Ok(())
}

/// Adds a part's new and duplicate transactions to `ingest_counts`, in the row of the
/// handler's hour and the batch's partition.
async fn count_ingest(
    client: &impl GenericClient,
    partition: &str,
    accepted: usize,
    duplicates: usize,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if accepted == 0 && duplicates == 0 {
        return Ok(());
    }
    let accepted = i64::try_from(accepted).unwrap_or(i64::MAX);
    let duplicates = i64::try_from(duplicates).unwrap_or(i64::MAX);
    client
        .execute_typed(
            "INSERT INTO ingest_counts (hour, partition_id, accepted, duplicates)
             VALUES (date_trunc('hour', $1, 'UTC'), $2, $3, $4)
             ON CONFLICT (hour, partition_id) DO UPDATE
             SET accepted = ingest_counts.accepted + EXCLUDED.accepted,
                 duplicates = ingest_counts.duplicates + EXCLUDED.duplicates",
            &[
                (&now, Type::TIMESTAMPTZ),
                (&partition, Type::TEXT),
                (&accepted, Type::INT8),
                (&duplicates, Type::INT8),
            ],
        )
        .await
        .map_err(StoreError::query("counting the batch in ingest_counts"))?;
    Ok(())
}

fn without_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\\u0000"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Quarantines a whole body that is not an invocation (`envelope_invalid`), once per
/// distinct body.
///
/// # Errors
/// Any [`StoreError`]; the host then retries.
pub async fn store_envelope_invalid(
    client: &impl GenericClient,
    body: &InvalidBody,
    context: &BatchContext,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO rejected_events
                 (reason, detail, raw, raw_encoding, fingerprint, invocation_id, rejected_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (fingerprint) DO NOTHING",
            &[
                &RejectReason::EnvelopeInvalid.as_str(),
                &body.detail,
                &body.raw.as_str(),
                &body.raw.encoding(),
                &body.fingerprint.as_slice(),
                &context.invocation_id,
                &context.now,
            ],
        )
        .await
        .map_err(StoreError::query("storing an invalid envelope"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Lineage, RawText};

    fn rejected(sequence: i64) -> Rejected {
        Rejected {
            rejection: Rejection {
                reason: RejectReason::MissingField,
                detail: "merchant_id: is required".into(),
                transaction_id: None,
            },
            raw: RawText::Utf8("{}".into()),
            lineage: Lineage {
                sequence_number: Some(sequence),
                ..Lineage::default()
            },
        }
    }

    fn part(events: usize) -> PreparedBatch {
        PreparedBatch {
            received: events,
            accepted: Vec::new(),
            rejected: (0..events as i64).map(rejected).collect(),
        }
    }

    fn sequences(part: &PreparedBatch) -> Vec<i64> {
        part.rejected
            .iter()
            .filter_map(|r| r.lineage.sequence_number)
            .collect()
    }

    #[test]
    fn a_part_splits_into_halves_in_order_and_a_single_event_does_not_split() {
        let (first, second) = split(part(5)).unwrap();
        assert_eq!(sequences(&first), [0, 1, 2]);
        assert_eq!(sequences(&second), [3, 4]);
        assert_eq!((first.received, second.received), (3, 2));
        let single = split(part(1)).unwrap_err();
        assert_eq!(sequences(&single), [0]);
    }

    #[test]
    fn a_single_event_the_database_refused_becomes_a_store_failed_reject_at_its_position() {
        let error = StoreError::Config("no database".into());
        let quarantined = store_failed(part(1), &error);
        let reject = &quarantined.rejected[0];
        assert_eq!(reject.rejection.reason, RejectReason::StoreFailed);
        assert!(reject.rejection.detail.contains("no database"));
        assert_eq!(reject.lineage.sequence_number, Some(0));
        assert!(quarantined.accepted.is_empty());
    }
}
