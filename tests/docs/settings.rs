//! The keys of the engine settings file (`config/engine.yaml`).
//!
//! The keys come from the engine's own parser: every section refuses unknown keys, and
//! its error lists the keys it knows. So the file's sections are what a top-level unknown
//! key is told, and each section's keys what an unknown key inside it is told (inside a
//! list item for `rules` and `alerts`).
//!
//! A key is documented when a code span of docs/CONFIGURATION.md, RULES.md, ALERTS.md,
//! CLUSTERING.md or WINDOWS.md is `key` or `section.key`, alone or followed by `:`, a
//! space or `(`. A settings name in any doc is a code span starting with `section.key`
//! where `section` is a section with keys (`ingest.max_age`, `windows.allowed_lateness: 2m`);
//! it must be a key of that section, unless it names a file of `src/` (`windows.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use paymetrics::settings::EngineConfig;

use super::{docs, files_under, report};

const SETTINGS_DOCS: &[&str] = &[
    "docs/CONFIGURATION.md",
    "docs/RULES.md",
    "docs/ALERTS.md",
    "docs/CLUSTERING.md",
    "docs/WINDOWS.md",
];

/// The fields a parse error of `yaml` says it expected after an unknown field
/// (`` unknown field `zz`, expected one of a, b, c ``, or `` expected `a` or `b` ``).
fn expected(yaml: &str) -> Option<Vec<String>> {
    let err = EngineConfig::from_yaml(yaml, Path::new("probe.yaml"))
        .err()?
        .to_string();
    let (_, rest) = err.split_once("unknown field `")?;
    let (_, list) = rest.split_once("`, expected ")?;
    let list = list.lines().next().unwrap_or("");
    let list = list.strip_prefix("one of ").unwrap_or(list);
    let names: Vec<String> = list
        .split(", ")
        .flat_map(|part| part.split(" or "))
        .map(|name| name.trim().trim_matches('`').to_owned())
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    (!names.is_empty()).then_some(names)
}

/// Section to its keys, from the parser.
pub fn engine_keys() -> BTreeMap<String, Vec<String>> {
    let sections = expected("zz_not_a_section: 1\n")
        .expect("the engine file refuses an unknown section, naming the known ones");
    sections
        .into_iter()
        .map(|section| {
            let keys = expected(&format!("{section}:\n  zz_not_a_key: 1\n"))
                .or_else(|| expected(&format!("{section}:\n  - zz_not_a_key: 1\n")))
                .unwrap_or_default();
            (section, keys)
        })
        .collect()
}

/// Whether a code span names `name` (alone, or followed by `:`, ` ` or `(`).
fn span_names(span: &str, name: &str) -> bool {
    span.strip_prefix(name)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ', '(']))
}

#[test]
fn every_engine_setting_is_documented() {
    let keys = engine_keys();
    for section in ["ingest", "windows", "rules", "alerts"] {
        assert!(
            keys.get(section).is_some_and(|k| !k.is_empty()),
            "the parser's errors no longer list the keys of `{section}` ({keys:?}): this test must read them another way"
        );
    }
    let docs = docs();
    let spans: Vec<&str> = docs
        .iter()
        .filter(|d| SETTINGS_DOCS.contains(&d.path.as_str()))
        .flat_map(|d| d.spans.iter().map(|s| s.text.as_str()))
        .collect();
    let mut problems = Vec::new();
    for (section, keys) in &keys {
        let dotted = format!("{section}.");
        if !spans
            .iter()
            .any(|s| span_names(s, section) || s.starts_with(&dotted))
        {
            problems.push(format!(
                "engine settings section `{section}` is named in none of {}: document it in docs/CONFIGURATION.md",
                SETTINGS_DOCS.join(", ")
            ));
        }
        for key in keys {
            let full = format!("{section}.{key}");
            if !spans
                .iter()
                .any(|s| span_names(s, &full) || span_names(s, key))
            {
                problems.push(format!(
                    "engine setting `{full}` is named in none of {}: document it (default and \
                     meaning) in docs/CONFIGURATION.md or the section's own doc",
                    SETTINGS_DOCS.join(", ")
                ));
            }
        }
    }
    report("engine settings keys", problems);
}

#[test]
fn every_setting_the_docs_name_exists() {
    let keys = engine_keys();
    let files: Vec<String> = files_under("src")
        .into_iter()
        .filter_map(|f| f.rsplit('/').next().map(str::to_owned))
        .collect();
    let mut problems = Vec::new();
    for doc in docs() {
        for span in &doc.spans {
            for (section, known) in keys.iter().filter(|(_, k)| !k.is_empty()) {
                let Some(rest) = span.text.strip_prefix(&format!("{section}.")) else {
                    continue;
                };
                let key: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if key.is_empty()
                    || files.contains(&format!("{section}.{}", rest.split(' ').next().unwrap()))
                {
                    continue;
                }
                if !known.contains(&key) {
                    problems.push(format!(
                        "{}: `{section}.{key}` is not an engine setting (`{section}` has: {}): fix the name or remove it",
                        doc.at(span.line),
                        known.join(", ")
                    ));
                }
            }
        }
    }
    report("engine settings named by the docs", problems);
}
