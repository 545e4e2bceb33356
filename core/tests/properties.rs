//! The invariants of DESIGN.md, property-tested.
//!
//! Each property states its invariant in words first. Worlds are random
//! forests with random plans, statuses and holds; streams are random
//! sequences of every kind of event, bad ones among them. Events go through
//! the host's decoding path (`Event::from_value`).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use upline::{Applied, Engine, Event, Outcome, Timestamp};

// ---- shared vocabulary -----------------------------------------------------

/// The test currencies and their minor units.
const CURRENCIES: [(&str, u32); 3] = [("USD", 2), ("JPY", 0), ("KWD", 3)];
const ROUNDINGS: [&str; 3] = ["half_even", "half_up", "down"];
/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;
const HOUR_MS: i64 = 3_600_000;

fn at(ms: i64) -> String {
    Timestamp::from_millis(ms).expect("in range").to_string()
}

/// `minor` minor units as a decimal string with exactly `units` decimals.
fn amount_text(minor: u64, units: u32) -> String {
    if units == 0 {
        return minor.to_string();
    }
    let scale = 10u64.pow(units);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = units as usize
    )
}

fn rate_text(millionths: u32) -> String {
    format!("{}.{:06}", millionths / 1_000_000, millionths % 1_000_000)
}

fn decode(value: Value) -> Event {
    Event::from_value(value.clone()).unwrap_or_else(|err| panic!("{value} does not decode: {err}"))
}

fn state(engine: &Engine) -> (Value, upline::Head) {
    let snapshot = serde_json::from_str(&engine.snapshot_json()).expect("snapshot is JSON");
    (snapshot, engine.audit_head())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- plans -----------------------------------------------------------------

#[derive(Debug, Clone)]
struct LevelGen {
    rate_millionths: u32,
    min_active_directs: Option<u32>,
    /// A cap in one currency: (index into CURRENCIES, minor units).
    cap: Option<(usize, u64)>,
}

#[derive(Debug, Clone)]
struct PlanGen {
    levels: Vec<LevelGen>,
    compression: bool,
    rounding: usize,
    max_walk: Option<u32>,
    hold_days: u32,
}

impl PlanGen {
    fn to_json(&self, id: &str) -> Value {
        let levels: Vec<Value> = self
            .levels
            .iter()
            .map(|level| {
                let mut spec = json!({"rate": rate_text(level.rate_millionths)});
                if let Some(directs) = level.min_active_directs {
                    spec["min_active_directs"] = json!(directs);
                }
                if let Some((currency, minor)) = level.cap {
                    let (code, units) = CURRENCIES[currency];
                    spec["caps"] = json!({ code: amount_text(minor, units) });
                }
                spec
            })
            .collect();
        let mut plan = json!({
            "id": id, "version": 1, "levels": levels,
            "compression": self.compression,
            "rounding": ROUNDINGS[self.rounding],
            "hold_days": self.hold_days,
        });
        if let Some(max_walk) = self.max_walk {
            plan["max_walk"] = json!(max_walk);
        }
        plan
    }

    fn cap(&self, level: u8, currency: &str) -> Option<Decimal> {
        let (index, minor) = self.levels[usize::from(level) - 1].cap?;
        let (code, units) = CURRENCIES[index];
        (code == currency).then(|| Decimal::new(minor as i64, units))
    }
}

/// 1–16 levels, rates with at most 6 decimals summing to at most 1.
fn plan_gen() -> impl Strategy<Value = PlanGen> {
    let level = (
        0u32..=1_000_000,
        prop::option::weighted(0.3, 0u32..3),
        prop::option::weighted(0.3, (0usize..3, 0u64..5_000)),
    );
    (
        prop::collection::vec(level, 1..=16),
        0u32..=1_000_000,
        any::<bool>(),
        0usize..3,
        prop::option::weighted(0.3, 1u32..8),
        0u32..60,
    )
        .prop_map(
            |(levels, budget, compression, rounding, max_walk, hold_days)| {
                let sum: u64 = levels.iter().map(|l| u64::from(l.0)).sum();
                let levels = levels
                    .into_iter()
                    .map(|(rate, min_active_directs, cap)| LevelGen {
                        // Scale down so the rates add up to at most `budget`.
                        rate_millionths: if sum > u64::from(budget) {
                            (u64::from(rate) * u64::from(budget) / sum) as u32
                        } else {
                            rate
                        },
                        min_active_directs,
                        cap,
                    })
                    .collect();
                PlanGen {
                    levels,
                    compression,
                    rounding,
                    max_walk,
                    hold_days,
                }
            },
        )
}

// ---- worlds: a forest, a plan, statuses and holds ---------------------------

#[derive(Debug, Clone)]
struct World {
    /// `sponsors[i]` is member `m{i}`'s sponsor (an earlier member) or none.
    sponsors: Vec<Option<usize>>,
    /// 0 inactive, 1 terminated, anything else active.
    statuses: Vec<u8>,
    holds: Vec<bool>,
    plan: PlanGen,
}

impl World {
    fn len(&self) -> usize {
        self.sponsors.len()
    }

    fn status(&self, member: usize) -> &'static str {
        match self.statuses[member] {
            0 => "inactive",
            1 => "terminated",
            _ => "active",
        }
    }

    fn events(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for (i, sponsor) in self.sponsors.iter().enumerate() {
            events.push(decode(json!({
                "type": "member_joined", "member": format!("m{i}"),
                "sponsor": sponsor.map(|s| format!("m{s}")),
                "at": at(START_MS + i as i64 * 60_000),
            })));
        }
        events.push(decode(json!({
            "type": "plan_activated", "plan": self.plan.to_json("random"),
            "effective_from": at(START_MS),
        })));
        for i in 0..self.len() {
            if self.status(i) != "active" {
                events.push(decode(json!({
                    "type": "member_status_changed", "member": format!("m{i}"),
                    "status": self.status(i), "at": at(START_MS + 10 * HOUR_MS),
                })));
            }
            if self.holds[i] {
                events.push(decode(json!({
                    "type": "member_hold_set", "member": format!("m{i}"), "on": true,
                    "reason": "review", "at": at(START_MS + 11 * HOUR_MS),
                })));
            }
        }
        events
    }
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec((prop::bool::weighted(0.1), any::<Index>()), 0..24),
        plan_gen(),
    )
        .prop_flat_map(|(links, plan)| {
            let sponsors: Vec<Option<usize>> = std::iter::once(None)
                .chain(
                    links
                        .iter()
                        .enumerate()
                        .map(|(i, (root, pick))| (!root).then(|| pick.index(i + 1))),
                )
                .collect();
            let n = sponsors.len();
            (
                Just(sponsors),
                prop::collection::vec(0u8..8, n),
                prop::collection::vec(prop::bool::weighted(0.15), n),
                Just(plan),
            )
        })
        .prop_map(|(sponsors, statuses, holds, plan)| World {
            sponsors,
            statuses,
            holds,
            plan,
        })
}

#[derive(Debug, Clone)]
struct SaleGen {
    buyer: Index,
    currency: usize,
    minor: u64,
}

impl SaleGen {
    fn amount(&self) -> String {
        amount_text(self.minor, CURRENCIES[self.currency].1)
    }

    fn event(&self, world: &World) -> (String, Event) {
        let buyer = format!("m{}", self.buyer.index(world.len()));
        let event = decode(json!({
            "type": "sale_recorded", "sale": "s1", "buyer": buyer,
            "amount": self.amount(), "currency": CURRENCIES[self.currency].0,
            "at": at(START_MS + 31 * 24 * HOUR_MS),
        }));
        (buyer, event)
    }
}

fn sale_gen() -> impl Strategy<Value = SaleGen> {
    (
        any::<Index>(),
        0usize..3,
        // Up to 10^12 minor units (10 billion USD): far larger sales cannot
        // be refunded in part (see `a_partial_refund_of_a_huge_sale_is_accepted`).
        prop_oneof![1u64..=200, 1u64..=100_000, 1u64..=1_000_000_000_000],
    )
        .prop_map(|(buyer, currency, minor)| SaleGen {
            buyer,
            currency,
            minor,
        })
}

fn distribution(applied: &Applied) -> &upline::Distribution {
    match &applied.outcome {
        Outcome::Distribution(d) => d,
        other => panic!("a sale gave {other:?}"),
    }
}

// ---- 1. the distribution of a sale -----------------------------------------

proptest! {
    #![proptest_config(config(128))]

    /// For any forest, plan, statuses, holds and sale:
    /// - the lines plus the retained amount equal the sale, exactly;
    /// - every line is positive and exact in the currency's minor units, and
    ///   no larger than its level's cap in that currency;
    /// - no earner is the buyer, and no earner appears twice;
    /// - every earner is an active ancestor of the buyer, nearer ancestors
    ///   earning lower levels (with compression off, level k goes to exactly
    ///   the k-th ancestor);
    /// - levels strictly ascend, and every level of the table appears exactly
    ///   once, as a line or as unpaid;
    /// - the result is a pure function of state and event: two engines built
    ///   from the same events give the same distribution, entries and hash.
    #[test]
    fn a_sale_is_split_exactly_among_distinct_eligible_ancestors(
        world in world(),
        sale in sale_gen(),
    ) {
        let events = world.events();
        let mut engine = Engine::replay(&events).expect("the world applies");
        let mut twin = Engine::replay(&events).expect("the world applies");
        let (buyer, event) = sale.event(&world);
        let applied = engine.apply(&event).expect("the sale applies");
        let again = twin.apply(&event).expect("the sale applies");
        prop_assert_eq!(&applied, &again);

        let d = distribution(&applied);
        let (code, units) = CURRENCIES[sale.currency];
        let amount: Decimal = sale.amount().parse().unwrap();
        prop_assert_eq!(d.amount, amount);
        let paid: Decimal = d.lines.iter().map(|l| l.amount).sum();
        prop_assert_eq!(paid + d.retained, amount);
        prop_assert!(d.retained >= Decimal::ZERO);

        let ancestors: Vec<String> = engine
            .upline(&buyer, usize::MAX)
            .unwrap()
            .iter()
            .map(|a| a.to_string())
            .collect();
        let mut earners = BTreeSet::new();
        let mut last_position = None;
        for line in &d.lines {
            prop_assert!(line.amount > Decimal::ZERO, "line {:?}", line);
            prop_assert_eq!(line.amount.scale(), units);
            if let Some(cap) = world.plan.cap(line.level, code) {
                prop_assert!(line.amount <= cap, "line {:?} above cap {}", line, cap);
            }
            prop_assert_ne!(&*line.earner, buyer.as_str());
            prop_assert!(earners.insert(line.earner.to_string()), "{} earns twice", line.earner);
            let index: usize = line.earner[1..].parse().unwrap();
            prop_assert_eq!(world.status(index), "active");
            let position = ancestors.iter().position(|a| *a == *line.earner);
            prop_assert!(position.is_some(), "{} is not an ancestor of {}", line.earner, buyer);
            if !world.plan.compression {
                prop_assert_eq!(position, Some(usize::from(line.level) - 1));
            }
            prop_assert!(last_position < position);
            last_position = position;
        }
        prop_assert!(d.lines.windows(2).all(|w| w[0].level < w[1].level));
        prop_assert!(d.unpaid.windows(2).all(|w| w[0].level < w[1].level));
        let mut levels: Vec<u8> = d.lines.iter().map(|l| l.level).collect();
        levels.extend(d.unpaid.iter().map(|u| u.level));
        levels.sort_unstable();
        let table: Vec<u8> = (1..=world.plan.levels.len() as u8).collect();
        prop_assert_eq!(levels, table);
    }
}

// ---- 2. refunds ------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    /// However a sale is refunded in 1 to 5 parts, each reversal is positive,
    /// no line is ever reversed beyond its amount, each refund reports the
    /// running refunded total, and once the parts add up to the sale every
    /// line has been reversed exactly (per line, the reversals sum to the
    /// line) and the refunded total equals the sale.
    #[test]
    fn full_refund_after_partials_reverses_every_line_exactly(
        world in world(),
        sale in sale_gen(),
        cuts in prop::collection::vec(any::<Index>(), 0..5),
    ) {
        let mut engine = Engine::replay(&world.events()).expect("the world applies");
        let (_, event) = sale.event(&world);
        let applied = engine.apply(&event).expect("the sale applies");
        let lines: BTreeMap<u8, Decimal> = distribution(&applied)
            .lines
            .iter()
            .map(|l| (l.level, l.amount))
            .collect();

        let mut points: Vec<u64> = cuts
            .iter()
            .map(|c| c.index(sale.minor as usize + 1) as u64)
            .filter(|&p| p > 0 && p < sale.minor)
            .collect();
        points.push(sale.minor);
        points.sort_unstable();
        points.dedup();
        let units = CURRENCIES[sale.currency].1;
        let mut reversed: BTreeMap<u8, Decimal> = BTreeMap::new();
        let mut refunded = 0u64;
        for (i, &point) in points.iter().enumerate() {
            let part = point - refunded;
            refunded = point;
            let applied = engine
                .apply(&decode(json!({
                    "type": "refund_recorded", "refund": format!("r{i}"), "sale": "s1",
                    "amount": amount_text(part, units),
                    "at": at(START_MS + (40 + i as i64) * 24 * HOUR_MS),
                })))
                .expect("the refund applies");
            let Outcome::Refund(r) = &applied.outcome else {
                panic!("a refund gave {:?}", applied.outcome)
            };
            prop_assert_eq!(r.refunded_total, Decimal::new(refunded as i64, units));
            for reversal in &r.reversals {
                prop_assert!(reversal.amount > Decimal::ZERO, "{:?}", reversal);
                let total = reversed.entry(reversal.level).or_default();
                *total += reversal.amount;
                prop_assert!(*total <= lines[&reversal.level], "level {} over-reversed", reversal.level);
            }
        }
        prop_assert_eq!(refunded, sale.minor);
        let expected: BTreeMap<u8, Decimal> = lines.into_iter().collect();
        prop_assert_eq!(reversed, expected);
    }
}

// ---- streams of events -----------------------------------------------------

/// One step of a random stream. Members, sales and payouts are picked among
/// those that exist when the step runs.
#[derive(Debug, Clone)]
enum Op {
    Join {
        sponsor: Option<Index>,
    },
    Sale {
        buyer: Index,
        currency: usize,
        minor: u64,
        /// Paid in another currency: (offset of the pay currency in
        /// CURRENCIES from the sale's, 1 or 2; index into FX_RATES).
        fx: Option<(usize, usize)>,
    },
    Refund {
        sale: Index,
        percent: u64,
    },
    Status {
        member: Index,
        status: usize,
    },
    Hold {
        member: Index,
        on: bool,
    },
    Profile {
        member: Index,
        method: usize,
        verified: bool,
    },
    Prepare {
        minimum: Option<u64>,
        fee: bool,
    },
    Settle {
        payout: Index,
    },
    Fail {
        payout: Index,
    },
    Reparent {
        member: Index,
        sponsor: Index,
    },
    Plan {
        plan: PlanGen,
    },
    /// A milestone set: the default one, or a small one (thresholds 1–3 on
    /// every metric, bonuses in USD and KWD) so that short streams cross.
    Milestones {
        small: bool,
        joined: bool,
        clawback: bool,
    },
    /// A team challenge over the 200 hours around now.
    Challenge {
        leader: Index,
        depth: u32,
        metric: usize,
        split: usize,
        target: u64,
    },
    /// Closes a created challenge.
    Close {
        challenge: Index,
    },
    /// A deliberately bad event of kind `kind`.
    Bad {
        kind: usize,
        pick: Index,
    },
}

const BAD_KINDS: usize = 15;
/// Rates of sales paid in another currency (`fx`).
const FX_RATES: [&str; 3] = ["0.9125", "150", "0.0035"];

/// One sale in five is paid in another currency.
fn fx() -> impl Strategy<Value = Option<(usize, usize)>> {
    prop::option::weighted(0.2, (1usize..3, 0usize..FX_RATES.len()))
}
const METRICS: [&str; 3] = ["sales_volume", "qualified_referrals", "direct_referrals"];
const SPLITS: [&str; 3] = ["leader", "equal", "pro_rata"];
const METHODS: [&str; 3] = ["bank", "crypto", "instant"];
const STATUSES: [&str; 3] = ["active", "inactive", "terminated"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::option::weighted(0.9, any::<Index>()).prop_map(|sponsor| Op::Join { sponsor }),
        5 => (any::<Index>(), 0usize..3, prop_oneof![1u64..=500, 1u64..=1_000_000_000], fx())
            .prop_map(|(buyer, currency, minor, fx)| Op::Sale { buyer, currency, minor, fx }),
        2 => (any::<Index>(), prop_oneof![1u64..=110, Just(100)]).prop_map(|(sale, percent)| Op::Refund { sale, percent }),
        1 => (any::<Index>(), 0usize..3).prop_map(|(member, status)| Op::Status { member, status }),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(member, on)| Op::Hold { member, on }),
        2 => (any::<Index>(), 0usize..3, prop::bool::weighted(0.8))
            .prop_map(|(member, method, verified)| Op::Profile { member, method, verified }),
        2 => (prop::option::of(0u64..3_000), any::<bool>())
            .prop_map(|(minimum, fee)| Op::Prepare { minimum, fee }),
        2 => any::<Index>().prop_map(|payout| Op::Settle { payout }),
        1 => any::<Index>().prop_map(|payout| Op::Fail { payout }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(member, sponsor)| Op::Reparent { member, sponsor }),
        1 => plan_gen().prop_map(|plan| Op::Plan { plan }),
        1 => (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(small, joined, clawback)| Op::Milestones { small, joined, clawback }),
        1 => (any::<Index>(), 0u32..4, 0usize..3, 0usize..3, 1u64..=3)
            .prop_map(|(leader, depth, metric, split, target)| Op::Challenge { leader, depth, metric, split, target }),
        1 => any::<Index>().prop_map(|challenge| Op::Close { challenge }),
        2 => (0..BAD_KINDS, any::<Index>()).prop_map(|(kind, pick)| Op::Bad { kind, pick }),
    ]
}

/// Steps, each after a pause of 0–200 hours.
fn stream() -> impl Strategy<Value = Vec<(Op, i64)>> {
    prop::collection::vec((op(), 0i64..200), 10..60)
}

/// Runs a stream against a live engine, remembering what was applied.
struct Driver {
    engine: Engine,
    clock_ms: i64,
    next_id: usize,
    members: Vec<String>,
    /// (sale id, buyer, amount in minor units, minor units of its currency).
    sales: Vec<(String, String, u64, u32)>,
    payouts: Vec<String>,
    challenges: Vec<String>,
    last_batch_ms: Option<i64>,
    /// Every accepted event and what it returned, in order.
    applied: Vec<(Event, Applied)>,
    refused: usize,
}

impl Driver {
    fn new() -> Self {
        let mut driver = Driver {
            engine: Engine::new(),
            clock_ms: START_MS,
            next_id: 0,
            members: Vec::new(),
            sales: Vec::new(),
            payouts: Vec::new(),
            challenges: Vec::new(),
            last_batch_ms: None,
            applied: Vec::new(),
            refused: 0,
        };
        // A chain m1 ← m2 ← … ← m6, so sales have an upline from the start,
        // and verified profiles for the top three, so payouts happen.
        let now = driver.now();
        for i in 1..=6 {
            let sponsor = (i > 1).then(|| format!("m{}", i - 1));
            driver.seed(json!({"type": "member_joined", "member": format!("m{i}"),
                               "sponsor": sponsor, "at": now}));
        }
        for (member, method) in [("m1", "bank"), ("m2", "crypto"), ("m3", "instant")] {
            driver.seed(json!({"type": "payout_profile_set", "member": member,
                               "method": method, "verified": true}));
        }
        driver.next_id = 6;
        driver
    }

    fn seed(&mut self, value: Value) {
        let event = decode(value);
        let applied = self.engine.apply(&event).expect("the seed applies");
        self.record(&event, &applied);
    }

    fn now(&self) -> String {
        at(self.clock_ms)
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    fn member(&self, pick: &Index) -> String {
        self.members[pick.index(self.members.len())].clone()
    }

    /// The event of one step, or none when the step has nothing to act on.
    fn event(&mut self, op: &Op) -> Option<Value> {
        let now = self.now();
        Some(match op {
            Op::Join { sponsor } => {
                let member = self.fresh("m");
                let sponsor = sponsor.as_ref().map(|s| self.member(s));
                json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": now})
            }
            Op::Sale {
                buyer,
                currency,
                minor,
                fx,
            } => {
                let (code, units) = CURRENCIES[*currency];
                let mut sale = json!({"type": "sale_recorded", "sale": self.fresh("s"),
                       "buyer": self.member(buyer), "amount": amount_text(*minor, units),
                       "currency": code, "at": now});
                if let Some((offset, rate)) = fx {
                    let (pay, _) = CURRENCIES[(currency + offset) % CURRENCIES.len()];
                    sale["fx"] = json!({"currency": pay, "rate": FX_RATES[*rate]});
                }
                sale
            }
            Op::Refund { sale, percent } => {
                if self.sales.is_empty() {
                    return None;
                }
                let (id, _, minor, units) = &self.sales[sale.index(self.sales.len())];
                let amount = (minor * percent / 100).max(1);
                let (id, units) = (id.clone(), *units);
                json!({"type": "refund_recorded", "refund": self.fresh("r"), "sale": id,
                       "amount": amount_text(amount, units), "at": now})
            }
            Op::Status { member, status } => {
                json!({"type": "member_status_changed", "member": self.member(member),
                       "status": STATUSES[*status], "at": now})
            }
            Op::Hold { member, on } => {
                json!({"type": "member_hold_set", "member": self.member(member), "on": on,
                       "reason": "review", "at": now})
            }
            Op::Profile {
                member,
                method,
                verified,
            } => {
                json!({"type": "payout_profile_set", "member": self.member(member),
                       "method": METHODS[*method], "verified": verified})
            }
            Op::Prepare { minimum, fee } => {
                let mut policy = json!({});
                if let Some(minimum) = minimum {
                    policy["minimum"] =
                        json!({"USD": amount_text(*minimum, 2), "KWD": amount_text(*minimum, 3)});
                }
                if *fee {
                    policy["fees"] = json!({"bank": {"flat": "0.50", "percent": "1.5"},
                                            "crypto": {"percent": "100"}});
                }
                json!({"type": "payouts_prepared", "batch": self.fresh("B"), "as_of": now,
                       "policy": policy})
            }
            Op::Settle { payout } | Op::Fail { payout } => {
                if self.payouts.is_empty() {
                    return None;
                }
                let payout = self.payouts[payout.index(self.payouts.len())].clone();
                if matches!(op, Op::Settle { .. }) {
                    json!({"type": "payout_settled", "payout": payout, "at": now, "reference": "wire"})
                } else {
                    json!({"type": "payout_failed", "payout": payout, "at": now, "reason": "bounced"})
                }
            }
            Op::Reparent { member, sponsor } => {
                json!({"type": "sponsor_changed", "member": self.member(member),
                       "sponsor": self.member(sponsor), "reason": "fix", "at": now})
            }
            Op::Milestones {
                small,
                joined,
                clawback,
            } => {
                let mut set = json!({"type": "milestones_set", "at": now,
                    "counts": if *joined { "joined" } else { "purchased" },
                    "on_refund": if *clawback { "clawback" } else { "keep" }});
                if *small {
                    let usd = |a: &str| json!({"bonus": {"amount": a, "currency": "USD"}});
                    let kwd = |a: &str| json!({"bonus": {"amount": a, "currency": "KWD"}});
                    set["milestones"] = json!([
                        {"id": "q1", "name": "Q1", "threshold": 1, "rewards": [usd("1.00"), kwd("0.125")]},
                        {"id": "q2", "name": "Q2", "threshold": 2, "rewards": [usd("2.50"), {"perk": "p"}]},
                        {"id": "d2", "name": "D2", "metric": "direct_referrals", "threshold": 2, "rewards": [usd("0.01")]},
                        {"id": "n3", "name": "N3", "metric": "downline_size", "threshold": 3, "rewards": [kwd("1.000")]},
                        {"id": "o1", "name": "O1", "metric": "own_sales", "threshold": 1, "rewards": [usd("0.99")]},
                        {"id": "e1", "name": "E1", "metric": "net_earnings", "currency": "JPY",
                         "threshold": "5", "rewards": [usd("3.00")]}
                    ]);
                }
                set
            }
            Op::Challenge {
                leader,
                depth,
                metric,
                split,
                target,
            } => {
                let id = self.fresh("c");
                let target = if *metric == 0 {
                    amount_text(target * 100, 2)
                } else {
                    target.to_string()
                };
                json!({"type": "challenge_created", "id": id, "name": "push",
                       "team": {"leader": self.member(leader), "depth": depth},
                       "metric": METRICS[*metric],
                       "from": at(self.clock_ms - 100 * HOUR_MS), "to": at(self.clock_ms + 100 * HOUR_MS),
                       "target": target, "reward": {"amount": "10.00", "currency": "USD"},
                       "split": SPLITS[*split]})
            }
            Op::Close { challenge } => {
                if self.challenges.is_empty() {
                    return None;
                }
                let id = self.challenges[challenge.index(self.challenges.len())].clone();
                json!({"type": "challenge_closed", "id": id, "at": now})
            }
            Op::Plan { plan } => {
                let id = self.fresh("p");
                json!({"type": "plan_activated", "plan": plan.to_json(&id), "effective_from": now})
            }
            Op::Bad { kind, pick } => self.bad_event(*kind, pick)?,
        })
    }

    /// An event the engine must refuse.
    fn bad_event(&mut self, kind: usize, pick: &Index) -> Option<Value> {
        let now = self.now();
        let member = self.member(pick);
        Some(match kind {
            0 => json!({"type": "sale_recorded", "sale": self.fresh("s"), "buyer": "ghost",
                        "amount": "1.00", "currency": "USD", "at": now}),
            1 => {
                let (sale, _, minor, units) =
                    self.sales.get(pick.index(self.sales.len().max(1)))?;
                json!({"type": "refund_recorded", "refund": format!("r-over-{}", self.next_id),
                       "sale": sale, "amount": amount_text(minor + 1, *units), "at": now})
            }
            2 => {
                let (sale, buyer, minor, units) =
                    self.sales.get(pick.index(self.sales.len().max(1)))?;
                let currency = CURRENCIES.iter().find(|c| c.1 == *units)?.0;
                json!({"type": "sale_recorded", "sale": sale, "buyer": buyer,
                       "amount": amount_text(minor + 1, *units), "currency": currency, "at": now})
            }
            3 => json!({"type": "sale_recorded", "sale": self.fresh("s"), "buyer": member,
                        "amount": "1e3", "currency": "USD", "at": now}),
            4 => json!({"type": "sale_recorded", "sale": self.fresh("s"), "buyer": member,
                        "amount": "1.001", "currency": "USD", "at": now}),
            5 => {
                // Move a root under one of its own descendants.
                let ancestors = self.engine.upline(&member, usize::MAX).ok()?;
                let root = ancestors.last()?;
                json!({"type": "sponsor_changed", "member": &**root, "sponsor": member,
                       "reason": "loop", "at": now})
            }
            6 => json!({"type": "member_joined", "member": self.fresh("m"),
                        "sponsor": format!("m{}", self.next_id), "at": now}),
            7 => json!({"type": "payout_settled", "payout": "B0:ghost:USD", "at": now,
                        "reference": "wire"}),
            8 => {
                self.last_batch_ms?;
                json!({"type": "payouts_prepared", "batch": self.fresh("B"),
                       "as_of": at(START_MS - HOUR_MS), "policy": {}})
            }
            9 => json!({"type": "plan_activated", "effective_from": now,
                        "plan": {"id": self.fresh("p"), "version": 1,
                                 "levels": [{"rate": "0.6"}, {"rate": "0.5"}]}}),
            10 => json!({"type": "sale_recorded", "sale": self.fresh("s"), "buyer": member,
                         "amount": "1.00", "currency": "USD", "at": "2026-02-01T12:00:00"}),
            12 => json!({"type": "challenge_created", "id": self.fresh("c"), "name": "x",
                         "team": {"leader": "ghost", "depth": 1}, "metric": "sales_volume",
                         "from": now, "to": at(self.clock_ms + HOUR_MS), "target": "1.00",
                         "reward": {"amount": "1.00", "currency": "USD"}, "split": "equal"}),
            13 => json!({"type": "milestones_set", "at": now, "milestones": [
                            {"id": "z", "name": "Z", "threshold": 0, "rewards": []}]}),
            14 => json!({"type": "challenge_closed", "id": "c-ghost", "at": now}),
            _ => json!({"type": "member_joined", "member": member, "sponsor": "m1",
                        "at": "2020-01-01T00:00:00Z"}),
        })
    }

    /// Runs one step; returns the event and what applying it gave.
    fn step(&mut self, op: &Op) -> Option<(Event, upline::Result<Applied>)> {
        let event = decode(self.event(op)?);
        let result = self.engine.apply(&event);
        match &result {
            Ok(applied) => self.record(&event, applied),
            Err(_) => self.refused += 1,
        }
        Some((event, result))
    }

    fn record(&mut self, event: &Event, applied: &Applied) {
        match (event, &applied.outcome) {
            (Event::MemberJoined(e), _) => self.members.push(e.member.clone()),
            (Event::SaleRecorded(e), Outcome::Distribution(d)) => {
                let units = d.amount.scale();
                let minor = d.amount.mantissa() as u64;
                self.sales
                    .push((e.sale.clone(), e.buyer.clone(), minor, units));
            }
            (Event::ChallengeCreated(e), _) if !applied.replayed => {
                self.challenges.push(e.id.clone())
            }
            (Event::PayoutsPrepared(_), Outcome::Batch(b)) => {
                self.last_batch_ms = Some(b.as_of.as_millis());
                self.payouts
                    .extend(b.items.iter().map(|i| i.payout.to_string()));
            }
            _ => {}
        }
        self.applied.push((event.clone(), applied.clone()));
    }

    fn run(ops: &[(Op, i64)]) -> Driver {
        let mut driver = Driver::new();
        for (op, pause_hours) in ops {
            driver.clock_ms += pause_hours * HOUR_MS;
            driver.step(op);
        }
        driver
    }
}

// ---- 3. balance conservation -----------------------------------------------

proptest! {
    // More cases than most: a hold that ends on a held line of a sale paid
    // in another currency is a rare path (it once released in the wrong
    // currency: 4 runs in 6 at 512 cases found it, none at 64; the
    // statement tests check that case directly).
    #![proptest_config(config(512))]

    /// For every (earner, currency) account and any instant `as_of`, over the
    /// entries dated at or before `as_of`:
    /// earned − reversed + bonuses + adjustments
    ///   == pending + available + held + reserved + paid.
    /// Checked at every entry's date and maturity, a millisecond either side,
    /// and at the end of time, after a random stream of every kind of event.
    #[test]
    fn balances_conserve_what_was_earned(ops in stream()) {
        let driver = Driver::run(&ops);
        conserves(&driver.engine)?;
    }

    /// The same with milestone bonuses, clawbacks and challenge rewards in
    /// every case: a small clawback milestone set from the start, and a
    /// stream of joins, sales, full refunds and challenges.
    #[test]
    fn bonuses_clawbacks_and_challenge_rewards_conserve(ops in reward_stream(), joined in any::<bool>()) {
        let mut driver = Driver::new();
        let set = driver.event(&Op::Milestones { small: true, joined, clawback: true }).unwrap();
        driver.seed(set);
        for (op, pause_hours) in &ops {
            driver.clock_ms += pause_hours * HOUR_MS;
            driver.step(op);
        }
        conserves(&driver.engine)?;
        // Each award's bonuses are either standing or clawed back in full.
        let ledger = driver.engine.ledger();
        let mut net: BTreeMap<(u32, String, String), Decimal> = BTreeMap::new();
        for entry in ledger.entries() {
            let sign = match entry.kind {
                upline::ledger::EntryKind::Bonus => Decimal::ONE,
                upline::ledger::EntryKind::BonusReversal => -Decimal::ONE,
                _ => continue,
            };
            *net.entry((entry.earner, entry.reference.to_string(), entry.currency.code().to_string()))
                .or_default() += sign * entry.amount;
        }
        for ((_, reference, _), amount) in net {
            prop_assert!(amount >= Decimal::ZERO, "{} reversed more than it paid", reference);
        }
    }
}

fn reward_stream() -> impl Strategy<Value = Vec<(Op, i64)>> {
    let op = prop_oneof![
        3 => prop::option::weighted(0.95, any::<Index>()).prop_map(|sponsor| Op::Join { sponsor }),
        4 => (any::<Index>(), 0usize..3, 1u64..=5_000, fx())
            .prop_map(|(buyer, currency, minor, fx)| Op::Sale { buyer, currency, minor, fx }),
        3 => (any::<Index>(), prop_oneof![Just(100u64), 1u64..=99])
            .prop_map(|(sale, percent)| Op::Refund { sale, percent }),
        1 => (any::<Index>(), 0u32..4, 0usize..3, 0usize..3, 1u64..=3)
            .prop_map(|(leader, depth, metric, split, target)| Op::Challenge { leader, depth, metric, split, target }),
        2 => any::<Index>().prop_map(|challenge| Op::Close { challenge }),
        1 => (any::<Index>(), 0usize..3).prop_map(|(member, status)| Op::Status { member, status }),
    ];
    prop::collection::vec((op, 0i64..100), 10..80)
}

/// For every (earner, currency) account and any instant `as_of`, over the
/// entries dated at or before `as_of`:
/// earned − reversed + bonuses + adjustments
///   == pending + available + held + reserved + paid.
/// Checked at every entry's date and maturity, a millisecond either side,
/// and at the end of time.
fn conserves(engine: &Engine) -> Result<(), TestCaseError> {
    let ledger = engine.ledger();
    let accounts: BTreeSet<(u32, String)> = ledger
        .entries()
        .map(|e| (e.earner, e.currency.code().to_string()))
        .collect();
    for (earner, code) in accounts {
        let currency = engine.currencies().get(&code, "currency").unwrap();
        let member = engine.graph().id(earner).to_string();
        let mut instants: BTreeSet<i64> = BTreeSet::new();
        for entry in ledger.account_entries(earner, currency) {
            for t in [entry.at.as_millis(), entry.available_at.as_millis()] {
                instants.extend([t - 1, t, t + 1]);
            }
        }
        instants.insert(Timestamp::MAX.as_millis() - 1);
        for as_of in instants {
            let balances = engine.balances(&member, &code, &at(as_of)).unwrap();
            let totals = ledger.totals(
                earner,
                currency,
                Timestamp::MIN,
                Timestamp::from_millis(as_of + 1).unwrap(),
            );
            let net = totals.earned - totals.reversed + totals.bonuses + totals.adjustments;
            prop_assert_eq!(
                net,
                balances.total(),
                "{} {} as of {}: {:?} vs {:?}",
                member,
                code,
                at(as_of),
                totals,
                balances
            );
            prop_assert_eq!(totals.paid, balances.paid);
            // Only available money may go below zero (a debt recovered
            // from later earnings); what is held, reserved or paid never.
            for (bucket, amount) in [
                ("held", balances.held),
                ("reserved", balances.reserved),
                ("paid", balances.paid),
            ] {
                prop_assert!(
                    amount >= Decimal::ZERO,
                    "{} {} {} as of {}: {}",
                    member,
                    code,
                    bucket,
                    at(as_of),
                    amount
                );
            }
        }
    }
    Ok(())
}

// ---- 4. replay -------------------------------------------------------------

proptest! {
    #![proptest_config(config(64))]

    /// Replaying the accepted events of a stream, in order, in a fresh engine
    /// gives the same state (snapshot, compared as JSON values) and the same
    /// audit head as the live engine; so does restoring the snapshot.
    #[test]
    fn replay_rebuilds_the_same_state_and_audit_head(ops in stream()) {
        let driver = Driver::run(&ops);
        let events: Vec<&Event> = driver.applied.iter().map(|(e, _)| e).collect();
        let replayed = Engine::replay(events.iter().copied()).expect("accepted events replay");
        prop_assert_eq!(state(&replayed), state(&driver.engine));
        let restored = Engine::from_snapshot_json(&driver.engine.snapshot_json()).unwrap();
        prop_assert_eq!(state(&restored), state(&driver.engine));
        if let Some((_, last)) = driver.applied.iter().rev().find(|(_, a)| !a.replayed) {
            prop_assert_eq!(replayed.audit_head().hash, last.hash);
        }
    }
}

// ---- 4b. metrics of a replayed engine ----------------------------------------

/// Every rewards and metrics query of `engine`, as JSON.
fn queries(engine: &Engine, challenges: &[String]) -> Value {
    let (from, to) = (at(START_MS - HOUR_MS), at(START_MS + 10_000 * HOUR_MS));
    let mut out = json!({
        "network": engine.network_metrics(),
        "viral": engine.viral_coefficient(3, 2, None, None).unwrap(),
        "projection": engine.projection(3, 5, None).unwrap(),
    });
    for (metric, currency) in [
        ("qualified_referrals", None),
        ("downline_growth", None),
        ("net_earnings", Some("USD")),
        ("net_earnings", Some("KWD")),
        ("sales_volume", Some("JPY")),
    ] {
        let board = engine
            .leaderboard(metric, &from, &to, 20, currency)
            .unwrap();
        out[format!("{metric}:{currency:?}")] = serde_json::to_value(board).unwrap();
    }
    for i in 0..engine.graph().len() as u32 {
        let id = engine.graph().id(i).to_string();
        out[format!("member:{id}")] = json!({
            "metrics": engine.member_metrics(&id, Some(&from), Some(&to)).unwrap(),
            "awards": engine.awards(&id).unwrap(),
        });
    }
    for id in challenges {
        out[format!("challenge:{id}")] =
            serde_json::to_value(engine.challenge_status(id, &to).unwrap()).unwrap();
    }
    out
}

proptest! {
    #![proptest_config(config(48))]

    /// The metrics, leaderboards, awards and challenge statuses of an engine
    /// rebuilt by replaying the accepted events, or restored from a
    /// snapshot, equal the live engine's.
    #[test]
    fn metrics_of_a_replayed_engine_equal_the_live_ones(ops in stream()) {
        let driver = Driver::run(&ops);
        let events: Vec<&Event> = driver.applied.iter().map(|(e, _)| e).collect();
        let replayed = Engine::replay(events.iter().copied()).expect("accepted events replay");
        let live = queries(&driver.engine, &driver.challenges);
        prop_assert_eq!(&queries(&replayed, &driver.challenges), &live);
        let restored = Engine::from_snapshot_json(&driver.engine.snapshot_json()).unwrap();
        prop_assert_eq!(&queries(&restored, &driver.challenges), &live);
    }
}

// ---- 5. refused events -----------------------------------------------------

proptest! {
    #![proptest_config(config(64))]

    /// An event the engine refuses (bad ones are mixed into the stream on
    /// purpose) leaves it exactly as it was: the same snapshot and the same
    /// audit head before and after.
    #[test]
    fn a_refused_event_changes_nothing(ops in stream()) {
        let mut driver = Driver::new();
        for (op, pause_hours) in &ops {
            driver.clock_ms += pause_hours * HOUR_MS;
            let before = state(&driver.engine);
            let Some((event, result)) = driver.step(op) else { continue };
            match result {
                Err(err) => prop_assert_eq!(
                    &state(&driver.engine), &before, "{:?} refused with {}", event, err
                ),
                Ok(_) => prop_assert!(!matches!(op, Op::Bad { .. }), "{:?} was accepted", event),
            }
        }
    }
}

// ---- 6. idempotent retries -------------------------------------------------

proptest! {
    #![proptest_config(config(64))]

    /// Re-applying an already-applied join, sale, refund, payout batch,
    /// settlement or failure with identical content returns the original sequence number, hash and
    /// outcome, says it was a retry, writes no entry, and changes nothing.
    #[test]
    fn retrying_an_applied_event_returns_the_original_and_changes_nothing(ops in stream()) {
        let mut driver = Driver::run(&ops);
        let before = state(&driver.engine);
        let originals: Vec<(Event, Applied)> = driver
            .applied
            .iter()
            .filter(|(e, a)| {
                !a.replayed
                    && matches!(
                        e,
                        Event::MemberJoined(_)
                            | Event::SaleRecorded(_)
                            | Event::RefundRecorded(_)
                            | Event::PayoutsPrepared(_)
                            | Event::PayoutSettled(_)
                            | Event::PayoutFailed(_)
                            | Event::ChallengeCreated(_)
                            | Event::ChallengeClosed(_)
                    )
            })
            .cloned()
            .collect();
        for (event, original) in &originals {
            let retry = driver.engine.apply(event).expect("a retry is accepted");
            prop_assert!(retry.replayed, "{:?}", event);
            prop_assert_eq!(retry.seq, original.seq);
            prop_assert_eq!(retry.hash, original.hash);
            prop_assert_eq!(&retry.outcome, &original.outcome);
            prop_assert!(retry.entries.is_empty());
        }
        prop_assert_eq!(state(&driver.engine), before);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// An engine with a store keeps only its audit head in memory: the same
    /// stream applied to one (in batches, so some retries find their
    /// original still unpersisted in the same batch) gives every event the
    /// same sequence number, hash, retry flag and outcome as the engine that
    /// keeps every hash, and a retry of any earlier event afterwards gets
    /// the original hash back from the store.
    #[test]
    fn an_engine_with_a_store_answers_like_one_that_keeps_every_hash(
        ops in stream(),
        batch in 1usize..9,
    ) {
        let driver = Driver::run(&ops);
        let mut stored = Engine::open(Box::new(upline::MemoryStore::new())).expect("an empty store opens");
        let events: Vec<Event> = driver.applied.iter().map(|(e, _)| e.clone()).collect();
        let mut results = Vec::new();
        for chunk in events.chunks(batch) {
            results.extend(stored.apply_batch(chunk).expect("the store takes the batch"));
        }
        for ((event, original), result) in driver.applied.iter().zip(results) {
            let applied = result.expect("accepted by the engine without a store");
            prop_assert_eq!(applied.seq, original.seq, "{:?}", event);
            prop_assert_eq!(applied.hash, original.hash, "{:?}", event);
            prop_assert_eq!(applied.replayed, original.replayed, "{:?}", event);
            prop_assert_eq!(&applied.outcome, &original.outcome, "{:?}", event);
        }
        prop_assert_eq!(stored.audit_head(), driver.engine.audit_head());
        for (event, original) in driver.applied.iter().filter(|(_, a)| !a.replayed) {
            if matches!(event, Event::MemberJoined(_) | Event::SaleRecorded(_) | Event::RefundRecorded(_)) {
                let retry = stored.apply(event).expect("a retry is accepted");
                prop_assert!(retry.replayed);
                prop_assert_eq!((retry.seq, retry.hash), (original.seq, original.hash));
            }
        }
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// `apply_batch` reads each group of sales' state ahead before applying
    /// it (`engine/warm.rs`); that is a hint and nothing more: one batch of
    /// the whole stream, with a sale by an unknown buyer after each sale,
    /// gives every event the result it got applied alone (sequence number,
    /// hash, retry flag, outcome; the unknown buyers `unknown_member`) and
    /// ends in the same state.
    #[test]
    fn a_batch_read_ahead_answers_like_events_applied_one_by_one(ops in stream()) {
        let driver = Driver::run(&ops);
        let mut events = Vec::new();
        for (event, _) in &driver.applied {
            events.push(event.clone());
            if let Event::SaleRecorded(sale) = event {
                let mut ghost = sale.clone();
                ghost.sale = format!("{}-ghost", sale.sale);
                ghost.buyer = "ghost".into();
                events.push(Event::SaleRecorded(ghost));
            }
        }
        let mut batched = Engine::new();
        let results = batched.apply_batch(&events).expect("within the batch limit");
        let mut originals = driver.applied.iter();
        for (event, result) in events.iter().zip(results) {
            match event {
                Event::SaleRecorded(sale) if sale.buyer == "ghost" => {
                    prop_assert_eq!(result.expect_err("no such buyer").code(), "unknown_member");
                }
                _ => {
                    let (_, original) = originals.next().expect("one original per event");
                    let applied = result.expect("accepted when applied alone");
                    prop_assert_eq!(applied.seq, original.seq, "{:?}", event);
                    prop_assert_eq!(applied.hash, original.hash, "{:?}", event);
                    prop_assert_eq!(applied.replayed, original.replayed, "{:?}", event);
                    prop_assert_eq!(&applied.outcome, &original.outcome, "{:?}", event);
                }
            }
        }
        prop_assert_eq!(state(&batched), state(&driver.engine));
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// The same events give the same snapshot, byte for byte (maps are
    /// written in key order, whatever the per-process hash seed), so a
    /// host can hash or diff snapshots.
    #[test]
    fn snapshots_are_byte_for_byte_deterministic(ops in stream()) {
        let first = Driver::run(&ops);
        let second = Driver::run(&ops);
        prop_assert_eq!(first.engine.snapshot_json(), second.engine.snapshot_json());
        let restored = Engine::from_snapshot_json(&first.engine.snapshot_json()).expect("restores");
        prop_assert_eq!(restored.snapshot_json(), first.engine.snapshot_json());
    }
}

// ---- found by the properties above: pinned as examples -----------------------

/// An engine where `a` sponsors `b`, both joined on 2026-01-01.
fn a_sponsors_b() -> Engine {
    let mut engine = Engine::new();
    for (member, sponsor) in [("a", Value::Null), ("b", json!("a"))] {
        apply(
            &mut engine,
            json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": "2026-01-01T00:00:00Z"}),
        );
    }
    engine
}

fn apply(engine: &mut Engine, value: Value) -> Applied {
    engine
        .apply(&decode(value.clone()))
        .unwrap_or_else(|err| panic!("{value} was refused: {err}"))
}

/// DESIGN.md: "An event whose id was already applied with identical content
/// is a no-op that returns the original result."
/// A line credited as held stays `held: true` in the retried result even
/// after the hold was released.
#[test]
fn a_sale_retried_after_a_hold_release_returns_the_original_distribution() {
    let mut engine = a_sponsors_b();
    let hold = |on: bool, at: &str| {
        json!({"type": "member_hold_set", "member": "a", "on": on, "reason": "review",
               "at": at})
    };
    apply(&mut engine, hold(true, "2026-01-15T00:00:00Z"));
    let sale = json!({"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": "100.00",
                      "currency": "USD", "at": "2026-02-01T12:00:00Z"});
    let original = apply(&mut engine, sale.clone());
    assert!(distribution(&original).lines[0].held);
    apply(&mut engine, hold(false, "2026-02-15T00:00:00Z"));
    let retry = apply(&mut engine, sale);
    assert!(retry.replayed);
    assert_eq!(retry.outcome, original.outcome);
}

/// DESIGN.md: "Settling twice is a no-op." Settling a settled payout again
/// with the same time and reference is an idempotent retry: the original
/// sequence number, nothing appended, nothing paid twice.
#[test]
fn settling_a_settled_payout_again_is_an_idempotent_retry() {
    let mut engine = a_sponsors_b();
    apply(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": "100.00",
               "currency": "USD", "at": "2026-01-02T00:00:00Z"}),
    );
    apply(
        &mut engine,
        json!({"type": "payout_profile_set", "member": "a", "method": "bank", "verified": true}),
    );
    apply(
        &mut engine,
        json!({"type": "payouts_prepared", "batch": "B1", "as_of": "2026-03-01T00:00:00Z", "policy": {}}),
    );
    let settle = json!({"type": "payout_settled", "payout": "B1:a:USD",
                        "at": "2026-03-02T00:00:00Z", "reference": "wire-1"});
    let first = apply(&mut engine, settle.clone());
    let head = engine.audit_head();
    let second = apply(&mut engine, settle);
    assert_eq!(second.seq, first.seq);
    assert_eq!(second.hash, first.hash);
    assert!(second.replayed);
    assert!(second.entries.is_empty());
    assert_eq!(engine.audit_head(), head);
    let paid = engine
        .balances("a", "USD", "2026-04-01T00:00:00Z")
        .unwrap()
        .paid;
    assert_eq!(paid.to_string(), "20.00");
}

/// DESIGN.md: "cumulative refunds may not exceed the sale" is the only
/// limit on a refund; money arithmetic is checked.
/// A partial refund of a sale near the amount limit is accepted (the
/// product `line × refunded_total` would overflow; the engine divides
/// first there).
#[test]
fn a_partial_refund_of_a_huge_sale_is_accepted() {
    let mut engine = a_sponsors_b();
    apply(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "b",
               "amount": "10000000000000000.00", "currency": "USD", "at": "2026-02-01T12:00:00Z"}),
    );
    let refund = apply(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1",
               "amount": "5000000000000000.00", "at": "2026-02-02T12:00:00Z"}),
    );
    let Outcome::Refund(r) = &refund.outcome else {
        panic!("a refund gave {:?}", refund.outcome)
    };
    assert_eq!(r.reversals[0].amount.to_string(), "1000000000000000.00");
}
