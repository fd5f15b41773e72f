//! docs/openapi.yaml matches the app: one public path per HTTP function folder (its route
//! and methods), each operation's parameters exactly those the handler accepts, the row
//! schemas exactly the tables' columns; and one handler path per function folder plus
//! `GET /`, whose answers have exactly the keys their schemas name.

use std::collections::BTreeSet;
use std::path::Path;

use paymetrics::settings::EngineConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, fixture};

fn document() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
    serde_saphyr::from_str(&text).expect("docs/openapi.yaml is YAML")
}

/// The path item `item` with its `$ref` resolved.
fn path_item<'a>(doc: &'a Value, item: &'a Value) -> &'a Value {
    match item["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} resolves")),
        None => item,
    }
}

/// Whether a path is one of the custom handler's routes (its own `servers` entry on
/// 127.0.0.1), not a public one.
fn is_handler_path(doc: &Value, item: &Value) -> bool {
    path_item(doc, item)["servers"][0]["url"]
        .as_str()
        .is_some_and(|url| url.starts_with("http://127.0.0.1"))
}

/// The HTTP methods of a path item.
fn methods(item: &Value) -> BTreeSet<String> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    item.as_object()
        .unwrap()
        .keys()
        .filter(|k| METHODS.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// The names of every function folder (a folder with a `function.json`).
fn function_folders() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("function.json").is_file())
        .map(|dir| dir.file_name().unwrap().to_string_lossy().to_string())
        .collect()
}

/// A schema of `components.schemas`.
fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "components.schemas.{name}");
    schema
}

fn keys_of(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// `body` has every required key of `schema` and no key it does not name.
fn assert_shape(schema: &Value, body: &Value, what: &str) {
    let keys = keys_of(body);
    let properties = keys_of(&schema["properties"]);
    let required = strings(&schema["required"]);
    assert!(
        keys.is_subset(&properties),
        "{what}: keys {keys:?} not all documented in {properties:?}"
    );
    assert!(
        required.is_subset(&keys),
        "{what}: documented as required {required:?}, answered {keys:?}"
    );
}

/// The documented statuses of an operation.
fn statuses(operation: &Value) -> BTreeSet<String> {
    keys_of(&operation["responses"])
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
    let documented: BTreeSet<String> = paths
        .iter()
        .filter(|(_, item)| !is_handler_path(&doc, item))
        .map(|(path, _)| path.clone())
        .collect();
    assert_eq!(documented, routes);
    for (folder, route, methods) in &functions {
        let item = &paths[&format!("/{route}")];
        assert_eq!(&self::methods(item), methods, "{route}");
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

#[test]
fn the_handler_paths_are_readiness_and_one_post_per_function_folder() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    let folders = function_folders();
    assert!(folders.contains("EventHubTrigger") && folders.contains("TimerTrigger"));
    let handler: BTreeSet<String> = paths
        .iter()
        .filter(|(_, item)| is_handler_path(&doc, item))
        .map(|(path, _)| path.clone())
        .collect();
    let mut expected: BTreeSet<String> = folders.iter().map(|f| format!("/{f}")).collect();
    expected.insert("/".to_owned());
    assert_eq!(
        handler, expected,
        "the handler's routes are / and /<folder>"
    );
    for path in &handler {
        let item = path_item(&doc, &paths[path]);
        let want = if path == "/" { "get" } else { "post" };
        assert_eq!(
            methods(item),
            BTreeSet::from([want.to_owned()]),
            "{path} is {want} only"
        );
        // The host calls these without a function key.
        assert_eq!(item[want]["security"], json!([]), "{path}");
    }
}

/// POSTs `body` to the handler's `/{function}` and returns the status and the answer.
async fn post(app: &TestApp, function: &str, body: String) -> (u16, Value) {
    let response = app
        .http
        .post(format!("http://{}/{function}", app.address))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("the handler answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_handler_answers_with_exactly_the_documented_keys() {
    let doc = document();
    let paths = &doc["paths"];
    let app = TestApp::spawn().await;

    // GET /
    let response = app
        .http
        .get(format!("http://{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ready: Value = response.json().await.unwrap();
    let ready_schema = schema(&doc, "Ready");
    assert_shape(ready_schema, &ready, "GET /");
    for (key, value) in ready.as_object().unwrap() {
        assert_eq!(
            ready_schema["properties"][key]["enum"][0], *value,
            "GET / {key}"
        );
    }

    // A batch, and a body that is no invocation.
    let answer_schema = schema(&doc, "InvocationAnswer");
    let batch_schema = schema(&doc, "BatchOutcome");
    let event_hub = &paths["/EventHubTrigger"]["post"];
    for body in [fixture("eventhub_host_binary_batch.json"), "{}".to_owned()] {
        let (status, answer) = post(&app, "EventHubTrigger", body).await;
        assert_eq!(status, 200, "{answer}");
        assert!(statuses(event_hub).contains("200"));
        assert_eq!(keys_of(&answer), strings(&answer_schema["required"]));
        assert_shape(batch_schema, &answer["ReturnValue"], "EventHubTrigger");
    }
    let (_, answer) = post(
        &app,
        "EventHubTrigger",
        fixture("eventhub_host_binary_batch.json"),
    )
    .await;
    assert_eq!(
        keys_of(&answer["ReturnValue"]),
        keys_of(&batch_schema["properties"]),
        "a real batch answers every documented key"
    );

    // A timer run.
    let run = app.run_timer().await;
    assert_eq!(keys_of(&run), strings(&answer_schema["required"]));
    let timer_schema = schema(&doc, "TimerOutcome");
    assert_shape(timer_schema, &run["ReturnValue"], "TimerTrigger");
    assert_eq!(
        keys_of(&run["ReturnValue"]),
        keys_of(&timer_schema["properties"])
    );

    // Each HTTP function, invoked as the host does.
    let http_schema = schema(&doc, "HttpInvocationAnswer");
    let outputs = &http_schema["properties"]["Outputs"];
    let res = &outputs["properties"]["res"];
    let envelope = json!({
        "Data": {"req": {"Url": "https://app.azurewebsites.net/api/x", "Method": "GET",
                          "Query": {}, "Headers": {}, "Params": {"rule": "no_such_rule"}}},
        "Metadata": {}
    });
    for (folder, _, _) in http_functions() {
        let (status, answer) = post(&app, &folder, envelope.to_string()).await;
        assert_eq!(status, 200, "{folder}: {answer}");
        let operation = &path_item(&doc, &paths[format!("/{folder}")])["post"];
        assert!(statuses(operation).contains("200"), "{folder}");
        assert_shape(http_schema, &answer, &folder);
        assert_shape(outputs, &answer["Outputs"], &folder);
        assert_shape(res, &answer["Outputs"]["res"], &folder);
        assert_shape(
            &res["properties"]["headers"],
            &answer["Outputs"]["res"]["headers"],
            &folder,
        );
        let code = &answer["Outputs"]["res"]["statusCode"];
        assert!(
            res["properties"]["statusCode"]["enum"]
                .as_array()
                .unwrap()
                .contains(code),
            "{folder}: statusCode {code}"
        );
        assert!(answer["ReturnValue"].is_null(), "{folder}");
    }

    // Nothing else is served.
    let status = app
        .http
        .post(format!("http://{}/NoSuchFunction", app.address))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_oversized_batch_answers_the_documented_failed_invocation() {
    let doc = document();
    let db = TestDb::migrated().await;
    let url = db.url();
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1024).await;
    let (status, answer) = post(&app, "EventHubTrigger", " ".repeat(2048)).await;
    assert_eq!(status, 413);
    assert!(statuses(&doc["paths"]["/EventHubTrigger"]["post"]).contains("413"));
    let failed = schema(&doc, "FailedInvocation");
    assert_shape(failed, &answer, "a failed invocation");
    assert_eq!(keys_of(&answer), strings(&failed["required"]));
    let error = &failed["properties"]["error"];
    assert_shape(error, &answer["error"], "error");
    assert!(strings(&error["properties"]["code"]["enum"]).contains("body_too_large"));
    assert_eq!(answer["error"]["code"], "body_too_large");
    assert_eq!(answer["error"]["retryable"], true);
}

/// The string literals returned by `fn code` of `FunctionError` in src/functions/mod.rs.
fn function_error_codes() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/functions/mod.rs");
    let source = std::fs::read_to_string(path).unwrap();
    let start = source
        .find("fn code(&self)")
        .expect("FunctionError::code in src/functions/mod.rs");
    let body = &source[start..];
    let body = &body[..body.find("\n    }\n").expect("the end of fn code")];
    body.split("=> \"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

#[test]
fn the_error_codes_and_return_values_are_the_handlers_and_api_md_names_each() {
    let doc = document();
    let codes = function_error_codes();
    assert!(codes.contains("database_unavailable"), "{codes:?}");
    let documented = strings(
        &schema(&doc, "FailedInvocation")["properties"]["error"]["properties"]["code"]["enum"],
    );
    assert_eq!(
        documented, codes,
        "FailedInvocation's error.code enum is what FunctionError::code returns"
    );
    let api_md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/API.md")).unwrap();
    let mut missing = Vec::new();
    for code in &codes {
        if !api_md.contains(&format!("| `{code}` |")) {
            missing.push(format!("error.code {code}"));
        }
    }
    for name in ["BatchOutcome", "TimerOutcome"] {
        for key in keys_of(&schema(&doc, name)["properties"]) {
            if !api_md.contains(&format!("| `{key}` |")) {
                missing.push(format!("{name}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/API.md has no table row for {missing:?}: add one to the error-code or \
         ReturnValue table of \"The custom handler's routes\""
    );
}
