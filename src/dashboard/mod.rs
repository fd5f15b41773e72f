//! The dashboard: one self-contained HTML page (inline styles, inline SVG charts, no
//! script, no font or image from anywhere), which reloads itself every minute.
//!
//! [`render`] is a pure function of what the store read ([`DashboardData`]) and of the
//! page's context ([`Page`]: the selection, the clock, the function key for its own
//! links, the rules). The `Dashboard` function serves it; `simulator report --html`
//! writes the same page to a file.
//!
//! Every panel is a `<section class="panel" id="panel-…">` holding its chart and, under
//! "Data", the numbers it was drawn from, so a reader (and a test) can check the one
//! against the other.

pub mod charts;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use tokio_postgres::GenericClient;

use crate::domain::PaymentType;
use crate::engine::rules::Rule;
use crate::settings::EngineConfig;
use crate::store::{self, DashboardData, Point, Selection, StoreError};
use charts::Scale;

/// How often the page reloads itself, in seconds.
pub const REFRESH_SECONDS: u32 = 60;

/// Ranges offered by the time-range picker, each ending now.
const RANGES: [(&str, TimeDelta); 5] = [
    ("1 h", TimeDelta::hours(1)),
    ("3 h", TimeDelta::hours(3)),
    ("6 h", TimeDelta::hours(6)),
    ("24 h", TimeDelta::hours(24)),
    ("7 d", TimeDelta::days(7)),
];

/// Currencies offered by the filter besides those in the data.
const COMMON_CURRENCIES: [&str; 6] = ["USD", "EUR", "GBP", "JPY", "CAD", "AUD"];

/// What a rule's panel says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule's name.
    pub name: String,
    /// Its description from the settings.
    pub description: Option<String>,
    /// Its window, as the settings write it (`15m`).
    pub window: String,
}

/// The page's context.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// The range and filters shown.
    pub selection: Selection,
    /// When the page was made.
    pub now: DateTime<Utc>,
    /// The function key the page was opened with, carried into its own links.
    pub function_key: Option<&'a str>,
    /// The rules in force, one panel each.
    pub rules: Vec<RuleInfo>,
}

impl From<&Rule> for RuleInfo {
    fn from(rule: &Rule) -> Self {
        Self {
            name: rule.name.clone(),
            description: rule.description.clone(),
            window: window_text(rule.window_seconds),
        }
    }
}

/// A width in seconds as the settings write it: `5m`, `1h`, `90s`.
pub fn window_text(seconds: i64) -> String {
    if seconds % 3600 == 0 {
        format!("{}h", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Reads what the page shows for `selection` and the rules of `engine`, and renders it.
///
/// # Errors
/// [`StoreError`] from the reads.
pub async fn build(
    client: &impl GenericClient,
    selection: Selection,
    engine: &EngineConfig,
    now: DateTime<Utc>,
    function_key: Option<&str>,
) -> Result<String, StoreError> {
    let names: Vec<&str> = engine.rules.iter().map(|r| r.name.as_str()).collect();
    let data = store::dashboard_data(client, &selection, &names).await?;
    let page = Page {
        selection,
        now,
        function_key,
        rules: engine.rules.iter().map(RuleInfo::from).collect(),
    };
    Ok(render(&data, &page))
}

/// The whole page.
pub fn render(data: &DashboardData, page: &Page<'_>) -> String {
    let s = &page.selection;
    let mut html = String::with_capacity(256 * 1024);
    let title = "paymetrics dashboard";
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <header><h1>{title}</h1><p class=\"range\">{} to {} (UTC){}{} · made {} · reloads every minute</p>",
        s.from.format("%Y-%m-%d %H:%M"),
        s.to.format("%Y-%m-%d %H:%M"),
        s.payment_type
            .map(|p| format!(" · {p}"))
            .unwrap_or_default(),
        s.currency
            .map(|c| format!(" · {}", c.code()))
            .unwrap_or_default(),
        page.now.format("%H:%M:%S"),
    );
    picker(&mut html, page);
    html.push_str("</header><main>");
    alerts(&mut html, data);

    let total: f64 = data.volume.iter().map(|p| p.value).sum();
    panel(
        &mut html,
        "volume",
        "Volume per 5 minutes by payment type",
        &format!("{total:.0} transactions in closed windows"),
        &Drawn {
            chart: charts::time_series(&data.volume, s.from, s.to, Scale::Count),
            legend: charts::series_legend(&data.volume),
            table: &series_table(&data.volume, Scale::Count),
        },
    );
    panel(
        &mut html,
        "approval",
        "Approval rate per 5 minutes by payment type",
        "approved of approved, declined and failed",
        &Drawn {
            chart: charts::time_series(&data.approval_rate, s.from, s.to, Scale::Percent),
            legend: charts::series_legend(&data.approval_rate),
            table: &series_table(&data.approval_rate, Scale::Percent),
        },
    );
    declines(&mut html, data, s);
    revisions(&mut html, data, page);
    for rule in &page.rules {
        let points = data.rules.get(&rule.name).map_or(&[][..], Vec::as_slice);
        rule_panel(&mut html, rule, points, s);
    }
    clusters(&mut html, data);
    ingest(&mut html, data);
    html.push_str("</main></body></html>\n");
    html
}

/// Declines over time by category, the decline rate by category, declines by reason.
fn declines(html: &mut String, data: &DashboardData, s: &Selection) {
    panel(
        html,
        "declines",
        "Declines per 5 minutes by merchant category",
        "by event time, from the stored transactions",
        &Drawn {
            chart: charts::time_series(&data.declines, s.from, s.to, Scale::Count),
            legend: charts::series_legend(&data.declines),
            table: &series_table(&data.declines, Scale::Count),
        },
    );
    let rates: Vec<(String, f64)> = data
        .decline_rate_by_category
        .iter()
        .map(|c| (c.label.clone(), ratio(c.count, c.total)))
        .collect();
    panel(
        html,
        "decline-category",
        "Decline rate by merchant category",
        "declined of all transactions in the range",
        &Drawn {
            chart: charts::bars(&rates, Scale::Percent, true),
            legend: Vec::new(),
            table: &share_table(&data.decline_rate_by_category, "declined", "transactions"),
        },
    );
    let reasons: Vec<(String, f64)> = data
        .declines_by_reason
        .iter()
        .map(|c| (c.label.clone(), c.count as f64))
        .collect();
    panel(
        html,
        "decline-reason",
        "Declines by reason",
        "declined transactions in the range",
        &Drawn {
            chart: charts::bars(&reasons, Scale::Count, true),
            legend: Vec::new(),
            table: &share_table(&data.declines_by_reason, "declines", "all declines"),
        },
    );
}

/// Alerts firing now (highlighted) and those resolved in the range: a list, no chart.
fn alerts(html: &mut String, data: &DashboardData) {
    let firing = data.alerts.iter().filter(|a| a.state == "firing").count();
    let _ = write!(
        html,
        "<section class=\"panel alerts\" id=\"panel-alerts\"><h2>Alerts</h2><p class=\"note\">{firing} \
         firing, {} resolved in the range</p>",
        data.alerts.len() - firing
    );
    if data.alerts.is_empty() {
        html.push_str("<p>No alert fired in the range.</p></section>");
        return;
    }
    html.push_str(
        "<table class=\"data\"><thead><tr><th>alert</th><th>state</th><th>severity</th><th>group</th>\
         <th>windows (UTC)</th><th>value</th><th>baseline</th><th>fired</th><th>resolved</th></tr></thead><tbody>",
    );
    for a in &data.alerts {
        let group = a
            .group_key
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let _ = write!(
            html,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} to {}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.state),
            escape(&a.alert),
            escape(&a.state),
            a.severity,
            escape(&group),
            a.first_window.format("%m-%d %H:%M"),
            a.last_window.format("%H:%M"),
            a.value.as_deref().map(round).unwrap_or_default(),
            a.baseline.as_deref().map(round).unwrap_or_default(),
            a.fired_at.format("%m-%d %H:%M"),
            a.resolved_at
                .map(|t| t.format("%m-%d %H:%M").to_string())
                .unwrap_or_default(),
        );
    }
    html.push_str("</tbody></table></section>");
}

/// A decimal's text with at most 4 decimals, for reading.
fn round(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(v) => {
            let fixed = format!("{v:.4}");
            fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        Err(_) => escape(text),
    }
}

fn ratio(count: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

/// The time-range picker (links, each ending now) and the filters (a GET form, which
/// keeps the range and the function key).
fn picker(html: &mut String, page: &Page<'_>) {
    let s = &page.selection;
    html.push_str("<nav class=\"picker\" aria-label=\"time range\">");
    for (label, span) in RANGES {
        let from = page.now - span;
        let current = (s.to - s.from) == span && (page.now - s.to).num_seconds().abs() < 90;
        let link = link(
            page,
            from,
            page.now,
            s.payment_type.map(PaymentType::as_str),
            s.currency.map(|c| c.code()),
        );
        let _ = write!(
            html,
            "<a href=\"{}\"{}>{label}</a>",
            escape(&link),
            if current {
                " aria-current=\"true\""
            } else {
                ""
            }
        );
    }
    let span = s.to - s.from;
    let earlier = link(
        page,
        s.from - span,
        s.from,
        s.payment_type.map(PaymentType::as_str),
        s.currency.map(|c| c.code()),
    );
    let _ = write!(html, "<a href=\"{}\">← earlier</a>", escape(&earlier));
    if s.to < page.now {
        let later = link(
            page,
            s.to,
            s.to + span,
            s.payment_type.map(PaymentType::as_str),
            s.currency.map(|c| c.code()),
        );
        let _ = write!(html, "<a href=\"{}\">later →</a>", escape(&later));
    }
    html.push_str("</nav><form class=\"filters\" method=\"get\">");
    let hidden = |html: &mut String, name: &str, value: &str| {
        let _ = write!(
            html,
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        );
    };
    hidden(html, "from", &rfc3339(s.from));
    hidden(html, "to", &rfc3339(s.to));
    if let Some(key) = page.function_key {
        hidden(html, "code", key);
    }
    let types: Vec<&str> = PaymentType::ALL.iter().map(|p| p.as_str()).collect();
    select(
        html,
        "payment_type",
        "payment type",
        &types,
        s.payment_type.map(PaymentType::as_str),
    );
    let mut currencies: BTreeSet<String> =
        COMMON_CURRENCIES.iter().map(|c| (*c).to_owned()).collect();
    if let Some(c) = s.currency {
        currencies.insert(c.code().to_owned());
    }
    let currencies: Vec<&str> = currencies.iter().map(String::as_str).collect();
    select(
        html,
        "currency",
        "currency",
        &currencies,
        s.currency.map(|c| c.code()),
    );
    html.push_str("<button type=\"submit\">apply</button></form>");
}

fn select(html: &mut String, name: &str, label: &str, options: &[&str], chosen: Option<&str>) {
    let _ = write!(
        html,
        "<label>{label} <select name=\"{name}\"><option value=\"\">all</option>"
    );
    for option in options {
        let _ = write!(
            html,
            "<option{}>{}</option>",
            if chosen == Some(*option) {
                " selected"
            } else {
                ""
            },
            escape(option)
        );
    }
    html.push_str("</select></label>");
}

/// A link to this page for another range, keeping the filters and the function key.
fn link(
    page: &Page<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    payment_type: Option<&str>,
    currency: Option<&str>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::from("?"));
    query.append_pair("from", &rfc3339(from));
    query.append_pair("to", &rfc3339(to));
    if let Some(p) = payment_type {
        query.append_pair("payment_type", p);
    }
    if let Some(c) = currency {
        query.append_pair("currency", c);
    }
    if let Some(key) = page.function_key {
        query.append_pair("code", key);
    }
    query.finish()
}

/// What a panel shows: its chart, the chart's legend, the numbers it was drawn from.
struct Drawn<'a> {
    chart: String,
    legend: Vec<(String, plotters::style::RGBColor)>,
    table: &'a str,
}

fn panel(html: &mut String, id: &str, title: &str, note: &str, drawn: &Drawn<'_>) {
    let _ = write!(
        html,
        "<section class=\"panel\" id=\"panel-{}\"><h2>{}</h2><p class=\"note\">{}</p>\
         <div class=\"chart\">{}</div>",
        escape(id),
        escape(title),
        escape(note),
        drawn.chart
    );
    if !drawn.legend.is_empty() {
        html.push_str("<ul class=\"legend\">");
        for (name, plotters::style::RGBColor(r, g, b)) in &drawn.legend {
            let _ = write!(
                html,
                "<li><span style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{}</li>",
                escape(name)
            );
        }
        html.push_str("</ul>");
    }
    let _ = write!(
        html,
        "<details><summary>Data</summary>{}</details></section>",
        drawn.table
    );
}

/// The points of a time series as a table: one row per time, one column per series.
fn series_table(points: &[Point], scale: Scale) -> String {
    let names: BTreeSet<&str> = points.iter().map(|p| p.series.as_str()).collect();
    let mut rows: std::collections::BTreeMap<DateTime<Utc>, Vec<Option<f64>>> =
        std::collections::BTreeMap::new();
    let index: Vec<&str> = names.iter().copied().collect();
    for p in points {
        let row = rows.entry(p.at).or_insert_with(|| vec![None; index.len()]);
        if let Ok(i) = index.binary_search(&p.series.as_str()) {
            row[i] = Some(p.value);
        }
    }
    let mut table = String::from("<table class=\"data\"><thead><tr><th>time (UTC)</th>");
    for name in &index {
        let _ = write!(table, "<th>{}</th>", escape(name));
    }
    table.push_str("</tr></thead><tbody>");
    for (at, values) in &rows {
        let _ = write!(table, "<tr><td>{}</td>", at.format("%Y-%m-%d %H:%M"));
        for value in values {
            let _ = write!(
                table,
                "<td>{}</td>",
                value.map(|v| scale.format(v)).unwrap_or_default()
            );
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    table
}

fn share_table(shares: &[crate::store::Share], count: &str, total: &str) -> String {
    let mut table = format!(
        "<table class=\"data\"><thead><tr><th></th><th>{count}</th><th>{total}</th><th>share</th></tr></thead><tbody>"
    );
    for s in shares {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.label),
            s.count,
            s.total,
            Scale::Percent.format(ratio(s.count, s.total))
        );
    }
    table.push_str("</tbody></table>");
    table
}

fn revisions(html: &mut String, data: &DashboardData, page: &Page<'_>) {
    let s = &page.selection;
    let points: Vec<Point> = data
        .revisions
        .iter()
        .map(|r| Point {
            at: r.window_start,
            series: "late events".to_owned(),
            value: r.late_events as f64,
        })
        .collect();
    let mut table = String::from(
        "<table class=\"data\"><thead><tr><th>window (UTC)</th><th>late events</th>\
         <th>rows with late data</th><th>revision</th><th>last computed (UTC)</th></tr></thead><tbody>",
    );
    for r in &data.revisions {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.window_start.format("%Y-%m-%d %H:%M"),
            r.late_events,
            r.rows_with_late_data,
            r.revision,
            r.closed_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    table.push_str("</tbody></table>");
    let note = format!(
        "{} windows recomputed for data that arrived after they closed",
        data.revisions.len()
    );
    panel(
        html,
        "late-revisions",
        "Windows revised by late data",
        &note,
        &Drawn {
            chart: charts::time_series(&points, s.from, s.to, Scale::Count),
            legend: charts::series_legend(&points),
            table: &table,
        },
    );
}

fn rule_panel(html: &mut String, rule: &RuleInfo, points: &[Point], s: &Selection) {
    // The groups with the most windows first; at most 8 lines stay readable.
    let mut groups: Vec<(&str, usize)> = Vec::new();
    for p in points {
        match groups.iter_mut().find(|(g, _)| *g == p.series) {
            Some(entry) => entry.1 += 1,
            None => groups.push((&p.series, 1)),
        }
    }
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown: BTreeSet<&str> = groups.iter().take(8).map(|(g, _)| *g).collect();
    let drawn: Vec<Point> = points
        .iter()
        .filter(|p| shown.contains(p.series.as_str()))
        .cloned()
        .collect();
    let mut note = format!("window {}", rule.window);
    if let Some(d) = &rule.description {
        note = format!("{d} · {note}");
    }
    if groups.len() > shown.len() {
        let _ = write!(note, " · {} of {} groups drawn", shown.len(), groups.len());
    }
    panel(
        html,
        &format!("rule-{}", rule.name),
        &format!("Rule {}", rule.name),
        &note,
        &Drawn {
            chart: charts::time_series(&drawn, s.from, s.to, Scale::Number),
            legend: charts::series_legend(&drawn),
            table: &series_table(points, Scale::Number),
        },
    );
}

fn clusters(html: &mut String, data: &DashboardData) {
    let Some(run) = &data.clusters else {
        panel(
            html,
            "clusters",
            "Merchant clusters",
            "no segmentation run yet",
            &Drawn {
                chart: charts::clusters(&crate::store::ClusterRun {
                    run_id: 0,
                    computed_at: DateTime::<Utc>::UNIX_EPOCH,
                    period_start: DateTime::<Utc>::UNIX_EPOCH,
                    period_end: DateTime::<Utc>::UNIX_EPOCH,
                    k: 0,
                    features: Vec::new(),
                    seed: 0,
                    merchants: 0,
                    centroids: Vec::new(),
                    members: Vec::new(),
                }),
                legend: Vec::new(),
                table: "",
            },
        );
        return;
    };
    let outliers: Vec<&crate::store::Member> =
        run.members.iter().filter(|m| m.is_outlier).collect();
    let mut table = String::from(
        "<table class=\"data\"><thead><tr><th>cluster</th><th>merchants</th><th>centroid</th></tr></thead><tbody>",
    );
    for c in &run.centroids {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.cluster_id,
            c.size,
            escape(&features_text(&c.centroid, &run.features))
        );
    }
    table.push_str(
        "</tbody></table><table class=\"data outliers\"><thead><tr><th>outlier</th>\
                    <th>cluster</th><th>distance</th><th>features</th></tr></thead><tbody>",
    );
    for m in &outliers {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
            escape(&m.merchant_id),
            m.cluster_id,
            m.distance,
            escape(&features_text(&m.features, &run.features))
        );
    }
    table.push_str("</tbody></table>");
    let note = format!(
        "run {} at {} over {} to {}: {} merchants in {} clusters, {} outliers (ringed); \
         axes: {} and {}",
        run.run_id,
        run.computed_at.format("%Y-%m-%d %H:%M"),
        run.period_start.format("%H:%M"),
        run.period_end.format("%H:%M"),
        run.merchants,
        run.centroids.len(),
        outliers.len(),
        run.features.first().map_or("", String::as_str),
        run.features.get(1).map_or("", String::as_str),
    );
    panel(
        html,
        "clusters",
        "Merchant clusters",
        &note,
        &Drawn {
            chart: charts::clusters(run),
            legend: charts::clusters_legend(run),
            table: &table,
        },
    );
}

fn features_text(features: &serde_json::Value, order: &[String]) -> String {
    order
        .iter()
        .filter_map(|name| {
            let v = features.get(name)?;
            let v = v
                .as_f64()
                .map_or_else(|| v.to_string(), |f| Scale::Number.format(f));
            Some(format!("{name} {v}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ingest(html: &mut String, data: &DashboardData) {
    let mut names: Vec<String> = vec!["accepted".into(), "duplicates".into()];
    let reasons: BTreeSet<&str> = data
        .ingest
        .values()
        .flat_map(|h| h.rejected.keys().map(String::as_str))
        .collect();
    names.extend(reasons.iter().map(|r| format!("rejected: {r}")));
    let hours: Vec<charts::HourBars> = data
        .ingest
        .iter()
        .map(|(at, h)| {
            let mut values = vec![
                ("accepted".to_owned(), h.accepted as f64),
                ("duplicates".to_owned(), h.duplicates as f64),
            ];
            values.extend(
                h.rejected
                    .iter()
                    .map(|(r, n)| (format!("rejected: {r}"), *n as f64)),
            );
            (*at, values)
        })
        .collect();
    let mut table = String::from("<table class=\"data\"><thead><tr><th>hour (UTC)</th>");
    for name in &names {
        let _ = write!(table, "<th>{}</th>", escape(name));
    }
    table.push_str("</tr></thead><tbody>");
    for (at, values) in &hours {
        let _ = write!(table, "<tr><td>{}</td>", at.format("%Y-%m-%d %H:00"));
        for name in &names {
            let v = values.iter().find(|(n, _)| n == name).map_or(0.0, |v| v.1);
            let _ = write!(table, "<td>{v:.0}</td>");
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    let accepted: i64 = data.ingest.values().map(|h| h.accepted).sum();
    let duplicates: i64 = data.ingest.values().map(|h| h.duplicates).sum();
    let rejected: i64 = data.ingest.values().flat_map(|h| h.rejected.values()).sum();
    let note = format!(
        "per hour of arrival: {accepted} accepted, {duplicates} duplicates, {rejected} rejected"
    );
    panel(
        html,
        "ingest",
        "Ingest health",
        &note,
        &Drawn {
            chart: charts::hourly(&hours, &names),
            legend: charts::hourly_legend(&names),
            table: &table,
        },
    );
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#1d1d1f}\
header{background:#fff;padding:12px 20px;border-bottom:1px solid #ddd;position:sticky;top:0}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:0 0 2px}\
.range,.note{color:#555;font-size:13px;margin:0 0 6px}\
.picker a{display:inline-block;margin:0 6px 6px 0;padding:3px 9px;border:1px solid #bbb;border-radius:4px;\
color:#0057a8;text-decoration:none;font-size:13px}\
.picker a[aria-current]{background:#0057a8;color:#fff;border-color:#0057a8}\
.filters{font-size:13px}.filters label{margin-right:10px}\
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:14px;padding:14px 20px}\
.alerts{grid-column:1/-1}\
ul.legend{list-style:none;margin:0 0 4px;padding:0;font-size:12px}\
ul.legend li{display:inline-block;margin-right:12px}\
ul.legend span{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}tr.firing td{background:#fde8e8;font-weight:600}\
.panel{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 10px 6px}\
.chart svg{max-width:100%;height:auto}\
details{font-size:12px}table.data{border-collapse:collapse;margin:6px 0;max-height:240px}\
table.data td,table.data th{border:1px solid #e3e3e3;padding:2px 6px;text-align:right}\
table.data td:first-child{text-align:left}\
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_read_as_the_settings_write_them() {
        assert_eq!(window_text(300), "5m");
        assert_eq!(window_text(3600), "1h");
        assert_eq!(window_text(5400), "90m");
        assert_eq!(window_text(45), "45s");
    }

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            escape("<a href=\"x\">O'Brien & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;"
        );
    }
}
