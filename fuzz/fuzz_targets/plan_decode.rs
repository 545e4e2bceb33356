//! Any bytes as a plan: decoding and validation never panic, and a valid
//! plan survives a JSON round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upline::{Currencies, PlanSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<PlanSpec>(data) else {
        return;
    };
    let currencies = Currencies::default();
    if let Ok(plan) = spec.validate(&currencies) {
        assert!(!plan.levels().is_empty() && plan.levels().len() <= upline::limits::MAX_LEVELS);
        let sum: rust_decimal::Decimal = plan.levels().iter().map(|l| l.rate().value()).sum();
        assert!(sum <= rust_decimal::Decimal::ONE);
        let text = serde_json::to_string(&spec).expect("a plan serializes");
        let again: PlanSpec = serde_json::from_str(&text).expect("and decodes");
        assert_eq!(again.validate(&currencies).expect("still valid"), plan);
    }
});
