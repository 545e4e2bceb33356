//! The apply pipeline: an event is validated and staged, then committed.
//!
//! [`Engine::apply`] and its batch and JSON forms run every event through
//! [`Engine::stage`] (dispatch to the domain's `prepare_*`, which computes
//! everything the event will change as a [`Mutation`] plus its records, and
//! the audit link) and [`Engine::commit`] (which applies the mutation and
//! cannot fail). So a refused event leaves the engine as it was. This file
//! owns that protocol and the one place state changes (`mutate`); the
//! domains' rules live in `members`, `sales`, `payouts`, `awards`,
//! `screening` and `programme`, and writing to a store in `replica`.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::audit::{self, Hash, Link};
use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::graph::MemberStatus;
use crate::ledger::Entry;
use crate::limits::MAX_BATCH;
use crate::payout::{PayoutRecord, PayoutState, Profile};
use crate::plan::Plan;
use crate::rewards::{self, ActiveSet, Effects};
use crate::screen;
use crate::time::Timestamp;

use super::payouts::BatchRecord;
use super::persist::storage;
use super::sales::{LineEntries, RefundRecord, Resolution, SaleRecord};
use super::Engine;

/// Everything an event will change, computed before anything changes.
pub(super) enum Mutation {
    Nothing,
    Join {
        member: String,
        sponsor: Option<u32>,
        at: Timestamp,
        kept: Option<screen::Kept>,
    },
    Status(u32, MemberStatus),
    Reparent(u32, u32),
    Hold {
        member: u32,
        on: bool,
    },
    Plan {
        plan: Option<Plan>,
        index: u32,
        from: Timestamp,
    },
    Currency(String, u8),
    Sale(SaleRecord, screen::SaleEffects),
    Rules(Box<screen::Ruleset>),
    Review {
        sale: u32,
        /// Lines released (`None`) or reversed by this amount.
        lines: Vec<(u8, Option<Decimal>)>,
        resolution: Resolution,
    },
    Refund {
        id: Arc<str>,
        record: RefundRecord,
    },
    Profile(u32, Profile),
    Batch {
        id: Arc<str>,
        record: BatchRecord,
        payouts: Vec<(Arc<str>, PayoutRecord)>,
    },
    PayoutState(Arc<str>, PayoutState),
    Milestones(Box<ActiveSet>),
    ChallengeCreate(Arc<str>, Box<rewards::Challenge>),
    ChallengeClose(Arc<str>, Box<rewards::Closed>),
}

pub(super) struct Prepared {
    pub(super) outcome: Outcome,
    pub(super) entries: Vec<Entry>,
    pub(super) mutation: Mutation,
    /// Awards and milestone reversals to record.
    pub(super) effects: Effects,
}

impl Prepared {
    pub(super) fn state(mutation: Mutation) -> Self {
        Prepared {
            outcome: Outcome::None,
            entries: Vec::new(),
            mutation,
            effects: Effects::default(),
        }
    }
}

/// The part of an event the audit chain hashes as its records.
#[derive(Serialize)]
pub(super) struct Records<'a> {
    pub(super) outcome: &'a Outcome,
    pub(super) entries: &'a [EntryRecord],
}

pub(super) fn time(text: &str, field: &str) -> Result<Timestamp> {
    Timestamp::parse(text, field)
}

pub(super) fn duplicate(field: &str, id: &str) -> Error {
    Error::new(
        ErrorKind::DuplicateId,
        field,
        format!("{field} {id:?} was already used with different content"),
    )
}

pub(super) fn internal(err: audit::EncodeError) -> Error {
    Error::general(ErrorKind::Internal, err.to_string())
}

pub(crate) fn check_batch_len(len: usize) -> Result<()> {
    if len > MAX_BATCH {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            "events",
            format!("a batch of {len} events; the limit is {MAX_BATCH}"),
        ));
    }
    Ok(())
}

// Short-lived and moved once, like `Staged`: boxing would only add an
// allocation per event.
#[allow(clippy::large_enum_variant)]
pub(super) enum Prep {
    Retry(Applied),
    New(Prepared),
}

/// An event validated and staged, not yet committed.
// Short-lived and moved once: boxing the retry would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Staged {
    /// An idempotent retry: the original result.
    Retry(Applied),
    /// A new event: its audit link and its effects.
    New(Link, StagedEffects),
}

/// The effects of a staged event.
pub(crate) struct StagedEffects {
    pub(super) prepared: Prepared,
    pub(super) entries: Vec<EntryRecord>,
}

impl Engine {
    /// Decodes one JSON event and applies it.
    pub fn apply_json(&mut self, text: &str) -> Result<Applied> {
        let event = Event::from_json(text)?;
        self.apply(&event)
    }

    /// The batch entry point for bindings and services: `text` is a JSON
    /// array of events (at most [`MAX_BATCH`] events and
    /// [`MAX_BATCH_JSON_BYTES`](crate::limits::MAX_BATCH_JSON_BYTES)); the
    /// result is a JSON array with one slot per event, in order: the applied
    /// result (as [`Applied::to_json_value`], or only `{"seq", "hash"}` when
    /// `records` is false) or `{"error": {"code", "message", "field"}}`. A
    /// slot that is not an event is a `malformed` slot; text that is not a
    /// JSON array fails the whole call. Hosts parse one string instead of
    /// building an object per value, which is much faster across an FFI.
    ///
    /// Without `records`, a new sale's records (its distribution and ledger
    /// entry records) are never built: the audit hashes them from the
    /// engine's own state, the same bytes (the lean path; the vector suite
    /// checks every hash against [`apply`](Self::apply)).
    ///
    /// ```
    /// let mut engine = upline::Engine::new();
    /// let out = engine.apply_batch_json(r#"[
    ///     {"type":"member_joined","member":"a","sponsor":null,"at":"2026-01-01T00:00:00Z"},
    ///     {"type":"nope"}
    /// ]"#, false)?;
    /// let slots: serde_json::Value = serde_json::from_str(&out).unwrap();
    /// assert_eq!(slots[0]["seq"], 1);
    /// assert_eq!(slots[1]["error"]["code"], "malformed");
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn apply_batch_json(&mut self, text: &str, records: bool) -> Result<String> {
        if text.len() > crate::limits::MAX_BATCH_JSON_BYTES {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "events",
                format!(
                    "the batch is {} bytes of JSON; the limit is {}",
                    text.len(),
                    crate::limits::MAX_BATCH_JSON_BYTES
                ),
            ));
        }
        let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).map_err(|e| {
            Error::general(
                ErrorKind::Malformed,
                format!("not a JSON array of events: {e}"),
            )
        })?;
        check_batch_len(raw.len())?;
        let mut decoded = Vec::with_capacity(raw.len());
        let mut events = Vec::with_capacity(raw.len());
        for slot in &raw {
            match serde_json::from_str::<Event>(slot.get()) {
                Ok(event) => {
                    events.push(event);
                    decoded.push(None);
                }
                Err(err) => decoded.push(Some(crate::event::malformed_text(slot.get(), err))),
            }
        }
        // Without records, new sales are hashed from the engine's state and
        // their records never built.
        let lean = std::mem::replace(&mut self.lean, !records);
        let applied = self.apply_batch(&events);
        self.lean = lean;
        let mut applied = applied?.into_iter();
        let mut out = Vec::with_capacity(text.len() / 2 + 64);
        out.push(b'[');
        for (i, slot) in decoded.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let written = match slot {
                Some(err) => serde_json::to_writer(&mut out, &ErrorSlot(err)),
                None => match applied.next() {
                    Some(Ok(result)) if records => serde_json::to_writer(&mut out, &result),
                    Some(Ok(result)) => serde_json::to_writer(&mut out, &result.lean()),
                    Some(Err(err)) => serde_json::to_writer(&mut out, &ErrorSlot(&err)),
                    None => Ok(()),
                },
            };
            written.map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))?;
        }
        out.push(b']');
        String::from_utf8(out).map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))
    }

    /// Applies many events in order, each on its own: a refused event is
    /// reported in its slot and does not stop the others. More than
    /// [`MAX_BATCH`] events is `limit_exceeded` for the whole call.
    ///
    /// With a store, the accepted events are persisted in one atomic append
    /// (group commit). If that append fails, the whole call fails with
    /// `storage` and the engine is reloaded from the store, so it holds
    /// none of the batch. If another writer appended first (`conflict`),
    /// the engine reloads, which catches it up, and stages the batch again.
    pub fn apply_batch(&mut self, events: &[Event]) -> Result<Vec<Result<Applied>>> {
        check_batch_len(events.len())?;
        if self.store.is_none() {
            let mut results = Vec::with_capacity(events.len());
            for group in events.chunks(super::warm::GROUP) {
                // Read the group's state ahead, in lockstep (`warm.rs`).
                std::hint::black_box(self.warm_events(group));
                std::hint::black_box(self.warm_signals(group));
                results.extend(group.iter().map(|event| self.apply_here(event)));
                // Keyed by the group's event addresses: never kept past it.
                self.screen.warmed.clear();
            }
            return Ok(results);
        }
        self.apply_batch_stored(events)
    }

    /// Applies one event: validates it fully, persists it when the engine
    /// has a store, then changes the state.
    ///
    /// With a store shared by other writers, a `conflict` on append makes
    /// the engine catch up and try again (see [`catch_up`](Self::catch_up)).
    pub fn apply(&mut self, event: &Event) -> Result<Applied> {
        // A batch's signals reduced ahead are keyed by its events'
        // addresses (`warm.rs`): never trusted outside that batch (one a
        // panic cut short, say), where another event may sit at one.
        self.screen.warmed.clear();
        self.apply_here(event)
    }

    /// [`apply`](Self::apply), keeping what `apply_batch` read ahead for
    /// the event's group.
    fn apply_here(&mut self, event: &Event) -> Result<Applied> {
        if self.store.is_some() {
            return self.apply_stored(event);
        }
        match self.stage(event)? {
            Staged::Retry(applied) => Ok(applied),
            Staged::New(link, effects) => Ok(self.commit(link, effects)),
        }
    }

    /// Validates `event` and computes its effects and its audit link,
    /// without changing anything.
    pub(crate) fn stage(&mut self, event: &Event) -> Result<Staged> {
        self.refuse_when_broken()?;
        let prepared = match self.prepare(event)? {
            Prep::Retry(applied) => return Ok(Staged::Retry(applied)),
            Prep::New(prepared) => prepared,
        };
        if let Some((earner, currency)) = self.ledger.check_exact(&prepared.entries) {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "amount",
                format!(
                    "the balances of {:?} in {currency} would leave the exact decimal range \
                     (28 significant digits at {} decimals): refused rather than rounded",
                    self.graph.id(earner),
                    currency.minor_units()
                ),
            ));
        }
        let seq = self.next_seq();
        let previous = self.audit_head().hash;
        let (hash, entries) = match (&prepared.mutation, &prepared.outcome) {
            // Prepared lean: no records are built, only hashed.
            (Mutation::Sale(sale, _), Outcome::None) => {
                let hash = audit::block_hash_with(seq, &previous, event, |out| {
                    self.put_lean_sale_records(out, sale, &prepared)
                })
                .map_err(internal)?;
                (hash, Vec::new())
            }
            _ => {
                let entries =
                    self.entry_records(&prepared.entries, &prepared.mutation, &prepared.outcome);
                let hash = audit::block_hash(seq, &previous, event, &prepared.outcome, &entries)
                    .map_err(internal)?;
                (hash, entries)
            }
        };
        Ok(Staged::New(
            // The encoded bytes are hashed in reused buffers, not kept: only
            // the hash travels on.
            Link {
                seq,
                event: Vec::new(),
                records: Vec::new(),
                hash,
            },
            StagedEffects { prepared, entries },
        ))
    }

    /// Applies what [`stage`](Self::stage) computed. Cannot fail.
    pub(crate) fn commit(&mut self, link: Link, effects: StagedEffects) -> Applied {
        let StagedEffects { prepared, entries } = effects;
        let seq = link.seq;
        self.mutate(prepared.mutation, seq, &prepared.entries);
        self.rewards.commit(prepared.effects);
        self.rewards.on_entries(&prepared.entries, self.graph.len());
        for entry in prepared.entries {
            self.ledger.push(entry);
        }
        self.hashes.push(link.hash);
        Applied {
            seq,
            hash: link.hash,
            replayed: false,
            outcome: prepared.outcome,
            entries,
        }
    }

    pub(super) fn entry_records(
        &self,
        entries: &[Entry],
        mutation: &Mutation,
        outcome: &Outcome,
    ) -> Vec<EntryRecord> {
        let first = self.ledger.len() as u64;
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| EntryRecord {
                seq: first + i as u64,
                at: e.at,
                earner: self.member_id_for(e.earner, mutation, outcome, entries),
                currency: e.currency,
                kind: e.kind,
                amount: e.amount,
                available_at: e.available_at,
                reference: e.reference.clone(),
            })
            .collect()
    }

    /// The id of `member` for an entry record. A sale's earners reuse the
    /// `Arc` of their distribution line (the distribution has one line per
    /// line of the sale record, in the same order), so an earner's id is
    /// allocated once a sale, not again for each of its entries.
    pub(super) fn member_id_for(
        &self,
        member: u32,
        mutation: &Mutation,
        outcome: &Outcome,
        entries: &[Entry],
    ) -> Arc<str> {
        match (mutation, outcome) {
            (Mutation::Join { member: id, .. }, _) if member as usize == self.graph.len() => {
                Arc::from(id.as_str())
            }
            (Mutation::Sale(record, _), Outcome::Distribution(distribution)) => {
                (0..record.lines.len())
                    .position(|i| record.earner(i, LineEntries::Staged(entries)) == member)
                    .and_then(|i| distribution.lines.get(i))
                    .map_or_else(
                        || Arc::from(self.graph.id(member)),
                        |line| line.earner.clone(),
                    )
            }
            _ => Arc::from(self.graph.id(member)),
        }
    }

    pub(super) fn prepare(&mut self, event: &Event) -> Result<Prep> {
        match event {
            Event::MemberJoined(e) => self.prepare_join(e),
            Event::MemberStatusChanged(e) => self.prepare_status(e),
            Event::SponsorChanged(e) => self.prepare_reparent(e),
            Event::MemberHoldSet(e) => self.prepare_hold(e),
            Event::PlanActivated(e) => self.prepare_plan(e),
            Event::CurrencyRegistered(e) => self.prepare_currency(e),
            Event::SaleRecorded(e) => self.prepare_sale(e),
            Event::RefundRecorded(e) => self.prepare_refund(e),
            Event::PayoutProfileSet(e) => self.prepare_profile(e),
            Event::PayoutsPrepared(e) => self.prepare_batch(e),
            Event::PayoutSettled(e) => self.prepare_settle(e),
            Event::PayoutFailed(e) => self.prepare_fail(e),
            Event::MilestonesSet(e) => self.prepare_milestones(e),
            Event::ChallengeCreated(e) => self.prepare_challenge(e),
            Event::ChallengeClosed(e) => self.prepare_close(e),
            Event::ScreeningRulesSet(e) => self.prepare_rules(e),
            Event::FraudReviewResolved(e) => self.prepare_review(e),
        }
    }

    pub(super) fn retry(&self, seq: u64, outcome: Outcome) -> Result<Prep> {
        Ok(Prep::Retry(Applied {
            seq,
            hash: self.hash_at(seq)?,
            replayed: true,
            outcome,
            entries: Vec::new(),
        }))
    }

    /// The sequence number the next new event gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.hashes_dropped + self.hashes.len() as u64 + 1
    }

    /// The audit hash after event `seq` (`1..=head`): from memory, or from
    /// the store for the hashes an engine with a store no longer keeps.
    pub(super) fn hash_at(&self, seq: u64) -> Result<Hash> {
        if seq > self.hashes_dropped {
            if let Some(hash) = self.hashes.get((seq - self.hashes_dropped - 1) as usize) {
                return Ok(*hash);
            }
        }
        let missing = || {
            Error::general(
                ErrorKind::Storage,
                format!("the audit hash of event {seq} is only kept in the store, and this engine has none"),
            )
        };
        match &self.store {
            Some(store) => store.hash_at(seq).map_err(storage)?.ok_or_else(missing),
            None => Err(missing()),
        }
    }

    /// Keeps only the audit head in memory, once every event up to it is
    /// in the store: at 32 bytes an event, the hashes were the biggest
    /// array of a large engine. Retries of older events read their hash
    /// back from the store.
    pub(super) fn forget_persisted_hashes(&mut self) {
        let len = self.hashes.len();
        if len > 1 {
            let head = self.hashes[len - 1];
            self.hashes.truncate(1);
            self.hashes[0] = head;
            self.hashes_dropped += (len - 1) as u64;
        }
    }

    /// Applies `mutation`, the event's `entries` not yet in the ledger
    /// (they are pushed right after: a new sale's lines read theirs).
    pub(super) fn mutate(&mut self, mutation: Mutation, seq: u64, entries: &[Entry]) {
        match mutation {
            Mutation::Nothing => {}
            Mutation::Join {
                member,
                sponsor,
                at,
                kept,
            } => {
                let index = self.graph.join(&member, sponsor, at);
                self.screen.joined(index, kept.as_ref());
                if let Some(kept) = &kept {
                    self.join_signals.insert(index, kept.digest());
                }
                self.joins.push(sponsor, seq);
                self.rewards.on_join(&self.graph, index, sponsor);
            }
            Mutation::Status(member, status) => self.graph.set_status(member, status),
            Mutation::Reparent(member, sponsor) => {
                self.rewards.on_reparent(&self.graph, member, sponsor);
                self.graph.reparent(member, sponsor);
            }
            Mutation::Hold { member, on } => {
                self.graph.set_hold(member, on);
                if !on {
                    for (sale, line) in self.held_lines.remove(&member).unwrap_or_default() {
                        self.sales[sale as usize].lines[usize::from(line)].release();
                    }
                }
            }
            Mutation::Plan { plan, index, from } => {
                if let Some(plan) = plan {
                    self.plans.push(plan);
                }
                let at = self.schedule.partition_point(|(f, _, _)| *f <= from);
                self.schedule.insert(at, (from, index, seq));
            }
            Mutation::Currency(code, minor_units) => self.currencies.register(&code, minor_units),
            Mutation::Sale(mut record, effects) => {
                self.screen.sold(&effects);
                // Its lines' entries come first among the event's, and
                // are pushed right after this.
                record.first_entry = self.ledger.len() as u64;
                let index = self.sales.len() as u32;
                for (i, line) in record.lines.iter().enumerate() {
                    if line.held() && !line.screened() {
                        self.held_lines
                            .entry(record.earner(i, LineEntries::Staged(entries)))
                            .or_default()
                            .push((index, i as u8));
                    }
                }
                let counts = Self::sale_counts_for_qualification(&record);
                self.rewards
                    .on_sale(&self.graph, record.buyer, counts, record.at);
                self.sales.push(record);
                let sales = &self.sales;
                self.sale_index.insert(index, |i| &sales[i as usize].id);
            }
            Mutation::Refund { id, record } => {
                let sale = &mut self.sales[record.sale as usize];
                if sale.refunded.is_zero() {
                    let ledger = LineEntries::Ledger(&self.ledger);
                    let earners = (0..sale.lines.len()).map(|i| sale.earner(i, ledger));
                    self.screen.refunded(earners, record.at);
                }
                for &(line, amount) in &record.reversals {
                    sale.reverse(usize::from(line), amount);
                }
                sale.refunded = record.refunded_total;
                let uncounts =
                    sale.refunded == sale.amount && Self::sale_counts_for_qualification(sale);
                let buyer = sale.buyer;
                self.rewards
                    .on_refund(&self.graph, buyer, uncounts, record.at);
                self.refunds.insert(id, record);
            }
            Mutation::Rules(ruleset) => self.screen.activate(*ruleset),
            Mutation::Review {
                sale,
                lines,
                resolution,
            } => {
                let record = &mut self.sales[sale as usize];
                for (line, reversed) in lines {
                    let line = usize::from(line);
                    record.lines[line].release();
                    if let Some(amount) = reversed {
                        record.reverse(line, amount);
                        record.lines[line].void();
                    }
                }
                record.review = Some(Box::new(resolution));
            }
            Mutation::Profile(member, profile) => {
                self.profiles.insert(member, profile);
            }
            Mutation::Batch {
                id,
                record,
                payouts,
            } => {
                self.last_batch_as_of = Some(record.batch.as_of);
                self.batches.insert(id, record);
                self.payouts.extend(payouts);
            }
            Mutation::PayoutState(id, state) => {
                if let Some(record) = self.payouts.get_mut(&id) {
                    record.state = state;
                }
            }
            Mutation::Milestones(set) => {
                self.rewards.activate(*set, &self.graph, &self.ledger);
            }
            Mutation::ChallengeCreate(id, challenge) => {
                self.rewards.challenges.insert(id, *challenge);
            }
            Mutation::ChallengeClose(id, closed) => {
                if let Some(challenge) = self.rewards.challenges.get_mut(&id) {
                    challenge.closed = Some(*closed);
                }
            }
        }
    }
}
