//! docs/API.md's "The tables and their columns" is the database as migrated: every table
//! and view of a freshly migrated database has a section there, and each section lists
//! exactly the table's columns with their types and nullability, and its primary key.
//!
//! The section's format, one block per table:
//!
//! ```text
//! ### table_name
//!
//! **Contract.** What it holds ...   (or **Internal.**)
//!
//! Primary key: `a`, `b`.           (or "Primary key: none (a view).")
//!
//! | column | type | null | meaning |
//! | --- | --- | --- | --- |
//! | `a` | timestamptz | no | ... |
//! ```
//!
//! Types are written as PostgreSQL's short names (`bigint`, `integer`, `smallint`,
//! `boolean`, `double precision`, `timestamptz`, `text[]`, `text`, `numeric`, `jsonb`,
//! `bytea`). `null` is `yes` or `no`; for a view it is not compared (PostgreSQL reports
//! every view column as nullable).

use std::collections::BTreeMap;
use std::path::Path;

use crate::helpers::TestDb;

const SECTION: &str = "## The tables and their columns";
const COLUMNS_HEADER: &str = "| column | type | null | meaning |";

/// How to fix a failure, printed with it.
const HOW_TO_FIX: &str = "docs/API.md (section \"The tables and their columns\") no longer \
matches the migrated schema. If a migration added or changed a table or column, document it \
there: a `### table` heading, **Contract.** or **Internal.**, the `Primary key:` line and one \
`| column | type | null | meaning |` row per column, with the type as PostgreSQL names it \
(see the format at the top of tests/api/schema_contract.rs). If the documentation is wrong, \
correct it to what migrations/*.sql create.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Contract,
    Internal,
}

#[derive(Debug)]
struct DocumentedTable {
    kind: Option<Kind>,
    /// `None` for "Primary key: none".
    primary_key: Option<Vec<String>>,
    has_primary_key_line: bool,
    /// column -> (type, nullable)
    columns: BTreeMap<String, (String, bool)>,
    problems: Vec<String>,
}

fn api_md() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/API.md");
    std::fs::read_to_string(path).expect("docs/API.md")
}

fn unquote(cell: &str) -> String {
    cell.trim().trim_matches('`').trim().to_owned()
}

/// The section's tables, by name.
fn documented_tables(text: &str) -> BTreeMap<String, DocumentedTable> {
    let start = text
        .lines()
        .position(|l| l.trim_end() == SECTION)
        .unwrap_or_else(|| panic!("docs/API.md has no line `{SECTION}`. {HOW_TO_FIX}"));
    let lines: Vec<&str> = text
        .lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .collect();
    let mut tables = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(heading) = lines[i].strip_prefix("### ") else {
            i += 1;
            continue;
        };
        let name = unquote(heading);
        let end = lines[i + 1..]
            .iter()
            .position(|l| l.starts_with("### "))
            .map_or(lines.len(), |p| i + 1 + p);
        let block = &lines[i + 1..end];
        tables.insert(name.clone(), parse_block(&name, block));
        i = end;
    }
    tables
}

fn parse_block(name: &str, block: &[&str]) -> DocumentedTable {
    let mut table = DocumentedTable {
        kind: None,
        primary_key: None,
        has_primary_key_line: false,
        columns: BTreeMap::new(),
        problems: Vec::new(),
    };
    if name.contains(char::is_whitespace) {
        table
            .problems
            .push(format!("heading `### {name}` is not a bare table name"));
    }
    let mut in_columns = false;
    for line in block {
        let line = line.trim_end();
        if line.starts_with("**Contract.**") {
            table.kind = Some(Kind::Contract);
        } else if line.starts_with("**Internal.**") {
            table.kind = Some(Kind::Internal);
        }
        if let Some(rest) = line.strip_prefix("Primary key:") {
            table.has_primary_key_line = true;
            let names: Vec<String> = rest
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            table.primary_key = (!names.is_empty()).then_some(names);
        }
        if line == COLUMNS_HEADER {
            in_columns = true;
            continue;
        }
        if in_columns {
            if !line.starts_with('|') {
                in_columns = false;
                continue;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            if cells.iter().all(|c| c.trim().chars().all(|ch| ch == '-')) {
                continue; // the separator row
            }
            if cells.len() != 4 {
                table
                    .problems
                    .push(format!("row `{line}` does not have 4 cells"));
                continue;
            }
            let column = unquote(cells[0]);
            let ty = unquote(cells[1]);
            let nullable = match cells[2].trim() {
                "yes" => true,
                "no" => false,
                other => {
                    table.problems.push(format!(
                        "column {column}: null is `{other}`, expected `yes` or `no`"
                    ));
                    continue;
                }
            };
            if table
                .columns
                .insert(column.clone(), (ty, nullable))
                .is_some()
            {
                table
                    .problems
                    .push(format!("column {column} is documented twice"));
            }
        }
    }
    if table.kind.is_none() {
        table
            .problems
            .push("no **Contract.** or **Internal.** line".to_owned());
    }
    if !table.has_primary_key_line {
        table.problems.push("no `Primary key:` line".to_owned());
    }
    if table.columns.is_empty() {
        table
            .problems
            .push(format!("no `{COLUMNS_HEADER}` table with rows"));
    }
    table
}

/// PostgreSQL's `udt_name` as the documentation writes it.
fn type_name(udt: &str) -> String {
    match udt {
        "int8" => "bigint".to_owned(),
        "int4" => "integer".to_owned(),
        "int2" => "smallint".to_owned(),
        "bool" => "boolean".to_owned(),
        "float8" => "double precision".to_owned(),
        "float4" => "real".to_owned(),
        other => match other.strip_prefix('_') {
            Some(element) => format!("{}[]", type_name(element)),
            None => other.to_owned(),
        },
    }
}

struct ActualTable {
    is_view: bool,
    /// column -> (type, nullable), in no particular order
    columns: BTreeMap<String, (String, bool)>,
    primary_key: Option<Vec<String>>,
}

/// Every table and view of the public schema (day partitions of a partitioned table
/// left out: they are their parent).
async fn actual_tables(client: &tokio_postgres::Client) -> BTreeMap<String, ActualTable> {
    let rows = client
        .query(
            "SELECT c.table_name::text, t.table_type::text, c.column_name::text,
                    c.udt_name::text, c.is_nullable = 'YES'
             FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
             JOIN pg_class k ON k.relname = c.table_name
             JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = c.table_schema
             WHERE c.table_schema = 'public' AND NOT k.relispartition
             ORDER BY c.table_name, c.ordinal_position",
            &[],
        )
        .await
        .unwrap();
    let mut tables: BTreeMap<String, ActualTable> = BTreeMap::new();
    for row in rows {
        let table: String = row.get(0);
        let kind: String = row.get(1);
        let entry = tables.entry(table).or_insert_with(|| ActualTable {
            is_view: kind == "VIEW",
            columns: BTreeMap::new(),
            primary_key: None,
        });
        let udt: String = row.get(3);
        entry
            .columns
            .insert(row.get(2), (type_name(&udt), row.get(4)));
    }
    let keys = client
        .query(
            "SELECT tc.table_name::text, k.column_name::text
             FROM information_schema.table_constraints tc
             JOIN information_schema.key_column_usage k
               ON k.constraint_schema = tc.constraint_schema
              AND k.constraint_name = tc.constraint_name
              AND k.table_name = tc.table_name
             WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY'
             ORDER BY tc.table_name, k.ordinal_position",
            &[],
        )
        .await
        .unwrap();
    for row in keys {
        let table: String = row.get(0);
        if let Some(entry) = tables.get_mut(&table) {
            entry
                .primary_key
                .get_or_insert_with(Vec::new)
                .push(row.get(1));
        }
    }
    tables
}

#[tokio::test]
async fn the_documented_tables_and_columns_are_the_migrated_schema() {
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let actual = actual_tables(&client).await;
    let documented = documented_tables(&api_md());
    assert!(
        actual.contains_key("payment_metrics_5m") && actual.contains_key("schema_migrations"),
        "the migrated database has its tables: {:?}",
        actual.keys().collect::<Vec<_>>()
    );

    let mut failures = Vec::new();
    for (name, table) in &documented {
        for problem in &table.problems {
            failures.push(format!("{name}: {problem}"));
        }
        let Some(real) = actual.get(name) else {
            failures.push(format!(
                "{name}: documented, but the migrated database has no such table or view"
            ));
            continue;
        };
        for (column, (ty, nullable)) in &table.columns {
            match real.columns.get(column) {
                None => failures.push(format!(
                    "{name}.{column}: documented, but the table has no such column"
                )),
                Some((real_ty, real_nullable)) => {
                    if real_ty != ty {
                        failures.push(format!(
                            "{name}.{column}: documented as {ty}, but it is {real_ty}"
                        ));
                    }
                    if !real.is_view && real_nullable != nullable {
                        let says = |n: bool| if n { "yes" } else { "no" };
                        failures.push(format!(
                            "{name}.{column}: documented null `{}`, but it is `{}`",
                            says(*nullable),
                            says(*real_nullable)
                        ));
                    }
                }
            }
        }
        for column in real.columns.keys() {
            if !table.columns.contains_key(column) {
                let kind = match table.kind {
                    Some(Kind::Contract) => "contract table",
                    _ => "table",
                };
                failures.push(format!(
                    "{name}.{column}: a column of a {kind} that is not documented"
                ));
            }
        }
        if table.has_primary_key_line && table.primary_key != real.primary_key {
            failures.push(format!(
                "{name}: documented primary key {:?}, but it is {:?}",
                table.primary_key, real.primary_key
            ));
        }
    }
    for name in actual.keys() {
        if !documented.contains_key(name) {
            failures.push(format!(
                "{name}: a table or view of the migrated database with no section"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{HOW_TO_FIX}\n\n- {}",
        failures.join("\n- ")
    );
}

#[test]
fn the_tables_other_tools_rely_on_are_documented_as_contract() {
    let documented = documented_tables(&api_md());
    let mut failures = Vec::new();
    for (table, columns) in paymetrics::store::CONTRACT {
        match documented.get(*table) {
            Some(doc) if doc.kind == Some(Kind::Contract) => {
                for column in *columns {
                    if !doc.columns.contains_key(*column) {
                        failures.push(format!("{table}.{column} is not documented"));
                    }
                }
            }
            Some(_) => failures.push(format!(
                "{table} is in store::CONTRACT (what `handler verify-schema` checks) \
                 but not documented as **Contract.**"
            )),
            None => failures.push(format!("{table} has no section")),
        }
    }
    assert!(
        failures.is_empty(),
        "{HOW_TO_FIX}\n\n- {}",
        failures.join("\n- ")
    );
}
