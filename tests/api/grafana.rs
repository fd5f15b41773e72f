//! The Grafana dashboard (`dashboards/paymetrics.json`): well-formed for import, and
//! every panel query, with Grafana's PostgreSQL macros and the dashboard's variables
//! expanded the way Grafana does, runs against demo data and returns rows. Built only
//! with the `simulator` feature (the demo data comes from the simulator).
#![cfg(feature = "simulator")]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use crate::demo_data::demo;
use crate::helpers::count;

/// The name of the dashboard's data source input, and the reference every panel, target
/// and variable must use, so that Grafana's import asks for the data source once.
const INPUT: &str = "DS_POSTGRES";
const PLUGIN: &str = "grafana-postgresql-datasource";

fn datasource() -> Value {
    json!({"type": PLUGIN, "uid": format!("${{{INPUT}}}")})
}

fn dashboard() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/paymetrics.json");
    let text = std::fs::read_to_string(&path).expect("dashboards/paymetrics.json");
    serde_json::from_str(&text).expect("dashboards/paymetrics.json is JSON")
}

/// Every panel: the top-level ones and those inside rows (a collapsed row keeps its
/// panels in its own `panels`).
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        out.push(panel);
        if panel["type"] == "row" {
            out.extend(panel["panels"].as_array().into_iter().flatten());
        }
    }
    out
}

fn data_panels(dashboard: &Value) -> Vec<&Value> {
    all_panels(dashboard)
        .into_iter()
        .filter(|p| p["type"] != "row")
        .collect()
}

fn title(panel: &Value) -> &str {
    panel["title"].as_str().unwrap_or("<untitled>")
}

fn targets(panel: &Value) -> &[Value] {
    panel["targets"].as_array().map_or(&[], Vec::as_slice)
}

/// A dashboard variable as Grafana formats it for SQL data sources.
#[derive(Debug, Clone)]
struct Variable {
    name: String,
    query: String,
    multi: bool,
    include_all: bool,
    all_value: Option<String>,
    /// Its options, from running `query`.
    options: Vec<String>,
}

/// What a variable is set to in one run.
#[derive(Debug, Clone, PartialEq)]
enum Pick {
    All,
    One(String),
}

impl Variable {
    fn from_json(v: &Value) -> Self {
        Self {
            name: v["name"].as_str().expect("variable name").to_owned(),
            query: v["query"]
                .as_str()
                .expect("a SQL variable query")
                .to_owned(),
            multi: v["multi"] == true,
            include_all: v["includeAll"] == true,
            all_value: v["allValue"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            options: Vec::new(),
        }
    }

    /// The text Grafana puts in place of `$name`: with multi or All, each value as a
    /// quoted literal, joined by commas (All: every option, or the custom all value as
    /// written); a plain variable's value as it is, quotes doubled.
    fn format(&self, pick: &Pick) -> String {
        match pick {
            Pick::All => match &self.all_value {
                Some(all) => all.clone(),
                None => self
                    .options
                    .iter()
                    .map(|o| quote(o))
                    .collect::<Vec<_>>()
                    .join(","),
            },
            Pick::One(value) if self.multi || self.include_all => quote(value),
            Pick::One(value) => value.replace('\'', "''"),
        }
    }
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A query's expansion failed: a macro or variable this expander does not know, or
/// arguments it cannot read.
#[derive(Debug)]
struct Unexpanded(String);

impl std::fmt::Display for Unexpanded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Expands `sql` as Grafana does: dashboard variables first (the browser), then the
/// data source's macros (the server). Fails on any `$__macro` or `$variable` it does not
/// know, so nothing reaches the database unexpanded.
fn expand(
    sql: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    values: &BTreeMap<String, String>,
) -> Result<String, Unexpanded> {
    let with_variables = expand_variables(sql, values)?;
    expand_macros(&with_variables, from, to)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `$name` and `${name}` of the dashboard's variables; `$__...` is left to the macros.
fn expand_variables(sql: &str, values: &BTreeMap<String, String>) -> Result<String, Unexpanded> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| Unexpanded(format!("unclosed ${{ in {sql}")))?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = rest.find(|c| !is_word(c)).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        if name.starts_with("__") {
            out.push('$');
            continue;
        }
        let value = values.get(name).ok_or_else(|| {
            Unexpanded(format!(
                "${name}: not a variable of the dashboard (or a format this expander does not know)"
            ))
        })?;
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// Grafana's PostgreSQL macros: `$__name(args)`, arguments split at commas.
fn expand_macros(sql: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<String, Unexpanded> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let call = &rest[at + 1..];
        let name_end = call.find(|c| !is_word(c)).unwrap_or(call.len());
        let name = &call[..name_end];
        let Some(args) = call[name_end..].strip_prefix('(') else {
            return Err(Unexpanded(format!(
                "${name}: not a macro call; Grafana's global variables ($__interval, \
                 $__from, ...) are not expanded by this test, add one with its expansion"
            )));
        };
        let close = args
            .find(')')
            .ok_or_else(|| Unexpanded(format!("${name}( is not closed")))?;
        let after = &args[close + 1..];
        let args: Vec<&str> = args[..close].split(',').map(str::trim).collect();
        // Grafana reads `$__timeGroup(...)` directly followed by a comma as the alias
        // form (compatibility with dashboards before 5.3).
        let name = if name == "__timeGroup" && after.starts_with(',') {
            "__timeGroupAlias"
        } else {
            name
        };
        out.push_str(&evaluate(name, &args, from, to)?);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

fn evaluate(
    name: &str,
    args: &[&str],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<String, Unexpanded> {
    let column = || {
        args.first()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Unexpanded(format!("${name} needs a time column")))
    };
    Ok(match name {
        "__time" => format!("{} AS \"time\"", column()?),
        "__timeEpoch" => format!("extract(epoch from {}) as \"time\"", column()?),
        "__timeFilter" => format!(
            "{} BETWEEN '{}' AND '{}'",
            column()?,
            rfc3339_nano(from),
            rfc3339_nano(to)
        ),
        "__timeFrom" => format!("'{}'", rfc3339_nano(from)),
        "__timeTo" => format!("'{}'", rfc3339_nano(to)),
        "__timeGroup" | "__timeGroupAlias" => {
            let [column, interval] = args else {
                return Err(Unexpanded(format!(
                    "${name} takes a column and an interval here (no fill mode): {args:?}"
                )));
            };
            let seconds = interval_seconds(interval.trim_matches('\''))?;
            let group = format!("floor(extract(epoch from {column})/{seconds})*{seconds}");
            if name == "__timeGroupAlias" {
                format!("{group} AS \"time\"")
            } else {
                group
            }
        }
        "__unixEpochFilter" => {
            let column = column()?;
            format!(
                "{column} >= {} AND {column} <= {}",
                from.timestamp(),
                to.timestamp()
            )
        }
        other => {
            return Err(Unexpanded(format!(
                "${other}: a macro this expander does not know; add it, with Grafana's expansion"
            )));
        }
    })
}

/// Go's `time.RFC3339Nano` of a UTC time: fractional seconds without trailing zeros.
fn rfc3339_nano(t: DateTime<Utc>) -> String {
    let mut text = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        text.push('.');
        text.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Whole seconds of a Grafana interval such as `5m` or `1h`.
fn interval_seconds(interval: &str) -> Result<i64, Unexpanded> {
    let split = interval
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(interval.len());
    let (number, unit) = interval.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| Unexpanded(format!("interval {interval:?}")))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(Unexpanded(format!("interval unit of {interval:?}"))),
    };
    Ok(number * unit)
}

fn variables(dashboard: &Value) -> Vec<Variable> {
    dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(Variable::from_json)
        .collect()
}

/// The runs of a panel: with every variable at All, and at its first option; a repeated
/// panel once per option of its repeat variable (as Grafana repeats it), each both ways.
fn runs(panel: &Value, variables: &[Variable]) -> Vec<BTreeMap<String, Pick>> {
    let mut bases = Vec::new();
    for first in [false, true] {
        let base: BTreeMap<String, Pick> = variables
            .iter()
            .map(|v| {
                let pick = match (first, v.options.first()) {
                    (true, Some(o)) => Pick::One(o.clone()),
                    _ => Pick::All,
                };
                (v.name.clone(), pick)
            })
            .collect();
        bases.push(base);
    }
    let Some(repeat) = panel["repeat"].as_str() else {
        return bases;
    };
    let variable = variables
        .iter()
        .find(|v| v.name == repeat)
        .unwrap_or_else(|| panic!("{}: repeats over unknown ${repeat}", title(panel)));
    let mut runs = Vec::new();
    for option in &variable.options {
        for base in &bases {
            let mut run = base.clone();
            run.insert(repeat.to_owned(), Pick::One(option.clone()));
            runs.push(run);
        }
    }
    runs
}

fn formatted(variables: &[Variable], picks: &BTreeMap<String, Pick>) -> BTreeMap<String, String> {
    variables
        .iter()
        .map(|v| (v.name.clone(), v.format(&picks[&v.name])))
        .collect()
}

async fn rows(db: &Client, sql: &str) -> Result<Vec<SimpleQueryRow>, tokio_postgres::Error> {
    Ok(db
        .simple_query(sql)
        .await?
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect())
}

/// The database's own message of a failed query.
fn pg(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map_or_else(
        || e.to_string(),
        |d| format!("{}: {}", d.severity(), d.message()),
    )
}

/// `payment_type=All currency='ach'`: the variables of one run.
fn label(picks: &BTreeMap<String, Pick>) -> String {
    picks
        .iter()
        .map(|(name, pick)| match pick {
            Pick::All => format!("{name}=All"),
            Pick::One(value) => format!("{name}={value:?}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn target_of<'a>(dashboard: &'a Value, panel_title: &str) -> &'a Value {
    let panel = data_panels(dashboard)
        .into_iter()
        .find(|p| title(p) == panel_title)
        .unwrap_or_else(|| panic!("no panel {panel_title:?}"));
    &targets(panel)[0]
}

fn sum_of(rows: &[SimpleQueryRow], column: &str) -> i64 {
    rows.iter()
        .map(|r| {
            r.get(column)
                .unwrap_or_else(|| panic!("{column} is null"))
                .parse::<i64>()
                .unwrap()
        })
        .sum()
}

#[test]
fn the_grafana_dashboard_is_well_formed_for_import() {
    let dashboard = dashboard();
    let inputs = dashboard["__inputs"].as_array().expect("__inputs");
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(inputs[0]["name"], INPUT);
    assert_eq!(inputs[0]["type"], "datasource");
    assert_eq!(inputs[0]["pluginId"], PLUGIN);
    assert!(
        dashboard["__requires"]
            .as_array()
            .expect("__requires")
            .iter()
            .any(|r| r["type"] == "datasource" && r["id"] == PLUGIN)
    );
    // The classic model (the V2 resource format has no schemaVersion), at most 42, the
    // latest that Grafana 12 migrates to. The file has 39 (Grafana 11.0), which every
    // later version migrates forward.
    let schema = dashboard["schemaVersion"].as_i64().expect("schemaVersion");
    assert!((36..=42).contains(&schema), "schemaVersion {schema}");
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(dashboard["id"].is_null(), "an exported dashboard has no id");

    let variables = variables(&dashboard);
    let names: BTreeSet<&str> = variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["currency", "payment_type", "rule"]));
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        assert_eq!(v["datasource"], datasource(), "variable {}", v["name"]);
        assert_eq!(v["type"], "query", "variable {}", v["name"]);
        assert!(
            v["multi"] == true && v["includeAll"] == true,
            "{}",
            v["name"]
        );
    }

    let now = Utc::now();
    let values: BTreeMap<String, String> = variables
        .iter()
        .map(|v| (v.name.clone(), quote("x")))
        .collect();
    let mut ids = BTreeSet::new();
    for panel in all_panels(&dashboard) {
        let name = title(panel);
        let id = panel["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: no id"));
        assert!(ids.insert(id), "{name}: id {id} is used twice");
        let grid = &panel["gridPos"];
        for key in ["h", "w", "x", "y"] {
            assert!(grid[key].is_u64(), "{name}: gridPos.{key}");
        }
        assert!(
            grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24,
            "{name}"
        );
        if panel["type"] == "row" {
            assert!(targets(panel).is_empty(), "{name}: a row has no queries");
            continue;
        }
        assert_eq!(panel["datasource"], datasource(), "{name}: datasource");
        assert!(!targets(panel).is_empty(), "{name}: no targets");
        let mut ref_ids = BTreeSet::new();
        for target in targets(panel) {
            assert!(
                ref_ids.insert(target["refId"].as_str().expect("refId")),
                "{name}"
            );
            assert_eq!(
                target["datasource"],
                datasource(),
                "{name}: target datasource"
            );
            assert!(
                target["rawSql"]
                    .as_str()
                    .is_some_and(|s| !s.trim().is_empty()),
                "{name}: no rawSql"
            );
            // Every macro and variable is one the expander knows (the demo-data test
            // runs them; this says so without a database).
            if let Err(e) = expand(target["rawSql"].as_str().unwrap(), now, now, &values) {
                panic!("{name}: {e}");
            }
            assert_eq!(target["rawQuery"], true, "{name}");
            assert_eq!(target["editorMode"], "code", "{name}");
            assert!(
                target["format"] == "time_series" || target["format"] == "table",
                "{name}: format {}",
                target["format"]
            );
        }
        if let Some(repeat) = panel["repeat"].as_str() {
            assert!(names.contains(repeat), "{name}: repeats over ${repeat}");
        }
    }
}

#[test]
fn the_grafana_expander_writes_what_grafana_writes() {
    let from: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2026-11-25T12:30:00.125Z".parse().unwrap();
    let values = BTreeMap::from([("kind".to_owned(), "'card','ach'".to_owned())]);
    let sql = "SELECT $__time(t), $__timeGroupAlias(t, '5m'), $__timeGroup(t,'1h') AS h \
               FROM x WHERE $__timeFilter(t) AND k IN ($kind) AND ${kind} IS NOT NULL \
               AND $__unixEpochFilter(e) AND t < $__timeTo() AND t > $__timeFrom()";
    assert_eq!(
        expand(sql, from, to, &values).unwrap(),
        "SELECT t AS \"time\", floor(extract(epoch from t)/300)*300 AS \"time\", \
         floor(extract(epoch from t)/3600)*3600 AS h \
         FROM x WHERE t BETWEEN '2026-11-25T10:00:00Z' AND '2026-11-25T12:30:00.125Z' \
         AND k IN ('card','ach') AND 'card','ach' IS NOT NULL \
         AND e >= 1795600800 AND e <= 1795609800 AND t < '2026-11-25T12:30:00.125Z' \
         AND t > '2026-11-25T10:00:00Z'"
    );
    assert_eq!(
        expand("SELECT $__timeEpoch(t) FROM x", from, to, &values).unwrap(),
        "SELECT extract(epoch from t) as \"time\" FROM x"
    );
    // The pre-5.3 form: $__timeGroup directly followed by a comma gets the alias.
    assert_eq!(
        expand("SELECT $__timeGroup(t, '30s'), v", from, to, &values).unwrap(),
        "SELECT floor(extract(epoch from t)/30)*30 AS \"time\", v"
    );
    for unknown in [
        "SELECT $__timeGroupFill(t, '5m')",
        "SELECT $__interval",
        "SELECT $__unixEpochNanoFilter(t)",
        "SELECT * FROM x WHERE k = $other",
        "SELECT ${kind:csv}",
        "SELECT $__timeGroup(t, '5m', 0)",
    ] {
        assert!(
            expand(unknown, from, to, &values).is_err(),
            "{unknown} expanded"
        );
    }
    let kind = Variable {
        name: "kind".into(),
        query: String::new(),
        multi: true,
        include_all: true,
        all_value: None,
        options: vec!["ach".into(), "o'brien".into()],
    };
    assert_eq!(kind.format(&Pick::All), "'ach','o''brien'");
    assert_eq!(kind.format(&Pick::One("card".into())), "'card'");
    let plain = Variable {
        multi: false,
        include_all: false,
        ..kind.clone()
    };
    assert_eq!(plain.format(&Pick::One("o'brien".into())), "o''brien");
    let custom = Variable {
        all_value: Some(".*".into()),
        ..kind
    };
    assert_eq!(custom.format(&Pick::All), ".*");
}

#[tokio::test]
async fn every_grafana_panel_query_returns_rows_on_demo_data() {
    let dashboard = dashboard();
    let demo = demo(6).await;
    let (from, to) = (demo.from, demo.to);
    let db = demo.app.db.connect().await;
    let no_values = BTreeMap::new();
    let mut variables = variables(&dashboard);
    for variable in &mut variables {
        let sql = expand(&variable.query, from, to, &no_values)
            .unwrap_or_else(|e| panic!("variable {}: {e}", variable.name));
        let found = rows(&db, &sql)
            .await
            .unwrap_or_else(|e| panic!("variable {}: {}\n{sql}", variable.name, pg(&e)));
        variable.options = found
            .iter()
            .filter_map(|r| r.get(0).map(str::to_owned))
            .collect();
        assert!(
            !variable.options.is_empty(),
            "variable {} has no options",
            variable.name
        );
    }

    let mut failures = Vec::new();
    let mut ran = 0;
    for panel in data_panels(&dashboard) {
        for picks in runs(panel, &variables) {
            let values = formatted(&variables, &picks);
            for target in targets(panel) {
                let place = format!(
                    "panel {:?} target {} with {}",
                    title(panel),
                    target["refId"],
                    label(&picks)
                );
                let raw = target["rawSql"].as_str().unwrap();
                let sql = expand(raw, from, to, &values).unwrap_or_else(|e| panic!("{place}: {e}"));
                ran += 1;
                match rows(&db, &sql).await {
                    Err(e) => failures.push(format!("{place}: {}\n{sql}", pg(&e))),
                    Ok(found) if found.is_empty() => {
                        failures.push(format!("{place}: no rows on demo data\n{sql}"));
                    }
                    Ok(found) => {
                        let has_time = found[0].columns().iter().any(|c| c.name() == "time");
                        if target["format"] == "time_series" && !has_time {
                            failures.push(format!("{place}: a time series without a time column"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // 8 plain targets and the rule panel, each with All and with first options, the rule
    // panel once per rule.
    let rules = variables
        .iter()
        .find(|v| v.name == "rule")
        .unwrap()
        .options
        .len();
    assert_eq!(ran, 2 * (10 + rules), "queries run");

    // Over the spike's window alone, where the simulated traffic has a few declines of
    // each reason (over the whole day it has more than the spike), the spike's reason
    // has at least the spike's count.
    let all: BTreeMap<String, String> = formatted(
        &variables,
        &variables
            .iter()
            .map(|v| (v.name.clone(), Pick::All))
            .collect(),
    );
    let reasons = expand(
        target_of(&dashboard, "Declines by reason")["rawSql"]
            .as_str()
            .unwrap(),
        demo.spike.window_start,
        demo.spike.window_start + chrono::TimeDelta::seconds(299),
        &all,
    )
    .unwrap();
    let by_reason = rows(&db, &reasons).await.unwrap();
    let spike_reason = by_reason
        .iter()
        .find(|r| r.get("decline_reason") == Some(demo.spike.reason))
        .unwrap_or_else(|| panic!("no row for {}", demo.spike.reason));
    let declines: i64 = spike_reason.get("declines").unwrap().parse().unwrap();
    assert!(
        declines >= demo.spike.count,
        "{declines} {} declines",
        demo.spike.reason
    );

    // Every stored transaction was accepted once, in some hour of the range.
    let ingest = expand(
        target_of(&dashboard, "Ingest per hour: accepted and duplicates")["rawSql"]
            .as_str()
            .unwrap(),
        from,
        to,
        &all,
    )
    .unwrap();
    let hours = rows(&db, &ingest).await.unwrap();
    assert_eq!(
        sum_of(&hours, "accepted"),
        count(&db, "SELECT count(*) FROM normalized_transactions").await
    );
    assert!(
        sum_of(&hours, "duplicates") > 0,
        "the demo sends duplicates"
    );
}
