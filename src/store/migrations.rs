//! Versioned schema migrations, embedded from `migrations/` at build time.
//!
//! Each migration runs in its own transaction together with its row in
//! `schema_migrations`, under a transaction-scoped advisory lock, so concurrent runners
//! (two deploys, a deploy and a developer) apply each migration exactly once and a failed
//! migration leaves nothing behind.

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, GenericClient};

use super::StoreError;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version, from the file name's leading number.
    pub version: u32,
    /// Name, from the file name after the number.
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

impl Migration {
    fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Every migration of this build, in version order.
pub static MIGRATIONS: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Key of the advisory lock that serializes migration runners.
const LOCK_KEY: i64 = 0x7061_796d_6574; // "paymet"

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies every pending migration; returns the versions it applied.
///
/// # Errors
/// [`StoreError::Migration`] naming the migration that failed (rolled back, earlier
/// ones stay), [`StoreError::ChecksumMismatch`] when an applied migration was edited.
pub async fn migrate(client: &mut Client) -> Result<Vec<u32>, StoreError> {
    apply(client, MIGRATIONS).await
}

/// [`migrate`] over an explicit list; used by tests to rehearse failures.
#[doc(hidden)]
pub async fn apply(client: &mut Client, migrations: &[Migration]) -> Result<Vec<u32>, StoreError> {
    let mut applied = Vec::new();
    for migration in migrations {
        let failed = |source| StoreError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        let tx = client.transaction().await.map_err(failed)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(failed)?;
        tx.batch_execute(CREATE_LEDGER).await.map_err(failed)?;
        let existing = tx
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[&i64::from(migration.version)],
            )
            .await
            .map_err(failed)?;
        match existing {
            Some(row) => {
                if row.get::<_, String>(0) != migration.checksum() {
                    return Err(StoreError::ChecksumMismatch {
                        version: migration.version,
                        name: migration.name,
                    });
                }
            }
            None => {
                tx.batch_execute(migration.sql).await.map_err(failed)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[
                        &i64::from(migration.version),
                        &migration.name,
                        &migration.checksum(),
                    ],
                )
                .await
                .map_err(failed)?;
                applied.push(migration.version);
            }
        }
        tx.commit().await.map_err(failed)?;
    }
    Ok(applied)
}

/// Where the database's schema stands relative to this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Highest applied version, 0 for an empty database.
    pub current: u32,
    /// Version this build needs.
    pub required: u32,
}

/// Checks that every migration of this build is applied. A newer schema is fine (a
/// rolled-back handler runs against the schema of the release after it).
///
/// # Errors
/// [`StoreError::SchemaTooOld`] when a migration is missing; query errors otherwise.
pub async fn check_schema(client: &impl GenericClient) -> Result<SchemaStatus, StoreError> {
    let required = MIGRATIONS.last().map_or(0, |m| m.version);
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(StoreError::query("checking for schema_migrations"))?
        .get(0);
    let versions: Vec<i64> = if exists {
        client
            .query("SELECT version FROM schema_migrations", &[])
            .await
            .map_err(StoreError::query("reading schema_migrations"))?
            .iter()
            .map(|row| row.get(0))
            .collect()
    } else {
        Vec::new()
    };
    let current = versions.iter().copied().max().unwrap_or(0);
    let current = u32::try_from(current).unwrap_or(u32::MAX);
    let missing = MIGRATIONS
        .iter()
        .any(|m| !versions.contains(&i64::from(m.version)));
    if missing {
        return Err(StoreError::SchemaTooOld {
            found: current,
            required,
        });
    }
    Ok(SchemaStatus { current, required })
}

/// The tables and columns other tools rely on (dashboards, the CD pipeline's check).
pub const CONTRACT: &[(&str, &[&str])] = &[
    (
        "normalized_transactions",
        &[
            "transaction_id",
            "occurred_at",
            "amount",
            "currency",
            "payment_type",
            "status",
            "merchant_id",
            "merchant_category",
            "customer_id",
            "country",
            "channel",
            "is_fraud",
            "partition_id",
            "sequence_number",
            "enqueued_at",
            "ingested_at",
            "source_format",
            "mcc",
        ],
    ),
    (
        "rejected_events",
        &[
            "id",
            "reason",
            "detail",
            "raw",
            "partition_id",
            "sequence_number",
            "rejected_at",
        ],
    ),
    ("payment_metrics_5m", crate::engine::metrics::COLUMNS),
    (
        "dynamic_metrics",
        &[
            "rule_name",
            "window_start",
            "window_end",
            "group_key",
            "value",
            "sample_count",
            "rule_version",
            "revision",
            "computed_at",
        ],
    ),
    (
        "ingest_counts",
        &["hour", "partition_id", "accepted", "duplicates"],
    ),
];

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Where the schema stands.
    pub status: Option<SchemaStatus>,
    /// `table` or `table.column` names that are missing.
    pub missing: Vec<String>,
}

impl Verification {
    /// Everything is there at the required version.
    pub fn ok(&self) -> bool {
        self.status.is_some() && self.missing.is_empty()
    }
}

/// Checks that the schema is at the version this build needs and that every table and
/// column of [`CONTRACT`] exists, naming what is missing.
///
/// # Errors
/// [`StoreError::Query`] when the catalog cannot be read.
pub async fn verify(client: &impl GenericClient) -> Result<Verification, StoreError> {
    let status = match check_schema(client).await {
        Ok(status) => Some(status),
        Err(StoreError::SchemaTooOld { .. }) => None,
        Err(e) => return Err(e),
    };
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema()",
            &[],
        )
        .await
        .map_err(StoreError::query("reading the catalog"))?;
    let present: std::collections::HashSet<(String, String)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut missing = Vec::new();
    for (table, columns) in CONTRACT {
        if !present.iter().any(|(t, _)| t == table) {
            missing.push((*table).to_owned());
            continue;
        }
        for column in *columns {
            if !present.contains(&((*table).to_owned(), (*column).to_owned())) {
                missing.push(format!("{table}.{column}"));
            }
        }
    }
    Ok(Verification { status, missing })
}
