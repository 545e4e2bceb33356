//! Group commit across writers: single events handed to the append lock's
//! holder.
//!
//! One programme's log takes one durable commit at a time, in order. With
//! the append lock alone (`replica.rs`), writers of single events that
//! contend take turns: each append is a hand-off of the lock and a
//! durable commit of its own, so four writers got less done together than
//! one alone. Here a contended writer queues its event in the store
//! ([`Store::hand_off`](crate::store::Store::hand_off)) and tries the
//! lock. Whoever gets it takes the whole queue, stages every queued event
//! on its own replica (in ticket order, its own among them) and stores
//! the accepted ones in one append, with an answer per ticket, the seq it
//! was stored at or none, in the same transaction. The others wait for
//! that commit, catch up with the events it stored (their own among
//! them, applied with records, so each host gets the answer it would
//! have got applying it itself) and read their answers.
//!
//! An event a holder did not store (refused on its state, a retry of a
//! stored event, unreadable) is answered [`Ticket::Dropped`] and no one
//! will store it: its writer applies it itself through the lock, so a
//! host still gets its own refusal or its retry. A queued event is
//! stored and answered, or neither, in one transaction: a holder that
//! dies rolls its taking back. A writer that gives up takes its event
//! back ([`Store::withdraw`](crate::store::Store::withdraw)).
//!
//! This module owns the writer's side of that protocol. The store owns
//! the queue, the lock and the atomicity of taking, storing and
//! answering.

use super::persist::{canonical, replay_events, replay_one, storage, tampered};
use super::{Engine, Staged};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Applied, Event};
use crate::store::{Appended, HandOff, Missing, Queued, StoredEvent, Ticket, MAX_MISSING};

/// Rounds a writer tries the lock without queueing for it (each round
/// waits for the holder's commit) before it queues for the lock.
pub const HAND_OFF_TRIES: usize = 4;

/// Groups a holder stores in a row while other writers keep queueing,
/// before it returns to its own host (which waits meanwhile).
pub const LEAD_STREAK: usize = 8;

impl Engine {
    /// Applies `event` through the store's queue (group commit across
    /// writers): `Some` with its result, or `None` when the store has no
    /// queue or a holder dropped the event, for the caller to apply it
    /// through the lock.
    pub(super) fn apply_handed_off(&mut self, event: &Event) -> Result<Option<Applied>> {
        let text = serde_json::to_string(event)
            .map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))?;
        let mut ticket = None;
        let mut captured = None;
        for round in 0..=HAND_OFF_TRIES {
            let head = self.audit_head().seq;
            let wait = round == HAND_OFF_TRIES;
            let answer = match self.store.as_mut() {
                Some(store) => store.hand_off(&text, ticket, wait, head, MAX_MISSING),
                None => return Ok(None),
            };
            let answer = match answer {
                Ok(Some(answer)) => answer,
                Ok(None) if ticket.is_none() => return Ok(None),
                Ok(None) => {
                    let err = Error::general(
                        ErrorKind::Storage,
                        "the store stopped answering for its queue",
                    );
                    return Err(self.abandon(ticket, err));
                }
                Err(err) => return Err(self.abandon(ticket, storage(err))),
            };
            let HandOff {
                ticket: number,
                lead,
                missing,
                queued,
                own,
            } = answer;
            ticket = Some(number);
            let others = missing.events.as_ref().is_none_or(|e| !e.is_empty())
                || queued.iter().any(|q| q.ticket != number);
            if let Err(err) = self.take_missing_watching(missing, &text, &mut captured) {
                if lead {
                    self.release_queue();
                }
                return Err(self.abandon(ticket, err));
            }
            self.contended = match (lead, others) {
                (true, false) => self.contended.saturating_sub(1),
                _ => super::replica::CONTENDED_CALLS,
            };
            if lead {
                return self
                    .lead_queue(event, number, queued, own, captured)
                    .map(Some);
            }
            match own {
                Ticket::Stored(seq) => return self.own_result(event, seq, captured).map(Some),
                Ticket::Dropped => return Ok(None),
                Ticket::Waiting => {}
            }
        }
        // Queued for the lock and still not the holder: a store without a
        // lock. Take the event back and use the lock path (or, if a holder
        // took it meanwhile, report what the host should do).
        let Some(number) = ticket else {
            return Ok(None);
        };
        match self.store.as_mut().map(|store| store.withdraw(number)) {
            Some(Ok(true)) | None => Ok(None),
            Some(Ok(false)) => Err(Error::general(
                ErrorKind::Conflict,
                "the event was taken from the queue by another writer while this one gave up \
                 on it: it may be stored; retry it (an event with an id is then a retry)",
            )),
            Some(Err(err)) => Err(storage(err)),
        }
    }

    /// As the lock's holder: stages the queued events (ticket order, this
    /// writer's own among them) and stores the accepted ones in one
    /// append with every ticket's answer. While other writers keep
    /// queueing, it holds on: the append takes the lock and the queue
    /// again in the same round trip ([`Store::append_and_lead`]), up to
    /// [`LEAD_STREAK`] groups. The lock is released before returning.
    ///
    /// [`Store::append_and_lead`]: crate::store::Store::append_and_lead
    fn lead_queue(
        &mut self,
        event: &Event,
        own_ticket: u64,
        queued: Vec<Queued>,
        own: Ticket,
        captured: Option<Applied>,
    ) -> Result<Applied> {
        let mut stored: Vec<StoredEvent> = Vec::new();
        let mut answers = Vec::with_capacity(queued.len() + 1);
        let mine = self.stage_queued(
            &queued,
            Some((own_ticket, event)),
            &mut stored,
            &mut answers,
        );
        let mine = match (mine, own) {
            (Some(result), _) => result,
            // A holder before this one stored it.
            (None, Ticket::Stored(seq)) => self.own_result(event, seq, captured),
            // A holder before this one dropped it: it is this writer's own
            // to apply, now under the lock.
            (None, Ticket::Dropped) => self.stage_into(event, &mut stored),
            (None, Ticket::Waiting) => Err(Error::general(
                ErrorKind::Internal,
                "the store gave the queue without this writer's queued event",
            )),
        };
        // This writer's answer: pending until its group is stored.
        let mut pending = Some(mine);
        let mut durable = None;
        for streak in 1..=LEAD_STREAK {
            let settled = match self.store.as_mut() {
                Some(store) => store.answer_queued(&answers).and_then(|()| {
                    if stored.is_empty() {
                        store.unlock_appends().map(|()| (Appended::Stored, None))
                    } else if streak < LEAD_STREAK {
                        store.append_and_lead(&stored, MAX_MISSING)
                    } else {
                        store.append_or_missing(&stored, 0).map(|a| (a, None))
                    }
                }),
                None => Err(Error::general(
                    ErrorKind::Internal,
                    "the engine lost its store mid-append",
                )),
            };
            let err = match settled {
                Ok((Appended::Stored, next)) => {
                    self.forget_persisted_hashes();
                    if let Some(result) = pending.take() {
                        durable = Some(result);
                    }
                    let Some(next) = next else {
                        break;
                    };
                    // Holding the lock again, with the queue taken since.
                    if next.queued.is_empty() || self.take_missing(next.missing).is_err() {
                        // Nothing answered: the taking rolls back.
                        self.release_queue();
                        break;
                    }
                    stored.clear();
                    answers.clear();
                    self.stage_queued(&next.queued, None, &mut stored, &mut answers);
                    continue;
                }
                Ok((Appended::Conflict(missing), _)) => {
                    crate::store::conflict(missing.head, stored.first().map_or(0, |e| e.seq))
                }
                Err(err) => err,
            };
            // The taking rolled back with the append: every event of the
            // group is queued again.
            if !stored.is_empty() {
                self.undo_group(&err);
            }
            return match durable {
                // This writer's own group was stored before.
                Some(result) => result,
                None => Err(self.abandon(Some(own_ticket), storage(err))),
            };
        }
        match (durable, pending) {
            (Some(result), _) | (None, Some(result)) => result,
            (None, None) => Err(Error::general(
                ErrorKind::Internal,
                "a holder's group ended without an answer",
            )),
        }
    }

    /// Stages queued events in ticket order, other writers' lean (nobody
    /// reads their records here), pushing each accepted one's stored form
    /// to `stored` and every ticket's answer to `answers`; `own` (this
    /// writer's ticket and event) is staged from the event itself, with
    /// records, and its result returned.
    fn stage_queued(
        &mut self,
        queued: &[Queued],
        own: Option<(u64, &Event)>,
        stored: &mut Vec<StoredEvent>,
        answers: &mut Vec<(u64, Option<u64>)>,
    ) -> Option<Result<Applied>> {
        let lean = self.lean;
        let mut mine = None;
        for item in queued {
            let result = match own {
                Some((ticket, event)) if ticket == item.ticket => self.stage_into(event, stored),
                _ => {
                    self.lean = true;
                    let result = match canonical(&item.event) {
                        Some(other) => self.stage_into(&other, stored),
                        None => Err(Error::general(
                            ErrorKind::Malformed,
                            "a queued event is not an event's compact JSON",
                        )),
                    };
                    self.lean = lean;
                    result
                }
            };
            let seq = match &result {
                Ok(applied) if !applied.replayed => Some(applied.seq),
                _ => None,
            };
            answers.push((item.ticket, seq));
            if own.is_some_and(|(ticket, _)| ticket == item.ticket) {
                mine = Some(result);
            }
        }
        mine
    }

    /// This writer's event, stored by a holder at `seq`: the answer
    /// captured when the catch-up applied it (with records), else a
    /// retry's answer (the original seq, hash and records; no ledger
    /// entries, which a retry does not repeat).
    fn own_result(
        &mut self,
        event: &Event,
        seq: u64,
        captured: Option<Applied>,
    ) -> Result<Applied> {
        if let Some(applied) = captured.filter(|applied| applied.seq == seq) {
            return Ok(applied);
        }
        match self.stage(event)? {
            Staged::Retry(mut applied) if applied.seq == seq => {
                applied.replayed = false;
                Ok(applied)
            }
            _ => Err(Error::general(
                ErrorKind::Storage,
                format!(
                    "the store answers that this event was stored at seq {seq}, \
                     but this replica cannot find it there; catch up and read it"
                ),
            )),
        }
    }

    /// [`take_missing`](Self::take_missing), applying every stored event
    /// whose text is `own` with records and keeping its answer in
    /// `captured`: the writer's own event, stored by a holder.
    fn take_missing_watching(
        &mut self,
        missing: Missing,
        own: &str,
        captured: &mut Option<Applied>,
    ) -> Result<()> {
        let follows = match &missing.events {
            Some(events) => events.first().is_none_or(|e| e.seq == self.next_seq()),
            None => false,
        };
        if !follows || self.broken.is_some() {
            return self.take_missing(missing);
        }
        let events = missing.events.unwrap_or_default();
        let lean = std::mem::replace(&mut self.lean, true);
        let mut before = Vec::new();
        let mut bad = None;
        for stored in events {
            if stored.event != own {
                before.push(stored);
                continue;
            }
            bad = replay_events(self, std::mem::take(&mut before));
            if bad.is_some() {
                break;
            }
            self.lean = lean;
            match replay_one(self, stored) {
                Ok(applied) => *captured = Some(applied),
                Err(at) => bad = Some(at),
            }
            self.lean = true;
            if bad.is_some() {
                break;
            }
        }
        if bad.is_none() {
            bad = replay_events(self, before);
        }
        self.lean = lean;
        match bad {
            Some(at) => Err(tampered(at.seq)),
            None => Ok(()),
        }
    }

    /// Releases the lock without storing answers: the queue taken is
    /// queued again (the transaction rolls back).
    fn release_queue(&mut self) {
        if let Some(store) = self.store.as_mut() {
            // No answers were given: the store rolls the taking back.
            let _ = store.unlock_appends();
        }
    }

    /// Takes this writer's queued event back before reporting `err`, so
    /// that no holder stores an event whose host was told it failed;
    /// when a holder took it first, the message says it may be stored.
    fn abandon(&mut self, ticket: Option<u64>, err: Error) -> Error {
        let (Some(ticket), Some(store)) = (ticket, self.store.as_mut()) else {
            return err;
        };
        match store.withdraw(ticket) {
            Ok(true) => err,
            _ => Error::general(
                err.kind(),
                format!(
                    "{err}; the event was queued for another writer, which may still \
                     store it: retry it (an event with an id is then a retry)"
                ),
            ),
        }
    }
}
