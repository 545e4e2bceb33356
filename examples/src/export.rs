//! Exports the books of a SQLite store for an auditor: every event with its
//! sequence number, audit hash and records, as JSON Lines (default) or CSV,
//! then prints the head the export ends on (`head <seq> <hash>`, the same
//! line `tools/verify_export.py` prints when every hash re-verifies).
//!
//! `cargo run --release -p upline-examples --bin export -- STORE.sqlite OUT [jsonl|csv]`

use std::io::Write;

use upline::{Engine, ExportFormat};
use upline_sqlite::SqliteStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(store), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: export STORE.sqlite OUT [jsonl|csv]");
        std::process::exit(2);
    };
    let format = ExportFormat::parse(args.get(3).map_or("jsonl", String::as_str))?;
    let engine = Engine::open(Box::new(SqliteStore::open(store)?))?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let started = std::time::Instant::now();
    let head = engine.export_ledger(&mut file, format, None, None)?;
    file.flush()?;
    eprintln!(
        "exported {} events in {:.2} s",
        head.seq,
        started.elapsed().as_secs_f64()
    );
    println!("head {} {}", head.seq, head.hash);
    Ok(())
}
