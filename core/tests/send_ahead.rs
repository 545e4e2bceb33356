//! A large group's events sent ahead of its append ([`Store::send_ahead`]),
//! the engine's side.
//!
//! A batch of at least `SEND_AHEAD_MIN` events takes the store's append
//! lock before staging, tells the store at once (an empty part), and sends
//! its stored events ahead in consecutive parts; its append begins with
//! them. Its answers equal a lone engine's.
//! A store whose stream fails, at a part or at the append, stores none of
//! the batch, and the engine rolls back to the store's state.
//!
//! The store keeps its log in memory, has a lock, and records the parts.

use std::sync::{Arc, Mutex};

use upline::store::{
    check_append, missing_after, Missing, SEND_AHEAD_EVERY, SEND_AHEAD_FIRST, SEND_AHEAD_MIN,
};
use upline::{Engine, Error, ErrorKind, Event, MemoryStore, Store, StoredEvent};

fn join(member: &str, sponsor: Option<&str>) -> Event {
    Event::from_json(
        &serde_json::json!({"type": "member_joined", "member": member, "sponsor": sponsor,
            "at": "2026-01-01T00:00:00Z"})
        .to_string(),
    )
    .unwrap()
}

fn sale(id: &str, buyer: &str, amount: &str) -> Event {
    Event::from_json(
        &serde_json::json!({"type": "sale_recorded", "sale": id, "buyer": buyer,
            "amount": amount, "currency": "USD", "at": "2026-02-01T00:00:00Z"})
        .to_string(),
    )
    .unwrap()
}

/// A log in memory with an append lock that takes events sent ahead.
#[derive(Debug, Default)]
struct Streaming {
    log: MemoryStore,
    locked: bool,
    /// The events sent ahead since the lock was taken.
    sent: Vec<StoredEvent>,
    /// Every part's length, in order, over the store's life.
    parts: Arc<Mutex<Vec<usize>>>,
    /// Fail the part with this index (counting every part ever sent).
    fail_part: Option<usize>,
    /// Fail the append that follows parts sent ahead.
    fail_append: bool,
    /// Store the next group's append, then answer it with an error (a
    /// connection cut at the commit).
    lose_answer: bool,
}

fn broken(what: &str) -> Error {
    Error::general(ErrorKind::Storage, format!("the stream broke at {what}"))
}

impl Store for Streaming {
    fn append(&mut self, events: &[StoredEvent]) -> upline::Result<()> {
        let sent = std::mem::take(&mut self.sent);
        self.locked = false;
        if !sent.is_empty() {
            assert!(
                events.len() >= sent.len() && events[..sent.len()] == sent[..],
                "the append begins with the events sent ahead"
            );
            if self.fail_append {
                return Err(broken("the append"));
            }
        }
        if std::mem::take(&mut self.lose_answer) && events.len() > 1 {
            self.log.append(events)?;
            return Err(broken("the answer"));
        }
        self.log.append(events)
    }

    fn lock_appends(&mut self, after: u64, limit: usize) -> upline::Result<Option<Missing>> {
        self.locked = true;
        self.sent.clear();
        Ok(Some(missing_after(&self.log, after, limit)))
    }

    fn unlock_appends(&mut self) -> upline::Result<()> {
        self.locked = false;
        self.sent.clear();
        Ok(())
    }

    fn send_ahead(&mut self, events: &[StoredEvent]) -> upline::Result<bool> {
        assert!(self.locked, "events are sent ahead under the lock only");
        let after = self
            .sent
            .last()
            .map_or(self.log.events().last().map_or(0, |e| e.seq), |e| e.seq);
        check_append(after, events)?;
        let mut parts = self.parts.lock().unwrap();
        if self.fail_part == Some(parts.len()) {
            return Err(broken("a part"));
        }
        parts.push(events.len());
        self.sent.extend_from_slice(events);
        Ok(true)
    }

    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.log.latest_snapshot()
    }

    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> upline::Result<()> {
        self.log.save_snapshot(seq, snapshot)
    }

    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        self.log.scan(from, visit)
    }
}

/// 40 members in a chain, on `engine`.
fn members(engine: &mut Engine) {
    for i in 0..40 {
        let sponsor = (i > 0).then(|| format!("m{}", i - 1));
        engine
            .apply(&join(&format!("m{i}"), sponsor.as_deref()))
            .unwrap();
    }
}

/// `n` sales from `from`; every 9th is a retry of sale 0, every 13th has
/// an unknown buyer.
fn sales(from: usize, n: usize) -> Vec<Event> {
    (from..from + n)
        .map(|k| match k {
            k if k % 13 == 5 => sale(&format!("x{k}"), "nobody", "1.00"),
            k if k % 9 == 4 => sale("s0", "m3", "12.34"),
            k => sale(&format!("s{k}"), &format!("m{}", k % 40), "12.34"),
        })
        .collect()
}

#[test]
fn a_large_batch_sends_its_events_ahead_and_answers_as_a_lone_engine() {
    let store = Streaming::default();
    let parts = Arc::clone(&store.parts);
    let mut engine = Engine::open(Box::new(store)).unwrap();
    let mut lone = Engine::new();
    members(&mut engine);
    members(&mut lone);
    let first = sales(0, 10);
    engine.apply_batch(&first).unwrap();
    lone.apply_batch(&first).unwrap();
    let batch = sales(10, SEND_AHEAD_MIN + 1_500);
    let ours = engine.apply_batch(&batch).unwrap();
    let theirs = lone.apply_batch(&batch).unwrap();
    for (k, (a, b)) in ours.into_iter().zip(theirs).enumerate() {
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "event {k}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "event {k}"),
            (a, b) => panic!("event {k}: {a:?} against {b:?}"),
        }
    }
    assert_eq!(engine.audit_head(), lone.audit_head());
    let store = engine.store().unwrap();
    assert_eq!(store.head().unwrap(), lone.audit_head().seq);
    // Small batches never sent ahead; the large one begun empty as the
    // lock was granted, then a short first part, then full parts (40
    // members and 8 sales before it).
    let stored = (lone.audit_head().seq - 48) as usize;
    let mut expected = vec![0, SEND_AHEAD_FIRST];
    expected.extend(vec![
        SEND_AHEAD_EVERY;
        (stored - SEND_AHEAD_FIRST) / SEND_AHEAD_EVERY
    ]);
    assert_eq!(*parts.lock().unwrap(), expected);
    // A reopened engine agrees.
    let copy = MemoryStore::copy_of(store).unwrap();
    assert_eq!(
        Engine::open(Box::new(copy)).unwrap().audit_head(),
        lone.audit_head()
    );
}

#[test]
fn a_stream_that_fails_stores_none_of_the_batch_and_the_engine_rolls_back() {
    // The empty start, the first part, a later part; the append.
    for (fail_part, fail_append) in [
        (Some(0), false),
        (Some(1), false),
        (Some(2), false),
        (None, true),
    ] {
        let store = Streaming {
            fail_part,
            fail_append,
            ..Streaming::default()
        };
        let mut engine = Engine::open(Box::new(store)).unwrap();
        members(&mut engine);
        let before = engine.audit_head();
        let snapshot = engine.snapshot_json();
        let err = engine
            .apply_batch(&sales(0, SEND_AHEAD_MIN + 1_500))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        assert!(err.to_string().contains("the stream broke"), "{err}");
        assert_eq!(engine.audit_head(), before);
        assert_eq!(
            engine.snapshot_json(),
            snapshot,
            "nothing of the batch kept"
        );
        assert_eq!(engine.store().unwrap().head().unwrap(), before.seq);
        // The engine writes on: a small batch, then the large one again
        // once the store streams.
        engine.apply_batch(&sales(0, 10)).unwrap();
        assert_eq!(engine.audit_head().seq, before.seq + 8);
    }
}

#[test]
fn a_group_stored_whose_answer_was_lost_is_acknowledged_as_staged() {
    for n in [10, SEND_AHEAD_MIN + 1_500] {
        let store = Streaming::default();
        let mut engine = Engine::open(Box::new(store)).unwrap();
        let mut lone = Engine::new();
        members(&mut engine);
        members(&mut lone);
        // The next append is stored, and answered with an error.
        let copy = MemoryStore::copy_of(engine.store().unwrap()).unwrap();
        let mut store = Streaming {
            log: copy,
            lose_answer: true,
            ..Streaming::default()
        };
        store
            .log
            .save_snapshot(40, &engine.snapshot_json())
            .unwrap();
        let mut engine = Engine::open(Box::new(store)).unwrap();
        let batch = sales(0, n);
        let ours = engine.apply_batch(&batch).unwrap();
        let theirs = lone.apply_batch(&batch).unwrap();
        for (k, (a, b)) in ours.into_iter().zip(theirs).enumerate() {
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{n}: event {k}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{n}: event {k}"),
                (a, b) => panic!("{n}: event {k}: {a:?} against {b:?}"),
            }
        }
        assert_eq!(engine.audit_head(), lone.audit_head(), "{n}");
        assert_eq!(
            engine.store().unwrap().head().unwrap(),
            lone.audit_head().seq,
            "{n}: stored once"
        );
        // The engine writes on.
        engine.apply_batch(&sales(n, 10)).unwrap();
        lone.apply_batch(&sales(n, 10)).unwrap();
        assert_eq!(engine.audit_head(), lone.audit_head(), "{n}");
    }
}
