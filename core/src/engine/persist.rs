//! Snapshots, replay and the store: opening an engine on a store (replay
//! with a hash check of every event), verifying a chain, saving and
//! restoring snapshots. Appending to a store is the replica protocol's
//! (`replica`).

use serde::{Deserialize, Serialize};

use crate::audit::{self, Head, Link, TamperedAt};
use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::id::{DenseIndex, HashMap};
use crate::store::{Store, StoredEvent};

use super::pipeline::Staged;
use super::sales::LineEntries;
use super::warm::GROUP;
use super::Engine;

/// Version of the snapshot format written by [`Engine::snapshot_json`].
///
/// Format 4 keeps each sale line's earner, amount and dates only in its
/// ledger entry. Format 3 (the same audit format 2 hashes,
/// [`audit::FORMAT`], with those facts in the sale lines too) is refused
/// by [`Engine::from_snapshot_json`] with a `storage` error naming the
/// format; a store whose latest snapshot is format 3 opens all the same,
/// by replaying its events (a snapshot only saves that replay). Formats 1
/// and 2 held audit format 1 hashes: refused with a `storage` error naming
/// the audit format (replay the events instead).
pub const SNAPSHOT_FORMAT: u32 = 4;

/// The last snapshot format whose hashes are audit format 1.
pub(super) const SNAPSHOT_FORMAT_AUDIT_V1: u32 = 2;

/// The last snapshot format before this one whose events this build
/// replays: its snapshots are skipped when a store opens.
const SNAPSHOT_FORMAT_OUTDATED: u32 = 3;

#[derive(Serialize)]
pub(super) struct SnapshotRef<'a> {
    pub(super) format: u32,
    pub(super) engine: &'a Engine,
}

#[derive(Deserialize)]
pub(super) struct SnapshotFormat {
    pub(super) format: u32,
}

#[derive(Deserialize)]
pub(super) struct SnapshotOwned {
    pub(super) format: u32,
    pub(super) engine: Engine,
}

/// Verifies a store's whole chain by replay (see [`Engine::verify`]).
/// The outer error is a store failure; the inner one the first event that
/// does not match.
///
/// The store's latest snapshot is checked too: the state the events up to
/// its `seq` produce must be the snapshot's state (compared as this build
/// writes both), else it is reported at that `seq`. (Opening a store trusts its snapshot, as any
/// checkpoint is trusted; this replay is what proves it.)
pub fn verify_store(store: &dyn Store) -> Result<std::result::Result<Head, TamperedAt>> {
    check_audit_format(store)?;
    let snapshot = store.latest_snapshot().map_err(storage)?;
    let mut engine = Engine::new();
    let checked = snapshot.as_ref().map(|(seq, text)| (*seq, text.as_str()));
    Ok(replay_checked(&mut engine, store, checked)?.map(|_| engine.audit_head()))
}

/// Replays the stored events after `engine`'s head into it, checking each
/// against its stored hash. When the engine starts from a snapshot (head
/// `seq > 0`), the stored event at that `seq` must carry the snapshot's
/// hash, so a snapshot cannot graft a different history onto the chain.
pub(super) fn replay_stored(
    engine: &mut Engine,
    store: &dyn Store,
) -> Result<std::result::Result<(), TamperedAt>> {
    replay_checked(engine, store, None)
}

/// [`replay_stored`], also checking that the state at `snapshot`'s `seq`
/// serializes to its text. Records are not wanted: new sales replay lean.
fn replay_checked(
    engine: &mut Engine,
    store: &dyn Store,
    snapshot: Option<(u64, &str)>,
) -> Result<std::result::Result<(), TamperedAt>> {
    let lean = std::mem::replace(&mut engine.lean, true);
    let replayed = replay_unless_bad(engine, store, snapshot);
    engine.lean = lean;
    replayed
}

fn replay_unless_bad(
    engine: &mut Engine,
    store: &dyn Store,
    snapshot: Option<(u64, &str)>,
) -> Result<std::result::Result<(), TamperedAt>> {
    let anchor = engine.audit_head();
    let mut anchored = anchor.seq == 0;
    let mut expected = anchor.seq + 1;
    let mut bad = None;
    // Events are decoded as they are scanned and applied a group at a
    // time, each group's sales read ahead in lockstep first (`warm.rs`).
    let mut group: Vec<(StoredEvent, Option<Event>)> = Vec::with_capacity(GROUP);
    let scanned = store.scan(anchor.seq.max(1), &mut |stored| {
        if !anchored {
            anchored = stored.seq == anchor.seq && stored.hash == anchor.hash;
            if !anchored {
                bad = Some(TamperedAt { seq: anchor.seq });
                return Err(Error::general(ErrorKind::Tampered, "stop"));
            }
            return Ok(());
        }
        let event = canonical(&stored.event);
        group.push((stored, event));
        if group.len() < GROUP {
            return Ok(());
        }
        bad = replay_group(engine, &mut group, &mut expected, snapshot);
        match bad {
            Some(_) => Err(Error::general(ErrorKind::Tampered, "stop")),
            None => Ok(()),
        }
    });
    // What a failed scan read before failing is applied all the same: the
    // engine holds a prefix of the store, as one event at a time would.
    if bad.is_none() {
        bad = replay_group(engine, &mut group, &mut expected, snapshot);
    }
    // A scan that failed before reaching the anchor proves nothing: it is
    // a store failure, not tampering.
    if !anchored && scanned.is_ok() {
        bad.get_or_insert(TamperedAt { seq: anchor.seq });
    }
    match (bad, scanned) {
        (Some(at), _) => Ok(Err(at)),
        (None, Err(err)) => Err(storage(err)),
        (None, Ok(())) => Ok(Ok(())),
    }
}

/// The event a stored text holds, when it is the event's canonical text
/// (the text this build writes for it): anything else was edited.
pub(super) fn canonical(text: &str) -> Option<Event> {
    let event = Event::from_json(text).ok()?;
    // Written into a comparison with `text` as it goes, not into a new
    // string per event.
    let mut same = Same {
        rest: text.as_bytes(),
    };
    match serde_json::to_writer(&mut same, &event) {
        Ok(()) if same.rest.is_empty() => Some(event),
        _ => None,
    }
}

/// A writer that accepts only the bytes of `rest`, in order, consuming
/// them: the first byte that differs (or any beyond it) is an error.
struct Same<'a> {
    rest: &'a [u8],
}

impl std::io::Write for Same<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.rest.strip_prefix(buf) {
            Some(rest) => {
                self.rest = rest;
                Ok(buf.len())
            }
            None => Err(std::io::ErrorKind::InvalidData.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Applies a group of scanned events in order, each checked against its
/// stored seq and hash (and the state at `snapshot`'s seq against its
/// text); empties the group. The first event that fails is returned.
fn replay_group(
    engine: &mut Engine,
    group: &mut Vec<(StoredEvent, Option<Event>)>,
    expected: &mut u64,
    snapshot: Option<(u64, &str)>,
) -> Option<TamperedAt> {
    std::hint::black_box(
        engine.warm_sales(group.iter().filter_map(|(_, event)| match event {
            Some(Event::SaleRecorded(e)) => Some((e.sale.as_str(), e.buyer.as_str())),
            _ => None,
        })),
    );
    for (stored, event) in group.drain(..) {
        let seq = *expected;
        let ok = stored.seq == seq
            && event
                .and_then(|event| match engine.stage(&event) {
                    Ok(Staged::New(link, effects)) if link.hash == stored.hash => {
                        engine.commit(link, effects);
                        // Stored, so the store answers for it from now on.
                        engine.forget_persisted_hashes();
                        match snapshot {
                            // Compared as this build writes it (a snapshot of
                            // an older build of the same format may spell
                            // its defaults differently): restored, then
                            // written again. One of an outdated format is
                            // not restored on open either: not compared.
                            Some((at, text)) if at == seq => match decode_snapshot(text) {
                                Ok(Some(restored)) => (restored.snapshot_json()
                                    == engine.snapshot_json())
                                .then_some(()),
                                Ok(None) => Some(()),
                                Err(_) => None,
                            },
                            _ => Some(()),
                        }
                    }
                    _ => None,
                })
                .is_some();
        if !ok {
            // Dropping the drain empties the rest of the group.
            return Some(TamperedAt { seq });
        }
        *expected += 1;
    }
    None
}

/// Applies stored events that directly follow `engine`'s head (the
/// events a conflict's answer carried), in groups as a replay does, each
/// checked against its stored seq and hash. The first that fails is
/// returned, with the events before it applied.
pub(super) fn replay_events(engine: &mut Engine, events: Vec<StoredEvent>) -> Option<TamperedAt> {
    let mut expected = engine.audit_head().seq + 1;
    let mut group: Vec<(StoredEvent, Option<Event>)> = Vec::with_capacity(GROUP);
    for stored in events {
        let event = canonical(&stored.event);
        group.push((stored, event));
        if group.len() == GROUP {
            if let Some(bad) = replay_group(engine, &mut group, &mut expected, None) {
                return Some(bad);
            }
        }
    }
    replay_group(engine, &mut group, &mut expected, None)
}

/// Applies one stored event that directly follows `engine`'s head,
/// checked like a replay (its seq, its canonical text, its recomputed
/// hash), and returns its answer, with records unless the engine is lean:
/// a writer's own event, stored by another writer holding the append lock
/// (`handoff.rs`).
pub(super) fn replay_one(
    engine: &mut Engine,
    stored: StoredEvent,
) -> std::result::Result<Applied, TamperedAt> {
    let seq = engine.audit_head().seq + 1;
    if stored.seq == seq {
        if let Some(event) = canonical(&stored.event) {
            if let Ok(Staged::New(link, effects)) = engine.stage(&event) {
                if link.hash == stored.hash {
                    let applied = engine.commit(link, effects);
                    engine.forget_persisted_hashes();
                    return Ok(applied);
                }
            }
        }
    }
    Err(TamperedAt { seq })
}

pub(super) fn stored_event(event: &Event, link: &Link) -> Result<StoredEvent> {
    Ok(StoredEvent {
        seq: link.seq,
        event: serde_json::to_string(event)
            .map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))?,
        hash: link.hash,
    })
}

/// A store written with another audit format is refused (`storage`, never
/// `tampered`: its hashes are of another encoding).
pub(super) fn check_audit_format(store: &dyn Store) -> Result<()> {
    match store.audit_format().map_err(storage)? {
        audit::FORMAT => Ok(()),
        found => Err(audit::format_refused("store", found)),
    }
}

pub(super) fn storage(err: Error) -> Error {
    if matches!(err.kind(), ErrorKind::Storage | ErrorKind::Tampered) {
        err
    } else {
        Error::general(ErrorKind::Storage, format!("the store failed: {err}"))
    }
}

pub(super) fn tampered(seq: u64) -> Error {
    Error::new(
        ErrorKind::Tampered,
        "seq",
        format!("stored event {seq} does not match the audit chain"),
    )
}

impl Engine {
    /// An engine rebuilt by applying `events` in order. Fails on the first
    /// refused event.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Engine> {
        let mut engine = Engine::new();
        for event in events {
            engine.apply(event)?;
        }
        Ok(engine)
    }

    /// An engine backed by `store`: restores the latest snapshot, replays
    /// the events stored after it (checking each against its stored hash),
    /// and persists every event applied from then on.
    pub fn open(store: Box<dyn Store>) -> Result<Engine> {
        check_audit_format(store.as_ref())?;
        let snapshot = store.latest_snapshot().map_err(storage)?;
        let mut engine = Engine::restore(snapshot.as_ref().map(|(_, text)| text.as_str()))?;
        if let Err(at) = replay_stored(&mut engine, store.as_ref())? {
            return Err(tampered(at.seq));
        }
        engine.store = Some(store);
        engine.forget_persisted_hashes();
        Ok(engine)
    }

    /// Verifies the store's whole chain by replaying every stored event in
    /// a fresh engine: each recomputed hash (event *and* records) must equal
    /// the stored one. Returns the head, or `tampered` naming the first
    /// event that does not match; `storage` when there is no store.
    pub fn verify(&self) -> Result<Head> {
        let store = self.store.as_deref().ok_or_else(|| {
            Error::general(ErrorKind::Storage, "this engine has no store to verify")
        })?;
        verify_store(store)?.map_err(|at| tampered(at.seq))
    }

    /// Saves a snapshot of the current state in the store, so a later
    /// [`open`](Self::open) replays only what follows.
    ///
    /// Refused (`storage`) when this engine's head is not the stored event
    /// at its `seq`, so a replica that drifted from the store never saves
    /// a snapshot other replicas would load.
    pub fn save_snapshot(&mut self) -> Result<()> {
        self.check_on_stored_chain()?;
        let seq = self.audit_head().seq;
        let snapshot = self.snapshot_json();
        match self.store.as_mut() {
            Some(store) => store.save_snapshot(seq, &snapshot).map_err(storage),
            None => Err(Error::general(
                ErrorKind::Storage,
                "this engine has no store",
            )),
        }
    }

    /// The engine's store, if it has one.
    pub fn store(&self) -> Option<&dyn Store> {
        self.store.as_deref()
    }

    /// The whole state as JSON, for a host restarting without a replay.
    pub fn snapshot_json(&self) -> String {
        let snapshot = SnapshotRef {
            format: SNAPSHOT_FORMAT,
            engine: self,
        };
        serde_json::to_string(&snapshot).unwrap_or_default()
    }

    /// Restores an engine from [`snapshot_json`](Self::snapshot_json).
    ///
    /// A snapshot of another format is refused: `storage` naming the
    /// format for those this build no longer restores (1 to 3: see
    /// [`SNAPSHOT_FORMAT`]), `malformed` for any other text.
    pub fn from_snapshot_json(text: &str) -> Result<Engine> {
        decode_snapshot(text)?.ok_or_else(|| {
            Error::general(
                ErrorKind::Storage,
                format!(
                    "snapshot format {SNAPSHOT_FORMAT_OUTDATED} predates format {SNAPSHOT_FORMAT}, \
                     the one this build restores: replay the events instead (opening a \
                     store whose snapshot it is does)"
                ),
            )
        })
    }

    /// The engine a store's latest snapshot restores: a new one when the
    /// store has none, or only one of an outdated format whose events this
    /// build replays (format 3): the events are the books.
    pub(super) fn restore(snapshot: Option<&str>) -> Result<Engine> {
        match snapshot {
            Some(text) => Ok(decode_snapshot(text)?.unwrap_or_default()),
            None => Ok(Engine::new()),
        }
    }
}

/// Decodes a snapshot: `None` for one of [`SNAPSHOT_FORMAT_OUTDATED`].
fn decode_snapshot(text: &str) -> Result<Option<Engine>> {
    let refused =
        |format: u32| audit::format_refused(&format!("snapshot (snapshot format {format})"), 1);
    let snapshot = serde_json::from_str::<SnapshotOwned>(text).map_err(|e| {
        // An older snapshot may not decode as today's state: name its
        // format when it has one.
        match serde_json::from_str::<SnapshotFormat>(text) {
            Ok(SnapshotFormat { format }) if (1..=SNAPSHOT_FORMAT_AUDIT_V1).contains(&format) => {
                Some(refused(format))
            }
            Ok(SnapshotFormat {
                format: SNAPSHOT_FORMAT_OUTDATED,
            }) => None,
            _ => Some(Error::general(
                ErrorKind::Malformed,
                format!("undecodable snapshot: {e}"),
            )),
        }
    });
    let snapshot = match snapshot {
        Ok(snapshot) => snapshot,
        Err(Some(err)) => return Err(err),
        Err(None) => return Ok(None),
    };
    if (1..=SNAPSHOT_FORMAT_AUDIT_V1).contains(&snapshot.format) {
        return Err(refused(snapshot.format));
    }
    if snapshot.format == SNAPSHOT_FORMAT_OUTDATED {
        return Ok(None);
    }
    if snapshot.format != SNAPSHOT_FORMAT {
        return Err(Error::general(
            ErrorKind::Malformed,
            format!(
                "snapshot format {} is not {SNAPSHOT_FORMAT}, the one this build reads",
                snapshot.format
            ),
        ));
    }
    let mut engine = snapshot.engine;
    engine.check_sale_lines()?;
    engine.rebuild_indexes();
    Ok(Some(engine))
}

impl Engine {
    pub(super) fn rebuild_indexes(&mut self) {
        self.graph.rebuild_index();
        self.ledger.rebuild_index();
        let sales = &self.sales;
        self.sale_index = DenseIndex::build(sales.len(), |i| &sales[i as usize].id);
        let mut live: HashMap<u32, u32> = HashMap::default();
        for sale in self.sales.iter() {
            if sale.refunded < sale.amount && Self::sale_counts_for_qualification(sale) {
                *live.entry(sale.buyer).or_default() += 1;
            }
        }
        let live: Vec<(u32, u32)> = live.into_iter().collect();
        self.rewards.rebuild(&self.graph, &self.ledger, &live);
        self.screen.rebuild(self.graph.len());
        self.held_lines.clear();
        for (i, sale) in self.sales.iter().enumerate() {
            for (j, line) in sale.lines.iter().enumerate() {
                if line.held_now() && !line.screened() {
                    self.held_lines
                        .entry(sale.earner(j, LineEntries::Ledger(&self.ledger)))
                        .or_default()
                        .push((i as u32, j as u8));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn only_the_canonical_text_of_an_event_is_taken() {
        let text =
            r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#;
        assert!(canonical(text).is_some());
        // The same event spelled otherwise was edited after it was stored.
        for edited in [
            format!("{text} "),
            text.replace(r#""sponsor":null,"#, ""),
            text.replace(
                r#"{"type":"member_joined","#,
                r#"{ "type":"member_joined","#,
            ),
            text.replace(
                r#""member":"ann","sponsor":null"#,
                r#""sponsor":null,"member":"ann""#,
            ),
            text[..text.len() - 1].to_string(),
        ] {
            assert!(canonical(&edited).is_none(), "{edited}");
        }
    }
}
