//! Group commit across writers ([`Store::hand_off`]), the engine's side.
//!
//! A writer whose event another writer's lock holder stored gets the
//! answer it would have got applying the event itself, records and
//! entries included. An event the holder found a retry, or refused, is
//! the writer's own to apply: it gets its own retry or its own refusal,
//! and nothing is stored twice. A writer that takes the lock stores the
//! whole queue with its own event and answers every ticket.
//!
//! The store keeps its queue in memory and plays the other writer itself:
//! when told another writer holds the lock, its `hand_off` lets that
//! writer (an engine of its own on the same log) store the queue, as a
//! database's holder would before the waiting writer's read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use upline::store::{missing_after, Appended, HandOff, Missing, Queued, Ticket};
use upline::{Applied, Engine, ErrorKind, Event, MemoryStore, SharedStore, Store, StoredEvent};

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

fn refund_of_unknown_sale(id: &str) -> Event {
    Event::from_json(
        &serde_json::json!({"type": "refund_recorded", "refund": id, "sale": "nope",
            "amount": "1.00", "at": "2026-02-02T00:00:00Z"})
        .to_string(),
    )
    .unwrap()
}

/// The queue, the answers and the lock, shared by every handle.
#[derive(Default)]
struct World {
    queue: Vec<Queued>,
    answers: HashMap<u64, Option<u64>>,
    next_ticket: u64,
    /// The handle holding the lock, the queue it took, its answers.
    holder: Option<usize>,
    taken: Vec<Queued>,
    pending: Vec<(u64, Option<u64>)>,
    /// Another writer holds the lock at the next `hand_off`: it stores
    /// the queue with `other`, then lets the lock go.
    other_holds: bool,
    other: Option<Engine>,
    /// Events the other writer took from the queue.
    taken_by_other: usize,
}

#[derive(Clone)]
struct Queueing {
    inner: SharedStore<MemoryStore>,
    world: Arc<Mutex<World>>,
    id: usize,
}

impl std::fmt::Debug for Queueing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queueing")
    }
}

impl Queueing {
    /// Ends this handle's hold: its answers stored and the queue it took
    /// consumed (`keep`), or the taking rolled back.
    fn release(&self, keep: bool) {
        let mut world = self.world.lock().unwrap();
        if world.holder != Some(self.id) {
            return;
        }
        world.holder = None;
        let taken = std::mem::take(&mut world.taken);
        let pending = std::mem::take(&mut world.pending);
        if keep {
            world.answers.extend(pending);
        } else {
            let rest = std::mem::take(&mut world.queue);
            world.queue = taken.into_iter().chain(rest).collect();
        }
    }
}

fn own_ticket(answers: &HashMap<u64, Option<u64>>, ticket: u64) -> Ticket {
    match answers.get(&ticket) {
        None => Ticket::Waiting,
        Some(Some(seq)) => Ticket::Stored(*seq),
        Some(None) => Ticket::Dropped,
    }
}

impl Store for Queueing {
    fn append(&mut self, events: &[StoredEvent]) -> upline::Result<()> {
        match self.append_or_missing(events, 0)? {
            Appended::Stored => Ok(()),
            Appended::Conflict(missing) => {
                Err(upline::store::conflict(missing.head, events[0].seq))
            }
        }
    }

    fn append_or_missing(
        &mut self,
        events: &[StoredEvent],
        limit: usize,
    ) -> upline::Result<Appended> {
        let appended = self.inner.append_or_missing(events, limit)?;
        self.release(appended == Appended::Stored);
        Ok(appended)
    }

    fn lock_appends(&mut self, after: u64, limit: usize) -> upline::Result<Option<Missing>> {
        self.world.lock().unwrap().holder = Some(self.id);
        Ok(Some(missing_after(&self.inner, after, limit)))
    }

    fn unlock_appends(&mut self) -> upline::Result<()> {
        let answered = !self.world.lock().unwrap().pending.is_empty();
        self.release(answered);
        Ok(())
    }

    fn hand_off(
        &mut self,
        event: &str,
        ticket: Option<u64>,
        _wait: bool,
        after: u64,
        limit: usize,
    ) -> upline::Result<Option<HandOff>> {
        let mut world = self.world.lock().unwrap();
        let ticket = ticket.unwrap_or_else(|| {
            world.next_ticket += 1;
            let ticket = world.next_ticket;
            world.queue.push(Queued {
                ticket,
                event: event.to_string(),
            });
            ticket
        });
        if world.other_holds {
            // The other writer's holder takes the queue and stores what it
            // accepts, each ticket answered, then lets the lock go.
            world.other_holds = false;
            let queued = std::mem::take(&mut world.queue);
            let mut other = world.other.take().unwrap();
            other.catch_up().unwrap();
            for item in queued {
                let answer = match other.apply(&Event::from_json(&item.event).unwrap()) {
                    Ok(applied) if !applied.replayed => Some(applied.seq),
                    _ => None,
                };
                world.answers.insert(item.ticket, answer);
                world.taken_by_other += 1;
            }
            world.other = Some(other);
            let own = own_ticket(&world.answers, ticket);
            return Ok(Some(HandOff {
                ticket,
                lead: false,
                missing: missing_after(&self.inner, after, limit),
                queued: Vec::new(),
                own,
            }));
        }
        world.holder = Some(self.id);
        world.taken = std::mem::take(&mut world.queue);
        let own = own_ticket(&world.answers, ticket);
        Ok(Some(HandOff {
            ticket,
            lead: true,
            missing: missing_after(&self.inner, after, limit),
            queued: world.taken.clone(),
            own,
        }))
    }

    fn answer_queued(&mut self, answers: &[(u64, Option<u64>)]) -> upline::Result<()> {
        self.world
            .lock()
            .unwrap()
            .pending
            .extend_from_slice(answers);
        Ok(())
    }

    fn withdraw(&mut self, ticket: u64) -> upline::Result<bool> {
        let mut world = self.world.lock().unwrap();
        let before = world.queue.len();
        world.queue.retain(|q| q.ticket != ticket);
        Ok(world.queue.len() < before)
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

    fn hash_at(&self, seq: u64) -> upline::Result<Option<upline::Hash>> {
        self.inner.hash_at(seq)
    }

    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.inner.latest_snapshot()
    }

    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> upline::Result<()> {
        self.inner.save_snapshot(seq, snapshot)
    }
}

/// What applying the stored log one event at a time answers at `seq`.
fn replayed_answer(inner: &SharedStore<MemoryStore>, seq: u64) -> Applied {
    let mut reference = Engine::new();
    let mut found = None;
    inner
        .scan(1, &mut |stored| {
            let applied = reference.apply(&Event::from_json(&stored.event)?)?;
            assert_eq!(applied.hash, stored.hash);
            if stored.seq == seq {
                found = Some(applied);
            }
            Ok(())
        })
        .unwrap();
    found.expect("the seq is stored")
}

#[test]
fn handed_off_events_are_stored_once_with_the_answers_their_writers_would_get() {
    let inner = SharedStore::new(MemoryStore::new());
    let world = Arc::new(Mutex::new(World::default()));
    let mut base = Engine::open(Box::new(inner.clone())).unwrap();
    for (member, sponsor) in [("ann", None), ("bob", Some("ann")), ("cy", Some("bob"))] {
        base.apply(&join(member, sponsor)).unwrap();
    }
    world.lock().unwrap().other = Some(Engine::open(Box::new(inner.clone())).unwrap());
    let mut writer = Engine::open(Box::new(Queueing {
        inner: inner.clone(),
        world: Arc::clone(&world),
        id: 1,
    }))
    .unwrap();
    // Another writer appends; the writer's batch finds it behind, which
    // marks it contended: its next single events are handed off.
    base.apply(&join("dan", Some("cy"))).unwrap();
    for result in writer.apply_batch(&[join("eve", Some("dan"))]).unwrap() {
        result.unwrap();
    }
    assert_eq!(writer.audit_head().seq, 5);

    // 1. The writer takes the lock: it stores the queue (another writer's
    //    sale and a refund nobody can apply) with its own sale.
    {
        let mut world = world.lock().unwrap();
        let queued = [
            (1001, sale("s-other", "cy", "50.00")),
            (1002, refund_of_unknown_sale("r-bad")),
        ];
        for (ticket, event) in queued {
            world.queue.push(Queued {
                ticket,
                event: serde_json::to_string(&event).unwrap(),
            });
        }
    }
    let led = writer.apply(&sale("s1", "eve", "100.00")).unwrap();
    assert!(!led.replayed);
    assert_eq!(
        led,
        replayed_answer(&inner, led.seq),
        "the holder's own answer"
    );
    assert!(!led.entries.is_empty());
    {
        let world = world.lock().unwrap();
        assert_eq!(
            world.answers[&1001],
            Some(6),
            "the other writer's sale, stored first"
        );
        assert_eq!(world.answers[&1002], None, "the refund, refused: dropped");
        assert!(world.queue.is_empty() && world.holder.is_none());
    }
    assert_eq!((led.seq, inner.head().unwrap()), (7, 7));

    // 2. Another writer holds the lock and stores the writer's sale: the
    //    writer's answer is the one applying it would give, entries too.
    world.lock().unwrap().other_holds = true;
    let waited = writer.apply(&sale("s2", "eve", "80.00")).unwrap();
    assert_eq!(world.lock().unwrap().taken_by_other, 1);
    assert!(!waited.replayed);
    assert_eq!(waited.seq, 8);
    assert_eq!(waited, replayed_answer(&inner, 8), "a waiter's answer");
    assert!(!waited.entries.is_empty());

    // 3. The same sale again, while another writer holds the lock: that
    //    holder finds a retry and drops it; the writer's own retry answers.
    world.lock().unwrap().other_holds = true;
    let again = writer.apply(&sale("s2", "eve", "80.00")).unwrap();
    assert!(again.replayed);
    assert_eq!((again.seq, again.hash), (waited.seq, waited.hash));
    assert_eq!(inner.head().unwrap(), 8, "stored once");

    // 4. A refund nobody can apply: the holder drops it, and the writer
    //    gets the refusal applying it alone gives. Nothing is stored.
    world.lock().unwrap().other_holds = true;
    let refused = writer.apply(&refund_of_unknown_sale("r-1")).unwrap_err();
    let alone = Engine::new()
        .apply(&refund_of_unknown_sale("r-1"))
        .unwrap_err();
    assert_eq!(refused.kind(), alone.kind());
    assert_ne!(refused.kind(), ErrorKind::Storage);
    assert_eq!(inner.head().unwrap(), 8);

    // Every replica agrees with the log, and nothing is left queued.
    assert_eq!(writer.verify().unwrap(), writer.audit_head());
    assert_eq!(writer.audit_head().seq, 8);
    assert!(world.lock().unwrap().queue.is_empty());
}
