//! The documentation agrees with the code on names (issue 17). No database, no network:
//! the docs are read as Markdown, the code as text, the binaries through their `--help`
//! and the engine settings through their own parser.
//!
//! Each test checks one kind of name both ways: every name the docs give must exist in
//! the code, and every name the code defines must be named in the docs.
//!
//! - `env`: environment variables and app settings;
//! - `cli`: the subcommands and long flags of `handler` and `simulator`;
//! - `settings`: the keys of the engine settings file (`config/engine.yaml`);
//! - `tables`: the tables and views of `migrations/`;
//! - `routes`: the function folders, their HTTP routes and the handler's own routes.
//!
//! A failure names the document and line (or the code's file), the name, and what to do.
//! The docs are README.md, `docs/**/*.md`, `iac/README.md` and `dashboards/README.md`.

mod cli;
mod env;
mod routes;
mod settings;
mod tables;

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file's text, relative to the root.
fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

/// Files under `dir` (relative to the root), recursively, as root-relative paths with `/`,
/// sorted. Build output, dependencies and version control are left out.
fn files_under(dir: &str) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if matches!(
                    name.as_ref(),
                    "target" | "node_modules" | ".git" | "corpus" | "artifacts" | ".terraform"
                ) {
                    continue;
                }
                walk(root, &path, out);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = root();
    let mut out = Vec::new();
    walk(&root, &root.join(dir), &mut out);
    out.sort();
    out
}

/// The documents every check reads, root-relative.
fn doc_paths() -> Vec<String> {
    let mut paths = vec!["README.md".to_owned()];
    paths.extend(
        files_under("docs")
            .into_iter()
            .filter(|p| p.ends_with(".md")),
    );
    paths.push("iac/README.md".to_owned());
    paths.push("dashboards/README.md".to_owned());
    paths
}

/// One document, with its code split out.
struct Doc {
    path: String,
    text: String,
    /// Inline code spans (`` `...` ``), whitespace inside collapsed to one space.
    spans: Vec<Snippet>,
    /// Lines of fenced code blocks.
    blocks: Vec<BlockLine>,
}

/// An inline code span and the line it starts on (1-based).
struct Snippet {
    line: usize,
    text: String,
}

/// One line of a fenced code block.
struct BlockLine {
    line: usize,
    /// The fence's info string, lower case (`sh`, `sql`, or empty).
    lang: String,
    text: String,
}

impl Doc {
    fn load(path: &str) -> Self {
        let text = read(path);
        let (spans, blocks) = markdown_code(&text);
        Self {
            path: path.to_owned(),
            text,
            spans,
            blocks,
        }
    }

    /// `path:line`, for messages.
    fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.path)
    }

    /// The 1-based line of byte `offset` of the text.
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset].matches('\n').count() + 1
    }
}

fn docs() -> Vec<Doc> {
    doc_paths().iter().map(|p| Doc::load(p)).collect()
}

/// The inline code spans and fenced block lines of a Markdown text.
fn markdown_code(text: &str) -> (Vec<Snippet>, Vec<BlockLine>) {
    let mut spans = Vec::new();
    let mut blocks = Vec::new();
    // Prose between fences, with the line its first character is on.
    let mut prose = String::new();
    let mut prose_line = 1;
    let mut fence: Option<(String, String)> = None; // (fence marker, lang)
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = line.trim_start();
        match &fence {
            Some((marker, lang)) => {
                if trimmed.starts_with(marker.as_str()) && trimmed.trim_end() == marker.as_str() {
                    fence = None;
                    prose_line = number + 1;
                } else {
                    blocks.push(BlockLine {
                        line: number,
                        lang: lang.clone(),
                        text: line.to_owned(),
                    });
                }
            }
            None => {
                let marker: String = trimmed
                    .chars()
                    .take_while(|c| *c == '`' || *c == '~')
                    .collect();
                if marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap())
                {
                    spans.extend(inline_spans(&prose, prose_line));
                    prose.clear();
                    let lang = trimmed[marker.len()..].trim().to_ascii_lowercase();
                    fence = Some((marker, lang));
                } else {
                    if prose.is_empty() {
                        prose_line = number;
                    }
                    prose.push_str(line);
                    prose.push('\n');
                }
            }
        }
    }
    spans.extend(inline_spans(&prose, prose_line));
    (spans, blocks)
}

/// Inline code spans of prose starting on `first_line`: a run of n backticks up to the
/// next run of exactly n backticks; an unclosed run is literal text.
fn inline_spans(prose: &str, first_line: usize) -> Vec<Snippet> {
    let bytes = prose.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i] == b'`' {
            i += 1;
        }
        let n = i - start;
        let mut j = i;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run = j;
                while j < bytes.len() && bytes[j] == b'`' {
                    j += 1;
                }
                if j - run == n {
                    close = Some(run);
                    break;
                }
            } else {
                j += 1;
            }
        }
        if let Some(end) = close {
            out.push(Snippet {
                line: first_line + prose[..start].matches('\n').count(),
                text: prose[i..end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            });
            i = end + n;
        }
    }
    out
}

/// The maximal runs of `[A-Za-z0-9_]` in `text`, with their byte offsets.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let word = c.is_ascii_alphanumeric() || c == '_';
        match (word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// Whether `text` contains `word` delimited by characters outside `[A-Za-z0-9_]`.
fn has_word(text: &str, word: &str) -> bool {
    words(text).iter().any(|(_, w)| *w == word)
}

/// The files the docs' names must be found in: code, scripts, workflows, Terraform, the
/// host's and functions' JSON, configuration and build files. Markdown is left out (a
/// doc cannot vouch for itself), and so is this test.
fn code_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in [
        "src",
        "scripts",
        "tests",
        ".ci",
        ".github",
        "iac",
        "benches",
        "config",
        "dashboards",
        "tools",
        "fuzz",
        "migrations",
    ] {
        files.extend(files_under(dir));
    }
    for file in [
        "host.json",
        "local.settings.json.example",
        "Dockerfile",
        "build.rs",
        "Cargo.toml",
        ".funcignore",
    ] {
        files.push(file.to_owned());
    }
    files.extend(
        function_folders()
            .into_iter()
            .map(|f| format!("{f}/function.json")),
    );
    files.retain(|f| {
        !f.ends_with(".md")
            && !f.starts_with("tests/docs/")
            && !f.ends_with(".png")
            && !f.ends_with(".lock")
            && !f.ends_with("package-lock.json")
    });
    files
}

/// Every word of the code files (see [`code_files`]).
fn code_words() -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    for file in code_files() {
        let Ok(bytes) = fs::read(root().join(&file)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for (_, w) in words(&text) {
            set.insert(w.to_owned());
        }
    }
    set
}

/// The root folders holding a `function.json`: the app's functions, sorted.
fn function_folders() -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(root())
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("function.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Panics with every problem, one a line, when there are any.
fn report(check: &str, problems: Vec<String>) {
    if !problems.is_empty() {
        panic!(
            "{check}: {} problem(s) between the docs and the code:\n  {}\n",
            problems.len(),
            problems.join("\n  ")
        );
    }
}

#[test]
fn markdown_code_is_split_into_spans_and_blocks() {
    let (spans, blocks) = markdown_code("a `b` c ``d ` e``\n\n```sh\nx `y`\n```\n`multi\nline`\n");
    let texts: Vec<&str> = spans.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, ["b", "d ` e", "multi line"]);
    assert_eq!(spans[2].line, 6);
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        (
            blocks[0].line,
            blocks[0].lang.as_str(),
            blocks[0].text.as_str()
        ),
        (4, "sh", "x `y`")
    );
}
