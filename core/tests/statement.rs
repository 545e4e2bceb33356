//! Statements and tax CSV: worked examples with the numbers, the error
//! codes of bad queries, and two properties over random event streams:
//!
//! 1. Pages stitch: for any page size, following `next` lists every entry
//!    of the member once, in ledger order.
//! 2. States add up: for any instant `t`, summing the lines of a statement
//!    as of `t` by state (the rule in `upline::statement`'s docs) gives
//!    `balances` at `t`, bucket by bucket.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use upline::ledger::EntryKind;
use upline::statement::{EntryState, SourceKind};
use upline::{Engine, Event, Statement, StatementQuery, Timestamp};

const JAN: &str = "2026-01-01T00:00:00Z";

fn apply(engine: &mut Engine, value: Value) {
    let event = Event::from_value(value.clone()).expect("decodes");
    engine
        .apply(&event)
        .unwrap_or_else(|err| panic!("{value} refused: {err}"));
}

/// ann ← bob ← cal, with the default plan (20/15/…%, 30-day hold), and
/// verified bank profiles for ann and bob.
fn chain() -> Engine {
    let mut engine = Engine::new();
    for (member, sponsor) in [("ann", None), ("bob", Some("ann")), ("cal", Some("bob"))] {
        apply(
            &mut engine,
            json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": JAN}),
        );
    }
    for member in ["ann", "bob"] {
        apply(
            &mut engine,
            json!({"type": "payout_profile_set", "member": member, "method": "bank", "verified": true}),
        );
    }
    engine
}

fn sale(engine: &mut Engine, id: &str, amount: &str, at: &str) {
    apply(
        engine,
        json!({"type": "sale_recorded", "sale": id, "buyer": "cal", "amount": amount,
               "currency": "USD", "at": at}),
    );
}

fn page(engine: &Engine, member: &str, as_of: Option<&str>) -> Statement {
    engine
        .statement(
            member,
            &StatementQuery {
                as_of: as_of.map(str::to_string),
                ..StatementQuery::default()
            },
        )
        .expect("statement")
}

fn summary(statement: &Statement) -> Vec<(EntryKind, String, EntryState, Option<String>)> {
    statement
        .entries
        .iter()
        .map(|l| {
            (
                l.kind,
                l.amount.to_string(),
                l.state,
                l.remaining.map(|r| r.to_string()),
            )
        })
        .collect()
}

#[test]
fn a_commission_line_shows_its_sale_level_rate_base_and_matures() {
    let mut engine = chain();
    sale(&mut engine, "s1", "250.00", "2026-02-01T12:00:00Z");
    let early = page(&engine, "ann", Some("2026-02-02T00:00:00Z"));
    let line = &early.entries[0];
    assert_eq!(line.source.kind, SourceKind::Sale);
    assert_eq!(line.source.id.as_ref(), "s1");
    assert_eq!(line.level, Some(2));
    assert_eq!(line.rate.map(|r| r.to_string()), Some("0.15".to_string()));
    assert_eq!(line.base.map(|b| b.to_string()), Some("250.00".to_string()));
    assert_eq!(line.amount.to_string(), "37.50");
    assert_eq!(line.available_at.to_string(), "2026-03-03T12:00:00Z");
    assert_eq!(line.state, EntryState::Pending);
    let later = page(&engine, "ann", Some("2026-03-03T12:00:00Z"));
    assert_eq!(later.entries[0].state, EntryState::Available);
    // Before the sale, nothing is on the books yet.
    assert!(page(&engine, "ann", Some("2026-02-01T11:59:59Z"))
        .entries
        .is_empty());
}

#[test]
fn refunds_shrink_the_line_and_a_full_refund_reverses_it_from_then_on() {
    let mut engine = chain();
    sale(&mut engine, "s1", "100.00", "2026-02-01T00:00:00Z");
    apply(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "40.00",
               "at": "2026-02-05T00:00:00Z"}),
    );
    apply(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r2", "sale": "s1", "amount": "60.00",
               "at": "2026-02-09T00:00:00Z"}),
    );
    let after_first = page(&engine, "bob", Some("2026-02-06T00:00:00Z"));
    assert_eq!(
        summary(&after_first),
        [
            (
                EntryKind::Commission,
                "20.00".into(),
                EntryState::Pending,
                Some("12.00".into())
            ),
            (
                EntryKind::Reversal,
                "8.00".into(),
                EntryState::Reversed,
                None
            ),
        ]
    );
    assert_eq!(after_first.entries[1].source.kind, SourceKind::Refund);
    assert_eq!(after_first.entries[1].source.id.as_ref(), "r1");
    let now = page(&engine, "bob", None);
    assert_eq!(now.entries[0].state, EntryState::Reversed);
    assert_eq!(
        now.entries[0].remaining.map(|r| r.to_string()),
        Some("0.00".into())
    );
    assert_eq!(now.entries.len(), 3);
}

#[test]
fn a_held_line_is_held_until_the_hold_ends_then_flows() {
    let mut engine = chain();
    apply(
        &mut engine,
        json!({"type": "member_hold_set", "member": "bob", "on": true, "reason": "kyc", "at": JAN}),
    );
    sale(&mut engine, "s1", "100.00", "2026-02-01T00:00:00Z");
    apply(
        &mut engine,
        json!({"type": "member_hold_set", "member": "bob", "on": false, "reason": "kyc",
               "at": "2026-02-10T00:00:00Z"}),
    );
    let held = page(&engine, "bob", Some("2026-02-05T00:00:00Z"));
    assert_eq!(
        summary(&held),
        [
            (
                EntryKind::Commission,
                "20.00".into(),
                EntryState::Held,
                Some("20.00".into())
            ),
            (EntryKind::Hold, "20.00".into(), EntryState::Held, None),
        ]
    );
    let released = page(&engine, "bob", Some("2026-02-10T00:00:00Z"));
    let states: Vec<EntryState> = released.entries.iter().map(|l| l.state).collect();
    assert_eq!(states, [EntryState::Pending; 3]);
    assert_eq!(released.entries[2].kind, EntryKind::Release);
    assert_eq!(released.entries[2].source.kind, SourceKind::Sale);
    let matured = page(&engine, "bob", Some("2026-03-03T00:00:00Z"));
    assert_eq!(matured.entries[0].state, EntryState::Available);
}

#[test]
fn a_held_line_of_a_sale_paid_in_another_currency_stays_in_that_currency() {
    // 100.00 USD paid in EUR at 0.9: lines on a 90.00 EUR base. Bob is on
    // hold, so his 18.00 EUR line is held; a 40 % refund reverses 7.20 EUR
    // of it from held, and the end of the hold releases the 10.80 EUR left,
    // all in EUR.
    let mut engine = chain();
    apply(
        &mut engine,
        json!({"type": "member_hold_set", "member": "bob", "on": true, "reason": "kyc", "at": JAN}),
    );
    apply(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "cal", "amount": "100.00",
               "currency": "USD", "at": "2026-02-01T00:00:00Z",
               "fx": {"currency": "EUR", "rate": "0.9"}}),
    );
    apply(
        &mut engine,
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "40.00",
               "at": "2026-02-05T00:00:00Z"}),
    );
    apply(
        &mut engine,
        json!({"type": "member_hold_set", "member": "bob", "on": false, "reason": "kyc",
               "at": "2026-02-10T00:00:00Z"}),
    );
    let eur = engine
        .balances("bob", "EUR", "2026-02-10T00:00:00Z")
        .unwrap();
    assert_eq!(eur.held.to_string(), "0.00");
    assert_eq!(eur.pending.to_string(), "10.80");
    let usd = engine
        .balances("bob", "USD", "2026-02-10T00:00:00Z")
        .unwrap();
    assert_eq!(usd.total().to_string(), "0.00", "nothing moves in USD");
    let statement = page(&engine, "bob", Some("2026-02-10T00:00:00Z"));
    let line = &statement.entries[0];
    assert_eq!(line.base.map(|b| b.to_string()), Some("90.00".to_string()));
    assert_eq!(line.rate.map(|r| r.to_string()), Some("0.2".to_string()));
    assert_eq!(
        summary(&statement),
        [
            (
                EntryKind::Commission,
                "18.00".into(),
                EntryState::Pending,
                Some("10.80".into())
            ),
            (EntryKind::Hold, "18.00".into(), EntryState::Pending, None),
            (
                EntryKind::ReversalHeld,
                "7.20".into(),
                EntryState::Reversed,
                None
            ),
            (
                EntryKind::Release,
                "10.80".into(),
                EntryState::Pending,
                None
            ),
        ]
    );
    assert!(statement.entries.iter().all(|l| l.currency.code() == "EUR"));
}

#[test]
fn a_payout_reserve_shows_reserved_then_paid_or_back_to_available() {
    let mut engine = chain();
    sale(&mut engine, "s1", "100.00", "2026-02-01T00:00:00Z");
    sale(&mut engine, "s2", "100.00", "2026-02-02T00:00:00Z");
    apply(
        &mut engine,
        json!({"type": "payouts_prepared", "batch": "b1", "as_of": "2026-03-10T00:00:00Z", "policy": {}}),
    );
    apply(
        &mut engine,
        json!({"type": "payout_settled", "payout": "b1:ann:USD", "at": "2026-03-12T00:00:00Z",
               "reference": "wire-1"}),
    );
    apply(
        &mut engine,
        json!({"type": "payout_failed", "payout": "b1:bob:USD", "at": "2026-03-12T00:00:00Z",
               "reason": "bounced"}),
    );
    let before = page(&engine, "ann", Some("2026-03-11T00:00:00Z"));
    let reserve = &before.entries[2];
    assert_eq!(
        (reserve.kind, reserve.amount.to_string(), reserve.state),
        (
            EntryKind::PayoutReserve,
            "30.00".into(),
            EntryState::Reserved
        )
    );
    assert_eq!(reserve.source.kind, SourceKind::Payout);
    assert_eq!(reserve.source.id.as_ref(), "b1:ann:USD");
    let ann = page(&engine, "ann", None);
    assert_eq!(
        ann.entries.iter().map(|l| l.state).collect::<Vec<_>>(),
        [
            EntryState::Available,
            EntryState::Available,
            EntryState::Paid,
            EntryState::Paid
        ]
    );
    let bob = page(&engine, "bob", None);
    assert_eq!(bob.entries[2].state, EntryState::Available);
    assert_eq!(bob.entries[3].kind, EntryKind::PayoutFail);
    assert_eq!(bob.entries[3].state, EntryState::Available);
}

#[test]
fn pages_follow_the_cursor_and_filters_narrow_them() {
    let mut engine = chain();
    for day in 1..=5 {
        sale(
            &mut engine,
            &format!("s{day}"),
            "10.00",
            &format!("2026-02-0{day}T00:00:00Z"),
        );
    }
    let query = |after: Option<String>| StatementQuery {
        after,
        limit: 2,
        from: Some("2026-02-02T00:00:00Z".into()),
        to: Some("2026-02-05T00:00:00Z".into()),
        ..StatementQuery::default()
    };
    let first = engine.statement("bob", &query(None)).unwrap();
    let ids: Vec<&str> = first.entries.iter().map(|l| &*l.source.id).collect();
    assert_eq!(ids, ["s2", "s3"]);
    let second = engine.statement("bob", &query(first.next.clone())).unwrap();
    let ids: Vec<&str> = second.entries.iter().map(|l| &*l.source.id).collect();
    assert_eq!(ids, ["s4"]);
    assert_eq!(second.next, None);
    // A full last page says there is nothing more.
    let all = engine
        .statement(
            "bob",
            &StatementQuery {
                limit: 5,
                ..StatementQuery::default()
            },
        )
        .unwrap();
    assert_eq!((all.entries.len(), all.next), (5, None));
}

#[test]
fn bad_queries_get_their_error_codes_and_name_the_field() {
    let mut engine = chain();
    sale(&mut engine, "s1", "10.00", "2026-02-01T00:00:00Z");
    let code = |member: &str, query: StatementQuery| {
        engine
            .statement(member, &query)
            .map(|_| ())
            .map_err(|e| (e.code(), e.field().map(str::to_string)))
    };
    let q = StatementQuery::default;
    assert_eq!(
        code("ghost", q()),
        Err(("unknown_member", Some("member".into())))
    );
    for after in ["nonsense", "e", "eZZ", "e99999"] {
        let query = StatementQuery {
            after: Some(after.into()),
            ..q()
        };
        assert_eq!(code("ann", query), Err(("malformed", Some("after".into()))));
    }
    // A cursor of another member's page is refused too.
    let bobs = engine
        .statement("bob", &StatementQuery { limit: 1, ..q() })
        .unwrap();
    let cursor = format!("e{:x}", bobs.entries[0].seq);
    let query = StatementQuery {
        after: Some(cursor),
        ..q()
    };
    assert_eq!(code("ann", query), Err(("malformed", Some("after".into()))));
    for limit in [0, upline::limits::MAX_STATEMENT_PAGE + 1] {
        let query = StatementQuery { limit, ..q() };
        assert_eq!(
            code("ann", query),
            Err(("limit_exceeded", Some("limit".into())))
        );
    }
    let query = StatementQuery {
        from: Some("2026-03-01T00:00:00Z".into()),
        to: Some("2026-02-01T00:00:00Z".into()),
        ..q()
    };
    assert_eq!(
        code("ann", query),
        Err(("invalid_time", Some("from".into())))
    );
    let query = StatementQuery {
        as_of: Some("2026-03-01T00:00:00".into()),
        ..q()
    };
    assert_eq!(code("ann", query).unwrap_err().0, "invalid_time");
    let query = StatementQuery {
        currency: Some("usd!".into()),
        ..q()
    };
    assert_eq!(code("ann", query).unwrap_err().0, "invalid_currency");
}

#[test]
fn tax_summary_csv_has_a_header_and_exact_amounts() {
    let mut engine = chain();
    apply(
        &mut engine,
        json!({"type": "member_joined", "member": "d,\"e\"", "sponsor": "cal", "at": JAN}),
    );
    apply(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "d,\"e\"", "amount": "100.00",
               "currency": "USD", "at": "2026-02-01T00:00:00Z"}),
    );
    apply(
        &mut engine,
        json!({"type": "payouts_prepared", "batch": "b1", "as_of": "2026-03-10T00:00:00Z", "policy": {}}),
    );
    apply(
        &mut engine,
        json!({"type": "payout_settled", "payout": "b1:bob:USD", "at": "2026-03-12T00:00:00Z",
               "reference": "wire-1"}),
    );
    let thresholds = [("USD".to_string(), "14.00".to_string())].into();
    let csv = engine.tax_summary_csv(2026, &thresholds).unwrap();
    assert_eq!(
        csv,
        "earner,currency,earned,paid,reaches_threshold\n\
         ann,USD,10.00,0.00,false\n\
         bob,USD,15.00,15.00,true\n\
         cal,USD,20.00,0.00,false\n"
    );
    assert_eq!(
        engine
            .tax_summary_csv(2025, &thresholds)
            .unwrap()
            .lines()
            .count(),
        1
    );
    assert_eq!(
        engine.tax_summary_csv(0, &thresholds).unwrap_err().code(),
        "invalid_time"
    );
}

#[test]
fn statement_csv_quotes_ids_and_leaves_absent_cells_empty() {
    let mut engine = chain();
    sale(&mut engine, "s,1", "10.00", "2026-02-01T00:00:00Z");
    let csv = page(&engine, "bob", Some("2026-02-02T00:00:00Z")).to_csv();
    assert_eq!(
        csv,
        "seq,kind,amount,currency,at,available_at,source_type,source_id,level,rate,base,state,remaining\n\
         0,commission,2.00,USD,2026-02-01T00:00:00Z,2026-03-03T00:00:00Z,sale,\"s,1\",1,0.2,10.00,pending,2.00\n"
    );
}

// ---- properties over random streams ----------------------------------------

const START_MS: i64 = 1_767_225_600_000;
const HOUR_MS: i64 = 3_600_000;
const EMAILS: [&str; 3] = ["a@x.org", "b@x.org", "c@x.org"];

fn at(ms: i64) -> String {
    Timestamp::from_millis(ms).expect("in range").to_string()
}

#[derive(Debug, Clone)]
enum Op {
    Join { sponsor: Index, email: usize },
    Sale { buyer: Index, jpy: bool, minor: u64 },
    Refund { sale: Index, percent: u64 },
    Hold { member: Index, on: bool },
    Prepare,
    Settle { payout: Index },
    Fail { payout: Index },
    Review { sale: Index, release: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<Index>(), 0usize..3).prop_map(|(sponsor, email)| Op::Join { sponsor, email }),
        6 => (any::<Index>(), any::<bool>(), 1u64..=100_000)
            .prop_map(|(buyer, jpy, minor)| Op::Sale { buyer, jpy, minor }),
        3 => (any::<Index>(), prop_oneof![1u64..=99, Just(100)])
            .prop_map(|(sale, percent)| Op::Refund { sale, percent }),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(member, on)| Op::Hold { member, on }),
        2 => Just(Op::Prepare),
        2 => any::<Index>().prop_map(|payout| Op::Settle { payout }),
        1 => any::<Index>().prop_map(|payout| Op::Fail { payout }),
        2 => (any::<Index>(), any::<bool>()).prop_map(|(sale, release)| Op::Review { sale, release }),
    ]
}

/// A random stream in time order (each step 0–400 hours after the last),
/// from a seed with a clawback milestone set, self-referral screening that
/// holds lines, and verified profiles for every member. Steps that make no
/// sense (a review of a sale nothing held) are refused and skipped.
fn run(ops: &[(Op, i64)]) -> Engine {
    let mut engine = Engine::new();
    let mut clock = START_MS;
    let mut members: Vec<String> = Vec::new();
    let mut sales: Vec<(String, u64, bool)> = Vec::new();
    let mut payouts: Vec<String> = Vec::new();
    let mut next = 0;
    let try_apply = |engine: &mut Engine, value: Value| {
        let event = Event::from_value(value).expect("decodes");
        engine.apply(&event).ok()
    };
    let usd = |a: &str| json!({"bonus": {"amount": a, "currency": "USD"}});
    try_apply(
        &mut engine,
        json!({"type": "milestones_set", "at": at(clock), "counts": "purchased", "on_refund": "clawback",
               "milestones": [{"id": "q1", "name": "Q1", "threshold": 1, "rewards": [usd("1.00")]},
                              {"id": "o1", "name": "O1", "metric": "own_sales", "threshold": 1,
                               "rewards": [usd("0.99")]}]}),
    )
    .expect("milestones");
    try_apply(
        &mut engine,
        json!({"type": "screening_rules_set", "id": "rules", "at": at(clock),
               "rules": [{"id": "self", "when": {"check": "self_referral"}, "action": "hold",
                          "reason": "same person"}]}),
    )
    .expect("rules");
    for (op, pause) in ops {
        clock += pause * HOUR_MS;
        let now = at(clock);
        next += 1;
        let value = match op {
            Op::Join { sponsor, email } => {
                let member = format!("m{next}");
                let sponsor =
                    (!members.is_empty()).then(|| members[sponsor.index(members.len())].clone());
                let joined = try_apply(
                    &mut engine,
                    json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": now,
                           "signals": {"email": EMAILS[*email]}}),
                );
                if joined.is_some() {
                    try_apply(
                        &mut engine,
                        json!({"type": "payout_profile_set", "member": member, "method": "bank",
                               "verified": true}),
                    );
                    members.push(member);
                }
                continue;
            }
            Op::Sale { buyer, jpy, minor } => {
                if members.is_empty() {
                    continue;
                }
                let (currency, amount) = if *jpy {
                    ("JPY", minor.to_string())
                } else {
                    ("USD", format!("{}.{:02}", minor / 100, minor % 100))
                };
                let id = format!("s{next}");
                let value = json!({"type": "sale_recorded", "sale": id,
                    "buyer": members[buyer.index(members.len())], "amount": amount,
                    "currency": currency, "at": now});
                if try_apply(&mut engine, value).is_some() {
                    sales.push((id, *minor, *jpy));
                }
                continue;
            }
            Op::Refund { sale, percent } => {
                if sales.is_empty() {
                    continue;
                }
                let (id, minor, jpy) = &sales[sale.index(sales.len())];
                let part = (minor * percent / 100).max(1);
                let amount = if *jpy {
                    part.to_string()
                } else {
                    format!("{}.{:02}", part / 100, part % 100)
                };
                json!({"type": "refund_recorded", "refund": format!("r{next}"), "sale": id,
                       "amount": amount, "at": now})
            }
            Op::Hold { member, on } => {
                if members.is_empty() {
                    continue;
                }
                json!({"type": "member_hold_set", "member": members[member.index(members.len())],
                       "on": on, "reason": "check", "at": now})
            }
            Op::Prepare => {
                let applied = try_apply(
                    &mut engine,
                    json!({"type": "payouts_prepared", "batch": format!("b{next}"), "as_of": now,
                           "policy": {}}),
                );
                if let Some(upline::Outcome::Batch(batch)) = applied.map(|a| a.outcome) {
                    payouts.extend(batch.items.iter().map(|i| i.payout.to_string()));
                }
                continue;
            }
            Op::Settle { payout } | Op::Fail { payout } => {
                if payouts.is_empty() {
                    continue;
                }
                let payout = &payouts[payout.index(payouts.len())];
                if matches!(op, Op::Settle { .. }) {
                    json!({"type": "payout_settled", "payout": payout, "at": now, "reference": "w"})
                } else {
                    json!({"type": "payout_failed", "payout": payout, "at": now, "reason": "x"})
                }
            }
            Op::Review { sale, release } => {
                if sales.is_empty() {
                    continue;
                }
                json!({"type": "fraud_review_resolved", "review": sales[sale.index(sales.len())].0,
                       "decision": if *release { "release" } else { "reverse" }, "at": now})
            }
        };
        try_apply(&mut engine, value);
    }
    engine
}

fn stream() -> impl Strategy<Value = Vec<(Op, i64)>> {
    prop::collection::vec((op(), 0i64..400), 10..80)
}

fn members_with_entries(engine: &Engine) -> BTreeSet<(u32, String)> {
    engine
        .ledger()
        .entries()
        .map(|e| (e.earner, e.currency.code().to_string()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// For every member and page size, following `next` from the first page
    /// lists each of the member's entries exactly once, in ledger order, and
    /// every page but the last is full.
    #[test]
    fn pages_stitch_into_the_whole_ledger(ops in stream(), sizes in prop::collection::vec(1usize..12, 3)) {
        let engine = run(&ops);
        let earners: BTreeSet<u32> = members_with_entries(&engine).into_iter().map(|(e, _)| e).collect();
        for earner in earners {
            let member = engine.graph().id(earner).to_string();
            let mut expected: Vec<u64> = engine.ledger().entries().enumerate()
                .filter(|(_, e)| e.earner == earner).map(|(i, _)| i as u64).collect();
            expected.sort_unstable();
            for &limit in sizes.iter().chain(&[1, 100]) {
                let mut seen = Vec::new();
                let mut after = None;
                loop {
                    let page = engine.statement(&member, &StatementQuery { after, limit, ..StatementQuery::default() })
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    seen.extend(page.entries.iter().map(|l| l.seq));
                    match page.next {
                        Some(next) => {
                            prop_assert_eq!(page.entries.len(), limit);
                            after = Some(next);
                        }
                        None => break,
                    }
                }
                prop_assert_eq!(&seen, &expected, "{} pages of {}", member, limit);
            }
        }
    }

    /// For every account and instant `t` (each entry's date and maturity, a
    /// millisecond either side, and the end of time), the statement as of
    /// `t` summed by state gives `balances` at `t`:
    /// pending and held are the `remaining` of credit lines in that state,
    /// reserved and paid the payout reserves in that state, and available
    /// the `remaining` of available credit lines less the reserves still
    /// reserved or paid.
    #[test]
    fn states_as_of_t_add_up_to_balances_at_t(ops in stream()) {
        let engine = run(&ops);
        for (earner, code) in members_with_entries(&engine) {
            let member = engine.graph().id(earner).to_string();
            let currency = engine.currencies().get(&code, "currency").unwrap();
            let mut instants: BTreeSet<i64> = BTreeSet::new();
            for entry in engine.ledger().account_entries(earner, currency) {
                for t in [entry.at.as_millis(), entry.available_at.as_millis()] {
                    instants.extend([t - 1, t, t + 1]);
                }
            }
            instants.insert(Timestamp::MAX.as_millis());
            for t in instants {
                let statement = engine.statement(&member, &StatementQuery {
                    currency: Some(code.clone()),
                    as_of: Some(at(t)),
                    limit: upline::limits::MAX_STATEMENT_PAGE,
                    ..StatementQuery::default()
                }).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(statement.next.is_none());
                let zero = Decimal::ZERO;
                let (mut pending, mut available, mut held, mut reserved, mut paid) = (zero, zero, zero, zero, zero);
                for line in &statement.entries {
                    prop_assert!(line.at.as_millis() <= t);
                    match (line.remaining, line.kind, line.state) {
                        (Some(r), _, EntryState::Pending) => pending += r,
                        (Some(r), _, EntryState::Available) => available += r,
                        (Some(r), _, EntryState::Held) => held += r,
                        (Some(r), _, EntryState::Reversed) => prop_assert!(r.is_zero()),
                        (Some(_), _, state) => prop_assert!(false, "a credit line is {:?}", state),
                        (None, EntryKind::PayoutReserve, EntryState::Reserved) => {
                            reserved += line.amount;
                            available -= line.amount;
                        }
                        (None, EntryKind::PayoutReserve, EntryState::Paid) => {
                            paid += line.amount;
                            available -= line.amount;
                        }
                        (None, EntryKind::Reversal | EntryKind::ReversalHeld | EntryKind::BonusReversal, state) => {
                            prop_assert_eq!(state, EntryState::Reversed)
                        }
                        _ => {}
                    }
                }
                let balances = engine.balances(&member, &code, &at(t)).unwrap();
                prop_assert_eq!(
                    (pending, available, held, reserved, paid),
                    (balances.pending, balances.available, balances.held, balances.reserved, balances.paid),
                    "{} {} as of {}", member, code, at(t)
                );
            }
        }
    }
}
