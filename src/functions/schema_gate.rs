//! The schema gate: invocations touch the database only once its schema has every
//! migration of this build.
//!
//! The handler starts serving before it has looked at the database (the host gives it
//! 30 s to answer `GET /`, and a migration or an unreachable server can take longer), and
//! it never exits over an old schema (the host restarts an exiting handler three times,
//! then stops the whole app). Instead, until the schema is current every invocation
//! answers 503 and the host retries it. A refused schema is read again at most every
//! [`RECHECK_INTERVAL`], so the handler recovers on its own once someone migrates.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_postgres::GenericClient;

use super::FunctionError;
use crate::store::{self, StoreError};

/// How long a refused schema's version is trusted before it is read again.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Whether invocations may use the database yet.
#[derive(Debug)]
pub struct SchemaGate {
    /// Set once the schema was found current; never cleared (migrations only add).
    ready: AtomicBool,
    /// `PAYMETRICS_MIGRATE=on-start` is applying migrations right now.
    migrating: AtomicBool,
    /// When the schema was last found too old, and at which version: the answer given
    /// until [`RECHECK_INTERVAL`] has passed.
    refused: Mutex<Option<(Instant, u32)>>,
    recheck: Duration,
}

impl Default for SchemaGate {
    fn default() -> Self {
        Self::new(RECHECK_INTERVAL)
    }
}

impl SchemaGate {
    /// A closed gate that reads a refused schema again after `recheck`.
    pub fn new(recheck: Duration) -> Self {
        Self {
            ready: AtomicBool::new(false),
            migrating: AtomicBool::new(false),
            refused: Mutex::new(None),
            recheck,
        }
    }

    /// The schema is current (a migration runner just brought it there).
    pub fn open(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether migrations are being applied by this handler right now.
    pub fn set_migrating(&self, migrating: bool) {
        self.migrating.store(migrating, Ordering::Release);
    }

    /// Lets an invocation through when the schema is current, reading it (through
    /// `client`) only when no recent answer is known.
    ///
    /// # Errors
    /// [`FunctionError::SchemaMigrating`] while this handler migrates,
    /// [`StoreError::SchemaTooOld`] (both 503) or the error reading the schema.
    pub async fn admit(
        &self,
        client: &impl GenericClient,
        now: Instant,
    ) -> Result<(), FunctionError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let required = store::MIGRATIONS.last().map_or(0, |m| m.version);
        if self.migrating.load(Ordering::Acquire) {
            return Err(FunctionError::SchemaMigrating { required });
        }
        let mut refused = self.refused.lock().await;
        if let Some((at, found)) = *refused
            && now < at + self.recheck
        {
            return Err(StoreError::SchemaTooOld { found, required }.into());
        }
        match store::check_schema(client).await {
            Ok(_) => {
                self.open();
                *refused = None;
                Ok(())
            }
            Err(StoreError::SchemaTooOld { found, required }) => {
                *refused = Some((now, found));
                Err(StoreError::SchemaTooOld { found, required }.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Starts what the handler does about the schema once it serves (`PAYMETRICS_MIGRATE`),
/// as a task of its own.
///
/// `migrate: true` applies the pending embedded migrations ([`store::migrate`]: one
/// transaction and advisory lock per migration, so instances starting together apply each
/// once), retrying with backoff (up to 30 s apart) while any attempt fails, each failure
/// logged, and opens the gate when done; the gate says "migrating" from before this
/// returns. `migrate: false` reads the schema once and, when it is too old, logs the fix;
/// invocations find out for themselves later.
pub fn prepare_schema(
    pool: deadpool_postgres::Pool,
    gate: Arc<SchemaGate>,
    migrate: bool,
) -> tokio::task::JoinHandle<()> {
    if !migrate {
        return tokio::spawn(async move { check_once(&pool, &gate).await });
    }
    gate.set_migrating(true);
    tokio::spawn(async move {
        let attempt = || async {
            let mut client = pool.get().await?;
            store::migrate(&mut client).await
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(30))
            .without_max_times()
            .with_jitter();
        let applied = attempt
            .retry(backoff)
            .notify(|e: &StoreError, wait| {
                tracing::error!(
                    error = %super::error_chain(e),
                    retry_in_ms = wait.as_millis() as u64,
                    "migrating the database failed (PAYMETRICS_MIGRATE=on-start); invocations answer 503 until it succeeds"
                );
            })
            .await
            .expect("retried without limit");
        gate.open();
        gate.set_migrating(false);
        tracing::info!(applied = ?applied, "database schema migrated (PAYMETRICS_MIGRATE=on-start)");
    })
}

async fn check_once(pool: &deadpool_postgres::Pool, gate: &SchemaGate) {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "database unreachable at start-up; invocations will be retried");
            return;
        }
    };
    match gate.admit(&**client, Instant::now()).await {
        Ok(()) => tracing::info!("database schema checked"),
        Err(e @ FunctionError::Store(StoreError::SchemaTooOld { .. })) => {
            tracing::error!(error = %e, "the database schema is too old; invocations answer 503 until it is migrated");
        }
        Err(e) => {
            tracing::warn!(error = %super::error_chain(&e), "could not check the database schema")
        }
    }
}
