//! Deterministic workloads shared by Upline's measurements.

use rust_decimal::Decimal;
use upline::Event;

/// SplitMix64: small, seeded, deterministic.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n ≥ 1).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The PEERS.md network: member 0 is the root; each later member's sponsor
/// is one of the 50 most recent members with probability 0.7, else uniform
/// among all earlier members. Returns `sponsor[i]` for `i ≥ 1`.
pub fn sponsors(members: u64, seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    (0..members)
        .map(|i| match i {
            0 => 0,
            _ if rng.below(10) < 7 => i - 1 - rng.below(i.min(50)),
            _ => rng.below(i),
        })
        .collect()
}

/// `member_joined` events for the network.
pub fn join_events(sponsors: &[u64]) -> Vec<Event> {
    sponsors
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let sponsor = if i == 0 { "null".to_string() } else { format!("\"u{s}\"") };
            Event::from_json(&format!(
                r#"{{"type":"member_joined","member":"u{i}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#
            ))
            .expect("valid join")
        })
        .collect()
}

/// `sale_recorded` events: uniform buyers, amounts uniform in 1.00–999.99 USD.
pub fn sale_events(members: u64, sales: u64, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed);
    (0..sales)
        .map(|s| {
            let amount = Decimal::new(100 + rng.below(99_900) as i64, 2);
            Event::from_json(&format!(
                r#"{{"type":"sale_recorded","sale":"s{s}","buyer":"u{}","amount":"{amount}","currency":"USD","at":"2026-02-01T12:00:00Z"}}"#,
                rng.below(members)
            ))
            .expect("valid sale")
        })
        .collect()
}

// ---- shapes, sizes and direct event constructors (criterion, memory, latency)

/// The time every generated join carries.
pub const JOINED_AT: &str = "2026-01-01T00:00:00Z";
/// The time every generated sale carries (inside the default plan's window).
pub const SOLD_AT: &str = "2026-02-01T12:00:00Z";
/// The time every generated refund carries.
pub const REFUNDED_AT: &str = "2026-02-10T12:00:00Z";

/// The two network shapes of issue 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// [`sponsors`]: the PEERS.md preferential-attachment tree.
    Preferential,
    /// [`deep_chains`] of [`DEEP_CHAIN_DEPTH`] members each.
    DeepChains,
}

impl Shape {
    /// A short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Preferential => "preferential",
            Shape::DeepChains => "deep-chains",
        }
    }
}

/// Members per chain in the deep-chain forest: every walk from the 8th
/// member of a chain on has all seven levels above it.
pub const DEEP_CHAIN_DEPTH: u64 = 16;

/// A forest of chains, `depth` members each (the last one may be shorter):
/// the first `chains = ceil(members / depth)` members are the roots and
/// member `i ≥ chains` is sponsored by `i - chains`. Chains are
/// interleaved, so consecutive levels of a walk are `chains` slots apart in
/// every array (one cache miss per level at 1M members, like a real network
/// whose members joined over time). `None` is a root.
pub fn deep_chains(members: u64, depth: u64) -> Vec<Option<u64>> {
    let chains = chain_count(members, depth);
    (0..members)
        .map(|i| i.checked_sub(chains))
        .collect::<Vec<_>>()
}

/// How many chains [`deep_chains`] makes.
pub fn chain_count(members: u64, depth: u64) -> u64 {
    members.div_ceil(depth.max(1)).max(1)
}

/// The network of `shape` with `members` members, as optional sponsors
/// (`None` for a root).
pub fn network(shape: Shape, members: u64, seed: u64) -> Vec<Option<u64>> {
    match shape {
        Shape::Preferential => sponsors(members, seed)
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i != 0).then_some(s))
            .collect(),
        Shape::DeepChains => deep_chains(members, DEEP_CHAIN_DEPTH),
    }
}

/// The buyers sales of `shape` are drawn from: every member for the
/// preferential tree; for deep chains only members with at least seven
/// ancestors, so every walk pays all seven levels.
pub fn buyers(shape: Shape, members: u64) -> std::ops::Range<u64> {
    match shape {
        Shape::Preferential => 0..members,
        Shape::DeepChains => {
            let floor = (7 * chain_count(members, DEEP_CHAIN_DEPTH)).min(members.saturating_sub(1));
            floor..members
        }
    }
}

/// A `member_joined` event built directly (no JSON): member `u{member}`.
pub fn join(member: u64, sponsor: Option<u64>) -> Event {
    Event::MemberJoined(upline::event::MemberJoined {
        member: format!("u{member}"),
        sponsor: sponsor.map(|s| format!("u{s}")),
        at: JOINED_AT.to_string(),
        signals: None,
    })
}

/// `member_joined` events for members `range` of `network`.
pub fn joins(network: &[Option<u64>], range: std::ops::Range<usize>) -> Vec<Event> {
    range.map(|i| join(i as u64, network[i])).collect()
}

/// A `sale_recorded` event built directly: sale `s{sale}` by `u{buyer}` of
/// `cents / 100` USD.
pub fn sale(sale: u64, buyer: u64, cents: u64) -> Event {
    Event::SaleRecorded(upline::event::SaleRecorded {
        sale: format!("s{sale}"),
        buyer: format!("u{buyer}"),
        amount: upline::money::DecimalText::new(Decimal::new(cents as i64, 2).to_string()),
        currency: "USD".to_string(),
        at: SOLD_AT.to_string(),
        category: None,
        signals: None,
        fx: None,
    })
}

/// Sales `first..first + count` (ids `s{n}`): buyers uniform in `buyers`,
/// amounts uniform in 1.00–999.99 USD. The same `(first, seed)` gives the
/// same sales.
pub fn sales(first: u64, count: u64, buyers: std::ops::Range<u64>, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed ^ first.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let width = buyers.end - buyers.start;
    (first..first + count)
        .map(|s| {
            let cents = 100 + rng.below(99_900);
            sale(s, buyers.start + rng.below(width), cents)
        })
        .collect()
}

/// An event log of about `events` events on a `members`-member network of
/// `shape`: the joins, then sales, with a refund of half of the sale for
/// about 5 % of them, each right after its sale.
pub fn event_log(shape: Shape, members: u64, events: usize, seed: u64) -> Vec<Event> {
    let net = network(shape, members, seed);
    let mut log = joins(&net, 0..net.len());
    let mut rng = Rng(seed.wrapping_add(1));
    let mut n = 0;
    let who = buyers(shape, members);
    while log.len() < events {
        let cents = 100 + rng.below(99_900);
        log.push(sale(n, who.start + rng.below(who.end - who.start), cents));
        if rng.below(20) == 0 && log.len() < events {
            log.push(Event::RefundRecorded(upline::event::RefundRecorded {
                refund: format!("r{n}"),
                sale: format!("s{n}"),
                amount: upline::money::DecimalText::new(
                    Decimal::new((cents / 2) as i64, 2).to_string(),
                ),
                at: REFUNDED_AT.to_string(),
            }));
        }
        n += 1;
    }
    log
}

/// Applies `events` to `engine` in batches of at most
/// [`MAX_BATCH`](upline::limits::MAX_BATCH); fails on the first refused one.
pub fn apply_all(engine: &mut upline::Engine, events: &[Event]) -> upline::Result<()> {
    for chunk in events.chunks(upline::limits::MAX_BATCH) {
        for result in engine.apply_batch(chunk)? {
            result?;
        }
    }
    Ok(())
}

/// An in-memory engine holding the network of `shape` with `members`
/// members, joined in batches without keeping the events.
pub fn build_engine(shape: Shape, members: u64, seed: u64) -> upline::Result<upline::Engine> {
    let net = network(shape, members, seed);
    let mut engine = upline::Engine::new();
    let mut start = 0;
    while start < net.len() {
        let end = (start + upline::limits::MAX_BATCH).min(net.len());
        apply_all(&mut engine, &joins(&net, start..end))?;
        start = end;
    }
    Ok(engine)
}
