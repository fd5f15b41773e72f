//! The functions (root folders with a `function.json`), the public route of each HTTP
//! function (`/api/` + its `route`; host.json sets no other prefix), and the routes of the
//! handler itself (`.route("...")` in `src/functions/`).
//!
//! A function is documented when its folder's name occurs in a code span or block of some
//! doc; an HTTP route when some doc shows `/api/<route>` (a `{name}` part matching any
//! value); a handler route `/Name` when some doc shows `/Name`, and `/` when one shows
//! `GET /` on its own.
//!
//! A URL path in the docs is `/api/...` not inside another path (after a letter, digit,
//! `_`, `-` or `.`, except as the path of an `http(s)://` URL), and a code span that starts
//! with `api/`; it ends at whitespace, `?`, `#`, a quote, a backtick, `)` or `,`. Each must
//! be the route of an HTTP function, unless it holds `...` (an elision). `POST /Name` in
//! the docs must be a handler route.

use std::collections::BTreeSet;

use super::{docs, files_under, function_folders, has_word, read, report};

/// `(folder, route)` of every HTTP function.
fn http_routes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for folder in function_folders() {
        let json: serde_json::Value =
            serde_json::from_str(&read(&format!("{folder}/function.json"))).unwrap();
        for binding in json["bindings"].as_array().into_iter().flatten() {
            if binding["type"] == "httpTrigger" {
                let route = binding["route"].as_str().unwrap_or(&folder).to_owned();
                out.push((folder.clone(), route));
            }
        }
    }
    out
}

/// The paths the handler routes, from `.route("...")` in `src/functions/`.
fn handler_routes() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in files_under("src/functions")
        .iter()
        .filter(|f| f.ends_with(".rs"))
    {
        let text = read(file);
        for (at, _) in text.match_indices(".route(\"") {
            let rest = &text[at + ".route(\"".len()..];
            out.insert(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    out
}

/// Whether the doc path `path` (without `/api/`) is `route`.
fn matches(path: &str, route: &str) -> bool {
    let (p, r): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), route.split('/').collect());
    p.len() == r.len()
        && p.iter()
            .zip(&r)
            .all(|(p, r)| p == r || (r.starts_with('{') && r.ends_with('}') && !p.is_empty()))
}

/// `(line, path)` of every `/api/` path of a doc text, without `/api/` and a trailing `/`
/// or `.`.
fn api_paths(
    text: &str,
    spans: &[(usize, String)],
    line_of: impl Fn(usize) -> usize,
) -> Vec<(usize, String)> {
    let end = |s: &str| {
        let n = s
            .find(|c: char| c.is_whitespace() || "?#\"'`),<>|".contains(c))
            .unwrap_or(s.len());
        s[..n].trim_end_matches(['.', '/', ':']).to_owned()
    };
    let mut out = Vec::new();
    for (at, _) in text.match_indices("/api/") {
        let before = &text[..at];
        let inside_path =
            before.ends_with(|c: char| c.is_ascii_alphanumeric() || "_-.".contains(c));
        let url = before
            .rsplit(|c: char| c.is_whitespace() || "`(\"'".contains(c))
            .next()
            .is_some_and(|w| {
                (w.starts_with("https://") || w.starts_with("http://"))
                    && !w["https://".len().min(w.len())..].contains('/')
            });
        if !inside_path || url {
            out.push((line_of(at), end(&text[at + "/api/".len()..])));
        }
    }
    for (line, span) in spans {
        if let Some(rest) = span.strip_prefix("api/") {
            out.push((*line, end(rest)));
        }
    }
    out
}

#[test]
fn every_function_and_route_is_documented() {
    let docs = docs();
    let code = |word: &str| {
        docs.iter().any(|d| {
            d.spans.iter().any(|s| has_word(&s.text, word))
                || d.blocks.iter().any(|b| has_word(&b.text, word))
        })
    };
    let mut problems = Vec::new();
    for folder in function_folders() {
        if !code(&folder) {
            problems.push(format!(
                "function `{folder}` ({folder}/function.json) is named in no doc: say what it does (README.md, \"How the Functions host runs it\")"
            ));
        }
    }
    let paths: Vec<String> = docs
        .iter()
        .flat_map(|d| {
            let spans: Vec<(usize, String)> =
                d.spans.iter().map(|s| (s.line, s.text.clone())).collect();
            api_paths(&d.text, &spans, |o| d.line_of(o))
                .into_iter()
                .map(|(_, p)| p)
        })
        .collect();
    for (folder, route) in http_routes() {
        if !paths.iter().any(|p| matches(p, &route)) {
            problems.push(format!(
                "`/api/{route}` ({folder}/function.json) is shown in no doc: document it in docs/API.md"
            ));
        }
    }
    for route in handler_routes() {
        let shown = docs.iter().any(|d| {
            if route == "/" {
                d.text.match_indices("GET /").any(|(at, _)| {
                    !d.text[at + 5..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '{')
                })
            } else {
                d.text.match_indices(route.as_str()).any(|(at, _)| {
                    !d.text[at + route.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                })
            }
        });
        if !shown {
            problems.push(format!(
                "the handler's route `{route}` (src/functions/) is shown in no doc: document what the host posts to it"
            ));
        }
    }
    report("functions and routes", problems);
}

#[test]
fn every_route_the_docs_name_exists() {
    let routes = http_routes();
    let handler = handler_routes();
    let mut problems = Vec::new();
    for doc in docs() {
        let spans: Vec<(usize, String)> =
            doc.spans.iter().map(|s| (s.line, s.text.clone())).collect();
        for (line, path) in api_paths(&doc.text, &spans, |o| doc.line_of(o)) {
            if path.contains("...") || path.contains('…') || path.is_empty() {
                continue;
            }
            if !routes.iter().any(|(_, r)| matches(&path, r)) {
                problems.push(format!(
                    "{}: `/api/{path}` is not the route of any HTTP function (routes: {}): fix the path",
                    doc.at(line),
                    routes.iter().map(|(_, r)| format!("/api/{r}")).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for (at, _) in doc.text.match_indices("POST /") {
            let name: String = doc.text[at + 6..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with(|c: char| c.is_ascii_uppercase())
                && !handler.contains(&format!("/{name}"))
            {
                problems.push(format!(
                    "{}: `POST /{name}` is not a route of the handler ({}): fix the name",
                    doc.at(doc.line_of(at)),
                    handler.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    report("routes named by the docs", problems);
}

#[test]
fn the_route_rules_find_what_they_should() {
    assert!(matches(
        "metrics/rules/card_decline_rate",
        "metrics/rules/{rule}"
    ));
    assert!(!matches("metrics/rules", "metrics/rules/{rule}"));
    let text =
        "see tests/api/alerts.rs, `GET /api/health?code=x` and https://a.b.net/api/metrics/5m.";
    let paths: Vec<String> = api_paths(text, &[(1, "api/dashboard".into())], |_| 1)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(paths, ["health", "metrics/5m", "dashboard"]);
}
