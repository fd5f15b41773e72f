//! The tables and views of the schema.
//!
//! The schema's relations are those `migrations/*.sql` create (`CREATE TABLE [IF NOT
//! EXISTS] name`, `CREATE [OR REPLACE] VIEW name`), the migration ledger the handler
//! creates in `src/store/` (`CREATE TABLE IF NOT EXISTS schema_migrations`), and the
//! day partitions of a partitioned table (`name_p` and eight digits). Each relation of
//! the migrations must occur in a code span or block of some doc.
//!
//! A table name in the docs is a code span of one snake_case name directly followed by
//! the word `table` or `view` (`` `window_state` table ``) or directly after it
//! (`` table `window_state` ``), and the name after `FROM`, `JOIN`, `INTO`, `UPDATE` or
//! `TABLE` in a code span or a fenced block (in any case in `sql` blocks, upper case
//! elsewhere), unless a function call, a `WITH` name of the same block, a schema other
//! than `public`, or PostgreSQL's own catalog (`pg_*`).

use std::collections::BTreeSet;

use super::{docs, files_under, has_word, read, report};

/// The names `CREATE TABLE`/`CREATE VIEW` create in `text`.
fn created(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    let mut out = Vec::new();
    for pattern in [
        "CREATE TABLE ",
        "CREATE VIEW ",
        "CREATE OR REPLACE VIEW ",
        "CREATE MATERIALIZED VIEW ",
    ] {
        for (at, _) in upper.match_indices(pattern) {
            let mut rest = text[at + pattern.len()..].trim_start();
            if rest.to_ascii_uppercase().starts_with("IF NOT EXISTS ") {
                rest = rest["IF NOT EXISTS ".len()..].trim_start();
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            let name = name.trim_start_matches("public.");
            if !name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase()) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// The relations the migrations create, sorted.
pub fn migration_relations() -> BTreeSet<String> {
    files_under("migrations")
        .iter()
        .filter(|f| f.ends_with(".sql"))
        .flat_map(|f| created(&read(f)))
        .collect()
}

/// Every relation a query may name: the migrations' and the ledger.
fn relations() -> BTreeSet<String> {
    let mut all = migration_relations();
    for file in files_under("src/store")
        .iter()
        .filter(|f| f.ends_with(".rs"))
    {
        all.extend(created(&read(file)));
    }
    all
}

fn is_relation(name: &str, relations: &BTreeSet<String>) -> bool {
    if relations.contains(name) || name.starts_with("pg_") || name == "information_schema" {
        return true;
    }
    // A day partition: `normalized_transactions_p20261201`.
    name.rsplit_once("_p").is_some_and(|(table, day)| {
        day.len() == 8 && day.chars().all(|c| c.is_ascii_digit()) && relations.contains(table)
    })
}

fn snake(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The relation names a query text uses after `FROM`, `JOIN`, `INTO`, `UPDATE`, `TABLE`.
fn query_names(text: &str, any_case: bool, ctes: &BTreeSet<String>) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    for pair in words.windows(2) {
        let keyword = pair[0].trim_start_matches('(');
        let matches = ["FROM", "JOIN", "INTO", "UPDATE", "TABLE"].iter().any(|k| {
            if any_case {
                keyword.eq_ignore_ascii_case(k)
            } else {
                keyword == *k
            }
        });
        if !matches {
            continue;
        }
        let target = pair[1].trim_end_matches([',', ';', ')']);
        if target.contains('(') {
            continue;
        }
        let (schema, name) = target
            .rsplit_once('.')
            .map_or(("public", target), |(s, n)| (s, n));
        if schema != "public" || !snake(name) || ctes.contains(name) {
            continue;
        }
        out.push(name.to_owned());
    }
    out
}

/// The `WITH name AS (` names of a query text.
fn cte_names(text: &str) -> BTreeSet<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|p| p[1].eq_ignore_ascii_case("AS") || p[1].eq_ignore_ascii_case("AS("))
        .map(|p| p[0].trim_start_matches(',').to_owned())
        .filter(|n| snake(n))
        .collect()
}

#[test]
fn every_table_is_documented() {
    let docs = docs();
    let mut problems = Vec::new();
    for table in migration_relations() {
        let named = docs.iter().any(|d| {
            d.spans.iter().any(|s| has_word(&s.text, &table))
                || d.blocks.iter().any(|b| has_word(&b.text, &table))
        });
        if !named {
            problems.push(format!(
                "table or view `{table}` (migrations/) is named in no doc: say what it holds, in a \
                 code span, in the doc of its feature (docs/WINDOWS.md, docs/ALERTS.md, docs/CLUSTERING.md, \
                 docs/EVENT-FORMATS.md, docs/API.md ...)"
            ));
        }
    }
    report("tables of the migrations", problems);
}

#[test]
fn every_table_the_docs_name_exists() {
    let relations = relations();
    let mut problems = Vec::new();
    for doc in docs() {
        let mut found: Vec<(usize, String)> = Vec::new();
        // `name` table / table `name`, in the prose around the spans.
        for (offset, _) in doc.text.match_indices('`') {
            let rest = &doc.text[offset + 1..];
            let Some(end) = rest.find('`') else { continue };
            let name = &rest[..end];
            if !snake(name) {
                continue;
            }
            let after = rest[end + 1..].trim_start_matches(',');
            let before = doc.text[..offset].trim_end();
            let word_after = after.split_whitespace().next().unwrap_or("");
            let word_after = word_after.trim_end_matches([',', '.', ';', ':', ')']);
            let table_after = after.starts_with(' ')
                && matches!(word_after, "table" | "view" | "tables" | "views");
            let table_before = before.ends_with(" table")
                || before.ends_with(" view")
                || before.ends_with("\ntable");
            if table_after || table_before {
                found.push((doc.line_of(offset), name.to_owned()));
            }
        }
        for span in &doc.spans {
            found.extend(
                query_names(&span.text, false, &cte_names(&span.text))
                    .into_iter()
                    .map(|n| (span.line, n)),
            );
        }
        let block_text: String = doc
            .blocks
            .iter()
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let ctes = cte_names(&block_text);
        for line in &doc.blocks {
            if line.lang == "kusto" || line.lang == "hcl" {
                continue;
            }
            let text = line.text.split("--").next().unwrap_or("");
            found.extend(
                query_names(text, line.lang == "sql", &ctes)
                    .into_iter()
                    .map(|n| (line.line, n)),
            );
        }
        let mut seen = BTreeSet::new();
        for (line, name) in found {
            if !is_relation(&name, &relations) && seen.insert(name.clone()) {
                problems.push(format!(
                    "{}: `{name}` is used as a table but no migration creates it (tables: {}): fix the name",
                    doc.at(line),
                    relations.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    report("tables named by the docs", problems);
}

#[test]
fn the_table_rules_find_what_they_should() {
    let sql = "CREATE TABLE IF NOT EXISTS a_b (x int);\ncreate view c AS SELECT 1;\nEXECUTE format('CREATE TABLE %I PARTITION OF')";
    assert_eq!(created(sql), ["a_b", "c"]);
    let ctes = cte_names(
        "WITH recent AS (SELECT 1) SELECT * FROM recent JOIN payment_metrics_5m m ON true",
    );
    let names = query_names(
        "WITH recent AS (SELECT 1) SELECT * FROM recent JOIN payment_metrics_5m m, FROM generate_series(1, 2) FROM pg_catalog.pg_class",
        false,
        &ctes,
    );
    assert_eq!(names, ["payment_metrics_5m"]);
    assert_eq!(
        query_names("select x from y", true, &BTreeSet::new()),
        ["y"]
    );
    assert!(query_names("select x from y", false, &BTreeSet::new()).is_empty());
    let relations: BTreeSet<String> = ["normalized_transactions".to_owned()].into();
    assert!(is_relation("normalized_transactions_p20261201", &relations));
    assert!(!is_relation("normalized_transactions_2026", &relations));
}
