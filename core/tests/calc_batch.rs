//! `calc::calculate_batch` gives, for every sale, exactly what
//! `calc::calculate` gives: the lockstep walk is an optimisation, never a
//! different rule.

use proptest::prelude::*;
use rust_decimal::Decimal;
use upline::calc::{self, Calculation, SaleInput};
use upline::{Engine, Event, Timestamp};

fn engine_with(sponsors: &[Option<usize>], inactive: &[bool], held: &[bool], plan: &str) -> Engine {
    let mut engine = Engine::new();
    let mut apply = |json: String| {
        engine.apply(&Event::from_json(&json).unwrap()).unwrap();
    };
    for (i, sponsor) in sponsors.iter().enumerate() {
        let sponsor = sponsor.map_or("null".to_string(), |s| format!("\"m{s}\""));
        apply(format!(
            r#"{{"type":"member_joined","member":"m{i}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#
        ));
    }
    for (i, (&off, &hold)) in inactive.iter().zip(held).enumerate() {
        if off {
            apply(format!(
                r#"{{"type":"member_status_changed","member":"m{i}","status":"inactive","at":"2026-01-02T00:00:00Z"}}"#
            ));
        }
        if hold {
            apply(format!(
                r#"{{"type":"member_hold_set","member":"m{i}","on":true,"reason":"r","at":"2026-01-02T00:00:00Z"}}"#
            ));
        }
    }
    apply(format!(
        r#"{{"type":"plan_activated","effective_from":"2026-01-01T00:00:00Z","plan":{plan}}}"#
    ));
    engine
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn batch_calculation_equals_one_by_one(
        parents in prop::collection::vec(any::<prop::sample::Index>(), 1..40),
        roots in prop::collection::vec(any::<bool>(), 40),
        inactive in prop::collection::vec(prop::bool::weighted(0.2), 40),
        held in prop::collection::vec(prop::bool::weighted(0.1), 40),
        compression in any::<bool>(),
        qualify in 0u32..3,
        cap_cents in prop::option::of(0i64..2_000),
        min_cents in prop::option::of(0i64..2_000),
        buyers in prop::collection::vec((any::<prop::sample::Index>(), 1i64..100_000), 1..70),
    ) {
        let n = parents.len();
        let sponsors: Vec<Option<usize>> = (0..n)
            .map(|i| (i > 0 && !roots[i]).then(|| parents[i].index(i)))
            .collect();
        let cap = cap_cents.map_or(String::new(), |c| format!(r#","caps":{{"USD":"{}"}}"#, Decimal::new(c, 2)));
        let min = min_cents.map_or(String::new(), |c| format!(r#","min_sale":{{"USD":"{}"}}"#, Decimal::new(c, 2)));
        let plan = format!(
            r#"{{"id":"p","version":1,"compression":{compression},"levels":[{{"rate":"0.2"{cap}}},{{"rate":"0.15","min_active_directs":{qualify}}},{{"rate":"0.1"}},{{"rate":"0.08","min_active_directs":{qualify}}},{{"rate":"0.05"}},{{"rate":"0.03"}},{{"rate":"0.02"}}]{min}}}"#
        );
        let engine = engine_with(&sponsors, &inactive[..n], &held[..n], &plan);
        let at = Timestamp::parse("2026-02-01T00:00:00Z", "at").unwrap();
        let usd = engine.currencies().get("USD", "currency").unwrap();
        let plan = engine.plan_at(at);
        let sales: Vec<SaleInput> = buyers
            .iter()
            .map(|(who, cents)| SaleInput {
                buyer: who.index(n) as u32,
                amount: Decimal::new(*cents, 2),
                currency: usd,
                at,
            })
            .collect();
        let mut batch = Vec::new();
        calc::calculate_batch(plan, plan.levels(), engine.graph(), &sales, &mut batch).unwrap();
        prop_assert_eq!(batch.len(), sales.len());
        for (sale, got) in sales.iter().zip(&batch) {
            let mut one = Calculation::default();
            calc::calculate(plan, plan.levels(), engine.graph(), *sale, &mut one).unwrap();
            prop_assert_eq!(got, &one);
        }
    }
}
