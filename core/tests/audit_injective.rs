//! The audit encoding (format 2) is injective: property tests that two
//! different JSON values, or two different events, never give the same
//! bytes, with typed strings (decimals, times) in canonical and
//! non-canonical forms under typed and untyped keys.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use upline::audit::encode;

/// Strings that look like decimals and times, canonical or not, and plain text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,6})(\\.[0-9]{1,4})?",
        "-?0[0-9]{1,3}(\\.[0-9]{1,2})?",
        "[0-9]{1,3}\\.",
        "20[0-9]{2}-0[1-9]-[0-2][1-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?(Z|\\+01:00)",
        "[a-zé\"\\\\ ]{0,6}",
    ]
}

/// Keys: typed (decimal, time), dictionary, and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("amount".to_string()),
        Just("rate".to_string()),
        Just("at".to_string()),
        Just("available_at".to_string()),
        Just("member".to_string()),
        Just("type".to_string()),
        "[a-z]{1,3}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn different_values_give_different_bytes(a in value(), b in value()) {
        let (ea, eb) = (encode(&a).unwrap(), encode(&b).unwrap());
        prop_assert_eq!(a == b, ea == eb, "{} / {}", a, b);
    }

    #[test]
    fn a_value_and_its_neighbour_under_a_typed_key_differ(k in key(), s in text(), t in text()) {
        // The same key, two strings: equal bytes exactly when equal strings.
        let a = json!({ k.clone(): s.clone() });
        let b = json!({ k: t.clone() });
        prop_assert_eq!(s == t, encode(&a).unwrap() == encode(&b).unwrap());
        // A string and the same string one level down in an array differ.
        let c = json!({ "amount": [s.clone()] });
        prop_assert_ne!(encode(&json!({ "amount": s })).unwrap(), encode(&c).unwrap());
    }

    #[test]
    fn different_sale_events_give_different_bytes(
        a in ("[a-z]{1,4}", "(0|[1-9][0-9]{0,4})(\\.[0-9]{1,2})?", "2026-0[1-9]-1[0-9]T1[0-9]:00:00(\\.[0-9]{3})?(Z|\\+01:00)", proptest::option::of("[a-z]{1,3}")),
        b in ("[a-z]{1,4}", "(0|[1-9][0-9]{0,4})(\\.[0-9]{1,2})?", "2026-0[1-9]-1[0-9]T1[0-9]:00:00(\\.[0-9]{3})?(Z|\\+01:00)", proptest::option::of("[a-z]{1,3}")),
    ) {
        let event = |(sale, amount, at, category): &(String, String, String, Option<String>)| {
            let mut v = json!({"type": "sale_recorded", "sale": sale, "buyer": "bob",
                "amount": amount, "currency": "USD", "at": at});
            if let Some(c) = category {
                v["category"] = json!(c);
            }
            upline::Event::from_value(v).unwrap()
        };
        let (ea, eb) = (event(&a), event(&b));
        prop_assert_eq!(ea == eb, encode(&ea).unwrap() == encode(&eb).unwrap());
    }
}
