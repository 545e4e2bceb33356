//! Growth metrics (issue 9) on small hand-built networks, with the numbers
//! worked out in the comments.

use serde_json::{json, Value};
use upline::{Engine, Event};

fn apply(engine: &mut Engine, event: Value) {
    let decoded = Event::from_value(event.clone()).unwrap_or_else(|e| panic!("{event}: {e}"));
    engine
        .apply(&decoded)
        .unwrap_or_else(|e| panic!("{event}: {e}"));
}

/// ```text
/// a (Jan 1) ─┬─ b (Jan 6, +5 d) ── e (Jan 16, +10 d after b)
///            ├─ c (Jan 21, +20 d) ── f (Mar 1, +39 d after c)
///            └─ d (Feb 15, +45 d)
/// ```
/// 2026-01-01 is day 20454 after the epoch = 7 × 2922, so 7-day cohorts
/// start on Jan 1, 8, 15, 22, 29, Feb 5, 12, 19, 26.
fn network() -> Engine {
    let mut engine = Engine::new();
    for (member, sponsor, at) in [
        ("a", None, "2026-01-01T00:00:00Z"),
        ("b", Some("a"), "2026-01-06T00:00:00Z"),
        ("e", Some("b"), "2026-01-16T00:00:00Z"),
        ("c", Some("a"), "2026-01-21T00:00:00Z"),
        ("d", Some("a"), "2026-02-15T00:00:00Z"),
        ("f", Some("c"), "2026-03-01T00:00:00Z"),
    ] {
        apply(
            &mut engine,
            json!({"type": "member_joined", "member": member, "sponsor": sponsor, "at": at}),
        );
    }
    engine
}

#[test]
fn viral_coefficient_per_cohort_and_cycle_time_on_a_hand_built_network() {
    let engine = network();
    let report = engine.viral_coefficient(30, 7, None, None).unwrap();
    // Referrals within W = 30 days of the sponsor's join: a → b (5 d),
    // a → c (20 d), b → e (10 d); a → d (45 d) and c → f (39 d) are late.
    let cohorts: Vec<(String, u64, u64, f64)> = report
        .cohorts
        .iter()
        .map(|c| (c.start.to_string(), c.size, c.referrals, c.k))
        .collect();
    assert_eq!(
        cohorts,
        [
            // a and b: 2 + 1 = 3 referrals, K = 3/2.
            ("2026-01-01T00:00:00Z".to_string(), 2, 3, 1.5),
            // e (Jan 16) and c (Jan 21): none.
            ("2026-01-15T00:00:00Z".to_string(), 2, 0, 0.0),
            ("2026-02-12T00:00:00Z".to_string(), 1, 0, 0.0),
            ("2026-02-26T00:00:00Z".to_string(), 1, 0, 0.0),
        ]
    );
    // Overall: 3 referrals / 6 members.
    assert_eq!(
        (
            report.overall.size,
            report.overall.referrals,
            report.overall.k
        ),
        (6, 3, 0.5)
    );
    // Gaps 5, 10, 20, 39, 45 days: the median is 20 days.
    assert_eq!(report.cycle_samples, 5);
    assert_eq!(report.cycle_time_days, 20.0);
    assert_eq!(report.cycle_time_ms, 20 * 86_400_000);
    // A wider window counts the late ones too: 5/6.
    let wide = engine.viral_coefficient(60, 7, None, None).unwrap();
    assert_eq!(wide.overall.referrals, 5);
    // Restricting the cohorts to January joins: a, b, e, c (4 members) made
    // 3 referrals within 30 days.
    let january = engine
        .viral_coefficient(
            30,
            7,
            Some("2026-01-01T00:00:00Z"),
            Some("2026-02-01T00:00:00Z"),
        )
        .unwrap();
    assert_eq!((january.overall.size, january.overall.referrals), (4, 3));
    assert_eq!(january.overall.k, 0.75);
}

#[test]
fn network_metrics_count_statuses_depths_and_branching() {
    let mut engine = network();
    for (member, status) in [("d", "terminated"), ("e", "inactive")] {
        apply(
            &mut engine,
            json!({"type": "member_status_changed", "member": member, "status": status,
                   "at": "2026-03-02T00:00:00Z"}),
        );
    }
    let metrics = engine.network_metrics();
    assert_eq!(metrics.members, 6);
    assert_eq!(
        (
            metrics.by_status.active,
            metrics.by_status.inactive,
            metrics.by_status.terminated
        ),
        (4, 1, 1)
    );
    assert_eq!(metrics.roots, 1);
    // a at depth 0; b, c, d at 1; e, f at 2.
    assert_eq!(metrics.depth_histogram, [1, 3, 2]);
    assert_eq!(metrics.max_depth, 2);
    // 5 non-roots over 3 sponsors (a, b, c).
    assert_eq!(metrics.mean_branching_factor, 5.0 / 3.0);
}

#[test]
fn member_metrics_with_lifetime_and_period_earnings() {
    let mut engine = network();
    apply(
        &mut engine,
        json!({"type": "member_status_changed", "member": "d", "status": "inactive",
               "at": "2026-03-02T00:00:00Z"}),
    );
    // e buys 100.00 on Feb 1: b earns 20.00, a 15.00. b buys 10.00 on
    // Mar 5: a earns 2.00.
    for (sale, buyer, amount, at) in [
        ("s1", "e", "100.00", "2026-02-01T00:00:00Z"),
        ("s2", "b", "10.00", "2026-03-05T00:00:00Z"),
    ] {
        apply(
            &mut engine,
            json!({"type": "sale_recorded", "sale": sale, "buyer": buyer, "amount": amount,
                   "currency": "USD", "at": at}),
        );
    }
    let m = engine
        .member_metrics(
            "a",
            Some("2026-02-01T00:00:00Z"),
            Some("2026-03-01T00:00:00Z"),
        )
        .unwrap();
    assert_eq!((m.direct_referrals, m.active_direct_referrals), (3, 2));
    // b bought: 1 qualified referral.
    assert_eq!(m.qualified_referrals, 1);
    assert_eq!(
        (m.downline_size, m.downline_depth, m.levels.clone()),
        (5, 2, vec![3, 2])
    );
    assert_eq!(m.depth, 0);
    let earnings = serde_json::to_value(&m.earnings).unwrap();
    // Lifetime 15.00 + 2.00; February only the 15.00.
    assert_eq!(
        earnings,
        json!([{"currency": "USD", "lifetime": "17.00", "period": "15.00"}])
    );
    let leaf = engine.member_metrics("f", None, None).unwrap();
    assert_eq!(
        (leaf.depth, leaf.downline_size, leaf.downline_depth),
        (2, 0, 0)
    );
    assert!(leaf.earnings.is_empty());
}

#[test]
fn projection_matches_its_closed_form() {
    // K = 0.5 from 1000 seeds over 10 cycles: 1000 · (1 − 0.5¹¹)/(1 − 0.5)
    // = 2000 · (1 − 1/2048) = 1999.0234375, tending to 2000.
    let p = upline::metrics::project(1000, 0.5, 20.0, 10).unwrap();
    assert_eq!(p.closed_form_total, 1999.0234375);
    assert_eq!(p.points[10].total, 1999.0234375);
    assert_eq!(p.points[10].day, 200.0);
    assert_eq!(p.limit, Some(2000.0));
    // K = 2: 1 + 2 + 4 + 8 = 15 = (1 − 2⁴)/(1 − 2); no limit.
    let p = upline::metrics::project(1, 2.0, 1.0, 3).unwrap();
    assert_eq!(
        (p.points[3].total, p.closed_form_total, p.limit),
        (15.0, 15.0, None)
    );
    // K = 1: linear, seed · (n + 1).
    assert_eq!(
        upline::metrics::project(3, 1.0, 1.0, 4)
            .unwrap()
            .closed_form_total,
        15.0
    );
    // From the measured network: K = 0.5 (W = 30), cycle 20 days.
    let engine = network();
    let p = engine.projection(30, 2, Some(4)).unwrap();
    assert_eq!((p.k, p.cycle_days), (0.5, 20.0));
    // 4 + 2 + 1 = 7.
    assert_eq!(p.points[2].total, 7.0);
    for (k, cycles, field) in [
        (-1.0, 1, "k"),
        (f64::INFINITY, 1, "k"),
        (1.0, 10_001, "cycles"),
    ] {
        let err = upline::metrics::project(1, k, 1.0, cycles).unwrap_err();
        assert_eq!(err.field(), Some(field));
    }
}

#[test]
fn subtree_exports_carry_earnings_and_respect_their_bounds() {
    let mut engine = network();
    apply(
        &mut engine,
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "e", "amount": "100.00",
               "currency": "USD", "at": "2026-02-01T00:00:00Z"}),
    );
    let full = engine.export_subtree_json("a", 10, 100).unwrap();
    assert_eq!(
        (full["truncated"].clone(), full["nodes"].clone()),
        (json!(false), json!(6))
    );
    let tree = &full["tree"];
    assert_eq!(tree["member"], "a");
    assert_eq!(tree["earnings"], json!({"USD": "15.00"}));
    let b = &tree["referrals"][0];
    assert_eq!(
        (b["member"].clone(), b["earnings"].clone()),
        (json!("b"), json!({"USD": "20.00"}))
    );
    assert_eq!(b["referrals"][0]["member"], "e");
    // Three nodes at most, breadth first: a, b, c.
    let small = engine.export_subtree_json("a", 10, 3).unwrap();
    assert_eq!(
        (small["truncated"].clone(), small["nodes"].clone()),
        (json!(true), json!(3))
    );
    let names: Vec<&str> = small["tree"]["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["member"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c"]);
    // Depth 1: a and its three directs.
    assert_eq!(engine.export_subtree_json("a", 1, 100).unwrap()["nodes"], 4);
    let dot = engine.export_subtree_dot("a", 10, 100).unwrap();
    assert!(dot.starts_with("digraph"));
    assert!(dot.contains("USD 15.00"), "{dot}");
    assert_eq!(dot.matches("->").count(), 5);
    let err = engine.export_subtree_json("a", 10, 0).unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("limit_exceeded", Some("max_nodes"))
    );
    let err = engine.export_subtree_dot("ghost", 1, 1).unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("unknown_member", Some("member"))
    );
}

#[test]
fn bad_metric_queries_name_the_field() {
    let engine = network();
    let err = engine.viral_coefficient(0, 7, None, None).unwrap_err();
    assert_eq!(
        (err.code(), err.field()),
        ("invalid_reward", Some("window_days"))
    );
    let err = engine
        .viral_coefficient(30, 40_000, None, None)
        .unwrap_err();
    assert_eq!(err.field(), Some("cohort_days"));
    let err = engine
        .member_metrics(
            "a",
            Some("2026-02-01T00:00:00Z"),
            Some("2026-01-01T00:00:00Z"),
        )
        .unwrap_err();
    assert_eq!((err.code(), err.field()), ("invalid_time", Some("to")));
    let err = engine
        .member_metrics("a", Some("yesterday"), None)
        .unwrap_err();
    assert_eq!((err.code(), err.field()), ("invalid_time", Some("from")));
}
