//! docs/MODULE-REFERENCE.md, generated from the HCL (issue 17): every input, validation and
//! output of the root module and of each module under `iac/modules/`, how the root module
//! wires them, and what each environment sets. The test renders the reference and fails when
//! the committed file differs; `PAYMETRICS_UPDATE_DOCS=1` writes it instead.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use hcl::expr::{Expression, Operation, TemplateExpr, TraversalOperator};
use hcl::format::{Format, Formatter};
use hcl::template::{Directive, Element};
use hcl::{Body, Template};

use super::{
    ENVIRONMENTS, attr, blocks, iac_dir, label, literal_str, object_key, parse, parse_dir,
};

const DOC: &str = "docs/MODULE-REFERENCE.md";
/// Arguments of a `module` block that are not inputs of the module.
const META_ARGUMENTS: [&str; 5] = ["source", "depends_on", "count", "for_each", "providers"];
const COMMAND: &str = "PAYMETRICS_UPDATE_DOCS=1 cargo test --locked --test iac module_reference";

// ---------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------

/// An expression as HCL on one line: hcl-rs's formatter with compact arrays and objects,
/// any line breaks left (for-expressions, heredocs) joined with single spaces.
fn hcl_text(expr: &Expression) -> String {
    let mut formatter = Formatter::builder()
        .compact(true)
        .prefer_ident_keys(true)
        .build(Vec::new());
    let text = expr.format_string(&mut formatter).expect("formats");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Code in a table cell: backticks around it, `|` escaped (GitHub reads `\|` as `|` there).
fn code(text: &str) -> String {
    let fence = if text.contains('`') { "``" } else { "`" };
    let pad = if text.contains('`') { " " } else { "" };
    format!("{fence}{pad}{}{pad}{fence}", text.replace('|', "\\|"))
}

fn code_expr(expr: &Expression) -> String {
    code(&hcl_text(expr))
}

/// Prose from the HCL (descriptions, error messages) in a table cell.
fn prose(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('*', "\\*")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

fn string_attr(body: &Body, key: &str) -> Option<String> {
    attr(body, key).map(|e| match literal_str(e) {
        Some(s) => s.to_string(),
        None => hcl_text(e),
    })
}

fn bool_attr(body: &Body, key: &str) -> bool {
    matches!(attr(body, key), Some(Expression::Bool(true)))
}

/// A GitHub heading anchor for a heading made of `text` (lowercase, punctuation dropped).
fn anchor(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            ' ' => Some('-'),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// References: what feeds an expression
// ---------------------------------------------------------------------------------------

/// The root module's locals (every `locals` block of its `.tf` files), by name.
fn root_locals() -> BTreeMap<String, Expression> {
    let mut locals = BTreeMap::new();
    for (_, body) in parse_dir(&iac_dir()) {
        for block in blocks(&body, "locals") {
            for a in block.body().attributes() {
                locals.insert(a.key().to_string(), a.expr().clone());
            }
        }
    }
    locals
}

/// Collects what an expression is computed from, locals followed to what they read:
/// `var.environment`, `var.settings.NAME`, `TYPE.NAME.ATTRIBUTE` of a resource,
/// `data.TYPE.NAME.ATTRIBUTE` and `module.NAME.OUTPUT`.
struct Sources<'a> {
    locals: &'a BTreeMap<String, Expression>,
    found: BTreeSet<String>,
    visiting: Vec<String>,
}

impl Sources<'_> {
    fn walk(&mut self, expr: &Expression, bound: &[String]) {
        match expr {
            Expression::Variable(v) => self.reference(v.as_str(), &[], bound),
            Expression::Traversal(t) => match &t.expr {
                Expression::Variable(v) => {
                    self.reference(v.as_str(), &t.operators, bound);
                    for op in &t.operators {
                        if let TraversalOperator::Index(index) = op {
                            self.walk(index, bound);
                        }
                    }
                }
                other => {
                    self.walk(other, bound);
                    for op in &t.operators {
                        if let TraversalOperator::Index(index) = op {
                            self.walk(index, bound);
                        }
                    }
                }
            },
            Expression::Array(items) => items.iter().for_each(|e| self.walk(e, bound)),
            Expression::Object(object) => {
                for (key, value) in object {
                    if let hcl::expr::ObjectKey::Expression(k) = key {
                        self.walk(k, bound);
                    }
                    self.walk(value, bound);
                }
            }
            Expression::TemplateExpr(t) => self.template(t, bound),
            Expression::FuncCall(call) => call.args.iter().for_each(|a| self.walk(a, bound)),
            Expression::Parenthesis(inner) => self.walk(inner, bound),
            Expression::Conditional(c) => {
                self.walk(&c.cond_expr, bound);
                self.walk(&c.true_expr, bound);
                self.walk(&c.false_expr, bound);
            }
            Expression::Operation(op) => match op.as_ref() {
                Operation::Unary(u) => self.walk(&u.expr, bound),
                Operation::Binary(b) => {
                    self.walk(&b.lhs_expr, bound);
                    self.walk(&b.rhs_expr, bound);
                }
            },
            Expression::ForExpr(f) => {
                self.walk(&f.collection_expr, bound);
                let mut inner = bound.to_vec();
                inner.extend(f.key_var.iter().map(|k| k.to_string()));
                inner.push(f.value_var.to_string());
                if let Some(k) = &f.key_expr {
                    self.walk(k, &inner);
                }
                self.walk(&f.value_expr, &inner);
                if let Some(c) = &f.cond_expr {
                    self.walk(c, &inner);
                }
            }
            _ => {}
        }
    }

    fn template(&mut self, expr: &TemplateExpr, bound: &[String]) {
        let template = Template::from_expr(expr).expect("a valid template");
        self.elements(&template, bound);
    }

    fn elements(&mut self, template: &Template, bound: &[String]) {
        for element in template.elements() {
            match element {
                Element::Literal(_) => {}
                Element::Interpolation(i) => self.walk(&i.expr, bound),
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(i) => {
                        self.walk(&i.cond_expr, bound);
                        self.elements(&i.true_template, bound);
                        if let Some(f) = &i.false_template {
                            self.elements(f, bound);
                        }
                    }
                    Directive::For(f) => {
                        self.walk(&f.collection_expr, bound);
                        let mut inner = bound.to_vec();
                        inner.extend(f.key_var.iter().map(|k| k.to_string()));
                        inner.push(f.value_var.to_string());
                        self.elements(&f.template, &inner);
                    }
                },
            }
        }
    }

    fn reference(&mut self, root: &str, ops: &[TraversalOperator], bound: &[String]) {
        if bound.iter().any(|b| b == root) {
            return;
        }
        let names: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                TraversalOperator::GetAttr(i) => Some(i.as_str()),
                _ => None,
            })
            .collect();
        match root {
            "local" => self.local(ops),
            "var" => {
                let depth = if names.first() == Some(&"settings") {
                    2
                } else {
                    1
                };
                let path: Vec<&str> = names.iter().take(depth).copied().collect();
                self.found.insert(format!("var.{}", path.join(".")));
            }
            "module" | "data" => {
                let depth = if root == "module" { 2 } else { 3 };
                let path: Vec<&str> = names.iter().take(depth).copied().collect();
                self.found.insert(format!("{root}.{}", path.join(".")));
            }
            "each" | "count" | "path" | "terraform" | "self" => {}
            resource_type => {
                let path: Vec<&str> = names.iter().take(2).copied().collect();
                self.found
                    .insert(format!("{resource_type}.{}", path.join(".")));
            }
        }
    }

    /// A local, followed into object entries as far as the attribute names go
    /// (`local.names.function_app` reads only the `function_app` entry of `local.names`).
    fn local(&mut self, ops: &[TraversalOperator]) {
        let Some(TraversalOperator::GetAttr(name)) = ops.first() else {
            return;
        };
        let key = name.to_string();
        if self.visiting.contains(&key) {
            return;
        }
        let Some(mut expr) = self.locals.get(&key).cloned() else {
            panic!("local.{key} is not defined in iac/*.tf");
        };
        for op in &ops[1..] {
            let TraversalOperator::GetAttr(attr) = op else {
                break;
            };
            let Expression::Object(object) = &expr else {
                break;
            };
            let Some((_, value)) = object
                .iter()
                .find(|(k, _)| object_key(k).as_deref() == Some(attr.as_str()))
            else {
                break;
            };
            expr = value.clone();
        }
        self.visiting.push(key);
        self.walk(&expr, &[]);
        self.visiting.pop();
    }
}

fn sources(expr: &Expression, locals: &BTreeMap<String, Expression>) -> BTreeSet<String> {
    let mut s = Sources {
        locals,
        found: BTreeSet::new(),
        visiting: Vec::new(),
    };
    s.walk(expr, &[]);
    s.found
}

fn sources_cell(found: &BTreeSet<String>) -> String {
    if found.is_empty() {
        "a constant".to_string()
    } else {
        found.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ")
    }
}

// ---------------------------------------------------------------------------------------
// Reading a module
// ---------------------------------------------------------------------------------------

struct Variable {
    name: String,
    body: Body,
}

struct Module {
    files: Vec<String>,
    variables: Vec<Variable>,
    outputs: Vec<Variable>,
    resources: Vec<String>,
    module_calls: Vec<(String, Body)>,
    /// `required_version` and the `required_providers` of the `terraform` block.
    requires: Vec<String>,
}

const VARIABLE_ATTRIBUTES: [&str; 4] = ["type", "default", "description", "sensitive"];
const OUTPUT_ATTRIBUTES: [&str; 3] = ["description", "value", "sensitive"];

fn read_module(dir: &Path) -> Module {
    let mut module = Module {
        files: Vec::new(),
        variables: Vec::new(),
        outputs: Vec::new(),
        resources: Vec::new(),
        module_calls: Vec::new(),
        requires: Vec::new(),
    };
    for (path, body) in parse_dir(dir) {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for block in body.blocks() {
            let ident = block.identifier();
            let at = format!("{file}: {ident} {:?}", block.labels());
            match ident {
                "variable" | "output" => {
                    let known: &[&str] = if ident == "variable" {
                        &VARIABLE_ATTRIBUTES
                    } else {
                        &OUTPUT_ATTRIBUTES
                    };
                    for a in block.body().attributes() {
                        assert!(
                            known.contains(&a.key()),
                            "{at}: the module reference does not render `{}` yet (tests/iac/reference.rs)",
                            a.key()
                        );
                    }
                    for b in block.body().blocks() {
                        assert!(
                            ident == "variable" && b.identifier() == "validation",
                            "{at}: the module reference does not render `{}` blocks yet (tests/iac/reference.rs)",
                            b.identifier()
                        );
                    }
                    let v = Variable {
                        name: label(block, 0).to_string(),
                        body: block.body().clone(),
                    };
                    if ident == "variable" {
                        module.variables.push(v);
                    } else {
                        module.outputs.push(v);
                    }
                }
                "resource" => {
                    module
                        .resources
                        .push(format!("{}.{}", label(block, 0), label(block, 1)))
                }
                "data" => {
                    module
                        .resources
                        .push(format!("data.{}.{}", label(block, 0), label(block, 1)))
                }
                "module" => module
                    .module_calls
                    .push((label(block, 0).to_string(), block.body().clone())),
                "terraform" => {
                    if let Some(version) = attr(block.body(), "required_version") {
                        module
                            .requires
                            .push(format!("Terraform {}", code_expr(version)));
                    }
                    for providers in blocks(block.body(), "required_providers") {
                        for a in providers.body().attributes() {
                            module.requires.push(format!(
                                "provider {} {}",
                                code(a.key()),
                                code_expr(a.expr())
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        module.files.push(file);
    }
    module
}

fn module_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(iac_dir().join("modules"))
        .expect("iac/modules")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

/// The comment lines right above each attribute of the `settings` type in iac/variables.tf
/// (hcl-rs drops comments), and the `# --- Section` heading each attribute is under.
fn settings_comments(names: &BTreeSet<String>) -> BTreeMap<String, (String, String)> {
    let text = fs::read_to_string(iac_dir().join("variables.tf")).expect("iac/variables.tf");
    let start = text
        .find("variable \"settings\"")
        .expect("variable \"settings\" in iac/variables.tf");
    let mut found = BTreeMap::new();
    let mut section = String::new();
    let mut pending: Vec<String> = Vec::new();
    for line in text[start..].lines() {
        let line = line.trim();
        if line.starts_with("validation") {
            break;
        }
        if let Some(heading) = line.strip_prefix("# ---") {
            section = heading.trim().to_string();
            pending.clear();
        } else if let Some(comment) = line.strip_prefix('#') {
            pending.push(comment.trim().to_string());
        } else {
            let name = line.split('=').next().unwrap_or("").trim();
            if names.contains(name) && !found.contains_key(name) && !pending.is_empty() {
                found.insert(name.to_string(), (section.clone(), pending.join(" ")));
            }
            pending.clear();
        }
    }
    found
}

/// The attributes of an `object({...})` type in order: (name, type, default), the default
/// `Some` for `optional(type, default)` (`null` for `optional(type)`).
pub(crate) fn object_attributes(ty: &Expression) -> Vec<(String, Expression, Option<Expression>)> {
    let Expression::FuncCall(call) = ty else {
        panic!("settings must be an object({{...}}) type")
    };
    let Some(Expression::Object(attrs)) = call.args.first() else {
        panic!("settings must be an object({{...}}) type")
    };
    assert_eq!(call.name.name.as_str(), "object", "settings is an object");
    attrs
        .iter()
        .map(|(key, ty)| {
            let name = object_key(key).expect("an attribute name");
            match ty {
                Expression::FuncCall(o) if o.name.name.as_str() == "optional" => (
                    name,
                    o.args[0].clone(),
                    Some(o.args.get(1).cloned().unwrap_or(Expression::Null)),
                ),
                other => (name, other.clone(), None),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// The inputs of a module; `settings_link` is set for the root module, whose `settings`
/// type is rendered attribute by attribute in its own section.
fn render_inputs(out: &mut String, variables: &[Variable], settings_link: bool) {
    out.push_str("| input | type | default | sensitive | description |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for v in variables {
        let ty = if settings_link && v.name == "settings" {
            "`object({...})`, its attributes under [Settings](#settings)".to_string()
        } else {
            attr(&v.body, "type").map_or("not declared".to_string(), code_expr)
        };
        let default = attr(&v.body, "default").map_or("required".to_string(), code_expr);
        let sensitive = if bool_attr(&v.body, "sensitive") {
            "yes"
        } else {
            ""
        };
        let description = string_attr(&v.body, "description").unwrap_or_default();
        writeln!(
            out,
            "| {} | {ty} | {default} | {sensitive} | {} |",
            code(&v.name),
            prose(&description)
        )
        .unwrap();
    }
}

/// The validations of `variables`, each under the input it belongs to; with `settings` (the
/// root module) those of `settings` are under the settings their condition reads.
fn render_validations(
    out: &mut String,
    variables: &[Variable],
    locals: &BTreeMap<String, Expression>,
    settings: bool,
) {
    let column = if settings { "checks" } else { "input" };
    writeln!(out, "| {column} | condition | error message |").unwrap();
    out.push_str("| --- | --- | --- |\n");
    for v in variables {
        for validation in blocks(&v.body, "validation") {
            let condition = attr(validation.body(), "condition").expect("a condition");
            let message = string_attr(validation.body(), "error_message").expect("a message");
            let checks = if settings && v.name == "settings" {
                let read: Vec<String> = sources(condition, locals)
                    .into_iter()
                    .map(|s| s.strip_prefix("var.").unwrap_or(&s).to_string())
                    .collect();
                read.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ")
            } else {
                code(&v.name)
            };
            writeln!(
                out,
                "| {checks} | {} | {} |",
                code_expr(condition),
                prose(&message)
            )
            .unwrap();
        }
    }
}

fn render_outputs(
    out: &mut String,
    outputs: &[Variable],
    fed: Option<&BTreeMap<String, Expression>>,
) {
    if fed.is_some() {
        out.push_str("| output | value | from | sensitive | description |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
    } else {
        out.push_str("| output | value | sensitive | description |\n");
        out.push_str("| --- | --- | --- | --- |\n");
    }
    for o in outputs {
        let value = attr(&o.body, "value").expect("an output value");
        let sensitive = if bool_attr(&o.body, "sensitive") {
            "yes"
        } else {
            ""
        };
        let description = prose(&string_attr(&o.body, "description").unwrap_or_default());
        match fed {
            Some(locals) => writeln!(
                out,
                "| {} | {} | {} | {sensitive} | {description} |",
                code(&o.name),
                code_expr(value),
                sources_cell(&sources(value, locals))
            ),
            None => writeln!(
                out,
                "| {} | {} | {sensitive} | {description} |",
                code(&o.name),
                code_expr(value)
            ),
        }
        .unwrap();
    }
}

fn list(items: &[String]) -> String {
    items.iter().map(|i| code(i)).collect::<Vec<_>>().join(", ")
}

fn render() -> String {
    let root = read_module(&iac_dir());
    let locals = root_locals();
    let modules: Vec<(String, Module)> = module_names()
        .into_iter()
        .map(|name| {
            let m = read_module(&iac_dir().join("modules").join(&name));
            (name, m)
        })
        .collect();
    let settings_var = root
        .variables
        .iter()
        .find(|v| v.name == "settings")
        .expect("variable \"settings\" in iac/variables.tf");
    let settings = object_attributes(attr(&settings_var.body, "type").expect("typed"));
    let names: BTreeSet<String> = settings.iter().map(|(n, _, _)| n.clone()).collect();
    let comments = settings_comments(&names);

    let mut out = String::new();
    out.push_str("# Terraform module reference\n\n");
    out.push_str(
        "For the engineer who changes or reviews the infrastructure in `iac/`: the inputs, \
validations and outputs of the root module and of every module under `iac/modules/`, how the \
root module wires them together, and the values each environment under `iac/environments/` \
sets. How to plan and apply, the names, the access model and the checks are in \
[iac/README.md](../iac/README.md).\n\n",
    );
    writeln!(
        out,
        "This file is generated from the HCL by `tests/iac/reference.rs`; do not edit it by hand. \
`cargo test --locked --test iac` fails when it differs from what the HCL gives; regenerate it \
with `{COMMAND}`. Types, defaults, conditions and values are the HCL expressions as hcl-rs \
formats them back, on one line (comments dropped; a `|` inside a table is written `\\|`). \
Order: the root module first, then the modules by folder name; inputs, validations, outputs and \
module calls in file order (files by name); settings in the order of the `settings` type; \
environments dev, staging, production.\n"
    )
    .unwrap();

    out.push_str("## Contents\n\n");
    out.push_str("- [How the modules connect](#how-the-modules-connect)\n");
    out.push_str("- [Root module `iac/`](#root-module-iac)\n");
    for (name, _) in &modules {
        let heading = format!("Module modules/{name}");
        writeln!(out, "- [Module `modules/{name}`](#{})", anchor(&heading)).unwrap();
    }
    out.push_str("- [Environments](#environments)\n\n");

    // --- Connections
    out.push_str("## How the modules connect\n\n");
    out.push_str(
        "The `module` blocks of the root module (`iac/main.tf`). An arrow from a module is \
its outputs that feed another module's inputs or the root module's outputs; an arrow from \
`var.environment, var.settings` means some input of that module is computed from them; a \
dotted arrow is a `depends_on`.\n\n",
    );
    out.push_str("```mermaid\nflowchart LR\n");
    out.push_str("  settings[\"var.environment, var.settings\"]\n");
    for (call, _) in &root.module_calls {
        writeln!(out, "  {call}[\"module.{call}\"]").unwrap();
    }
    out.push_str("  outputs[\"root outputs\"]\n");
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (call, body) in &root.module_calls {
        for a in body
            .attributes()
            .filter(|a| !META_ARGUMENTS.contains(&a.key()))
        {
            for s in sources(a.expr(), &locals) {
                if let Some(rest) = s.strip_prefix("module.") {
                    let (from, output) = rest.split_once('.').unwrap_or((rest, ""));
                    edges
                        .entry((from.to_string(), call.clone()))
                        .or_default()
                        .insert(output.to_string());
                } else if s.starts_with("var.") {
                    edges
                        .entry(("settings".to_string(), call.clone()))
                        .or_default();
                }
            }
        }
    }
    for o in &root.outputs {
        for s in sources(attr(&o.body, "value").expect("value"), &locals) {
            if let Some(rest) = s.strip_prefix("module.") {
                let (from, output) = rest.split_once('.').unwrap_or((rest, ""));
                edges
                    .entry((from.to_string(), "outputs".to_string()))
                    .or_default()
                    .insert(output.to_string());
            }
        }
    }
    for ((from, to), outputs) in &edges {
        if outputs.is_empty() {
            writeln!(out, "  {from} --> {to}").unwrap();
        } else {
            let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
            writeln!(out, "  {from} -->|\"{}\"| {to}", outputs.join(", ")).unwrap();
        }
    }
    for (call, body) in &root.module_calls {
        if let Some(Expression::Array(deps)) = attr(body, "depends_on") {
            for dep in deps {
                let text = hcl_text(dep);
                let dep = text.strip_prefix("module.").unwrap_or(&text);
                writeln!(out, "  {dep} -.->|depends_on| {call}").unwrap();
            }
        }
    }
    out.push_str("```\n\n");
    out.push_str(
        "For each call below, **from** is what the value is computed from, locals followed to \
what they read: `var.environment`, a setting (`var.settings.NAME`), an attribute of a \
resource or data source of the root module, or another module's output. An input the call \
does not set takes the module's default.\n\n",
    );
    for (call, body) in &root.module_calls {
        let source = string_attr(body, "source").expect("a module source");
        writeln!(out, "### `module.{call}`\n").unwrap();
        write!(out, "Source `{source}`").unwrap();
        if let Some(deps) = attr(body, "depends_on") {
            write!(out, "; `depends_on = {}`", hcl_text(deps)).unwrap();
        }
        out.push_str(".\n\n");
        let target = source
            .trim_start_matches("./")
            .trim_start_matches("modules/");
        let module = modules
            .iter()
            .find(|(n, _)| n == target)
            .map(|(_, m)| m)
            .unwrap_or_else(|| panic!("module {call}: no iac/modules/{target}"));
        out.push_str("| input | value | from |\n| --- | --- | --- |\n");
        for a in body.attributes() {
            if META_ARGUMENTS.contains(&a.key()) {
                continue;
            }
            assert!(
                module.variables.iter().any(|v| v.name == a.key()),
                "module {call} sets {}, which modules/{target} does not declare",
                a.key()
            );
            writeln!(
                out,
                "| {} | {} | {} |",
                code(a.key()),
                code_expr(a.expr()),
                sources_cell(&sources(a.expr(), &locals))
            )
            .unwrap();
        }
        for v in &module.variables {
            if attr(body, &v.name).is_none() {
                let default = attr(&v.body, "default").map_or("none".to_string(), code_expr);
                writeln!(
                    out,
                    "| {} | not set | the default, {default} |",
                    code(&v.name)
                )
                .unwrap();
            }
        }
        out.push('\n');
    }

    // --- Root module
    writeln!(out, "## Root module `iac/`\n").unwrap();
    writeln!(out, "Files: {}.\n", list(&root.files)).unwrap();
    writeln!(out, "Requires: {}.\n", root.requires.join("; ")).unwrap();
    writeln!(
        out,
        "Resources and data sources: {}.\n",
        list(&root.resources)
    )
    .unwrap();
    out.push_str("### Inputs\n\n");
    render_inputs(&mut out, &root.variables, true);
    out.push('\n');
    out.push_str("### Settings\n\n");
    out.push_str(
        "The attributes of the `settings` object, grouped by the section comments of \
`iac/variables.tf`. Each description is the comment above the attribute in the type. \
A setting with a default is declared `optional(type, default)` and may be left out.\n\n",
    );
    let mut section = None;
    for (name, ty, default) in &settings {
        let (sec, description) = comments.get(name).cloned().unwrap_or_else(|| {
            panic!("setting {name} has no comment above it in iac/variables.tf")
        });
        if section.as_ref() != Some(&sec) {
            if section.is_some() {
                out.push('\n');
            }
            writeln!(out, "#### {sec}\n").unwrap();
            out.push_str("| setting | type | default | description |\n");
            out.push_str("| --- | --- | --- | --- |\n");
            section = Some(sec);
        }
        let default = default.as_ref().map_or("required".to_string(), code_expr);
        writeln!(
            out,
            "| {} | {} | {default} | {} |",
            code(name),
            code_expr(ty),
            prose(&description)
        )
        .unwrap();
    }
    out.push('\n');
    out.push_str("### Validations\n\n");
    out.push_str(
        "In file order; **checks** names the variable, or the settings a condition of \
`settings` reads.\n\n",
    );
    render_validations(&mut out, &root.variables, &locals, true);
    out.push('\n');
    out.push_str("### Outputs\n\n");
    out.push_str("**from** is what the value is computed from, as for the module calls.\n\n");
    render_outputs(&mut out, &root.outputs, Some(&locals));
    out.push('\n');

    // --- Modules
    for (name, module) in &modules {
        writeln!(out, "## Module `modules/{name}`\n").unwrap();
        writeln!(out, "Files: {}.\n", list(&module.files)).unwrap();
        writeln!(out, "Requires: {}.\n", module.requires.join("; ")).unwrap();
        writeln!(
            out,
            "Resources and data sources: {}.\n",
            list(&module.resources)
        )
        .unwrap();
        let callers: Vec<String> = root
            .module_calls
            .iter()
            .filter(|(_, b)| {
                string_attr(b, "source").as_deref() == Some(&format!("./modules/{name}"))
            })
            .map(|(c, _)| format!("module.{c}"))
            .collect();
        writeln!(out, "Called by the root module as {}.\n", list(&callers)).unwrap();
        out.push_str("### Inputs\n\n");
        render_inputs(&mut out, &module.variables, false);
        out.push('\n');
        out.push_str("### Validations\n\n");
        render_validations(&mut out, &module.variables, &locals, false);
        out.push('\n');
        out.push_str("### Outputs\n\n");
        render_outputs(&mut out, &module.outputs, None);
        out.push('\n');
    }

    // --- Environments
    out.push_str("## Environments\n\n");
    out.push_str(
        "Each folder under `iac/environments/` is a root of its own: `backend.tf` (the state \
backend), `main.tf` (the provider, one call of the root module and the outputs passed on) and \
`terraform.tfvars` (the `settings` object). The arguments of the call and the backend:\n\n",
    );
    out.push_str("| | ");
    out.push_str(&ENVIRONMENTS.join(" | "));
    out.push_str(" |\n| --- |");
    out.push_str(&" --- |".repeat(ENVIRONMENTS.len()));
    out.push('\n');
    let mut env_rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut env_settings: Vec<BTreeMap<String, Expression>> = Vec::new();
    let mut env_outputs: Vec<Vec<String>> = Vec::new();
    for (i, env) in ENVIRONMENTS.iter().enumerate() {
        let dir = iac_dir().join("environments").join(env);
        let env_module = read_module(&dir);
        let mut row =
            |key: String, value: String| match env_rows.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) => values[i] = value,
                None => {
                    let mut values = vec![String::new(); ENVIRONMENTS.len()];
                    values[i] = value;
                    env_rows.push((key, values));
                }
            };
        let mut files: Vec<String> = fs::read_dir(&dir)
            .expect("an environment folder")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .filter(|n| !n.starts_with('.'))
            .collect();
        files.sort();
        row("files".to_string(), list(&files));
        for (call, body) in &env_module.module_calls {
            for a in body.attributes() {
                row(
                    format!("`module.{call}`: {}", code(a.key())),
                    code_expr(a.expr()),
                );
            }
        }
        for (_, body) in parse_dir(&dir) {
            for terraform in blocks(&body, "terraform") {
                for backend in blocks(terraform.body(), "backend") {
                    for a in backend.body().attributes() {
                        row(
                            format!("backend `{}`: {}", label(backend, 0), code(a.key())),
                            code_expr(a.expr()),
                        );
                    }
                }
            }
        }
        env_outputs.push(env_module.outputs.iter().map(|o| o.name.clone()).collect());
        let tfvars = parse(&dir.join("terraform.tfvars"));
        for a in tfvars.attributes() {
            assert_eq!(
                a.key(),
                "settings",
                "environments/{env}/terraform.tfvars: the module reference renders only `settings` (tests/iac/reference.rs)"
            );
        }
        let mut values = BTreeMap::new();
        if let Some(Expression::Object(object)) = attr(&tfvars, "settings") {
            for (key, value) in object {
                values.insert(object_key(key).expect("a setting name"), value.clone());
            }
        }
        env_settings.push(values);
    }
    for (key, values) in &env_rows {
        writeln!(out, "| {key} | {} |", values.join(" | ")).unwrap();
    }
    let outputs: Vec<String> = env_outputs.iter().map(|o| list(o)).collect();
    writeln!(out, "| outputs | {} |", outputs.join(" | ")).unwrap();
    out.push('\n');
    out.push_str(
        "The settings each `terraform.tfvars` sets, against the default of `iac/variables.tf`; \
an empty cell takes the default.\n\n",
    );
    out.push_str("| setting | default | ");
    out.push_str(&ENVIRONMENTS.join(" | "));
    out.push_str(" |\n| --- | --- |");
    out.push_str(&" --- |".repeat(ENVIRONMENTS.len()));
    out.push('\n');
    let mut rows: Vec<(String, String)> = settings
        .iter()
        .map(|(n, _, d)| {
            (
                n.clone(),
                d.as_ref().map_or("required".to_string(), code_expr),
            )
        })
        .collect();
    for values in &env_settings {
        for key in values.keys() {
            if !names.contains(key) && !rows.iter().any(|(n, _)| n == key) {
                rows.push((key.clone(), "not declared".to_string()));
            }
        }
    }
    for (name, default) in &rows {
        let cells: Vec<String> = env_settings
            .iter()
            .map(|values| values.get(name).map_or(String::new(), code_expr))
            .collect();
        writeln!(
            out,
            "| {} | {default} | {} |",
            code(name),
            cells.join(" | ")
        )
        .unwrap();
    }
    out
}

/// Where the committed reference and the rendered one first differ, as a readable hint.
fn first_difference(committed: &str, rendered: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), rendered.lines().collect());
    for i in 0..a.len().max(b.len()) {
        let (old, new) = (a.get(i), b.get(i));
        if old != new {
            return format!(
                "first difference at line {}:\n  committed: {}\n  from HCL:  {}\n({} lines committed, {} rendered)",
                i + 1,
                old.unwrap_or(&"(end of file)"),
                new.unwrap_or(&"(end of file)"),
                a.len(),
                b.len()
            );
        }
    }
    "they differ only in line endings or the final newline".to_string()
}

#[test]
fn module_reference_is_generated_from_the_hcl() {
    let rendered = render();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    if std::env::var_os("PAYMETRICS_UPDATE_DOCS").is_some_and(|v| v == "1") {
        fs::write(&path, &rendered).unwrap_or_else(|e| panic!("{DOC}: {e}"));
        return;
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{DOC} is not what the HCL in iac/ gives; {}\nRegenerate it with `{COMMAND}` and commit it.",
        first_difference(&committed, &rendered)
    );
}
