//! Offline checks of the Terraform in `iac/` (issue 6). No terraform binary, provider or
//! Azure subscription is needed: every `.tf` and `.tfvars` file is parsed with hcl-rs, and
//! the structure the issue asks for is asserted on the parsed files. The names each
//! environment would get are computed by evaluating `naming_conventions.tf` with the
//! environment's own inputs. `reference` renders docs/MODULE-REFERENCE.md from the same files.

#[path = "iac/reference.rs"]
mod reference;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::expr::{Expression, ObjectKey, TemplateExpr};
use hcl::{Block, BlockLabel, Body, Value};

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];
const MODULES: [&str; 4] = ["event_hub", "function_app", "postgresql", "storage_account"];

/// azurerm resource types whose schema has `tags`: each must set them.
const TAGGABLE: &[&str] = &[
    "azurerm_resource_group",
    "azurerm_log_analytics_workspace",
    "azurerm_application_insights",
    "azurerm_virtual_network",
    "azurerm_network_security_group",
    "azurerm_private_dns_zone",
    "azurerm_private_dns_zone_virtual_network_link",
    "azurerm_private_endpoint",
    "azurerm_eventhub_namespace",
    "azurerm_storage_account",
    "azurerm_service_plan",
    "azurerm_linux_function_app",
    "azurerm_linux_function_app_slot",
    "azurerm_postgresql_flexible_server",
    "azurerm_user_assigned_identity",
    "azurerm_monitor_action_group",
    "azurerm_monitor_scheduled_query_rules_alert_v2",
];

/// azurerm resource types without `tags` in their schema (children and assignments).
const NOT_TAGGABLE: &[&str] = &[
    "azurerm_subnet",
    "azurerm_subnet_network_security_group_association",
    "azurerm_eventhub",
    "azurerm_eventhub_consumer_group",
    "azurerm_storage_share",
    "azurerm_storage_container",
    "azurerm_storage_management_policy",
    "azurerm_postgresql_flexible_server_configuration",
    "azurerm_postgresql_flexible_server_database",
    "azurerm_postgresql_flexible_server_active_directory_administrator",
    "azurerm_postgresql_flexible_server_firewall_rule",
    "azurerm_monitor_diagnostic_setting",
    "azurerm_role_assignment",
];

/// What each environment gives the root module today, every input with its default applied:
/// derived from the environments' terraform.tfvars and variables.tf and the root module's
/// defaults before the environment roots were made thin (issue 12), so that refactor and
/// any later one can prove it changed no value. Change a value here only with the
/// environment's terraform.tfvars.
const EFFECTIVE_INPUTS: [(&str, &str); 3] = [
    (
        "dev",
        r#"
alert_email_receivers = [
  {
    name = "payments-platform-dev"
    email_address = "payments-platform-dev@example.com"
  }
]
alert_severities = [0, 1, 2]
alert_webhook_receivers = []
alerts_enabled = true
archive_capture_interval_seconds = 900
archive_capture_size_limit_bytes = 10485760
archive_cool_after_days = 0
archive_reader_principals = {}
archive_replication_type = "LRS"
archive_retention_days = 7
cost_center = "cc-payments-dev"
database_administrator = {
  principal_name = "sp-paymetrics-github-dev"
  object_id = null
  principal_type = "ServicePrincipal"
}
endpoint_subnet_prefix = "10.40.1.0/27"
engine_config_path = "/home/data/paymetrics/engine.yaml"
environment = "dev"
eventhub_allowed_ip_ranges = []
eventhub_capacity = 1
eventhub_maximum_throughput_units = 0
eventhub_message_retention_days = 1
eventhub_partition_count = 2
eventhub_sender_principals = {}
eventhub_sku = "Standard"
extra_tags = {}
function_identity_is_database_administrator = true
function_maximum_elastic_worker_count = 1
function_plan_sku = "B1"
function_staging_slot_enabled = false
function_storage_roles = [
  "Storage Blob Data Owner",
  "Storage Queue Data Contributor",
  "Storage Table Data Contributor"
]
function_subnet_prefix = "10.40.0.0/24"
function_worker_count = 1
function_zone_balancing_enabled = false
instance = "001"
location = "westeurope"
log_retention_days = 30
owner = "payments-platform"
postgresql_backup_retention_days = 7
postgresql_firewall_rules = {}
postgresql_geo_redundant_backup_enabled = false
postgresql_high_availability_enabled = false
postgresql_public_network_access_enabled = false
postgresql_sku_name = "B_Standard_B1ms"
postgresql_standby_zone = "2"
postgresql_storage_mb = 32768
postgresql_version = "16"
postgresql_zone = "1"
storage_allowed_ip_ranges = []
storage_replication_type = "LRS"
vnet_address_space = [
  "10.40.0.0/22"
]
window_schedule = "0 */5 * * * *"
workload = "paymetrics"
"#,
    ),
    (
        "staging",
        r#"
alert_email_receivers = [
  {
    name = "payments-platform-staging"
    email_address = "payments-platform-staging@example.com"
  }
]
alert_severities = [0, 1, 2]
alert_webhook_receivers = []
alerts_enabled = true
archive_capture_interval_seconds = 300
archive_capture_size_limit_bytes = 104857600
archive_cool_after_days = 0
archive_reader_principals = {}
archive_replication_type = "LRS"
archive_retention_days = 30
cost_center = "cc-payments-staging"
database_administrator = {
  principal_name = "sp-paymetrics-github-staging"
  object_id = null
  principal_type = "ServicePrincipal"
}
endpoint_subnet_prefix = "10.41.1.0/27"
engine_config_path = "/home/data/paymetrics/engine.yaml"
environment = "staging"
eventhub_allowed_ip_ranges = []
eventhub_capacity = 1
eventhub_maximum_throughput_units = 4
eventhub_message_retention_days = 3
eventhub_partition_count = 4
eventhub_sender_principals = {}
eventhub_sku = "Standard"
extra_tags = {}
function_identity_is_database_administrator = true
function_maximum_elastic_worker_count = 4
function_plan_sku = "EP1"
function_staging_slot_enabled = true
function_storage_roles = [
  "Storage Blob Data Owner",
  "Storage Queue Data Contributor",
  "Storage Table Data Contributor"
]
function_subnet_prefix = "10.41.0.0/24"
function_worker_count = 1
function_zone_balancing_enabled = false
instance = "001"
location = "westeurope"
log_retention_days = 30
owner = "payments-platform"
postgresql_backup_retention_days = 14
postgresql_firewall_rules = {}
postgresql_geo_redundant_backup_enabled = false
postgresql_high_availability_enabled = false
postgresql_public_network_access_enabled = false
postgresql_sku_name = "GP_Standard_D2ds_v5"
postgresql_standby_zone = "2"
postgresql_storage_mb = 65536
postgresql_version = "16"
postgresql_zone = "1"
storage_allowed_ip_ranges = []
storage_replication_type = "LRS"
vnet_address_space = [
  "10.41.0.0/22"
]
window_schedule = "0 */5 * * * *"
workload = "paymetrics"
"#,
    ),
    (
        "production",
        r#"
alert_email_receivers = [
  {
    name = "payments-platform-oncall"
    email_address = "payments-platform-oncall@example.com"
  }
]
alert_severities = [0, 1, 2, 3, 4]
alert_webhook_receivers = []
alerts_enabled = true
archive_capture_interval_seconds = 300
archive_capture_size_limit_bytes = 314572800
archive_cool_after_days = 30
archive_reader_principals = {}
archive_replication_type = "ZRS"
archive_retention_days = 400
cost_center = "cc-payments-prod"
database_administrator = {
  principal_name = "sp-paymetrics-github-production"
  object_id = null
  principal_type = "ServicePrincipal"
}
endpoint_subnet_prefix = "10.42.1.0/27"
engine_config_path = "/home/data/paymetrics/engine.yaml"
environment = "production"
eventhub_allowed_ip_ranges = []
eventhub_capacity = 2
eventhub_maximum_throughput_units = 10
eventhub_message_retention_days = 7
eventhub_partition_count = 16
eventhub_sender_principals = {}
eventhub_sku = "Standard"
extra_tags = {}
function_identity_is_database_administrator = true
function_maximum_elastic_worker_count = 20
function_plan_sku = "EP2"
function_staging_slot_enabled = true
function_storage_roles = [
  "Storage Blob Data Owner",
  "Storage Queue Data Contributor",
  "Storage Table Data Contributor"
]
function_subnet_prefix = "10.42.0.0/24"
function_worker_count = 3
function_zone_balancing_enabled = true
instance = "001"
location = "westeurope"
log_retention_days = 90
owner = "payments-platform"
postgresql_backup_retention_days = 35
postgresql_firewall_rules = {}
postgresql_geo_redundant_backup_enabled = true
postgresql_high_availability_enabled = true
postgresql_public_network_access_enabled = false
postgresql_sku_name = "GP_Standard_D4ds_v5"
postgresql_standby_zone = "2"
postgresql_storage_mb = 131072
postgresql_version = "16"
postgresql_zone = "1"
storage_allowed_ip_ranges = []
storage_replication_type = "ZRS"
vnet_address_space = [
  "10.42.0.0/22"
]
window_schedule = "0 */5 * * * *"
workload = "paymetrics"
"#,
    ),
];

// ---------------------------------------------------------------------------------------
// Reading the files
// ---------------------------------------------------------------------------------------

fn iac_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("iac")
}

fn rel(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every file under `dir` whose name ends with `suffix`, sorted; `.terraform` caches skipped.
fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = fs::read_dir(&current).unwrap_or_else(|e| panic!("{}: {e}", rel(&current)));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != ".terraform") {
                    pending.push(path);
                }
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn tf_files() -> Vec<PathBuf> {
    files_with_suffix(&iac_dir(), ".tf")
}

fn parse_file(path: &Path) -> Result<Body, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", rel(path)))?;
    hcl::parse(&text).map_err(|e| format!("{}: {e}", rel(path)))
}

fn parse_text(text: &str, what: &str) -> Body {
    hcl::parse(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn parse(path: &Path) -> Body {
    parse_file(path).unwrap_or_else(|e| panic!("{e}"))
}

/// All `.tf` files of one directory (not its subdirectories), parsed.
fn parse_dir(dir: &Path) -> Vec<(PathBuf, Body)> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", rel(dir)))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), parse(&p))).collect()
}

fn blocks<'a>(body: &'a Body, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == ident)
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn label(block: &Block, index: usize) -> &str {
    match &block.labels()[index] {
        BlockLabel::String(s) => s.as_str(),
        BlockLabel::Identifier(i) => i.as_str(),
    }
}

/// A string literal (a quoted string without interpolation).
fn literal_str(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(s) => Some(s),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) if !s.contains("${") => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn object_key(key: &ObjectKey) -> Option<String> {
    match key {
        ObjectKey::Identifier(i) => Some(i.to_string()),
        ObjectKey::Expression(e) => literal_str(e).map(str::to_string),
        _ => None,
    }
}

/// The variable a reference starts from: `local` for `local.names.x`, `var`, `module`,
/// `each`, or a resource type.
fn reference_root(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::Variable(v) => Some(v.as_str()),
        Expression::Traversal(t) => reference_root(&t.expr),
        _ => None,
    }
}

/// Every object entry (key and value) anywhere in an expression: inside merge() arguments,
/// conditionals and nested objects.
fn object_entries(expr: &Expression, out: &mut Vec<(String, Expression)>) {
    match expr {
        Expression::Object(object) => {
            for (key, value) in object {
                if let Some(k) = object_key(key) {
                    out.push((k, value.clone()));
                }
                object_entries(value, out);
            }
        }
        Expression::FuncCall(call) => call.args.iter().for_each(|a| object_entries(a, out)),
        Expression::Conditional(c) => {
            object_entries(&c.true_expr, out);
            object_entries(&c.false_expr, out);
        }
        Expression::Parenthesis(inner) => object_entries(inner, out),
        _ => {}
    }
}

struct Resource {
    file: PathBuf,
    kind: String,
    name: String,
    body: Body,
}

fn resources() -> Vec<Resource> {
    let mut all = Vec::new();
    for path in tf_files() {
        let body = parse(&path);
        for block in blocks(&body, "resource") {
            all.push(Resource {
                file: path.clone(),
                kind: label(block, 0).to_string(),
                name: label(block, 1).to_string(),
                body: block.body().clone(),
            });
        }
    }
    all
}

/// `variable` blocks of a file, by name.
fn variables(path: &Path) -> BTreeMap<String, Body> {
    blocks(&parse(path), "variable")
        .map(|b| (label(b, 0).to_string(), b.body().clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// A small evaluator, enough for naming_conventions.tf and the environments' inputs
// ---------------------------------------------------------------------------------------

fn func_join(args: FuncArgs) -> Result<Value, String> {
    let sep = args[0].as_str().ok_or("join: separator must be a string")?;
    let parts: Vec<&str> = args[1]
        .as_array()
        .ok_or("join: second argument must be a list")?
        .iter()
        .map(|v| v.as_str().ok_or("join: list elements must be strings"))
        .collect::<Result<_, _>>()?;
    Ok(Value::from(parts.join(sep)))
}

fn func_lower(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        args[0]
            .as_str()
            .ok_or("lower: not a string")?
            .to_lowercase(),
    ))
}

/// replace(): literal substrings, and the one regular expression naming_conventions.tf uses.
fn func_replace(args: FuncArgs) -> Result<Value, String> {
    let s = args[0].as_str().ok_or("replace: not a string")?;
    let pattern = args[1].as_str().ok_or("replace: pattern not a string")?;
    let with = args[2]
        .as_str()
        .ok_or("replace: replacement not a string")?;
    match pattern {
        "/[^0-9A-Za-z]/" => Ok(Value::from(
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_string()
                    } else {
                        with.to_string()
                    }
                })
                .collect::<String>(),
        )),
        p if p.starts_with('/') && p.ends_with('/') && p.len() > 1 => Err(format!(
            "replace: this test does not implement the regular expression {p}"
        )),
        p => Ok(Value::from(s.replace(p, with))),
    }
}

fn func_substr(args: FuncArgs) -> Result<Value, String> {
    let s: Vec<char> = args[0]
        .as_str()
        .ok_or("substr: not a string")?
        .chars()
        .collect();
    let offset = args[1]
        .as_u64()
        .ok_or("substr: offset must be a whole number")? as usize;
    let length = args[2].as_i64().ok_or("substr: length must be a number")?;
    let start = offset.min(s.len());
    let end = if length < 0 {
        s.len()
    } else {
        (start + length as usize).min(s.len())
    };
    Ok(Value::from(s[start..end].iter().collect::<String>()))
}

fn func_merge(args: FuncArgs) -> Result<Value, String> {
    let mut merged = hcl::Map::new();
    for arg in args.iter() {
        let object = arg.as_object().ok_or("merge: arguments must be objects")?;
        for (k, v) in object {
            merged.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(merged))
}

fn func_startswith(args: FuncArgs) -> Result<Value, String> {
    let s = args[0].as_str().ok_or("startswith: not a string")?;
    let prefix = args[1].as_str().ok_or("startswith: prefix not a string")?;
    Ok(Value::from(s.starts_with(prefix)))
}

fn func_concat(args: FuncArgs) -> Result<Value, String> {
    let mut all = Vec::new();
    for arg in args.iter() {
        all.extend(
            arg.as_array()
                .ok_or("concat: arguments must be lists")?
                .iter()
                .cloned(),
        );
    }
    Ok(Value::Array(all))
}

/// A function of the evaluator, as hcl-rs takes it.
type HclFunc = fn(FuncArgs) -> Result<Value, String>;

fn func_tostring(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::String(s) => Ok(Value::from(s.clone())),
        Value::Number(n) => Ok(Value::from(n.to_string())),
        Value::Bool(b) => Ok(Value::from(b.to_string())),
        other => Err(format!("tostring: cannot convert {other:?}")),
    }
}

fn func_length(args: FuncArgs) -> Result<Value, String> {
    let n = match &args[0] {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("length: not a collection or string: {other:?}")),
    };
    Ok(Value::from(n as u64))
}

fn func_distinct(args: FuncArgs) -> Result<Value, String> {
    let mut seen = Vec::new();
    for v in args[0].as_array().ok_or("distinct: not a list")? {
        if !seen.contains(v) {
            seen.push(v.clone());
        }
    }
    Ok(Value::Array(seen))
}

fn func_alltrue(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("alltrue: not a list")?;
    Ok(Value::from(list.iter().all(|v| v.as_bool() == Some(true))))
}

fn func_contains(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("contains: not a list")?;
    Ok(Value::from(list.contains(&args[1])))
}

fn func_trimspace(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        args[0].as_str().ok_or("trimspace: not a string")?.trim(),
    ))
}

/// The email pattern of the alert_email_receivers validation, the one regular expression
/// regex() implements here.
const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s]+\.[^@\s]+$";

/// regex() for [`EMAIL_PATTERN`]: the address when it matches, null when it does not (where
/// Terraform fails, which can() turns into false).
fn func_regex(args: FuncArgs) -> Result<Value, String> {
    let pattern = args[0].as_str().ok_or("regex: pattern not a string")?;
    let s = args[1].as_str().ok_or("regex: not a string")?;
    if pattern != EMAIL_PATTERN {
        return Err(format!(
            "regex: this test does not implement the regular expression {pattern}"
        ));
    }
    let matches = !s.chars().any(char::is_whitespace)
        && match s.split('@').collect::<Vec<_>>()[..] {
            [local, domain] if !local.is_empty() => {
                let chars: Vec<char> = domain.chars().collect();
                chars.len() >= 3 && chars[1..chars.len() - 1].contains(&'.')
            }
            _ => false,
        };
    Ok(if matches { Value::from(s) } else { Value::Null })
}

/// can() around [`func_regex`]: false where regex() stood in for an error with null.
/// values(map): the map's values, in the order of its keys.
fn func_values(args: FuncArgs) -> Result<Value, String> {
    let map = args[0].as_object().ok_or("values takes a map")?;
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    Ok(Value::Array(
        entries.into_iter().map(|(_, v)| v.clone()).collect(),
    ))
}

fn func_floor(args: FuncArgs) -> Result<Value, String> {
    let n = args[0].as_f64().ok_or("floor takes a number")?;
    let floored = n.floor();
    Ok(if floored.abs() < 9.0e15 {
        Value::from(floored as i64)
    } else {
        Value::from(floored)
    })
}

fn func_can(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(!args[0].is_null()))
}

fn context_with(
    vars: &BTreeMap<String, Value>,
    locals: &hcl::Map<String, Value>,
) -> Context<'static> {
    let mut ctx = Context::new();
    ctx.declare_func(
        "join",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::Any)
            .build(func_join),
    );
    ctx.declare_func(
        "lower",
        FuncDef::builder()
            .param(ParamType::String)
            .build(func_lower),
    );
    ctx.declare_func(
        "replace",
        FuncDef::builder()
            .params([ParamType::String, ParamType::String, ParamType::String])
            .build(func_replace),
    );
    ctx.declare_func(
        "substr",
        FuncDef::builder()
            .params([ParamType::String, ParamType::Number, ParamType::Number])
            .build(func_substr),
    );
    ctx.declare_func(
        "merge",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(func_merge),
    );
    ctx.declare_func(
        "startswith",
        FuncDef::builder()
            .params([ParamType::String, ParamType::String])
            .build(func_startswith),
    );
    ctx.declare_func(
        "concat",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(func_concat),
    );
    ctx.declare_func(
        "floor",
        FuncDef::builder()
            .param(ParamType::Number)
            .build(func_floor),
    );
    for (name, func) in [
        ("tostring", func_tostring as HclFunc),
        ("length", func_length),
        ("distinct", func_distinct),
        ("alltrue", func_alltrue),
        ("trimspace", func_trimspace),
        ("can", func_can),
        ("values", func_values),
    ] {
        ctx.declare_func(name, FuncDef::builder().param(ParamType::Any).build(func));
    }
    for (name, func) in [
        ("contains", func_contains as HclFunc),
        ("regex", func_regex),
    ] {
        ctx.declare_func(
            name,
            FuncDef::builder()
                .params([ParamType::Any, ParamType::Any])
                .build(func),
        );
    }
    let var: hcl::Map<String, Value> = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    ctx.declare_var("var", Value::Object(var));
    ctx.declare_var("local", Value::Object(locals.clone()));
    ctx
}

fn eval(expr: &Expression, vars: &BTreeMap<String, Value>, what: &str) -> Value {
    expr.evaluate(&context_with(vars, &hcl::Map::new()))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The `variable` blocks of an environment root (all its `.tf` files), by name.
fn environment_declarations(env: &str) -> BTreeMap<String, Body> {
    let dir = iac_dir().join("environments").join(env);
    parse_dir(&dir)
        .iter()
        .flat_map(|(_, body)| {
            blocks(body, "variable")
                .map(|b| (label(b, 0).to_string(), b.body().clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The values an environment root gives its variables: defaults, then terraform.tfvars.
fn environment_variables(env: &str) -> BTreeMap<String, Value> {
    let dir = iac_dir().join("environments").join(env);
    let empty = BTreeMap::new();
    let mut values = BTreeMap::new();
    for (name, body) in environment_declarations(env) {
        if let Some(default) = attr(&body, "default") {
            values.insert(
                name.clone(),
                eval(default, &empty, &format!("{env}: default of {name}")),
            );
        }
    }
    let tfvars = parse(&dir.join("terraform.tfvars"));
    for a in tfvars.attributes() {
        values.insert(
            a.key().to_string(),
            eval(
                a.expr(),
                &empty,
                &format!("{env}/terraform.tfvars: {}", a.key()),
            ),
        );
    }
    values
}

/// The environment's `module "paymetrics"` call (the root module).
fn root_module_call(env: &str) -> Body {
    let dir = iac_dir().join("environments").join(env);
    parse_dir(&dir)
        .into_iter()
        .flat_map(|(_, body)| {
            blocks(&body, "module")
                .filter(|b| attr(b.body(), "source").and_then(literal_str) == Some("../.."))
                .map(|b| b.body().clone())
                .collect::<Vec<_>>()
        })
        .next()
        .unwrap_or_else(|| panic!("environments/{env} calls no module with source \"../..\""))
}

/// The type of the root module's `settings` variable: `object({ name = type, ... })`.
fn settings_type() -> Expression {
    let vars = variables(&iac_dir().join("variables.tf"));
    let settings = vars
        .get("settings")
        .expect("variable \"settings\" in iac/variables.tf");
    attr(settings, "type")
        .cloned()
        .expect("settings has a type")
}

/// The attributes of the `settings` type, by name: (type, default), the default being
/// `Some` for `optional(type, default)` (a null one for `optional(type)`).
fn settings_attributes() -> BTreeMap<String, (Expression, Option<Expression>)> {
    reference::object_attributes(&settings_type())
        .into_iter()
        .map(|(name, ty, default)| (name, (ty, default)))
        .collect()
}

/// The default of one setting (the `default` of `optional(type, default)`).
fn settings_default(name: &str) -> Expression {
    settings_attributes()
        .remove(name)
        .and_then(|(_, default)| default)
        .unwrap_or_else(|| panic!("setting {name} has no default in iac/variables.tf"))
}

/// The root module's variables for one environment (`environment` and `settings`) as
/// Terraform hands them to it: the environment's module arguments evaluated with its own
/// variables, then converted to the root variables' types (defaults applied).
fn root_inputs(env: &str) -> BTreeMap<String, Value> {
    let root_vars = variables(&iac_dir().join("variables.tf"));
    let env_vars = environment_variables(env);
    let mut values = BTreeMap::new();
    for a in root_module_call(env).attributes() {
        let name = a.key();
        if name == "source" {
            continue;
        }
        let at = format!("environments/{env}: {name}");
        let value = eval(a.expr(), &env_vars, &at);
        let declared = root_vars
            .get(name)
            .unwrap_or_else(|| panic!("{at}: iac/variables.tf declares no variable {name}"));
        let ty = attr(declared, "type").expect("typed");
        values.insert(name.to_string(), convert(value, ty, &at));
    }
    values
}

/// Every input the root module receives from one environment, by name: `environment` and
/// each attribute of `settings`, defaults applied.
fn root_variables_for(env: &str) -> BTreeMap<String, Value> {
    let mut inputs = root_inputs(env);
    let settings = match inputs.remove("settings") {
        Some(Value::Object(settings)) => settings,
        other => panic!("environments/{env}: settings is not an object: {other:?}"),
    };
    inputs.extend(settings);
    inputs
}

/// A value as Terraform hands it to a variable of type `ty`: absent `optional(T, default)`
/// attributes get their default (absent `optional(T)` ones null), recursively through
/// objects, maps and lists. An attribute the type does not declare fails: Terraform would
/// drop it without a word, so a misspelt setting would silently take its default.
fn convert(value: Value, ty: &Expression, what: &str) -> Value {
    let Expression::FuncCall(call) = ty else {
        return value;
    };
    match (call.name.name.as_str(), call.args.first()) {
        ("object", Some(Expression::Object(attrs))) => {
            let Value::Object(mut given) = value else {
                panic!("{what}: expected an object, found {value:?}")
            };
            let mut out = hcl::Map::new();
            for (key, attr_ty) in attrs {
                let key = object_key(key).expect("an attribute name");
                let at = format!("{what}.{key}");
                let (inner, default) = match attr_ty {
                    Expression::FuncCall(o) if o.name.name.as_str() == "optional" => (
                        &o.args[0],
                        Some(
                            o.args
                                .get(1)
                                .map_or(Value::Null, |d| eval(d, &BTreeMap::new(), &at)),
                        ),
                    ),
                    other => (other, None),
                };
                let v = match (given.shift_remove(&key), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d,
                    (None, None) => panic!("{at} is required"),
                };
                let v = if v.is_null() {
                    v
                } else {
                    convert(v, inner, &at)
                };
                out.insert(key, v);
            }
            let undeclared: Vec<&String> = given.keys().collect();
            assert!(
                undeclared.is_empty(),
                "{what}: {undeclared:?} not declared by its type in iac/variables.tf (Terraform would drop it)"
            );
            Value::Object(out)
        }
        ("map", Some(inner)) => match value {
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| {
                        let v = convert(v, inner, &format!("{what}[{k}]"));
                        (k, v)
                    })
                    .collect(),
            ),
            other => other,
        },
        ("list" | "set", Some(inner)) => match value {
            Value::Array(a) => {
                Value::Array(a.into_iter().map(|v| convert(v, inner, what)).collect())
            }
            other => other,
        },
        _ => value,
    }
}

/// The `locals` of naming_conventions.tf evaluated for one environment.
fn naming_locals(env: &str) -> hcl::Map<String, Value> {
    let vars = root_inputs(env);
    let body = parse(&iac_dir().join("naming_conventions.tf"));
    evaluate_locals(&body, &vars, &format!("naming_conventions.tf for {env}"))
}

/// The `locals` of the function_app module as Terraform computes them for one plan SKU,
/// with and without the staging slot. Inputs without a default (or with a null one) stand in
/// as `<name>`, so a setting can be traced back to the variable it comes from.
fn function_app_locals(sku: &str, staging_slot: bool) -> hcl::Map<String, Value> {
    let dir = iac_dir().join("modules/function_app");
    let empty = BTreeMap::new();
    let mut vars = BTreeMap::new();
    for (name, body) in variables(&dir.join("variables.tf")) {
        // A null default (an input only some plans need) stands in like a required one.
        let value = match attr(&body, "default").map(|d| eval(d, &empty, &name)) {
            Some(Value::Null) | None => Value::from(format!("<{name}>")),
            Some(default) => default,
        };
        vars.insert(name, value);
    }
    vars.insert("sku_name".into(), Value::from(sku));
    vars.insert(
        "staging_slot_name".into(),
        if staging_slot {
            Value::from("staging")
        } else {
            Value::Null
        },
    );
    let body = parse(&dir.join("main.tf"));
    evaluate_locals(&body, &vars, &format!("modules/function_app for {sku}"))
}

/// An app settings map of [`function_app_locals`] as name => value.
fn settings_of(locals: &hcl::Map<String, Value>, key: &str) -> BTreeMap<String, String> {
    locals[key]
        .as_object()
        .unwrap_or_else(|| panic!("local.{key} is not an object"))
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => panic!("{key}.{k} is not a string: {other:?}"),
            };
            (k.clone(), value)
        })
        .collect()
}

/// Evaluates every local of a file, in whatever order they refer to each other.
fn evaluate_locals(
    body: &Body,
    vars: &BTreeMap<String, Value>,
    what: &str,
) -> hcl::Map<String, Value> {
    let mut pending: Vec<(String, Expression)> = blocks(body, "locals")
        .flat_map(|b| {
            b.body()
                .attributes()
                .map(|a| (a.key().to_string(), a.expr().clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut locals = hcl::Map::new();
    // Locals may refer to each other in any order: evaluate until nothing is left.
    while !pending.is_empty() {
        let before = pending.len();
        let mut errors = Vec::new();
        pending.retain(
            |(key, expr)| match expr.evaluate(&context_with(vars, &locals)) {
                Ok(value) => {
                    locals.insert(key.clone(), value);
                    false
                }
                Err(e) => {
                    errors.push(format!("local.{key}: {e}"));
                    true
                }
            },
        );
        assert!(
            pending.len() < before,
            "{what} does not evaluate: {errors:?}"
        );
    }
    locals
}

fn str_of<'a>(object: &'a Value, key: &str) -> &'a str {
    object
        .as_object()
        .and_then(|o| o.get(key))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key} in {object:?}"))
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[test]
fn every_tf_file_parses() {
    let files: Vec<PathBuf> = tf_files()
        .into_iter()
        .chain(files_with_suffix(&iac_dir(), ".tfvars"))
        .collect();
    assert!(
        files.len() >= 20,
        "expected the Terraform under iac/, found {} files",
        files.len()
    );
    let errors: Vec<String> = files.iter().filter_map(|p| parse_file(p).err()).collect();
    assert!(
        errors.is_empty(),
        "files that do not parse:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_layout_has_the_root_files_every_module_and_every_environment() {
    let mut required: Vec<String> = [
        "README.md",
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "naming_conventions.tf",
    ]
    .iter()
    .map(|f| f.to_string())
    .collect();
    for module in MODULES {
        for file in ["main.tf", "variables.tf", "outputs.tf"] {
            required.push(format!("modules/{module}/{file}"));
        }
    }
    for env in ENVIRONMENTS {
        for file in ["main.tf", "backend.tf", "terraform.tfvars"] {
            required.push(format!("environments/{env}/{file}"));
        }
    }
    let missing: Vec<&String> = required
        .iter()
        .filter(|f| !iac_dir().join(f).is_file())
        .collect();
    assert!(missing.is_empty(), "missing under iac/: {missing:?}");

    // The root module uses every module.
    let root_main = parse(&iac_dir().join("main.tf"));
    let sources: BTreeSet<&str> = blocks(&root_main, "module")
        .filter_map(|b| attr(b.body(), "source").and_then(literal_str))
        .collect();
    for module in MODULES {
        assert!(
            sources.contains(format!("./modules/{module}").as_str()),
            "iac/main.tf does not use modules/{module}"
        );
    }
}

#[test]
fn every_variable_is_typed_and_described_and_module_inputs_are_validated() {
    let mut problems = Vec::new();
    let mut files: Vec<(PathBuf, bool)> = vec![(iac_dir().join("variables.tf"), false)];
    files.extend(
        MODULES
            .iter()
            .map(|m| (iac_dir().join("modules").join(m).join("variables.tf"), true)),
    );
    files.extend(ENVIRONMENTS.iter().map(|e| {
        (
            iac_dir().join("environments").join(e).join("main.tf"),
            false,
        )
    }));
    for (path, is_module) in files {
        let vars = variables(&path);
        assert!(!vars.is_empty(), "{} declares no variable", rel(&path));
        for (name, body) in vars {
            let Some(ty) = attr(&body, "type") else {
                problems.push(format!("{}: variable {name} has no type", rel(&path)));
                continue;
            };
            match attr(&body, "description").and_then(literal_str) {
                Some(d) if d.trim().len() >= 10 => {}
                _ => problems.push(format!(
                    "{}: variable {name} has no description",
                    rel(&path)
                )),
            }
            let is_bool = matches!(ty, Expression::Variable(v) if v.as_str() == "bool");
            let validations: Vec<&Block> = blocks(&body, "validation").collect();
            if is_module && !is_bool && validations.is_empty() {
                problems.push(format!(
                    "{}: variable {name} has no validation block",
                    rel(&path)
                ));
            }
            for v in validations {
                if attr(v.body(), "condition").is_none()
                    || attr(v.body(), "error_message").is_none()
                {
                    problems.push(format!(
                        "{}: a validation of {name} lacks condition or error_message",
                        rel(&path)
                    ));
                }
            }
        }
    }

    // Each setting is described by the comment above it in the `settings` type.
    let text = fs::read_to_string(iac_dir().join("variables.tf")).expect("readable");
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "variable \"settings\" {")
        .take_while(|l| *l != "  })")
        .collect();
    for (name, _) in settings_attributes() {
        let at = lines
            .iter()
            .position(|l| {
                l.trim_start().starts_with(&format!("{name} "))
                    && l.starts_with("    ")
                    && !l.starts_with("     ")
            })
            .unwrap_or_else(|| {
                panic!("iac/variables.tf: setting {name} not found in the settings type")
            });
        if !lines[at - 1].trim_start().starts_with('#') {
            problems.push(format!(
                "iac/variables.tf: setting {name} has no comment describing it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_environment_has_its_inputs_and_an_azurerm_state_backend() {
    let root_vars = variables(&iac_dir().join("variables.tf"));
    let mut state_keys = BTreeSet::new();
    for env in ENVIRONMENTS {
        let dir = iac_dir().join("environments").join(env);
        let files = parse_dir(&dir);

        let backends: Vec<Body> = files
            .iter()
            .flat_map(|(_, body)| {
                blocks(body, "terraform")
                    .flat_map(|t| blocks(t.body(), "backend"))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .map(|b| {
                assert_eq!(
                    label(&b, 0),
                    "azurerm",
                    "environments/{env}: the state backend must be azurerm"
                );
                b.body().clone()
            })
            .collect();
        assert_eq!(
            backends.len(),
            1,
            "environments/{env} needs exactly one backend \"azurerm\" block"
        );
        let backend = &backends[0];
        for key in [
            "resource_group_name",
            "storage_account_name",
            "container_name",
            "key",
        ] {
            assert!(
                attr(backend, key)
                    .and_then(literal_str)
                    .is_some_and(|v| !v.is_empty()),
                "environments/{env}: the backend needs {key}"
            );
        }
        let account = attr(backend, "storage_account_name")
            .and_then(literal_str)
            .unwrap_or_default();
        assert!(
            (3..=24).contains(&account.len())
                && account
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "environments/{env}: state storage account {account:?} is not 3-24 lowercase letters and digits"
        );
        assert!(
            matches!(
                attr(backend, "use_azuread_auth"),
                Some(Expression::Bool(true))
            ),
            "environments/{env}: the backend must use Entra ID (use_azuread_auth = true), not account keys"
        );
        let key = attr(backend, "key")
            .and_then(literal_str)
            .unwrap_or_default()
            .to_string();
        assert!(
            state_keys.insert(key.clone()),
            "state key {key} is shared by two environments"
        );

        // The environment names itself and gives every required input of the root module,
        // and nothing the root module does not declare.
        let call = root_module_call(env);
        assert_eq!(
            attr(&call, "environment").and_then(literal_str),
            Some(env),
            "environments/{env} must pass environment = \"{env}\""
        );
        let passed: BTreeSet<String> = call
            .attributes()
            .map(|a| a.key().to_string())
            .filter(|k| k != "source")
            .collect();
        for name in &passed {
            assert!(
                root_vars.contains_key(name),
                "environments/{env} passes {name}, which iac/variables.tf does not declare"
            );
        }
        for (name, body) in &root_vars {
            if attr(body, "default").is_none() {
                assert!(
                    passed.contains(name),
                    "environments/{env} does not pass the required variable {name}"
                );
            }
        }

        // terraform.tfvars sets only declared variables, and every one without a default.
        let env_vars = environment_declarations(env);
        let tfvars: BTreeSet<String> = parse(&dir.join("terraform.tfvars"))
            .attributes()
            .map(|a| a.key().to_string())
            .collect();
        for name in &tfvars {
            assert!(
                env_vars.contains_key(name),
                "environments/{env}/terraform.tfvars sets undeclared {name}"
            );
        }
        for (name, body) in &env_vars {
            if attr(body, "default").is_none() {
                assert!(
                    tfvars.contains(name),
                    "environments/{env}/terraform.tfvars does not set {name}"
                );
            }
        }
        // Evaluates every argument (fails on a reference to a missing variable) and converts
        // settings to its type: fails on a required setting left out, and on one the type
        // does not declare (a misspelt name, which Terraform would drop silently).
        let _ = root_variables_for(env);
    }
}

#[test]
fn environments_are_sized_from_small_dev_to_zone_redundant_production() {
    let dev = root_variables_for("dev");
    let prod = root_variables_for("production");
    let staging = root_variables_for("staging");
    let num = |vars: &BTreeMap<String, Value>, k: &str| {
        vars[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} is not a number"))
    };
    let flag = |vars: &BTreeMap<String, Value>, k: &str| {
        vars[k]
            .as_bool()
            .unwrap_or_else(|| panic!("{k} is not a bool"))
    };

    assert!(num(&prod, "eventhub_partition_count") > num(&dev, "eventhub_partition_count"));
    assert!(num(&prod, "eventhub_capacity") > num(&dev, "eventhub_capacity"));
    assert!(
        num(&prod, "postgresql_backup_retention_days")
            > num(&dev, "postgresql_backup_retention_days")
    );
    assert!(
        flag(&prod, "postgresql_high_availability_enabled"),
        "production needs HA PostgreSQL"
    );
    // checkov's CKV_AZURE_136 is suppressed on the module because dev and staging opt out.
    assert!(
        flag(&prod, "postgresql_geo_redundant_backup_enabled"),
        "production needs geo-redundant backups"
    );
    assert!(
        flag(&prod, "function_zone_balancing_enabled"),
        "production needs a zone-redundant plan"
    );
    assert!(
        num(&prod, "function_worker_count") >= 3.0,
        "zone redundancy needs 3 instances"
    );
    assert_eq!(prod["storage_replication_type"].as_str(), Some("ZRS"));
    assert!(!flag(&dev, "postgresql_high_availability_enabled"));
    assert!(!flag(&dev, "function_zone_balancing_enabled"));
    for (env, vars) in [("staging", &staging), ("production", &prod)] {
        assert!(
            flag(vars, "function_staging_slot_enabled"),
            "{env} deploys through the staging slot"
        );
        assert!(
            vars["function_plan_sku"]
                .as_str()
                .is_some_and(|s| s.starts_with("EP")),
            "{env} runs on Elastic Premium (custom handlers, slots, event-driven scale)"
        );
    }
}

#[test]
fn every_taggable_azurerm_resource_sets_the_common_tags() {
    let mut problems = Vec::new();
    for r in resources()
        .iter()
        .filter(|r| r.kind.starts_with("azurerm_"))
    {
        let at = format!("{}: {}.{}", rel(&r.file), r.kind, r.name);
        if TAGGABLE.contains(&r.kind.as_str()) {
            match attr(&r.body, "tags") {
                Some(expr) if matches!(reference_root(expr), Some("var" | "local")) => {}
                Some(_) => problems.push(format!(
                    "{at}: tags must be var.tags or local.tags (the common set)"
                )),
                None => problems.push(format!("{at}: sets no tags")),
            }
        } else if !NOT_TAGGABLE.contains(&r.kind.as_str()) {
            problems.push(format!(
                "{at}: add {} to TAGGABLE or NOT_TAGGABLE in tests/iac.rs",
                r.kind
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The common tag set has exactly the lowercase keys the issue names.
    let body = parse(&iac_dir().join("naming_conventions.tf"));
    let tags = blocks(&body, "locals")
        .find_map(|b| attr(b.body(), "tags").cloned())
        .expect("local.tags in naming_conventions.tf");
    let mut entries = Vec::new();
    object_entries(&tags, &mut entries);
    let keys: BTreeSet<String> = entries.into_iter().map(|(k, _)| k).collect();
    let expected: BTreeSet<String> = ["environment", "app", "owner", "costcenter", "managed_by"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(keys, expected);
}

#[test]
fn resource_names_come_only_from_naming_conventions() {
    let naming = iac_dir().join("naming_conventions.tf");
    let naming_body = parse(&naming);
    assert!(
        naming_body.blocks().all(|b| b.identifier() == "locals"),
        "naming_conventions.tf holds only locals"
    );

    let mut problems = Vec::new();
    for r in resources() {
        let Some(name) = attr(&r.body, "name") else {
            continue;
        };
        let at = format!("{}: {}.{}", rel(&r.file), r.kind, r.name);
        match reference_root(name) {
            Some("local" | "var" | "module") => {}
            Some("each") => {
                // each.key/each.value only when the collection itself comes from local/var.
                let from_inputs = attr(&r.body, "for_each").is_some_and(|fe| only_references(fe, &["local", "var"]));
                if !from_inputs {
                    problems.push(format!("{at}: name comes from a for_each that is not built from local or var"));
                }
            }
            _ => problems.push(format!("{at}: name must reference local.names (naming_conventions.tf) or a var/module input, not build a string")),
        }
    }

    // Module calls pass names, never string literals either.
    for path in tf_files() {
        for module in blocks(&parse(&path), "module") {
            for a in module.body().attributes() {
                let key = a.key();
                let is_name = key == "name" || key.ends_with("_name");
                let built_in_place = literal_str(a.expr()).is_some()
                    || matches!(a.expr(), Expression::TemplateExpr(_));
                if is_name && built_in_place {
                    problems.push(format!(
                        "{}: module {} gets {key} as a string built in place",
                        rel(&path),
                        label(module, 0)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// True when the expression only combines references rooted at `roots` (through function
/// calls and conditionals) and empty collections: no literal strings.
fn only_references(expr: &Expression, roots: &[&str]) -> bool {
    match expr {
        Expression::Variable(_) | Expression::Traversal(_) => {
            reference_root(expr).is_some_and(|r| roots.contains(&r))
        }
        Expression::FuncCall(call) => call.args.iter().all(|a| only_references(a, roots)),
        Expression::Conditional(c) => {
            only_references(&c.cond_expr, roots)
                && only_references(&c.true_expr, roots)
                && only_references(&c.false_expr, roots)
        }
        Expression::Parenthesis(inner) => only_references(inner, roots),
        Expression::Object(o) => o.is_empty(),
        Expression::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[test]
fn generated_names_follow_the_conventions_in_every_environment() {
    let prefixes = [
        ("resource_group", "rg-"),
        ("log_analytics", "log-"),
        ("app_insights", "appi-"),
        ("virtual_network", "vnet-"),
        ("eventhub_namespace", "evhns-"),
        ("eventhub", "evh-"),
        ("storage_account", "st"),
        ("service_plan", "asp-"),
        ("function_app", "func-"),
        ("postgresql_server", "psql-"),
        ("function_database_identity", "id-func-db-"),
        ("archive_storage_account", "sta"),
        ("capture_identity", "id-evh-capture-"),
    ];
    let mut seen = BTreeSet::new();
    for env in ENVIRONMENTS {
        let locals = naming_locals(env);
        let names = &locals["names"];
        for (key, prefix) in prefixes {
            let name = str_of(names, key);
            assert!(
                name.starts_with(prefix),
                "{env}: {key} {name:?} does not start with {prefix}"
            );
            assert!(
                name.contains("weu") && name.contains("001"),
                "{env}: {key} {name:?} lacks region or instance"
            );
            assert!(
                seen.insert(name.to_string()),
                "{env}: {key} {name:?} is also used by another environment"
            );
        }
        for key in ["storage_account", "archive_storage_account"] {
            let storage = str_of(names, key);
            assert!(
                (3..=24).contains(&storage.len())
                    && storage
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{env}: {key} {storage:?} is not 3-24 lowercase letters and digits"
            );
        }
        assert_eq!(str_of(names, "archive_container"), "archive");
        let app = str_of(names, "function_app");
        assert!(
            app.len() <= 30,
            "{env}: function app {app:?} is longer than 30 characters (host ID collisions)"
        );
        assert_eq!(
            str_of(names, "function_staging_slot"),
            "staging",
            "the CD pipeline deploys to --slot staging"
        );
        assert_eq!(str_of(names, "database"), "paymetrics");
        let database_identity = str_of(names, "function_database_identity");
        assert!(
            database_identity.starts_with("id-") && database_identity.len() <= 63,
            "{env}: the database identity {database_identity:?} needs the id- prefix and, as a PostgreSQL role name, at most 63 characters"
        );

        let tags = &locals["tags"];
        assert_eq!(str_of(tags, "environment"), env);
        assert_eq!(str_of(tags, "app"), "paymetrics");
        assert_eq!(str_of(tags, "managed_by"), "terraform");
        assert!(!str_of(tags, "owner").is_empty() && !str_of(tags, "costcenter").is_empty());
    }
}

#[test]
fn terraform_and_the_azurerm_provider_are_pinned_everywhere() {
    // Every configuration directory (root, modules, environments) pins both.
    let mut dirs: BTreeSet<PathBuf> = tf_files()
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    assert!(
        dirs.len() >= 8,
        "expected root, 4 modules and 3 environments, found {}",
        dirs.len()
    );
    let mut versions = BTreeSet::new();
    let mut terraform_versions = BTreeSet::new();
    for dir in std::mem::take(&mut dirs) {
        let mut required_version = None;
        let mut azurerm = None;
        for (_, body) in parse_dir(&dir) {
            for t in blocks(&body, "terraform") {
                if let Some(v) = attr(t.body(), "required_version").and_then(literal_str) {
                    required_version = Some(v.to_string());
                }
                for rp in blocks(t.body(), "required_providers") {
                    if let Some(Expression::Object(o)) = attr(rp.body(), "azurerm") {
                        let get = |k: &str| {
                            o.iter()
                                .find(|(key, _)| object_key(key).as_deref() == Some(k))
                                .and_then(|(_, v)| literal_str(v))
                                .map(str::to_string)
                        };
                        azurerm = Some((get("source"), get("version")));
                    }
                }
            }
        }
        let at = rel(&dir);
        let tf = required_version.unwrap_or_else(|| panic!("{at}: no terraform.required_version"));
        let pinned_tf = tf.strip_prefix("~>").map(str::trim).is_some_and(|v| {
            let parts: Vec<&str> = v.split('.').collect();
            parts.len() == 3 && parts[0] == "1" && parts.iter().all(|p| p.parse::<u32>().is_ok())
        });
        assert!(
            pinned_tf,
            "{at}: required_version {tf:?} must pin a Terraform 1.x patch line (\"~> 1.N.N\")"
        );
        let (source, version) =
            azurerm.unwrap_or_else(|| panic!("{at}: no required_providers.azurerm"));
        assert_eq!(
            source.as_deref(),
            Some("hashicorp/azurerm"),
            "{at}: azurerm source"
        );
        let version = version.unwrap_or_else(|| panic!("{at}: azurerm has no version constraint"));
        let pinned = version.strip_prefix("~>").map(str::trim).is_some_and(|v| {
            let parts: Vec<&str> = v.split('.').collect();
            parts.len() == 2 && parts[0] == "4" && parts[1].parse::<u32>().is_ok()
        });
        assert!(
            pinned,
            "{at}: azurerm version {version:?} must be \"~> 4.N\""
        );
        versions.insert(version);
        terraform_versions.insert(tf);
    }
    assert_eq!(
        versions.len(),
        1,
        "one azurerm constraint everywhere: {versions:?}"
    );
    assert_eq!(
        terraform_versions.len(),
        1,
        "one Terraform constraint everywhere: {terraform_versions:?}"
    );
}

#[test]
fn the_function_app_sets_every_setting_the_handler_and_the_bindings_read() {
    let path = iac_dir().join("modules/function_app/main.tf");
    let body = parse(&path);
    let mut entries = Vec::new();
    for locals in blocks(&body, "locals") {
        for a in locals.body().attributes() {
            object_entries(a.expr(), &mut entries);
        }
    }
    let settings: BTreeMap<String, Expression> = entries.iter().cloned().collect();
    for name in [
        "EventHubConnection__fullyQualifiedNamespace",
        "EventHubName",
        "EventHubConsumerGroup",
        "PAYMETRICS_WINDOW_SCHEDULE",
        "PAYMETRICS_CONFIG",
        "PAYMETRICS_CONFIG_FALLBACK",
        "PAYMETRICS_MIGRATE",
        "PAYMETRICS_DB_HOST",
        "PAYMETRICS_DB_NAME",
        "PAYMETRICS_DB_USER",
        "PAYMETRICS_DB_CLIENT_ID",
        "PAYMETRICS_DB_AUTH",
        "PAYMETRICS_DB_SSLMODE",
        "PAYMETRICS_ARCHIVE_CONTAINER_URL",
        "AzureWebJobs.EventHubTrigger.Disabled",
        "AzureWebJobs.TimerTrigger.Disabled",
    ] {
        assert!(
            settings.contains_key(name),
            "modules/function_app sets no app setting {name}"
        );
    }
    let fixed = |name: &str| settings.get(name).and_then(literal_str).map(str::to_string);
    assert_eq!(fixed("PAYMETRICS_DB_AUTH").as_deref(), Some("entra"));
    assert_eq!(
        fixed("PAYMETRICS_DB_SSLMODE").as_deref(),
        Some("verify-full")
    );
    assert_eq!(
        fixed("AzureWebJobs.EventHubTrigger.Disabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        fixed("AzureWebJobs.TimerTrigger.Disabled").as_deref(),
        Some("true")
    );

    // Every %SETTING% and connection the function.json bindings name is provided.
    let functions = function_folders();
    for needed in ["EventHubTrigger", "TimerTrigger"] {
        assert!(
            functions.iter().any(|(name, _)| name == needed),
            "no function folder {needed}"
        );
    }
    for (function, json) in &functions {
        for binding in json["bindings"].as_array().expect("bindings") {
            for (key, value) in binding.as_object().expect("binding object") {
                let Some(s) = value.as_str() else { continue };
                if let Some(setting) = s.strip_prefix('%').and_then(|s| s.strip_suffix('%')) {
                    assert!(
                        settings.contains_key(setting),
                        "{function}: {key} reads %{setting}%, which the Function App does not set"
                    );
                }
                if key == "connection" {
                    let identity_based = format!("{s}__fullyQualifiedNamespace");
                    assert!(
                        settings.contains_key(&identity_based),
                        "{function}: connection {s} needs {identity_based}"
                    );
                }
            }
        }
    }

    // The settings the provider writes itself: custom runtime, identity-based storage,
    // Application Insights.
    let app = blocks(&body, "resource")
        .find(|b| label(b, 0) == "azurerm_linux_function_app")
        .expect("an azurerm_linux_function_app");
    assert!(matches!(
        attr(app.body(), "storage_uses_managed_identity"),
        Some(Expression::Bool(true))
    ));
    assert!(attr(app.body(), "storage_account_name").is_some());
    let site_config = blocks(app.body(), "site_config")
        .next()
        .expect("site_config");
    assert!(attr(site_config.body(), "application_insights_connection_string").is_some());
    let stack = blocks(site_config.body(), "application_stack")
        .next()
        .expect("application_stack");
    assert!(
        matches!(
            attr(stack.body(), "use_custom_runtime"),
            Some(Expression::Bool(true))
        ),
        "FUNCTIONS_WORKER_RUNTIME=custom"
    );

    // The slot's own consumer group and disabled triggers are sticky.
    let sticky = blocks(&body, "locals")
        .find_map(|b| attr(b.body(), "sticky_app_setting_names").cloned())
        .expect("local.sticky_app_setting_names");
    let Expression::Array(names) = sticky else {
        panic!("sticky_app_setting_names is a list")
    };
    let names: BTreeSet<&str> = names.iter().filter_map(literal_str).collect();
    for name in [
        "EventHubConsumerGroup",
        "AzureWebJobs.EventHubTrigger.Disabled",
        "AzureWebJobs.TimerTrigger.Disabled",
    ] {
        assert!(
            names.contains(name),
            "{name} must be a sticky (slot) setting"
        );
    }
    assert!(
        blocks(app.body(), "dynamic").any(|d| label(d, 0) == "sticky_settings"),
        "the app declares sticky_settings"
    );
    assert!(
        blocks(&body, "resource").any(|b| label(b, 0) == "azurerm_linux_function_app_slot"),
        "the module creates the staging slot"
    );

    // Defaults of the root module.
    let default = |name: &str| literal_str(&settings_default(name)).map(str::to_string);
    assert_eq!(default("window_schedule").as_deref(), Some("0 */5 * * * *"));
    assert_eq!(
        default("engine_config_path").as_deref(),
        Some("/home/data/paymetrics/engine.yaml")
    );
}

/// Every function folder of the app (a directory at the repository root holding a
/// function.json), with its parsed function.json.
fn function_folders() -> Vec<(String, serde_json::Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for entry in fs::read_dir(root).expect("repository root") {
        let dir = entry.expect("directory entry").path();
        let file = dir.join("function.json");
        if !file.is_file() {
            continue;
        }
        let text = fs::read_to_string(&file).expect("function.json");
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", rel(&file)));
        let name = dir
            .file_name()
            .expect("folder name")
            .to_string_lossy()
            .to_string();
        found.push((name, json));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The settings each slot gets, computed from the module's locals as Terraform would.
#[test]
fn both_slots_migrate_on_start_read_rules_from_home_and_use_the_shared_database_identity() {
    for sku in ["B1", "S1", "EP1"] {
        let locals = function_app_locals(sku, sku != "B1");
        let mut slots = vec![("app", settings_of(&locals, "app_settings"))];
        if sku != "B1" {
            slots.push(("staging slot", settings_of(&locals, "staging_app_settings")));
        }
        for (slot, settings) in &slots {
            let get = |name: &str| {
                settings
                    .get(name)
                    .map(String::as_str)
                    .unwrap_or_else(|| panic!("{sku} {slot}: no app setting {name}"))
            };
            // The handler migrates at start, inside the virtual network (issue 11).
            assert_eq!(get("PAYMETRICS_MIGRATE"), "on-start", "{sku} {slot}");
            // Zip deployment writes this setting; without it every plan shows drift (F-10).
            assert_eq!(
                get("SCM_DO_BUILD_DURING_DEPLOYMENT"),
                "false",
                "{sku} {slot}"
            );
            // Reviewed rule files are uploaded to persistent storage; the packaged file is
            // the fallback until one exists.
            assert_eq!(
                get("PAYMETRICS_CONFIG"),
                "/home/data/paymetrics/engine.yaml",
                "{sku} {slot}"
            );
            let fallback = get("PAYMETRICS_CONFIG_FALLBACK");
            assert_eq!(fallback, "config/engine.yaml", "{sku} {slot}");
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(fallback)
                    .is_file(),
                "PAYMETRICS_CONFIG_FALLBACK names {fallback}, which is not in the repository (and so not in the package)"
            );
            // One database principal for both slots: the user-assigned identity.
            assert_eq!(get("PAYMETRICS_DB_USER"), "<database_user>", "{sku} {slot}");
            assert_eq!(
                get("PAYMETRICS_DB_CLIENT_ID"),
                "<database_identity_client_id>",
                "{sku} {slot}"
            );
            assert_eq!(get("WEBSITE_RUN_FROM_PACKAGE"), "1", "{sku} {slot}");
        }
    }

    // Both resources carry the system-assigned identity (Event Hubs, storage, telemetry) and
    // the one database identity.
    let body = parse(&iac_dir().join("modules/function_app/main.tf"));
    for kind in [
        "azurerm_linux_function_app",
        "azurerm_linux_function_app_slot",
    ] {
        let resource = blocks(&body, "resource")
            .find(|b| label(b, 0) == kind)
            .unwrap_or_else(|| panic!("no {kind}"));
        let identity = blocks(resource.body(), "identity")
            .next()
            .unwrap_or_else(|| panic!("{kind}: no identity block"));
        assert_eq!(
            attr(identity.body(), "type").and_then(literal_str),
            Some("SystemAssigned, UserAssigned"),
            "{kind}: the system identity keeps its roles, the user-assigned one is for the database"
        );
        let ids = attr(identity.body(), "identity_ids")
            .map(|e| hcl::format::to_string(e).expect("formats"))
            .unwrap_or_default();
        assert_eq!(
            ids.split_whitespace().collect::<String>(),
            "[var.database_identity_id]",
            "{kind}: identity_ids must be the shared database identity"
        );
    }
}

/// In the root module, PAYMETRICS_DB_USER, PAYMETRICS_DB_CLIENT_ID, the attached identity and
/// the PostgreSQL administrator are all the same user-assigned identity, and no
/// system-assigned identity of the app or the slot is a database principal.
#[test]
fn the_app_and_its_slot_share_one_database_identity_which_is_the_database_administrator() {
    let body = parse(&iac_dir().join("main.tf"));
    let call = blocks(&body, "module")
        .find(|b| label(b, 0) == "function_app")
        .expect("module \"function_app\" in iac/main.tf");
    let text = |key: &str| {
        attr(call.body(), key)
            .map(|e| hcl::format::to_string(e).expect("formats"))
            .unwrap_or_else(|| panic!("module function_app gets no {key}"))
    };
    let identity = blocks(&body, "resource")
        .filter(|b| label(b, 0) == "azurerm_user_assigned_identity")
        .map(|b| format!("azurerm_user_assigned_identity.{}", label(b, 1)))
        .find(|r| text("database_identity_id") == format!("{r}.id"))
        .unwrap_or_else(|| {
            panic!(
                "database_identity_id must be the id of a user-assigned identity of iac/main.tf, not {}",
                text("database_identity_id")
            )
        });
    assert_eq!(
        text("database_identity_client_id"),
        format!("{identity}.client_id")
    );
    assert_eq!(
        text("database_user"),
        format!("{identity}.name"),
        "PAYMETRICS_DB_USER is the identity's name (its PostgreSQL role)"
    );
    assert!(
        attr(call.body(), "staging_database_user").is_none(),
        "the slot has no database user of its own"
    );

    let administrators = blocks(&body, "locals")
        .find_map(|b| attr(b.body(), "database_administrators").cloned())
        .expect("local.database_administrators");
    let administrators = hcl::format::to_string(&administrators).expect("formats");
    assert!(
        administrators.contains(&format!("{identity}.principal_id"))
            && administrators.contains(&format!("{identity}.name")),
        "the database identity must be the PostgreSQL Entra administrator: {administrators}"
    );
    assert!(
        !administrators.contains("module.function_app"),
        "the system-assigned identities of the app and the slot must not be database principals: {administrators}"
    );
    // Still switchable, and on by default (the app migrates and owns the schema).
    assert!(matches!(
        settings_default("function_identity_is_database_administrator"),
        Expression::Bool(true)
    ));
    assert!(
        administrators.contains("var.settings.function_identity_is_database_administrator"),
        "function_identity_is_database_administrator must switch the registration"
    );
}

/// F-7 and A1: on Elastic Premium the package lives in the content share, so the share must
/// move with the code on a swap (Microsoft: a function app breaks when the content share
/// settings are slot settings). Terraform sets it at creation and then leaves it alone, and
/// the create-time share check that a deny-by-default storage account can refuse is skipped.
#[test]
fn content_shares_swap_with_the_code_and_are_not_checked_at_creation() {
    let ep = function_app_locals("EP1", true);
    let app = settings_of(&ep, "app_settings");
    let slot = settings_of(&ep, "staging_app_settings");
    for (name, settings) in [("app", &app), ("staging slot", &slot)] {
        for (setting, value) in [
            ("WEBSITE_SKIP_CONTENTSHARE_VALIDATION", "1"),
            ("WEBSITE_CONTENTOVERVNET", "1"),
        ] {
            assert_eq!(
                settings.get(setting).map(String::as_str),
                Some(value),
                "Elastic Premium {name}: {setting}"
            );
        }
        assert!(settings.contains_key("WEBSITE_CONTENTAZUREFILECONNECTIONSTRING"));
    }
    assert_ne!(
        app.get("WEBSITE_CONTENTSHARE"),
        slot.get("WEBSITE_CONTENTSHARE"),
        "the app and the slot need their own content share"
    );

    // A Dedicated plan has no content share at all.
    let dedicated = settings_of(&function_app_locals("S1", true), "staging_app_settings");
    for setting in dedicated.keys() {
        assert!(
            !setting.starts_with("WEBSITE_CONTENT")
                && setting != "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
            "a Dedicated plan gets no content share setting, found {setting}"
        );
    }

    // The storage settings are never sticky, and every setting that differs between the app
    // and the slot is either sticky or the content share Terraform leaves to the platform.
    let sticky: BTreeSet<String> = ep["sticky_app_setting_names"]
        .as_array()
        .expect("sticky_app_setting_names is a list")
        .iter()
        .map(|v| v.as_str().expect("a name").to_string())
        .collect();
    for never in [
        "WEBSITE_CONTENTSHARE",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "AzureWebJobsStorage",
        "AzureWebJobsStorage__accountName",
    ] {
        assert!(
            !sticky.contains(never),
            "{never} must not be a slot setting: on a swap the package stays behind and the app breaks"
        );
    }
    let names: BTreeSet<&String> = app.keys().chain(slot.keys()).collect();
    for name in names {
        if app.get(name) == slot.get(name) {
            assert!(
                !sticky.contains(name),
                "{name} is the same in both slots and need not be sticky"
            );
        } else {
            assert!(
                sticky.contains(name) || name == "WEBSITE_CONTENTSHARE",
                "{name} differs between the app and the slot: make it sticky, or a swap moves it"
            );
        }
    }

    // Both resources ignore later changes of WEBSITE_CONTENTSHARE (set at creation only).
    let body = parse(&iac_dir().join("modules/function_app/main.tf"));
    for kind in [
        "azurerm_linux_function_app",
        "azurerm_linux_function_app_slot",
    ] {
        let resource = blocks(&body, "resource")
            .find(|b| label(b, 0) == kind)
            .unwrap_or_else(|| panic!("no {kind}"));
        let ignored = blocks(resource.body(), "lifecycle")
            .find_map(|l| attr(l.body(), "ignore_changes").cloned())
            .map(|e| hcl::format::to_string(&e).expect("formats"))
            .unwrap_or_default();
        assert!(
            ignored.contains("app_settings[\"WEBSITE_CONTENTSHARE\"]"),
            "{kind}: lifecycle.ignore_changes must hold app_settings[\"WEBSITE_CONTENTSHARE\"], or the apply after a swap points production at the previous release's share (found {ignored:?})"
        );
    }
}

/// V1: `local_authentication_disabled` is deprecated from azurerm 4.78 and gone in 5.0; its
/// replacement needs the pin raised to 4.78.
#[test]
fn application_insights_uses_local_authentication_enabled_with_a_provider_that_has_it() {
    for path in tf_files() {
        let text = fs::read_to_string(&path).expect("readable");
        assert!(
            !text.contains("local_authentication_disabled"),
            "{}: local_authentication_disabled is deprecated, use local_authentication_enabled",
            rel(&path)
        );
    }
    let insights: Vec<Resource> = resources()
        .into_iter()
        .filter(|r| r.kind == "azurerm_application_insights")
        .collect();
    assert!(!insights.is_empty(), "no azurerm_application_insights");
    for r in &insights {
        // The handler's exporter sends with the connection string's key, so it stays on.
        assert!(
            matches!(
                attr(&r.body, "local_authentication_enabled"),
                Some(Expression::Bool(true))
            ),
            "{}: {} must set local_authentication_enabled = true",
            rel(&r.file),
            r.name
        );
    }
    for dir in tf_files()
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect::<BTreeSet<_>>()
    {
        for (path, body) in parse_dir(&dir) {
            for rp in
                blocks(&body, "terraform").flat_map(|t| blocks(t.body(), "required_providers"))
            {
                let Some(Expression::Object(o)) = attr(rp.body(), "azurerm") else {
                    continue;
                };
                let version = o
                    .iter()
                    .find(|(k, _)| object_key(k).as_deref() == Some("version"))
                    .and_then(|(_, v)| literal_str(v))
                    .unwrap_or_default();
                let minor = version
                    .trim_start_matches("~>")
                    .trim()
                    .strip_prefix("4.")
                    .and_then(|m| m.parse::<u32>().ok())
                    .unwrap_or(0);
                assert!(
                    minor >= 78,
                    "{}: azurerm {version:?} predates local_authentication_enabled on Application Insights (4.78)",
                    rel(&path)
                );
            }
        }
    }
}

/// The CKV_AZURE_221 suppressions explain why inbound access is public; they must name the
/// HTTP-triggered functions there are, and not claim there are none.
#[test]
fn the_public_access_suppressions_name_the_http_triggered_functions() {
    let http: Vec<String> = function_folders()
        .into_iter()
        .filter(|(_, json)| {
            json["bindings"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| b["type"] == "httpTrigger"))
        })
        .map(|(name, _)| name)
        .collect();
    let text =
        fs::read_to_string(iac_dir().join("modules/function_app/main.tf")).expect("readable");
    let reasons: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#checkov:skip=CKV_AZURE_221:"))
        .collect();
    assert_eq!(
        reasons.len(),
        2,
        "the app and the slot each explain CKV_AZURE_221"
    );
    for reason in reasons {
        assert!(
            !reason
                .to_lowercase()
                .contains("no http-triggered functions"),
            "outdated reason: {reason}"
        );
        for function in &http {
            assert!(
                reason.contains(function.as_str()),
                "the reason does not name the HTTP-triggered function {function}: {reason}"
            );
        }
    }
}

/// Issue 11 item 6: the identities tables in docs/SECURITY.md and iac/README.md name only
/// roles that iac/ grants, and no step for a migration firewall rule is described.
#[test]
fn the_docs_name_only_the_roles_the_terraform_grants() {
    let mut granted = BTreeSet::new();
    for r in resources()
        .iter()
        .filter(|r| r.kind == "azurerm_role_assignment")
    {
        if let Some(role) = attr(&r.body, "role_definition_name").and_then(literal_str) {
            granted.insert(role.to_string());
        }
    }
    if let Expression::Array(defaults) = settings_default("function_storage_roles") {
        granted.extend(defaults.iter().filter_map(literal_str).map(str::to_string));
    }
    let known = [
        "Azure Event Hubs Data Receiver",
        "Azure Event Hubs Data Sender",
        "Azure Event Hubs Data Owner",
        "Storage Blob Data Owner",
        "Storage Blob Data Contributor",
        "Storage Blob Data Reader",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
        "Storage Account Contributor",
        "Monitoring Metrics Publisher",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["docs/SECURITY.md", "iac/README.md"] {
        let text = fs::read_to_string(root.join(doc)).expect("readable");
        // Table rows about an identity of the workload (the app, its slot, the simulator).
        for row in text.lines().filter(|l| {
            l.starts_with('|') && (l.contains("Function App") || l.contains("imulator"))
        }) {
            for role in known.iter().filter(|r| row.contains(*r)) {
                assert!(
                    granted.contains(*role),
                    "{doc} lists {role}, which iac/ does not grant: {row}"
                );
            }
        }
        for stale in [
            "firewall-rule create",
            "PAYMETRICS_DB_ADMIN",
            "owning nothing",
        ] {
            assert!(!text.contains(stale), "{doc} still describes {stale:?}");
        }
    }
}

#[test]
fn role_assignments_grant_only_data_roles_on_narrow_scopes() {
    let mut roles = BTreeSet::new();
    for r in resources()
        .iter()
        .filter(|r| r.kind == "azurerm_role_assignment")
    {
        let role = attr(&r.body, "role_definition_name").expect("role_definition_name");
        match literal_str(role) {
            Some(name) => {
                roles.insert(name.to_string());
            }
            None => assert_eq!(
                reference_root(role),
                Some("each"),
                "{}: role must be a literal or each.value.role",
                r.name
            ),
        }
        let scope = attr(&r.body, "scope").expect("scope");
        assert!(
            !matches!(reference_root(scope), Some("data")) && literal_str(scope).is_none(),
            "{}: scope must be a resource of this configuration, not a subscription or a literal",
            r.name
        );
    }
    if let Expression::Array(defaults) = settings_default("function_storage_roles") {
        roles.extend(defaults.iter().filter_map(literal_str).map(str::to_string));
    }
    for needed in [
        "Azure Event Hubs Data Receiver",
        "Azure Event Hubs Data Sender",
        "Storage Blob Data Owner",
    ] {
        assert!(roles.contains(needed), "no role assignment grants {needed}");
    }
    for broad in [
        "Owner",
        "Contributor",
        "User Access Administrator",
        "Azure Event Hubs Data Owner",
    ] {
        assert!(
            !roles.contains(broad),
            "{broad} is broader than the workload needs"
        );
    }
}

#[test]
fn postgresql_is_entra_only_with_tls_and_no_allow_all_firewall_rule() {
    let body = parse(&iac_dir().join("modules/postgresql/main.tf"));
    let server = blocks(&body, "resource")
        .find(|b| label(b, 0) == "azurerm_postgresql_flexible_server")
        .expect("a flexible server");
    let auth = blocks(server.body(), "authentication")
        .next()
        .expect("authentication block");
    assert!(matches!(
        attr(auth.body(), "active_directory_auth_enabled"),
        Some(Expression::Bool(true))
    ));
    assert!(matches!(
        attr(auth.body(), "password_auth_enabled"),
        Some(Expression::Bool(false))
    ));
    assert!(
        attr(server.body(), "administrator_password").is_none(),
        "no password login"
    );

    let mut entries = Vec::new();
    for locals in blocks(&body, "locals") {
        for a in locals.body().attributes() {
            object_entries(a.expr(), &mut entries);
        }
    }
    let params: BTreeMap<String, Expression> = entries.into_iter().collect();
    assert_eq!(
        params.get("require_secure_transport").and_then(literal_str),
        Some("on")
    );

    // No allow-all rule anywhere: not in the files, not in any environment's inputs.
    for path in tf_files()
        .into_iter()
        .chain(files_with_suffix(&iac_dir(), ".tfvars"))
    {
        let text = fs::read_to_string(&path).expect("readable");
        for bad in [
            "\"0.0.0.0/0\"",
            "start_ip_address = \"0.0.0.0\"",
            "end_ip_address   = \"255.255.255.255\"",
        ] {
            assert!(!text.contains(bad), "{}: contains {bad}", rel(&path));
        }
    }
    for env in ENVIRONMENTS {
        let vars = root_variables_for(env);
        if let Some(rules) = vars
            .get("postgresql_firewall_rules")
            .and_then(Value::as_object)
        {
            for (name, rule) in rules {
                assert_ne!(
                    str_of(rule, "start_ip_address"),
                    "0.0.0.0",
                    "{env}: rule {name} allows everyone"
                );
            }
        }
    }
}

#[test]
fn the_outputs_other_tools_need_exist_and_secrets_are_sensitive() {
    let body = parse(&iac_dir().join("outputs.tf"));
    let outputs: BTreeMap<String, Body> = blocks(&body, "output")
        .map(|b| (label(b, 0).to_string(), b.body().clone()))
        .collect();
    for name in [
        "function_app_name",
        "eventhub_name",
        "eventhub_namespace_fqdn",
        "database_host",
        "archive_container_url",
        "application_insights_connection_string",
    ] {
        let output = outputs
            .get(name)
            .unwrap_or_else(|| panic!("iac/outputs.tf has no output {name}"));
        assert!(
            attr(output, "description").is_some(),
            "output {name} has no description"
        );
    }
    assert!(
        matches!(
            attr(
                &outputs["application_insights_connection_string"],
                "sensitive"
            ),
            Some(Expression::Bool(true))
        ),
        "the Application Insights connection string output must be sensitive"
    );
}

/// An environment root is thin: its state backend, the provider, one `settings` variable
/// passed as it is to one call of the root module, and outputs that only pass the root
/// module's on. The declarations, defaults, validations and outputs they share live once, in
/// iac/. The root module's sensitive outputs are passed on as sensitive outputs of their
/// own and kept out of the `paymetrics` object.
#[test]
fn the_environment_roots_hold_only_a_backend_a_provider_and_one_call_of_the_root_module() {
    let root_outputs = parse(&iac_dir().join("outputs.tf"));
    let sensitive: BTreeSet<String> = blocks(&root_outputs, "output")
        .filter(|b| matches!(attr(b.body(), "sensitive"), Some(Expression::Bool(true))))
        .map(|b| label(b, 0).to_string())
        .collect();
    assert!(
        !sensitive.is_empty(),
        "iac/outputs.tf has sensitive outputs"
    );
    let text = |e: &Expression| {
        hcl::format::to_string(e)
            .expect("formats")
            .split_whitespace()
            .collect::<String>()
    };
    for env in ENVIRONMENTS {
        let dir = iac_dir().join("environments").join(env);
        let files = parse_dir(&dir);
        let file_names: Vec<String> = files
            .iter()
            .map(|(p, _)| p.file_name().expect("a file").to_string_lossy().to_string())
            .collect();
        assert_eq!(
            file_names,
            ["backend.tf", "main.tf"],
            "environments/{env}: only backend.tf and main.tf (with terraform.tfvars)"
        );
        let mut modules = Vec::new();
        let mut variables = Vec::new();
        let mut providers = 0;
        let mut outputs = BTreeMap::new();
        for (path, body) in &files {
            for block in body.blocks() {
                match block.identifier() {
                    "terraform" => {}
                    "provider" => providers += 1,
                    "module" => modules.push(block.clone()),
                    "variable" => variables.push(block.clone()),
                    "output" => {
                        outputs.insert(label(block, 0).to_string(), block.body().clone());
                    }
                    other => panic!(
                        "{}: an environment root holds no {other} block: put it in iac/",
                        rel(path)
                    ),
                }
            }
            assert_eq!(
                body.attributes().count(),
                0,
                "{}: no top-level attributes",
                rel(path)
            );
        }
        assert_eq!(providers, 1, "environments/{env}: one provider block");

        // One variable, `settings`, of type any: the root module gives it its type.
        assert_eq!(
            variables.iter().map(|v| label(v, 0)).collect::<Vec<_>>(),
            ["settings"],
            "environments/{env} declares only settings"
        );
        let settings = variables[0].body();
        assert!(
            matches!(attr(settings, "type"), Some(Expression::Variable(v)) if v.as_str() == "any"),
            "environments/{env}: settings is `any`, its type is declared once in iac/variables.tf"
        );
        assert!(
            attr(settings, "default").is_none(),
            "environments/{env}: settings comes from terraform.tfvars"
        );

        // One module call, of the root module, that only names the environment and passes
        // the settings on.
        assert_eq!(modules.len(), 1, "environments/{env}: one module call");
        let call = modules[0].body();
        assert_eq!(label(&modules[0], 0), "paymetrics");
        let arguments: BTreeSet<&str> = call.attributes().map(|a| a.key()).collect();
        assert_eq!(
            arguments,
            BTreeSet::from(["source", "environment", "settings"]),
            "environments/{env}: the module call passes only environment and settings"
        );
        assert_eq!(
            attr(call, "settings").map(text).as_deref(),
            Some("var.settings")
        );
        assert!(
            call.blocks().next().is_none(),
            "environments/{env}: no blocks in the module call"
        );

        // Outputs only pass the root module's on.
        let all = outputs
            .remove("paymetrics")
            .unwrap_or_else(|| panic!("environments/{env} has no output paymetrics"));
        let all_value = attr(&all, "value").map(text).unwrap_or_default();
        assert!(
            all_value.starts_with("{forname,valueinmodule.paymetrics:name=>value"),
            "environments/{env}: output paymetrics is the root module's outputs: {all_value}"
        );
        for secret in &sensitive {
            assert!(
                all_value.contains(&format!("name!=\"{secret}\"")),
                "environments/{env}: output paymetrics must leave out the sensitive {secret}"
            );
        }
        let passed_on: BTreeSet<String> = outputs.keys().cloned().collect();
        assert_eq!(
            passed_on, sensitive,
            "environments/{env}: each sensitive output of the root module is its own output"
        );
        for (name, output) in &outputs {
            assert_eq!(
                attr(output, "value").map(text),
                Some(format!("module.paymetrics.{name}")),
                "environments/{env}: output {name}"
            );
            assert!(
                matches!(attr(output, "sensitive"), Some(Expression::Bool(true))),
                "environments/{env}: output {name} must be sensitive"
            );
        }
    }
}

/// What is left in the environment roots is the same in each (the provider, the variable,
/// the module call and the outputs): main.tf may differ only in the environment's name and
/// the comments describing it. Their backend.tf and terraform.tfvars differ by design.
#[test]
fn the_environment_roots_differ_only_in_the_environment_name() {
    let root = iac_dir().join("environments");
    let normalized = |env: &str| {
        fs::read_to_string(root.join(env).join("main.tf"))
            .expect("readable")
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(&format!("environment = \"{env}\""), "environment = \"ENV\"")
    };
    for env in &ENVIRONMENTS[1..] {
        assert_eq!(
            normalized("dev"),
            normalized(env),
            "{env}/main.tf differs from dev in more than its name"
        );
    }
}

/// Refactoring the environments changes no value: what each environment's terraform.tfvars
/// and the defaults give the root module is exactly the table taken from the files before.
#[test]
fn every_environment_gives_the_root_module_the_values_it_always_had() {
    assert_eq!(
        EFFECTIVE_INPUTS.map(|(env, _)| env),
        ENVIRONMENTS,
        "EFFECTIVE_INPUTS has a table for every environment"
    );
    for (env, expected) in EFFECTIVE_INPUTS {
        let expected: BTreeMap<String, Value> = parse_text(expected, env)
            .attributes()
            .map(|a| {
                let value = eval(
                    a.expr(),
                    &BTreeMap::new(),
                    &format!("EFFECTIVE_INPUTS {env}"),
                );
                (a.key().to_string(), value)
            })
            .collect();
        let actual = root_variables_for(env);
        let names: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
        let differences: Vec<String> = names
            .into_iter()
            .filter(|name| expected.get(*name) != actual.get(*name))
            .map(|name| {
                format!(
                    "{name}: was {:?}, is now {:?}",
                    expected.get(name),
                    actual.get(name)
                )
            })
            .collect();
        assert!(
            differences.is_empty(),
            "{env} changed:\n{}",
            differences.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------
// Alerts in Azure Monitor: the handler's PaymetricsAlert events as notifications
// ---------------------------------------------------------------------------------------

/// The one resource of a type in iac/main.tf.
fn root_resource(kind: &str) -> Body {
    let found: Vec<Resource> = resources().into_iter().filter(|r| r.kind == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}, in iac/main.tf");
    assert_eq!(
        rel(&found[0].file),
        "iac/main.tf",
        "{kind} is in iac/main.tf"
    );
    found[0].body.clone()
}

/// An expression as one line of HCL without white space, to compare references.
fn compact(expr: &Expression) -> String {
    hcl::format::to_string(expr)
        .expect("formats")
        .split_whitespace()
        .collect()
}

/// The locals Terraform has for the alerts in one environment: local.names of
/// naming_conventions.tf and the alert locals of iac/main.tf, computed from `vars` (the root
/// module's `environment` and `settings`).
fn alert_locals(env: &str, vars: &BTreeMap<String, Value>) -> hcl::Map<String, Value> {
    let mut locals = naming_locals(env);
    let main = parse(&iac_dir().join("main.tf"));
    for key in ["alert_rules", "alert_severity_names"] {
        let expr = blocks(&main, "locals")
            .find_map(|b| attr(b.body(), key).cloned())
            .unwrap_or_else(|| panic!("local.{key} in iac/main.tf"));
        let value = expr
            .evaluate(&context_with(vars, &locals))
            .unwrap_or_else(|e| panic!("{env}: local.{key}: {e}"));
        locals.insert(key.to_string(), value);
    }
    locals
}

/// One argument of the alert rule for `each.key` = `key`, evaluated as Terraform would.
fn rule_value(
    expr: &Expression,
    vars: &BTreeMap<String, Value>,
    locals: &hcl::Map<String, Value>,
    key: &str,
) -> Value {
    let mut ctx = context_with(vars, locals);
    let mut each = hcl::Map::new();
    each.insert("key".to_string(), Value::from(key));
    let value = locals["alert_rules"]
        .as_object()
        .and_then(|rules| rules.get(key))
        .cloned()
        .unwrap_or_else(|| panic!("no rule for severity {key}"));
    each.insert("value".to_string(), value);
    ctx.declare_var("each", Value::Object(each));
    expr.evaluate(&ctx)
        .unwrap_or_else(|e| panic!("severity {key}: {e}"))
}

/// A whole number setting as the text Terraform's tostring() gives it ("0".."4").
fn number_text(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => panic!("not a number: {other:?}"),
    }
}

fn settings_mut(vars: &mut BTreeMap<String, Value>) -> &mut hcl::Map<String, Value> {
    match vars.get_mut("settings") {
        Some(Value::Object(settings)) => settings,
        other => panic!("settings is not an object: {other:?}"),
    }
}

#[test]
fn the_action_group_notifies_the_receivers_of_the_settings() {
    let group = root_resource("azurerm_monitor_action_group");
    assert_eq!(
        attr(&group, "count").map(compact).as_deref(),
        Some("var.settings.alerts_enabled?1:0"),
        "the action group exists where alerting is on"
    );
    assert_eq!(
        attr(&group, "short_name").map(compact).as_deref(),
        Some("local.names.action_group_short")
    );
    for env in ENVIRONMENTS {
        let names = &naming_locals(env)["names"];
        let short = str_of(names, "action_group_short");
        assert!(
            (1..=12).contains(&short.chars().count()),
            "{env}: action group short name {short:?} is longer than the provider's 12 characters"
        );
        assert!(str_of(names, "action_group").starts_with("ag-"));
    }

    // Receivers only from the settings: one dynamic block per kind, nothing written in place.
    for (kind, list, address) in [
        ("email_receiver", "alert_email_receivers", "email_address"),
        ("webhook_receiver", "alert_webhook_receivers", "service_uri"),
    ] {
        assert_eq!(
            blocks(&group, kind).count(),
            0,
            "no {kind} written in place: they come from {list}"
        );
        let dynamic: Vec<&Block> = blocks(&group, "dynamic")
            .filter(|b| label(b, 0) == kind)
            .collect();
        assert_eq!(dynamic.len(), 1, "one dynamic \"{kind}\"");
        assert_eq!(
            attr(dynamic[0].body(), "for_each").map(compact),
            Some(format!("var.settings.{list}")),
            "{kind} comes from settings.{list}"
        );
        let content = blocks(dynamic[0].body(), "content")
            .next()
            .unwrap_or_else(|| panic!("dynamic {kind} has content"))
            .body();
        for field in ["name", address] {
            assert_eq!(
                attr(content, field).map(compact),
                Some(format!("{kind}.value.{field}")),
                "{kind}.{field}"
            );
        }
        assert!(
            matches!(
                attr(content, "use_common_alert_schema"),
                Some(Expression::Bool(true))
            ),
            "{kind} uses the common alert schema"
        );
    }

    // Dev notifies by email only; every environment that alerts has someone to tell.
    let dev = root_variables_for("dev");
    assert_eq!(
        dev["alert_webhook_receivers"].as_array().map(Vec::len),
        Some(0),
        "dev routes to email only"
    );
    for env in ENVIRONMENTS {
        let vars = root_variables_for(env);
        if vars["alerts_enabled"].as_bool() == Some(true) {
            let receivers = vars["alert_email_receivers"].as_array().map_or(0, Vec::len)
                + vars["alert_webhook_receivers"]
                    .as_array()
                    .map_or(0, Vec::len);
            assert!(receivers > 0, "{env} alerts but names no receiver");
        }
    }
}

#[test]
fn one_alert_rule_per_severity_counts_fired_paymetrics_alerts_by_alert_and_group() {
    let rule = root_resource("azurerm_monitor_scheduled_query_rules_alert_v2");
    for (key, expected) in [
        ("for_each", "local.alert_rules"),
        ("name", "local.names.alert_rules[each.key]"),
        ("severity", "each.value"),
        ("scopes", "[azurerm_application_insights.main.id]"),
        ("evaluation_frequency", "\"PT5M\""),
        ("window_duration", "\"PT5M\""),
        ("auto_mitigation_enabled", "false"),
        ("skip_query_validation", "true"),
    ] {
        assert_eq!(
            attr(&rule, key).map(compact).as_deref(),
            Some(expected),
            "alert rule {key}"
        );
    }
    assert!(
        blocks(&rule, "identity").next().is_none(),
        "a rule scoped to Application Insights needs no managed identity"
    );
    let action = blocks(&rule, "action").next().expect("an action block");
    assert_eq!(
        attr(action.body(), "action_groups").map(compact).as_deref(),
        Some("[azurerm_monitor_action_group.alerts[0].id]"),
        "the rules notify the action group"
    );

    let criteria: Vec<&Block> = blocks(&rule, "criteria").collect();
    assert_eq!(criteria.len(), 1, "one criteria block");
    let criteria = criteria[0].body();
    for (key, expected) in [
        ("time_aggregation_method", "\"Total\""),
        ("metric_measure_column", "\"fired\""),
        ("operator", "\"GreaterThan\""),
        ("threshold", "0"),
    ] {
        assert_eq!(
            attr(criteria, key).map(compact).as_deref(),
            Some(expected),
            "criteria {key}"
        );
    }
    let dimensions: BTreeMap<String, (String, String)> = blocks(criteria, "dimension")
        .map(|d| {
            let get = |k| attr(d.body(), k).map(compact).unwrap_or_default();
            (
                attr(d.body(), "name")
                    .and_then(literal_str)
                    .expect("a dimension name")
                    .to_string(),
                (get("operator"), get("values")),
            )
        })
        .collect();
    let split = ("\"Include\"".to_string(), "[\"*\"]".to_string());
    assert_eq!(
        dimensions,
        BTreeMap::from([("alert".into(), split.clone()), ("group".into(), split)]),
        "each alert and group notifies on its own"
    );
    let query = attr(criteria, "query").expect("a query");

    for env in ENVIRONMENTS {
        let vars = root_inputs(env);
        let locals = alert_locals(env, &vars);
        let severities: BTreeSet<String> = root_variables_for(env)["alert_severities"]
            .as_array()
            .expect("a list")
            .iter()
            .map(number_text)
            .collect();
        let rules = locals["alert_rules"].as_object().expect("an object");
        assert_eq!(
            rules.keys().cloned().collect::<BTreeSet<_>>(),
            severities,
            "{env}: one rule per routed severity"
        );
        let mut names = BTreeSet::new();
        for key in rules.keys() {
            let name = rule_value(attr(&rule, "name").expect("name"), &vars, &locals, key);
            let name = name.as_str().expect("a name").to_string();
            assert!(
                name.starts_with(&format!("alert-sev{key}-")),
                "{env}: {name}"
            );
            assert!(names.insert(name), "{env}: rule names are unique");
            let severity = rule_value(
                attr(&rule, "severity").expect("severity"),
                &vars,
                &locals,
                key,
            );
            assert_eq!(
                number_text(&severity),
                *key,
                "{env}: the rule for severity {key} has severity {severity:?}"
            );
            let text = rule_value(query, &vars, &locals, key);
            let text = text.as_str().expect("query text");
            for needed in [
                "customEvents".to_string(),
                "where name == \"PaymetricsAlert\"".to_string(),
                "state = tostring(customDimensions.state)".to_string(),
                "severity = tostring(customDimensions.severity)".to_string(),
                format!("where state == \"fired\" and severity == \"{key}\""),
                "summarize fired = count() by alert = tostring(customDimensions.alert), ['group'] = tostring(customDimensions['group'])".to_string(),
            ] {
                assert!(
                    text.contains(&needed),
                    "{env}: the query for severity {key} lacks {needed:?}:\n{text}"
                );
            }
        }
    }

    // production notifies every severity; alerts_enabled = false creates no rule.
    assert_eq!(
        root_variables_for("production")["alert_severities"]
            .as_array()
            .map(|a| a.iter().map(number_text).collect::<Vec<_>>()),
        Some(["0", "1", "2", "3", "4"].map(String::from).to_vec()),
        "production routes all severities"
    );
    let mut off = root_inputs("dev");
    settings_mut(&mut off).insert("alerts_enabled".into(), Value::Bool(false));
    assert_eq!(
        alert_locals("dev", &off)["alert_rules"],
        Value::Object(hcl::Map::new())
    );
}

/// The validations of `settings` about the alerts that fail for these inputs: their error
/// messages.
fn failing_alert_validations(vars: &BTreeMap<String, Value>) -> Vec<String> {
    failing_validations(vars, ".alert")
}

#[test]
fn alert_settings_are_validated() {
    let settings = variables(&iac_dir().join("variables.tf"))
        .remove("settings")
        .expect("variable settings");
    let about_alerts = blocks(&settings, "validation")
        .filter(|v| attr(v.body(), "condition").is_some_and(|c| compact(c).contains(".alert")))
        .count();
    assert!(
        about_alerts >= 4,
        "severities, addresses, URLs and names are validated"
    );
    for env in ENVIRONMENTS {
        assert_eq!(
            failing_alert_validations(&root_inputs(env)),
            Vec::<String>::new(),
            "{env} passes"
        );
    }

    let with = |key: &str, hcl_value: &str| {
        let mut vars = root_inputs("production");
        let value = eval(
            &parse_text(&format!("v = {hcl_value}"), key)
                .attributes()
                .next()
                .expect("v")
                .expr()
                .clone(),
            &BTreeMap::new(),
            key,
        );
        settings_mut(&mut vars).insert(key.to_string(), value);
        failing_alert_validations(&vars)
    };
    let fails = |key: &str, value: &str, about: &str| {
        let failed = with(key, value);
        assert!(
            failed.len() == 1 && failed[0].contains(about),
            "{key} = {value} must fail the {about} validation, failed: {failed:?}"
        );
    };
    let passes = |key: &str, value: &str| {
        assert_eq!(with(key, value), Vec::<String>::new(), "{key} = {value}");
    };

    passes("alert_severities", "[0, 1, 2, 3, 4]");
    passes("alert_severities", "[4]");
    for bad in ["[5]", "[-1]", "[0, 0]", "[]", "[1.5]"] {
        fails("alert_severities", bad, "alert_severities");
    }

    let email = |address: &str| format!("[{{ name = \"a\", email_address = \"{address}\" }}]");
    passes("alert_email_receivers", &email("team@example.com"));
    passes(
        "alert_email_receivers",
        &email("pay.ments+alerts@mail.example.co.uk"),
    );
    for bad in [
        "team",
        "team@",
        "@example.com",
        "team@example",
        "team@@example.com",
        "te am@example.com",
        "team@example.",
        "",
    ] {
        fails("alert_email_receivers", &email(bad), "email_address");
    }

    passes(
        "alert_webhook_receivers",
        "[{ name = \"w\", service_uri = \"https://incidents.example.com/hook\" }]",
    );
    fails(
        "alert_webhook_receivers",
        "[{ name = \"w\", service_uri = \"http://incidents.example.com/hook\" }]",
        "https://",
    );
    // Names: unique across emails and webhooks, not blank.
    fails(
        "alert_webhook_receivers",
        "[{ name = \"payments-platform-oncall\", service_uri = \"https://incidents.example.com/hook\" }]",
        "unique",
    );
    fails(
        "alert_email_receivers",
        "[{ name = \" \", email_address = \"team@example.com\" }]",
        "unique",
    );
}

/// docs/OBSERVABILITY.md shows the query a rule runs (severity 2's) as Terraform renders it.
#[test]
fn the_observability_doc_shows_the_query_the_alert_rules_run() {
    let rule = root_resource("azurerm_monitor_scheduled_query_rules_alert_v2");
    let criteria = blocks(&rule, "criteria").next().expect("criteria");
    let query = attr(criteria.body(), "query").expect("a query");
    let vars = root_inputs("production");
    let locals = alert_locals("production", &vars);
    let rendered = rule_value(query, &vars, &locals, "2");
    let rendered = rendered.as_str().expect("query text").trim_end();
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/OBSERVABILITY.md"))
            .expect("readable");
    assert!(
        doc.contains(&format!("```kusto\n{rendered}\n```")),
        "docs/OBSERVABILITY.md (Alerts in Azure Monitor) must show the rule's query for severity 2:\n{rendered}"
    );
}

// ---------------------------------------------------------------------------------------
// The raw-event archive: Event Hubs Capture into a container of its own account
// ---------------------------------------------------------------------------------------

/// The one block `ident` in `body`.
fn one_block<'a>(body: &'a Body, ident: &'a str, what: &str) -> &'a Body {
    let found: Vec<&Block> = blocks(body, ident).collect();
    assert_eq!(found.len(), 1, "{what}: one {ident} block");
    found[0].body()
}

/// A resource of a module's main.tf, by type and name.
fn module_resource(module: &str, kind: &str, name: &str) -> Body {
    let body = parse(&iac_dir().join("modules").join(module).join("main.tf"));
    blocks(&body, "resource")
        .find(|b| label(b, 0) == kind && label(b, 1) == name)
        .unwrap_or_else(|| panic!("modules/{module} has no {kind}.{name}"))
        .body()
        .clone()
}

/// The call of module `name` in iac/main.tf.
fn root_module(name: &str) -> Body {
    let main = parse(&iac_dir().join("main.tf"));
    blocks(&main, "module")
        .find(|b| label(b, 0) == name)
        .unwrap_or_else(|| panic!("iac/main.tf calls no module {name}"))
        .body()
        .clone()
}

/// A resource of iac/main.tf, by type and name.
fn root_resource_named(kind: &str, name: &str) -> Body {
    let main = parse(&iac_dir().join("main.tf"));
    blocks(&main, "resource")
        .find(|b| label(b, 0) == kind && label(b, 1) == name)
        .unwrap_or_else(|| panic!("iac/main.tf has no {kind}.{name}"))
        .body()
        .clone()
}

fn compact_attr(body: &Body, key: &str, what: &str) -> String {
    compact(attr(body, key).unwrap_or_else(|| panic!("{what} has no {key}")))
}

/// The archive container's resource ID, as every archive role assignment scopes it.
const ARCHIVE_CONTAINER_SCOPE: &str =
    "module.archive_storage_account.containers[local.names.archive_container]";

#[test]
fn capture_archives_every_event_as_avro_with_the_default_name_format_and_its_identity() {
    let hub = module_resource("event_hub", "azurerm_eventhub", "payments");
    let capture = one_block(&hub, "capture_description", "azurerm_eventhub.payments");
    assert!(matches!(
        attr(capture, "enabled"),
        Some(Expression::Bool(true))
    ));
    assert_eq!(
        attr(capture, "encoding").and_then(literal_str),
        Some("Avro")
    );
    assert!(
        matches!(
            attr(capture, "skip_empty_archives"),
            Some(Expression::Bool(true))
        ),
        "no blob for a window without events"
    );
    assert_eq!(
        compact_attr(capture, "interval_in_seconds", "capture_description"),
        "var.capture_interval_seconds"
    );
    assert_eq!(
        compact_attr(capture, "size_limit_in_bytes", "capture_description"),
        "var.capture_size_limit_bytes"
    );
    let destination = one_block(capture, "destination", "capture_description");
    assert_eq!(
        attr(destination, "name").and_then(literal_str),
        Some("EventHubArchive.AzureBlockBlob")
    );
    assert_eq!(
        attr(destination, "archive_name_format").and_then(literal_str),
        Some("{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}"),
        "the documented default layout, which docs/ARCHIVE.md and handler replay rely on"
    );
    assert_eq!(
        compact_attr(destination, "blob_container_name", "destination"),
        "var.capture_container_name"
    );
    assert_eq!(
        compact_attr(destination, "storage_account_id", "destination"),
        "var.capture_storage_account_id"
    );
    // Identity-based: no SAS (the provider's default, StorageSAS), no key anywhere.
    assert_eq!(
        attr(destination, "storage_authentication_type").and_then(literal_str),
        Some("UserAssigned")
    );
    assert_eq!(
        compact_attr(destination, "storage_authentication_id", "destination"),
        "var.capture_identity_id"
    );
    let namespace = module_resource("event_hub", "azurerm_eventhub_namespace", "this");
    assert!(matches!(
        attr(&namespace, "local_authentication_enabled"),
        Some(Expression::Bool(false))
    ));
    let identity = one_block(&namespace, "identity", "the namespace");
    assert_eq!(
        attr(identity, "type").and_then(literal_str),
        Some("UserAssigned")
    );
    assert_eq!(
        compact_attr(identity, "identity_ids", "the namespace's identity"),
        "[var.capture_identity_id]"
    );

    // The root module wires the archive account, its container and the Capture identity in,
    // and creates the hub only once that identity may write.
    let call = root_module("event_hub");
    for (input, expected) in [
        (
            "capture_storage_account_id",
            "module.archive_storage_account.id",
        ),
        ("capture_container_name", "local.names.archive_container"),
        (
            "capture_identity_id",
            "azurerm_user_assigned_identity.capture.id",
        ),
        (
            "capture_interval_seconds",
            "var.settings.archive_capture_interval_seconds",
        ),
        (
            "capture_size_limit_bytes",
            "var.settings.archive_capture_size_limit_bytes",
        ),
    ] {
        assert_eq!(compact_attr(&call, input, "module event_hub"), expected);
    }
    assert_eq!(
        compact_attr(&call, "depends_on", "module event_hub"),
        "[azurerm_role_assignment.archive_writer]"
    );
}

/// Failing validations of the `settings` variable whose condition mentions `about`.
fn failing_validations(vars: &BTreeMap<String, Value>, about: &str) -> Vec<String> {
    let settings = variables(&iac_dir().join("variables.tf"))
        .remove("settings")
        .expect("variable settings");
    blocks(&settings, "validation")
        .filter(|v| attr(v.body(), "condition").is_some_and(|c| compact(c).contains(about)))
        .filter_map(|v| {
            let condition = attr(v.body(), "condition").expect("a condition");
            let message = attr(v.body(), "error_message")
                .and_then(literal_str)
                .unwrap_or_default()
                .to_string();
            match eval(condition, vars, &message) {
                Value::Bool(true) => None,
                Value::Bool(false) => Some(message),
                other => panic!("{message}: the condition is {other:?}"),
            }
        })
        .collect()
}

#[test]
fn each_environment_archives_with_its_own_window_size_and_retention() {
    // (environment, interval s, size bytes, retention days, cool after days, replication)
    let expected = [
        ("dev", 900, 10_485_760, 7, 0, "LRS"),
        ("staging", 300, 104_857_600, 30, 0, "LRS"),
        ("production", 300, 314_572_800, 400, 30, "ZRS"),
    ];
    for (env, interval, size, retention, cool, replication) in expected {
        let vars = root_variables_for(env);
        let num = |k: &str| vars[k].as_i64().unwrap_or_else(|| panic!("{env}: {k}"));
        assert_eq!(num("archive_capture_interval_seconds"), interval, "{env}");
        assert_eq!(num("archive_capture_size_limit_bytes"), size, "{env}");
        assert_eq!(num("archive_retention_days"), retention, "{env}");
        assert_eq!(num("archive_cool_after_days"), cool, "{env}");
        assert_eq!(
            vars["archive_replication_type"].as_str(),
            Some(replication),
            "{env}"
        );
        assert!(
            matches!(vars["eventhub_sku"].as_str(), Some("Standard" | "Premium")),
            "{env}: Capture needs Standard or Premium"
        );
        assert_eq!(
            failing_validations(&root_inputs(env), ".archive_"),
            Vec::<String>::new(),
            "{env} passes the archive validations"
        );
        assert_eq!(
            failing_validations(&root_inputs(env), ".eventhub_sku"),
            Vec::<String>::new(),
            "{env} passes the tier validation"
        );
    }

    // Bad values are refused: windows out of Capture's ranges, cool at or after deletion.
    let bad: [(&str, Value); 7] = [
        ("archive_capture_interval_seconds", Value::from(30)),
        ("archive_capture_interval_seconds", Value::from(1000)),
        ("archive_capture_size_limit_bytes", Value::from(1_048_576)),
        ("archive_retention_days", Value::from(0)),
        ("archive_cool_after_days", Value::from(400)),
        ("archive_cool_after_days", Value::from(-1)),
        ("eventhub_sku", Value::from("Basic")),
    ];
    for (key, value) in bad {
        let mut vars = root_inputs("production");
        settings_mut(&mut vars).insert(key.to_string(), value.clone());
        let about = if key == "eventhub_sku" {
            ".eventhub_sku"
        } else {
            ".archive_"
        };
        assert!(
            !failing_validations(&vars, about).is_empty(),
            "{key} = {value:?} passes the validations"
        );
    }
    let mut equal = root_inputs("staging");
    settings_mut(&mut equal).insert("archive_cool_after_days".into(), Value::from(30));
    assert!(
        !failing_validations(&equal, ".archive_").is_empty(),
        "cool after 30 days with a 30-day retention passes the validations"
    );
}

#[test]
fn the_archive_has_its_own_keyless_account_and_a_lifecycle_on_its_container() {
    let call = root_module("archive_storage_account");
    assert_eq!(
        attr(&call, "source").and_then(literal_str),
        Some("./modules/storage_account")
    );
    assert!(
        matches!(
            attr(&call, "shared_access_key_enabled"),
            Some(Expression::Bool(false))
        ),
        "no shared key on the archive account in any environment"
    );
    assert!(
        attr(&call, "content_share_names").is_none(),
        "no content share in the archive account"
    );
    assert_eq!(
        compact_attr(&call, "name", "module archive_storage_account"),
        "local.names.archive_storage_account"
    );
    assert_eq!(
        compact_attr(&call, "replication_type", "module archive_storage_account"),
        "var.settings.archive_replication_type"
    );
    assert_eq!(
        compact_attr(&call, "containers", "module archive_storage_account"),
        "{(local.names.archive_container)={cool_after_days=var.settings.archive_cool_after_daysdelete_after_days=var.settings.archive_retention_days}}"
    );

    // The firewall lets Capture in as a trusted Azure service, nothing else from outside.
    let account = module_resource("storage_account", "azurerm_storage_account", "this");
    let rules = one_block(&account, "network_rules", "the storage account");
    assert_eq!(
        attr(rules, "default_action").and_then(literal_str),
        Some("Deny")
    );
    let Some(Expression::Array(bypass)) = attr(rules, "bypass") else {
        panic!("network_rules.bypass is a list")
    };
    assert!(
        bypass
            .iter()
            .any(|b| literal_str(b) == Some("AzureServices")),
        "Event Hubs Capture writes as a trusted Azure service"
    );
    let container = module_resource("storage_account", "azurerm_storage_container", "this");
    assert_eq!(
        attr(&container, "container_access_type").and_then(literal_str),
        Some("private")
    );

    // One lifecycle rule per container, on its prefix, evaluated for each environment as
    // Terraform would give the rule its container.
    let policy = module_resource(
        "storage_account",
        "azurerm_storage_management_policy",
        "this",
    );
    let rule = blocks(&policy, "dynamic")
        .find(|d| label(d, 0) == "rule")
        .expect("a dynamic rule block");
    let content = one_block(rule.body(), "content", "the rule");
    let filters = one_block(content, "filters", "the rule");
    assert_eq!(
        compact_attr(filters, "blob_types", "filters"),
        "[\"blockBlob\"]"
    );
    assert_eq!(
        compact_attr(filters, "prefix_match", "filters"),
        "[\"${azurerm_storage_container.this[rule.key].name}/\"]"
    );
    let base_blob = one_block(
        one_block(content, "actions", "the rule"),
        "base_blob",
        "actions",
    );
    let cool = attr(
        base_blob,
        "tier_to_cool_after_days_since_creation_greater_than",
    )
    .expect("a move to cool");
    let delete =
        attr(base_blob, "delete_after_days_since_creation_greater_than").expect("a deletion");
    for (env, cool_days, delete_days) in [
        ("dev", None, 7),
        ("staging", None, 30),
        ("production", Some(30), 400),
    ] {
        let settings = root_variables_for(env);
        let mut ctx = context_with(&BTreeMap::new(), &hcl::Map::new());
        let mut value = hcl::Map::new();
        value.insert(
            "cool_after_days".to_string(),
            settings["archive_cool_after_days"].clone(),
        );
        value.insert(
            "delete_after_days".to_string(),
            settings["archive_retention_days"].clone(),
        );
        let mut each = hcl::Map::new();
        each.insert("key".to_string(), Value::from("archive"));
        each.insert("value".to_string(), Value::Object(value));
        ctx.declare_var("rule", Value::Object(each));
        let got = |expr: &Expression| expr.evaluate(&ctx).expect("evaluates").as_i64();
        assert_eq!(got(cool), cool_days, "{env}: days before the cool tier");
        assert_eq!(
            got(delete),
            Some(delete_days),
            "{env}: days before deletion"
        );
    }
}

#[test]
fn only_capture_writes_the_archive_and_the_app_reads_it() {
    let writer = root_resource_named("azurerm_role_assignment", "archive_writer");
    assert_eq!(
        attr(&writer, "role_definition_name").and_then(literal_str),
        Some("Storage Blob Data Contributor"),
        "Microsoft documents Storage Blob Data Contributor for Capture's identity"
    );
    assert_eq!(
        compact_attr(&writer, "scope", "archive_writer"),
        ARCHIVE_CONTAINER_SCOPE
    );
    assert_eq!(
        compact_attr(&writer, "principal_id", "archive_writer"),
        "azurerm_user_assigned_identity.capture.principal_id"
    );
    assert!(attr(&writer, "for_each").is_none(), "one writer");

    let reader = root_resource_named("azurerm_role_assignment", "archive_reader");
    assert_eq!(
        attr(&reader, "role_definition_name").and_then(literal_str),
        Some("Storage Blob Data Reader")
    );
    assert_eq!(
        compact_attr(&reader, "scope", "archive_reader"),
        ARCHIVE_CONTAINER_SCOPE
    );
    assert_eq!(
        compact_attr(&reader, "for_each", "archive_reader"),
        "local.archive_readers"
    );
    let main = parse(&iac_dir().join("main.tf"));
    let readers = blocks(&main, "locals")
        .find_map(|b| attr(b.body(), "archive_readers").cloned())
        .expect("local.archive_readers");
    let readers = compact(&readers);
    assert!(
        readers.contains("local.function_principals")
            && readers.contains("var.settings.archive_reader_principals"),
        "the app and its slot, and the settings' principals, read the archive: {readers}"
    );

    // No other role assignment reaches the archive account, and the host storage roles stay
    // on the host account.
    for r in resources()
        .iter()
        .filter(|r| r.kind == "azurerm_role_assignment")
    {
        let scope = compact(attr(&r.body, "scope").expect("scope"));
        if scope.contains("archive_storage_account") {
            assert!(
                ["archive_writer", "archive_reader"].contains(&r.name.as_str()),
                "{}: only Capture writes and the readers read the archive",
                r.name
            );
        }
    }
    let host = root_resource_named("azurerm_role_assignment", "function_storage");
    assert_eq!(
        compact_attr(&host, "scope", "function_storage"),
        "module.storage_account.id"
    );

    // The app and its slot get the container's URL (handler replay's default container),
    // and the root module outputs it.
    let locals = function_app_locals("EP1", true);
    for key in ["app_settings", "staging_app_settings"] {
        assert_eq!(
            settings_of(&locals, key)
                .get("PAYMETRICS_ARCHIVE_CONTAINER_URL")
                .map(String::as_str),
            Some("<archive_container_url>"),
            "{key}"
        );
    }
    let app = root_module("function_app");
    assert_eq!(
        compact_attr(&app, "archive_container_url", "module function_app"),
        "module.archive_storage_account.container_urls[local.names.archive_container]"
    );
    let outputs = parse(&iac_dir().join("outputs.tf"));
    let output = blocks(&outputs, "output")
        .find(|b| label(b, 0) == "archive_container_url")
        .expect("output archive_container_url");
    assert_eq!(
        compact_attr(output.body(), "value", "output archive_container_url"),
        "module.archive_storage_account.container_urls[local.names.archive_container]"
    );
    let urls = parse(&iac_dir().join("modules/storage_account/outputs.tf"));
    let urls = blocks(&urls, "output")
        .find(|b| label(b, 0) == "container_urls")
        .expect("output container_urls");
    assert_eq!(
        compact_attr(urls.body(), "value", "output container_urls"),
        "{fork,cinazurerm_storage_container.this:k=>\"${azurerm_storage_account.this.primary_blob_endpoint}${c.name}\"}"
    );
}

#[test]
fn the_archive_account_name_fits_with_the_longest_workload_and_region() {
    let mut vars = root_inputs("production");
    let settings = settings_mut(&mut vars);
    settings.insert("workload".into(), Value::from("abcdefghij"));
    settings.insert("location".into(), Value::from("westus3"));
    let body = parse(&iac_dir().join("naming_conventions.tf"));
    let locals = evaluate_locals(&body, &vars, "naming_conventions.tf, longest names");
    let name = str_of(&locals["names"], "archive_storage_account");
    assert_eq!(name, "staabcdefghijprodwus3001");
    assert!(name.len() <= 24, "{name:?} is longer than 24 characters");
}
