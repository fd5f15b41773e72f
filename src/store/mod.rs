//! PostgreSQL, and all the SQL of the crate: the database configuration and TLS policy
//! (`config`), how connections are made (`connect`), the pool, schema migrations, the
//! batch writer, window marking, closing and partitions (`windows`), rule metrics rendered
//! from the engine's typed plan (`rules`), merchant segmentation runs (`clusters`), the
//! quarantine's retention (`rejects`), what the Health function reads, and what the HTTP
//! API and the dashboard read (`views`).
//!
//! `store` depends on `engine` and `ingest` (the types it persists), never on `settings`:
//! settings parse the environment into the types defined here.
//!
//! Functions take a client (`&impl GenericClient` or `&mut Client` where they need a
//! transaction) so callers choose pooling and tests choose their own database.

mod alerts;
mod batches;
mod clusters;
mod config;
pub mod connect;
mod health;
mod migrations;
mod reads;
mod rejects;
mod rules;
mod views;
mod windows;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;

pub use alerts::{AlertRow, Transition, evaluate_alerts, recent_alerts};
pub use batches::{
    BatchContext, StoredBatch, TRANSACTION_COPY_COLUMNS, TRANSACTION_COPY_TYPES, TransactionRow,
    store_batch, store_envelope_invalid,
};
pub use clusters::{ClusterReport, cluster_merchants};
pub use config::{ConfigError, DatabaseSettings, DbAuth, DbTarget, Secret, SslMode};
pub use health::{Activity, HealthFacts, health_facts};
pub use migrations::{
    CONTRACT, MIGRATIONS, Migration, SchemaStatus, Verification, apply as migrations_apply,
    check_schema, migrate, verify,
};
pub use reads::{ReportTable, closed_5m_windows, metrics_5m_rows, report_tables};
pub use rejects::{
    PURGE_BATCH, PURGE_STATEMENTS, PurgeReport, RedriveFilter, RedriveReport,
    purge_rejected_events, redrive,
};
pub use views::{
    Centroid, ClusterRun, DashboardData, IngestHour, Member, Metrics5mRow, Point, Revision,
    RuleMetricRow, Selection, Share, dashboard_data, latest_cluster_run, metrics_5m, rule_metrics,
};
pub use windows::{
    CloseReport, PartitionReport, close_due_windows, maintain_partitions, window_close_lag,
};

/// Everything that can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` could not be understood.
    #[error("DATABASE_URL is not a valid PostgreSQL connection string: {0}")]
    Config(String),
    /// No connection could be had from the pool (database down, pool exhausted).
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("{context}: {source}")]
    Query {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A migration failed; its transaction was rolled back.
    #[error("migration {version} ({name}) failed, nothing of it was applied: {source}")]
    Migration {
        /// Version of the failed migration.
        version: u32,
        /// Its name.
        name: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// An applied migration's text differs from the embedded one.
    #[error(
        "migration {version} ({name}) was changed after it was applied; migrations are \
         immutable, add a new one instead"
    )]
    ChecksumMismatch {
        /// Version of the changed migration.
        version: u32,
        /// Its name.
        name: &'static str,
    },
    /// The database schema is older than this build needs.
    #[error(
        "the database schema is at version {found} but this handler needs version {required}: \
         run handler migrate or set PAYMETRICS_MIGRATE=on-start"
    )]
    SchemaTooOld {
        /// Highest applied version (0 when none).
        found: u32,
        /// Version this build needs.
        required: u32,
    },
}

impl StoreError {
    /// Attaches what was being done to a driver error.
    pub fn query(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |source| Self::Query { context, source }
    }

    /// True when retrying the same work later can succeed without anyone changing
    /// anything: lost connections, timeouts, serialization failures, deadlocks.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Query { source, .. } | Self::Migration { source, .. } => {
                is_transient_driver_error(source)
            }
            Self::Config(_) | Self::ChecksumMismatch { .. } | Self::SchemaTooOld { .. } => false,
        }
    }
}

fn is_transient_driver_error(error: &tokio_postgres::Error) -> bool {
    let Some(code) = error.code() else {
        // No SQLSTATE: the connection itself failed or closed.
        return true;
    };
    let class = &code.code()[..2];
    class == "08" // connection exception
        || class == "53" // insufficient resources
        || class == "57" // operator intervention: shutdown, statement timeout
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::LOCK_NOT_AVAILABLE
}

/// Pool limits: how many connections, and how long a request, a statement and a lock
/// wait may take before the invocation fails (and the host retries it).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_size: usize,
    /// How long a request waits for a connection, including connecting, before it gives
    /// up (and the host retries the invocation).
    pub timeout: Duration,
    /// Longest a statement may run (`statement_timeout`), so a stuck query fails the
    /// invocation (to be retried) instead of holding a connection forever.
    pub statement_timeout: Duration,
    /// Longest a statement waits for a lock (`lock_timeout`).
    pub lock_timeout: Duration,
}

/// Builds a connection pool from a connection string (URL or key=value form), with the
/// password it contains and TLS as [`DatabaseSettings::connection`] decides. No
/// connection is made until one is needed.
///
/// # Errors
/// [`StoreError::Config`] when the connection string is invalid.
pub fn pool(database_url: &str, limits: PoolSettings) -> Result<Pool, StoreError> {
    let (config, tls) = DatabaseSettings::from_url(database_url)
        .connection()
        .map_err(|e| StoreError::Config(e.to_string()))?;
    pool_with(config, &tls, connect::Password::Fixed, limits)
}

/// Builds a connection pool from parts: the connection settings, TLS, and where the
/// password comes from. No connection is made until one is needed.
///
/// # Errors
/// [`StoreError::Config`] when the pool cannot be built.
pub fn pool_with(
    mut config: tokio_postgres::Config,
    tls: &connect::Tls,
    password: connect::Password,
    limits: PoolSettings,
) -> Result<Pool, StoreError> {
    if config.get_application_name().is_none() {
        config.application_name("paymetrics");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(limits.timeout);
    }
    if config.get_options().is_none() {
        config.options(format!(
            "-c statement_timeout={} -c lock_timeout={}",
            limits.statement_timeout.as_millis(),
            limits.lock_timeout.as_millis()
        ));
    }
    let manager = Manager::from_connect(
        config,
        connect::Connector::new(tls, password),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(limits.max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(limits.timeout))
        .create_timeout(Some(limits.timeout))
        .recycle_timeout(Some(limits.timeout))
        .build()
        .map_err(|e| StoreError::Config(e.to_string()))
}
