//! What the Health function reports about the database, each figure read from an index
//! so a health probe stays cheap on a large, partitioned store.

use chrono::{DateTime, Duration, Utc};
use tokio_postgres::GenericClient;

use super::StoreError;
use crate::engine::WindowPolicy;
use crate::engine::windows::FIVE_MINUTES;

/// The database's side of a health report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthFacts {
    /// Highest applied migration (0 when none is).
    pub schema_version: u32,
    /// Every migration of this build is applied.
    pub schema_current: bool,
    /// The figures below, read only when the schema is current (an older schema may
    /// lack what they read).
    pub activity: Option<Activity>,
}

/// Recent activity, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// How far window closing is behind (see [`super::window_close_lag`]).
    pub window_close_lag: std::time::Duration,
    /// `ingested_at` of the last batch that accepted a transaction (every such batch
    /// stamps the 5-minute window of each of its transactions with it).
    pub last_ingested_at: Option<DateTime<Utc>>,
    /// Events quarantined in `rejected_events` in the hour before `now`.
    pub rejected_last_hour: i64,
}

/// Reads the schema version and, when the schema is current, the recent activity.
///
/// # Errors
/// [`StoreError::Query`] naming what could not be read.
pub async fn health_facts(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    policy: &WindowPolicy,
    widths: &[i64],
) -> Result<HealthFacts, StoreError> {
    let (schema_version, schema_current) = match super::check_schema(client).await {
        Ok(status) => (status.current, true),
        Err(StoreError::SchemaTooOld { found, .. }) => (found, false),
        Err(e) => return Err(e),
    };
    if !schema_current {
        return Ok(HealthFacts {
            schema_version,
            schema_current,
            activity: None,
        });
    }
    let window_close_lag = super::window_close_lag(client, now, policy, widths).await?;
    let last_ingested_at: Option<DateTime<Utc>> = client
        .query_one(
            "SELECT max(changed_at) FROM window_state WHERE width_seconds = $1",
            &[&(FIVE_MINUTES as i32)],
        )
        .await
        .map_err(StoreError::query("reading the last ingest time"))?
        .get(0);
    let rejected_last_hour: i64 = client
        .query_one(
            "SELECT count(*) FROM rejected_events WHERE rejected_at > $1 AND rejected_at <= $2",
            &[&(now - Duration::hours(1)), &now],
        )
        .await
        .map_err(StoreError::query("counting recent rejects"))?
        .get(0);
    Ok(HealthFacts {
        schema_version,
        schema_current,
        activity: Some(Activity {
            window_close_lag,
            last_ingested_at,
            rejected_last_hour,
        }),
    })
}
