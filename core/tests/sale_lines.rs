//! A recorded sale's lines and the ledger entries they read their facts
//! from (snapshot format 4: a line keeps its level, rate, flags and the
//! offset of its commission entry; earner, amount and dates are the
//! entry's). Worked scenarios to the cent where the offsets are not one
//! line, one entry: held lines (a commission and a hold entry), lines
//! blocked by screening (no entry), a line both on member hold and held by
//! screening, and award entries after the lines; each followed through
//! partial and full refunds, a fraud review, the end of a member hold and
//! a retry of the sale, which must return the original distribution. The
//! same events applied live, from a snapshot taken mid-stream, from a
//! reopened store and lean (`apply_batch_json(…, false)`) give the same
//! audit hashes, balances and statements. Sales paid in another currency
//! (`fx`) are released, reversed and reviewed in the currency they pay in.

use serde_json::{json, Value};
use upline::{Applied, Engine, Event, MemoryStore, StatementQuery, Timestamp};

const JAN: &str = "2026-01-01T00:00:00Z";
const FEB: &str = "2026-02-01T12:00:00Z";
const END: &str = "2027-01-01T00:00:00Z";

fn event(value: &Value) -> Event {
    Event::from_value(value.clone()).unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn apply(engine: &mut Engine, value: &Value) -> Applied {
    engine
        .apply(&event(value))
        .unwrap_or_else(|err| panic!("{value} refused: {err}"))
}

/// m1 ← m2 ← m3 ← m4 ← m5 (m5 buys). m3 shares m5's e-mail address, so a
/// self-referral rule screens the level 2 line of m5's sales.
fn members() -> Vec<Value> {
    let emails = [
        "m1@example.org",
        "m2@example.org",
        "same@example.org",
        "m4@example.org",
        "same@example.org",
    ];
    (1..=5)
        .map(|i| {
            let sponsor = if i == 1 {
                Value::Null
            } else {
                json!(format!("m{}", i - 1))
            };
            json!({"type": "member_joined", "member": format!("m{i}"), "sponsor": sponsor,
                   "at": JAN, "signals": {"email": emails[i - 1]}})
        })
        .collect()
}

fn rules(action: &str) -> Value {
    json!({"type": "screening_rules_set", "id": format!("rules-{action}"), "at": JAN,
           "rules": [{"id": "self", "when": {"check": "self_referral"}, "action": action,
                      "reason": "same household"}]})
}

fn hold(member: &str, on: bool, at: &str) -> Value {
    json!({"type": "member_hold_set", "member": member, "on": on, "reason": "kyc", "at": at})
}

fn sale(id: &str, amount: &str, at: &str) -> Value {
    json!({"type": "sale_recorded", "sale": id, "buyer": "m5", "amount": amount,
           "currency": "USD", "at": at})
}

fn refund(id: &str, sale: &str, amount: &str, at: &str) -> Value {
    json!({"type": "refund_recorded", "refund": id, "sale": sale, "amount": amount, "at": at})
}

fn review(sale: &str, decision: &str, at: &str) -> Value {
    json!({"type": "fraud_review_resolved", "review": sale, "decision": decision, "at": at})
}

/// (earner, level, amount, held) of each line of a distribution.
fn lines(distribution: &Value) -> Vec<(String, u64, String, bool)> {
    distribution["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["earner"].as_str().unwrap().to_string(),
                l["level"].as_u64().unwrap(),
                l["amount"].as_str().unwrap().to_string(),
                l["held"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// (earner, kind, amount) of each entry record of an applied event.
fn entries(applied: &Value) -> Vec<(String, String, String)> {
    applied["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["earner"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
                e["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (earner, level, amount) of each reversal of a refund.
fn reversals(applied: &Value) -> Vec<(String, u64, String)> {
    applied["reversals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["earner"].as_str().unwrap().to_string(),
                r["level"].as_u64().unwrap(),
                r["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn line(earner: &str, level: u64, amount: &str, held: bool) -> (String, u64, String, bool) {
    (earner.to_string(), level, amount.to_string(), held)
}

fn entry(earner: &str, kind: &str, amount: &str) -> (String, String, String) {
    (earner.to_string(), kind.to_string(), amount.to_string())
}

fn reversal(earner: &str, level: u64, amount: &str) -> (String, u64, String) {
    (earner.to_string(), level, amount.to_string())
}

/// Every balance bucket of m1…m5 in `currency` as of `as_of`, as text.
fn balances(engine: &Engine, currency: &str, as_of: &str) -> Vec<String> {
    (1..=5)
        .map(|i| {
            let b = engine.balances(&format!("m{i}"), currency, as_of).unwrap();
            format!(
                "m{i} {} {} {} {} {}",
                b.pending, b.available, b.held, b.reserved, b.paid
            )
        })
        .collect()
}

/// The statements of m1…m4 as of `as_of`, as JSON.
fn statements(engine: &Engine, as_of: &str) -> Value {
    (1..=4)
        .map(|i| {
            let query = StatementQuery {
                as_of: Some(as_of.to_string()),
                limit: 1000,
                ..StatementQuery::default()
            };
            serde_json::to_value(engine.statement(&format!("m{i}"), &query).unwrap()).unwrap()
        })
        .collect()
}

/// Applies `events` live, from a snapshot taken after each prefix, from
/// a store reopened after each prefix (with and without a saved
/// snapshot), and lean as one batch: every way ends with the same audit
/// head, state, balances and statements, and every event gets the hash it
/// got live.
fn every_way_agrees(events: &[Value]) -> Engine {
    let mut live = Engine::new();
    let hashes: Vec<String> = events
        .iter()
        .map(|e| apply(&mut live, e).hash.to_string())
        .collect();
    let expect = |engine: &Engine, how: &str| {
        assert_eq!(engine.audit_head(), live.audit_head(), "{how}");
        assert_eq!(engine.snapshot_json(), live.snapshot_json(), "{how}");
        for currency in ["USD", "EUR"] {
            for as_of in [FEB, "2026-03-15T00:00:00Z", END] {
                assert_eq!(
                    balances(engine, currency, as_of),
                    balances(&live, currency, as_of),
                    "{how}: {currency} as of {as_of}"
                );
            }
        }
        assert_eq!(statements(engine, END), statements(&live, END), "{how}");
    };
    for cut in 1..events.len() {
        let mut head = Engine::new();
        for e in &events[..cut] {
            apply(&mut head, e);
        }
        let mut restored = Engine::from_snapshot_json(&head.snapshot_json()).unwrap();
        for (e, hash) in events[cut..].iter().zip(&hashes[cut..]) {
            assert_eq!(&apply(&mut restored, e).hash.to_string(), hash, "{e}");
        }
        expect(&restored, &format!("restored after {cut} events"));
        for snapshot in [false, true] {
            let mut stored = Engine::open(Box::new(MemoryStore::new())).unwrap();
            for e in &events[..cut] {
                apply(&mut stored, e);
            }
            if snapshot {
                stored.save_snapshot().unwrap();
            }
            let copy = MemoryStore::copy_of(stored.store().unwrap()).unwrap();
            let mut reopened = Engine::open(Box::new(copy)).unwrap();
            for e in &events[cut..] {
                apply(&mut reopened, e);
            }
            assert_eq!(reopened.verify().unwrap(), live.audit_head());
            let how = format!("reopened after {cut} events (snapshot: {snapshot})");
            assert_eq!(reopened.audit_head(), live.audit_head(), "{how}");
            for as_of in [FEB, END] {
                assert_eq!(
                    balances(&reopened, "USD", as_of),
                    balances(&live, "USD", as_of)
                );
            }
            assert_eq!(statements(&reopened, END), statements(&live, END), "{how}");
        }
    }
    let texts: Vec<String> = events.iter().map(Value::to_string).collect();
    let mut lean = Engine::new();
    let out = lean
        .apply_batch_json(&format!("[{}]", texts.join(",")), false)
        .unwrap();
    let slots: Vec<Value> = serde_json::from_str(&out).unwrap();
    for ((slot, hash), e) in slots.iter().zip(&hashes).zip(events) {
        assert_eq!(slot["hash"].as_str(), Some(hash.as_str()), "lean: {e}");
    }
    expect(&lean, "lean batch");
    live
}

/// Level 1 on member hold (two entries), level 2 blocked by screening
/// (none): level 3's commission is the sale's third entry, not its second.
fn blocked_and_held() -> Vec<Value> {
    let mut events = members();
    events.extend([
        rules("block"),
        hold("m4", true, JAN),
        sale("s1", "200.00", FEB),
        refund("r1", "s1", "50.00", "2026-02-05T00:00:00Z"),
        hold("m4", false, "2026-02-10T00:00:00Z"),
        refund("r2", "s1", "150.00", "2026-02-20T00:00:00Z"),
        // Retried once everything happened: the original result.
        sale("s1", "200.00", FEB),
    ]);
    events
}

#[test]
fn a_blocked_line_leaves_no_entry_and_the_lines_after_it_read_their_own() {
    let events = blocked_and_held();
    let mut engine = Engine::new();
    let mut applied = Vec::new();
    for e in &events {
        applied.push(apply(&mut engine, e).to_json_value());
    }
    let sold = &applied[7];
    let d = &sold["distribution"];
    assert_eq!(
        lines(d),
        [
            line("m4", 1, "40.00", true),
            line("m2", 3, "20.00", false),
            line("m1", 4, "16.00", false),
        ]
    );
    assert_eq!(
        d["unpaid"][0],
        json!({"level": 2, "reason": "fraud_blocked"})
    );
    assert_eq!(d["retained"], "124.00");
    assert_eq!(
        entries(sold),
        [
            entry("m4", "commission", "40.00"),
            entry("m4", "hold", "40.00"),
            entry("m2", "commission", "20.00"),
            entry("m1", "commission", "16.00"),
        ]
    );
    // A quarter refunded: the held line's share comes out of held.
    let r1 = &applied[8];
    assert_eq!(
        reversals(r1),
        [
            reversal("m4", 1, "10.00"),
            reversal("m2", 3, "5.00"),
            reversal("m1", 4, "4.00"),
        ]
    );
    assert_eq!(
        entries(r1),
        [
            entry("m4", "reversal_held", "10.00"),
            entry("m2", "reversal", "5.00"),
            entry("m1", "reversal", "4.00"),
        ]
    );
    // The hold ends: the 30.00 left of m4's line is released.
    assert_eq!(entries(&applied[9]), [entry("m4", "release", "30.00")]);
    // The rest refunded: m4's line now reverses from the flow.
    let r2 = &applied[10];
    assert_eq!(
        entries(r2),
        [
            entry("m4", "reversal", "30.00"),
            entry("m2", "reversal", "15.00"),
            entry("m1", "reversal", "12.00"),
        ]
    );
    assert_eq!(r2["refunded_total"], "200.00");
    for as_of in ["2026-02-20T00:00:00Z", END] {
        for member in ["m1", "m2", "m3", "m4"] {
            let b = engine.balances(member, "USD", as_of).unwrap();
            assert_eq!(b.total().to_string(), "0.00", "{member} as of {as_of}");
            assert_eq!(b.held.to_string(), "0.00");
        }
    }
    // The query and a retry after the refunds and the release: the
    // original distribution.
    let queried = engine.distribution_of("s1").unwrap();
    assert_eq!(serde_json::to_value(queried).unwrap(), *d);
    let retried = apply(&mut engine, &events[7]);
    assert!(retried.replayed);
    assert_eq!(retried.to_json_value()["distribution"], *d);
    assert_eq!(retried.hash.to_string(), sold["hash"].as_str().unwrap());
    // More than the sale: over_refund, naming the amount; nothing changes.
    let before = engine.snapshot_json();
    let err = engine
        .apply(&event(&refund("r3", "s1", "0.01", END)))
        .unwrap_err();
    assert_eq!((err.code(), err.field()), ("over_refund", Some("amount")));
    assert_eq!(engine.snapshot_json(), before);
}

#[test]
fn blocked_and_held_lines_agree_live_restored_reopened_and_lean() {
    every_way_agrees(&blocked_and_held());
}

/// Level 1 on member hold and level 2 held by screening (two entries
/// each), then the buyer's milestone bonus after the lines.
fn screened_held_and_awarded() -> Vec<Value> {
    let mut events = vec![json!({"type": "milestones_set", "at": JAN, "milestones": [
        {"id": "own1", "name": "First sale", "metric": "own_sales", "threshold": "1",
         "rewards": [{"bonus": {"amount": "1.00", "currency": "USD"}}]}
    ]})];
    events.extend(members());
    events.extend([
        rules("hold"),
        hold("m4", true, JAN),
        sale("s1", "200.00", FEB),
        refund("r1", "s1", "50.00", "2026-02-05T00:00:00Z"),
        review("s1", "release", "2026-02-07T00:00:00Z"),
        hold("m4", false, "2026-02-10T00:00:00Z"),
        sale("s2", "100.00", "2026-02-11T00:00:00Z"),
        refund("r2", "s1", "25.00", "2026-02-20T00:00:00Z"),
        review("s2", "reverse", "2026-02-21T00:00:00Z"),
        refund("r3", "s2", "100.00", "2026-02-22T00:00:00Z"),
        sale("s1", "200.00", FEB),
        refund("r1", "s1", "50.00", "2026-02-05T00:00:00Z"),
    ]);
    events
}

#[test]
fn screened_and_member_held_lines_with_an_award_after_them_to_the_cent() {
    let events = screened_held_and_awarded();
    let mut engine = Engine::new();
    let applied: Vec<Value> = events
        .iter()
        .map(|e| apply(&mut engine, e).to_json_value())
        .collect();
    let sold = &applied[8];
    let d = &sold["distribution"];
    assert_eq!(
        lines(d),
        [
            line("m4", 1, "40.00", true),
            line("m3", 2, "30.00", true),
            line("m2", 3, "20.00", false),
            line("m1", 4, "16.00", false),
        ]
    );
    assert_eq!(d["awards"][0]["member"], "m5");
    assert_eq!(
        entries(sold),
        [
            entry("m4", "commission", "40.00"),
            entry("m4", "hold", "40.00"),
            entry("m3", "commission", "30.00"),
            entry("m3", "hold", "30.00"),
            entry("m2", "commission", "20.00"),
            entry("m1", "commission", "16.00"),
            entry("m5", "bonus", "1.00"),
        ]
    );
    assert_eq!(
        entries(&applied[9]),
        [
            entry("m4", "reversal_held", "10.00"),
            entry("m3", "reversal_held", "7.50"),
            entry("m2", "reversal", "5.00"),
            entry("m1", "reversal", "4.00"),
        ]
    );
    // The review releases the screened line only; the hold, m4's.
    assert_eq!(entries(&applied[10]), [entry("m3", "release", "22.50")]);
    assert_eq!(entries(&applied[11]), [entry("m4", "release", "30.00")]);
    // s2, after the hold ended: only the screened line is held.
    let s2 = &applied[12]["distribution"];
    assert_eq!(
        lines(s2),
        [
            line("m4", 1, "20.00", false),
            line("m3", 2, "15.00", true),
            line("m2", 3, "10.00", false),
            line("m1", 4, "8.00", false),
        ]
    );
    // Another eighth of s1 (37.5 % in all): reversals from the flow now.
    assert_eq!(
        entries(&applied[13]),
        [
            entry("m4", "reversal", "5.00"),
            entry("m3", "reversal", "3.75"),
            entry("m2", "reversal", "2.50"),
            entry("m1", "reversal", "2.00"),
        ]
    );
    // s2's review reverses the screened line; the full refund after it
    // reverses nothing more of that line.
    assert_eq!(
        entries(&applied[14]),
        [entry("m3", "reversal_held", "15.00")]
    );
    assert_eq!(
        reversals(&applied[15]),
        [
            reversal("m4", 1, "20.00"),
            reversal("m2", 3, "10.00"),
            reversal("m1", 4, "8.00"),
        ]
    );
    // m3: 30.00 of s1, 7.50 and 3.75 reversed: 18.75; s2's line is gone.
    let m3 = engine.balances("m3", "USD", END).unwrap();
    assert_eq!(
        (m3.available.to_string(), m3.held.to_string()),
        ("18.75".to_string(), "0.00".to_string())
    );
    let m4 = engine.balances("m4", "USD", END).unwrap();
    assert_eq!(m4.available.to_string(), "25.00");
    // Retries of both sales return their original distributions, awards
    // included.
    for (index, original) in [(8, d), (12, s2)] {
        let retried = apply(&mut engine, &events[index]).to_json_value();
        assert_eq!(retried["replayed"], true);
        assert_eq!(&retried["distribution"], original);
    }
}

#[test]
fn screened_held_and_awarded_lines_agree_live_restored_reopened_and_lean() {
    every_way_agrees(&screened_held_and_awarded());
}

/// A sale of 100.00 USD paid in EUR at 0.9 (lines on a 90.00 EUR base),
/// with m4 on member hold and m3 held by screening.
fn fx_held_and_screened() -> Vec<Value> {
    let mut events = members();
    events.extend([
        rules("hold"),
        hold("m4", true, JAN),
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "m5", "amount": "100.00",
               "currency": "USD", "at": FEB, "fx": {"currency": "EUR", "rate": "0.9"}}),
        refund("r1", "s1", "40.00", "2026-02-05T00:00:00Z"),
        review("s1", "release", "2026-02-07T00:00:00Z"),
        hold("m4", false, "2026-02-10T00:00:00Z"),
        refund("r2", "s1", "60.00", "2026-02-20T00:00:00Z"),
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "m5", "amount": "100.00",
               "currency": "USD", "at": FEB, "fx": {"currency": "EUR", "rate": "0.9"}}),
    ]);
    events
}

#[test]
fn a_sale_paid_in_another_currency_moves_only_that_currency() {
    let events = fx_held_and_screened();
    let mut engine = Engine::new();
    let applied: Vec<Value> = events
        .iter()
        .map(|e| apply(&mut engine, e).to_json_value())
        .collect();
    assert_eq!(
        lines(&applied[7]["distribution"]),
        [
            line("m4", 1, "18.00", true),
            line("m3", 2, "13.50", true),
            line("m2", 3, "9.00", false),
            line("m1", 4, "7.20", false),
        ]
    );
    assert_eq!(
        entries(&applied[8]),
        [
            entry("m4", "reversal_held", "7.20"),
            entry("m3", "reversal_held", "5.40"),
            entry("m2", "reversal", "3.60"),
            entry("m1", "reversal", "2.88"),
        ]
    );
    assert_eq!(entries(&applied[9]), [entry("m3", "release", "8.10")]);
    assert_eq!(entries(&applied[10]), [entry("m4", "release", "10.80")]);
    for a in &applied[7..] {
        for e in a["entries"].as_array().unwrap() {
            assert_eq!(e["currency"], "EUR", "{e}");
        }
    }
    // Everything refunded: every EUR account is back to zero, held never
    // went negative, and nothing ever moved in USD.
    for member in ["m1", "m2", "m3", "m4"] {
        for as_of in [
            "2026-02-06T00:00:00Z",
            "2026-02-08T00:00:00Z",
            "2026-02-11T00:00:00Z",
            END,
        ] {
            let eur = engine.balances(member, "EUR", as_of).unwrap();
            assert!(eur.held >= rust_decimal::Decimal::ZERO, "{member} {as_of}");
            let usd = engine.balances(member, "USD", as_of).unwrap();
            assert_eq!(usd.total().to_string(), "0.00", "{member} {as_of}");
        }
        let eur = engine.balances(member, "EUR", END).unwrap();
        assert_eq!(eur.total().to_string(), "0.00", "{member}");
    }
    // Netted to zero and never paid: nothing on the tax summary. Before
    // the last refund, the 60 % left of each line, in EUR only.
    assert_eq!(engine.tax_summary(2026, &Default::default()).unwrap(), []);
    let mut before_last = Engine::new();
    for e in &events[..events.len() - 2] {
        apply(&mut before_last, e);
    }
    let tax = before_last.tax_summary(2026, &Default::default()).unwrap();
    let earned: Vec<(String, String)> = tax
        .iter()
        .map(|t| (t.earner.to_string(), format!("{} {}", t.earned, t.currency)))
        .collect();
    assert_eq!(
        earned,
        [
            ("m1", "4.32 EUR"),
            ("m2", "5.40 EUR"),
            ("m3", "8.10 EUR"),
            ("m4", "10.80 EUR"),
        ]
        .map(|(m, e)| (m.to_string(), e.to_string()))
    );
    // Statements show the EUR base the rates applied to.
    let statement = statements(&engine, END);
    for (i, member) in statement.as_array().unwrap().iter().enumerate() {
        let first = &member["entries"][0];
        assert_eq!(first["base"], "90.00", "m{}", i + 1);
        assert_eq!(first["remaining"], "0.00", "m{}", i + 1);
        assert_eq!(first["state"], "reversed", "m{}", i + 1);
    }
}

#[test]
fn sales_paid_in_another_currency_agree_live_restored_reopened_and_lean() {
    every_way_agrees(&fx_held_and_screened());
}

/// A snapshot whose sale lines name entries it does not have (edited, or
/// cut short), or hold a rate that is not one, is refused as `malformed`,
/// never a panic: the lines read their earner and amount from those
/// entries, and their rate is given back as it is kept.
#[test]
fn a_snapshot_whose_lines_name_missing_entries_is_refused_not_a_panic() {
    let mut engine = Engine::new();
    for e in blocked_and_held().iter().take(9) {
        apply(&mut engine, e);
    }
    let text = engine.snapshot_json();
    let snapshot: Value = serde_json::from_str(&text).unwrap();
    // Level 1 held (entries 0 and 1), level 2 blocked, levels 3 and 4 at
    // entries 2 and 3; a quarter refunded.
    assert_eq!(snapshot["engine"]["sales"][0]["first_entry"], 0);
    assert_eq!(
        snapshot["engine"]["sales"][0]["lines"],
        json!([{"entry": 0, "flags": 1, "level": 1, "rate": 2, "rate_scale": 1},
               {"entry": 2, "flags": 0, "level": 3, "rate": 1, "rate_scale": 1},
               {"entry": 3, "flags": 0, "level": 4, "rate": 8, "rate_scale": 2}])
    );
    assert_eq!(
        snapshot["engine"]["sales"][0]["reversed"],
        json!(["10.00", "5.00", "4.00"])
    );
    let edits: [fn(&mut Value); 6] = [
        |s| s["engine"]["sales"][0]["first_entry"] = json!(1_000_000),
        |s| s["engine"]["sales"][0]["lines"][2]["entry"] = json!(200),
        // The hold entry of the first line, not a commission.
        |s| s["engine"]["sales"][0]["lines"][1]["entry"] = json!(1),
        |s| {
            let reversed = s["engine"]["sales"][0]["reversed"].as_array_mut().unwrap();
            reversed.pop();
        },
        // A rate no decimal holds (more than 28 decimals), and one above 1.
        |s| s["engine"]["sales"][0]["lines"][0]["rate_scale"] = json!(200),
        |s| s["engine"]["sales"][0]["lines"][0]["rate_scale"] = json!(0),
    ];
    for (i, edit) in edits.iter().enumerate() {
        let mut edited = snapshot.clone();
        edit(&mut edited);
        let result = std::panic::catch_unwind(|| Engine::from_snapshot_json(&edited.to_string()));
        let err = match result {
            Ok(Ok(engine)) => {
                let query = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    engine.distribution_of("s1").is_some()
                }));
                panic!(
                    "edit {i}: restored; distribution_of then panics: {}",
                    query.is_err()
                )
            }
            Ok(Err(err)) => err,
            Err(_) => panic!("edit {i}: from_snapshot_json panicked"),
        };
        assert_eq!(err.code(), "malformed", "edit {i}: {err}");
    }
    let restored = Engine::from_snapshot_json(&snapshot.to_string()).unwrap();
    assert_eq!(restored.snapshot_json(), text);
}

// ---- seeded streams ----------------------------------------------------------

/// A small xorshift generator: the streams below are the same on every
/// run, and a failure names its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// `hours` after 2026-01-01T00:00:00Z.
fn hours(hours: u64) -> String {
    Timestamp::from_millis(START_MS + hours as i64 * 3_600_000)
        .unwrap()
        .to_string()
}

const START_MS: i64 = 1_767_225_600_000;

/// A stream of `len` events over every path that reads or changes a sale's
/// lines: joins sharing e-mail addresses (so self-referral rules hold or
/// block lines), sales in three currencies (a third paid in another),
/// partial, full and over-refunds, member holds on and off, reviews,
/// screening rules, milestones with bonuses, and retries of earlier events.
fn stream(seed: u64, len: usize) -> Vec<Value> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut events: Vec<Value> = Vec::new();
    let mut members: Vec<String> = Vec::new();
    let mut sales: Vec<(String, u64, bool)> = Vec::new();
    let mut clock = 0;
    for n in 0..len {
        clock += rng.below(30);
        let now = hours(clock);
        let roll = rng.below(100);
        let event = if members.len() < 3 || roll < 15 {
            let sponsor = match members.len() {
                0 => Value::Null,
                len => json!(members[len - 1 - rng.below(len.min(3) as u64) as usize]),
            };
            let id = format!("m{}", members.len());
            let email = format!("p{}@example.org", rng.below(4));
            members.push(id.clone());
            json!({"type": "member_joined", "member": id, "sponsor": sponsor, "at": now,
                   "signals": {"email": email}})
        } else if roll < 45 {
            let (currency, zero_decimals) =
                [("USD", false), ("EUR", false), ("JPY", true)][rng.below(3) as usize];
            let most = if rng.chance(50) { 50_000 } else { 500 };
            let minor = 1 + rng.below(most);
            let amount = if zero_decimals {
                minor.to_string()
            } else {
                format!("{}.{:02}", minor / 100, minor % 100)
            };
            let id = format!("s{n}");
            let mut sale = json!({"type": "sale_recorded", "sale": id, "buyer": rng.pick(&members),
                                  "amount": amount, "currency": currency, "at": now});
            if rng.chance(33) {
                let (pay, rate) = match currency {
                    "USD" => ("EUR", "0.9125"),
                    "EUR" => ("JPY", "161.37"),
                    _ => ("USD", "0.0067"),
                };
                sale["fx"] = json!({"currency": pay, "rate": rate});
            }
            sales.push((id, minor, zero_decimals));
            sale
        } else if roll < 60 && !sales.is_empty() {
            let (sale, minor, zero_decimals) =
                sales[rng.below(sales.len() as u64) as usize].clone();
            let part = match rng.below(4) {
                0 => minor,
                1 => minor / 2 + 1,
                2 => 1 + rng.below(minor),
                _ => minor + 1,
            };
            let amount = if zero_decimals {
                part.to_string()
            } else {
                format!("{}.{:02}", part / 100, part % 100)
            };
            refund(&format!("r{n}"), &sale, &amount, &now)
        } else if roll < 72 {
            hold(rng.pick(&members), rng.chance(55), &now)
        } else if roll < 82 && !sales.is_empty() {
            let recent = sales.len() - 1 - rng.below(sales.len().min(6) as u64) as usize;
            let decision = if rng.chance(50) { "release" } else { "reverse" };
            review(&sales[recent].0, decision, &now)
        } else if roll < 87 {
            let mut rules = vec![json!({"id": "self", "when": {"check": "self_referral"},
                "action": if rng.chance(50) { "hold" } else { "block" }, "reason": "t"})];
            if rng.chance(60) {
                rules.push(json!({"id": "big", "when": {"check": "high_value",
                    "above": {"USD": "100.00", "EUR": "90.00", "JPY": "15000"}},
                    "action": if rng.chance(60) { "hold" } else { "block" }, "reason": "t"}));
            }
            json!({"type": "screening_rules_set", "id": format!("rules-{n}"), "rules": rules,
                   "at": now})
        } else if roll < 89 {
            json!({"type": "milestones_set", "at": now,
                   "on_refund": if rng.chance(50) { "clawback" } else { "keep" },
                   "milestones": [
                {"id": "own2", "name": "Two sales", "metric": "own_sales", "threshold": 2,
                 "rewards": [{"bonus": {"amount": "1.00", "currency": "USD"}}]},
                {"id": "team3", "name": "Team", "metric": "downline_size", "threshold": "3",
                 "rewards": [{"bonus": {"amount": "300", "currency": "JPY"}}]}]})
        } else if !events.is_empty() {
            events[rng.below(events.len() as u64) as usize].clone()
        } else {
            continue;
        };
        events.push(event);
    }
    events
}

/// For an account as of `as_of`: the statement's lines summed by state
/// give the balances (the rule in `core/tests/statement.rs`), and held,
/// reserved and paid are never below zero.
fn statement_adds_up(engine: &Engine, member: &str, currency: &str, as_of: &str) {
    use rust_decimal::Decimal;
    use upline::ledger::EntryKind;
    use upline::statement::EntryState;
    let query = StatementQuery {
        currency: Some(currency.to_string()),
        as_of: Some(as_of.to_string()),
        limit: upline::limits::MAX_STATEMENT_PAGE,
        ..StatementQuery::default()
    };
    let statement = engine.statement(member, &query).unwrap();
    assert!(statement.next.is_none());
    let zero = Decimal::ZERO;
    let mut sums = [zero; 5];
    for line in &statement.entries {
        match (line.remaining, line.kind, line.state) {
            (Some(r), _, EntryState::Pending) => sums[0] += r,
            (Some(r), _, EntryState::Available) => sums[1] += r,
            (Some(r), _, EntryState::Held) => sums[2] += r,
            (Some(r), _, EntryState::Reversed) => assert!(r.is_zero(), "{member} {as_of}"),
            (Some(_), _, state) => panic!("{member}: a credit line is {state:?}"),
            (None, EntryKind::PayoutReserve, EntryState::Reserved) => {
                sums[3] += line.amount;
                sums[1] -= line.amount;
            }
            (None, EntryKind::PayoutReserve, EntryState::Paid) => {
                sums[4] += line.amount;
                sums[1] -= line.amount;
            }
            _ => {}
        }
    }
    let b = engine.balances(member, currency, as_of).unwrap();
    assert_eq!(
        sums,
        [b.pending, b.available, b.held, b.reserved, b.paid],
        "{member} {currency} as of {as_of}"
    );
    assert!(
        b.held >= zero && b.reserved >= zero && b.paid >= zero,
        "{member} {b:?}"
    );
}

/// Forty seeded streams of 120 events: a refused event changes nothing;
/// the engine restored from a snapshot a third and two thirds of the way
/// through answers every later event (retries of sales refunded or
/// released since included) as the live one does; the lean batch gives
/// every event the live hash and the same state; replaying the accepted
/// events gives the same head; and statements add up to balances in
/// every currency at instants through the year.
#[test]
fn seeded_streams_agree_live_restored_lean_and_replayed() {
    for seed in 0..40 {
        let events = stream(seed, 120);
        let mut live = Engine::new();
        let cuts = [events.len() / 3, 2 * events.len() / 3];
        let mut restored: Vec<Engine> = Vec::new();
        let mut results = Vec::new();
        let mut accepted = Vec::new();
        let mut members = Vec::new();
        for (i, value) in events.iter().enumerate() {
            if cuts.contains(&i) {
                restored.push(Engine::from_snapshot_json(&live.snapshot_json()).unwrap());
            }
            let e = event(value);
            let before = live.audit_head();
            let result = live.apply(&e).map(|a| a.to_json_value());
            match &result {
                Ok(_) => {
                    if value["type"] == "member_joined" {
                        members.push(value["member"].as_str().unwrap().to_string());
                    }
                    accepted.push(e.clone());
                }
                Err(_) => assert_eq!(live.audit_head(), before, "seed {seed}: {value}"),
            }
            let expected = result.as_ref().map_err(|err| err.code());
            for engine in &mut restored {
                let got = engine.apply(&e).map(|a| a.to_json_value());
                assert_eq!(
                    got.as_ref().map_err(|err| err.code()),
                    expected,
                    "seed {seed} event {i}: {value}"
                );
            }
            results.push(result.ok().map(|a| a["hash"].clone()));
        }
        for engine in &restored {
            assert_eq!(engine.snapshot_json(), live.snapshot_json(), "seed {seed}");
        }
        let texts: Vec<String> = events.iter().map(Value::to_string).collect();
        let mut lean = Engine::new();
        let out = lean
            .apply_batch_json(&format!("[{}]", texts.join(",")), false)
            .unwrap();
        let slots: Vec<Value> = serde_json::from_str(&out).unwrap();
        for (i, (slot, hash)) in slots.iter().zip(&results).enumerate() {
            match hash {
                Some(hash) => assert_eq!(&slot["hash"], hash, "seed {seed} event {i}"),
                None => assert!(slot.get("error").is_some(), "seed {seed} event {i}"),
            }
        }
        assert_eq!(lean.snapshot_json(), live.snapshot_json(), "seed {seed}");
        let replayed = Engine::replay(accepted.iter()).unwrap();
        assert_eq!(replayed.audit_head(), live.audit_head(), "seed {seed}");
        for member in &members {
            for currency in ["USD", "EUR", "JPY"] {
                for day in (0..400).step_by(20) {
                    statement_adds_up(&live, member, currency, &hours(day * 24 + 5));
                }
            }
        }
    }
}

/// Sales through the columnar path, with and without lines, where level 1
/// is on member hold and level 2 blocked: the same hashes as the JSON
/// path, and lines that are the distribution's (a retried row too).
#[test]
fn columnar_sales_with_held_and_blocked_lines_match_the_json_path() {
    use upline::engine::columns::{Amounts, SaleColumns, Times};
    let mut setup = members();
    setup.extend([rules("block"), hold("m4", true, JAN)]);
    let ids = ["s1", "s2", "s1"];
    let columns = SaleColumns {
        sale: &ids,
        buyer: &["m5"; 3],
        amount: Amounts::Decimal {
            mantissa: &[20_000, 333, 20_000],
            scale: 2,
        },
        currency: &["USD"; 3],
        at: Times::Text(&[FEB, "2026-02-02T00:00:00Z", FEB]),
        category: None,
    };
    let mut json_engine = Engine::new();
    for e in &setup {
        apply(&mut json_engine, e);
    }
    let mut expected = Vec::new();
    let mut hashes = Vec::new();
    for (id, (amount, at)) in ids.iter().zip([
        ("200.00", FEB),
        ("3.33", "2026-02-02T00:00:00Z"),
        ("200.00", FEB),
    ]) {
        let applied = apply(&mut json_engine, &sale(id, amount, at)).to_json_value();
        hashes.push(applied["hash"].as_str().unwrap().to_string());
        expected.push(lines(&applied["distribution"]));
    }
    for with_lines in [true, false] {
        let mut engine = Engine::new();
        for e in &setup {
            apply(&mut engine, e);
        }
        let out = engine.apply_sale_columns(&columns, with_lines).unwrap();
        assert!(out.errors.is_empty());
        let got: Vec<String> = out.hash.iter().map(ToString::to_string).collect();
        assert_eq!(got, hashes, "lines: {with_lines}");
        assert_eq!(out.replayed, [false, false, true]);
        assert_eq!(engine.snapshot_json(), json_engine.snapshot_json());
        if !with_lines {
            assert!(out.lines.is_none());
            continue;
        }
        let columns = out.lines.unwrap();
        for (row, expected) in expected.iter().enumerate() {
            // The columns have no held flag: earner, level and amount.
            let got: Vec<(String, u64, String)> = (0..columns.row.len())
                .filter(|&i| columns.row[i] as usize == row)
                .map(|i| {
                    (
                        columns.earner[i].to_string(),
                        u64::from(columns.level[i]),
                        columns.amount[i].to_string(),
                    )
                })
                .collect();
            let expected: Vec<(String, u64, String)> = expected
                .iter()
                .map(|(earner, level, amount, _)| (earner.clone(), *level, amount.clone()))
                .collect();
            assert_eq!(got, expected, "row {row}");
        }
        assert_eq!(
            (0..columns.row.len())
                .filter(|&i| columns.row[i] == 0)
                .map(|i| columns.rate[i].to_string())
                .collect::<Vec<_>>(),
            ["0.2", "0.1", "0.08"]
        );
    }
    assert_eq!(
        expected[1],
        [
            line("m4", 1, "0.67", true),
            line("m2", 3, "0.33", false),
            line("m1", 4, "0.27", false),
        ]
    );
}
