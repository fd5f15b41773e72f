//! Telemetry: `tracing` everywhere, exported to Azure Application Insights through
//! OpenTelemetry when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set.
//!
//! Logs are structured JSON lines on stdout (the Functions host collects the handler's
//! output), readable text in a terminal; the level comes from `RUST_LOG` (default `info`).
//! With a connection string, spans become requests and dependencies, events become traces,
//! and the [`metrics`] become custom metrics in Application Insights, sent to the
//! connection string's `IngestionEndpoint` (always over https), or to
//! `PAYMETRICS_TELEMETRY_ENDPOINT` when set (taken as written: a private ingestion
//! endpoint or a local collector). Without a connection string nothing is exported and
//! the instruments are no-ops.

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The exporters in force; [`Telemetry::shutdown`] flushes them (call it before exit, the
/// host stops the handler with a signal).
#[derive(Default)]
pub struct Telemetry {
    providers: Option<(SdkTracerProvider, SdkLoggerProvider, SdkMeterProvider)>,
}

impl Telemetry {
    /// Flushes and stops the exporters.
    pub fn shutdown(&mut self) {
        if let Some((traces, logs, metrics)) = self.providers.take() {
            let _ = traces.force_flush();
            let _ = metrics.force_flush();
            let _ = logs.force_flush();
            let _ = traces.shutdown_with_timeout(Duration::from_secs(5));
            let _ = metrics.shutdown_with_timeout(Duration::from_secs(5));
            let _ = logs.shutdown_with_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// stdout, JSON unless a terminal (the handler: the Functions host collects it).
    Stdout,
    /// stderr, JSON unless a terminal (tools whose stdout carries data).
    Stderr,
}

/// Installs the global subscriber (and, with `APPLICATIONINSIGHTS_CONNECTION_STRING`, the
/// Application Insights exporters) for `service`. Call once, first thing in a binary.
///
/// # Errors
/// A message when the connection string is not valid (without the string itself).
pub fn init(service: &'static str, output: Output) -> Result<Telemetry, String> {
    let Some(connection_string) = setting("APPLICATIONINSIGHTS_CONNECTION_STRING") else {
        tracing_subscriber::registry()
            .with(filter(output))
            .with(log_lines(output))
            .init();
        return Ok(Telemetry::default());
    };
    let (traces, logs, metrics) = providers(service, &connection_string)?;
    opentelemetry::global::set_meter_provider(metrics.clone());
    opentelemetry::global::set_tracer_provider(traces.clone());
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    tracing_subscriber::registry()
        .with(filter(output))
        .with(log_lines(output))
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(traces.tracer(service))
                .with_filter(exported()),
        )
        .with(
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&logs)
                .with_filter(exported()),
        )
        .init();
    Ok(Telemetry {
        providers: Some((traces, logs, metrics)),
    })
}

/// An environment variable that is set and not blank.
fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

/// The level filter: `RUST_LOG`, else `info` for the handler (stdout) and `warn` for
/// tools (stderr).
fn filter(output: Output) -> EnvFilter {
    let default_level = match output {
        Output::Stdout => "info",
        Output::Stderr => "warn",
    };
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level))
}

/// The log lines: readable text in a terminal, else JSON lines.
fn log_lines<S>(output: Output) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let terminal = match output {
        Output::Stdout => std::io::stdout().is_terminal(),
        Output::Stderr => std::io::stderr().is_terminal(),
    };
    let writer = move || -> Box<dyn std::io::Write> {
        match output {
            Output::Stdout => Box::new(std::io::stdout()),
            Output::Stderr => Box::new(std::io::stderr()),
        }
    };
    let text = terminal.then(|| tracing_subscriber::fmt::layer().with_writer(writer));
    let json = (!terminal).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_writer(writer)
    });
    Layer::and_then(text, json)
}

/// The trace, log and metric providers, each exporting to Application Insights.
fn providers(
    service: &'static str,
    connection_string: &str,
) -> Result<(SdkTracerProvider, SdkLoggerProvider, SdkMeterProvider), String> {
    // The exporters run on their own threads with a blocking client, which must not be
    // built inside the async runtime.
    let client = std::thread::spawn(reqwest::blocking::Client::new)
        .join()
        .map_err(|_| "could not create the telemetry HTTP client".to_owned())?;
    let endpoint = setting("PAYMETRICS_TELEMETRY_ENDPOINT");
    let exporter = || exporter(connection_string, &client, endpoint.as_deref());
    let resource = Resource::builder().with_service_name(service).build();
    let traces = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(exporter()?)
        .build();
    let logs = SdkLoggerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(exporter()?)
        .build();
    let metrics = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(
            PeriodicReader::builder(exporter()?)
                .with_interval(Duration::from_secs(60))
                .build(),
        )
        .build();
    Ok((traces, logs, metrics))
}

/// One Application Insights exporter, to the connection string's ingestion endpoint or
/// to `endpoint` (`PAYMETRICS_TELEMETRY_ENDPOINT`).
fn exporter(
    connection_string: &str,
    client: &reqwest::blocking::Client,
    endpoint: Option<&str>,
) -> Result<opentelemetry_application_insights::Exporter<reqwest::blocking::Client>, String> {
    let exporter = opentelemetry_application_insights::Exporter::new_from_connection_string(
        connection_string,
        client.clone(),
    )
    .map_err(|_| {
        "APPLICATIONINSIGHTS_CONNECTION_STRING is not a valid connection string".to_owned()
    })?
    // On stderr, not through tracing: a failing export must not feed itself.
    .with_retry_notify(|err, delay| {
        eprintln!("telemetry export failed, retrying in {delay:?}: {err}");
    });
    let Some(url) = endpoint else {
        return Ok(exporter);
    };
    // The connection string's IngestionEndpoint is always made https; this one is taken
    // as written, but plain http only to this machine (the instrumentation key travels in
    // every request).
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| url.starts_with(prefix));
    if !url.starts_with("https://") && !local {
        return Err(
            "PAYMETRICS_TELEMETRY_ENDPOINT must be an https URL (plain http only to this machine)"
                .to_owned(),
        );
    }
    #[allow(deprecated)]
    exporter
        .with_endpoint(url)
        .map_err(|_| "PAYMETRICS_TELEMETRY_ENDPOINT is not a URL".to_owned())
}

/// What the exporting layers see: everything but the exporters' own logs, which must not
/// be exported again (a feedback loop at shutdown).
fn exported() -> tracing_subscriber::filter::Targets {
    use tracing::level_filters::LevelFilter;
    let quiet = [
        "opentelemetry",
        "opentelemetry_sdk",
        "opentelemetry_http",
        "opentelemetry_application_insights",
        "reqwest",
        "hyper",
        "hyper_util",
    ];
    quiet.into_iter().fold(
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::TRACE),
        |targets, target| targets.with_target(target, LevelFilter::OFF),
    )
}

/// The name of the Application Insights custom event of an alert transition.
pub const ALERT_EVENT: &str = "PaymetricsAlert";

/// Records an Application Insights custom event (`customEvents`, named `name`, the
/// attributes as `customDimensions`) on the current span: the exporter turns a span
/// event named `ai.custom` with `ai.customEvent.name` into one.
pub fn custom_event(name: &'static str, mut attributes: Vec<opentelemetry::KeyValue>) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    attributes.push(opentelemetry::KeyValue::new("ai.customEvent.name", name));
    tracing::Span::current().add_event("ai.custom", attributes);
}

/// The instruments operators read, from the global meter (no-ops without an exporter).
pub mod metrics {
    use std::sync::OnceLock;

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{Counter, Histogram};

    /// Every instrument of the handler.
    pub struct Instruments {
        /// Events received in invocations.
        pub events_received: Counter<u64>,
        /// Events stored as new transactions.
        pub events_accepted: Counter<u64>,
        /// Events counted as duplicates.
        pub events_duplicate: Counter<u64>,
        /// Events quarantined, by `reason`.
        pub events_rejected: Counter<u64>,
        /// Batch parts split in halves because the database refused them for good.
        pub batch_splits: Counter<u64>,
        /// Time to process one Event Hub invocation, seconds.
        pub batch_duration: Histogram<f64>,
        /// Time spent in the database for one invocation, seconds.
        pub db_duration: Histogram<f64>,
        /// Now minus the end of the oldest window that is due but not closed, seconds.
        pub window_close_lag: Histogram<f64>,
        /// Windows closed for the first time.
        pub windows_closed: Counter<u64>,
        /// Windows recomputed because of late data.
        pub windows_recomputed: Counter<u64>,
        /// Events that arrived in windows already closed.
        pub late_events: Counter<u64>,
        /// Rule evaluations (one per rule and chunk of windows).
        pub rules_evaluated: Counter<u64>,
        /// Alerts fired, by `alert` and `severity`.
        pub alerts_fired: Counter<u64>,
        /// Alerts resolved, by `alert`.
        pub alerts_resolved: Counter<u64>,
        /// Simulator: events delivered.
        pub simulator_sent: Counter<u64>,
        /// Simulator: attempts retried.
        pub simulator_retried: Counter<u64>,
        /// Simulator: attempts refused as throttling.
        pub simulator_throttled: Counter<u64>,
        /// Simulator: events that could not be delivered.
        pub simulator_failed: Counter<u64>,
        /// Simulator: time to deliver one batch, seconds.
        pub simulator_send_latency: Histogram<f64>,
    }

    /// The instruments, created on first use.
    pub fn get() -> &'static Instruments {
        static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
        INSTRUMENTS.get_or_init(|| {
            let meter = opentelemetry::global::meter("paymetrics");
            Instruments {
                events_received: meter.u64_counter("paymetrics.events.received").build(),
                events_accepted: meter.u64_counter("paymetrics.events.accepted").build(),
                events_duplicate: meter.u64_counter("paymetrics.events.duplicate").build(),
                events_rejected: meter.u64_counter("paymetrics.events.rejected").build(),
                batch_splits: meter.u64_counter("paymetrics.batch.splits").build(),
                batch_duration: meter
                    .f64_histogram("paymetrics.batch.duration")
                    .with_unit("s")
                    .build(),
                db_duration: meter
                    .f64_histogram("paymetrics.db.duration")
                    .with_unit("s")
                    .build(),
                window_close_lag: meter
                    .f64_histogram("paymetrics.window_close.lag")
                    .with_unit("s")
                    .build(),
                windows_closed: meter.u64_counter("paymetrics.windows.closed").build(),
                alerts_fired: meter.u64_counter("paymetrics.alerts.fired").build(),
                alerts_resolved: meter.u64_counter("paymetrics.alerts.resolved").build(),
                windows_recomputed: meter.u64_counter("paymetrics.windows.recomputed").build(),
                late_events: meter.u64_counter("paymetrics.events.late").build(),
                rules_evaluated: meter.u64_counter("paymetrics.rules.evaluated").build(),
                simulator_sent: meter.u64_counter("paymetrics.simulator.sent").build(),
                simulator_retried: meter.u64_counter("paymetrics.simulator.retried").build(),
                simulator_throttled: meter.u64_counter("paymetrics.simulator.throttled").build(),
                simulator_failed: meter.u64_counter("paymetrics.simulator.failed").build(),
                simulator_send_latency: meter
                    .f64_histogram("paymetrics.simulator.send_latency")
                    .with_unit("s")
                    .build(),
            }
        })
    }

    /// The `reason` attribute.
    pub fn reason(reason: &str) -> [KeyValue; 1] {
        [KeyValue::new("reason", reason.to_owned())]
    }
}
