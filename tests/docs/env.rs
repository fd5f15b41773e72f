//! Environment variables and app settings.
//!
//! What the code reads, found by these rules (and only these):
//! - Rust (`src/`, `tests/`, `benches/`, `tools/`): an upper-case string literal passed to `var(` or
//!   `var_os(` (`std::env`, or the simulator's closure around it), to the benches'
//!   `env_usize(`/`env_list(`, to the telemetry's `setting(`, to the settings reader's
//!   `get(`/`parse(`/`choice(`/`duration(` (in `src/settings/` only), or named by clap's
//!   `env = "..."`; `RUST_LOG` where tracing's `EnvFilter` reads its default variable;
//!   every literal of that shape with an underscore in `build.rs`, whose inputs are variables;
//! - shell (`scripts/`, `.ci/run`): `${NAME:-...}`, `${NAME-...}`, `${NAME:=...}`,
//!   `${NAME:?...}`, `${NAME:+...}` (and the forms without `:`) of an upper-case name;
//! - the browser test: `process.env.NAME`;
//! - the functions' `function.json`: `%NAME%` and the `connection` setting;
//! - the workflows: `secrets.NAME` and `vars.NAME`, which the repository's maintainers set.
//!
//! Each must be named in a doc. Cargo's own (`CARGO_*`, `OUT_DIR`) are left out, and
//! those the platform sets are on the commented `SET_BY_THE_PLATFORM` list.
//!
//! A variable in the docs is a word of that shape (`[A-Z][A-Z0-9]*(_[A-Z0-9]+)+`) anywhere
//! in the text when its first part is the first part of a variable the code reads
//! (`PAYMETRICS_`, `AZURE_`, `EVENTHUBS_`, ...), and a code span that is such a word (any
//! first part), `$NAME`, `${NAME}`, or `NAME=value` of an upper-case name
//! (`` `CHROMIUM=path` ``). It must occur in the code files (`code_files`).

use std::collections::{BTreeMap, BTreeSet};

use super::{code_words, docs, files_under, function_folders, has_word, read, report, words};

/// Variables the code reads that the docs need not name, because the platform sets them.
/// Each must still be read by the code (a stale entry fails).
const SET_BY_THE_PLATFORM: &[(&str, &str)] = &[
    (
        "PATH",
        "the operating system's search path (tests put the az and curl stand-ins first)",
    ),
    (
        "LLVM_PROFILE_FILE",
        "set by the coverage tools for an instrumented run",
    ),
    ("GITHUB_ACTIONS", "set by GitHub Actions on every run"),
    ("GITHUB_SHA", "set by GitHub Actions on every run"),
    (
        "IDENTITY_ENDPOINT",
        "set by App Service (Functions) when a managed identity is enabled",
    ),
    (
        "MSI_ENDPOINT",
        "set by App Service (Functions) when a managed identity is enabled",
    ),
];

/// Whether `name` has the shape of an environment variable: `[A-Z][A-Z0-9]*(_[A-Z0-9]+)+`.
pub fn env_shaped(name: &str) -> bool {
    let mut parts = name.split('_');
    let first = parts.next().unwrap_or("");
    let upper = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    first.starts_with(|c: char| c.is_ascii_uppercase())
        && upper(first)
        && name.contains('_')
        && parts.all(upper)
}

/// Whether `name` is upper case (`[A-Z][A-Z0-9_]*`), as the code's variables are.
fn upper_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Set by Cargo for builds, tests and benches: not the user's to set.
fn set_by_cargo(name: &str) -> bool {
    name.starts_with("CARGO_") || name == "CARGO" || name == "OUT_DIR"
}

/// The text with `//` comment lines blanked (line numbers kept).
fn without_line_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(name, file:line)` of every variable read by the Rust file `path`.
fn rust_reads(path: &str, text: &str) -> Vec<(String, String)> {
    const READERS: &[&str] = &["var", "var_os", "env_usize", "env_list", "setting"];
    const SETTINGS_READERS: &[&str] = &["get", "parse", "choice", "duration"];
    let text = without_line_comments(text);
    let mut out = Vec::new();
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut i = 0;
    while let Some(found) = text[i..].find('"') {
        let open = i + found;
        let Some(len) = text[open + 1..].find('"') else {
            break;
        };
        let close = open + 1 + len;
        let name = &text[open + 1..close];
        i = close + 1;
        if !upper_name(name) {
            continue;
        }
        let before = text[..open].trim_end();
        let read = if path == "build.rs" {
            env_shaped(name)
        } else if let Some(call) = before.strip_suffix('(') {
            let ident: String = call
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            READERS.contains(&ident.as_str())
                || (path.starts_with("src/settings/") && SETTINGS_READERS.contains(&ident.as_str()))
        } else {
            let before = before.strip_suffix('=').map(str::trim_end);
            before.is_some_and(|b| b.ends_with(" env") || b.ends_with("(env"))
        };
        if read {
            out.push((name.to_owned(), format!("{path}:{}", line_of(open))));
        }
    }
    for (offset, _) in text.match_indices("from_default_env") {
        out.push(("RUST_LOG".to_owned(), format!("{path}:{}", line_of(offset))));
    }
    out
}

/// `(name, file:line)` of every `${NAME<op>` of an upper-case name in a shell script.
fn shell_reads(path: &str, text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("${") {
            rest = &rest[at + 2..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let after = &rest[name.len()..];
            let op = after.strip_prefix(':').unwrap_or(after);
            if upper_name(&name) && op.starts_with(['-', '=', '?', '+']) {
                out.push((name, format!("{path}:{}", n + 1)));
            }
        }
    }
    out
}

/// `(name, file:line)` of each occurrence of `prefix` followed by a name in `text`.
fn prefixed_reads(path: &str, text: &str, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices(prefix) {
            if line[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = line[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((name, format!("{path}:{}", n + 1)));
            }
        }
    }
    out
}

/// `(name, file:line)` of the app settings a `function.json` names: `%NAME%` values and
/// the `connection` setting.
fn binding_reads(path: &str, text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("{path}:{}", n + 1);
        let mut rest = line;
        while let Some(open) = rest.find('%') {
            let Some(len) = rest[open + 1..].find('%') else {
                break;
            };
            let name = &rest[open + 1..open + 1 + len];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.push((name.to_owned(), at.clone()));
            }
            rest = &rest[open + len + 2..];
        }
        if let Some(value) = line.trim().strip_prefix("\"connection\":") {
            let name = value.trim().trim_end_matches(',').trim_matches('"');
            out.push((name.to_owned(), at.clone()));
        }
    }
    out
}

/// Every variable and app setting the code reads, with the first place it is read.
pub fn code_reads() -> BTreeMap<String, String> {
    let mut reads = Vec::new();
    let mut rust = vec!["build.rs".to_owned()];
    for dir in ["src", "tests", "benches", "tools"] {
        rust.extend(
            files_under(dir)
                .into_iter()
                .filter(|f| f.ends_with(".rs") && !f.starts_with("tests/docs/")),
        );
    }
    for file in &rust {
        reads.extend(rust_reads(file, &read(file)));
    }
    let mut shell: Vec<String> = files_under("scripts")
        .into_iter()
        .filter(|f| f.ends_with(".sh") || read(f).starts_with("#!/usr/bin/env bash"))
        .collect();
    shell.push(".ci/run".to_owned());
    for file in &shell {
        reads.extend(shell_reads(file, &read(file)));
    }
    for file in files_under("tests/browser")
        .into_iter()
        .filter(|f| f.ends_with(".mjs"))
    {
        reads.extend(prefixed_reads(&file, &read(&file), "process.env."));
    }
    for folder in function_folders() {
        let file = format!("{folder}/function.json");
        reads.extend(binding_reads(&file, &read(&file)));
    }
    for file in files_under(".github/workflows") {
        let text = read(&file);
        reads.extend(prefixed_reads(&file, &text, "secrets."));
        reads.extend(prefixed_reads(&file, &text, "vars."));
    }
    let mut first = BTreeMap::new();
    for (name, at) in reads {
        if !set_by_cargo(&name) {
            first.entry(name).or_insert(at);
        }
    }
    first
}

#[test]
fn every_variable_the_code_reads_is_documented() {
    let docs = docs();
    let reads = code_reads();
    let platform: BTreeSet<&str> = SET_BY_THE_PLATFORM.iter().map(|(n, _)| *n).collect();
    let mut problems = Vec::new();
    for (name, at) in &reads {
        if platform.contains(name.as_str()) {
            continue;
        }
        if !docs.iter().any(|d| has_word(&d.text, name)) {
            problems.push(format!(
                "{at}: `{name}` is read here but named in no doc: add it, with its default and \
                 meaning, to the doc of its reader (README.md's settings or docs/CONFIGURATION.md \
                 for the handler, docs/SIMULATOR.md, docs/TESTING-PROCEDURES.md, docs/BENCHMARKS.md, \
                 docs/CI-CD-PIPELINE.md)"
            ));
        }
    }
    for name in &platform {
        if !reads.contains_key(*name) {
            problems.push(format!(
                "tests/docs/env.rs: `{name}` is in SET_BY_THE_PLATFORM but no code reads it any \
                 more: remove the entry"
            ));
        }
    }
    report("environment variables read by the code", problems);
}

/// Variables the docs tell the reader to set for another program, which the project's
/// code does not read.
const READ_BY_OTHER_PROGRAMS: &[(&str, &str)] = &[(
    "PGPASSWORD",
    "libpq's password variable: psql reads it (an Entra token as the password)",
)];

/// The variable a code span names, if it is one: `NAME`, `$NAME`, `${NAME}` of an
/// environment variable's shape, or `NAME=value` of an upper-case name.
fn span_variable(span: &str) -> Option<&str> {
    if let Some((name, _)) = span.split_once('=') {
        return upper_name(name).then_some(name);
    }
    let name = span
        .trim_start_matches('$')
        .trim_start_matches('{')
        .trim_end_matches('}');
    env_shaped(name).then_some(name)
}

#[test]
fn every_variable_the_docs_name_exists_in_the_code() {
    let code = code_words();
    // The first part of every variable the code reads (`PAYMETRICS`, `AZURE`, ...): an
    // upper-case word of the docs with one of them is a variable wherever it stands; other
    // words only in a code span (`$APP_ID` in a runbook is the reader's own shell variable).
    let prefixes: BTreeSet<String> = code_reads()
        .keys()
        .filter(|n| env_shaped(n))
        .filter_map(|n| n.split('_').next())
        .map(str::to_owned)
        .collect();
    let others: BTreeSet<&str> = READ_BY_OTHER_PROGRAMS.iter().map(|(n, _)| *n).collect();
    let mut problems = Vec::new();
    for doc in docs() {
        let mut named: Vec<(usize, &str)> = words(&doc.text)
            .into_iter()
            .filter(|(_, w)| env_shaped(w) && prefixes.contains(w.split('_').next().unwrap()))
            .map(|(offset, w)| (doc.line_of(offset), w))
            .collect();
        named.extend(
            doc.spans
                .iter()
                .filter_map(|s| span_variable(&s.text).map(|n| (s.line, n))),
        );
        let mut seen = BTreeSet::new();
        for (line, name) in named {
            if !code.contains(name) && !others.contains(name) && seen.insert(name) {
                problems.push(format!(
                    "{}: `{name}` is named here but occurs nowhere in the code, scripts, \
                     workflows or Terraform: fix the name or remove it",
                    doc.at(line)
                ));
            }
        }
    }
    report("environment variables named by the docs", problems);
}

#[test]
fn the_read_rules_find_what_they_should() {
    assert!(env_shaped("PAYMETRICS_DB_HOST") && env_shaped("TLS1_2"));
    assert!(
        !env_shaped("USD")
            && !env_shaped("EventHubName")
            && !env_shaped("A__B")
            && !env_shaped("_A")
    );
    let rust = "let a = std::env::var(\"A_B\");\n// var(\"C_D\")\nself.choice(\n  \"E_F\", x);\n\
                #[arg(long, env = \"G_H\")]\nmap.get(\"I_J\");\nEnvFilter::try_from_default_env()";
    let names: Vec<String> = rust_reads("src/x.rs", rust)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["A_B", "G_H", "RUST_LOG"]);
    let names: Vec<String> = rust_reads("src/settings/mod.rs", rust)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["A_B", "E_F", "G_H", "I_J", "RUST_LOG"]);
    let sh = "a=\"${DEMO_HOURS:-3}\"\n# ${NOT_THIS:-x}\nb=${lower:-1} ${REQ:?set it} $PLAIN ${X-1}";
    let names: Vec<String> = shell_reads("s.sh", sh)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["DEMO_HOURS", "REQ", "X"]);
    assert_eq!(span_variable("CHROMIUM=path"), Some("CHROMIUM"));
    assert_eq!(span_variable("${DEMO_HOURS}"), Some("DEMO_HOURS"));
    assert_eq!(span_variable("COPY"), None);
    assert_eq!(span_variable("a=b"), None);
    let json =
        "\"schedule\": \"%PAYMETRICS_WINDOW_SCHEDULE%\",\n\"connection\": \"EventHubConnection\",";
    let names: Vec<String> = binding_reads("f.json", json)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["PAYMETRICS_WINDOW_SCHEDULE", "EventHubConnection"]);
}
