//! Bad input is refused with the exact error code, names the field it
//! concerns, and leaves the engine exactly as it was (DESIGN.md, principle 4:
//! "An event that is refused leaves the engine exactly as it was and returns
//! a typed error that names the field and the reason").
//!
//! Every test builds a small world, feeds it one bad event, and checks the
//! code, the field and that the snapshot and the audit head did not move.

use serde_json::{json, Value};
use upline::limits::{MAX_BATCH, MAX_ID_BYTES, MAX_JSON_BYTES};
use upline::{Engine, Error, Event, Outcome};

const JAN: &str = "2026-01-01T00:00:00Z";
const FEB: &str = "2026-02-01T12:00:00Z";
const APR: &str = "2026-04-01T00:00:00Z";

fn event(value: Value) -> Event {
    Event::from_value(value.clone()).unwrap_or_else(|err| panic!("{value} does not decode: {err}"))
}

fn apply(engine: &mut Engine, value: Value) -> upline::Applied {
    let event = event(value.clone());
    engine
        .apply(&event)
        .unwrap_or_else(|err| panic!("{value} was refused: {err}"))
}

fn join(member: &str, sponsor: Option<&str>) -> Value {
    json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": JAN})
}

fn sale(id: &str, buyer: &str, amount: &str, currency: &str) -> Value {
    json!({"type": "sale_recorded", "sale": id, "buyer": buyer, "amount": amount,
           "currency": currency, "at": FEB})
}

fn refund(id: &str, sale: &str, amount: &str) -> Value {
    json!({"type": "refund_recorded", "refund": id, "sale": sale, "amount": amount, "at": FEB})
}

fn plan(plan: Value) -> Value {
    json!({"type": "plan_activated", "plan": plan, "effective_from": JAN})
}

fn batch(id: &str, as_of: &str) -> Value {
    json!({"type": "payouts_prepared", "batch": id, "as_of": as_of, "policy": {}})
}

/// A chain a ← b ← c ← d, and sale `s1` of 100.00 USD by `d`
/// (c earns 20.00, b 15.00, a 10.00).
fn world() -> Engine {
    let mut engine = Engine::new();
    apply(&mut engine, join("a", None));
    apply(&mut engine, join("b", Some("a")));
    apply(&mut engine, join("c", Some("b")));
    apply(&mut engine, join("d", Some("c")));
    apply(&mut engine, sale("s1", "d", "100.00", "USD"));
    engine
}

fn state(engine: &Engine) -> (Value, upline::Head) {
    let snapshot = serde_json::from_str(&engine.snapshot_json()).expect("snapshot is JSON");
    (snapshot, engine.audit_head())
}

/// Applies a decodable bad event and checks that it is refused and changes
/// nothing.
fn refused(engine: &mut Engine, value: Value) -> Error {
    let before = state(engine);
    let err = engine
        .apply(&event(value.clone()))
        .expect_err(&format!("{value} must be refused"));
    assert_eq!(state(engine), before, "{value} changed the engine: {err}");
    err
}

/// Applies JSON text through the host's entry point; it must be refused and
/// change nothing.
fn refused_text(engine: &mut Engine, text: &str) -> Error {
    let before = state(engine);
    let err = engine
        .apply_json(text)
        .expect_err(&format!("{text} must be refused"));
    assert_eq!(state(engine), before, "{text} changed the engine: {err}");
    err
}

fn assert_error(err: &Error, code: &str, field: Option<&str>) {
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(err.field(), field, "{err}");
}

// ---- unknown members -------------------------------------------------------

#[test]
fn sale_by_unknown_buyer_is_unknown_member() {
    let mut engine = world();
    let err = refused(&mut engine, sale("s2", "ghost", "10.00", "USD"));
    assert_error(&err, "unknown_member", Some("buyer"));
}

#[test]
fn join_under_unknown_sponsor_is_unknown_member() {
    let mut engine = world();
    let err = refused(&mut engine, join("e", Some("ghost")));
    assert_error(&err, "unknown_member", Some("sponsor"));
}

#[test]
fn status_change_of_unknown_member_is_unknown_member() {
    let mut engine = world();
    let err = refused(
        &mut engine,
        json!({"type": "member_status_changed", "member": "ghost", "status": "inactive", "at": FEB}),
    );
    assert_error(&err, "unknown_member", Some("member"));
}

#[test]
fn hold_on_unknown_member_is_unknown_member() {
    let mut engine = world();
    let err = refused(
        &mut engine,
        json!({"type": "member_hold_set", "member": "ghost", "on": true, "reason": "review", "at": FEB}),
    );
    assert_error(&err, "unknown_member", Some("member"));
}

#[test]
fn payout_profile_of_unknown_member_is_unknown_member() {
    let mut engine = world();
    let err = refused(
        &mut engine,
        json!({"type": "payout_profile_set", "member": "ghost", "method": "bank", "verified": true}),
    );
    assert_error(&err, "unknown_member", Some("member"));
}

#[test]
fn sponsor_change_of_or_to_unknown_member_is_unknown_member() {
    let mut engine = world();
    let err = refused(
        &mut engine,
        json!({"type": "sponsor_changed", "member": "ghost", "sponsor": "a", "reason": "fix", "at": FEB}),
    );
    assert_error(&err, "unknown_member", Some("member"));
    let err = refused(
        &mut engine,
        json!({"type": "sponsor_changed", "member": "d", "sponsor": "ghost", "reason": "fix", "at": FEB}),
    );
    assert_error(&err, "unknown_member", Some("sponsor"));
}

// ---- self-sponsoring and cycles -------------------------------------------

#[test]
fn joining_under_oneself_is_self_sponsor() {
    let mut engine = world();
    let err = refused(&mut engine, join("e", Some("e")));
    assert_error(&err, "self_sponsor", Some("sponsor"));
}

#[test]
fn moving_a_member_under_itself_is_self_sponsor() {
    let mut engine = world();
    let err = refused(
        &mut engine,
        json!({"type": "sponsor_changed", "member": "c", "sponsor": "c", "reason": "fix", "at": FEB}),
    );
    assert_error(&err, "self_sponsor", Some("sponsor"));
}

#[test]
fn moving_a_member_under_its_child_is_a_cycle() {
    let mut engine = world();
    let err = refused(
        &mut engine,
        json!({"type": "sponsor_changed", "member": "a", "sponsor": "b", "reason": "fix", "at": FEB}),
    );
    assert_error(&err, "cycle", Some("sponsor"));
}

#[test]
fn moving_a_member_under_its_grandchild_is_a_cycle() {
    let mut engine = world();
    let err = refused(
        &mut engine,
        json!({"type": "sponsor_changed", "member": "b", "sponsor": "d", "reason": "fix", "at": FEB}),
    );
    assert_error(&err, "cycle", Some("sponsor"));
}

// ---- duplicate ids ---------------------------------------------------------

#[test]
fn rejoining_under_another_sponsor_is_duplicate_id() {
    let mut engine = world();
    let err = refused(&mut engine, join("d", Some("a")));
    assert_error(&err, "duplicate_id", Some("member"));
    let err = refused(
        &mut engine,
        json!({"type": "member_joined", "member": "d", "sponsor": "c", "at": FEB}),
    );
    assert_error(&err, "duplicate_id", Some("member"));
}

#[test]
fn reusing_a_sale_id_with_another_amount_is_duplicate_id() {
    let mut engine = world();
    let err = refused(&mut engine, sale("s1", "d", "100.01", "USD"));
    assert_error(&err, "duplicate_id", Some("sale"));
    let err = refused(&mut engine, sale("s1", "c", "100.00", "USD"));
    assert_error(&err, "duplicate_id", Some("sale"));
}

#[test]
fn reusing_a_refund_id_with_another_amount_is_duplicate_id() {
    let mut engine = world();
    apply(&mut engine, refund("r1", "s1", "10.00"));
    let err = refused(&mut engine, refund("r1", "s1", "10.01"));
    assert_error(&err, "duplicate_id", Some("refund"));
}

#[test]
fn reusing_a_batch_id_with_another_as_of_is_duplicate_id() {
    let mut engine = world();
    apply(&mut engine, batch("B1", "2026-03-15T00:00:00Z"));
    let err = refused(&mut engine, batch("B1", APR));
    assert_error(&err, "duplicate_id", Some("batch"));
}

// ---- refunds ---------------------------------------------------------------

#[test]
fn refunding_more_than_the_sale_is_over_refund() {
    let mut engine = world();
    let err = refused(&mut engine, refund("r1", "s1", "100.01"));
    assert_error(&err, "over_refund", Some("amount"));
}

#[test]
fn refunds_adding_up_to_more_than_the_sale_are_over_refund() {
    let mut engine = world();
    apply(&mut engine, refund("r1", "s1", "60.00"));
    apply(&mut engine, refund("r2", "s1", "39.99"));
    let err = refused(&mut engine, refund("r3", "s1", "0.02"));
    assert_error(&err, "over_refund", Some("amount"));
    // Exactly the rest is fine.
    apply(&mut engine, refund("r3", "s1", "0.01"));
}

#[test]
fn refund_of_unknown_sale_is_unknown_sale() {
    let mut engine = world();
    let err = refused(&mut engine, refund("r1", "ghost", "1.00"));
    assert_error(&err, "unknown_sale", Some("sale"));
}

// ---- amounts ---------------------------------------------------------------

#[test]
fn amounts_finer_than_the_currency_are_invalid_amount() {
    let mut engine = world();
    for (amount, currency) in [
        ("10.001", "USD"),
        ("0.005", "USD"),
        ("1.5", "JPY"),
        ("100.1", "JPY"),
        ("1.0001", "KWD"),
    ] {
        let err = refused(&mut engine, sale("s2", "d", amount, currency));
        assert_error(&err, "invalid_amount", Some("amount"));
    }
    // Trailing zeros within the minor units are exact, not finer.
    apply(&mut engine, sale("s2", "d", "1.000", "USD"));
    apply(&mut engine, sale("s3", "d", "2.000", "KWD"));
    apply(&mut engine, sale("s4", "d", "300", "JPY"));
    let err = refused(&mut engine, refund("r1", "s1", "0.001"));
    assert_error(&err, "invalid_amount", Some("amount"));
}

#[test]
fn refused_amount_message_names_the_field_and_the_value() {
    let mut engine = world();
    let err = refused(&mut engine, sale("s2", "d", "10.001", "USD"));
    assert_eq!(
        err.to_string(),
        r#"invalid_amount: amount "10.001" has more decimals than USD allows (2)"#
    );
}

#[test]
fn zero_and_negative_sales_are_invalid_amount() {
    let mut engine = world();
    for amount in ["0", "0.00", "-0", "-1.00", "-0.01"] {
        let err = refused(&mut engine, sale("s2", "d", amount, "USD"));
        assert_error(&err, "invalid_amount", Some("amount"));
    }
}

#[test]
fn zero_and_negative_refunds_are_invalid_amount() {
    let mut engine = world();
    for amount in ["0", "0.00", "-5", "-0.01"] {
        let err = refused(&mut engine, refund("r1", "s1", amount));
        assert_error(&err, "invalid_amount", Some("amount"));
    }
}

#[test]
fn amounts_that_are_not_plain_decimal_strings_are_invalid_amount() {
    let mut engine = world();
    for amount in [
        "1e3", "+5", " 5", "5 ", "5.", ".5", "1,5", "", "NaN", "0x10",
    ] {
        let err = refused(&mut engine, sale("s2", "d", amount, "USD"));
        assert_error(&err, "invalid_amount", Some("amount"));
    }
}

#[test]
fn json_numbers_and_booleans_for_money_are_invalid_amount() {
    let mut engine = world();
    for amount in [json!(5), json!(10.5), json!(true), json!(-1)] {
        let mut bad = sale("s2", "d", "5.00", "USD");
        bad["amount"] = amount.clone();
        let err = refused(&mut engine, bad);
        assert_error(&err, "invalid_amount", Some("amount"));
        assert!(err.message().contains("decimal strings"), "{err}");

        let mut bad = refund("r1", "s1", "5.00");
        bad["amount"] = amount;
        let err = refused(&mut engine, bad);
        assert_error(&err, "invalid_amount", Some("amount"));
    }
}

#[test]
fn amount_too_large_for_the_minor_units_is_invalid_amount() {
    let mut engine = world();
    // Beyond the decimal range altogether.
    let err = refused(
        &mut engine,
        sale("s2", "d", "79228162514264337593543950336", "USD"),
    );
    assert_error(&err, "invalid_amount", Some("amount"));
    let err = refused(
        &mut engine,
        sale("s2", "d", "792281625142643375935439503350", "JPY"),
    );
    assert_error(&err, "invalid_amount", Some("amount"));
}

// ---- currencies ------------------------------------------------------------

#[test]
fn unknown_and_malformed_currency_codes_are_invalid_currency() {
    let mut engine = world();
    for code in ["usd", "US", "", "XYZ", "USDX", "U$D", " USD"] {
        let err = refused(&mut engine, sale("s2", "d", "10.00", code));
        assert_error(&err, "invalid_currency", Some("currency"));
    }
}

// ---- times -----------------------------------------------------------------

const BAD_TIMES: [&str; 9] = [
    "2026-02-01T12:00:00",       // naive: no offset
    "2026-02-01",                // a date without a time
    "2026-02-30T00:00:00Z",      // no 30 February
    "2025-02-29T00:00:00Z",      // 2025 is not a leap year
    "2026-13-01T00:00:00Z",      // no month 13
    "2026-01-01T24:00:00Z",      // no hour 24
    "2026-01-01T00:00:00+24:00", // no such offset
    "1 February 2026",
    "",
];

#[test]
fn bad_sale_times_are_invalid_time() {
    let mut engine = world();
    for at in BAD_TIMES {
        let mut bad = sale("s2", "d", "10.00", "USD");
        bad["at"] = json!(at);
        let err = refused(&mut engine, bad);
        assert_error(&err, "invalid_time", Some("at"));
    }
    // A leap day is a real day.
    let mut leap = sale("s2", "d", "10.00", "USD");
    leap["at"] = json!("2028-02-29T00:00:00Z");
    apply(&mut engine, leap);
}

#[test]
fn bad_join_times_are_invalid_time() {
    let mut engine = world();
    for at in BAD_TIMES {
        let err = refused(
            &mut engine,
            json!({"type": "member_joined", "member": "e", "sponsor": "a", "at": at}),
        );
        assert_error(&err, "invalid_time", Some("at"));
    }
}

#[test]
fn bad_batch_as_of_is_invalid_time() {
    let mut engine = world();
    for as_of in BAD_TIMES {
        let err = refused(&mut engine, batch("B1", as_of));
        assert_error(&err, "invalid_time", Some("as_of"));
    }
}

#[test]
fn bad_balance_query_as_of_is_invalid_time() {
    let engine = world();
    for as_of in BAD_TIMES {
        let err = engine.balances("c", "USD", as_of).unwrap_err();
        assert_error(&err, "invalid_time", Some("as_of"));
    }
}

#[test]
fn bad_plan_effective_from_is_invalid_time() {
    let mut engine = world();
    for from in BAD_TIMES {
        let err = refused(
            &mut engine,
            json!({"type": "plan_activated", "effective_from": from,
                   "plan": {"id": "p", "version": 1, "levels": [{"rate": "0.1"}]}}),
        );
        assert_error(&err, "invalid_time", Some("effective_from"));
    }
}

// ---- ids -------------------------------------------------------------------

#[test]
fn empty_long_and_control_character_ids_are_invalid_id() {
    let mut engine = world();
    let too_long = "m".repeat(MAX_ID_BYTES + 1);
    for id in [
        "",
        too_long.as_str(),
        "a\nb",
        "a\tb",
        "a\u{7f}b",
        "\u{0}",
        "a\u{85}b",
    ] {
        let err = refused(&mut engine, join(id, Some("a")));
        assert_error(&err, "invalid_id", Some("member"));
        let err = refused(&mut engine, sale(id, "d", "1.00", "USD"));
        assert_error(&err, "invalid_id", Some("sale"));
        let err = refused(&mut engine, join("e", Some(id)));
        assert_error(&err, "invalid_id", Some("sponsor"));
    }
}

#[test]
fn ids_of_exactly_128_bytes_are_accepted() {
    let mut engine = world();
    let ascii = "m".repeat(MAX_ID_BYTES);
    apply(&mut engine, join(&ascii, Some("a")));
    apply(&mut engine, sale(&ascii, &ascii, "1.00", "USD"));
    assert_eq!(engine.depth(&ascii).unwrap(), 1);
}

#[test]
fn multibyte_ids_are_measured_in_bytes_not_characters() {
    let mut engine = world();
    // 64 × "é" (2 bytes) = 128 bytes: accepted.
    let two_byte = "é".repeat(64);
    assert_eq!(two_byte.len(), 128);
    apply(&mut engine, join(&two_byte, Some("a")));
    // 42 × "€" (3 bytes) + "é" = 128 bytes: accepted.
    let mixed = format!("{}é", "€".repeat(42));
    assert_eq!(mixed.len(), 128);
    apply(&mut engine, join(&mixed, Some("a")));
    // 43 × "€" = 129 bytes though only 43 characters: refused.
    let over = "€".repeat(43);
    assert_eq!(over.len(), 129);
    let err = refused(&mut engine, join(&over, Some("a")));
    assert_error(&err, "invalid_id", Some("member"));
    // 32 × "😀" (4 bytes) = 128 bytes: accepted; one more char is 132.
    apply(&mut engine, join(&"😀".repeat(32), Some("a")));
    let err = refused(&mut engine, join(&"😀".repeat(33), Some("a")));
    assert_error(&err, "invalid_id", Some("member"));
}

// ---- plans -----------------------------------------------------------------

fn level(rate: &str) -> Value {
    json!({"rate": rate})
}

#[test]
fn each_plan_rule_is_invalid_plan_naming_its_field() {
    let mut engine = world();
    let seventeen: Vec<Value> = (0..17).map(|_| level("0.01")).collect();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"id": "p", "version": 1, "levels": []}),
            "plan.levels",
        ),
        (
            json!({"id": "p", "version": 1, "levels": seventeen}),
            "plan.levels",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [level("0.1"), level("1.01")]}),
            "plan.levels[1].rate",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [level("-0.01")]}),
            "plan.levels[0].rate",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [level("0.1"), level("0.1234567")]}),
            "plan.levels[1].rate",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [level("0.6"), level("0.4"), level("0.000001")]}),
            "plan.levels",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [{"rate": "0.1", "caps": {"USD": "-1.00"}}]}),
            "plan.levels[0].caps.USD",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [{"rate": "0.1", "caps": {"XYZ": "1"}}]}),
            "plan.levels[0].caps.XYZ",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [level("0.1")], "overrides": {"a": []}}),
            "plan.overrides.a",
        ),
        (
            json!({"id": "p", "version": 0, "levels": [level("0.1")]}),
            "plan.version",
        ),
        (
            json!({"id": "p", "version": 1, "levels": [level("0.1")], "max_walk": 0}),
            "plan.max_walk",
        ),
    ];
    for (spec, field) in cases {
        let err = refused(&mut engine, plan(spec.clone()));
        assert_eq!(err.code(), "invalid_plan", "{spec}: {err}");
        assert_eq!(err.field(), Some(field), "{spec}: {err}");
    }
}

#[test]
fn duplicate_category_is_invalid_plan() {
    // serde_json::Value cannot hold a duplicate key: this one must be text.
    let mut engine = world();
    let text = r#"{"type":"plan_activated","effective_from":"2026-01-01T00:00:00Z",
        "plan":{"id":"p","version":1,"levels":[{"rate":"0.1"}],
                "overrides":{"a":[{"rate":"0.1"}],"a":[{"rate":"0.2"}]}}}"#;
    let err = refused_text(&mut engine, text);
    assert_error(&err, "invalid_plan", Some("plan.overrides.a"));
}

#[test]
fn rates_summing_to_exactly_one_are_a_valid_plan() {
    let mut engine = world();
    apply(
        &mut engine,
        plan(
            json!({"id": "p", "version": 1, "levels": [level("0.6"), level("0.399999"), level("0.000001")]}),
        ),
    );
}

#[test]
fn reactivating_a_plan_version_with_other_content_is_duplicate_id() {
    let mut engine = world();
    apply(
        &mut engine,
        plan(json!({"id": "p", "version": 1, "levels": [level("0.1")]})),
    );
    let err = refused(
        &mut engine,
        plan(json!({"id": "p", "version": 1, "levels": [level("0.2")]})),
    );
    assert_error(&err, "duplicate_id", Some("plan.id"));
}

// ---- malformed input -------------------------------------------------------

#[test]
fn undecodable_json_is_malformed_and_names_the_field() {
    let mut engine = world();
    let cases = [
        (
            r#"{"type":"member_joined","member":"e","sponsor":"a","at":"2026-01-0"#,
            None,
        ), // truncated
        ("", None),
        ("[]", None),
        ("42", None),
        (r#""member_joined""#, None),
        (
            r#"{"type":"member_left","member":"d","at":"2026-02-01T00:00:00Z"}"#,
            Some("type"),
        ), // unknown type
        (
            r#"{"member":"e","sponsor":"a","at":"2026-01-01T00:00:00Z"}"#,
            Some("type"),
        ), // no type
        (
            r#"{"type":"sale_recorded","sale":"s2","buyer":"d","currency":"USD","at":"2026-02-01T00:00:00Z"}"#,
            Some("amount"),
        ), // no amount
        (
            r#"{"type":"member_joined","member":"e","sponsor":"a","at":"2026-01-01T00:00:00Z","vip":true}"#,
            Some("vip"),
        ), // extra field
        (
            r#"{"type":"payout_profile_set","member":"d","method":"bank","verified":"yes"}"#,
            Some("verified"),
        ), // wrong type
        (
            r#"{"type":"member_joined","member":5,"sponsor":"a","at":"2026-01-01T00:00:00Z"}"#,
            Some("member"),
        ),
        (
            r#"{"type":"member_status_changed","member":"d","status":"retired","at":"2026-02-01T00:00:00Z"}"#,
            Some("status"),
        ),
        (
            r#"{"type":"sale_recorded","sale":"s2","buyer":"d","amount":"1.00","currency":"USD","at":"2026-02-01T00:00:00Z","signals":{"ip":5}}"#,
            Some("signals.ip"),
        ), // nested
        (
            r#"{"type":"plan_activated","plan":{"version":1,"levels":[]},"effective_from":"2026-02-01T00:00:00Z"}"#,
            Some("plan.id"),
        ), // nested, missing
    ];
    for (text, field) in cases {
        let err = refused_text(&mut engine, text);
        assert_error(&err, "malformed", field);
        if let Some(field) = field {
            // The message says where, too.
            let last = field.rsplit('.').next().unwrap_or(field);
            assert!(err.to_string().contains(last), "{err}");
        }
        let decoded = Event::from_json(text).unwrap_err();
        assert_eq!(
            (decoded.code(), decoded.field()),
            ("malformed", field),
            "{text}"
        );
    }
    // A batch slot names the field too.
    let slots: Value = serde_json::from_str(
        &engine
            .apply_batch_json(
                r#"[{"type":"payout_profile_set","member":"d","method":"bank","verified":"yes"}]"#,
                true,
            )
            .expect("the batch decodes as an array"),
    )
    .expect("JSON");
    assert_eq!(slots[0]["error"]["code"], "malformed");
    assert_eq!(slots[0]["error"]["field"], "verified");
}

#[test]
fn undecodable_values_are_malformed_and_name_the_field() {
    for (value, field) in [
        (json!([]), None),
        (json!(null), None),
        (json!({"type": "nope"}), Some("type")),
        (
            json!({"type": "payout_profile_set", "member": "d", "method": "bank", "verified": 1}),
            Some("verified"),
        ),
        (
            json!({"type": "member_joined", "member": "e", "at": JAN, "sponsor": null, "extra": 1}),
            Some("extra"),
        ),
    ] {
        let err = Event::from_value(value.clone()).unwrap_err();
        assert_error(&err, "malformed", field);
    }
}

// ---- limits ----------------------------------------------------------------

#[test]
fn json_document_over_the_size_limit_is_limit_exceeded() {
    let mut engine = world();
    let padding = "x".repeat(MAX_JSON_BYTES);
    let text = json!({"type": "member_hold_set", "member": "d", "on": true,
                      "reason": padding, "at": FEB})
    .to_string();
    assert!(text.len() > MAX_JSON_BYTES);
    let err = refused_text(&mut engine, &text);
    assert_error(&err, "limit_exceeded", None);
    assert_eq!(
        Event::from_json(&text).unwrap_err().code(),
        "limit_exceeded"
    );
}

#[test]
fn batch_over_the_size_limit_is_limit_exceeded_and_applies_nothing() {
    let mut engine = world();
    let before = state(&engine);
    let events: Vec<Event> = (0..=MAX_BATCH)
        .map(|_| event(join("e", Some("a"))))
        .collect();
    assert_eq!(events.len(), MAX_BATCH + 1);
    let err = engine.apply_batch(&events).unwrap_err();
    assert_error(&err, "limit_exceeded", Some("events"));
    assert_eq!(state(&engine), before);
    assert!(engine.graph().index_of("e").is_none());
}

#[test]
fn reason_over_the_text_limit_is_limit_exceeded() {
    let mut engine = world();
    let reason = "x".repeat(upline::limits::MAX_TEXT_BYTES + 1);
    let err = refused(
        &mut engine,
        json!({"type": "member_hold_set", "member": "d", "on": true, "reason": reason, "at": FEB}),
    );
    assert_error(&err, "limit_exceeded", Some("reason"));
}

// ---- member status ---------------------------------------------------------

#[test]
fn reactivating_a_terminated_member_is_member_terminated() {
    let mut engine = world();
    apply(
        &mut engine,
        json!({"type": "member_status_changed", "member": "c", "status": "terminated", "at": FEB}),
    );
    for status in ["active", "inactive"] {
        let err = refused(
            &mut engine,
            json!({"type": "member_status_changed", "member": "c", "status": status, "at": APR}),
        );
        assert_error(&err, "member_terminated", Some("member"));
    }
}

#[test]
fn joining_under_a_terminated_sponsor_is_member_terminated() {
    let mut engine = world();
    apply(
        &mut engine,
        json!({"type": "member_status_changed", "member": "c", "status": "terminated", "at": FEB}),
    );
    let err = refused(&mut engine, join("e", Some("c")));
    assert_error(&err, "member_terminated", Some("sponsor"));
}

// ---- payouts ---------------------------------------------------------------

/// `world()` plus verified profiles for b and c, and batch B1 as of
/// 2026-03-15 paying c 20.00 and b 15.00 (a has no profile).
fn paid_world() -> Engine {
    let mut engine = world();
    for member in ["b", "c"] {
        apply(
            &mut engine,
            json!({"type": "payout_profile_set", "member": member, "method": "bank", "verified": true}),
        );
    }
    let applied = apply(&mut engine, batch("B1", "2026-03-15T00:00:00Z"));
    let Outcome::Batch(b) = &applied.outcome else {
        panic!("not a batch: {applied:?}")
    };
    let items: Vec<(String, String)> = b
        .items
        .iter()
        .map(|i| (i.payout.to_string(), i.gross.to_string()))
        .collect();
    assert_eq!(
        items,
        [
            ("B1:b:USD".to_string(), "15.00".to_string()),
            ("B1:c:USD".to_string(), "20.00".to_string())
        ]
    );
    engine
}

fn settle(payout: &str) -> Value {
    json!({"type": "payout_settled", "payout": payout, "at": APR, "reference": "wire-1"})
}

fn fail(payout: &str) -> Value {
    json!({"type": "payout_failed", "payout": payout, "reason": "bounced", "at": APR})
}

#[test]
fn failing_a_settled_payout_is_payout_state() {
    let mut engine = paid_world();
    apply(&mut engine, settle("B1:b:USD"));
    let err = refused(&mut engine, fail("B1:b:USD"));
    assert_error(&err, "payout_state", Some("payout"));
}

#[test]
fn settling_a_failed_payout_is_payout_state() {
    let mut engine = paid_world();
    apply(&mut engine, fail("B1:c:USD"));
    let err = refused(&mut engine, settle("B1:c:USD"));
    assert_error(&err, "payout_state", Some("payout"));
}

#[test]
fn settling_again_with_another_reference_is_payout_state() {
    let mut engine = paid_world();
    apply(&mut engine, settle("B1:b:USD"));
    let mut other = settle("B1:b:USD");
    other["reference"] = json!("wire-2");
    let err = refused(&mut engine, other);
    assert_error(&err, "payout_state", Some("payout"));
}

#[test]
fn settling_or_failing_an_unknown_payout_is_unknown_payout() {
    let mut engine = paid_world();
    // a had no verified profile, so B1 holds no payout for a.
    for bad in [settle("B1:a:USD"), fail("B1:a:USD"), settle("B9:b:USD")] {
        let err = refused(&mut engine, bad);
        assert_error(&err, "unknown_payout", Some("payout"));
    }
}

#[test]
fn batch_as_of_before_the_previous_batch_is_invalid_time() {
    let mut engine = paid_world();
    let err = refused(&mut engine, batch("B2", "2026-03-14T23:59:59.999Z"));
    assert_error(&err, "invalid_time", Some("as_of"));
    // The same instant is not before it.
    apply(&mut engine, batch("B2", "2026-03-15T00:00:00Z"));
}

// ---- overflow --------------------------------------------------------------

/// DESIGN.md: "Checked arithmetic on money: overflow is an error, never a
/// wrap or a panic". Amounts are bounded (`limits::MAX_AMOUNT_UNITS`, 10^18
/// whole units) so that no sum of ledger entries can leave the decimal
/// range: the largest Decimal as a sale is refused up front, and the
/// largest accepted sales, summed many times, still give balances and a
/// payout batch without overflow.
#[test]
fn amounts_beyond_the_limit_are_refused_so_balances_cannot_overflow() {
    let mut engine = Engine::new();
    apply(&mut engine, join("a", None));
    apply(&mut engine, join("b", Some("a")));
    apply(
        &mut engine,
        plan(json!({"id": "all", "version": 1, "levels": [level("1")]})),
    );
    let err = refused(
        &mut engine,
        sale("s0", "b", "79228162514264337593543950335", "JPY"),
    );
    assert_error(&err, "limit_exceeded", Some("amount"));
    let err = refused(&mut engine, sale("s0", "b", "1000000000000000000", "JPY"));
    assert_error(&err, "limit_exceeded", Some("amount"));
    let largest = "999999999999999999";
    for i in 0..20 {
        apply(&mut engine, sale(&format!("s{i}"), "b", largest, "JPY"));
    }
    let balances = engine.balances("a", "JPY", APR).unwrap();
    assert_eq!(balances.available.to_string(), "19999999999999999980");
    apply(
        &mut engine,
        json!({"type": "payout_profile_set", "member": "a", "method": "bank", "verified": true}),
    );
    apply(&mut engine, batch("B1", APR));
    let balances = engine.balances("a", "JPY", APR).unwrap();
    assert_eq!(balances.reserved.to_string(), "19999999999999999980");
}

/// `ErrorKind::MemberTerminated` is documented as "A terminated member
/// cannot change status or be re-parented."
///
#[test]
fn moving_a_terminated_member_is_member_terminated() {
    let mut engine = world();
    apply(
        &mut engine,
        json!({"type": "member_status_changed", "member": "d", "status": "terminated", "at": FEB}),
    );
    let err = refused(
        &mut engine,
        json!({"type": "sponsor_changed", "member": "d", "sponsor": "a", "reason": "fix", "at": APR}),
    );
    assert_error(&err, "member_terminated", Some("member"));
}

/// `member_joined {member, sponsor|null, at}`: `sponsor` may be null but not
/// missing, so a forgotten field never silently makes a new root.
#[test]
fn member_joined_without_a_sponsor_field_is_malformed() {
    let mut engine = Engine::new();
    let err = refused_text(
        &mut engine,
        r#"{"type":"member_joined","member":"a","at":"2026-01-01T00:00:00Z"}"#,
    );
    assert_error(&err, "malformed", Some("sponsor"));
    apply(
        &mut engine,
        json!({"type": "member_joined", "member": "a", "sponsor": null, "at": "2026-01-01T00:00:00Z"}),
    );
}

/// `apply_batch_json`: a slot that is not an event is `malformed` in its
/// slot and the others apply; text that is not a JSON array fails the call
/// and changes nothing.
#[test]
fn apply_batch_json_reports_bad_slots_and_refuses_bad_text() {
    let mut engine = Engine::new();
    let before = state(&engine);
    for bad in ["", "{}", "[1,", "\"x\""] {
        let err = engine.apply_batch_json(bad, true).unwrap_err();
        assert_eq!(err.code(), "malformed", "{bad:?}");
    }
    assert_eq!(state(&engine), before);
    let out = engine
        .apply_batch_json(
            r#"[{"type":"member_joined","member":"a","sponsor":null,"at":"2026-01-01T00:00:00Z"},
                 42,
                 {"type":"member_joined","member":"b","sponsor":"ghost","at":"2026-01-01T00:00:00Z"}]"#,
            false,
        )
        .unwrap();
    let slots: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(slots[0]["seq"], 1);
    assert_eq!(slots[1]["error"]["code"], "malformed");
    assert_eq!(slots[2]["error"]["code"], "unknown_member");
    assert_eq!(slots[2]["error"]["field"], "sponsor");
    assert_eq!(engine.audit_head().seq, 1);
}
