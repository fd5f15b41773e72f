//! Embeds `migrations/*.sql` into the binary, so `handler migrate` needs no files beside
//! it and the handler knows which schema version it requires; and bakes in the git commit
//! of the build (`paymetrics::VERSION`, reported by the Health function).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rustc-env=PAYMETRICS_BUILD_COMMIT={}", commit(&root));
    embed_migrations(&root);
}

/// The commit being built: `PAYMETRICS_GIT_COMMIT`, else `GITHUB_SHA` (CI), else what git
/// says, else `unknown` (a source tree without `.git`, as in a container build), cut to
/// 12 characters.
fn commit(root: &Path) -> String {
    for name in ["PAYMETRICS_GIT_COMMIT", "GITHUB_SHA"] {
        println!("cargo:rerun-if-env-changed={name}");
    }
    let given = ["PAYMETRICS_GIT_COMMIT", "GITHUB_SHA"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty());
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let commit = given.or_else(|| {
        // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it names (a commit)
        // and packed-refs. A path that does not exist would rerun this every build.
        let branch = git(&["symbolic-ref", "-q", "HEAD"]);
        let watched = ["HEAD", "packed-refs"]
            .into_iter()
            .map(str::to_owned)
            .chain(branch);
        for name in watched {
            if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
                let path = root.join(path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        git(&["rev-parse", "--short=12", "HEAD"])
    });
    let commit: String = commit
        .unwrap_or_else(|| "unknown".into())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(12)
        .collect();
    if commit.is_empty() {
        "unknown".into()
    } else {
        commit
    }
}

fn embed_migrations(root: &Path) {
    let mut files: Vec<_> = std::fs::read_dir(root.join("migrations"))
        .expect("migrations/ exists")
        .map(|entry| entry.expect("readable migrations/").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();

    let mut out = String::from("&[\n");
    let mut last = 0u32;
    for path in files {
        let stem = path.file_stem().unwrap().to_str().expect("UTF-8 file name");
        let (version, name) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("migration {stem}: expected NNNN_name.sql"));
        let version: u32 = version
            .parse()
            .unwrap_or_else(|_| panic!("migration {stem}: {version} is not a number"));
        assert!(
            version > last,
            "migration {stem}: versions must increase without repeats"
        );
        last = version;
        writeln!(
            out,
            "    Migration {{ version: {version}, name: {name:?}, sql: include_str!({:?}) }},",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push(']');
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("migrations.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
