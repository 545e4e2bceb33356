//! Many writers, one log: the engine as a replica of a shared store.
//!
//! Several engines (gunicorn workers, a Node cluster, several hosts) may
//! open the same store. The log is the single source of truth and every
//! engine is a replica of the state it implies. Concurrency is optimistic,
//! as in event stores with an expected version: an append stores events
//! `head + 1 …` only if the store's head is still the engine's head,
//! else the store answers `conflict` and stores nothing. The engine then
//! catches up (reads what the others appended, applying each event and
//! checking its recomputed hash against the stored one), stages the host's
//! events again on the new state and appends again, at most
//! [`MAX_APPEND_ATTEMPTS`] times, without sleeping. Idempotency does the
//! rest: the same webhook delivered to two workers is stored once, and the
//! second worker gets the stored result back as a retry.
//!
//! Conflicts are cheap: the store's answer carries the events the engine
//! is missing (`Store::append_or_missing`), applied with the same hash
//! check as a catch-up. And fair: after `LOCK_AFTER_CONFLICTS` lost races
//! in a row the engine takes the store's append lock
//! (`Store::lock_appends`), which holds the other writers' appends off
//! until its own is stored, and queues for it at once on its next calls
//! while others keep writing ([`CONTENDED_CALLS`]). A batch that finds
//! other writers takes the lock before staging, so it is never rolled
//! back by a reload.
//!
//! This module owns that protocol: the write paths of an engine with a
//! store, [`Engine::catch_up`], and read-only followers. It does not own
//! staging or committing an event (the engine's), nor how a store makes an
//! append atomic and conditional (the store's).

use super::persist::replay_events;
use super::{replay_stored, storage, stored_event, tampered, Engine, Staged};
use crate::audit::Head;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Applied, Event};
use crate::limits::MAX_APPEND_ATTEMPTS;
use crate::store::{
    conflict, Appended, Missing, Store, StoredEvent, TryLock, LOCK_AFTER_CONFLICTS, MAX_MISSING,
    SEND_AHEAD_EVERY, SEND_AHEAD_FIRST, SEND_AHEAD_MIN,
};

/// Tries for the append lock without queueing before a batch queues for
/// it (see `try_lock_store`).
pub const LOCK_TRIES: usize = 4;

/// Calls (`apply`, `apply_batch`) that take the store's append lock before
/// staging once this writer met contention: a batch that found other
/// writers' appends (a batch that meets a conflict is rolled back by a
/// reload; one staged under the lock cannot meet one), or a single event
/// that needed the lock. Each call whose lock answer carries other
/// writers' events starts the count again; when they stop, single events
/// are optimistic again after this many calls (batches keep the lock: see
/// `lock_if_contended`).
pub const CONTENDED_CALLS: u8 = 8;

/// Where a group's results go, one slot per item
/// ([`Engine::apply_group_stored`]): a vector for
/// [`apply_batch`](Engine::apply_batch), columns for the columnar calls.
pub(super) trait Slots {
    /// Fills item `k`'s slot; items come in order, each once an attempt.
    fn fill(&mut self, k: usize, result: Result<Applied>);
}

impl Slots for Vec<Result<Applied>> {
    fn fill(&mut self, _: usize, result: Result<Applied>) {
        self.push(result);
    }
}

impl Engine {
    /// A read-only replica of `store`: like [`open`](Self::open), but
    /// every change is refused with `read_only`; [`catch_up`](Self::catch_up)
    /// brings it up to date (for dashboards and read replicas).
    pub fn open_follower(store: Box<dyn Store>) -> Result<Engine> {
        let mut engine = Engine::open(store)?;
        engine.follower = true;
        Ok(engine)
    }

    /// Whether this engine is a read-only follower.
    pub fn is_follower(&self) -> bool {
        self.follower
    }

    /// Brings this replica up to date with its store: applies every event
    /// other writers appended after this engine's head, checking each
    /// recomputed audit hash against the stored one (`tampered` at the
    /// first that differs, with the events before it applied). Returns the
    /// new head. `storage` when the engine has no store. An engine that
    /// lost its store after a failed group commit is reloaded from it.
    ///
    /// Hosts call it (as `refresh` in the bindings) before reading, when
    /// they want what the other processes wrote; writes catch up by
    /// themselves when they meet a `conflict`.
    pub fn catch_up(&mut self) -> Result<Head> {
        let Some(store) = self.store.take() else {
            return Err(Error::general(
                ErrorKind::Storage,
                "this engine has no store to catch up with",
            ));
        };
        if self.broken.is_some() {
            return self.reload(store).map(|()| self.audit_head());
        }
        let replayed = replay_stored(self, store.as_ref());
        self.store = Some(store);
        match replayed? {
            Ok(()) => Ok(self.audit_head()),
            Err(at) => Err(tampered(at.seq)),
        }
    }

    /// [`apply`](Self::apply) with a store: stage, append, and on
    /// `conflict` take the missing events from the store's answer and
    /// stage again; after [`LOCK_AFTER_CONFLICTS`] conflicts in a row, take
    /// the store's append lock first, so the next append is stored.
    pub(super) fn apply_stored(&mut self, event: &Event) -> Result<Applied> {
        self.refuse_follower()?;
        self.heal();
        let mut locked = false;
        let applied = self.apply_stored_attempts(event, &mut locked);
        if locked {
            self.unlock_store();
        }
        applied
    }

    fn apply_stored_attempts(&mut self, event: &Event, locked: &mut bool) -> Result<Applied> {
        // Under contention, hand the event to the lock's holder (group
        // commit across writers, `handoff.rs`), or, on a store without a
        // queue or for an event a holder dropped, queue for the lock at
        // once rather than lose races first.
        if self.contended > 0 {
            if let Some(applied) = self.apply_handed_off(event)? {
                return Ok(applied);
            }
        }
        self.lock_if_contended(locked, true, false)?;
        let mut caught_up = *locked;
        let mut conflicts = 0;
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let (link, effects) = match self.stage(event) {
                Ok(Staged::Retry(applied)) => return Ok(applied),
                Ok(Staged::New(link, effects)) => (link, effects),
                // A stale replica may refuse what another writer made
                // valid (a sale by a member who joined there): judge once
                // more on the store's latest state.
                Err(err) if !caught_up && self.behind()? => {
                    drop(err);
                    self.catch_up()?;
                    caught_up = true;
                    continue;
                }
                Err(err) => return Err(err),
            };
            if conflicts >= LOCK_AFTER_CONFLICTS && !*locked {
                // Lost too many races: hold the others off. The lock's
                // answer carries what was appended meanwhile; stage again
                // on it unless nothing was.
                let head = self.audit_head().seq;
                self.lock_store(locked, false)?;
                if *locked {
                    self.contended = CONTENDED_CALLS;
                    if self.audit_head().seq != head {
                        continue;
                    }
                }
            }
            let record = stored_event(event, &link)?;
            let appended = match self.store.as_mut() {
                Some(store) => store.append_or_missing(&[record], MAX_MISSING),
                None => Err(no_store()),
            };
            match appended {
                Ok(Appended::Stored) => {
                    let applied = self.commit(link, effects);
                    self.forget_persisted_hashes();
                    return Ok(applied);
                }
                Ok(Appended::Conflict(missing)) => {
                    conflicts += 1;
                    self.take_missing(missing)?;
                    caught_up = true;
                }
                // A store that reports the conflict as an error.
                Err(err) if err.kind() == ErrorKind::Conflict => {
                    conflicts += 1;
                    self.catch_up()?;
                    caught_up = true;
                }
                Err(err) => return Err(storage(err)),
            }
        }
        Err(exhausted())
    }

    /// [`apply_batch`](Self::apply_batch) with a store: the events as a
    /// group ([`apply_group_stored`](Self::apply_group_stored)), each
    /// group of sales read ahead first (`warm.rs`).
    pub(super) fn apply_batch_stored(&mut self, events: &[Event]) -> Result<Vec<Result<Applied>>> {
        self.apply_group_stored(
            events.len(),
            || Vec::with_capacity(events.len()),
            |engine, k, stored| {
                if k.is_multiple_of(super::warm::GROUP) {
                    let group = &events[k..events.len().min(k + super::warm::GROUP)];
                    std::hint::black_box(engine.warm_events(group));
                }
                engine.stage_into(&events[k], stored)
            },
        )
    }

    /// A group of `items` applied with a store, in one conditional append
    /// (group commit): the write path of [`apply_batch`](Self::apply_batch)
    /// and of the columnar calls (`columns.rs`).
    ///
    /// `stage_item(engine, k, stored)` stages item `k` on `engine` and
    /// commits it in memory ([`stage_into`](Self::stage_into)), pushing its
    /// stored form to `stored`; its result fills slot `k` of a fresh
    /// `empty()` each attempt ([`Slots`]). Staging a group commits each
    /// item in memory (later items read earlier ones), so a failed append
    /// rolls back by reloading from the store, which also catches up, and
    /// the group is staged again. An append that failed only in its answer
    /// (a connection cut at the commit) is found stored by that reload
    /// (its last event, with its hash) and acknowledged as staged. A
    /// writer that finds other writers'
    /// appends takes the store's append lock before staging its next
    /// [`CONTENDED_CALLS`] groups, so they cannot meet a conflict and are
    /// never rolled back. The lock is always released before returning.
    pub(super) fn apply_group_stored<R: Slots>(
        &mut self,
        items: usize,
        empty: impl Fn() -> R,
        mut stage_item: impl FnMut(&mut Engine, usize, &mut Vec<StoredEvent>) -> Result<Applied>,
    ) -> Result<R> {
        self.refuse_follower()?;
        self.heal();
        let mut locked = false;
        let results = self.apply_group_attempts(items, &empty, &mut stage_item, &mut locked);
        if locked {
            self.unlock_store();
        }
        results
    }

    fn apply_group_attempts<R: Slots>(
        &mut self,
        items: usize,
        empty: &impl Fn() -> R,
        stage_item: &mut impl FnMut(&mut Engine, usize, &mut Vec<StoredEvent>) -> Result<Applied>,
        locked: &mut bool,
    ) -> Result<R> {
        // Under contention, lock at once; a large group too, to send its
        // events ahead while it stages them (trying first, so that while
        // another writer holds the lock this one catches up beside it).
        let large = items >= SEND_AHEAD_MIN;
        self.lock_if_contended(locked, false, large)?;
        if !*locked && large {
            self.try_lock_store(locked, large)?;
        }
        // Else catching up first is one cheap query and makes a conflict,
        // and the reload it costs, rare; finding others' appends there
        // means they are writing too: this group and the next few lock.
        if !*locked && self.behind()? {
            self.contended = CONTENDED_CALLS;
            self.lock_store(locked, large)?;
            if !*locked {
                self.catch_up()?;
            }
        }
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let mut results = empty();
            let mut stored = Vec::new();
            // Sent ahead so far (`Store::send_ahead`), while the store takes them.
            let mut ahead = (*locked && large).then_some(0);
            let mut failed = None;
            for k in 0..items {
                let result = stage_item(self, k, &mut stored);
                results.fill(k, result);
                let due = |sent: usize| match sent {
                    0 => SEND_AHEAD_FIRST,
                    _ => SEND_AHEAD_EVERY,
                };
                let Some(sent) = ahead.filter(|&sent| stored.len() - sent >= due(sent)) else {
                    continue;
                };
                match self.store.as_mut().map(|s| s.send_ahead(&stored[sent..])) {
                    Some(Ok(true)) => ahead = Some(stored.len()),
                    Some(Ok(false)) | None => ahead = None,
                    Some(Err(err)) => {
                        failed = Some(err);
                        break;
                    }
                }
            }
            if stored.is_empty() && failed.is_none() {
                return Ok(results);
            }
            // A part that failed left the group unstaged past it and never
            // appended: only an append's lost answer may hide a stored group.
            let attempted = failed.is_none();
            // The reload below reads the missing events anyway: the
            // answer need not carry them.
            let appended = match (failed, self.store.as_mut()) {
                (Some(err), _) => Err(err),
                (None, Some(store)) => store.append_or_missing(&stored, 0),
                (None, None) => Err(no_store()),
            };
            let err = match appended {
                Ok(Appended::Stored) => {
                    self.forget_persisted_hashes();
                    return Ok(results);
                }
                Ok(Appended::Conflict(missing)) => conflict(missing.head, stored[0].seq),
                Err(err) => err,
            };
            if !self.undo_group(&err) {
                return Err(storage(err));
            }
            if err.kind() != ErrorKind::Conflict {
                // An append whose answer was lost (the connection cut at
                // its commit) may have been stored: the store, reloaded,
                // then holds this group's last event and hash, and with
                // them (the chain) the whole group as staged.
                return match stored.last().filter(|_| attempted) {
                    Some(last) if self.hash_at(last.seq).ok() == Some(last.hash) => {
                        self.forget_persisted_hashes();
                        Ok(results)
                    }
                    _ => Err(storage(err)),
                };
            }
            self.contended = CONTENDED_CALLS;
            // Also when the lock was taken: a conflict under it means the
            // store gave it up (a connection the server would have ended
            // for idling in its transaction, see `upline-postgres`), and
            // a store that still holds it only reads what is missing.
            self.lock_store(locked, large)?;
        }
        Err(exhausted())
    }

    /// Rolls back a group staged and committed in memory whose append
    /// failed with `err`, by reloading from the store (which also catches
    /// up). `false` when the store could not be read back either: the
    /// engine then refuses every later change until the host reopens it
    /// (or a later call's reload succeeds), rather than drift from it.
    pub(super) fn undo_group(&mut self, err: &Error) -> bool {
        let Some(store) = self.store.take() else {
            return true;
        };
        match self.reload(store) {
            Ok(()) => true,
            Err(reload) => {
                self.broken = Some(format!("{err}; reloading failed: {reload}"));
                false
            }
        }
    }

    /// Stages `event` and commits it in memory, pushing its stored form to
    /// `stored` for the group's append (one item of
    /// [`apply_group_stored`](Self::apply_group_stored)).
    pub(super) fn stage_into(
        &mut self,
        event: &Event,
        stored: &mut Vec<StoredEvent>,
    ) -> Result<Applied> {
        match self.stage(event)? {
            Staged::Retry(applied) => Ok(applied),
            Staged::New(link, effects) => {
                stored.push(stored_event(event, &link)?);
                Ok(self.commit(link, effects))
            }
        }
    }

    /// Takes the store's append lock when this writer met contention
    /// lately ([`CONTENDED_CALLS`]); the lock's answer says whether others
    /// appended since (then the count starts again).
    ///
    /// A single event goes back to optimistic appends (one round trip
    /// instead of two) after [`CONTENDED_CALLS`] lock answers in a row
    /// carried nothing. A batch stays with the lock (`decay` false): with
    /// it a batch costs the same two round trips as without (the lock
    /// carries the catch-up, the append the commit), and an optimistic
    /// batch that loses a race to a slower writer costs a reload.
    fn lock_if_contended(&mut self, locked: &mut bool, decay: bool, large: bool) -> Result<()> {
        if self.contended == 0 {
            return Ok(());
        }
        let head = self.audit_head().seq;
        if decay {
            self.lock_store(locked, large)?;
        } else {
            self.try_lock_store(locked, large)?;
        }
        self.contended = match *locked {
            true if self.audit_head().seq != head || !decay => CONTENDED_CALLS,
            true => self.contended - 1,
            // The store has no lock: stay optimistic.
            false => 0,
        };
        Ok(())
    }

    /// Takes the store's append lock (`locked` is then true) and the
    /// events appended after this engine's head. Nothing happens when the
    /// store has no lock. On `tampered` or a failed read the lock is held:
    /// the caller releases it ([`unlock_store`](Self::unlock_store)).
    ///
    /// For a `large` group the store hears at once, before the catch-up,
    /// that events will be sent ahead ([`begin_sending`](Self::begin_sending)).
    fn lock_store(&mut self, locked: &mut bool, large: bool) -> Result<()> {
        let head = self.audit_head().seq;
        let missing = match self.store.as_mut() {
            Some(store) => store.lock_appends(head, MAX_MISSING).map_err(storage)?,
            None => return Ok(()),
        };
        let Some(missing) = missing else {
            return Ok(());
        };
        *locked = true;
        self.begin_sending(large)?;
        self.take_missing(missing)
    }

    /// For a `large` group, under the lock just granted: an empty
    /// [`Store::send_ahead`](crate::Store::send_ahead), which lets a store
    /// begin its stream before the first events stage (PostgreSQL's
    /// stream keeps the lock's transaction alive from then on; the
    /// catch-up and the first part's staging could otherwise outlast the
    /// server's `idle_in_transaction_session_timeout`, and the store would
    /// give the lock up). Its answer is the next call's to give again.
    fn begin_sending(&mut self, large: bool) -> Result<()> {
        match self.store.as_mut() {
            Some(store) if large => store.send_ahead(&[]).map(drop).map_err(storage),
            _ => Ok(()),
        }
    }

    /// [`lock_store`](Self::lock_store) for a batch: while another writer
    /// holds the lock, catch up with what it stored outside the lock (so
    /// that work runs beside the next holder's, not in turn) and try
    /// again; queue after [`LOCK_TRIES`] tries.
    fn try_lock_store(&mut self, locked: &mut bool, large: bool) -> Result<()> {
        for _ in 0..LOCK_TRIES {
            let head = self.audit_head().seq;
            let answer = match self.store.as_mut() {
                Some(store) => store.try_lock_appends(head, MAX_MISSING).map_err(storage)?,
                None => return Ok(()),
            };
            match answer {
                None => return Ok(()),
                Some(TryLock::Held(missing)) => {
                    *locked = true;
                    self.begin_sending(large)?;
                    return self.take_missing(missing);
                }
                Some(TryLock::Busy(missing)) => self.take_missing(missing)?,
            }
        }
        self.lock_store(locked, large)
    }

    /// Releases the store's append lock, if this engine's store holds it
    /// (an append that was stored released it already). A failure to
    /// release is the store's to clean up (a database rolls back when the
    /// connection goes), so it is not the host's error.
    fn unlock_store(&mut self) {
        if let Some(store) = self.store.as_mut() {
            let _ = store.unlock_appends();
        }
    }

    /// Applies the events a conflict answer carried, checking each
    /// recomputed audit hash against the stored one (`tampered` at the
    /// first that differs, with the events before it applied), as
    /// [`catch_up`](Self::catch_up) does; catches up by a scan when the
    /// answer did not carry them or they do not follow this engine's head.
    pub(super) fn take_missing(&mut self, missing: Missing) -> Result<()> {
        // An engine that lost its store after a failed group commit holds
        // events the store does not: only a reload (in `catch_up`) mends it.
        let events = match missing.events {
            Some(events) if self.broken.is_none() => events,
            _ => return self.catch_up().map(|_| ()),
        };
        if events.first().is_some_and(|e| e.seq != self.next_seq()) {
            return self.catch_up().map(|_| ());
        }
        let lean = std::mem::replace(&mut self.lean, true);
        let bad = replay_events(self, events);
        self.lean = lean;
        match bad {
            Some(at) => Err(tampered(at.seq)),
            None => Ok(()),
        }
    }

    /// `storage` once a failed group commit left this engine without its
    /// store (every later call tries to reload it first, see `heal`).
    pub(super) fn refuse_when_broken(&self) -> Result<()> {
        match &self.broken {
            Some(why) => Err(Error::general(
                ErrorKind::Storage,
                format!(
                    "this engine lost its store ({why}); each call tries to reload it, \
                     or open it again"
                ),
            )),
            None => Ok(()),
        }
    }

    /// `storage` unless this engine holds exactly a prefix of its store's
    /// log: not broken, and its head is the stored event at its `seq`.
    pub(super) fn check_on_stored_chain(&self) -> Result<()> {
        self.refuse_when_broken()?;
        let head = self.audit_head();
        let Some(store) = self.store.as_deref() else {
            return Ok(());
        };
        if head.seq > 0 && store.hash_at(head.seq).map_err(storage)? != Some(head.hash) {
            return Err(Error::general(
                ErrorKind::Storage,
                format!(
                    "this engine's head (event {}) is not the stored one; catch up or open it again",
                    head.seq
                ),
            ));
        }
        Ok(())
    }

    /// An engine that lost its store after a failed group commit tries to
    /// reload from it before a write; if the store still cannot be read,
    /// the write is refused by [`stage`](Self::stage) ("open it again").
    fn heal(&mut self) {
        if self.broken.is_some() {
            // The refusal that follows explains; this error adds nothing.
            let _ = self.catch_up();
        }
    }

    /// Whether the store holds events after this engine's head.
    fn behind(&self) -> Result<bool> {
        match self.store.as_deref() {
            Some(store) => Ok(store.head().map_err(storage)? > self.audit_head().seq),
            None => Ok(false),
        }
    }

    fn refuse_follower(&self) -> Result<()> {
        if self.follower {
            return Err(Error::general(
                ErrorKind::ReadOnly,
                "this engine is a read-only follower: it catches up with its store \
                 (catch_up / refresh) and never writes; open it as a writer to apply events",
            ));
        }
        Ok(())
    }

    /// Replaces this engine's state by the store's (latest snapshot, then
    /// the events after it). On failure the engine keeps `store` and its
    /// state; the caller decides whether that state is still usable.
    fn reload(&mut self, store: Box<dyn Store>) -> Result<()> {
        let fresh = match store.latest_snapshot().map_err(storage) {
            Ok(snapshot) => Engine::restore(snapshot.as_ref().map(|(_, text)| text.as_str())),
            Err(err) => Err(err),
        };
        let mut fresh = match fresh {
            Ok(fresh) => fresh,
            Err(err) => {
                self.store = Some(store);
                return Err(err);
            }
        };
        let replayed = replay_stored(&mut fresh, store.as_ref());
        match replayed {
            Ok(Ok(())) => {
                fresh.store = Some(store);
                fresh.follower = self.follower;
                fresh.contended = self.contended;
                // A call that set `lean` stages its group again on `fresh`.
                fresh.lean = self.lean;
                fresh.forget_persisted_hashes();
                *self = fresh;
                Ok(())
            }
            Ok(Err(at)) => {
                self.store = Some(store);
                Err(tampered(at.seq))
            }
            Err(err) => {
                self.store = Some(store);
                Err(err)
            }
        }
    }
}

fn no_store() -> Error {
    Error::general(ErrorKind::Internal, "the engine lost its store mid-append")
}

fn exhausted() -> Error {
    Error::general(
        ErrorKind::Conflict,
        format!(
            "other writers kept appending first: {MAX_APPEND_ATTEMPTS} attempts \
             (catch up, stage again, append) did not settle it; nothing was stored, \
             retry later"
        ),
    )
}
