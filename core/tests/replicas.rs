//! Many writers, one log: conditional appends, catching up, the same
//! webhook at two workers, followers, and tampering met while catching up.
//! Engines share one in-memory store ([`SharedStore`]).

use upline::{
    Engine, ErrorKind, Event, Hash, MemoryStore, Outcome, SharedStore, Store, StoredEvent,
};

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

fn shared() -> SharedStore<MemoryStore> {
    SharedStore::new(MemoryStore::new())
}

fn open(store: &SharedStore<MemoryStore>) -> Engine {
    Engine::open(Box::new(store.clone())).unwrap()
}

fn stored(seq: u64) -> StoredEvent {
    StoredEvent {
        seq,
        event: "{}".into(),
        hash: Hash::ZERO,
    }
}

#[test]
fn an_append_that_does_not_follow_the_head_is_a_conflict_and_stores_nothing() {
    let mut store = MemoryStore::new();
    store.append(&[stored(1), stored(2)]).unwrap();
    assert_eq!(store.head().unwrap(), 2);
    for first in [1, 2, 4] {
        let err = store.append(&[stored(first)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.code(), "conflict");
    }
    assert_eq!(store.events().len(), 2);
    store.append(&[stored(3)]).unwrap();
    assert_eq!(store.head().unwrap(), 3);
}

#[test]
fn a_writer_behind_catches_up_and_appends_after_the_others() {
    let store = shared();
    let mut a = open(&store);
    let mut b = open(&store);
    a.apply(&join("ann", None)).unwrap();
    a.apply(&join("bob", Some("ann"))).unwrap();
    // b has seen nothing: its sale by bob is judged on the store's state.
    let applied = b.apply(&sale("s1", "bob", "100.00")).unwrap();
    assert_eq!(applied.seq, 3);
    let Outcome::Distribution(d) = &applied.outcome else {
        panic!("a sale distributes")
    };
    assert_eq!(d.lines[0].earner.as_ref(), "ann");
    assert_eq!(d.lines[0].amount.to_string(), "20.00");
    assert_eq!(a.catch_up().unwrap(), b.audit_head());
    assert_eq!(a.snapshot_json(), b.snapshot_json());
    assert_eq!(store.lock().unwrap().events().len(), 3);
}

#[test]
fn the_same_webhook_at_two_workers_is_stored_once_and_the_second_gets_the_stored_result() {
    let store = shared();
    let mut a = open(&store);
    a.apply_batch(&[join("ann", None), join("bob", Some("ann"))])
        .unwrap();
    let mut b = open(&store);
    let first = a.apply(&sale("s1", "bob", "80.00")).unwrap();
    assert!(!first.replayed);
    let second = b.apply(&sale("s1", "bob", "80.00")).unwrap();
    assert!(second.replayed, "the second delivery is a retry");
    assert_eq!((second.seq, second.hash), (first.seq, first.hash));
    // In a batch too, with a new sale after it.
    let c = b
        .apply_batch(&[sale("s1", "bob", "80.00"), sale("s2", "bob", "10.00")])
        .unwrap();
    assert!(c[0].as_ref().unwrap().replayed);
    assert_eq!(c[1].as_ref().unwrap().seq, 4);
    let sales = store
        .lock()
        .unwrap()
        .events()
        .iter()
        .filter(|e| e.event.contains("\"s1\""))
        .count();
    assert_eq!(sales, 1);
    // Other content under the same id is still refused.
    let err = a.apply(&sale("s1", "bob", "81.00")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateId);
}

/// A store that lets another writer append just before the next append
/// of the engine that owns it.
struct Intruder {
    inner: SharedStore<MemoryStore>,
    before_append: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for Intruder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Intruder")
    }
}

impl Store for Intruder {
    fn append(&mut self, events: &[StoredEvent]) -> upline::Result<()> {
        if let Some(intrude) = self.before_append.lock().unwrap().take() {
            intrude();
        }
        self.inner.append(events)
    }
    fn head(&self) -> upline::Result<u64> {
        self.inner.head()
    }
    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        self.inner.scan(from, visit)
    }
    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.inner.latest_snapshot()
    }
    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> upline::Result<()> {
        self.inner.save_snapshot(seq, snapshot)
    }
}

#[test]
fn a_batch_that_meets_a_conflict_is_staged_again_after_the_other_writers_events() {
    let store = shared();
    let mut setup = open(&store);
    setup
        .apply_batch(&[join("ann", None), join("bob", Some("ann"))])
        .unwrap();
    let mut other = open(&store);
    let intrude: Box<dyn FnOnce() + Send> = Box::new(move || {
        other.apply(&sale("theirs", "bob", "50.00")).unwrap();
    });
    let mut mine = Engine::open(Box::new(Intruder {
        inner: store.clone(),
        before_append: std::sync::Mutex::new(Some(intrude)),
    }))
    .unwrap();
    let results = mine
        .apply_batch(&[sale("m1", "bob", "10.00"), sale("m2", "ann", "20.00")])
        .unwrap();
    let seqs: Vec<u64> = results.iter().map(|r| r.as_ref().unwrap().seq).collect();
    assert_eq!(
        seqs,
        [4, 5],
        "staged again after the other writer's event 3"
    );
    let events = store.lock().unwrap().events().to_vec();
    assert!(events[2].event.contains("\"theirs\""));
    assert!(events[3].event.contains("\"m1\""));
    assert_eq!(mine.verify().unwrap(), mine.audit_head());
    assert_eq!(setup.catch_up().unwrap(), mine.audit_head());
}

#[test]
fn the_same_for_a_single_event_met_by_a_conflict() {
    let store = shared();
    let mut setup = open(&store);
    setup
        .apply_batch(&[join("ann", None), join("bob", Some("ann"))])
        .unwrap();
    let mut other = open(&store);
    let intrude: Box<dyn FnOnce() + Send> = Box::new(move || {
        // The same webhook, delivered to the other worker first.
        other.apply(&sale("s1", "bob", "50.00")).unwrap();
    });
    let mut mine = Engine::open(Box::new(Intruder {
        inner: store.clone(),
        before_append: std::sync::Mutex::new(Some(intrude)),
    }))
    .unwrap();
    let applied = mine.apply(&sale("s1", "bob", "50.00")).unwrap();
    assert!(applied.replayed);
    assert_eq!(applied.seq, 3);
    assert_eq!(store.lock().unwrap().events().len(), 3);
}

/// A store where another writer always wins.
#[derive(Debug, Default)]
struct AlwaysBehind(MemoryStore);

impl Store for AlwaysBehind {
    fn append(&mut self, events: &[StoredEvent]) -> upline::Result<()> {
        Err(upline::store::conflict(
            events[0].seq,
            events.first().map_or(0, |e| e.seq),
        ))
    }
    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        self.0.scan(from, visit)
    }
    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        Ok(None)
    }
    fn save_snapshot(&mut self, _: u64, _: &str) -> upline::Result<()> {
        Ok(())
    }
}

#[test]
fn endless_conflicts_reach_the_host_as_conflict_after_the_bounded_attempts() {
    let mut engine = Engine::open(Box::<AlwaysBehind>::default()).unwrap();
    let before = engine.snapshot_json();
    let err = engine.apply(&join("ann", None)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.message()
            .contains(&upline::limits::MAX_APPEND_ATTEMPTS.to_string()),
        "{err}"
    );
    let err = engine.apply_batch(&[join("ann", None)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(engine.snapshot_json(), before, "nothing changed");
}

#[test]
fn a_follower_refuses_writes_and_catches_up() {
    let store = shared();
    let mut writer = open(&store);
    let mut follower = Engine::open_follower(Box::new(store.clone())).unwrap();
    assert!(follower.is_follower());
    writer.apply(&join("ann", None)).unwrap();
    let err = follower.apply(&join("bob", Some("ann"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly);
    assert_eq!(err.code(), "read_only");
    assert!(err.message().contains("follower"), "{err}");
    let err = follower
        .apply_batch(&[join("bob", Some("ann"))])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly);
    assert_eq!(follower.audit_head().seq, 0);
    assert_eq!(follower.catch_up().unwrap(), writer.audit_head());
    assert_eq!(follower.upline("ann", 1).unwrap().len(), 0);
    assert_eq!(store.lock().unwrap().events().len(), 1);
}

#[test]
fn tampering_met_while_catching_up_is_reported_at_its_event() {
    let store = shared();
    let mut a = open(&store);
    a.apply_batch(&[join("ann", None), join("bob", Some("ann"))])
        .unwrap();
    let mut b = open(&store);
    for i in 0..4 {
        a.apply(&sale(&format!("s{i}"), "bob", "10.00")).unwrap();
    }
    // Event 5 (the third sale) is rewritten in the store.
    store.lock().unwrap().events_mut()[4].event =
        serde_json::to_string(&sale("s2", "bob", "99.00")).unwrap();
    let err = b.catch_up().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
    assert!(err.message().contains("event 5"), "{err}");
    assert_eq!(b.audit_head().seq, 4, "the events before it were applied");
}

#[test]
fn a_replica_whose_head_is_not_on_the_stored_chain_is_refused() {
    let store = shared();
    let mut a = open(&store);
    a.apply(&join("ann", None)).unwrap();
    let mut b = open(&store);
    a.apply(&join("bob", Some("ann"))).unwrap();
    // Rewrite history under b: event 1 gets another content and hash.
    {
        let mut guard = store.lock().unwrap();
        let events = guard.events_mut();
        events[0].hash = Hash([7; 32]);
    }
    let err = b.catch_up().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
    assert!(err.message().contains("event 1"), "{err}");
}

/// The columnar path follows the many-writers protocol too: a replica that
/// is behind catches up before it stages its rows (so a buyer who joined at
/// another writer is known), the rows land after the other writer's events,
/// and a follower's columns are refused.
#[test]
fn columns_at_a_replica_behind_catch_up_first_and_followers_refuse_them() {
    use upline::engine::columns::{Amounts, SaleColumns, Times};
    let store = shared();
    let mut a = open(&store);
    let mut b = open(&store);
    a.apply(&join("ann", None)).unwrap();
    a.apply(&join("bob", Some("ann"))).unwrap();
    let columns = SaleColumns {
        sale: &["s1", "s2"],
        buyer: &["bob", "bob"],
        amount: Amounts::Text(&["100.00", "50.00"]),
        currency: &["USD", "USD"],
        at: Times::Text(&["2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"]),
        category: None,
    };
    let results = b.apply_sale_columns(&columns, false).unwrap();
    assert!(results.errors.is_empty(), "{:?}", results.errors);
    assert_eq!(results.seq, [3, 4]);
    assert_eq!(a.catch_up().unwrap(), b.audit_head());
    let balances = a.balances("ann", "USD", "2026-02-03T00:00:00Z").unwrap();
    assert_eq!(balances.pending.to_string(), "30.00");
    let mut follower = Engine::open_follower(Box::new(store.clone())).unwrap();
    let err = follower.apply_sale_columns(&columns, false).unwrap_err();
    assert_eq!(err.code(), "read_only");
}

/// A store where another writer appends a sale just before each of this
/// handle's appends, unless this handle holds the append lock (when
/// `lockable`). Counts this handle's scans and appends.
struct Racing {
    inner: SharedStore<MemoryStore>,
    other: Engine,
    next: u64,
    lockable: bool,
    locked: bool,
    counts: std::sync::Arc<std::sync::Mutex<(u64, u64, u64)>>,
}

impl std::fmt::Debug for Racing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Racing")
    }
}

impl Store for Racing {
    fn append(&mut self, events: &[StoredEvent]) -> upline::Result<()> {
        self.inner.append(events)
    }
    fn append_or_missing(
        &mut self,
        events: &[StoredEvent],
        limit: usize,
    ) -> upline::Result<upline::store::Appended> {
        self.counts.lock().unwrap().0 += 1;
        if !self.locked {
            self.next += 1;
            let id = format!("theirs{}", self.next);
            self.other.apply(&sale(&id, "bob", "5.00")).unwrap();
        }
        let answer = self.inner.append_or_missing(events, limit)?;
        if answer == upline::store::Appended::Stored {
            self.locked = false;
        }
        Ok(answer)
    }
    fn lock_appends(
        &mut self,
        after: u64,
        limit: usize,
    ) -> upline::Result<Option<upline::store::Missing>> {
        if !self.lockable {
            return Ok(None);
        }
        self.counts.lock().unwrap().2 += 1;
        self.locked = true;
        let store = self.inner.lock()?;
        Ok(Some(upline::store::missing_after(&*store, after, limit)))
    }
    fn unlock_appends(&mut self) -> upline::Result<()> {
        self.locked = false;
        Ok(())
    }
    fn head(&self) -> upline::Result<u64> {
        self.inner.head()
    }
    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        self.counts.lock().unwrap().1 += 1;
        self.inner.scan(from, visit)
    }
    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.inner.latest_snapshot()
    }
    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> upline::Result<()> {
        self.inner.save_snapshot(seq, snapshot)
    }
}

type Counts = std::sync::Arc<std::sync::Mutex<(u64, u64, u64)>>;

fn racing(lockable: bool) -> (SharedStore<MemoryStore>, Engine, Counts) {
    let store = shared();
    let mut setup = open(&store);
    setup
        .apply_batch(&[join("ann", None), join("bob", Some("ann"))])
        .unwrap();
    let counts = Counts::default();
    let mine = Engine::open(Box::new(Racing {
        inner: store.clone(),
        other: open(&store),
        next: 0,
        lockable,
        locked: false,
        counts: counts.clone(),
    }))
    .unwrap();
    *counts.lock().unwrap() = (0, 0, 0);
    (store, mine, counts)
}

#[test]
fn a_conflict_answered_with_the_missing_events_needs_no_scan_and_the_lock_settles_the_race() {
    let (store, mut mine, counts) = racing(true);
    let applied = mine.apply(&sale("mine", "bob", "10.00")).unwrap();
    let (appends, scans, locks) = *counts.lock().unwrap();
    // Three races lost, each answered with the other's event (no scan),
    // then the lock: the other writer is held off and the append stored.
    assert_eq!((appends, scans, locks), (4, 0, 1));
    assert_eq!(applied.seq, 6, "after the other writer's three sales");
    let events = store.lock().unwrap().events().to_vec();
    assert!(events[5].event.contains("\"mine\""));
    assert_eq!(mine.verify().unwrap(), mine.audit_head());
    // The next event queues for the lock at once (contention was met):
    // stored at the first append.
    *counts.lock().unwrap() = (0, 0, 0);
    mine.apply(&sale("mine2", "ann", "20.00")).unwrap();
    assert_eq!(*counts.lock().unwrap(), (1, 0, 1));
}

#[test]
fn without_a_lock_a_writer_that_always_loses_gets_conflict_after_the_bounded_attempts() {
    let (store, mut mine, counts) = racing(false);
    let before = store.lock().unwrap().events().len();
    let err = mine.apply(&sale("mine", "bob", "10.00")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let (appends, scans, _) = *counts.lock().unwrap();
    assert_eq!(appends, upline::limits::MAX_APPEND_ATTEMPTS as u64);
    assert_eq!(scans, 0, "every conflict answer carried the missing events");
    let events = store.lock().unwrap().events().to_vec();
    assert_eq!(events.len(), before + upline::limits::MAX_APPEND_ATTEMPTS);
    assert!(events.iter().all(|e| !e.event.contains("\"mine\"")));
    // It caught up with every one of them, hash-checked.
    assert_eq!(mine.audit_head().seq, events.len() as u64);
}

#[test]
fn a_conflict_answer_whose_events_do_not_match_the_chain_is_tampered() {
    let store = shared();
    let mut setup = open(&store);
    setup
        .apply_batch(&[join("ann", None), join("bob", Some("ann"))])
        .unwrap();
    let mut mine = open(&store);
    setup.apply(&sale("theirs", "bob", "50.00")).unwrap();
    store.lock().unwrap().events_mut()[2].event =
        serde_json::to_string(&sale("forged", "bob", "50.00")).unwrap();
    let err = mine.apply(&sale("mine", "bob", "10.00")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
    assert_eq!(err.field(), Some("seq"));
    assert!(err.message().contains("stored event 3"), "{err}");
    assert_eq!(mine.audit_head().seq, 2, "nothing applied past the forgery");
}

/// Sales as columns, every row in USD at one instant.
fn sale_columns<'a>(
    ids: &'a [&'a str],
    buyers: &'a [&'a str],
    amounts: &'a [&'a str],
) -> upline::engine::columns::SaleColumns<'a> {
    use upline::engine::columns::{Amounts, SaleColumns, Times};
    SaleColumns {
        sale: ids,
        buyer: buyers,
        amount: Amounts::Text(amounts),
        currency: &["USD"; 8][..ids.len()],
        at: Times::Text(&["2026-02-01T00:00:00Z"; 8][..ids.len()]),
        category: None,
    }
}

/// A columnar call whose append meets another writer's (who stored the
/// same sale first, and a join the call's second row needs) is staged
/// again on the caught-up state: every row stored once, the first as a
/// retry, the lines from the final staging, both replicas on one head.
#[test]
fn columns_met_by_a_conflict_catch_up_and_store_every_row_once() {
    for lines in [false, true] {
        let store = shared();
        let mut setup = open(&store);
        setup
            .apply_batch(&[join("ann", None), join("bob", Some("ann"))])
            .unwrap();
        let mut other = open(&store);
        let intrude: Box<dyn FnOnce() + Send> = Box::new(move || {
            other.apply(&join("cy", Some("bob"))).unwrap();
            other.apply(&sale("s1", "bob", "100.00")).unwrap();
        });
        let mut mine = Engine::open(Box::new(Intruder {
            inner: store.clone(),
            before_append: std::sync::Mutex::new(Some(intrude)),
        }))
        .unwrap();
        let columns = sale_columns(&["s1", "s2"], &["bob", "cy"], &["100.00", "50.00"]);
        let out = mine.apply_sale_columns(&columns, lines).unwrap();
        // The first staging refused s2 (cy unknown there): the results
        // are the final staging's.
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.seq, [4, 5]);
        assert_eq!(out.replayed, [true, false]);
        let events = store.lock().unwrap().events().to_vec();
        assert_eq!(events.len(), 5);
        assert_eq!(
            events.iter().filter(|e| e.event.contains("\"s1\"")).count(),
            1
        );
        assert!(events[4].event.contains("\"s2\""));
        assert_eq!(out.hash[1], events[4].hash);
        if lines {
            let got = out.lines.as_ref().unwrap();
            let s2: Vec<(u8, String, String)> = (0..got.row.len())
                .filter(|&i| got.row[i] == 1)
                .map(|i| {
                    let earner = got.earner[i].to_string();
                    (got.level[i], earner, got.amount[i].to_string())
                })
                .collect();
            assert_eq!(
                s2,
                [
                    (1, "bob".to_string(), "10.00".to_string()),
                    (2, "ann".to_string(), "7.50".to_string())
                ]
            );
        }
        assert_eq!(mine.verify().unwrap(), mine.audit_head());
        assert_eq!(setup.catch_up().unwrap(), mine.audit_head());
        assert_eq!(setup.snapshot_json(), mine.snapshot_json());
        let fresh = open(&store);
        assert_eq!(fresh.audit_head(), mine.audit_head());
        for engine in [&setup, &mine, &fresh] {
            let ann = engine.balances("ann", "USD", "2026-02-03T00:00:00Z");
            assert_eq!(ann.unwrap().pending.to_string(), "27.50");
            let bob = engine.balances("bob", "USD", "2026-02-03T00:00:00Z");
            assert_eq!(bob.unwrap().pending.to_string(), "10.00");
        }
    }
}

/// A columnar writer that loses a race takes the store's append lock and
/// stores its rows at the next append; its next call queues for the lock
/// at once, as a batch does.
#[test]
fn columns_that_lose_a_race_take_the_append_lock() {
    let (store, mut mine, counts) = racing(true);
    let columns = sale_columns(&["m1", "m2"], &["bob", "ann"], &["10.00", "20.00"]);
    let out = mine.apply_sale_columns(&columns, false).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.seq, [4, 5], "after the other writer's sale 3");
    let (appends, _, locks) = *counts.lock().unwrap();
    assert_eq!((appends, locks), (2, 1), "lost once, then the lock");
    *counts.lock().unwrap() = (0, 0, 0);
    let columns = sale_columns(&["m3"], &["bob"], &["30.00"]);
    let out = mine.apply_sale_columns(&columns, false).unwrap();
    assert_eq!(out.seq, [6]);
    let (appends, scans, locks) = *counts.lock().unwrap();
    assert_eq!((appends, scans, locks), (1, 0, 1), "locked before staging");
    let events = store.lock().unwrap().events().to_vec();
    let mine_stored: Vec<u64> = events
        .iter()
        .filter(|e| {
            ["\"m1\"", "\"m2\"", "\"m3\""]
                .iter()
                .any(|id| e.event.contains(id))
        })
        .map(|e| e.seq)
        .collect();
    assert_eq!(mine_stored, [4, 5, 6]);
    assert!(events[2].event.contains("\"theirs1\""));
    assert_eq!(mine.verify().unwrap(), mine.audit_head());
    let fresh = open(&store);
    assert_eq!(fresh.audit_head(), mine.audit_head());
    assert_eq!(fresh.snapshot_json(), mine.snapshot_json());
}

/// Without a lock, a columnar writer that always loses gets `conflict`
/// after the bounded attempts, stores nothing, and has caught up.
#[test]
fn columns_that_always_lose_get_conflict_after_the_bounded_attempts() {
    let (store, mut mine, counts) = racing(false);
    let before = store.lock().unwrap().events().len();
    let columns = sale_columns(&["m1"], &["bob"], &["10.00"]);
    let err = mine.apply_sale_columns(&columns, false).unwrap_err();
    assert_eq!(err.code(), "conflict");
    let (appends, _, _) = *counts.lock().unwrap();
    assert_eq!(appends, upline::limits::MAX_APPEND_ATTEMPTS as u64);
    let events = store.lock().unwrap().events().to_vec();
    assert_eq!(events.len(), before + upline::limits::MAX_APPEND_ATTEMPTS);
    assert!(events.iter().all(|e| !e.event.contains("\"m1\"")));
    assert_eq!(mine.audit_head().seq, events.len() as u64);
    assert_eq!(mine.verify().unwrap(), mine.audit_head());
}

/// A store with an append lock that records whether this handle holds it
/// and how often it was taken (a stored append releases it, as the
/// contract says).
#[derive(Debug)]
struct Held {
    inner: SharedStore<MemoryStore>,
    held: std::sync::Arc<std::sync::atomic::AtomicBool>,
    locks: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store for Held {
    fn append(&mut self, events: &[StoredEvent]) -> upline::Result<()> {
        self.inner.append(events)?;
        self.held.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    fn lock_appends(
        &mut self,
        after: u64,
        limit: usize,
    ) -> upline::Result<Option<upline::store::Missing>> {
        self.locks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.held.store(true, std::sync::atomic::Ordering::SeqCst);
        let store = self.inner.lock()?;
        Ok(Some(upline::store::missing_after(&*store, after, limit)))
    }
    fn unlock_appends(&mut self) -> upline::Result<()> {
        self.held.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    fn head(&self) -> upline::Result<u64> {
        self.inner.head()
    }
    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        self.inner.scan(from, visit)
    }
    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.inner.latest_snapshot()
    }
    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> upline::Result<()> {
        self.inner.save_snapshot(seq, snapshot)
    }
}

/// A columnar call that finds other writers' appends takes the lock
/// before staging (its rows cannot meet a conflict), and the lock is
/// released however the call ends: stored, nothing to store, or refused.
#[test]
fn columns_behind_lock_before_staging_and_always_release_the_lock() {
    use std::sync::atomic::Ordering::SeqCst;
    let store = shared();
    let mut setup = open(&store);
    setup
        .apply_batch(&[join("ann", None), join("bob", Some("ann"))])
        .unwrap();
    let held = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let locks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut mine = Engine::open(Box::new(Held {
        inner: store.clone(),
        held: held.clone(),
        locks: locks.clone(),
    }))
    .unwrap();
    setup.apply(&sale("theirs", "bob", "50.00")).unwrap();
    let out = mine
        .apply_sale_columns(&sale_columns(&["m1"], &["bob"], &["10.00"]), false)
        .unwrap();
    assert_eq!(out.seq, [4]);
    assert_eq!(locks.load(SeqCst), 1, "behind: locked before staging");
    assert!(!held.load(SeqCst), "the stored append released it");
    // Under contention the next call locks at once; every row refused
    // means nothing to append: the lock is released all the same.
    let before = store.lock().unwrap().events().len();
    let out = mine
        .apply_sale_columns(&sale_columns(&["m2"], &["nobody"], &["10.00"]), false)
        .unwrap();
    assert_eq!(out.seq, [0]);
    assert_eq!(out.errors[0].0, 0);
    assert_eq!(out.errors[0].1.code(), "unknown_member");
    assert_eq!(locks.load(SeqCst), 2);
    assert!(!held.load(SeqCst), "released with nothing stored");
    assert_eq!(store.lock().unwrap().events().len(), before);
    // Joins and refunds as columns go the same way.
    use upline::engine::columns::{Amounts, JoinColumns, RefundColumns, Times};
    let out = mine
        .apply_join_columns(&JoinColumns {
            member: &["cy"],
            sponsor: &[Some("bob")],
            at: Times::Text(&["2026-01-02T00:00:00Z"]),
        })
        .unwrap();
    assert_eq!(out.seq, [5]);
    let out = mine
        .apply_refund_columns(&RefundColumns {
            refund: &["r1"],
            sale: &["m1"],
            amount: Amounts::Text(&["10.00"]),
            at: Times::Text(&["2026-02-02T00:00:00Z"]),
        })
        .unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.seq, [6]);
    assert_eq!(locks.load(SeqCst), 4);
    assert!(!held.load(SeqCst));
    assert_eq!(setup.catch_up().unwrap(), mine.audit_head());
}

/// A follower refuses every columnar write with `read_only` and changes
/// nothing, in memory or in the store.
#[test]
fn a_follower_refuses_columns_and_changes_nothing() {
    use upline::engine::columns::{Amounts, JoinColumns, RefundColumns, Times};
    let store = shared();
    let mut writer = open(&store);
    writer
        .apply_batch(&[
            join("ann", None),
            join("bob", Some("ann")),
            sale("s1", "bob", "100.00"),
        ])
        .unwrap();
    let mut follower = Engine::open_follower(Box::new(store.clone())).unwrap();
    let head = follower.audit_head();
    let snapshot = follower.snapshot_json();
    let errors = [
        follower
            .apply_join_columns(&JoinColumns {
                member: &["cy"],
                sponsor: &[Some("bob")],
                at: Times::Text(&["2026-01-02T00:00:00Z"]),
            })
            .unwrap_err(),
        follower
            .apply_sale_columns(&sale_columns(&["s2"], &["bob"], &["10.00"]), true)
            .unwrap_err(),
        follower
            .apply_refund_columns(&RefundColumns {
                refund: &["r1"],
                sale: &["s1"],
                amount: Amounts::Text(&["10.00"]),
                at: Times::Text(&["2026-02-02T00:00:00Z"]),
            })
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::ReadOnly);
        assert_eq!(err.code(), "read_only");
        assert!(err.message().contains("follower"), "{err}");
    }
    assert_eq!(follower.audit_head(), head);
    assert_eq!(follower.snapshot_json(), snapshot);
    assert_eq!(store.lock().unwrap().events().len(), 3);
    assert_eq!(writer.catch_up().unwrap(), head);
}
