//! The invariants of DESIGN.md under fraud screening, property-tested.
//!
//! Worlds are small random forests whose members share devices, cards,
//! e-mails and IPs from small pools (so clusters, rings and ladders form),
//! under a random preset or custom rules; streams mix sales with signals,
//! refunds, member holds and review resolutions.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use upline::ledger::EntryKind;
use upline::{Engine, Event, Timestamp};

/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;
const MINUTE_MS: i64 = 60_000;

fn at(ms: i64) -> String {
    Timestamp::from_millis(ms).expect("in range").to_string()
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 1_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[derive(Debug, Clone)]
struct Sig {
    device: Option<u8>,
    card: Option<u8>,
    email: Option<u8>,
    ip: Option<(u8, u8)>,
    click_s: Option<u8>,
}

impl Sig {
    fn to_json(&self, at_ms: i64) -> Value {
        let mut s = json!({});
        if let Some(d) = self.device {
            s["device"] = json!(format!("dev-{d}"));
        }
        if let Some(c) = self.card {
            s["payment_fingerprint"] = json!(format!("card-{c}"));
        }
        if let Some(e) = self.email {
            let domain = if e % 3 == 0 {
                "mailinator.com"
            } else {
                "gmail.com"
            };
            s["email"] = json!(format!("u.{e}+x@{domain}"));
        }
        if let Some((ip, ua)) = self.ip {
            s["ip"] = json!(format!("192.0.2.{ip}"));
            s["user_agent"] = json!(format!("agent-{ua}"));
        }
        if let Some(c) = self.click_s {
            s["clicked_at"] = json!(at(at_ms - i64::from(c) * 1000));
        }
        s
    }
}

fn sig() -> impl Strategy<Value = Sig> {
    (
        prop::option::weighted(0.5, 0u8..4),
        prop::option::weighted(0.4, 0u8..4),
        prop::option::weighted(0.4, 0u8..6),
        prop::option::weighted(0.4, (0u8..3, 0u8..2)),
        prop::option::weighted(0.3, 0u8..40),
    )
        .prop_map(|(device, card, email, ip, click_s)| Sig {
            device,
            card,
            email,
            ip,
            click_s,
        })
}

#[derive(Debug, Clone)]
enum Op {
    Sale {
        buyer: Index,
        cents: u32,
        sig: Option<Sig>,
    },
    Refund {
        sale: Index,
        percent: u8,
    },
    Review {
        sale: Index,
        reverse: bool,
    },
    Hold {
        member: Index,
        on: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (any::<Index>(), 1u32..50_000, prop::option::weighted(0.7, sig()))
            .prop_map(|(buyer, cents, sig)| Op::Sale { buyer, cents, sig }),
        2 => (any::<Index>(), 1u8..=100).prop_map(|(sale, percent)| Op::Refund { sale, percent }),
        2 => (any::<Index>(), any::<bool>()).prop_map(|(sale, reverse)| Op::Review { sale, reverse }),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(member, on)| Op::Hold { member, on }),
    ]
}

#[derive(Debug, Clone)]
struct Scenario {
    /// Per member: sponsor pick, minutes after the previous join, signals.
    members: Vec<(Index, u16, Option<Sig>)>,
    rules: usize,
    ops: Vec<(Op, u16)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(
            (
                any::<Index>(),
                0u16..3_000,
                prop::option::weighted(0.8, sig()),
            ),
            2..24,
        ),
        0usize..5,
        prop::collection::vec((op(), 0u16..4_000), 1..40),
    )
        .prop_map(|(members, rules, ops)| Scenario {
            members,
            rules,
            ops,
        })
}

fn rules_event(choice: usize) -> Value {
    let base = json!({"type": "screening_rules_set", "id": "in-force", "at": at(START_MS),
                      "blocklist": ["mailinator.com"]});
    let mut event = base;
    match choice {
        0 => event["preset"] = json!("relaxed"),
        1 => event["preset"] = json!("moderate"),
        2 => event["preset"] = json!("strict"),
        3 => {}
        _ => {
            event["rules"] = json!([
                {"id": "big", "when": {"check": "high_value", "above": {"USD": "40.00"}},
                 "action": "hold", "reason": "big"},
                {"id": "refunds", "when": {"check": "refund_rate", "above": "0.2", "min_sales": 1},
                 "action": "block", "reason": "refunds"},
                {"id": "fast", "when": {"check": "velocity", "signal": "device", "max": 1,
                 "window_hours": 24}, "action": "hold", "reason": "fast"},
                {"id": "ladder", "when": {"check": "ladder", "min_length": 2}, "action": "review",
                 "reason": "ladder"},
            ])
        }
    }
    event
}

struct Driver {
    engine: Engine,
    applied: Vec<Event>,
    members: Vec<String>,
    sales: Vec<String>,
    now: i64,
    counter: usize,
}

impl Driver {
    fn apply(&mut self, value: Value) -> bool {
        let event = Event::from_value(value.clone()).unwrap_or_else(|e| panic!("{value}: {e}"));
        match self.engine.apply(&event) {
            Ok(_) => {
                self.applied.push(event);
                true
            }
            Err(_) => false,
        }
    }

    fn run(scenario: &Scenario) -> Driver {
        let mut d = Driver {
            engine: Engine::new(),
            applied: Vec::new(),
            members: Vec::new(),
            sales: Vec::new(),
            now: START_MS,
            counter: 0,
        };
        assert!(d.apply(rules_event(scenario.rules)));
        for (i, (sponsor, minutes, sig)) in scenario.members.iter().enumerate() {
            d.now += i64::from(*minutes) * MINUTE_MS;
            let member = format!("m{i}");
            let sponsor = (i > 0).then(|| d.members[sponsor.index(i)].clone());
            let mut event = json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": at(d.now)});
            if let Some(sig) = sig {
                event["signals"] = sig.to_json(d.now);
            }
            assert!(d.apply(event));
            d.members.push(member);
        }
        for (op, minutes) in &scenario.ops {
            d.now += i64::from(*minutes) * MINUTE_MS;
            d.counter += 1;
            let n = d.counter;
            match op {
                Op::Sale { buyer, cents, sig } => {
                    let id = format!("s{n}");
                    let mut event = json!({"type": "sale_recorded", "sale": id,
                        "buyer": d.members[buyer.index(d.members.len())],
                        "amount": Decimal::new(i64::from(*cents), 2).to_string(),
                        "currency": "USD", "at": at(d.now)});
                    if let Some(sig) = sig {
                        event["signals"] = sig.to_json(d.now);
                    }
                    assert!(d.apply(event));
                    d.sales.push(id);
                }
                Op::Refund { sale, percent } if !d.sales.is_empty() => {
                    let id = d.sales[sale.index(d.sales.len())].clone();
                    let total = d.engine.distribution_of(&id).expect("recorded").amount;
                    let amount = (total * Decimal::from(*percent) / Decimal::from(100)).round_dp(2);
                    if amount > Decimal::ZERO {
                        // May be an over-refund: then it is refused.
                        d.apply(json!({"type": "refund_recorded", "refund": format!("r{n}"),
                            "sale": id, "amount": amount.to_string(), "at": at(d.now)}));
                    }
                }
                Op::Review { sale, reverse } if !d.sales.is_empty() => {
                    let id = d.sales[sale.index(d.sales.len())].clone();
                    let decision = if *reverse { "reverse" } else { "release" };
                    // Unknown or already resolved reviews are refused.
                    d.apply(json!({"type": "fraud_review_resolved", "review": id,
                        "decision": decision, "at": at(d.now)}));
                }
                Op::Hold { member, on } => {
                    let member = d.members[member.index(d.members.len())].clone();
                    d.apply(
                        json!({"type": "member_hold_set", "member": member, "on": on,
                        "reason": "test", "at": at(d.now)}),
                    );
                }
                _ => {}
            }
        }
        d
    }

    /// Resolves every open review and lifts every member hold.
    fn settle_everything(&mut self) {
        self.now += MINUTE_MS;
        for (i, id) in self.sales.clone().into_iter().enumerate() {
            let decision = if i % 2 == 0 { "release" } else { "reverse" };
            self.apply(json!({"type": "fraud_review_resolved", "review": id,
                "decision": decision, "at": at(self.now)}));
        }
        for member in self.members.clone() {
            self.apply(
                json!({"type": "member_hold_set", "member": member, "on": false,
                "reason": "end", "at": at(self.now)}),
            );
        }
    }
}

fn state(engine: &Engine) -> (Value, upline::Head) {
    (
        serde_json::from_str(&engine.snapshot_json()).expect("snapshot is JSON"),
        engine.audit_head(),
    )
}

proptest! {
    #![proptest_config(config(48))]

    /// With screening holding, blocking and reviewing, every account still
    /// conserves: earned − reversed + bonuses + adjustments == pending +
    /// available + held + reserved + paid, at every entry's date and at the
    /// end of time; and every distribution still splits its sale exactly
    /// (lines + retained == amount, every level once).
    #[test]
    fn screening_never_breaks_conservation(s in scenario()) {
        let d = Driver::run(&s);
        let engine = &d.engine;
        let ledger = engine.ledger();
        let accounts: BTreeSet<u32> = ledger.entries().map(|e| e.earner).collect();
        let usd = engine.currencies().get("USD", "currency").unwrap();
        for earner in accounts {
            let member = engine.graph().id(earner).to_string();
            let mut instants: BTreeSet<i64> = ledger
                .account_entries(earner, usd)
                .flat_map(|e| [e.at.as_millis(), e.available_at.as_millis()])
                .collect();
            instants.insert(Timestamp::MAX.as_millis() - 1);
            for as_of in instants {
                let balances = engine.balances(&member, "USD", &at(as_of)).unwrap();
                let totals = ledger.totals(
                    earner, usd, Timestamp::MIN, Timestamp::from_millis(as_of + 1).unwrap());
                prop_assert_eq!(
                    totals.earned - totals.reversed + totals.bonuses + totals.adjustments,
                    balances.total()
                );
            }
        }
        for id in &d.sales {
            let dist = engine.distribution_of(id).unwrap();
            let paid: Decimal = dist.lines.iter().map(|l| l.amount).sum();
            prop_assert_eq!(paid + dist.retained, dist.amount);
            let mut levels: Vec<u8> = dist.lines.iter().map(|l| l.level).chain(dist.unpaid.iter().map(|u| u.level)).collect();
            levels.sort_unstable();
            let expected: Vec<u8> = (1..=levels.len() as u8).collect();
            prop_assert_eq!(levels, expected);
        }
    }

    /// Per account, everything credited to held (hold entries) is exactly
    /// what is still held plus what was released plus what was reversed
    /// from held; once every review is resolved and every member hold
    /// lifted, nothing is held any more.
    #[test]
    fn held_is_released_or_reversed_exactly(s in scenario()) {
        let mut d = Driver::run(&s);
        for settle in [false, true] {
            if settle {
                d.settle_everything();
            }
            let engine = &d.engine;
            let usd = engine.currencies().get("USD", "currency").unwrap();
            let accounts: BTreeSet<u32> = engine.ledger().entries().map(|e| e.earner).collect();
            for earner in accounts {
                let sum = |kind: EntryKind| -> Decimal {
                    engine.ledger().account_entries(earner, usd)
                        .filter(|e| e.kind == kind).map(|e| e.amount).sum()
                };
                let member = engine.graph().id(earner).to_string();
                let held = engine.balances(&member, "USD", &at(Timestamp::MAX.as_millis() - 1)).unwrap().held;
                prop_assert!(held >= Decimal::ZERO);
                prop_assert_eq!(
                    sum(EntryKind::Hold),
                    held + sum(EntryKind::Release) + sum(EntryKind::ReversalHeld)
                );
                if settle {
                    prop_assert_eq!(held, Decimal::ZERO, "{} still holds money", member);
                }
            }
        }
    }

    /// A backtest reads history and changes nothing: the live engine's
    /// state is the same before and after, and backtesting the rules that
    /// were in force from the start changes no decision and no amount.
    #[test]
    fn backtest_changes_nothing(s in scenario()) {
        let d = Driver::run(&s);
        let before = state(&d.engine);
        let in_force: upline::event::ScreeningRulesSet = {
            let mut event = rules_event(s.rules);
            event.as_object_mut().unwrap().remove("type");
            serde_json::from_value(event).unwrap()
        };
        let report = upline::backtest(&d.applied, &in_force).unwrap();
        prop_assert_eq!(state(&d.engine), before);
        prop_assert_eq!(report.refused, 0);
        prop_assert_eq!(report.sales_changed, 0);
        prop_assert!(report.held_difference.is_empty());
        prop_assert!(report.blocked_difference.is_empty());
        prop_assert_eq!(report.sales, d.sales.len() as u64);
    }

    /// Replaying the accepted events gives the same state and audit head as
    /// the live engine, and so does restoring its snapshot — clusters,
    /// velocity and refund counts included — and both go on to take the
    /// same decisions.
    #[test]
    fn replay_and_snapshots_equal_live(s in scenario(), extra in sig()) {
        let d = Driver::run(&s);
        let mut replayed = Engine::replay(&d.applied).expect("accepted events replay");
        prop_assert_eq!(state(&replayed), state(&d.engine));
        let mut restored = Engine::from_snapshot_json(&d.engine.snapshot_json()).unwrap();
        prop_assert_eq!(state(&restored), state(&d.engine));
        let mut live = d.engine;
        let sale = json!({"type": "sale_recorded", "sale": "after", "buyer": d.members[d.members.len() - 1],
            "amount": "99.00", "currency": "USD", "at": at(d.now), "signals": extra.to_json(d.now)});
        let event = Event::from_value(sale).unwrap();
        let a = live.apply(&event).unwrap();
        let b = replayed.apply(&event).unwrap();
        let c = restored.apply(&event).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &c);
    }
}

/// The worlds above are worth testing on: across a few dozen of them,
/// screening holds, blocks and flags lines, and reviews resolve.
#[test]
fn the_generated_worlds_exercise_every_action() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    for _ in 0..256 {
        let s = scenario().new_tree(&mut runner).unwrap().current();
        let d = Driver::run(&s);
        for id in &d.sales {
            let dist = d.engine.distribution_of(id).unwrap();
            for hit in dist.screening.iter().flat_map(|s| &s.hits) {
                seen.insert(format!("{:?}", hit.action));
                seen.insert(hit.rule.clone());
            }
        }
        for event in &d.applied {
            if let Event::FraudReviewResolved(_) = event {
                seen.insert("resolved".to_string());
            }
        }
    }
    for expected in [
        "Hold",
        "Block",
        "Review",
        "resolved",
        "self_referral",
        "ring",
        "big",
        "refunds",
        "fast",
    ] {
        assert!(
            seen.contains(expected),
            "{expected} never happened: {seen:?}"
        );
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// `apply_batch` reads each group of sales' screening state ahead (the
    /// buyer's kept signals, each upline's refund-rate slot, the ancestors
    /// ring and ladder rules walk: `engine/warm.rs`); that is a hint only:
    /// the accepted events applied as one batch get the results they got
    /// applied one by one (seq, hash, outcome with its screening decision)
    /// and end in the same state and audit head.
    #[test]
    fn a_batch_with_screening_read_ahead_answers_like_one_by_one(s in scenario()) {
        let d = Driver::run(&s);
        let mut one_by_one = Engine::new();
        let originals: Vec<_> = d
            .applied
            .iter()
            .map(|e| one_by_one.apply(e).expect("accepted before"))
            .collect();
        let mut batched = Engine::new();
        let results = batched.apply_batch(&d.applied).expect("within the batch limit");
        for ((event, result), original) in d.applied.iter().zip(results).zip(&originals) {
            let applied = result.expect("accepted when applied alone");
            prop_assert_eq!(&applied, original, "{:?}", event);
        }
        prop_assert_eq!(state(&batched), state(&d.engine));
    }
}
