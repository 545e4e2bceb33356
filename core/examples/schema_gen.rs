//! Writes (or with `--check`, compares) every file generated from the Rust
//! wire types: the JSON Schema and shape table in `core/src/wire/`, the
//! Node binding's `generated.d.ts` and the Python stubs' `_types.pyi`.
//!
//! Regenerate after changing a wire type (run from anywhere):
//! `cargo run -p upline --features schema --example schema_gen`.
//! CI runs it with `--check`, which fails when a committed file differs.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let generated = match upline::wire::schema::generate() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("schema_gen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        ("core/src/wire/schema.json", &generated.schema),
        ("core/src/wire/shapes.json", &generated.shapes),
        ("bindings-node/generated.d.ts", &generated.typescript),
        (
            "bindings-python/python/upline/_types.pyi",
            &generated.python,
        ),
    ];
    let mut stale = Vec::new();
    for (path, text) in files {
        let full = root.join(path);
        let current = std::fs::read_to_string(&full).unwrap_or_default();
        if current == *text {
            continue;
        }
        if check {
            stale.push(path);
        } else if let Err(e) = std::fs::write(&full, text) {
            eprintln!("schema_gen: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        } else {
            println!("wrote {path}");
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "schema_gen: stale generated files: {}\nregenerate with: cargo run -p upline --features schema --example schema_gen",
            stale.join(", ")
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
