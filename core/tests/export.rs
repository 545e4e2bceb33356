//! `export_ledger` and the independent verifier: every export of the
//! project's vector streams (rewards, screening, the golden audit stream)
//! re-verifies in `tools/verify_export.py` (Python standard library only)
//! to the engine's own head; a changed byte is found at its event; the
//! fast records encoding equals the encoding of the records' JSON text.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use upline::{Engine, Event, ExportFormat, MemoryStore};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The event streams of the project's vectors, one per case.
fn streams() -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::new();
    for file in ["rewards.json", "screening.json"] {
        let path = root().join("core/tests/vectors").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        for case in doc["cases"].as_array().unwrap() {
            let events: Vec<Value> = case["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|step| step.get("apply").cloned())
                .collect();
            out.push((format!("{file}: {}", case["name"]), events));
        }
    }
    out.push(("mixed".into(), mixed()));
    out
}

/// Joins, a plan with caps, sales (one with a category and an offset
/// time), a refund, a hold, payouts, a custom currency and graph events.
fn mixed() -> Vec<Value> {
    let mut events = vec![];
    for i in 0..6 {
        let sponsor = if i == 0 {
            Value::Null
        } else {
            json!(format!("m{}", i - 1))
        };
        events.push(json!({"type": "member_joined", "member": format!("m{i}"), "sponsor": sponsor, "at": "2026-01-01T00:00:00Z"}));
    }
    events.extend([
        json!({"type": "member_hold_set", "member": "m1", "on": true, "reason": "review", "at": "2026-01-02T00:00:00Z"}),
        json!({"type": "plan_activated", "effective_from": "2026-01-01T00:00:00Z", "plan": {"id": "p", "version": 1, "levels": [{"rate": "0.1", "caps": {"USD": "5.00"}}, {"rate": "0.05"}, {"rate": "0.025"}], "compression": true}}),
        json!({"type": "sale_recorded", "sale": "s1", "buyer": "m5", "amount": "33.33", "currency": "USD", "at": "2026-01-03T00:00:00Z", "category": "x"}),
        json!({"type": "sale_recorded", "sale": "s2", "buyer": "m4", "amount": "1000", "currency": "USD", "at": "2026-01-03T13:00:00.250+01:00"}),
        json!({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "10.00", "at": "2026-01-04T00:00:00Z"}),
        json!({"type": "member_hold_set", "member": "m1", "on": false, "reason": "cleared", "at": "2026-01-05T00:00:00Z"}),
        json!({"type": "payout_profile_set", "member": "m3", "method": "bank", "verified": true}),
        json!({"type": "payouts_prepared", "batch": "b1", "as_of": "2026-03-01T00:00:00Z", "policy": {"minimum": {"USD": "1.00"}, "fees": {"bank": {"flat": "0.10", "percent": "1.5"}}}}),
        json!({"type": "payout_settled", "payout": "b1:m3:USD", "at": "2026-03-02T00:00:00Z", "reference": "w1"}),
        json!({"type": "currency_registered", "currency": "PTS", "minor_units": 0}),
        json!({"type": "sale_recorded", "sale": "s3", "buyer": "m5", "amount": "100", "currency": "PTS", "at": "2026-03-03T00:00:00Z"}),
        json!({"type": "member_status_changed", "member": "m0", "status": "inactive", "at": "2026-03-03T00:00:00Z"}),
        json!({"type": "sponsor_changed", "member": "m5", "sponsor": "m0", "reason": "fix \"quoted\", ünïcode", "at": "2026-03-04T00:00:00Z"}),
        // Paid in another currency: `fx` on the event and on the distribution.
        json!({"type": "sale_recorded", "sale": "s4", "buyer": "m4", "amount": "50.00", "currency": "USD", "at": "2026-03-05T00:00:00Z", "fx": {"currency": "EUR", "rate": "0.9125"}}),
    ]);
    events
}

fn engine_for(events: &[Value]) -> Engine {
    let mut engine = Engine::open(Box::new(MemoryStore::new())).unwrap();
    for event in events {
        // Refused events (the vectors include some) are not stored.
        if let Ok(event) = Event::from_value(event.clone()) {
            let _ = engine.apply(&event);
        }
    }
    engine
}

fn export(engine: &Engine, format: ExportFormat, from: Option<u64>, to: Option<u64>) -> String {
    let mut out = Vec::new();
    engine.export_ledger(&mut out, format, from, to).unwrap();
    String::from_utf8(out).unwrap()
}

/// Runs the Python verifier on `text`: (exit code, stdout).
fn verifier(text: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("upline-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:x}.jsonl", fxhash(text)));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = Command::new("python3")
        .arg(root().join("tools/verify_export.py"))
        .arg(&path)
        .output()
        .expect("python3 runs");
    std::fs::remove_file(&path).ok();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    )
}

fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn every_export_verifies_independently_to_the_engines_head() {
    for (name, events) in streams() {
        let engine = engine_for(&events);
        let head = engine.audit_head();
        assert!(head.seq >= 1, "{name}: {} events applied", head.seq);
        let text = export(&engine, ExportFormat::JsonLines, None, None);
        assert_eq!(text.lines().count() as u64, head.seq + 2, "{name}");
        let (code, out) = verifier(&text);
        assert_eq!(
            (code, out.as_str()),
            (0, format!("head {} {}", head.seq, head.hash).as_str()),
            "{name}"
        );
        // The trailer names the same head.
        let trailer: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(trailer["head"]["hash"], json!(head.hash.to_hex()), "{name}");
        assert_eq!(trailer["events"], json!(head.seq), "{name}");
    }
}

#[test]
fn a_sale_paid_in_another_currency_carries_fx_and_verifies() {
    let engine = engine_for(&mixed());
    let text = export(&engine, ExportFormat::JsonLines, None, None);
    let last: Value = serde_json::from_str(text.lines().rev().nth(1).unwrap()).unwrap();
    assert_eq!(
        last["event"]["fx"],
        json!({"currency": "EUR", "rate": "0.9125"})
    );
    let fx = &last["records"]["outcome"]["distribution"]["fx"];
    assert_eq!(fx["currency"], json!("EUR"));
    assert_eq!(fx["base"], json!("45.62"));
    let head = engine.audit_head();
    assert_eq!(
        verifier(&text),
        (0, format!("head {} {}", head.seq, head.hash))
    );
    // The converted base is hashed: changing it is found at that event.
    let changed = text.replacen("\"base\":\"45.62\"", "\"base\":\"45.61\"", 1);
    assert_ne!(changed, text);
    assert_eq!(
        verifier(&changed),
        (
            1,
            format!(
                "verification failed: event {} does not match its hash",
                head.seq
            )
        )
    );
}

#[test]
fn a_range_chains_onto_its_prev_hash_and_ends_on_its_own_head() {
    let engine = engine_for(&mixed());
    let full = export(&engine, ExportFormat::JsonLines, None, None);
    let lines: Vec<Value> = full
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let part = export(&engine, ExportFormat::JsonLines, Some(5), Some(9));
    let header: Value = serde_json::from_str(part.lines().next().unwrap()).unwrap();
    assert_eq!(header["from_seq"], json!(5));
    assert_eq!(header["prev"]["seq"], json!(4));
    assert_eq!(header["prev"]["hash"], lines[4]["hash"]);
    assert_eq!(header["audit_tag"], json!("upline/audit/v2\u{0}"));
    let (code, out) = verifier(&part);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        format!("head 9 {}", lines[9]["hash"].as_str().unwrap())
    );
    // A range past the head stops at the head; an empty range at the end.
    let head = engine.audit_head();
    let mut sink = Vec::new();
    let tail = engine
        .export_ledger(&mut sink, ExportFormat::JsonLines, Some(3), Some(10_000))
        .unwrap();
    assert_eq!(tail, head);
    let mut sink = Vec::new();
    let empty = engine
        .export_ledger(&mut sink, ExportFormat::JsonLines, Some(head.seq + 1), None)
        .unwrap();
    assert_eq!(empty, head);
    assert_eq!(
        verifier(&String::from_utf8(sink).unwrap()).1,
        format!("head {} {}", head.seq, head.hash)
    );
}

#[test]
fn a_changed_byte_is_found_at_its_event() {
    let engine = engine_for(&mixed());
    let text = export(&engine, ExportFormat::JsonLines, None, None);
    let lines: Vec<&str> = text.lines().collect();
    // Event 10 is sale s2 (1000 USD): change one commission amount.
    let line = lines[10];
    assert!(line.contains("\"sale\":\"s2\""), "{line}");
    let changed = line.replacen("\"amount\":\"50.00\"", "\"amount\":\"50.01\"", 1);
    assert_ne!(changed, line);
    let tampered: Vec<&str> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| if i == 10 { changed.as_str() } else { l })
        .collect();
    let (code, out) = verifier(&(tampered.join("\n") + "\n"));
    assert_eq!(
        (code, out.as_str()),
        (1, "verification failed: event 10 does not match its hash")
    );

    // One byte of an event's id, a time's offset, a dropped line, a cut trailer.
    type Change<'a> = &'a dyn Fn(&str) -> String;
    let cases: [(usize, Change, &str); 3] = [
        (
            3,
            &|l: &str| l.replacen("\"m2\"", "\"m3\"", 1),
            "event 3 does not match its hash",
        ),
        (
            11,
            &|l: &str| l.replacen("\"10.00\"", "\"10.0\"", 1),
            "event 11 does not match its hash",
        ),
        (
            10,
            &|l: &str| l.replacen("13:00:00.250+01:00", "12:00:00.250Z", 1),
            "event 10 does not match its hash",
        ),
    ];
    for (at, change, expected) in cases {
        let mut copy: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let before = copy[at].clone();
        copy[at] = change(&before);
        assert_ne!(copy[at], before, "{expected}");
        let (code, out) = verifier(&(copy.join("\n") + "\n"));
        assert_eq!((code, out), (1, format!("verification failed: {expected}")));
    }
    let mut dropped: Vec<&str> = lines.clone();
    dropped.remove(5);
    let (code, out) = verifier(&(dropped.join("\n") + "\n"));
    assert_eq!(code, 1);
    assert!(out.contains("event 5 is missing"), "{out}");
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    let (code, out) = verifier(&cut);
    assert_eq!(code, 1);
    assert!(out.contains("without a trailer"), "{out}");
}

#[test]
fn csv_has_one_row_per_event_between_prev_and_head() {
    let engine = engine_for(&mixed());
    let head = engine.audit_head();
    let text = export(&engine, ExportFormat::Csv, None, None);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "seq,hash,type,event,records");
    assert_eq!(rows[1], format!("0,{},prev,,", "0".repeat(64)));
    assert_eq!(rows.len() as u64, head.seq + 3);
    assert_eq!(
        rows.last().unwrap(),
        &format!("{},{},head,,", head.seq, head.hash)
    );
    let jsonl = export(&engine, ExportFormat::JsonLines, None, None);
    // Each row's event and records are the JSON Lines ones, CSV-quoted.
    for (row, line) in rows[2..rows.len() - 1].iter().zip(jsonl.lines().skip(1)) {
        let line: Value = serde_json::from_str(line).unwrap();
        let (seq, rest) = row.split_once(',').unwrap();
        let (hash, rest) = rest.split_once(',').unwrap();
        let (kind, rest) = rest.split_once(',').unwrap();
        assert_eq!(seq, line["seq"].to_string());
        assert_eq!(json!(hash), line["hash"]);
        assert_eq!(json!(kind), line["event"]["type"]);
        let event = serde_json::to_string(&line["event"]).unwrap();
        assert!(
            rest.starts_with(&format!("\"{}\",\"", event.replace('"', "\"\"")))
                || rest.starts_with('"')
        );
    }
}

#[test]
fn bad_ranges_and_a_missing_store_are_typed_errors() {
    let engine = engine_for(&mixed());
    let head = engine.audit_head();
    let mut sink = Vec::new();
    for (from, to, field) in [
        (Some(0), None, "from_seq"),
        (Some(5), Some(4), "from_seq"),
        (Some(head.seq + 2), None, "from_seq"),
    ] {
        let err = engine
            .export_ledger(&mut sink, ExportFormat::JsonLines, from, to)
            .unwrap_err();
        assert_eq!(
            (err.code(), err.field()),
            ("malformed", Some(field)),
            "{from:?} {to:?}"
        );
    }
    let err = Engine::new()
        .export_ledger(&mut sink, ExportFormat::Csv, None, None)
        .unwrap_err();
    assert_eq!(err.code(), "storage");
}

#[test]
fn a_tampered_store_stops_the_export_at_the_event() {
    let mut engine = Engine::open(Box::new(MemoryStore::new())).unwrap();
    for event in mixed() {
        engine.apply(&Event::from_value(event).unwrap()).unwrap();
    }
    // Copy the stored events, change event 10's amount.
    let mut store = MemoryStore::copy_of(engine.store().unwrap()).unwrap();
    let text = store.events()[9].event.replace("\"1000\"", "\"1001\"");
    assert_ne!(text, store.events()[9].event);
    store.events_mut()[9].event = text;
    let mut sink = Vec::new();
    let err = upline::engine::export_store(&store, &mut sink, ExportFormat::JsonLines, None, None)
        .unwrap_err();
    assert_eq!((err.code(), err.field()), ("tampered", Some("seq")));
    assert!(err.message().contains("event 10"), "{}", err.message());
}

#[test]
fn an_export_of_a_snapshotted_store_starts_from_the_snapshot() {
    let events = mixed();
    let mut engine = Engine::open(Box::new(MemoryStore::new())).unwrap();
    for event in &events[..8] {
        engine
            .apply(&Event::from_value(event.clone()).unwrap())
            .unwrap();
    }
    engine.save_snapshot().unwrap();
    for event in &events[8..] {
        engine
            .apply(&Event::from_value(event.clone()).unwrap())
            .unwrap();
    }
    let head = engine.audit_head();
    let part = export(&engine, ExportFormat::JsonLines, Some(10), None);
    let (code, out) = verifier(&part);
    assert_eq!((code, out), (0, format!("head {} {}", head.seq, head.hash)));
    let full = export(&engine, ExportFormat::JsonLines, None, None);
    assert_eq!(
        verifier(&full).1,
        format!("head {} {}", head.seq, head.hash)
    );
}

/// The records as hashed, shaped as the engine's `Records`.
#[derive(serde::Serialize)]
struct Records<'a> {
    outcome: &'a upline::Outcome,
    entries: &'a [upline::event::EntryRecord],
}

#[test]
fn the_fast_records_encoding_is_the_encoding_of_their_text() {
    for (name, events) in streams() {
        let mut engine = Engine::new();
        for event in events {
            let Ok(event) = Event::from_value(event) else {
                continue;
            };
            let Ok(applied) = engine.apply(&event) else {
                continue;
            };
            let fast = upline::audit::encode_records(&applied.outcome, &applied.entries).unwrap();
            let records = Records {
                outcome: &applied.outcome,
                entries: &applied.entries,
            };
            assert_eq!(fast, upline::audit::encode(&records).unwrap(), "{name}");
            assert_eq!(
                fast,
                upline::audit::encode_via_text(&records).unwrap(),
                "{name}"
            );
            assert_eq!(
                upline::audit::encode(&event).unwrap(),
                upline::audit::encode_via_text(&event).unwrap(),
                "{name}"
            );
        }
    }
}

#[test]
fn snapshots_of_audit_format_1_are_refused_as_storage() {
    let engine = engine_for(&mixed());
    let text = engine.snapshot_json();
    assert!(text.starts_with("{\"format\":4,"));
    for old in [1, 2] {
        let old_text = text.replacen("{\"format\":4,", &format!("{{\"format\":{old},"), 1);
        let err = Engine::from_snapshot_json(&old_text).unwrap_err();
        assert_eq!(err.code(), "storage");
        assert_eq!(
            err.message(),
            format!(
                "this snapshot (snapshot format {old}) was written with audit format 1; \
                 this build reads format 2 only: replay its events into a new store"
            )
        );
    }
    // An old snapshot that no longer decodes as today's state is named too.
    let err = Engine::from_snapshot_json(r#"{"format":1,"engine":{"old":true}}"#).unwrap_err();
    assert_eq!(err.code(), "storage");
    let err = Engine::from_snapshot_json(r#"{"format":9,"engine":{}}"#).unwrap_err();
    assert_eq!(err.code(), "malformed");
    // In a store, the refusal reaches the host as storage, not tampered.
    let mut store = MemoryStore::copy_of(engine.store().unwrap()).unwrap();
    upline::Store::save_snapshot(
        &mut store,
        engine.audit_head().seq,
        &text.replacen("{\"format\":4,", "{\"format\":2,", 1),
    )
    .unwrap();
    let err = Engine::open(Box::new(store)).unwrap_err();
    assert_eq!(err.code(), "storage");
}

/// A snapshot of format 3 (sale lines that repeat their entries' earner,
/// amount and dates), written by the build before format 4 from the
/// events of `mixed()`, at seq 20.
const SNAPSHOT_FORMAT_3: &str = include_str!("data/snapshot-format-3.json");

#[test]
fn a_store_whose_snapshot_is_format_3_opens_by_replaying_its_events() {
    let engine = engine_for(&mixed());
    let head = engine.audit_head();
    assert_eq!(head.seq, 20);
    assert_eq!(
        head.hash.to_string(),
        "3c6030f72878e26c5ebd54c9b199b6c9ed3de946b8eb23640132970f71c696b1",
        "format 4 changes no audit hash"
    );
    // Restoring it by hand is refused with the format, as storage.
    let err = Engine::from_snapshot_json(SNAPSHOT_FORMAT_3).unwrap_err();
    assert_eq!(err.code(), "storage");
    assert!(
        err.message()
            .contains("snapshot format 3 predates format 4"),
        "{}",
        err.message()
    );
    // A store holding it opens, verifies and exports: its events are the
    // books, and the snapshot is skipped, not reported as tampering.
    let mut store = MemoryStore::copy_of(engine.store().unwrap()).unwrap();
    upline::Store::save_snapshot(&mut store, 20, SNAPSHOT_FORMAT_3).unwrap();
    let mut reopened = Engine::open(Box::new(store)).unwrap();
    assert_eq!(reopened.audit_head(), head);
    assert_eq!(reopened.verify().unwrap(), head);
    assert_eq!(reopened.snapshot_json(), engine.snapshot_json());
    assert_eq!(
        export(&reopened, ExportFormat::JsonLines, None, None),
        export(&engine, ExportFormat::JsonLines, None, None)
    );
    // A new snapshot replaces it, in today's format.
    reopened.save_snapshot().unwrap();
    let (seq, text) = reopened
        .store()
        .unwrap()
        .latest_snapshot()
        .unwrap()
        .unwrap();
    assert_eq!(seq, 20);
    assert!(text.starts_with("{\"format\":4,"));
    assert_eq!(
        Engine::from_snapshot_json(&text).unwrap().audit_head(),
        head
    );
}

#[test]
fn the_verifier_refuses_anything_after_the_trailer_and_a_wrong_count() {
    let engine = engine_for(&mixed());
    let text = export(&engine, ExportFormat::JsonLines, None, None);
    let head = engine.audit_head();
    // A forged event appended after the trailer: it is not covered by the
    // head the verifier prints, so the export must be refused.
    let mut lines: Vec<&str> = text.lines().collect();
    let forged = text.clone() + lines[lines.len() - 2] + "\n";
    let (code, out) = verifier(&forged);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out,
        format!(
            "verification failed: line {} follows the trailer (an export ends at its trailer)",
            lines.len() + 1
        )
    );
    // A trailer whose event count is wrong.
    let trailer = lines.pop().unwrap();
    let miscounted = trailer.replace(
        &format!("\"events\":{}", head.seq),
        &format!("\"events\":{}", head.seq + 1),
    );
    assert_ne!(miscounted, trailer);
    let (code, out) = verifier(&(lines.join("\n") + "\n" + &miscounted + "\n"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the trailer counts"), "{out}");
    // An unreadable line names the event it should have been.
    let mut broken: Vec<String> = text.lines().map(str::to_string).collect();
    broken[4] = "{not json".to_string();
    let (code, out) = verifier(&(broken.join("\n") + "\n"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("verification failed: event 4 (line 5) is unreadable"),
        "{out}"
    );
}

#[test]
fn a_snapshot_whose_sale_lines_name_other_entries_is_malformed_not_a_panic() {
    let engine = engine_for(&mixed());
    let text = engine.snapshot_json();
    let at = text
        .find("\"first_entry\":")
        .expect("sales have a first entry")
        + 14;
    let end = at + text[at..].find(',').unwrap();
    for wrong in ["9999", "1", "18446744073709551615"] {
        let bad = format!("{}{wrong}{}", &text[..at], &text[end..]);
        let err = Engine::from_snapshot_json(&bad).unwrap_err();
        assert_eq!(err.code(), "malformed", "{wrong}");
        assert!(
            err.message().contains("not its commission"),
            "{}",
            err.message()
        );
    }
    // s2 was never refunded: it keeps no reversed amounts, and one for a
    // single line of its several is refused.
    let s2 = text.find("\"id\":\"s2\"").unwrap();
    let lines = s2 + text[s2..].find("\"lines\":[").unwrap();
    let bad = format!(
        "{}\"reversed\":[\"1.00\"],{}",
        &text[..lines],
        &text[lines..]
    );
    let err = Engine::from_snapshot_json(&bad).unwrap_err();
    assert_eq!(err.code(), "malformed");
    assert!(
        err.message().contains("reversed amounts for other lines"),
        "{}",
        err.message()
    );
    // Untouched, it restores.
    assert_eq!(
        Engine::from_snapshot_json(&text).unwrap().audit_head(),
        engine.audit_head()
    );
}
