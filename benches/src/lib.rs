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
