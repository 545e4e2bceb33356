//! A stored log with one event's bytes changed: `verify_store` never
//! panics, and any change to the stored text is detected at that event or
//! (for a change that keeps the text decodable and canonical) no later.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use upline::{Engine, MemoryStore};

fn pristine() -> &'static MemoryStore {
    static STORE: OnceLock<MemoryStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut engine = Engine::open(Box::new(MemoryStore::new())).expect("memory store");
        let mut events = Vec::new();
        for i in 0..8 {
            let sponsor = if i == 0 { "null".to_string() } else { format!("\"m{}\"", i - 1) };
            events.push(format!(r#"{{"type":"member_joined","member":"m{i}","sponsor":{sponsor},"at":"2026-01-01T00:00:00Z"}}"#));
        }
        events.push(r#"{"type":"sale_recorded","sale":"s1","buyer":"m7","amount":"100.00","currency":"USD","at":"2026-01-02T00:00:00Z"}"#.into());
        events.push(r#"{"type":"refund_recorded","refund":"r1","sale":"s1","amount":"10.00","at":"2026-01-03T00:00:00Z"}"#.into());
        for event in events {
            engine.apply_json(&event).expect("valid");
        }
        let mut store = MemoryStore::new();
        upline::Store::scan(engine.store().expect("has a store"), 1, &mut |e| {
            upline::Store::append(&mut store, &[e])
        })
        .expect("scan");
        store
    })
}

fuzz_target!(|input: (u8, u16, Vec<u8>)| {
    let (which, offset, replacement) = input;
    let mut store = pristine().clone();
    let events = store.events_mut();
    let index = usize::from(which) % events.len();
    let mut bytes = events[index].event.clone().into_bytes();
    let at = usize::from(offset) % (bytes.len() + 1);
    let end = (at + replacement.len().min(4)).min(bytes.len());
    bytes.splice(at..end, replacement.iter().copied().take(8));
    let Ok(text) = String::from_utf8(bytes) else {
        return;
    };
    let changed = text != events[index].event;
    events[index].event = text;
    let seq = events[index].seq;
    match upline::engine::verify_store(&store).expect("memory store cannot fail") {
        Ok(head) => assert!(
            !changed,
            "a changed event {seq} verified (head {})",
            head.seq
        ),
        Err(at) => assert_eq!(at.seq, seq, "the change was reported at the wrong event"),
    }
});
