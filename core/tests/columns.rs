//! The columnar path gives what the JSON path gives: every join, sale and
//! refund of the shared and project vectors, sent as columns (runs of
//! consecutive events of one kind in one call), gets the same sequence
//! number, audit hash or error code as the same event sent as JSON, and
//! both engines end on the same audit head.

use std::path::PathBuf;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;
use upline::engine::columns::{
    Amounts, JoinColumns, RefundColumns, RowResults, SaleColumns, Times,
};
use upline::{Engine, Outcome, Timestamp};

fn json_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        root.join("../../shared/vectors"),
        root.join("tests/vectors"),
    ] {
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// How a row's instants and amounts are given.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Form {
    /// As the host's text: hashed exactly as the JSON path hashes it.
    Text,
    /// As milliseconds and mantissa/scale, where the text is canonical (so
    /// the hash must still match); other rows keep their text.
    Typed,
}

/// The kind of a row the columnar path can carry, or `None`.
fn kind(event: &Value) -> Option<&'static str> {
    let object = event.as_object()?;
    let (kind, required, optional): (_, &[&str], &[&str]) = match object.get("type")?.as_str()? {
        "member_joined" => ("join", &["member", "sponsor", "at"], &[]),
        "sale_recorded" => (
            "sale",
            &["sale", "buyer", "amount", "currency", "at"],
            &["category"],
        ),
        "refund_recorded" => ("refund", &["refund", "sale", "amount", "at"], &[]),
        _ => return None,
    };
    let fits = required.iter().all(|k| object.contains_key(*k))
        && object.iter().all(|(k, v)| {
            k == "type"
                || (required.contains(&k.as_str()) || optional.contains(&k.as_str()))
                    && (v.is_string() || (k == "sponsor" && v.is_null()))
        });
    fits.then_some(kind)
}

fn text<'a>(event: &'a Value, key: &str) -> &'a str {
    event[key].as_str().unwrap()
}

/// The instants of `events[key]`, typed where the text is canonical.
fn times(events: &[&Value], key: &str, form: Form) -> (Vec<&'static str>, Option<Vec<i64>>) {
    let texts: Vec<&'static str> = events
        .iter()
        .map(|e| &*Box::leak(text(e, key).to_string().into_boxed_str()))
        .collect();
    if form == Form::Text {
        return (texts, None);
    }
    let millis: Option<Vec<i64>> = texts
        .iter()
        .map(|t| {
            let at = Timestamp::parse(t, key).ok()?;
            (at.to_string() == *t).then(|| at.as_millis())
        })
        .collect();
    (texts, millis)
}

/// The amounts, as mantissas at one scale where every text is canonical at
/// the same scale.
fn amounts(events: &[&Value], form: Form) -> (Vec<&'static str>, Option<(Vec<i128>, u32)>) {
    let texts: Vec<&'static str> = events
        .iter()
        .map(|e| &*Box::leak(text(e, "amount").to_string().into_boxed_str()))
        .collect();
    if form == Form::Text {
        return (texts, None);
    }
    let parsed: Option<Vec<Decimal>> = texts
        .iter()
        .map(|t| Decimal::from_str(t).ok().filter(|d| d.to_string() == *t))
        .collect();
    let typed = parsed.and_then(|values| {
        let scale = values.first()?.scale();
        values
            .iter()
            .all(|d| d.scale() == scale)
            .then(|| (values.iter().map(|d| d.mantissa()).collect(), scale))
    });
    (texts, typed)
}

/// Sends a run of events of one kind as one columnar call.
fn send(
    engine: &mut Engine,
    kind: &str,
    run: &[&Value],
    form: Form,
    with_lines: bool,
) -> RowResults {
    let strs = |key: &str| -> Vec<&str> { run.iter().map(|e| text(e, key)).collect() };
    let (at_text, at_millis) = times(run, "at", form);
    let at = match &at_millis {
        Some(millis) => Times::Millis(millis),
        None => Times::Text(&at_text),
    };
    match kind {
        "join" => {
            let member = strs("member");
            let sponsor: Vec<Option<&str>> = run.iter().map(|e| e["sponsor"].as_str()).collect();
            engine
                .apply_join_columns(&JoinColumns {
                    member: &member,
                    sponsor: &sponsor,
                    at,
                })
                .unwrap()
        }
        "sale" => {
            let (sale, buyer, currency) = (strs("sale"), strs("buyer"), strs("currency"));
            let (amount_text, typed) = amounts(run, form);
            let amount = match &typed {
                Some((mantissa, scale)) => Amounts::Decimal {
                    mantissa,
                    scale: *scale,
                },
                None => Amounts::Text(&amount_text),
            };
            let category: Vec<Option<&str>> = run
                .iter()
                .map(|e| e.get("category").and_then(Value::as_str))
                .collect();
            let any_category = category.iter().any(Option::is_some);
            engine
                .apply_sale_columns(
                    &SaleColumns {
                        sale: &sale,
                        buyer: &buyer,
                        amount,
                        currency: &currency,
                        at,
                        category: any_category.then_some(&category[..]),
                    },
                    with_lines,
                )
                .unwrap()
        }
        _ => {
            let (refund, sale) = (strs("refund"), strs("sale"));
            let (amount_text, typed) = amounts(run, form);
            let amount = match &typed {
                Some((mantissa, scale)) => Amounts::Decimal {
                    mantissa,
                    scale: *scale,
                },
                None => Amounts::Text(&amount_text),
            };
            engine
                .apply_refund_columns(&RefundColumns {
                    refund: &refund,
                    sale: &sale,
                    amount,
                    at,
                })
                .unwrap()
        }
    }
}

/// One step's result, as both paths must agree on it.
#[derive(Debug, PartialEq)]
enum Slot {
    Applied {
        seq: u64,
        hash: String,
        lines: Vec<(u8, String, String, String)>,
    },
    Refused(String),
}

/// Sends a case's joins, sales and refunds as columns (sales with their
/// lines or, `with_lines` false, on the lean path that never builds them)
/// and checks every seq, hash, error and line against the JSON path.
fn run_case(case: &Value, form: Form, with_lines: bool) -> (usize, String) {
    let events: Vec<&Value> = case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.get("apply"))
        .collect();
    let mut by_json = Engine::new();
    let mut expected = Vec::new();
    for event in &events {
        expected.push(match by_json.apply_json(&event.to_string()) {
            Ok(applied) => Slot::Applied {
                seq: applied.seq,
                hash: applied.hash.to_hex(),
                lines: match &applied.outcome {
                    Outcome::Distribution(d) => d
                        .lines
                        .iter()
                        .map(|l| {
                            (
                                l.level,
                                l.earner.to_string(),
                                l.amount.to_string(),
                                l.rate.to_string(),
                            )
                        })
                        .collect(),
                    _ => Vec::new(),
                },
            },
            Err(err) => Slot::Refused(err.code().to_string()),
        });
    }
    let mut by_columns = Engine::new();
    let mut actual = Vec::new();
    let mut columnar = 0;
    let mut i = 0;
    while i < events.len() {
        let Some(kind) = kind(events[i]) else {
            actual.push(match by_columns.apply_json(&events[i].to_string()) {
                Ok(applied) => Slot::Applied {
                    seq: applied.seq,
                    hash: applied.hash.to_hex(),
                    lines: Vec::new(),
                },
                Err(err) => Slot::Refused(err.code().to_string()),
            });
            i += 1;
            continue;
        };
        let mut end = i + 1;
        while end < events.len() && self::kind(events[end]) == Some(kind) {
            end += 1;
        }
        let out = send(&mut by_columns, kind, &events[i..end], form, with_lines);
        let mut errors = out.errors.iter().peekable();
        for row in 0..end - i {
            actual.push(match errors.next_if(|(r, _)| *r == row) {
                Some((_, err)) => Slot::Refused(err.code().to_string()),
                None => Slot::Applied {
                    seq: out.seq[row],
                    hash: out.hash[row].to_hex(),
                    lines: out
                        .lines
                        .as_ref()
                        .map(|l| {
                            (0..l.row.len())
                                .filter(|&k| l.row[k] as usize == row)
                                .map(|k| {
                                    (
                                        l.level[k],
                                        l.earner[k].to_string(),
                                        l.amount[k].to_string(),
                                        l.rate[k].to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            });
        }
        columnar += end - i;
        i = end;
    }
    // Joins and refunds carry no lines: compare those slots without them.
    let name = case["name"].as_str().unwrap_or("?").to_string();
    assert_eq!(expected.len(), actual.len(), "{name}");
    for (k, (e, a)) in expected.iter().zip(&actual).enumerate() {
        let same = match (e, a) {
            (
                Slot::Applied { seq, hash, lines },
                Slot::Applied {
                    seq: s2,
                    hash: h2,
                    lines: l2,
                },
            ) => {
                seq == s2
                    && hash == h2
                    && (l2.is_empty() && (kind(events[k]) != Some("sale") || !with_lines)
                        || lines == l2)
            }
            _ => e == a,
        };
        assert!(
            same,
            "{name} ({form:?}) step {k}: JSON gave {e:?}, columns gave {a:?}"
        );
    }
    assert_eq!(
        by_json.audit_head(),
        by_columns.audit_head(),
        "{name} ({form:?})"
    );
    (columnar, name)
}

#[test]
fn every_vector_join_sale_and_refund_through_columns_matches_the_json_path() {
    let mut rows = 0;
    let mut cases = 0;
    for file in json_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let vectors: Value = serde_json::from_str(&text).unwrap();
        for case in vectors["cases"].as_array().unwrap() {
            for form in [Form::Text, Form::Typed] {
                rows += run_case(case, form, true).0;
            }
            run_case(case, Form::Typed, false);
            cases += 1;
        }
    }
    // The vectors hold a few hundred joins, sales and refunds: the test
    // must have sent them, not skipped them.
    assert!(cases > 50, "{cases} cases");
    assert!(rows > 600, "{rows} rows sent as columns");
}

#[test]
fn typed_columns_hash_the_canonical_text() {
    let mut typed = Engine::new();
    let mut text = Engine::new();
    let out = typed
        .apply_join_columns(&JoinColumns {
            member: &["ann"],
            sponsor: &[None],
            at: Times::Millis(&[1_767_225_600_123]),
        })
        .unwrap();
    let json = text
        .apply_json(r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00.123Z"}"#)
        .unwrap();
    assert_eq!(out.hash[0], json.hash);
}

#[test]
fn a_refused_row_fails_alone_and_a_bad_amount_or_time_is_a_row_error() {
    let mut engine = Engine::new();
    engine
        .apply_join_columns(&JoinColumns {
            member: &["ann", "bob"],
            sponsor: &[None, Some("ann")],
            at: Times::Text(&["2026-01-01T00:00:00Z"; 2]),
        })
        .unwrap();
    let head = engine.audit_head();
    let out = engine
        .apply_sale_columns(
            &SaleColumns {
                sale: &["s1", "s2", "s3", "s4", "s5"],
                buyer: &["bob", "bob", "zed", "bob", "bob"],
                amount: Amounts::Decimal {
                    mantissa: &[10_000, -500, 100, i128::MAX, 2_550],
                    scale: 2,
                },
                currency: &["USD"; 5],
                at: Times::Millis(&[
                    1_769_947_200_000,
                    1_769_947_200_000,
                    1_769_947_200_000,
                    1_769_947_200_000,
                    i64::MAX,
                ]),
                category: None,
            },
            true,
        )
        .unwrap();
    let codes: Vec<(usize, &str)> = out.errors.iter().map(|(r, e)| (*r, e.code())).collect();
    assert_eq!(
        codes,
        [
            (1, "invalid_amount"),
            (2, "unknown_member"),
            (3, "invalid_amount"),
            (4, "invalid_time")
        ]
    );
    assert_eq!(out.seq, [head.seq + 1, 0, 0, 0, 0]);
    let lines = out.lines.unwrap();
    assert_eq!(lines.row, [0]);
    assert_eq!(lines.amount[0].to_string(), "20.00");
    assert_eq!(engine.audit_head().seq, head.seq + 1);
}

#[test]
fn columns_of_different_lengths_fail_the_whole_call() {
    let mut engine = Engine::new();
    let err = engine
        .apply_join_columns(&JoinColumns {
            member: &["ann", "bob"],
            sponsor: &[None],
            at: Times::Millis(&[0, 0]),
        })
        .unwrap_err();
    assert_eq!((err.code(), err.field()), ("malformed", Some("sponsor")));
    assert_eq!(engine.audit_head().seq, 0);
}

#[test]
fn more_rows_than_the_batch_limit_is_limit_exceeded() {
    let mut engine = Engine::new();
    let n = upline::limits::MAX_BATCH + 1;
    let member = vec!["m"; n];
    let sponsor = vec![None; n];
    let at = vec![0; n];
    let err = engine
        .apply_join_columns(&JoinColumns {
            member: &member,
            sponsor: &sponsor,
            at: Times::Millis(&at),
        })
        .unwrap_err();
    assert_eq!(err.code(), "limit_exceeded");
    assert_eq!(engine.audit_head().seq, 0);
}
