//! Persistence: the [`Store`] trait and the in-memory [`MemoryStore`].
//!
//! A store keeps, for every applied event in order, its sequence number,
//! its JSON (the compact serde form, byte for byte as
//! `serde_json::to_string(&event)` gives it) and its audit hash. Records
//! (distributions, reversals, batches, ledger entries) are a pure function of
//! the events, so they are not stored: they are recomputed on replay and
//! their canonical bytes are part of every hash, so a verify by replay
//! proves events *and* records. Snapshots let a host skip most of a replay.
//!
//! The engine persists an event before it reports success
//! ([`Engine::apply`](crate::Engine::apply)); a failing store leaves the
//! engine unchanged and consistent with the store. A batch is appended in
//! one call, which a store makes atomic (one transaction): all or nothing.
//!
//! Many engines (processes, hosts) may share one store: every engine is a
//! replica of the state the log implies. An append is *conditional*, as in
//! event stores with an expected version: it stores events `head + 1 …`
//! only if the store's head is still `head`, else it fails with
//! [`ErrorKind::Conflict`] and stores nothing; the engine then catches up
//! and tries again (see `Engine::catch_up`). [`SharedStore`] lets engines
//! in one process share a store (tests, simulations).
//!
//! Conflicts are made cheap and fair by two optional parts of the
//! contract, each with a default in terms of the rest:
//! [`Store::append_or_missing`] answers a conflict with the stored events
//! the writer is missing (a database does it in the append's own round
//! trip, so a loser pays one round trip, not three), and
//! [`Store::lock_appends`] lets a writer that lost
//! [`LOCK_AFTER_CONFLICTS`] races in a row hold off every other writer's
//! append until its own is stored, so no event starves.
//!
//! A third optional part makes many writers of single events add up
//! rather than queue one behind the other: group commit across writers
//! ([`Store::hand_off`]). A writer that met contention queues its event
//! in the store and tries the append lock; whoever holds the lock takes
//! every queued event, stages them on its own replica with its own and
//! stores them in one append, with an answer per queued event (the seq it
//! was stored at, or none when it was refused) in the same transaction.
//! The other writers wait for that commit, catch up, and read their
//! answers. So one durable commit and one hand-off of the lock serve
//! every writer that was waiting.

pub mod ahead;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::audit::Hash;
use crate::error::{Error, ErrorKind, Result};

/// One applied event as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event's sequence number in the audit chain, from 1.
    pub seq: u64,
    /// The event's compact JSON.
    pub event: String,
    /// The audit hash after this event.
    pub hash: Hash,
}

/// How many events at most a conflict answer carries
/// ([`Store::append_or_missing`], [`Store::lock_appends`]); a writer
/// further behind is answered without them and scans.
pub const MAX_MISSING: usize = 10_000;

/// Conflicts in a row after which a writer takes its store's append lock
/// ([`Store::lock_appends`]) for its next attempt.
pub const LOCK_AFTER_CONFLICTS: usize = 3;

/// Groups (`apply_batch`, the columnar calls) of at least this many items
/// take the store's append lock before staging and send their stored
/// events ahead ([`Store::send_ahead`]: the first [`SEND_AHEAD_FIRST`],
/// then every [`SEND_AHEAD_EVERY`]), so that a store that streams them
/// writes the first while the engine stages the rest. The lock costs the round trip the catch-up query
/// would have.
pub const SEND_AHEAD_MIN: usize = 1_024;

/// Stored events per [`Store::send_ahead`] call in a large group, after
/// the first call ([`SEND_AHEAD_FIRST`]).
pub const SEND_AHEAD_EVERY: usize = 512;

/// Stored events in a large group's first [`Store::send_ahead`] call.
/// Small, so that the store gets the stream going soon after it granted
/// the append lock: until then the lock's transaction waits idle for the
/// engine (which a server's `idle_in_transaction_session_timeout` may
/// end), and afterwards the store can keep it busy.
pub const SEND_AHEAD_FIRST: usize = 64;

/// What a writer is missing after another writer appended first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The store's head when it answered (0 when it did not say).
    pub head: u64,
    /// The stored events after the writer's head, in order, or `None`
    /// when the store did not send them (more than the limit asked for,
    /// or a store that cannot): the writer then scans.
    pub events: Option<Vec<StoredEvent>>,
}

/// The answer to [`Store::append_or_missing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Every event was stored.
    Stored,
    /// Another writer appended first: nothing was stored.
    Conflict(Missing),
}

/// The answer to [`Store::try_lock_appends`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryLock {
    /// The lock is this handle's, as after [`Store::lock_appends`]: the
    /// events stored after the writer's head.
    Held(Missing),
    /// Another writer held the lock. The call waited until that writer's
    /// append was stored (or the lock released) and answers the events
    /// stored after the writer's head by then, for the writer to catch up
    /// outside the lock (beside the next holder) and try again.
    Busy(Missing),
}

/// An event another writer queued for the append lock's holder
/// ([`Store::hand_off`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The queue's number for it, unique in the store and increasing.
    pub ticket: u64,
    /// The event's compact JSON, as a [`StoredEvent`] holds it.
    pub event: String,
}

/// What became of a writer's queued event ([`HandOff::own`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ticket {
    /// Not answered yet: still in the queue, or taken out of it by this
    /// very call (it is then among [`HandOff::queued`]).
    #[default]
    Waiting,
    /// A holder stored it, at this `seq` (committed: the events of the
    /// same answer reach at least that far).
    Stored(u64),
    /// A holder took it out of the queue without storing it: it was
    /// refused on the holder's state, or was a retry of an event already
    /// stored, or unreadable. No one will store it: its writer applies
    /// it itself.
    Dropped,
}

/// The answer to [`Store::hand_off`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOff {
    /// The writer's event's number in the queue (the one given, or the
    /// one it was queued under by this call).
    pub ticket: u64,
    /// Whether this handle now holds the append lock, as after
    /// [`Store::lock_appends`], with the queue taken: `queued` holds
    /// every event that was queued, in ticket order, the writer's own
    /// among them while it was still queued. The holder stages them after
    /// catching up, gives [`Store::answer_queued`] the fate of each, and
    /// appends what it accepted with its own in one append (or releases
    /// the lock with [`Store::unlock_appends`], which stores the
    /// answers), so that a queued event is stored and answered, or
    /// neither.
    pub lead: bool,
    /// The stored events after the writer's head (as in
    /// [`Store::lock_appends`]). When `lead` is false, the call waited
    /// until the lock's holder committed (or released it), and the events
    /// reach at least as far as `own`'s seq.
    pub missing: Missing,
    /// With `lead`: the events taken out of the queue.
    pub queued: Vec<Queued>,
    /// What became of the writer's event, read before `missing`.
    pub own: Ticket,
}

/// Where an engine persists what it applied.
///
/// Implementations must make [`append`](Store::append) atomic and
/// conditional: after a crash or an error, either every event of the call
/// is stored or none is, and none is stored unless the first one directly
/// follows the store's head at the moment of the append.
pub trait Store: Send + fmt::Debug {
    /// Appends applied events (consecutive sequence numbers, in order) in
    /// one atomic step, *if* the first one's `seq` is the store's head + 1
    /// (the head the engine expects is `events[0].seq - 1`). When another
    /// writer appended first, fails with [`ErrorKind::Conflict`] (see
    /// [`conflict`]) and stores nothing. An empty slice stores nothing.
    fn append(&mut self, events: &[StoredEvent]) -> Result<()>;

    /// [`append`](Store::append), answering a conflict with what the
    /// writer is missing instead of an error: the stored events after the
    /// head the writer expected (`events[0].seq - 1`), at most `limit` of
    /// them (none, `events: None`, when there are more). A store whose
    /// append can read them back in the same round trip (one statement,
    /// one transaction) should do so: the loser of a race then pays one
    /// round trip, not three (append, head, scan). Any other error is
    /// returned as [`append`](Store::append) would. The default is
    /// [`append`](Store::append), then a [`scan`](Store::scan) on conflict.
    ///
    /// An empty slice stores nothing and answers [`Appended::Stored`].
    fn append_or_missing(&mut self, events: &[StoredEvent], limit: usize) -> Result<Appended> {
        let Some(first) = events.first() else {
            return Ok(Appended::Stored);
        };
        match self.append(events) {
            Ok(()) => Ok(Appended::Stored),
            Err(err) if err.kind() == ErrorKind::Conflict => Ok(Appended::Conflict(missing_after(
                self,
                first.seq.saturating_sub(1),
                limit,
            ))),
            Err(err) => Err(err),
        }
    }

    /// Takes this store's append lock, for a writer that keeps losing
    /// races: until this handle's next append is stored, or
    /// [`unlock_appends`](Store::unlock_appends), no other writer's append
    /// is stored, so that append cannot meet a conflict unless the writer
    /// is behind (and then its answer carries the missing events, and the
    /// lock is kept). Answers `Some` with the events stored after `after`
    /// (at most `limit`, as in [`append_or_missing`](Store::append_or_missing);
    /// `head` is the locked head), or `None` when the store has no such
    /// lock (the default): the writer then stays optimistic. A writer that
    /// dies holding the lock must not keep it (a database rolls back the
    /// dead connection's transaction).
    ///
    /// A handle may be asked again while it holds the lock: it then keeps
    /// it and answers the same way. The engine asks again after a conflict
    /// met under the lock, which means the store gave the lock up (a
    /// database connection idle in its transaction for too long is closed
    /// by the server, and with it the lock): the group is then staged
    /// again under a lock taken anew, not optimistically.
    fn lock_appends(&mut self, after: u64, limit: usize) -> Result<Option<Missing>> {
        let _ = (after, limit);
        Ok(None)
    }

    /// [`lock_appends`](Store::lock_appends) without queueing behind
    /// another holder: [`TryLock::Busy`] when one held it (see there).
    /// The default queues ([`lock_appends`](Store::lock_appends)).
    fn try_lock_appends(&mut self, after: u64, limit: usize) -> Result<Option<TryLock>> {
        Ok(self.lock_appends(after, limit)?.map(TryLock::Held))
    }

    /// Releases the append lock without appending (a writer that took it
    /// and then had nothing to store, or failed). Does nothing when this
    /// handle holds no lock (the default). A holder that took the queue
    /// ([`hand_off`](Store::hand_off)) and stores nothing releases it
    /// here, which stores the answers given to
    /// [`answer_queued`](Store::answer_queued) and removes the events
    /// taken from the queue, atomically.
    fn unlock_appends(&mut self) -> Result<()> {
        Ok(())
    }

    /// Sends `events` ahead of the append that will store them, while this
    /// handle holds the append lock ([`lock_appends`](Store::lock_appends)):
    /// a store that can write them while the writer stages the rest of a
    /// large group (PostgreSQL streams them into a `COPY` on a thread of
    /// its own) overlaps its work with the engine's. Nothing is stored,
    /// or visible to anyone, before that append commits.
    ///
    /// Each call's events follow the previous call's (consecutive `seq`s,
    /// the first after the lock's head). The next
    /// [`append_or_missing`](Store::append_or_missing) (or
    /// [`append`](Store::append)) takes the whole group, the events sent
    /// ahead first, and stores it or nothing, as it would have; that
    /// append, whatever its answer, or
    /// [`unlock_appends`](Store::unlock_appends) ends what was sent. A
    /// failure of the stream may be told by this call or by that append.
    ///
    /// Answers `false` when the store does not send ahead (the default,
    /// and any store without the lock held): the writer then gives the
    /// append every event, as without this call.
    ///
    /// The engine first calls it with no events, as soon as it holds the
    /// lock for a large group and before it catches up and stages: a
    /// store may begin its stream then (PostgreSQL's thread keeps the
    /// lock's transaction from idling into the server's
    /// `idle_in_transaction_session_timeout`). A store that needs no such
    /// start answers as for any call; `true` stores nothing by itself.
    fn send_ahead(&mut self, events: &[StoredEvent]) -> Result<bool> {
        let _ = events;
        Ok(false)
    }

    /// Group commit across writers: queues `event` (its compact JSON) for
    /// whichever writer holds the append lock, or with `ticket` the event
    /// this handle queued before under that number, then tries the append
    /// lock without queueing for it (as
    /// [`try_lock_appends`](Store::try_lock_appends)). Answers
    /// [`HandOff`]: either this handle holds the lock and has taken every
    /// queued event (`lead`), or it waited until the holder committed and
    /// reads what became of its event. `None` when the store has no queue
    /// (the default): the writer uses the lock alone. With `wait`, queues
    /// for the lock instead of trying it (always `lead` then, on a store
    /// with a lock): a writer whose event stayed queued too long.
    ///
    /// A queued event is either stored by a holder and answered
    /// [`Ticket::Stored`], or answered [`Ticket::Dropped`], or still
    /// queued: never stored without its answer. A writer that gives up
    /// on it takes it back with [`withdraw`](Store::withdraw).
    fn hand_off(
        &mut self,
        event: &str,
        ticket: Option<u64>,
        wait: bool,
        after: u64,
        limit: usize,
    ) -> Result<Option<HandOff>> {
        let _ = (event, ticket, wait, after, limit);
        Ok(None)
    }

    /// The lock holder's answers for the events it took from the queue
    /// ([`hand_off`](Store::hand_off)): for each ticket, the `seq` it was
    /// stored at, or `None` when it was not stored. They are stored with
    /// the holder's next append, in its transaction, or by
    /// [`unlock_appends`](Store::unlock_appends) when it appends nothing.
    /// The default (a store with no queue) does nothing.
    fn answer_queued(&mut self, answers: &[(u64, Option<u64>)]) -> Result<()> {
        let _ = answers;
        Ok(())
    }

    /// The lock holder's append ([`append_or_missing`](Store::append_or_missing)
    /// with no events asked back) that, once stored, takes the append lock
    /// and the queue again, in the same round trip: a holder that keeps
    /// leading while other writers queue, so each further group costs one
    /// round trip and one durable commit. Answers whether the events were
    /// stored and, when they were and the lock was free, the new hold as
    /// [`hand_off`](Store::hand_off) answers one with `lead` (`ticket` 0,
    /// `own` [`Ticket::Waiting`]; the events after the last one appended,
    /// at most `limit`). `None` when the lock was busy, or the store
    /// cannot: the lock is then not held. The default appends only.
    fn append_and_lead(
        &mut self,
        events: &[StoredEvent],
        limit: usize,
    ) -> Result<(Appended, Option<HandOff>)> {
        let _ = limit;
        Ok((self.append_or_missing(events, 0)?, None))
    }

    /// Takes this handle's queued event `ticket` back: `true` when it was
    /// still queued (no holder will store it now), `false` when a holder
    /// took it (its answer is then committed: ask with
    /// [`hand_off`](Store::hand_off) and the ticket). The default (a
    /// store with no queue) answers `true`.
    fn withdraw(&mut self, ticket: u64) -> Result<bool> {
        let _ = ticket;
        Ok(true)
    }

    /// The sequence number of the last stored event (0 when empty): what
    /// another writer's append must follow. The default scans the whole
    /// log; stores with an index on `seq` should answer directly.
    fn head(&self) -> Result<u64> {
        let mut head = 0;
        self.scan(1, &mut |event| {
            head = event.seq;
            Ok(())
        })?;
        Ok(head)
    }

    /// Calls `visit` for every stored event with `seq >= from`, in order.
    /// Stops at the first error `visit` returns and returns it.
    fn scan(&self, from: u64, visit: &mut dyn FnMut(StoredEvent) -> Result<()>) -> Result<()>;

    /// The stored audit hash of event `seq`, if it is stored. An engine
    /// with a store keeps only its audit head in memory and asks here when
    /// a host retries an older event. The default scans from `seq` and
    /// stops at the first event; stores with an index on `seq` should
    /// answer directly.
    fn hash_at(&self, seq: u64) -> Result<Option<Hash>> {
        let mut found = None;
        let mut stopped = false;
        let scanned = self.scan(seq, &mut |event| {
            if event.seq == seq {
                found = Some(event.hash);
            }
            stopped = true;
            Err(Error::general(
                ErrorKind::Internal,
                "stop at the first event",
            ))
        });
        match scanned {
            Err(_) if stopped => Ok(found),
            Err(err) => Err(err),
            Ok(()) => Ok(None),
        }
    }

    /// The audit format ([`crate::audit::FORMAT`]) the stored hashes were
    /// written with. [`Engine::open`](crate::Engine::open) refuses a store
    /// of another format with a `storage` error naming it. The default
    /// answers this build's format: a store that can hold books of an
    /// older build records the format it was created with.
    fn audit_format(&self) -> Result<u32> {
        Ok(crate::audit::FORMAT)
    }

    /// The latest snapshot and the sequence number it was taken at.
    fn latest_snapshot(&self) -> Result<Option<(u64, String)>>;

    /// Saves a snapshot of the state after event `seq`.
    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> Result<()>;
}

/// The stored events after `after`, at most `limit` (`events: None` when
/// there are more), by a [`Store::scan`]: what the default
/// [`Store::append_or_missing`] answers a conflict with. A failed scan
/// answers `events: None` too: the writer's own catch-up reports it.
pub fn missing_after<S: Store + ?Sized>(store: &S, after: u64, limit: usize) -> Missing {
    let mut events = Vec::new();
    let mut more = false;
    let scanned = store.scan(after.saturating_add(1), &mut |event| {
        if events.len() == limit {
            more = true;
            return Err(Error::general(ErrorKind::Internal, "stop: over the limit"));
        }
        events.push(event);
        Ok(())
    });
    let head = events.last().map_or(after, |e| e.seq);
    match scanned {
        Ok(()) => Missing {
            head,
            events: Some(events),
        },
        Err(_) => Missing { head, events: None },
    }
}

/// The error a store returns when an append does not follow its head:
/// `found` is the store's head, `first` the first sequence number offered.
pub fn conflict(found: u64, first: u64) -> Error {
    Error::general(
        ErrorKind::Conflict,
        format!(
            "another writer appended first: the store's head is event {found}, \
             the append starts at event {first}"
        ),
    )
}

/// Checks that `events` are consecutive and directly follow `head`; the
/// conditional part of [`Store::append`] for stores that know their head.
pub fn check_append(head: u64, events: &[StoredEvent]) -> Result<()> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    if first.seq != head.saturating_add(1) {
        return Err(conflict(head, first.seq));
    }
    for (i, event) in events.iter().enumerate() {
        if event.seq != first.seq.saturating_add(i as u64) {
            return Err(Error::general(
                ErrorKind::Internal,
                format!(
                    "an append of non-consecutive events: slot {i} has seq {}",
                    event.seq
                ),
            ));
        }
    }
    Ok(())
}

/// A store in memory: for tests, and for hosts that persist elsewhere.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    events: Vec<StoredEvent>,
    snapshot: Option<(u64, String)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The stored events, in order.
    pub fn events(&self) -> &[StoredEvent] {
        &self.events
    }

    /// Mutable access to the stored events, to simulate tampering in tests.
    pub fn events_mut(&mut self) -> &mut Vec<StoredEvent> {
        &mut self.events
    }

    /// A copy of `store` in memory: every stored event and its latest
    /// snapshot, read through the [`Store`] trait (so from any adapter).
    /// For tests, and for a host that takes a programme's books offline.
    /// Fails as `store`'s reads fail.
    ///
    /// ```
    /// use upline::{Engine, MemoryStore};
    ///
    /// let mut engine = Engine::open(Box::new(MemoryStore::new()))?;
    /// engine.apply_json(r#"{"type":"member_joined","member":"a","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#)?;
    /// engine.save_snapshot()?;
    /// let copy = MemoryStore::copy_of(engine.store().unwrap())?;
    /// assert_eq!(copy.events().len(), 1);
    /// assert_eq!(Engine::open(Box::new(copy))?.audit_head(), engine.audit_head());
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn copy_of(store: &dyn Store) -> Result<MemoryStore> {
        let mut copy = MemoryStore::new();
        store.scan(1, &mut |event| {
            copy.events.push(event);
            Ok(())
        })?;
        copy.snapshot = store.latest_snapshot()?;
        Ok(copy)
    }
}

impl Store for MemoryStore {
    fn append(&mut self, events: &[StoredEvent]) -> Result<()> {
        check_append(self.events.last().map_or(0, |e| e.seq), events)?;
        self.events.extend_from_slice(events);
        Ok(())
    }

    fn head(&self) -> Result<u64> {
        Ok(self.events.last().map_or(0, |e| e.seq))
    }

    fn scan(&self, from: u64, visit: &mut dyn FnMut(StoredEvent) -> Result<()>) -> Result<()> {
        let start = self.events.partition_point(|e| e.seq < from);
        for event in &self.events[start..] {
            visit(event.clone())?;
        }
        Ok(())
    }

    fn hash_at(&self, seq: u64) -> Result<Option<Hash>> {
        let at = self.events.partition_point(|e| e.seq < seq);
        Ok(self.events.get(at).filter(|e| e.seq == seq).map(|e| e.hash))
    }

    fn latest_snapshot(&self) -> Result<Option<(u64, String)>> {
        Ok(self.snapshot.clone())
    }

    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> Result<()> {
        self.snapshot = Some((seq, snapshot.to_string()));
        Ok(())
    }
}

/// One store shared by many engines in one process: each handle
/// ([`Clone`]) is a [`Store`] on the same data, and each call holds the
/// lock for its whole duration, so a conditional append is atomic. For
/// tests and simulations of many writers without a database.
///
/// ```
/// use upline::{Engine, MemoryStore, SharedStore};
///
/// let store = SharedStore::new(MemoryStore::new());
/// let mut first = Engine::open(Box::new(store.clone()))?;
/// let mut second = Engine::open(Box::new(store.clone()))?;
/// first.apply_json(r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#)?;
/// // `second` is behind: its append conflicts, it catches up and appends after.
/// second.apply_json(r#"{"type":"member_joined","member":"bob","sponsor":"ann","at":"2026-01-01T00:00:00Z"}"#)?;
/// first.catch_up()?;
/// assert_eq!(first.audit_head(), second.audit_head());
/// assert_eq!(first.audit_head().seq, 2);
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct SharedStore<S> {
    inner: Arc<Mutex<S>>,
}

impl<S> Clone for SharedStore<S> {
    fn clone(&self) -> Self {
        SharedStore {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Store> SharedStore<S> {
    /// Shares `store`.
    pub fn new(store: S) -> Self {
        SharedStore {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// Locks the shared store, for a test that inspects or changes it.
    pub fn lock(&self) -> Result<MutexGuard<'_, S>> {
        self.inner.lock().map_err(|_| {
            Error::general(
                ErrorKind::Storage,
                "the shared store's lock is poisoned (a holder panicked)",
            )
        })
    }
}

impl<S: Store> Store for SharedStore<S> {
    fn append(&mut self, events: &[StoredEvent]) -> Result<()> {
        self.lock()?.append(events)
    }

    fn append_or_missing(&mut self, events: &[StoredEvent], limit: usize) -> Result<Appended> {
        // Under one lock: the missing events are those the conflict met.
        self.lock()?.append_or_missing(events, limit)
    }

    fn lock_appends(&mut self, after: u64, limit: usize) -> Result<Option<Missing>> {
        self.lock()?.lock_appends(after, limit)
    }

    fn try_lock_appends(&mut self, after: u64, limit: usize) -> Result<Option<TryLock>> {
        self.lock()?.try_lock_appends(after, limit)
    }

    fn unlock_appends(&mut self) -> Result<()> {
        self.lock()?.unlock_appends()
    }

    fn send_ahead(&mut self, events: &[StoredEvent]) -> Result<bool> {
        self.lock()?.send_ahead(events)
    }

    fn hand_off(
        &mut self,
        event: &str,
        ticket: Option<u64>,
        wait: bool,
        after: u64,
        limit: usize,
    ) -> Result<Option<HandOff>> {
        self.lock()?.hand_off(event, ticket, wait, after, limit)
    }

    fn answer_queued(&mut self, answers: &[(u64, Option<u64>)]) -> Result<()> {
        self.lock()?.answer_queued(answers)
    }

    fn append_and_lead(
        &mut self,
        events: &[StoredEvent],
        limit: usize,
    ) -> Result<(Appended, Option<HandOff>)> {
        self.lock()?.append_and_lead(events, limit)
    }

    fn withdraw(&mut self, ticket: u64) -> Result<bool> {
        self.lock()?.withdraw(ticket)
    }

    fn head(&self) -> Result<u64> {
        self.lock()?.head()
    }

    fn scan(&self, from: u64, visit: &mut dyn FnMut(StoredEvent) -> Result<()>) -> Result<()> {
        self.lock()?.scan(from, visit)
    }

    fn hash_at(&self, seq: u64) -> Result<Option<Hash>> {
        self.lock()?.hash_at(seq)
    }

    fn audit_format(&self) -> Result<u32> {
        self.lock()?.audit_format()
    }

    fn latest_snapshot(&self) -> Result<Option<(u64, String)>> {
        self.lock()?.latest_snapshot()
    }

    fn save_snapshot(&mut self, seq: u64, snapshot: &str) -> Result<()> {
        self.lock()?.save_snapshot(seq, snapshot)
    }
}
