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

use std::fmt;

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

/// Where an engine persists what it applied.
///
/// Implementations must make [`append`](Store::append) atomic: after a
/// crash or an error, either every event of the call is stored or none is.
pub trait Store: Send + fmt::Debug {
    /// Appends applied events (consecutive sequence numbers, in order) in
    /// one atomic step.
    fn append(&mut self, events: &[StoredEvent]) -> Result<()>;

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
}

impl Store for MemoryStore {
    fn append(&mut self, events: &[StoredEvent]) -> Result<()> {
        self.events.extend_from_slice(events);
        Ok(())
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
