//! Embeds `migrations/*.sql` into the binary, so `handler migrate` needs no files beside
//! it and the handler knows which schema version it requires.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
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
