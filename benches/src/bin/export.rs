//! The export rate of `Engine::export_ledger` (JSON Lines and CSV, to a
//! sink), and the cost of the audit block alone (encoding and hashing a
//! sale's event and records), on the PEERS.md network.
//!
//! `cargo run --release -p upline-benches --bin export [-- --quick] [--members N] [--sales N]`
//! (default 100,000 members and 1,000,000 sales; `--quick` 2,000 and 10,000)

use upline::{Engine, ExportFormat, MemoryStore};
use upline_benches::{join_events, sale_events, sponsors};

fn main() -> Result<(), upline::Error> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let option = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (members, sales) = if quick {
        (2_000, 10_000)
    } else {
        (option("--members", 100_000), option("--sales", 1_000_000))
    };
    println!("network: {members} members (PEERS.md shape); {sales} sales, default 7-level plan");
    let mut engine = Engine::open(Box::new(MemoryStore::new()))?;
    let joins = join_events(&sponsors(members, 7));
    let sale_list = sale_events(members, sales, 13);
    let mut entries = 0u64;
    let mut sample = Vec::new();
    for chunk in joins.chunks(upline::limits::MAX_BATCH) {
        for result in engine.apply_batch(chunk)? {
            result?;
        }
    }
    for chunk in sale_list.chunks(upline::limits::MAX_BATCH) {
        for result in engine.apply_batch(chunk)? {
            let applied = result?;
            entries += applied.entries.len() as u64;
            if sample.len() < 10_000 {
                sample.push(applied);
            }
        }
    }
    let events = engine.audit_head().seq;
    println!("log: {events} events, {entries} ledger entries written by the sales");

    // The audit block of a sale alone: event bytes, record bytes, SHA-256;
    // timed in this thread's CPU time, so other processes on the machine
    // do not count.
    let rounds = if quick { 20 } else { 50 };
    let blocks = (rounds * sample.len()) as f64;
    let mut encoded = Vec::with_capacity(sample.len());
    let mut bytes = 0usize;
    let started = cpu_ns();
    for _ in 0..rounds {
        encoded.clear();
        for (applied, event) in sample.iter().zip(&sale_list) {
            let e = upline::audit::encode(event).map_err(internal)?;
            let r = upline::audit::encode_records(&applied.outcome, &applied.entries)
                .map_err(internal)?;
            bytes += e.len() + r.len();
            encoded.push((e, r));
        }
    }
    let encode_ns = (cpu_ns() - started) as f64 / blocks;
    let mut prev = upline::Hash::ZERO;
    let started = cpu_ns();
    for _ in 0..rounds {
        for (seq, (e, r)) in encoded.iter().enumerate() {
            prev = upline::audit::chain(seq as u64, &prev, e, r);
        }
    }
    let hash_ns = (cpu_ns() - started) as f64 / blocks;
    println!(
        "audit block of a sale: {:.0} bytes, encoding {encode_ns:.0} ns + SHA-256 {hash_ns:.0} ns \
         = {:.0} ns CPU  (checksum {})",
        bytes as f64 / blocks,
        encode_ns + hash_ns,
        &prev.to_hex()[..8]
    );
    // As the engine does it: reused buffers, no allocation per block.
    let started = cpu_ns();
    for _ in 0..rounds {
        for (applied, event) in sample.iter().zip(&sale_list) {
            prev = upline::audit::block_hash(
                applied.seq,
                &prev,
                event,
                &applied.outcome,
                &applied.entries,
            )
            .map_err(internal)?;
        }
    }
    println!(
        "audit block as the engine hashes it (block_hash): {:.0} ns CPU  (checksum {})",
        (cpu_ns() - started) as f64 / blocks,
        &prev.to_hex()[..8]
    );

    for (name, format) in [
        ("JSON Lines", ExportFormat::JsonLines),
        ("CSV", ExportFormat::Csv),
    ] {
        let mut sink = Counter(0);
        let started = cpu_ns();
        let head = engine.export_ledger(&mut sink, format, None, None)?;
        let secs = (cpu_ns() - started) as f64 / 1e9;
        assert_eq!(head, engine.audit_head());
        println!(
            "export {name:<10} {:>9.0} events/s  {:>9.0} ledger entries/s  ({:.1} MB, {:.2} s CPU)",
            events as f64 / secs,
            entries as f64 / secs,
            sink.0 as f64 / 1e6,
            secs
        );
    }
    Ok(())
}

/// A writer that counts bytes.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn internal(err: upline::audit::EncodeError) -> upline::Error {
    upline::Error::general(upline::ErrorKind::Internal, err.to_string())
}

/// This thread's CPU time in nanoseconds (`/proc/thread-self/schedstat`;
/// Linux), so a loaded machine does not slow the figures down.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
