//! The deployed handler's build (`--no-default-features`, as `scripts/package.sh` builds
//! it) compiles none of the simulator's dependencies: no Event Hubs/AMQP client (nor the
//! OpenSSL its TLS uses), no Kafka client, no random distributions. An advisory in one of those then never blocks
//! a deploy of a binary that does not contain it.

use std::process::Command;

/// Crates only the simulator may pull in, by name or name prefix: none of them may
/// appear anywhere in the handler's tree.
const SIMULATOR_ONLY: &[&str] = &[
    "azure_messaging_eventhubs",
    "fe2o3-amqp",
    "openssl-sys",
    "rskafka",
    "rsasl",
];

/// `rand_distr` is the simulator's, but `linfa-clustering` (the handler's merchant
/// clustering) depends on it unconditionally through `ndarray-rand`. It may appear only
/// there, never as this crate's own dependency.
const RAND_DISTR_ALLOWED_UNDER: &str = "ndarray-rand";

/// One line of `cargo tree`: a crate and the crate that depends on it.
struct Edge {
    name: String,
    parent: Option<String>,
}

/// The normal (non-dev, non-build) dependency edges of the handler's build, as
/// `cargo tree` resolves them from the lock file, in its depth-first order.
fn handler_build_tree() -> Vec<Edge> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--no-default-features",
            "--prefix",
            "depth",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut path: Vec<String> = Vec::new();
    let mut edges = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let (Ok(depth), Some(name)) = (
            line[..digits].parse::<usize>(),
            line[digits..].split_whitespace().next(),
        ) else {
            continue;
        };
        path.truncate(depth);
        edges.push(Edge {
            name: name.to_owned(),
            parent: path.last().cloned(),
        });
        path.push(name.to_owned());
    }
    edges
}

#[test]
fn the_handler_build_has_no_simulator_dependency() {
    let edges = handler_build_tree();
    assert!(
        edges.iter().any(|e| e.name == "tokio-postgres"),
        "the tree looks wrong: {} crates",
        edges.len()
    );
    let mut found: Vec<String> = edges
        .iter()
        .filter(|e| SIMULATOR_ONLY.iter().any(|s| e.name.starts_with(s)))
        .map(|e| e.name.clone())
        .chain(
            edges
                .iter()
                .filter(|e| {
                    e.name == "rand_distr" && e.parent.as_deref() != Some(RAND_DISTR_ALLOWED_UNDER)
                })
                .map(|e| format!("rand_distr (under {:?})", e.parent)),
        )
        .collect();
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "the handler's build pulls simulator-only crates: {found:?}"
    );
}
