//! docs/openapi.yaml matches the app: one path per HTTP function folder (its route and
//! methods), each operation's parameters exactly those the handler accepts, and the
//! row schemas exactly the tables' columns.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::TestApp;

fn document() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
    serde_saphyr::from_str(&text).expect("docs/openapi.yaml is YAML")
}

/// (folder, route, methods) of every HTTP-triggered function folder.
fn http_functions() -> Vec<(String, String, BTreeSet<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(dir.join("function.json")) else {
            continue;
        };
        let json: Value = serde_json::from_str(&text).unwrap();
        let Some(trigger) = json["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "httpTrigger")
        else {
            continue;
        };
        let folder = dir.file_name().unwrap().to_string_lossy().to_string();
        let methods = trigger["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_ascii_lowercase())
            .collect();
        found.push((
            folder,
            trigger["route"].as_str().unwrap().to_owned(),
            methods,
        ));
    }
    found.sort();
    found
}

/// An operation's parameters with `$ref`s resolved.
fn parameters(doc: &Value, operation: &Value) -> Vec<Value> {
    operation["parameters"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| match p["$ref"].as_str() {
                    Some(r) => doc
                        .pointer(r.trim_start_matches('#'))
                        .unwrap_or_else(|| panic!("{r} resolves"))
                        .clone(),
                    None => p.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A valid value for a documented parameter, from its schema.
fn example(parameter: &Value) -> String {
    let schema = &parameter["schema"];
    if let Some(first) = schema["enum"].get(0) {
        return first.as_str().unwrap().to_owned();
    }
    match parameter["name"].as_str().unwrap() {
        // Both ends inside one range: from an hour before to.
        "from" => "2026-11-25T08:00:00Z".to_owned(),
        "to" => "2026-11-25T09:00:00Z".to_owned(),
        _ => schema["examples"][0].as_str().unwrap().to_owned(),
    }
}

#[test]
fn every_http_function_has_its_route_and_methods_and_nothing_else_is_documented() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let functions = http_functions();
    assert!(functions.len() >= 5, "{functions:?}");
    let routes: BTreeSet<String> = functions.iter().map(|(_, r, _)| format!("/{r}")).collect();
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(documented, routes);
    for (folder, route, methods) in &functions {
        let item = &paths[&format!("/{route}")];
        let operations: BTreeSet<String> = item.as_object().unwrap().keys().cloned().collect();
        assert_eq!(&operations, methods, "{route}");
        for method in methods {
            let operation = &item[method.as_str()];
            assert_eq!(operation["operationId"], folder.as_str(), "{route}");
            // The route's {placeholders} are exactly its path parameters.
            let placeholders: BTreeSet<String> = route
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            let in_path: BTreeSet<String> = parameters(&doc, operation)
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(in_path, placeholders, "{route}");
        }
    }
}

#[tokio::test]
async fn each_operation_accepts_exactly_its_documented_query_parameters() {
    let doc = document();
    let app = TestApp::spawn().await;
    for (folder, route, _) in http_functions() {
        if folder == "Health" {
            continue; // Health does not read its request.
        }
        let operation = &doc["paths"][format!("/{route}")]["get"];
        let params = parameters(&doc, operation);
        let route_values = json!({"rule": "no_such_rule"});
        let call = |query: Vec<(String, String)>| {
            let app = &app;
            let folder = folder.clone();
            let route_values = route_values.clone();
            async move {
                let query: serde_json::Map<String, Value> = query
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                let (_, res) = app
                    .invoke_http(&folder, &Value::Object(query), &route_values)
                    .await;
                res["statusCode"].as_u64().unwrap()
            }
        };
        let documented: Vec<(String, String)> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| (p["name"].as_str().unwrap().to_owned(), example(p)))
            .collect();
        // All documented parameters together, and the function key: never a 400
        // (RuleMetrics answers 404 for the unknown rule, after reading its parameters).
        let mut all = documented.clone();
        all.push(("code".into(), "key".into()));
        let status = call(all).await;
        assert!(status == 200 || status == 404, "{folder}: {status}");
        // A parameter the document does not list is refused.
        let status = call(vec![("undocumented".into(), "1".into())]).await;
        assert_eq!(status, 400, "{folder} accepts an undocumented parameter");
        // And each documented one with a value it cannot use is refused too, so the
        // document cannot list a parameter the handler ignores.
        for (name, _) in &documented {
            let status = call(vec![(name.clone(), "\u{1}not-a-value".into())]).await;
            assert_eq!(status, 400, "{folder} ignores its documented {name}");
        }
    }
}

#[tokio::test]
async fn the_row_schemas_are_the_tables_columns() {
    let doc = document();
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    for (schema, table) in [
        ("Metrics5mRow", "payment_metrics_5m"),
        ("RuleMetricRow", "dynamic_metrics"),
        ("AlertRow", "metric_alerts"),
    ] {
        let columns: BTreeSet<String> = db
            .query(
                "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1",
                &[&table],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let schema = &doc["components"]["schemas"][schema];
        let properties: BTreeSet<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let required: BTreeSet<String> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        // dynamic_metrics' rule_name is the operation's `rule`, not a row field.
        let expected: BTreeSet<String> = columns.into_iter().filter(|c| c != "rule_name").collect();
        assert_eq!(properties, expected, "{table}");
        assert_eq!(required, expected, "{table}");
    }
}
