//! Random sequences of structured events: after every event, the DESIGN.md
//! invariants hold — every sale splits exactly, no earner is the buyer or
//! appears twice, levels ascend, and every account conserves money.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use serde_json::json;
use upline::{Engine, Event, Outcome, Timestamp};

#[derive(Arbitrary, Debug)]
enum Op {
    Join {
        member: u8,
        sponsor: Option<u8>,
        day: u8,
        device: Option<u8>,
    },
    Status {
        member: u8,
        status: u8,
    },
    Move {
        member: u8,
        sponsor: u8,
    },
    Hold {
        member: u8,
        on: bool,
    },
    Plan {
        rates: Vec<u16>,
        compression: bool,
        qualify: u8,
        cap: Option<u16>,
        rounding: u8,
        day: u8,
    },
    Sale {
        sale: u8,
        buyer: u8,
        cents: u32,
        jpy: bool,
        day: u8,
        ip: Option<u8>,
        /// Paid in the other of USD and JPY at one of a few rates (or a
        /// bad rate: 0 or negative).
        fx: Option<u8>,
    },
    Refund {
        refund: u8,
        sale: u8,
        cents: u32,
        day: u8,
    },
    Profile {
        member: u8,
        verified: bool,
    },
    Payout {
        batch: u8,
        day: u8,
        minimum: u16,
    },
    Settle {
        batch: u8,
        member: u8,
        fail: bool,
    },
    Milestones {
        default_set: bool,
        clawback: bool,
        joined: bool,
        threshold: u8,
        day: u8,
    },
    Challenge {
        id: u8,
        leader: u8,
        depth: u8,
        metric: u8,
        split: u8,
        target: u16,
        day: u8,
    },
    Close {
        id: u8,
        day: u8,
    },
    Rules {
        preset: u8,
        id: u8,
    },
    Review {
        sale: u8,
        release: bool,
        day: u8,
    },
}

fn at(day: u8) -> String {
    let t = Timestamp::parse("2026-01-01T00:00:00Z", "at")
        .unwrap()
        .plus_days(u32::from(day));
    t.to_string()
}

fn event(op: &Op) -> serde_json::Value {
    let m = |i: &u8| format!("m{}", i % 16);
    match op {
        Op::Join {
            member,
            sponsor,
            day,
            device,
        } => {
            let mut event = json!({"type": "member_joined", "member": m(member), "sponsor": sponsor.as_ref().map(m), "at": at(*day)});
            if let Some(device) = device {
                event["signals"] = json!({"device": format!("d{}", device % 4), "email": format!("u{}@example.com", device % 8)});
            }
            event
        }
        Op::Status { member, status } => {
            json!({"type": "member_status_changed", "member": m(member), "status": (["active", "inactive", "terminated"][usize::from(status % 3)]), "at": at(0)})
        }
        Op::Move { member, sponsor } => {
            json!({"type": "sponsor_changed", "member": m(member), "sponsor": m(sponsor), "reason": "fuzz", "at": at(0)})
        }
        Op::Hold { member, on } => {
            json!({"type": "member_hold_set", "member": m(member), "on": on, "reason": "fuzz", "at": at(0)})
        }
        Op::Plan {
            rates,
            compression,
            qualify,
            cap,
            rounding,
            day,
        } => {
            let levels: Vec<_> = rates.iter().take(16).enumerate().map(|(i, r)| {
                let mut level = json!({"rate": Decimal::new(i64::from(r % 2000), 4).to_string(), "min_active_directs": u32::from(qualify % 3) * u32::from(i % 2 == 1)});
                if let (Some(cap), 0) = (cap, i) { level["caps"] = json!({"USD": Decimal::new(i64::from(*cap), 2).to_string()}); }
                level
            }).collect();
            json!({"type": "plan_activated", "effective_from": at(*day), "plan": {"id": format!("p{day}"), "version": 1, "levels": levels, "compression": compression, "rounding": (["half_even", "half_up", "down"][usize::from(rounding % 3)])}})
        }
        Op::Sale {
            sale,
            buyer,
            cents,
            jpy,
            day,
            ip,
            fx,
        } => {
            let (amount, currency) = if *jpy {
                (Decimal::from(cents % 100_000), "JPY")
            } else {
                (Decimal::new(i64::from(*cents), 2), "USD")
            };
            let mut event = json!({"type": "sale_recorded", "sale": format!("s{sale}"), "buyer": m(buyer), "amount": amount.to_string(), "currency": currency, "at": at(*day)});
            if let Some(ip) = ip {
                event["signals"] = json!({"ip": format!("10.0.0.{}", ip % 4)});
            }
            if let Some(fx) = fx {
                let rates = ["1.0832", "0.0067", "149.3", "1", "0", "-2"];
                let pay = if *jpy { "USD" } else { "JPY" };
                event["fx"] =
                    json!({"currency": pay, "rate": rates[usize::from(*fx) % rates.len()]});
            }
            event
        }
        Op::Refund {
            refund,
            sale,
            cents,
            day,
        } => {
            json!({"type": "refund_recorded", "refund": format!("r{refund}"), "sale": format!("s{sale}"), "amount": Decimal::new(i64::from(cents % 100_000), 2).to_string(), "at": at(*day)})
        }
        Op::Profile { member, verified } => {
            json!({"type": "payout_profile_set", "member": m(member), "method": "bank", "verified": verified})
        }
        Op::Payout {
            batch,
            day,
            minimum,
        } => {
            json!({"type": "payouts_prepared", "batch": format!("b{batch}"), "as_of": at(*day), "policy": {"minimum": {"USD": Decimal::new(i64::from(*minimum), 2).to_string()}, "fees": {"bank": {"flat": "0.10", "percent": "1"}}}})
        }
        Op::Milestones {
            default_set,
            clawback,
            joined,
            threshold,
            day,
        } => {
            let mut event = json!({"type": "milestones_set", "at": at(*day),
                "counts": if *joined { "joined" } else { "purchased" },
                "on_refund": if *clawback { "clawback" } else { "keep" }});
            if !default_set {
                event["milestones"] = json!([
                    {"id": "one", "name": "One", "threshold": 1 + u32::from(threshold % 3),
                     "rewards": [{"bonus": {"amount": "1.25", "currency": "USD"}}]},
                    {"id": "sales", "name": "Sales", "metric": "own_sales", "threshold": 1 + u32::from(threshold % 2),
                     "rewards": [{"bonus": {"amount": "3", "currency": "JPY"}}, {"perk": "p"}]},
                    {"id": "earn", "name": "Earn", "metric": "net_earnings", "currency": "USD",
                     "threshold": Decimal::new(i64::from(*threshold) + 1, 1).to_string(),
                     "rewards": [{"bonus": {"amount": "0.50", "currency": "USD"}}]},
                ]);
            }
            event
        }
        Op::Challenge {
            id,
            leader,
            depth,
            metric,
            split,
            target,
            day,
        } => {
            let metric = ["sales_volume", "qualified_referrals", "direct_referrals"]
                [usize::from(metric % 3)];
            let target = if metric == "sales_volume" {
                Decimal::new(i64::from(*target), 2).to_string()
            } else {
                (1 + target % 4).to_string()
            };
            json!({"type": "challenge_created", "id": format!("c{}", id % 4), "name": "C",
                "team": {"leader": m(leader), "depth": u32::from(depth % 4)}, "metric": metric,
                "from": at(*day), "to": at(day.saturating_add(30)), "target": target,
                "reward": {"amount": "10.01", "currency": "USD"},
                "split": (["leader", "equal", "pro_rata"][usize::from(split % 3)])})
        }
        Op::Rules { preset, id } => {
            json!({"type": "screening_rules_set", "id": format!("r{id}"), "at": at(0),
                "preset": (["relaxed", "moderate", "strict"][usize::from(preset % 3)])})
        }
        Op::Review { sale, release, day } => {
            json!({"type": "fraud_review_resolved", "review": format!("s{sale}"),
                "decision": if *release { "release" } else { "reverse" }, "at": at(*day)})
        }
        Op::Close { id, day } => {
            json!({"type": "challenge_closed", "id": format!("c{}", id % 4), "at": at(*day)})
        }
        Op::Settle {
            batch,
            member,
            fail,
        } => {
            let payout = format!("b{batch}:{}:USD", m(member));
            if *fail {
                json!({"type": "payout_failed", "payout": payout, "reason": "fuzz", "at": at(200)})
            } else {
                json!({"type": "payout_settled", "payout": payout, "at": at(200), "reference": "x"})
            }
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut engine = Engine::new();
    let mut accepted: Vec<(Event, upline::Applied)> = Vec::new();
    for op in ops.iter().take(64) {
        let Ok(event) = Event::from_value(event(op)) else {
            continue;
        };
        let Ok(applied) = engine.apply(&event) else {
            continue;
        };
        accepted.push((event.clone(), applied.clone()));
        if let Outcome::Distribution(d) = &applied.outcome {
            // Lines and retained add up to the commission base: the sale's
            // amount, or its converted base when it is paid in another
            // currency.
            let total: Decimal = d.lines.iter().map(|l| l.amount).sum();
            let base = d.fx.as_ref().map_or(d.amount, |fx| fx.base);
            assert_eq!(total + d.retained, base);
            let Event::SaleRecorded(sale) = &event else {
                unreachable!()
            };
            let mut earners: Vec<&str> = d.lines.iter().map(|l| &*l.earner).collect();
            assert!(!earners.contains(&sale.buyer.as_str()));
            earners.sort_unstable();
            earners.dedup();
            assert_eq!(earners.len(), d.lines.len());
            assert!(d.lines.windows(2).all(|w| w[0].level < w[1].level));
            assert!(d.lines.iter().all(|l| l.amount > Decimal::ZERO));
        }
        for (earner, currency) in engine.ledger().accounts().collect::<Vec<_>>() {
            for as_of in [at(0), at(40), at(250)] {
                let as_of = Timestamp::parse(&as_of, "as_of").unwrap();
                let b = engine.ledger().balances(earner, currency, as_of);
                // Totals are half-open [from, to); balances count at <= as_of.
                let end = Timestamp::from_millis(as_of.as_millis() + 1).unwrap_or(Timestamp::MAX);
                let upto = engine
                    .ledger()
                    .totals(earner, currency, Timestamp::MIN, end);
                assert_eq!(
                    upto.earned - upto.reversed + upto.bonuses + upto.adjustments,
                    b.total()
                );
            }
        }
    }
    same_after_a_snapshot(&engine, &accepted);
    same_with_a_store(&mut engine, &accepted, ops.len() % 5 + 1);
});

/// A snapshot restores the same state: written again it is the same text,
/// and every accepted event with an id of its own, applied again to the
/// restored engine, is a retry with the original answer, records and all
/// (a sale's lines are rebuilt from its ledger entries).
fn same_after_a_snapshot(engine: &Engine, accepted: &[(Event, upline::Applied)]) {
    let text = engine.snapshot_json();
    let mut restored = Engine::from_snapshot_json(&text).unwrap();
    assert_eq!(restored.snapshot_json(), text);
    for (event, original) in accepted {
        if !matches!(
            event,
            Event::MemberJoined(_)
                | Event::SaleRecorded(_)
                | Event::RefundRecorded(_)
                | Event::PayoutsPrepared(_)
                | Event::PayoutSettled(_)
                | Event::PayoutFailed(_)
        ) {
            continue;
        }
        let again = restored.apply(event).unwrap();
        assert!(again.replayed);
        assert_eq!((again.seq, again.hash), (original.seq, original.hash));
        assert_eq!(again.outcome, original.outcome);
    }
    assert_eq!(restored.snapshot_json(), text);
}

/// An engine with a store keeps only its audit head in memory and reads
/// older hashes back from the store: the accepted events, applied to one
/// in batches of `batch` (so a retry may meet its original still
/// unpersisted in the same batch), must get the same sequence numbers,
/// hashes and retry flags; then every accepted event applied again to
/// both engines (a retry, or for events without an id of their own such
/// as a superseded plan, a new event) must get the same answer from both.
fn same_with_a_store(engine: &mut Engine, accepted: &[(Event, upline::Applied)], batch: usize) {
    let mut stored = Engine::open(Box::new(upline::MemoryStore::new())).unwrap();
    let events: Vec<Event> = accepted.iter().map(|(e, _)| e.clone()).collect();
    let mut results = Vec::new();
    for chunk in events.chunks(batch) {
        results.extend(stored.apply_batch(chunk).unwrap());
    }
    for ((_, original), result) in accepted.iter().zip(results) {
        let applied = result.unwrap();
        assert_eq!(
            (applied.seq, applied.hash, applied.replayed),
            (original.seq, original.hash, original.replayed)
        );
    }
    assert_eq!(stored.audit_head(), engine.audit_head());
    for (event, _) in accepted {
        let answer = |r: upline::Result<upline::Applied>| {
            r.map(|a| (a.seq, a.hash, a.replayed)).map_err(|e| e.code())
        };
        assert_eq!(answer(stored.apply(event)), answer(engine.apply(event)));
    }
}
