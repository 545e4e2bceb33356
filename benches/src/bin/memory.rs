//! Memory per member: builds a network through `Engine::apply_batch` of
//! `member_joined` events (ids `u0`, `u1`, …, `u9999999`) and reports heap
//! bytes (a counting global allocator: live and peak bytes as requested
//! from the allocator) and peak RSS (`VmHWM`), per member, ids included.
//! It also lists the live allocations of 64 KiB or more (chunks of one
//! chunked array together), which are the
//! engine's per-member arrays and tables, so each structure's cost shows.
//!
//! `cargo run --release -p upline-benches --bin memory [-- --members N] [--sales N] [--shape deep] [--store sqlite]`
//! (default 10,000,000 members, preferential network, no sales, in memory).
//! With `--store sqlite` the events go durably to a SQLite file in the temp
//! directory (removed at the end), as a host would run it: the engine then
//! keeps only the audit head in memory. SQLite's own page cache (its
//! allocator, not Rust's) shows in RSS only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use upline_benches::{apply_all, buyers, joins, network, sales, Shape};

/// Counts live and peak heap bytes, and remembers the live allocations of
/// at least [`BIG`] bytes (at most [`SLOTS`] of them).
struct Counting;

const BIG: usize = 1 << 16;
const SLOTS: usize = 4096;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static BIG_PTR: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static BIG_SIZE: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
}

fn track(ptr: *mut u8, size: usize) {
    if size < BIG || ptr.is_null() {
        return;
    }
    for (slot, owner) in BIG_PTR.iter().enumerate() {
        if owner
            .compare_exchange(0, ptr as usize, Relaxed, Relaxed)
            .is_ok()
        {
            BIG_SIZE[slot].store(size, Relaxed);
            return;
        }
    }
}

fn untrack(ptr: *mut u8, size: usize) {
    if size < BIG {
        return;
    }
    for owner in &BIG_PTR {
        if owner
            .compare_exchange(ptr as usize, 0, Relaxed, Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the wrapper only
// updates atomic counters and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
            LIVE.fetch_add(1, Relaxed);
            track(ptr, layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
            LIVE.fetch_add(1, Relaxed);
            track(ptr, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        untrack(ptr, layout.size());
        // SAFETY: forwarded; `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
        LIVE.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            untrack(ptr, layout.size());
            track(new, new_size);
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak and current resident set size in bytes, from /proc/self/status.
fn rss() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<usize>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn report(what: &str, members: u64) {
    let (hwm, rss) = rss();
    let current = CURRENT.load(Relaxed);
    let per = |b: usize| b as f64 / members as f64;
    println!("{what}:");
    println!(
        "  heap now   {:>10.1} MiB  {:>7.1} bytes/member  ({} live allocations)",
        mib(current),
        per(current),
        LIVE.load(Relaxed)
    );
    println!(
        "  heap peak  {:>10.1} MiB  {:>7.1} bytes/member",
        mib(PEAK.load(Relaxed)),
        per(PEAK.load(Relaxed))
    );
    println!(
        "  RSS now    {:>10.1} MiB  {:>7.1} bytes/member",
        mib(rss),
        per(rss)
    );
    println!(
        "  RSS peak   {:>10.1} MiB  {:>7.1} bytes/member  (VmHWM)",
        mib(hwm),
        per(hwm)
    );
    let mut big: Vec<usize> = BIG_PTR
        .iter()
        .zip(&BIG_SIZE)
        .filter(|(p, _)| p.load(Relaxed) != 0)
        .map(|(_, s)| s.load(Relaxed))
        .collect();
    big.sort_unstable_by(|a, b| b.cmp(a));
    let big_total: usize = big.iter().sum();
    println!(
        "  live allocations >= 64 KiB: {} of them, {:.1} bytes/member; the rest (small: ids, \
         per-member boxes) {:.1} bytes/member",
        big.len(),
        per(big_total),
        per(current - big_total)
    );
    // Same-sized allocations together: the chunks of a chunked array
    // (65,536 elements each) show as one line, count x chunk size.
    let mut start = 0;
    while start < big.len() {
        let size = big[start];
        let count = big[start..].iter().take_while(|&&s| s == size).count();
        let slots = members.next_power_of_two();
        if count == 1 {
            println!(
                "    {:>12} bytes  {:>7.1} bytes/member  (= {:.1} bytes x {} slots of 2^k? {})",
                size,
                per(size),
                size as f64 / slots as f64,
                slots,
                size.is_multiple_of(slots as usize)
            );
        } else {
            println!(
                "    {count:>5} x {size:>9} bytes  {:>7.1} bytes/member  (65,536-element chunks of {:.0} bytes, or 1 MiB id pages)",
                per(size * count),
                size as f64 / 65536.0
            );
        }
        start += count;
    }
}

fn main() -> Result<(), upline::Error> {
    let members: u64 = arg("--members").map_or(10_000_000, |n| n.parse().expect("--members N"));
    let sale_count: u64 = arg("--sales").map_or(0, |n| n.parse().expect("--sales N"));
    let shape = match arg("--shape").as_deref() {
        Some("deep") => Shape::DeepChains,
        _ => Shape::Preferential,
    };
    println!(
        "memory: {members} members ({}), ids u0..u{}, {sale_count} sales",
        shape.name(),
        members - 1
    );
    let net = network(shape, members, 7);
    let base = CURRENT.load(Relaxed);
    let (base_hwm, _) = rss();
    println!(
        "network plan (sponsor array, not counted below): {:.1} MiB",
        mib(base)
    );

    let started = Instant::now();
    let sqlite_path = match arg("--store").as_deref() {
        Some("sqlite") => Some(
            std::env::temp_dir().join(format!("upline-memory-bench-{}.sqlite", std::process::id())),
        ),
        Some(other) => panic!("--store {other}: only sqlite is known"),
        None => None,
    };
    let mut engine = match &sqlite_path {
        Some(path) => {
            println!("store: SQLite at {}", path.display());
            upline::Engine::open(Box::new(upline_sqlite::SqliteStore::open(path)?))?
        }
        None => upline::Engine::new(),
    };
    let mut start = 0;
    let step = upline::limits::MAX_BATCH;
    while start < net.len() {
        let end = (start + step).min(net.len());
        apply_all(&mut engine, &joins(&net, start..end))?;
        start = end;
    }
    drop(net);
    println!(
        "built in {:.1} s ({:.0} joins/s)",
        started.elapsed().as_secs_f64(),
        members as f64 / started.elapsed().as_secs_f64()
    );
    println!(
        "(before building: heap {:.1} MiB, RSS peak {:.1} MiB; the figures below include them \
         only as noted)",
        mib(base),
        mib(base_hwm)
    );
    report(
        "after the joins (engine only: the sponsor array is freed)",
        members,
    );

    if sale_count > 0 {
        let who = buyers(shape, members);
        let started = Instant::now();
        let mut first = 0;
        while first < sale_count {
            let count = (sale_count - first).min(step as u64);
            apply_all(&mut engine, &sales(first, count, who.clone(), 13))?;
            first += count;
        }
        println!(
            "applied {sale_count} sales in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        report(&format!("after {sale_count} sales"), members);
    }
    std::hint::black_box(&engine);
    drop(engine);
    if let Some(path) = sqlite_path {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    Ok(())
}
