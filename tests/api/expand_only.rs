//! Migrations are expand-only: the staging slot migrates the database that production
//! still serves with the previous release, so no migration may drop or rename a table
//! or column, or change a column's type, unless it carries a contract marker
//! (`-- contract: <reason>; see docs/CI-CD-PIPELINE.md (two-release procedure)`).

/// Marks a migration as a deliberate contract step of the two-release procedure.
const CONTRACT_MARKER: &str = "-- contract:";

/// The statements of `sql` that would break the release before it, unless the file
/// carries [`CONTRACT_MARKER`] with a reason. Comments are ignored.
fn contract_changes(sql: &str) -> Vec<String> {
    let marked = sql.lines().any(|line| {
        line.trim_start()
            .to_ascii_lowercase()
            .strip_prefix(CONTRACT_MARKER)
            .is_some_and(|reason| !reason.trim().is_empty())
    });
    if marked {
        return Vec::new();
    }
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .filter(|statement| breaks_the_previous_release(statement))
        .map(|statement| statement.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn breaks_the_previous_release(statement: &str) -> bool {
    let words: Vec<String> = statement
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let at = |i: Option<usize>| i.and_then(|i| words.get(i)).map_or("", String::as_str);
    let drops_a_relation = words
        .windows(2)
        .any(|w| w[0] == "DROP" && matches!(w[1].as_str(), "TABLE" | "VIEW" | "MATERIALIZED"));
    if drops_a_relation {
        return true;
    }
    if !(at(Some(0)) == "ALTER" && matches!(at(Some(1)), "TABLE" | "VIEW" | "MATERIALIZED")) {
        return false;
    }
    (2..words.len()).any(|i| {
        let next = at(Some(i + 1));
        let back = |n: usize| at(i.checked_sub(n));
        match at(Some(i)) {
            // DROP [COLUMN] x, but not DROP CONSTRAINT / DEFAULT / NOT NULL / IDENTITY.
            "DROP" => !matches!(
                next,
                "CONSTRAINT" | "DEFAULT" | "NOT" | "EXPRESSION" | "IDENTITY"
            ),
            // RENAME TO, RENAME [COLUMN] x TO, but not RENAME CONSTRAINT.
            "RENAME" => next != "CONSTRAINT",
            // ALTER [COLUMN] x TYPE, ALTER [COLUMN] x SET DATA TYPE.
            "TYPE" => {
                back(1) == "DATA"
                    || back(2) == "ALTER"
                    || (back(2) == "COLUMN" && back(3) == "ALTER")
            }
            _ => false,
        }
    })
}

#[test]
fn no_migration_contracts_the_schema_without_a_marker() {
    let dir = format!("{}/migrations", env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            for statement in contract_changes(&std::fs::read_to_string(&path).unwrap()) {
                offenders.push(format!("{}: {statement}", path.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "migrations must be expand-only (docs/CI-CD-PIPELINE.md, two-release procedure); \
         mark a deliberate contract step with `{CONTRACT_MARKER} <reason>`:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_checker_flags_drops_renames_and_type_changes() {
    for sql in [
        "DROP TABLE rejected_events;",
        "drop table if exists late_events_5m cascade;",
        "DROP VIEW merchant_clusters_latest;",
        "ALTER TABLE rejected_events DROP COLUMN detail;",
        "ALTER TABLE rejected_events DROP detail;",
        "ALTER TABLE IF EXISTS ONLY rejected_events DROP COLUMN IF EXISTS detail;",
        "ALTER TABLE rejected_events RENAME TO quarantine;",
        "ALTER TABLE rejected_events RENAME COLUMN detail TO why;",
        "ALTER TABLE rejected_events RENAME detail TO why;",
        "ALTER TABLE rejected_events ALTER COLUMN reason TYPE varchar(40);",
        "ALTER TABLE rejected_events ALTER reason TYPE varchar(40);",
        "ALTER TABLE rejected_events ALTER COLUMN reason SET DATA TYPE varchar(40);",
        "CREATE INDEX x ON t (a);\nALTER TABLE t\n  ADD COLUMN b int,\n  DROP COLUMN a;",
    ] {
        assert_eq!(contract_changes(sql).len(), 1, "not flagged: {sql}");
    }
}

#[test]
fn the_checker_lets_expansions_and_marked_contract_steps_pass() {
    for sql in [
        "CREATE TABLE t (id int, type text);",
        "ALTER TABLE t ADD COLUMN type text;",
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS note text, ALTER COLUMN note SET DEFAULT '';",
        "ALTER TABLE t ALTER COLUMN note DROP DEFAULT, ALTER COLUMN note DROP NOT NULL;",
        "ALTER TABLE t DROP CONSTRAINT t_check, RENAME CONSTRAINT a TO b;",
        "DROP INDEX IF EXISTS t_idx; DROP FUNCTION f(int); DROP TRIGGER tr ON t;",
        "CREATE OR REPLACE VIEW v AS SELECT 1; CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
        "-- We never DROP TABLE here, and nothing is renamed.\nCREATE INDEX i ON t (a);",
        "-- contract: old_note unused since 0.3; see docs/CI-CD-PIPELINE.md (two-release procedure)\nALTER TABLE t DROP COLUMN old_note;",
    ] {
        assert_eq!(
            contract_changes(sql),
            Vec::<String>::new(),
            "flagged: {sql}"
        );
    }
    assert_eq!(
        contract_changes("-- contract:\nALTER TABLE t DROP COLUMN old_note;").len(),
        1,
        "a marker without a reason does not count"
    );
}
