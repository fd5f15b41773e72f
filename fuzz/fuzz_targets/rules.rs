//! The rule compiler (`engine::rules::compile`), reached as the handler reaches it: a rule
//! in the engine settings. The input is the rule's parts, one a line (name, `where`,
//! `aggregate`, `window`, then the `group_by` fields), so the fuzzer works on the CEL text
//! itself; they are written into the YAML as quoted strings. Beside it stands a valid rule,
//! which a problem of the fuzzed one must not be blamed on.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use paymetrics::settings::{EngineConfig, SettingsError};
use serde_json::{Map, Value, json};

const BESIDE: &str = "steady_count";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\n');
    let mut rule = Map::new();
    let name = parts.next().unwrap_or_default();
    rule.insert("name".into(), json!(name));
    for key in ["where", "aggregate", "window"] {
        match parts.next() {
            Some(part) if !part.is_empty() || key == "aggregate" => {
                rule.insert(key.into(), json!(part));
            }
            _ => {}
        }
    }
    let group_by: Vec<&str> = parts.collect();
    if !group_by.is_empty() {
        rule.insert("group_by".into(), json!(group_by));
    }
    // JSON is YAML: each part arrives exactly as written, whatever it holds.
    let rules =
        json!([{"name": BESIDE, "window": "1h", "aggregate": "count()"}, Value::Object(rule)]);
    let yaml = format!("rules: {rules}\n");
    match EngineConfig::from_yaml(&yaml, Path::new("fuzz.yaml")) {
        Ok(config) => {
            assert_eq!(config.rules.len(), 2, "{yaml}");
            paymetrics_fuzz::check_rules(&config.rules);
        }
        Err(SettingsError::Rules { errors, .. }) => {
            paymetrics_fuzz::check_rule_errors(&errors, &[BESIDE, name]);
            assert!(
                errors.iter().all(|e| e.rule != BESIDE || name == BESIDE),
                "the valid rule was blamed: {errors:?}"
            );
        }
        // Only text YAML cannot hold (a lone surrogate escape, say) stops before the rules.
        Err(error) => assert!(error.to_string().contains("fuzz.yaml"), "{error}"),
    }
});
