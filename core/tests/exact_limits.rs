//! Exact or refused, at the edge of the decimal range (DESIGN.md, "Money").
//!
//! The invariant, in words: for amounts near the largest the engine holds,
//! in currencies with 0, 2, 3 and 18 minor units, no result is ever rounded
//! silently. Every balance the engine reports carries exactly its
//! currency's minor units, and the five buckets add up, in 128-bit
//! integers, to the commissions minus the reversals the engine reported
//! entry by entry. An event the engine refuses changes nothing: the
//! snapshot and the audit head are byte for byte what they were.

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use upline::ledger::EntryKind;
use upline::{Engine, Event};

/// Test currencies: code and minor units (TOK is registered by the test).
const CURRENCIES: [(&str, u32); 4] = [("JPY", 0), ("USD", 2), ("KWD", 3), ("TOK", 18)];
/// 2^96 − 1: the largest mantissa a `Decimal` holds.
const MAX_MANTISSA: i128 = (1 << 96) - 1;
const LATER: &str = "2027-01-01T00:00:00Z";

/// The largest amount the engine accepts in a currency with `units` minor
/// units, as a mantissa at that scale: below 10^18 units, and within a
/// `Decimal` mantissa.
fn max_amount(units: u32) -> i128 {
    (10i128.pow(18 + units) - 1).min(MAX_MANTISSA)
}

fn text(mantissa: i128, units: u32) -> String {
    Decimal::from_i128_with_scale(mantissa, units).to_string()
}

fn apply(engine: &mut Engine, value: Value) -> upline::Result<upline::Applied> {
    let event = Event::from_value(value.clone()).expect("the test's events decode");
    engine.apply(&event)
}

/// The mantissa of `value` at `units` decimals; fails the case when the
/// value does not carry exactly that scale (a rounded sum loses scale).
fn exact_mantissa(value: Decimal, units: u32, what: &str) -> Result<i128, TestCaseError> {
    prop_assert_eq!(
        value.scale(),
        units,
        "{} = {} does not carry {} decimals: it was rounded",
        what,
        value,
        units
    );
    Ok(value.mantissa())
}

#[derive(Debug, Clone)]
enum Op {
    /// A sale of this fraction of the largest amount (in millionths), or
    /// exactly the largest when 1_000_000, or a few units below it.
    Sale(u32),
    /// A refund of this share (in percent) of what is left of a sale.
    Refund(usize, u8),
    /// A payout batch, then its settlement.
    Payout,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop_oneof![
            (1u32..=1_000_000).prop_map(Op::Sale),
            Just(Op::Sale(1_000_000)),
            (0u32..5).prop_map(|below| Op::Sale(2_000_000 + below)),
        ],
        2 => (any::<usize>(), 1u8..=100).prop_map(|(i, p)| Op::Refund(i, p)),
        1 => Just(Op::Payout),
    ]
}

struct World {
    engine: Engine,
    code: &'static str,
    units: u32,
    /// Sales applied: id, amount mantissa, refunded mantissa.
    sales: Vec<(String, i128, i128)>,
    /// Commissions minus reversals per earner, in minor units, summed in
    /// 128-bit integers from the entries the engine reported.
    net: [i128; 2],
    day: u32,
}

impl World {
    fn new(currency: usize, rates: (&str, &str)) -> World {
        let (code, units) = CURRENCIES[currency];
        let mut engine = Engine::new();
        let mut setup = vec![
            json!({"type": "currency_registered", "currency": "TOK", "minor_units": 18}),
            json!({"type": "plan_activated", "plan": {"id": "edge", "version": 1,
                "levels": [{"rate": rates.0}, {"rate": rates.1}], "hold_days": 0},
                "effective_from": "2026-01-01T00:00:00Z"}),
        ];
        for (member, sponsor) in [("a", None), ("b", Some("a")), ("c", Some("b"))] {
            setup.push(
                json!({"type": "member_joined", "member": member, "sponsor": sponsor,
                "at": "2026-01-01T00:00:00Z"}),
            );
        }
        for member in ["a", "b"] {
            setup.push(
                json!({"type": "payout_profile_set", "member": member, "method": "bank", "verified": true}),
            );
        }
        for event in setup {
            apply(&mut engine, event).expect("setup applies");
        }
        World {
            engine,
            code,
            units,
            sales: Vec::new(),
            net: [0, 0],
            day: 1,
        }
    }

    fn now(&mut self) -> String {
        self.day += 1;
        format!(
            "2026-{:02}-{:02}T00:00:00Z",
            2 + self.day / 28,
            1 + self.day % 28
        )
    }

    fn event(&mut self, op: &Op) -> Option<Value> {
        let max = max_amount(self.units);
        Some(match op {
            Op::Sale(share) => {
                let mantissa = match *share {
                    s if s >= 2_000_000 => max - i128::from(s - 2_000_000),
                    s => (max / 1_000_000 * i128::from(s)).max(1),
                };
                let id = format!("s{}", self.sales.len());
                self.sales.push((id.clone(), mantissa, 0));
                json!({"type": "sale_recorded", "sale": id, "buyer": "c",
                    "amount": text(mantissa, self.units), "currency": self.code, "at": self.now()})
            }
            Op::Refund(pick, percent) => {
                if self.sales.is_empty() {
                    return None;
                }
                let i = pick % self.sales.len();
                let (sale, amount, refunded) = self.sales[i].clone();
                let part = ((amount - refunded) / 100 * i128::from(*percent)).max(1);
                if refunded + part > amount {
                    return None;
                }
                json!({"type": "refund_recorded", "refund": format!("r{}-{}", i, self.day),
                    "sale": sale, "amount": text(part, self.units), "at": self.now()})
            }
            Op::Payout => json!({"type": "payouts_prepared", "batch": format!("p{}", self.day),
                "as_of": self.now(), "policy": {}}),
        })
    }

    fn record(
        &mut self,
        op: &Op,
        event: &Value,
        applied: &upline::Applied,
    ) -> Result<(), TestCaseError> {
        if let Op::Refund(..) = op {
            let sale = event["sale"].as_str().unwrap_or_default();
            let amount: Decimal = event["amount"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .unwrap();
            if let Some(s) = self.sales.iter_mut().find(|s| s.0 == sale) {
                s.2 += amount.mantissa();
            }
        }
        for entry in &applied.entries {
            let m = exact_mantissa(entry.amount, self.units, "an entry's amount")?;
            let who = if &*entry.earner == "a" { 0 } else { 1 };
            match entry.kind {
                EntryKind::Commission => self.net[who] += m,
                EntryKind::Reversal | EntryKind::ReversalHeld => self.net[who] -= m,
                _ => {}
            }
        }
        if let Op::Payout = op {
            let items: Vec<Value> = applied.to_json_value()["batch"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for item in items {
                let gross: Decimal = item["gross"].as_str().unwrap().parse().unwrap();
                let net: Decimal = item["net"].as_str().unwrap().parse().unwrap();
                let fee: Decimal = item["fee"].as_str().unwrap().parse().unwrap();
                let gross = exact_mantissa(gross, self.units, "a payout's gross")?;
                prop_assert_eq!(
                    gross,
                    exact_mantissa(net, self.units, "a payout's net")?
                        + exact_mantissa(fee, self.units, "a payout's fee")?
                );
                let at = self.now();
                let settled = apply(
                    &mut self.engine,
                    json!({"type": "payout_settled", "payout": item["payout"], "at": at, "reference": "w"}),
                );
                prop_assert!(
                    settled.is_ok(),
                    "settling {} failed: {:?}",
                    item["payout"],
                    settled
                );
            }
        }
        Ok(())
    }

    /// Every bucket carries the currency's scale, and the buckets add up
    /// (in `i128`, not in `Decimal`) to what was earned net of reversals.
    fn check_balances(&self) -> Result<(), TestCaseError> {
        for (who, member) in ["a", "b"].iter().enumerate() {
            let b = self
                .engine
                .balances(member, self.code, LATER)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut total = 0i128;
            for (name, value) in [
                ("pending", b.pending),
                ("available", b.available),
                ("held", b.held),
                ("reserved", b.reserved),
                ("paid", b.paid),
            ] {
                total += exact_mantissa(value, self.units, name)?;
            }
            prop_assert_eq!(
                total,
                self.net[who],
                "{}'s buckets vs its net earnings",
                member
            );
        }
        Ok(())
    }
}

fn snapshot(engine: &Engine) -> (String, upline::Head) {
    (engine.snapshot_json(), engine.audit_head())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn near_limit_amounts_are_exact_or_refused_and_refusals_change_nothing(
        currency in 0usize..4,
        rates in prop_oneof![Just(("1", "0")), Just(("0.6", "0.4")), Just(("0.333333", "0.666667")), Just(("0.999999", "0.000001"))],
        ops in proptest::collection::vec(op(), 1..14),
    ) {
        let mut world = World::new(currency, rates);
        let mut refused_for_range = 0;
        for op in &ops {
            let Some(event) = world.event(op) else { continue };
            let before = snapshot(&world.engine);
            match apply(&mut world.engine, event.clone()) {
                Ok(applied) => world.record(op, &event, &applied)?,
                Err(err) => {
                    if let Op::Sale(_) = op {
                        world.sales.pop();
                    }
                    prop_assert!(
                        err.code() == "limit_exceeded",
                        "only the exact range may refuse these events: {} for {}", err, event
                    );
                    refused_for_range += 1;
                    prop_assert_eq!(snapshot(&world.engine), before, "a refused event changed the engine");
                }
            }
            world.check_balances()?;
        }
        // Below 10^18 units a currency with few decimals never leaves the
        // range in a few events; only the 18-decimal token can.
        if world.units < 18 {
            prop_assert_eq!(refused_for_range, 0);
        }
    }
}

/// The case, pinned: two sales that would take one account to
/// 100000000000.000000000000000002 TOK. The second is refused, and what
/// was earned stays exact through a payout of all of it.
#[test]
fn second_sale_beyond_the_range_is_refused_and_the_payout_is_exact() -> upline::Result<()> {
    let mut world = World::new(3, ("1", "0"));
    let sale = |id: &str| {
        json!({"type": "sale_recorded", "sale": id, "buyer": "b", "amount": "50000000000.000000000000000001",
            "currency": "TOK", "at": "2026-01-02T00:00:00Z"})
    };
    apply(&mut world.engine, sale("s1"))?;
    let err = apply(&mut world.engine, sale("s2")).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded");
    assert!(
        err.to_string().contains("\"a\""),
        "names the account: {err}"
    );
    let batch = apply(
        &mut world.engine,
        json!({"type": "payouts_prepared", "batch": "p", "as_of": "2026-01-03T00:00:00Z", "policy": {}}),
    )?;
    let item = &batch.to_json_value()["batch"]["items"][0];
    assert_eq!(item["gross"], "50000000000.000000000000000001");
    let after = world.engine.balances("a", "TOK", "2026-01-04T00:00:00Z")?;
    assert_eq!(after.available.to_string(), "0.000000000000000000");
    assert_eq!(after.reserved.to_string(), "50000000000.000000000000000001");
    Ok(())
}

/// Leaderboards add sales in exact integers; a total that a `Decimal`
/// cannot hold at the currency's scale is refused, never shown as
/// `Decimal::MAX` or rounded.
#[test]
fn a_sales_volume_beyond_the_range_is_refused_by_the_leaderboard() -> upline::Result<()> {
    let mut world = World::new(3, ("0", "0"));
    for id in ["s1", "s2"] {
        apply(
            &mut world.engine,
            json!({"type": "sale_recorded", "sale": id, "buyer": "c", "amount": "50000000000.000000000000000001",
                "currency": "TOK", "at": "2026-01-02T00:00:00Z"}),
        )?;
    }
    let board = |engine: &Engine, member_limit| {
        engine.leaderboard(
            "sales_volume",
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            member_limit,
            Some("TOK"),
        )
    };
    let err = board(&world.engine, 10).unwrap_err();
    assert_eq!(err.code(), "limit_exceeded");
    Ok(())
}
