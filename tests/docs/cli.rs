//! The commands and long flags of `handler` and `simulator`, from the built binaries'
//! help (their clap types live in the binaries, out of a test's reach).
//!
//! An invocation in the docs is a command whose program is `handler` or `simulator`
//! (or a path ending in one, or `cargo run [--bin NAME] ... --`), at the start of an inline
//! code span, or at the start of a command in a fenced block (a line, or after `&&`, `||`,
//! `;`, `|` or `$(`, after any `NAME=value` assignments). A line ending in `\` or a next
//! line starting with `--` or `[--` continues it; `#` starts a comment. Its first word, if
//! not a flag, is the subcommand; every `--flag` after the program is one of its flags.
//! A code span that is a string of the code (a log message such as `handler stopped`) is
//! not an invocation.
//! A code span that starts with `--` holds flags on their own: each must be a flag of one
//! of the binaries, or of another program (it occurs in `scripts/`, `.ci/`, `.github/` or
//! a fenced block of the docs). `simulator … --flag` elides the command: the flag must
//! be one of some command.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

use super::{Doc, docs, files_under, read, report};

/// A binary's commands: subcommand (`""` for the binary itself) to its long flags.
type Cli = BTreeMap<String, BTreeSet<String>>;

fn help(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program} {args:?}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands of a help text's `Commands:` section (with clap's `help`).
fn commands(help: &str) -> Vec<String> {
    section(help, "Commands:")
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The long flags of a help text's `Options:` section.
fn flags(help: &str) -> BTreeSet<String> {
    section(help, "Options:")
        .filter_map(|l| {
            let indent = l.len() - l.trim_start().len();
            let l = l.trim_start();
            let l = match l.strip_prefix('-') {
                Some(short) if !short.starts_with('-') => short.get(3..)?,
                _ => l,
            };
            (indent <= 6).then_some(l)?.strip_prefix("--").map(|f| {
                format!(
                    "--{}",
                    f.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .next()
                        .unwrap()
                )
            })
        })
        .collect()
}

/// The lines of a help section, up to the next heading (a line that is not indented;
/// long help separates its entries with blank lines).
fn section<'a>(help: &'a str, title: &str) -> impl Iterator<Item = &'a str> {
    help.lines()
        .skip_while(move |l| l.trim() != title)
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| !l.trim().is_empty())
}

/// The CLI of the binary at `program`.
fn cli_of(program: &str) -> Cli {
    let top = help(program, &["--help"]);
    let mut cli = Cli::new();
    cli.insert(String::new(), flags(&top));
    for command in commands(&top) {
        let flags = if command == "help" {
            BTreeSet::new()
        } else {
            flags(&help(program, &["help", &command]))
        };
        cli.insert(command, flags);
    }
    cli
}

/// `binary -> CLI` of the binaries this build has.
fn binaries() -> BTreeMap<&'static str, Cli> {
    let mut out = BTreeMap::new();
    out.insert("handler", cli_of(env!("CARGO_BIN_EXE_handler")));
    #[cfg(feature = "simulator")]
    out.insert("simulator", cli_of(env!("CARGO_BIN_EXE_simulator")));
    out
}

/// The command of `simulator … --auth x`: elided, so its flags may be any command's.
const ELIDED: &str = "…";

/// An invocation of a binary in a doc.
#[derive(Debug, PartialEq)]
struct Invocation {
    line: usize,
    binary: String,
    /// `""` for the binary itself (`handler --version`, `handler` serving).
    command: String,
    flags: Vec<String>,
}

/// The words of a command, split on whitespace; operators (`|`, `&&`, `;`, `>`) and a
/// `#` comment end it, except `|` inside brackets (`[--a | --b]`, `x|y`).
fn command_words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    for word in text.split_whitespace() {
        if depth == 0
            && (word == "|"
                || word == "||"
                || word == "&&"
                || word == ";"
                || word.starts_with('#')
                || word.starts_with('>')
                || word.starts_with("2>"))
        {
            break;
        }
        depth += word.matches('[').count() as i32 - word.matches(']').count() as i32;
        out.push(word);
    }
    out
}

/// The long flags in `words`: `--name`, also inside brackets and `--a/--b`, without
/// `=value`.
fn long_flags(words: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for word in words {
        for part in word.split('/') {
            let part = part.trim_start_matches(['[', '(', '|']);
            if let Some(name) = part.strip_prefix("--") {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                    out.push(format!("--{name}"));
                }
            }
        }
    }
    out
}

/// The invocation `text` starts with, if its program is one of ours.
fn invocation(text: &str, line: usize) -> Option<Invocation> {
    let words = command_words(text);
    let mut rest = &words[..];
    while rest.first().is_some_and(|w| {
        w.contains('=')
            && !w.starts_with('-')
            && w.split('=')
                .next()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
    }) {
        rest = &rest[1..];
    }
    let program = *rest.first()?;
    let program = program
        .trim_start_matches(['(', '$'])
        .trim_start_matches('(');
    let (binary, args) = if program == "cargo" && rest.get(1) == Some(&"run") {
        let dashes = rest.iter().position(|w| *w == "--");
        let bin = rest
            .iter()
            .position(|w| *w == "--bin")
            .and_then(|i| rest.get(i + 1))
            .copied()
            .unwrap_or("handler");
        (bin, dashes.map_or(&[][..], |i| &rest[i + 1..]))
    } else {
        (program.rsplit('/').next().unwrap(), &rest[1..])
    };
    if binary != "handler" && binary != "simulator" {
        return None;
    }
    let command = match args.first() {
        Some(word)
            if word.starts_with(|c: char| c.is_ascii_lowercase())
                && word.chars().all(|c| c.is_ascii_lowercase() || c == '-') =>
        {
            (*word).to_owned()
        }
        Some(&"…" | &"...") => ELIDED.to_owned(),
        _ => String::new(),
    };
    Some(Invocation {
        line,
        binary: binary.to_owned(),
        command,
        flags: long_flags(args),
    })
}

/// The starts of commands in one shell line: the line, and what follows `&&`, `||`,
/// `;`, `|` (outside brackets) and `$(`.
fn command_starts(line: &str) -> Vec<&str> {
    let mut starts = vec![line.trim_start().trim_start_matches("$ ")];
    let mut depth = 0i32;
    let bytes = line.as_bytes();
    for (i, c) in line.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '#' if i == 0 || bytes[i - 1] == b' ' => break,
            _ => {}
        }
        let next = &line[i..];
        for op in ["&& ", "|| ", "; ", "$("] {
            if let Some(after) = next.strip_prefix(op) {
                starts.push(after.trim_start());
            }
        }
        if let Some(after) = next.strip_prefix("| ")
            && depth == 0
            && !(i > 0 && bytes[i - 1] == b'|')
        {
            starts.push(after.trim_start());
        }
    }
    starts
}

/// Every invocation of our binaries in a doc.
fn invocations(doc: &Doc) -> Vec<Invocation> {
    // A span that is a message of the code (`handler stopped`, a log line) is no command.
    static MESSAGES: OnceLock<BTreeSet<String>> = OnceLock::new();
    let messages = MESSAGES.get_or_init(|| {
        let mut literals = BTreeSet::new();
        for file in files_under("src").iter().filter(|f| f.ends_with(".rs")) {
            for line in read(file).lines() {
                literals.extend(line.split('"').skip(1).step_by(2).map(str::to_owned));
            }
        }
        literals
    });
    let mut out: Vec<Invocation> = doc
        .spans
        .iter()
        .filter(|s| !messages.contains(&s.text))
        .filter_map(|s| invocation(&s.text, s.line))
        .collect();
    // Fenced shell: join continued lines first.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    let mut last_block_line = 0;
    for line in doc.blocks.iter().filter(|b| {
        matches!(
            b.lang.as_str(),
            "" | "sh" | "bash" | "shell" | "console" | "text"
        )
    }) {
        let text = line.text.trim_end();
        let starts_flag =
            text.trim_start().starts_with("--") || text.trim_start().starts_with("[--");
        let adjacent = line.line == last_block_line + 1;
        match logical.last_mut() {
            Some((_, previous)) if adjacent && (continued || starts_flag) => {
                previous.push(' ');
                previous.push_str(text.trim_end_matches('\\'));
            }
            _ => logical.push((line.line, text.trim_end_matches('\\').to_owned())),
        }
        continued = text.ends_with('\\');
        last_block_line = line.line;
    }
    for (line, text) in logical {
        for start in command_starts(&text) {
            out.extend(invocation(start, line));
        }
    }
    out
}

#[test]
fn every_command_and_flag_in_the_docs_exists() {
    let binaries = binaries();
    // Another program's flags: those the scripts and workflows use, and those of the
    // docs' fenced blocks (`gh secret set ... --env staging`).
    let mut tools: String = ["scripts", ".ci", ".github"]
        .iter()
        .flat_map(|d| files_under(d))
        .map(|f| read(&f))
        .collect();
    for doc in docs() {
        for line in &doc.blocks {
            tools.push_str(&line.text);
            tools.push('\n');
        }
    }
    let mut problems = Vec::new();
    for doc in docs() {
        for call in invocations(&doc) {
            let Some(cli) = binaries.get(call.binary.as_str()) else {
                continue;
            };
            let any: BTreeSet<String> = cli.values().flatten().cloned().collect();
            let known = if call.command == ELIDED {
                Some(&any)
            } else {
                cli.get(&call.command)
            };
            let Some(known) = known else {
                problems.push(format!(
                    "{}: `{} {}` is not a command of {} (it has: {}): fix or remove the invocation",
                    doc.at(call.line),
                    call.binary,
                    call.command,
                    call.binary,
                    cli.keys()
                        .filter(|k| !k.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            };
            for flag in &call.flags {
                if !known.contains(flag) {
                    problems.push(format!(
                        "{}: `{flag}` is not a flag of `{} {}` (it has: {}): fix or remove it",
                        doc.at(call.line),
                        call.binary,
                        call.command,
                        known.iter().cloned().collect::<Vec<_>>().join(" ")
                    ));
                }
            }
        }
        for span in doc.spans.iter().filter(|s| s.text.starts_with("--")) {
            let words: Vec<&str> = span.text.split_whitespace().collect();
            for flag in long_flags(&words) {
                let ours = binaries
                    .values()
                    .flat_map(|cli| cli.values())
                    .any(|f| f.contains(&flag));
                if !ours && !tools.contains(&flag) {
                    problems.push(format!(
                        "{}: `{flag}` is a flag of neither handler nor simulator, and no script, \
                         workflow or shown command uses it: fix or remove it",
                        doc.at(span.line)
                    ));
                }
            }
        }
    }
    report("commands and flags named by the docs", problems);
}

#[test]
fn every_command_and_flag_is_documented() {
    let docs = docs();
    let shown: Vec<(String, String, Vec<String>)> = docs
        .iter()
        .flat_map(|d| {
            invocations(d)
                .into_iter()
                .map(|i| (i.binary, i.command, i.flags))
        })
        .collect();
    let mut problems = Vec::new();
    for (binary, cli) in binaries() {
        // clap's own `help` subcommand and `--help` flag need no doc.
        for (command, flags) in cli.iter().filter(|(c, _)| *c != "help") {
            let calls: Vec<&Vec<String>> = shown
                .iter()
                .filter(|(b, c, _)| b == binary && c == command)
                .map(|(_, _, f)| f)
                .collect();
            let name = if command.is_empty() {
                binary.to_owned()
            } else {
                format!("{binary} {command}")
            };
            if !command.is_empty() && calls.is_empty() {
                problems.push(format!(
                    "`{name}` is shown in no doc: add the invocation, in a code span or block, to \
                     the doc of {binary} (docs/CONFIGURATION.md for handler, docs/SIMULATOR.md for simulator)"
                ));
                continue;
            }
            for flag in flags.iter().filter(|f| *f != "--help") {
                if !calls.iter().any(|f| f.contains(flag)) {
                    problems.push(format!(
                        "`{name} {flag}` is shown in no doc: add it to an invocation of `{name}` \
                         (a code span or block) in the doc of {binary}"
                    ));
                }
            }
        }
    }
    report("commands and flags of the binaries", problems);
}

#[test]
fn invocations_are_found_in_spans_and_shell_blocks() {
    let call = invocation(
        "simulator run --config FILE [--seed N] [--count N | --duration D] --from/--to",
        3,
    )
    .unwrap();
    assert_eq!(call.command, "run");
    assert_eq!(
        call.flags,
        [
            "--config",
            "--seed",
            "--count",
            "--duration",
            "--from",
            "--to"
        ]
    );
    let call = invocation(
        "./target/release/handler migrate # (or PAYMETRICS_MIGRATE=on-start --x)",
        1,
    )
    .unwrap();
    assert_eq!(
        (
            call.binary.as_str(),
            call.command.as_str(),
            call.flags.len()
        ),
        ("handler", "migrate", 0)
    );
    let call = invocation("cargo run --bin simulator -- report --limit 5 | head", 1).unwrap();
    assert_eq!(
        (call.binary.as_str(), call.command.as_str()),
        ("simulator", "report")
    );
    assert_eq!(call.flags, ["--limit"]);
    assert_eq!(
        invocation("handler --version", 1).unwrap().flags,
        ["--version"]
    );
    assert!(invocation("cp target/release/handler .", 1).is_none());
    assert!(invocation("the handler migrates", 1).is_none());
    let starts = command_starts("cargo build && ./handler migrate | tee x  # handler nope");
    assert_eq!(starts.len(), 3);
    let help = "Usage: x\n\nCommands:\n  run      Go\n           on\n  help     Print\n\nOptions:\n  -h, --help  Print\n\n      --dry-run\n          x\n          --not-this\nAfter:\n  --neither\n";
    assert_eq!(commands(help), ["run", "help"]);
    assert_eq!(
        flags(help).into_iter().collect::<Vec<_>>(),
        ["--dry-run", "--help"]
    );
}
