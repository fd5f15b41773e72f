//! `simulator`: realistic, reproducible payment traffic for paymetrics. This door parses the
//! command line, loads the scenario, opens the sink or the database (as the handler does)
//! and calls [`paymetrics::simulator`].
#![warn(clippy::too_many_lines)]
#![recursion_limit = "256"]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use paymetrics::settings::{HandlerSettings, Secret};
use paymetrics::simulator::eventhubs::{EventHubsSink, EventHubsTarget};
use paymetrics::simulator::identity::EntraCredential;
use paymetrics::simulator::kafka::{KafkaSasl, KafkaSecurity, KafkaSink, KafkaTarget};
use paymetrics::simulator::run::{RunOptions, run};
use paymetrics::simulator::scenario::TimeMode;
use paymetrics::simulator::sinks::{HandlerSink, Sink};
use paymetrics::simulator::{DEFAULT_SCENARIO, Scenario, check, report};
use paymetrics::store::{self, connect::Password};
use paymetrics::telemetry;

/// Realistic, reproducible payment traffic for paymetrics.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a scenario's traffic and publish it.
    Run(Box<RunArgs>),
    /// Check a scenario file and exit.
    Validate {
        /// The scenario.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the complete, commented default scenario.
    DefaultConfig,
    /// Print the latest payment_metrics_5m rows, rule results, rejects and clusters.
    Report {
        /// The database (default: DATABASE_URL), reached with the handler's TLS policy.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// Rows per table.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Write the dashboard (the page `api/dashboard` serves) to this file instead.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// The dashboard's range start (RFC 3339; default: 3 hours before --to).
        #[arg(long, requires = "html")]
        from: Option<DateTime<Utc>>,
        /// The dashboard's range end (RFC 3339; default: now).
        #[arg(long, requires = "html")]
        to: Option<DateTime<Utc>>,
        /// The engine settings whose rules get a panel each.
        #[arg(long, env = "PAYMETRICS_CONFIG", default_value = "config/engine.yaml")]
        engine_config: PathBuf,
    },
    /// Compare payment_metrics_5m in a database with a run's --truth file.
    Check {
        /// The truth file written by `run --truth`.
        #[arg(long)]
        truth: PathBuf,
        /// The database (default: DATABASE_URL), reached with the handler's TLS policy.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SinkKind {
    Eventhubs,
    Kafka,
    Handler,
    File,
    Stdout,
    Null,
}

#[derive(Clone, Copy, ValueEnum)]
enum Auth {
    ConnectionString,
    ManagedIdentity,
    WorkloadIdentity,
    AzureCli,
    ClientSecret,
    /// Kafka SASL PLAIN with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD.
    Password,
}

/// Kafka's `security.protocol`.
#[derive(Clone, Copy, ValueEnum)]
enum Security {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The scenario (YAML); without it, the built-in default scenario.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Number of transactions to generate (faults come on top).
    #[arg(long, conflicts_with = "duration")]
    count: Option<u64>,
    /// How long to run in real time (30s, 10m).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Override the scenario's events per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Backfill from this time (RFC 3339); needs --to.
    #[arg(long, requires = "to")]
    from: Option<DateTime<Utc>>,
    /// Backfill up to this time (RFC 3339); needs --from.
    #[arg(long, requires = "from")]
    to: Option<DateTime<Utc>>,
    /// Where events go.
    #[arg(long, value_enum, default_value = "stdout")]
    sink: SinkKind,
    /// The file sink's path (NDJSON).
    #[arg(long, required_if_eq("sink", "file"))]
    out: Option<PathBuf>,
    /// The handler sink's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    target: String,
    /// Write the expected payment_metrics_5m rows (JSON) here.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Write the fault manifest (NDJSON) here.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Event Hubs namespace (`<name>.servicebus.windows.net`).
    #[arg(long, env = "EVENTHUBS_NAMESPACE")]
    namespace: Option<String>,
    /// Event hub name.
    #[arg(long, env = "EVENTHUBS_HUB", default_value = "payments")]
    hub: String,
    /// The Kafka sink's bootstrap brokers, host:port[,host:port] (Event Hubs:
    /// <namespace>.servicebus.windows.net:9093).
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", value_delimiter = ',')]
    bootstrap: Vec<String>,
    /// The Kafka sink's topic (default: --hub; on Event Hubs the topic is the event hub).
    #[arg(long)]
    topic: Option<String>,
    /// The Kafka sink's security.protocol (Event Hubs: sasl-ssl).
    #[arg(long, value_enum, default_value = "sasl-ssl")]
    security_protocol: Security,
    /// The scope of the Entra ID token the Kafka sink signs in with over SASL OAUTHBEARER
    /// (default: https://<first broker's host>/.default).
    #[arg(long)]
    oauth_scope: Option<String>,
    /// How to authenticate to Event Hubs (and to Kafka over SASL): an Entra ID credential
    /// (Kafka: OAUTHBEARER); connection-string reads EVENTHUBS_CONNECTION_STRING (Kafka
    /// only: PLAIN as $ConnectionString); password (Kafka only: PLAIN with
    /// KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD).
    #[arg(long, value_enum, default_value = "azure-cli")]
    auth: Auth,
    /// With --auth managed-identity: the client id of the user-assigned identity to sign
    /// in as (without it, the system-assigned identity).
    #[arg(long, env = "AZURE_CLIENT_ID", hide_env_values = true)]
    client_id: Option<String>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut telemetry = match telemetry::init("paymetrics-simulator", telemetry::Output::Stderr) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match execute(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    telemetry.shutdown();
    code
}

async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::DefaultConfig => {
            print!("{DEFAULT_SCENARIO}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { config } => validate_command(&config),
        Command::Report {
            database_url,
            limit,
            html: None,
            ..
        } => {
            let client = connect(database_url).await?;
            print!("{}", report::report(&**client, limit).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            database_url,
            html: Some(file),
            from,
            to,
            engine_config,
            ..
        } => html_command(database_url, &file, from, to, &engine_config).await,
        Command::Check {
            truth,
            database_url,
        } => check_command(&truth, database_url).await,
        Command::Run(args) => run_command(*args).await,
    }
}

/// Writes the dashboard of `[from, to)` to `file`, as the `Dashboard` function serves it.
async fn html_command(
    database_url: String,
    file: &Path,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    engine_config: &Path,
) -> anyhow::Result<ExitCode> {
    let engine = paymetrics::settings::EngineConfig::check_file(engine_config)?;
    let mut query = Vec::new();
    let (from, to) = (from.map(rfc3339), to.map(rfc3339));
    if let Some(from) = &from {
        query.push(("from", from.as_str()));
    }
    if let Some(to) = &to {
        query.push(("to", to.as_str()));
    }
    let now = Utc::now();
    let selection = paymetrics::functions::request::Request::with_query(query).selection(now)?;
    let client = connect(database_url).await?;
    let started = std::time::Instant::now();
    let page = paymetrics::dashboard::build(&**client, selection, &engine, now, None).await?;
    std::fs::write(file, &page).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "wrote the dashboard of {} to {} to {} ({} bytes, {} ms)",
        rfc3339(selection.from),
        rfc3339(selection.to),
        file.display(),
        page.len(),
        started.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn validate_command(config: &Path) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(config)?;
    println!(
        "{} is valid: {} events/s, {} payment types, {} currencies, {}",
        config.display(),
        scenario.rate.events_per_second,
        scenario.payment_types.len(),
        scenario.currencies.len(),
        match scenario.time {
            TimeMode::Realtime => "realtime".to_owned(),
            TimeMode::Backfill { from, to } => format!("backfill {from} to {to}"),
        }
    );
    if !scenario.incidents.is_empty() {
        println!("{} incidents planted:", scenario.incidents.len());
        match scenario.run_start() {
            Some(start) => {
                for incident in scenario.incidents_at(start) {
                    println!("  {}", incident.manifest_line());
                }
            }
            None => println!("  (their offsets count from the start of the realtime run)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A connection to the database at `database_url`, made as the handler makes its own:
/// the same settings (`PAYMETRICS_DB_SSLMODE`, `PAYMETRICS_DB_SSLROOTCERT`, timeouts from
/// the environment) and so the same TLS policy: verified TLS unless the server is on
/// this machine or the URL says `sslmode=disable`; with `PAYMETRICS_DB_AUTH=entra` it
/// signs in with Microsoft Entra ID tokens as the handler does (the Azure CLI's sign-in
/// on a developer's machine; the URL's user names the role).
async fn connect(database_url: String) -> anyhow::Result<deadpool_postgres::Object> {
    let settings = HandlerSettings::from_lookup(|name| match name {
        "DATABASE_URL" => Some(database_url.clone()),
        _ => std::env::var(name).ok(),
    })?;
    let (config, tls) = settings.database.connection()?;
    let password = Password::for_settings(&settings.database).map_err(anyhow::Error::msg)?;
    let pool = store::pool_with(config, &tls, password, settings.pool)?;
    pool.get().await.context("connecting to the database")
}

async fn check_command(truth: &Path, database_url: String) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(truth).with_context(|| format!("reading {}", truth.display()))?;
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", truth.display()))?;
    let client = connect(database_url).await?;
    let report = check::compare(&**client, &rows).await?;
    for line in &report.differences {
        println!("  {line}");
    }
    println!(
        "{} of {} expected payment_metrics_5m rows match; {} differences; {} in windows not closed yet",
        report.matching, report.expected_rows, report.difference_count, report.pending
    );
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The scenario of a run: the file (or the built-in one) with the command line's
/// overrides.
fn scenario_of(args: &RunArgs) -> anyhow::Result<Scenario> {
    let mut scenario = match &args.config {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(rate) = args.rate {
        if !rate.is_finite() || rate <= 0.0 {
            bail!("--rate must be a positive number of events per second");
        }
        scenario.rate.events_per_second = rate;
    }
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if from >= to {
            bail!("--to ({to}) must be after --from ({from})");
        }
        scenario.time = TimeMode::Backfill { from, to };
    }
    let shown = args.config.as_ref().map(|p| p.display().to_string());
    scenario.check(shown.as_deref().unwrap_or("config/simulator.yaml"))?;
    Ok(scenario)
}

/// Where the run's events go.
async fn open_sink(args: &RunArgs, scenario: &Scenario) -> anyhow::Result<Sink> {
    let delivery = &scenario.delivery;
    Ok(match args.sink {
        SinkKind::Null => Sink::Null,
        SinkKind::Stdout => Sink::Lines(Box::new(std::io::BufWriter::new(std::io::stdout()))),
        SinkKind::File => {
            let path = args
                .out
                .clone()
                .context("--out is required with --sink file")?;
            let file = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            Sink::Lines(Box::new(std::io::BufWriter::new(file)))
        }
        SinkKind::Handler => Sink::Handler(HandlerSink::new(
            &args.target,
            delivery.partitions,
            delivery.max_attempts,
        )),
        SinkKind::Eventhubs => Sink::EventHubs(
            EventHubsSink::open(
                &event_hubs_target(args)?,
                delivery.batch_size,
                delivery.max_attempts,
            )
            .await?,
        ),
        SinkKind::Kafka => Sink::Kafka(
            KafkaSink::open(
                &kafka_target(args, |name| std::env::var(name).ok())?,
                delivery.batch_size,
                delivery.max_attempts,
            )
            .await?,
        ),
    })
}

/// The Entra ID credential `--auth` names, or `None` for the key- and password-based ones.
fn entra_credential(args: &RunArgs) -> Option<EntraCredential> {
    Some(match args.auth {
        Auth::ManagedIdentity => EntraCredential::ManagedIdentity {
            client_id: args.client_id.clone().filter(|id| !id.trim().is_empty()),
        },
        Auth::WorkloadIdentity => EntraCredential::WorkloadIdentity,
        Auth::AzureCli => EntraCredential::AzureCli,
        Auth::ClientSecret => EntraCredential::ClientSecret,
        Auth::ConnectionString | Auth::Password => return None,
    })
}

/// The brokers, topic and sign-in of the Kafka sink; secrets from `env` (the process's
/// environment).
fn kafka_target(
    args: &RunArgs,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<KafkaTarget> {
    let env_secret = |name: &str| -> anyhow::Result<Secret> {
        Ok(Secret::new(
            env(name).with_context(|| format!("{name} is not set"))?,
        ))
    };
    let bootstrap: Vec<String> = args
        .bootstrap
        .iter()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    if bootstrap.is_empty() {
        bail!("--bootstrap (or KAFKA_BOOTSTRAP_SERVERS) is required for Kafka");
    }
    let security = match args.security_protocol {
        Security::Plaintext => KafkaSecurity::Plaintext,
        Security::Ssl => KafkaSecurity::Ssl,
        Security::SaslPlaintext => KafkaSecurity::SaslPlaintext,
        Security::SaslSsl => KafkaSecurity::SaslSsl,
    };
    let sasl = if matches!(
        security,
        KafkaSecurity::SaslPlaintext | KafkaSecurity::SaslSsl
    ) {
        Some(match (args.auth, entra_credential(args)) {
            (_, Some(credential)) => KafkaSasl::OauthBearer {
                credential,
                scope: match &args.oauth_scope {
                    Some(scope) => scope.clone(),
                    None => KafkaTarget::default_scope(&bootstrap)
                        .context("--oauth-scope is required: the broker names no host")?,
                },
            },
            (Auth::ConnectionString, None) => KafkaSasl::Plain {
                username: "$ConnectionString".to_owned(),
                password: env_secret("EVENTHUBS_CONNECTION_STRING")?,
            },
            (_, None) => KafkaSasl::Plain {
                username: env_secret("KAFKA_SASL_USERNAME")?.expose().to_owned(),
                password: env_secret("KAFKA_SASL_PASSWORD")?,
            },
        })
    } else {
        None
    };
    Ok(KafkaTarget {
        bootstrap,
        topic: args.topic.clone().unwrap_or_else(|| args.hub.clone()),
        security,
        sasl,
    })
}

/// The event hub and how to sign in to it, from the command line and the environment.
fn event_hubs_target(args: &RunArgs) -> anyhow::Result<EventHubsTarget> {
    let Some(credential) = entra_credential(args) else {
        bail!(
            "--sink eventhubs signs in with Microsoft Entra ID (--auth azure-cli, \
             managed-identity, workload-identity or client-secret); a connection string \
             reaches Event Hubs through its Kafka endpoint: --sink kafka --bootstrap \
             <namespace>.servicebus.windows.net:9093 --auth connection-string"
        );
    };
    let Some(namespace) = args.namespace.clone() else {
        bail!("--namespace (or EVENTHUBS_NAMESPACE) is required for Event Hubs");
    };
    Ok(EventHubsTarget {
        namespace,
        hub: args.hub.clone(),
        credential,
    })
}

async fn run_command(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = scenario_of(&args)?;
    let sink = open_sink(&args, &scenario).await?;
    let realtime = matches!(scenario.time, TimeMode::Realtime);
    if realtime && args.count.is_none() && args.duration.is_none() {
        eprintln!("running in real time until interrupted (use --count or --duration to stop)");
    }
    let to_stdout = matches!(args.sink, SinkKind::Stdout);
    let options = RunOptions {
        count: args.count,
        duration: args.duration,
        manifest: args.manifest,
        truth: args.truth,
        watch: if realtime { args.config.clone() } else { None },
        progress: !args.quiet && !to_stdout,
    };
    let summary = tokio::select! {
        summary = run(scenario, sink, options) => summary?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    };
    if args.quiet || to_stdout {
        eprintln!("{}", summary.report());
    }
    for error in &summary.errors {
        eprintln!("delivery error: {error}");
    }
    Ok(if summary.stats.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    use super::*;

    /// The user guide, which documents every command, flag and variable.
    const GUIDE: &str = include_str!("../../docs/SIMULATOR-USER-GUIDE.md");

    /// Long flags of other programs (cargo, docker, az) the guide shows.
    const OTHER_PROGRAMS_FLAGS: &[&str] = &[
        "--release",
        "--locked",
        "--bin",
        "--path",
        "--lib",
        "--no-default-features",
        "--bench",
        "--rm",
        "--resource-type",
        "--query",
        "--scope",
    ];

    /// The section of the guide under `### \`simulator NAME\``.
    fn section(name: &str) -> &'static str {
        let heading = format!("### `simulator {name}`");
        let start = GUIDE
            .find(&heading)
            .unwrap_or_else(|| panic!("the guide has no section {heading}"));
        let rest = &GUIDE[start + heading.len()..];
        &rest[..rest.find("\n#").unwrap_or(rest.len())]
    }

    #[test]
    fn every_flag_and_variable_of_every_command_is_in_the_guide() {
        let cli = Cli::command();
        for command in cli.get_subcommands() {
            let text = section(command.get_name());
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if long == "help" {
                    continue;
                }
                assert!(
                    text.contains(&format!("`--{long}`")) || text.contains(&format!("`--{long} ")),
                    "docs/SIMULATOR-USER-GUIDE.md, `simulator {}`: --{long} is not documented",
                    command.get_name()
                );
                if let Some(env) = arg.get_env() {
                    let env = env.to_string_lossy();
                    assert!(
                        text.contains(&format!("`{env}`")),
                        "docs/SIMULATOR-USER-GUIDE.md, `simulator {}`: --{long} reads {env}, which is not documented",
                        command.get_name()
                    );
                }
            }
        }
    }

    #[test]
    fn every_flag_the_guide_shows_exists() {
        let cli = Cli::command();
        let mut flags: BTreeSet<String> = ["--help".to_owned(), "--version".to_owned()].into();
        for command in cli.get_subcommands() {
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    flags.insert(format!("--{long}"));
                }
            }
        }
        let bytes = GUIDE.as_bytes();
        let mut shown = BTreeSet::new();
        for (at, _) in GUIDE.match_indices("--") {
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'-') {
                continue;
            }
            let name: String = GUIDE[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                shown.insert(format!("--{name}"));
            }
        }
        let unknown: Vec<&String> = shown
            .iter()
            .filter(|f| !flags.contains(*f) && !OTHER_PROGRAMS_FLAGS.contains(&f.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "docs/SIMULATOR-USER-GUIDE.md shows flags no simulator command has: {unknown:?}"
        );
    }

    #[test]
    fn the_commands_of_the_guide_are_the_commands_of_the_binary() {
        for command in Cli::command().get_subcommands() {
            let _ = section(command.get_name());
        }
    }

    fn run_args(extra: &[&str]) -> RunArgs {
        let mut args = vec![
            "simulator",
            "run",
            "--sink",
            "eventhubs",
            "--namespace",
            "ns",
        ];
        args.extend_from_slice(extra);
        match Cli::try_parse_from(args).expect("valid arguments").command {
            Command::Run(args) => *args,
            _ => unreachable!("a run"),
        }
    }

    #[test]
    fn client_id_picks_the_user_assigned_managed_identity() {
        let args = run_args(&["--auth", "managed-identity", "--client-id", "1234-abcd"]);
        let target = event_hubs_target(&args).unwrap();
        assert!(matches!(
            target.credential,
            EntraCredential::ManagedIdentity { client_id: Some(ref id) } if id == "1234-abcd"
        ));
        let blank = run_args(&["--auth", "managed-identity", "--client-id", " "]);
        assert!(matches!(
            event_hubs_target(&blank).unwrap().credential,
            EntraCredential::ManagedIdentity { client_id: None }
        ));
        // Other credentials take no client id from the command line.
        let cli = run_args(&["--auth", "azure-cli", "--client-id", "1234-abcd"]);
        assert!(matches!(
            event_hubs_target(&cli).unwrap().credential,
            EntraCredential::AzureCli
        ));
    }

    #[test]
    fn the_kafka_sink_signs_in_as_auth_says_over_the_security_protocol() {
        // run_args says --sink eventhubs; kafka_target reads only the Kafka flags.
        let nothing = |_: &str| None;
        let kafka = |extra: &[&str]| kafka_target(&run_args(extra), nothing);
        let hub = kafka(&["--bootstrap", "evhns-pm.servicebus.windows.net:9093"]).unwrap();
        assert_eq!(hub.topic, "payments");
        assert_eq!(hub.security, KafkaSecurity::SaslSsl);
        assert!(matches!(
            hub.sasl,
            Some(KafkaSasl::OauthBearer { credential: EntraCredential::AzureCli, ref scope })
                if scope == "https://evhns-pm.servicebus.windows.net/.default"
        ));
        let local = kafka(&[
            "--bootstrap",
            "127.0.0.1:9092,127.0.0.1:9093",
            "--security-protocol",
            "plaintext",
            "--topic",
            "t1",
        ])
        .unwrap();
        assert_eq!(local.bootstrap, ["127.0.0.1:9092", "127.0.0.1:9093"]);
        assert_eq!(local.topic, "t1");
        assert!(local.sasl.is_none());
        let scoped = kafka(&[
            "--bootstrap",
            "k:9093",
            "--oauth-scope",
            "api://kafka/.default",
        ]);
        assert!(matches!(
            scoped.unwrap().sasl,
            Some(KafkaSasl::OauthBearer { ref scope, .. }) if scope == "api://kafka/.default"
        ));
        let no_brokers = kafka(&[]).unwrap_err().to_string();
        assert!(no_brokers.contains("--bootstrap"), "{no_brokers}");
    }

    #[test]
    fn the_kafka_sinks_plain_sign_ins_read_their_secrets_from_the_environment() {
        let nothing = |_: &str| None;
        let kafka = |extra: &[&str]| kafka_target(&run_args(extra), nothing);
        // The two PLAIN sign-ins read their secrets from the environment, and say which
        // is missing.
        let env = |name: &str| match name {
            "EVENTHUBS_CONNECTION_STRING" => Some("Endpoint=sb://ns/;SharedAccessKey=k".to_owned()),
            "KAFKA_SASL_USERNAME" => Some("api-key".to_owned()),
            "KAFKA_SASL_PASSWORD" => Some("api-secret".to_owned()),
            _ => None,
        };
        let plain = |auth: &str| match kafka_target(
            &run_args(&["--bootstrap", "k:9093", "--auth", auth]),
            env,
        )
        .unwrap()
        .sasl
        {
            Some(KafkaSasl::Plain { username, password }) => {
                (username, password.expose().to_owned())
            }
            other => panic!("not PLAIN: {other:?}"),
        };
        assert_eq!(
            plain("connection-string"),
            (
                "$ConnectionString".to_owned(),
                "Endpoint=sb://ns/;SharedAccessKey=k".to_owned()
            )
        );
        assert_eq!(
            plain("password"),
            ("api-key".to_owned(), "api-secret".to_owned())
        );
        let missing = kafka(&["--bootstrap", "k:9093", "--auth", "connection-string"]);
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("EVENTHUBS_CONNECTION_STRING is not set")
        );
        let missing = kafka(&["--bootstrap", "k:9093", "--auth", "password"]);
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("KAFKA_SASL_USERNAME is not set")
        );
        // Without SASL no secret is read.
        let plaintext = kafka(&[
            "--bootstrap",
            "k:9092",
            "--security-protocol",
            "plaintext",
            "--auth",
            "password",
        ]);
        assert!(plaintext.unwrap().sasl.is_none());
    }

    #[test]
    fn event_hubs_over_amqp_takes_no_connection_string() {
        let error = event_hubs_target(&run_args(&["--auth", "connection-string"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--sink kafka"), "{error}");
    }
}
