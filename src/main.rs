//! `handler`: the Azure Functions custom handler.
//!
//! `handler` serves the host's invocations on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT;
//! `handler migrate` applies the schema migrations embedded in this build;
//! `handler verify-schema` checks a database against them; `handler check-config FILE`
//! validates an engine settings file; `handler redrive` re-validates quarantined events
//! with the current engine settings and stores those that now pass; `handler replay` runs
//! a time range of the Event Hubs Capture archive through ingest again.
#![warn(clippy::too_many_lines)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use paymetrics::archive;
use paymetrics::functions::{AppState, app, prepare_schema};
use paymetrics::settings::{EngineConfig, HandlerSettings, MigrateMode};
use paymetrics::{store, telemetry};
use tracing::{error, info};

/// mimalloc keeps a batch's freed memory for the next one instead of returning it to the
/// kernel after every invocation (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// paymetrics custom handler for Azure Functions.
#[derive(Parser)]
#[command(version = paymetrics::VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Functions host's invocations (the default).
    Serve,
    /// Apply pending schema migrations to DATABASE_URL and exit.
    Migrate,
    /// Check that DATABASE_URL's schema is at this build's version and has every table
    /// and column other tools rely on; name what is missing and exit 1 if anything is.
    VerifySchema,
    /// Validate an engine settings file as the handler would load it; print a summary and
    /// exit 0, or print its errors (file, line, key) and exit 1.
    CheckConfig {
        /// The engine settings file (YAML).
        file: PathBuf,
    },
    /// Re-validate quarantined events with this build and the engine settings, store
    /// those that now pass exactly once, record each row's outcome and print the counts
    /// by reason and outcome. Exit 1 when the database fails.
    Redrive {
        /// Only events quarantined for this reason (repeatable); default: all reasons.
        #[arg(long = "reason", value_name = "REASON")]
        reasons: Vec<String>,
        /// Only events quarantined at or after this instant (RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Judge the events and print what would happen; store and mark nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the archived events Event Hubs enqueued in [--from, --to) through ingest again,
    /// from the Capture container or a local copy of it, in partition and sequence order:
    /// judged, quarantined and stored exactly once as when they arrived, their windows
    /// marked for the next timer run. Prints a summary by outcome; exit 1 when a file
    /// cannot be read to its end (naming it and the record) or the database fails.
    #[command(group(clap::ArgGroup::new("archive").required(true).args(["container", "dir"])))]
    Replay {
        /// Events enqueued at or after this instant (RFC 3339).
        #[arg(long, value_name = "TIME")]
        from: chrono::DateTime<chrono::Utc>,
        /// Events enqueued before this instant (RFC 3339).
        #[arg(long, value_name = "TIME")]
        to: chrono::DateTime<chrono::Utc>,
        /// Only this partition (repeatable); default: every partition.
        #[arg(long = "partition", value_name = "P")]
        partitions: Vec<String>,
        /// The Capture container in Blob Storage (the app setting
        /// PAYMETRICS_ARCHIVE_CONTAINER_URL), read with the handler's Microsoft Entra ID
        /// identity, or a URL with a shared access signature.
        #[arg(long, value_name = "URL")]
        container: Option<String>,
        /// The folder holding a copy of the Capture container (the `{Namespace}` folders
        /// under it).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// Read and judge the events and print what would happen; store nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::CheckConfig { file }) = &cli.command {
        return check_config(file);
    }
    let mut telemetry = match telemetry::init("paymetrics-handler", telemetry::Output::Stdout) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::VerifySchema => verify_schema().await,
        Command::Redrive {
            reasons,
            since,
            dry_run,
        } => {
            redrive(store::RedriveFilter {
                reasons,
                since,
                dry_run,
            })
            .await
        }
        Command::Replay {
            from,
            to,
            partitions,
            container,
            dir,
            dry_run,
        } => {
            replay(
                archive_source(container, dir),
                archive::ReplayPlan {
                    from,
                    to,
                    partitions,
                    dry_run,
                    batch_size: REPLAY_BATCH,
                },
            )
            .await
        }
        Command::CheckConfig { .. } => unreachable!("handled before telemetry"),
    };
    // Flush what is still buffered for Application Insights before the process ends.
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %format!("{e:#}"), "handler stopped");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The pool the settings describe: password or Microsoft Entra ID, TLS or not.
fn open_pool(settings: &HandlerSettings) -> anyhow::Result<deadpool_postgres::Pool> {
    let (config, tls) = settings.database.connection()?;
    let password =
        store::connect::Password::for_settings(&settings.database).map_err(anyhow::Error::msg)?;
    Ok(store::pool_with(config, &tls, password, settings.pool)?)
}

async fn migrate() -> anyhow::Result<()> {
    let settings = HandlerSettings::from_env()?;
    let pool = open_pool(&settings)?;
    let mut client = pool.get().await.context("connecting to DATABASE_URL")?;
    let applied = store::migrate(&mut client).await?;
    let status = store::check_schema(&**client).await?;
    if applied.is_empty() {
        println!("schema is up to date at version {}", status.current);
    } else {
        println!(
            "applied migrations {:?}; schema is at version {}",
            applied, status.current
        );
    }
    Ok(())
}

async fn verify_schema() -> anyhow::Result<()> {
    let settings = HandlerSettings::from_env()?;
    let pool = open_pool(&settings)?;
    let client = pool.get().await.context("connecting to DATABASE_URL")?;
    let verification = store::verify(&**client).await?;
    let required = store::MIGRATIONS.last().map_or(0, |m| m.version);
    match &verification.status {
        Some(status) => println!(
            "schema version {} (this build needs {required})",
            status.current
        ),
        None => println!("schema is older than version {required}: run `handler migrate`"),
    }
    for name in &verification.missing {
        println!("missing: {name}");
    }
    if verification.ok() {
        let columns: usize = store::CONTRACT.iter().map(|(_, c)| c.len()).sum();
        println!(
            "ok: {} tables and {columns} columns present",
            store::CONTRACT.len()
        );
        Ok(())
    } else {
        bail!(
            "the schema does not match this build ({} missing)",
            verification.missing.len()
        )
    }
}

/// Validates `file` with the handler's own loader; no settings, database or telemetry.
async fn redrive(filter: store::RedriveFilter) -> anyhow::Result<()> {
    let settings = HandlerSettings::from_env()?;
    let engine = settings.engine()?.current();
    let pool = open_pool(&settings)?;
    let mut client = pool.get().await.context("connecting to DATABASE_URL")?;
    let context = store::BatchContext {
        invocation_id: Some("redrive".to_owned()),
        now: chrono::Utc::now(),
        window_widths: engine.window_widths(),
    };
    let report = store::redrive(&mut client, &filter, &engine.ingest, &context)
        .await
        .context("redriving quarantined events")?;
    let verb = if filter.dry_run {
        "would redrive"
    } else {
        "redrove"
    };
    let total: usize = report.counts.values().sum();
    println!("{verb} {total} quarantined events");
    for ((reason, outcome), n) in &report.counts {
        println!("{reason}\t{outcome}\t{n}");
    }
    Ok(())
}

/// Events per batch a replay stores: ten of the trigger's batches, as many round trips
/// fewer.
const REPLAY_BATCH: usize = 1000;

/// The archive `--container` or `--dir` names (clap lets exactly one through).
fn archive_source(
    container: Option<String>,
    dir: Option<PathBuf>,
) -> anyhow::Result<archive::Source> {
    Ok(match (container, dir) {
        (Some(url), _) => archive::Source::Container(archive::Container::new(&url, || {
            store::connect::default_credential(None)
        })?),
        (None, Some(dir)) => archive::Source::Dir(dir),
        (None, None) => bail!("--container or --dir names the archive"),
    })
}

/// `handler replay`: the archive's range through ingest; progress on stderr every few
/// seconds, the summary on stdout.
async fn replay(
    source: anyhow::Result<archive::Source>,
    plan: archive::ReplayPlan,
) -> anyhow::Result<()> {
    if plan.to <= plan.from {
        bail!("--to ({}) must be after --from ({})", plan.to, plan.from);
    }
    let source = source?;
    let settings = HandlerSettings::from_env()?;
    let engine = settings.engine()?.current();
    let pool = open_pool(&settings)?;
    let mut client = pool.get().await.context("connecting to DATABASE_URL")?;
    let context = store::BatchContext {
        invocation_id: Some("replay".to_owned()),
        now: chrono::Utc::now(),
        window_widths: engine.window_widths(),
    };
    let started = std::time::Instant::now();
    let mut progress = ReplayProgress::new(started);
    let report = archive::replay(&mut client, &source, &plan, &engine.ingest, &context, |p| {
        progress.update(p)
    })
    .await;
    progress.finish();
    let report = report?;
    let verb = if plan.dry_run {
        "would store"
    } else {
        "stored"
    };
    println!(
        "replayed {} events of {} files ({} outside the range skipped)",
        report.events, report.files, report.outside
    );
    println!("accepted\t{}\t({verb})", report.accepted);
    if !plan.dry_run {
        println!("duplicates\t{}", report.duplicates);
        println!("late\t{}", report.late);
    }
    for (reason, n) in &report.rejected {
        println!("rejected\t{reason}\t{n}");
    }
    for (file, why) in &report.failures {
        eprintln!("error: {file}: {why}");
    }
    if !report.failures.is_empty() {
        bail!(
            "{} archive files could not be read to their end; their events before the error \
             were replayed, a rerun after a fix stores the rest exactly once",
            report.failures.len()
        );
    }
    Ok(())
}

/// `handler replay`'s progress on stderr: a bar on a terminal, else a line every 5 seconds.
struct ReplayProgress {
    started: std::time::Instant,
    last: std::time::Instant,
    bar: Option<indicatif::ProgressBar>,
}

impl ReplayProgress {
    fn new(started: std::time::Instant) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "[{elapsed_precise}] {wide_bar} {pos}/{len} files {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            started,
            last: started,
            bar,
        }
    }

    fn update(&mut self, progress: archive::Progress<'_>) {
        let rate = progress.events as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        if let Some(bar) = &self.bar {
            bar.set_length(progress.files_total as u64);
            bar.set_position(progress.files_done as u64);
            bar.set_message(format!("{} events, {rate:.0} events/s", progress.events));
        } else if self.last.elapsed() >= std::time::Duration::from_secs(5)
            || progress.files_done == progress.files_total
        {
            self.last = std::time::Instant::now();
            eprintln!(
                "replay: {}/{} files, {} events, {rate:.0} events/s",
                progress.files_done, progress.files_total, progress.events,
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match EngineConfig::check_file(file) {
        Ok(config) => {
            println!("ok: {} ({})", file.display(), config.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Binds the port first, so `GET /` answers at once, and only then looks at the
/// database, in the background: a migration or an unreachable server must neither delay
/// readiness nor stop the handler (the host restarts an exiting handler three times,
/// then stops the app). Until the schema is current, invocations answer 503.
async fn serve() -> anyhow::Result<()> {
    let settings = HandlerSettings::from_env()?;
    let engine = settings.engine()?;
    let pool = open_pool(&settings)?;

    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, settings.port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    info!(
        %address,
        version = paymetrics::VERSION,
        engine_config = %settings.engine_config.display(),
        migrate = ?settings.migrate,
        "handler listening"
    );
    let state = AppState::new(pool, engine, settings.max_body_bytes);
    prepare_schema(
        state.pool.clone(),
        state.schema.clone(),
        settings.migrate == MigrateMode::OnStart,
    );
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    info!("handler stopped");
    Ok(())
}

/// Resolves on SIGTERM (the host stopping us) or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
