//! The engine: applies events, answers queries, replays and snapshots.
//!
//! [`Engine::apply`] validates an event completely and computes everything
//! it will change (records, ledger entries, the audit hash) before it
//! mutates anything; the mutation step cannot fail. So a refused event
//! leaves the engine exactly as it was. An event whose id was already
//! applied with the same content returns the original result and changes
//! nothing; the same id with other content is `duplicate_id`.

pub mod columns;
mod statement;
mod tax_csv;
pub mod whatif;

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Hash, Head, Link, TamperedAt};
use crate::calc::{self, Calculation, SaleInput, UnpaidReason};
use crate::chunked::Chunked;
use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::graph::{Graph, MemberStatus};
use crate::id::{check_id, check_text, DenseIndex, HashMap};
use crate::ledger::{Balances, Entry, EntryKind, Ledger};
use crate::limits::{MAX_BATCH, MAX_PLAN_ACTIVATIONS};
use crate::money::{self, Currencies, Currency, Rate};
use crate::payout::{PayoutPolicy, PayoutRecord, PayoutState, Profile, TaxLine};
use crate::plan::Plan;
use crate::rewards::{self, ActiveSet, Effects, Rewards};
use crate::screen::{self, Action};
use crate::store::{Store, StoredEvent};
use crate::time::Timestamp;

mod export;
mod replica;
pub use export::{export_store, ExportFormat, EXPORT_FORMAT_NAME, EXPORT_FORMAT_VERSION};

/// Version of the snapshot format written by [`Engine::snapshot_json`].
///
/// Format 3 holds audit hashes of format 2 ([`audit::FORMAT`]). Formats 1
/// and 2 held audit format 1 hashes: they are refused with a `storage`
/// error naming the audit format (replay the events instead).
pub const SNAPSHOT_FORMAT: u32 = 3;

/// The last snapshot format whose hashes are audit format 1.
const SNAPSHOT_FORMAT_AUDIT_V1: u32 = 2;

/// What a retried join is checked against: the sponsor it joined under
/// (the graph has the current one) and its sequence number. Three `u32`s,
/// 12 bytes a member; serialized as `{sponsor, seq}` as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "JoinRecord", into = "JoinRecord")]
struct Join {
    /// [`NO_MEMBER`](crate::graph::NO_MEMBER) for a root.
    sponsor: u32,
    seq_low: u32,
    seq_high: u32,
}

#[derive(Serialize, Deserialize)]
struct JoinRecord {
    sponsor: Option<u32>,
    seq: u64,
}

impl Join {
    fn new(sponsor: Option<u32>, seq: u64) -> Join {
        Join {
            sponsor: sponsor.unwrap_or(crate::graph::NO_MEMBER),
            seq_low: seq as u32,
            seq_high: (seq >> 32) as u32,
        }
    }

    fn sponsor(&self) -> Option<u32> {
        Some(self.sponsor).filter(|&s| s != crate::graph::NO_MEMBER)
    }

    fn seq(&self) -> u64 {
        u64::from(self.seq_high) << 32 | u64::from(self.seq_low)
    }
}

impl From<JoinRecord> for Join {
    fn from(record: JoinRecord) -> Join {
        Join::new(record.sponsor, record.seq)
    }
}

impl From<Join> for JoinRecord {
    fn from(join: Join) -> JoinRecord {
        JoinRecord {
            sponsor: join.sponsor(),
            seq: join.seq(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SaleLine {
    earner: u32,
    level: u8,
    rate: Rate,
    amount: Decimal,
    reversed: Decimal,
    /// Credited as held (the earner was on hold at the sale): never changes,
    /// so a retry returns the original distribution.
    held: bool,
    /// The hold ended and the held remainder went back to the flow.
    released: bool,
    available_at: Timestamp,
    /// Held by fraud screening (until its review is resolved), not by a
    /// member hold.
    #[serde(default)]
    screened: bool,
    /// Reversed by a review: later refunds reverse nothing more of it.
    #[serde(default)]
    voided: bool,
}

impl SaleLine {
    fn held_now(&self) -> bool {
        self.held && !self.released
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SaleRecord {
    id: Arc<str>,
    seq: u64,
    buyer: u32,
    amount: Decimal,
    currency: Currency,
    at: Timestamp,
    category: Option<String>,
    plan: u32,
    lines: Vec<SaleLine>,
    unpaid: Vec<(u8, UnpaidReason)>,
    retained: Decimal,
    refunded: Decimal,
    /// What screening decided, when a rule matched.
    /// Boxed: rare, and a sale record is kept for every sale.
    #[serde(default)]
    screening: Option<Box<screen::Decision>>,
    /// How its fraud review ended, once it has.
    #[serde(default)]
    review: Option<Box<Resolution>>,
    /// A digest of the sale's screening signals (0: none).
    #[serde(default)]
    signals: u64,
    /// The conversion of a sale paid in another currency. Boxed: rare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fx: Option<Box<SaleFx>>,
}

/// A sale paid in another currency: its lines, `retained` and `reversed`
/// are in `currency`, computed on `base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SaleFx {
    currency: Currency,
    rate: Decimal,
    base: Decimal,
}

impl SaleRecord {
    /// The currency its lines are paid in.
    fn pay_currency(&self) -> Currency {
        self.fx.as_ref().map_or(self.currency, |fx| fx.currency)
    }

    /// The amount its lines were computed on.
    fn base(&self) -> Decimal {
        self.fx.as_ref().map_or(self.amount, |fx| fx.base)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Resolution {
    decision: ReviewDecision,
    at: Timestamp,
    note: Option<String>,
    seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RefundRecord {
    seq: u64,
    sale: u32,
    amount: Decimal,
    at: Timestamp,
    reversals: Vec<(u8, Decimal)>,
    refunded_total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BatchRecord {
    seq: u64,
    policy: PayoutPolicy,
    batch: Batch,
}

/// The commission engine. Pure: no IO, no clock, no randomness.
///
/// ```
/// use upline::Engine;
///
/// let mut engine = Engine::new();
/// for (member, sponsor) in [("ann", None), ("bob", Some("ann"))] {
///     engine.apply_json(&serde_json::json!({
///         "type": "member_joined", "member": member, "sponsor": sponsor,
///         "at": "2026-01-01T00:00:00Z"
///     }).to_string())?;
/// }
/// let applied = engine.apply_json(r#"{"type":"sale_recorded","sale":"s1","buyer":"bob",
///     "amount":"100.00","currency":"USD","at":"2026-02-01T12:00:00Z"}"#)?;
/// let upline::Outcome::Distribution(d) = &applied.outcome else { unreachable!() };
/// assert_eq!(d.lines[0].amount.to_string(), "20.00");
/// assert_eq!(d.retained.to_string(), "80.00");
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Serialize, Deserialize)]
pub struct Engine {
    currencies: Currencies,
    graph: Graph,
    joins: Chunked<Join>,
    plans: Vec<Plan>,
    /// Plan activations by `effective_from` (ties in activation order):
    /// (from, plan index, seq of the activating event; 0 for the default).
    schedule: Vec<(Timestamp, u32, u64)>,
    sales: Chunked<SaleRecord>,
    #[serde(skip)]
    sale_index: DenseIndex,
    #[serde(serialize_with = "sorted")]
    refunds: HashMap<Arc<str>, RefundRecord>,
    ledger: Ledger,
    #[serde(serialize_with = "sorted")]
    profiles: HashMap<u32, Profile>,
    #[serde(serialize_with = "sorted")]
    batches: HashMap<Arc<str>, BatchRecord>,
    #[serde(serialize_with = "sorted")]
    payouts: HashMap<Arc<str>, PayoutRecord>,
    last_batch_as_of: Option<Timestamp>,
    /// Lines held by a member hold (not those held by screening).
    #[serde(skip)]
    held_lines: HashMap<u32, Vec<(u32, u8)>>,
    /// The audit hash of every event from `hashes_dropped + 1` on. An
    /// engine with a store keeps only the head (the store has the rest,
    /// [`Store::hash_at`]); one without keeps them all, to answer retries.
    hashes: Chunked<Hash>,
    /// How many hashes before `hashes[0]` are only in the store.
    #[serde(default, skip_serializing_if = "is_zero")]
    hashes_dropped: u64,
    /// Milestones, challenges and the counters they read.
    #[serde(default)]
    rewards: Rewards,
    /// A digest of each join's screening signals, for members that sent
    /// any (so a retry with other signals is told apart): a map, not a
    /// field of every join, since most hosts send signals for few joins
    /// or none.
    #[serde(default, serialize_with = "sorted")]
    join_signals: HashMap<u32, u64>,
    /// Fraud screening: kept signals, clusters, rule sets.
    #[serde(default)]
    screen: screen::State,
    #[serde(skip)]
    scratch: Calculation,
    #[serde(skip)]
    store: Option<Box<dyn Store>>,
    /// Set when a failed group commit could not be rolled back by reloading
    /// from the store; every later change is refused.
    #[serde(skip)]
    broken: Option<String>,
    /// A read-only replica: catches up, never writes (`replica.rs`).
    #[serde(skip)]
    follower: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

/// Everything an event will change, computed before anything changes.
enum Mutation {
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

struct Prepared {
    outcome: Outcome,
    entries: Vec<Entry>,
    mutation: Mutation,
    /// Awards and milestone reversals to record.
    effects: Effects,
}

impl Prepared {
    fn state(mutation: Mutation) -> Self {
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
struct Records<'a> {
    outcome: &'a Outcome,
    entries: &'a [EntryRecord],
}

fn time(text: &str, field: &str) -> Result<Timestamp> {
    Timestamp::parse(text, field)
}

/// `amount` if it is above zero, else `invalid_amount` naming `field`.
pub(crate) fn positive(amount: Decimal, field: &str) -> Result<Decimal> {
    if amount <= Decimal::ZERO {
        return Err(Error::new(
            ErrorKind::InvalidAmount,
            field,
            format!("{field} \"{amount}\" must be positive"),
        ));
    }
    Ok(amount)
}

fn duplicate(field: &str, id: &str) -> Error {
    Error::new(
        ErrorKind::DuplicateId,
        field,
        format!("{field} {id:?} was already used with different content"),
    )
}

impl Engine {
    /// An empty engine with the default plan (the first programme) in force.
    pub fn new() -> Self {
        Engine {
            currencies: Currencies::default(),
            graph: Graph::default(),
            joins: Chunked::new(),
            plans: vec![Plan::default_plan()],
            schedule: vec![(Timestamp::MIN, 0, 0)],
            sales: Chunked::new(),
            sale_index: DenseIndex::default(),
            refunds: HashMap::default(),
            ledger: Ledger::default(),
            profiles: HashMap::default(),
            batches: HashMap::default(),
            payouts: HashMap::default(),
            last_batch_as_of: None,
            held_lines: HashMap::default(),
            hashes: Chunked::new(),
            hashes_dropped: 0,
            rewards: Rewards::default(),
            join_signals: HashMap::default(),
            screen: screen::State::default(),
            scratch: Calculation::default(),
            store: None,
            broken: None,
            follower: false,
        }
    }

    /// An engine rebuilt by applying `events` in order. Fails on the first
    /// refused event.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Engine> {
        let mut engine = Engine::new();
        for event in events {
            engine.apply(event)?;
        }
        Ok(engine)
    }

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
                Err(err) => decoded.push(Some(crate::event::malformed(err))),
            }
        }
        let mut applied = self.apply_batch(&events)?.into_iter();
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
            return Ok(events.iter().map(|event| self.apply(event)).collect());
        }
        self.apply_batch_stored(events)
    }

    /// Applies one event: validates it fully, persists it when the engine
    /// has a store, then changes the state.
    ///
    /// With a store shared by other writers, a `conflict` on append makes
    /// the engine catch up and try again (see [`catch_up`](Self::catch_up)).
    pub fn apply(&mut self, event: &Event) -> Result<Applied> {
        if self.store.is_some() {
            return self.apply_stored(event);
        }
        match self.stage(event)? {
            Staged::Retry(applied) => Ok(applied),
            Staged::New(link, effects) => Ok(self.commit(link, effects)),
        }
    }

    /// An engine backed by `store`: restores the latest snapshot, replays
    /// the events stored after it (checking each against its stored hash),
    /// and persists every event applied from then on.
    pub fn open(store: Box<dyn Store>) -> Result<Engine> {
        check_audit_format(store.as_ref())?;
        let mut engine = match store.latest_snapshot().map_err(storage)? {
            Some((_, snapshot)) => Engine::from_snapshot_json(&snapshot)?,
            None => Engine::new(),
        };
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

    /// Validates `event` and computes its effects and its audit link,
    /// without changing anything.
    pub(crate) fn stage(&mut self, event: &Event) -> Result<Staged> {
        if let Some(why) = &self.broken {
            return Err(Error::general(
                ErrorKind::Storage,
                format!("this engine lost its store ({why}); open it again"),
            ));
        }
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
        let entries = self.entry_records(&prepared.entries, &prepared.mutation, &prepared.outcome);
        let previous = self.audit_head().hash;
        let hash = audit::block_hash(seq, &previous, event, &prepared.outcome, &entries)
            .map_err(internal)?;
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
        self.mutate(prepared.mutation, seq);
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

    fn entry_records(
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
                earner: self.member_id_for(e.earner, mutation, outcome),
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
    fn member_id_for(&self, member: u32, mutation: &Mutation, outcome: &Outcome) -> Arc<str> {
        match (mutation, outcome) {
            (Mutation::Join { member: id, .. }, _) if member as usize == self.graph.len() => {
                Arc::from(id.as_str())
            }
            (Mutation::Sale(record, _), Outcome::Distribution(distribution)) => record
                .lines
                .iter()
                .position(|line| line.earner == member)
                .and_then(|i| distribution.lines.get(i))
                .map_or_else(
                    || Arc::from(self.graph.id(member)),
                    |line| line.earner.clone(),
                ),
            _ => Arc::from(self.graph.id(member)),
        }
    }

    fn prepare(&mut self, event: &Event) -> Result<Prep> {
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

    fn retry(&self, seq: u64, outcome: Outcome) -> Result<Prep> {
        Ok(Prep::Retry(Applied {
            seq,
            hash: self.hash_at(seq)?,
            replayed: true,
            outcome,
            entries: Vec::new(),
        }))
    }

    /// The sequence number the next new event gets.
    fn next_seq(&self) -> u64 {
        self.hashes_dropped + self.hashes.len() as u64 + 1
    }

    /// The audit hash after event `seq` (`1..=head`): from memory, or from
    /// the store for the hashes an engine with a store no longer keeps.
    fn hash_at(&self, seq: u64) -> Result<Hash> {
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
    fn forget_persisted_hashes(&mut self) {
        let len = self.hashes.len();
        if len > 1 {
            let head = self.hashes[len - 1];
            self.hashes.truncate(1);
            self.hashes[0] = head;
            self.hashes_dropped += (len - 1) as u64;
        }
    }

    fn prepare_join(&self, e: &MemberJoined) -> Result<Prep> {
        check_id(&e.member, "member")?;
        if let Some(sponsor) = &e.sponsor {
            check_id(sponsor, "sponsor")?;
        }
        let at = time(&e.at, "at")?;
        let kept = match &e.signals {
            Some(signals) => Some(screen::reduce(signals, at)?),
            None => None,
        };
        let digest = kept.as_ref().map_or(0, screen::Kept::digest);
        if e.sponsor.as_deref() == Some(e.member.as_str()) {
            return Err(Error::new(
                ErrorKind::SelfSponsor,
                "sponsor",
                format!("member {:?} cannot sponsor itself", e.member),
            ));
        }
        if let Some(existing) = self.graph.index_of(&e.member) {
            let join = &self.joins[existing as usize];
            let same_sponsor = join.sponsor().map(|s| self.graph.id(s)) == e.sponsor.as_deref();
            let signals = self.join_signals.get(&existing).copied().unwrap_or(0);
            if same_sponsor && self.graph.joined_at(existing) == at && signals == digest {
                return self.retry(join.seq(), self.awards_outcome(join.seq()));
            }
            return Err(duplicate("member", &e.member));
        }
        let sponsor = self.graph.check_join(&e.member, e.sponsor.as_deref())?;
        let mut prepared = Prepared::state(Mutation::Join {
            member: e.member.clone(),
            sponsor,
            at,
            kept,
        });
        if self.rewards.active.is_some() {
            let touches = self.rewards.join_touches(&self.graph, sponsor);
            prepared.effects = self.evaluate(&touches, at, &mut prepared.entries);
            if !prepared.effects.awards.is_empty() {
                prepared.outcome = Outcome::Awards(
                    prepared
                        .effects
                        .awards
                        .iter()
                        .map(|a| a.award.clone())
                        .collect(),
                );
            }
        }
        Ok(Prep::New(prepared))
    }

    /// Milestone awards and reversals of `touches` at `at`, bonuses maturing
    /// after the hold period of the plan in force at `at`; their entries are
    /// appended to `entries`.
    fn evaluate(
        &self,
        touches: &[rewards::Touch],
        at: Timestamp,
        entries: &mut Vec<Entry>,
    ) -> Effects {
        if touches.is_empty() {
            return Effects::default();
        }
        let available_at = at.plus_days(self.plan_at(at).hold_days());
        let seq = self.next_seq();
        self.rewards
            .evaluate(&self.graph, touches, at, available_at, seq, entries)
    }

    /// The outcome of a join (or any event without records of its own):
    /// the awards it made, if any.
    fn awards_outcome(&self, seq: u64) -> Outcome {
        let awards = self.rewards.awards_at(seq);
        if awards.is_empty() {
            Outcome::None
        } else {
            Outcome::Awards(awards)
        }
    }

    /// Whether `sale` counts towards qualified referrals, own sales and
    /// sales volumes: not when fraud screening blocked any of its lines (a
    /// blocked sale must not qualify a referral or earn a milestone). A
    /// pure function of the recorded sale, since a refund asks it again.
    fn sale_counts_for_qualification(sale: &SaleRecord) -> bool {
        !sale
            .screening
            .as_ref()
            .is_some_and(|d| d.hits.iter().any(|h| h.action == Action::Block))
    }

    fn prepare_status(&self, e: &MemberStatusChanged) -> Result<Prep> {
        check_id(&e.member, "member")?;
        time(&e.at, "at")?;
        let member = self.graph.require(&e.member, "member")?;
        let current = self.graph.status(member);
        if current == MemberStatus::Terminated && e.status != MemberStatus::Terminated {
            return Err(Error::new(
                ErrorKind::MemberTerminated,
                "member",
                format!(
                    "member {:?} is terminated and cannot be reactivated",
                    e.member
                ),
            ));
        }
        Ok(Prep::New(Prepared::state(Mutation::Status(
            member, e.status,
        ))))
    }

    fn prepare_reparent(&self, e: &SponsorChanged) -> Result<Prep> {
        check_id(&e.member, "member")?;
        check_id(&e.sponsor, "sponsor")?;
        check_text(&e.reason, "reason")?;
        time(&e.at, "at")?;
        let member = self.graph.require(&e.member, "member")?;
        let sponsor = self.graph.require(&e.sponsor, "sponsor")?;
        self.graph.check_reparent(member, sponsor)?;
        Ok(Prep::New(Prepared::state(Mutation::Reparent(
            member, sponsor,
        ))))
    }

    fn prepare_hold(&self, e: &MemberHoldSet) -> Result<Prep> {
        check_id(&e.member, "member")?;
        check_text(&e.reason, "reason")?;
        let at = time(&e.at, "at")?;
        let member = self.graph.require(&e.member, "member")?;
        let mut prepared = Prepared::state(Mutation::Hold { member, on: e.on });
        if !e.on {
            for &(sale, line) in self.held_lines.get(&member).into_iter().flatten() {
                let record = &self.sales[sale as usize];
                let line = &record.lines[usize::from(line)];
                let amount = line.amount - line.reversed;
                if amount > Decimal::ZERO {
                    prepared.entries.push(Entry {
                        at,
                        earner: member,
                        currency: record.currency,
                        kind: EntryKind::Release,
                        amount,
                        available_at: line.available_at,
                        reference: record.id.clone(),
                    });
                }
            }
        }
        Ok(Prep::New(prepared))
    }

    fn prepare_plan(&self, e: &PlanActivated) -> Result<Prep> {
        let plan = e
            .plan
            .validate(&self.currencies)
            .map_err(|err| err.within("plan"))?;
        let from = time(&e.effective_from, "effective_from")?;
        let existing = self
            .plans
            .iter()
            .position(|p| p.id() == plan.id() && p.version() == plan.version());
        if let Some(index) = existing {
            if self.plans[index] != plan {
                return Err(Error::new(
                    ErrorKind::DuplicateId,
                    "plan.id",
                    format!(
                        "plan {:?} version {} was already activated with different content",
                        plan.id(),
                        plan.version()
                    ),
                ));
            }
        }
        if let Some(index) = existing {
            // The same plan activated again at the same instant, while it is
            // still the one in force from then: a retry.
            let at_from = self.schedule.iter().rev().find(|(f, _, _)| *f == from);
            if let Some(&(_, in_force, seq)) = at_from {
                if in_force as usize == index && seq > 0 {
                    return self.retry(seq, Outcome::None);
                }
            }
        }
        if self.schedule.len() >= MAX_PLAN_ACTIVATIONS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "plan",
                format!("at most {MAX_PLAN_ACTIVATIONS} plan activations are kept"),
            ));
        }
        let mutation = match existing {
            Some(index) => Mutation::Plan {
                plan: None,
                index: index as u32,
                from,
            },
            None => Mutation::Plan {
                index: self.plans.len() as u32,
                plan: Some(plan),
                from,
            },
        };
        Ok(Prep::New(Prepared::state(mutation)))
    }

    fn prepare_currency(&self, e: &CurrencyRegistered) -> Result<Prep> {
        let mutation = if self.currencies.check_register(&e.currency, e.minor_units)? {
            Mutation::Nothing
        } else {
            Mutation::Currency(e.currency.clone(), e.minor_units)
        };
        Ok(Prep::New(Prepared::state(mutation)))
    }

    fn plan_index_at(&self, at: Timestamp) -> u32 {
        let after = self.schedule.partition_point(|(from, _, _)| *from <= at);
        // The default plan is scheduled from the start of time, so `after`
        // is at least 1.
        self.schedule[after.saturating_sub(1)].1
    }

    /// The plan in force at `at`.
    pub fn plan_at(&self, at: Timestamp) -> &Plan {
        &self.plans[self.plan_index_at(at) as usize]
    }

    fn prepare_sale(&mut self, e: &SaleRecorded) -> Result<Prep> {
        check_id(&e.sale, "sale")?;
        check_id(&e.buyer, "buyer")?;
        if let Some(category) = &e.category {
            check_id(category, "category")?;
        }
        let currency = self.currencies.get(&e.currency, "currency")?;
        let amount = positive(
            currency.parse_amount(e.amount.text("amount")?, "amount")?,
            "amount",
        )?;
        let at = time(&e.at, "at")?;
        let buyer = self.graph.require(&e.buyer, "buyer")?;
        let joined = self.graph.joined_at(buyer);
        if at < joined {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "at",
                format!(
                    "sale {:?} at {at} is before its buyer {:?} joined ({joined})",
                    e.sale, e.buyer
                ),
            ));
        }
        let fx = match &e.fx {
            Some(fx) => Some(self.fx_of(fx, currency)?),
            None => None,
        };
        let kept = match &e.signals {
            Some(signals) => Some(screen::reduce(signals, at)?),
            None => None,
        };
        let digest = kept.as_ref().map_or(0, screen::Kept::digest);
        if let Some(index) = self.sale_by_id(&e.sale) {
            let sale = &self.sales[index as usize];
            let same = sale.buyer == buyer
                && sale.amount == amount
                && sale.currency == currency
                && sale.at == at
                && sale.category == e.category
                && sale.signals == digest
                && sale.fx.as_ref().map(|f| (f.currency, f.rate)) == fx;
            if same {
                return self.retry(sale.seq, Outcome::Distribution(self.distribution(sale)));
            }
            return Err(duplicate("sale", &e.sale));
        }
        let plan_index = self.plan_index_at(at);
        let plan = &self.plans[plan_index as usize];
        let table = plan.table(e.category.as_deref());
        let fx = match fx {
            Some((pay, rate)) => {
                let base = money::Wide::of(amount)
                    .mul(money::Wide::of(rate))
                    .round(u32::from(pay.minor_units()), plan.rounding())
                    .ok_or_else(|| money::beyond("fx.rate"))?;
                let base = pay.exact(base, "fx.rate")?;
                Some(Box::new(SaleFx {
                    currency: pay,
                    rate,
                    base,
                }))
            }
            None => None,
        };
        let (base, pay) = match &fx {
            Some(fx) => (fx.base, fx.currency),
            None => (amount, currency),
        };
        let input = SaleInput {
            buyer,
            amount: base,
            currency: pay,
            at,
        };
        calc::calculate(plan, table, &self.graph, input, &mut self.scratch)?;
        let available_at = at.plus_days(plan.hold_days());
        let decided = screen::decide(
            &self.screen,
            &screen::SaleContext {
                graph: &self.graph,
                buyer,
                at,
                currency: pay,
                signals: kept,
            },
            &self.scratch.lines,
        );
        let id: Arc<str> = Arc::from(e.sale.as_str());
        let mut entries = Vec::with_capacity(self.scratch.lines.len());
        let mut lines: Vec<SaleLine> = Vec::with_capacity(self.scratch.lines.len());
        let mut unpaid = self.scratch.unpaid.clone();
        let mut retained = self.scratch.retained;
        for (line, action) in self.scratch.lines.iter().zip(&decided.actions) {
            if *action == Some(Action::Block) {
                retained += line.amount;
                let at = unpaid.partition_point(|&(level, _)| level < line.level);
                unpaid.insert(at, (line.level, UnpaidReason::FraudBlocked));
                continue;
            }
            let screened = *action == Some(Action::Hold);
            lines.push(SaleLine {
                earner: line.earner,
                level: line.level,
                rate: line.rate,
                amount: line.amount,
                reversed: Decimal::new(0, u32::from(pay.minor_units())),
                held: line.held || screened,
                released: false,
                available_at,
                screened,
                voided: false,
            });
        }
        for line in &lines {
            for kind in [EntryKind::Commission, EntryKind::Hold] {
                if kind == EntryKind::Hold && !line.held {
                    continue;
                }
                entries.push(Entry {
                    at,
                    earner: line.earner,
                    currency: pay,
                    kind,
                    amount: line.amount,
                    available_at,
                    reference: id.clone(),
                });
            }
        }
        debug_assert_eq!(
            lines.iter().map(|l| l.amount).sum::<Decimal>() + retained,
            base,
            "lines plus retained equal the commission base"
        );
        let record = SaleRecord {
            id,
            seq: self.next_seq(),
            buyer,
            amount,
            currency,
            at,
            category: e.category.clone(),
            plan: plan_index,
            lines,
            unpaid,
            retained,
            refunded: Decimal::new(0, u32::from(currency.minor_units())),
            screening: decided.decision.map(Box::new),
            review: None,
            signals: digest,
            fx,
        };
        let mut effects = Effects::default();
        // A new sale has no awards recorded yet: no lookup on the hot path.
        let mut distribution = self.distribution_without_awards(&record);
        if self.rewards.active.is_some() {
            let counts = Self::sale_counts_for_qualification(&record);
            let touches = self
                .rewards
                .sale_touches(&self.graph, buyer, counts, &entries);
            effects = self.evaluate(&touches, at, &mut entries);
            distribution.awards = effects.awards.iter().map(|a| a.award.clone()).collect();
        }
        Ok(Prep::New(Prepared {
            effects,
            outcome: Outcome::Distribution(distribution),
            entries,
            mutation: Mutation::Sale(record, decided.effects),
        }))
    }

    /// Validates a sale's `fx`: the currency it pays in (known, not the
    /// sale's own) and the host's rate (positive).
    fn fx_of(&self, fx: &Fx, sale_currency: Currency) -> Result<(Currency, Decimal)> {
        let rate = money::parse_decimal(
            fx.rate.text("fx.rate")?,
            "fx.rate",
            ErrorKind::InvalidAmount,
        )?;
        if rate <= Decimal::ZERO {
            return Err(Error::new(
                ErrorKind::InvalidAmount,
                "fx.rate",
                format!("fx.rate \"{rate}\" must be above 0"),
            ));
        }
        let pay = self.currencies.get(&fx.currency, "fx.currency")?;
        if pay == sale_currency {
            return Err(Error::new(
                ErrorKind::InvalidCurrency,
                "fx.currency",
                format!(
                    "fx.currency {:?} is the sale's own currency; leave fx out",
                    fx.currency
                ),
            ));
        }
        Ok((pay, rate))
    }

    fn prepare_rules(&self, e: &ScreeningRulesSet) -> Result<Prep> {
        let seq = self.next_seq();
        let ruleset = screen::compile(e, seq)?;
        if let Some(existing) = self.screen.find_ruleset(&e.id) {
            if existing.spec == *e {
                return self.retry(existing.seq, Outcome::None);
            }
            return Err(duplicate("id", &e.id));
        }
        if self.screen.ruleset_count() >= crate::limits::MAX_RULESETS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "id",
                format!(
                    "at most {} screening rule sets are kept",
                    crate::limits::MAX_RULESETS
                ),
            ));
        }
        Ok(Prep::New(Prepared::state(Mutation::Rules(Box::new(
            ruleset,
        )))))
    }

    fn prepare_review(&self, e: &FraudReviewResolved) -> Result<Prep> {
        check_id(&e.review, "review")?;
        let at = time(&e.at, "at")?;
        if let Some(note) = &e.note {
            check_text(note, "note")?;
        }
        let unknown = || {
            Error::new(
                ErrorKind::UnknownReview,
                "review",
                format!("review {:?} names no sale held by screening", e.review),
            )
        };
        let index = self.sale_by_id(&e.review).ok_or_else(unknown)?;
        let sale = &self.sales[index as usize];
        if !sale.lines.iter().any(|l| l.screened) {
            return Err(unknown());
        }
        if at < sale.at {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "at",
                format!(
                    "review {:?} at {at} is before the sale it reviews ({})",
                    e.review, sale.at
                ),
            ));
        }
        if let Some(done) = &sale.review {
            if done.decision == e.decision && done.at == at && done.note == e.note {
                return self.retry(done.seq, Outcome::None);
            }
            return Err(Error::new(
                ErrorKind::ReviewState,
                "review",
                format!(
                    "review {:?} was already resolved ({:?} at {})",
                    e.review, done.decision, done.at
                ),
            ));
        }
        let mut entries = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in sale.lines.iter().enumerate() {
            if !line.screened || line.released {
                continue;
            }
            let remainder = line.amount - line.reversed;
            let reversed = match e.decision {
                ReviewDecision::Release => None,
                ReviewDecision::Reverse => Some(remainder),
            };
            lines.push((i as u8, reversed));
            if remainder > Decimal::ZERO {
                entries.push(Entry {
                    at,
                    earner: line.earner,
                    currency: sale.pay_currency(),
                    kind: match e.decision {
                        ReviewDecision::Release => EntryKind::Release,
                        ReviewDecision::Reverse => EntryKind::ReversalHeld,
                    },
                    amount: remainder,
                    available_at: line.available_at,
                    reference: sale.id.clone(),
                });
            }
        }
        Ok(Prep::New(Prepared {
            outcome: Outcome::None,
            entries,
            effects: Effects::default(),
            mutation: Mutation::Review {
                sale: index,
                lines,
                resolution: Resolution {
                    decision: e.decision,
                    at,
                    note: e.note.clone(),
                    seq: self.next_seq(),
                },
            },
        }))
    }

    /// The distribution of a recorded sale, with the awards it made.
    fn distribution(&self, sale: &SaleRecord) -> Distribution {
        let mut distribution = self.distribution_without_awards(sale);
        if !self.rewards.awards.is_empty() {
            distribution.awards = self.rewards.awards_at(sale.seq);
        }
        distribution
    }

    fn distribution_without_awards(&self, sale: &SaleRecord) -> Distribution {
        let plan = &self.plans[sale.plan as usize];
        self.graph.warm_ids(sale.lines.iter().map(|l| l.earner));
        Distribution {
            sale: sale.id.clone(),
            plan: plan.id().to_string(),
            plan_version: plan.version(),
            currency: sale.currency,
            amount: sale.amount,
            lines: sale
                .lines
                .iter()
                .map(|l| Line {
                    earner: Arc::from(self.graph.id(l.earner)),
                    level: l.level,
                    rate: l.rate,
                    base: sale.base(),
                    amount: l.amount,
                    held: l.held,
                })
                .collect(),
            retained: sale.retained,
            unpaid: sale
                .unpaid
                .iter()
                .map(|&(level, reason)| Unpaid { level, reason })
                .collect(),
            awards: Vec::new(),
            screening: sale.screening.as_deref().cloned(),
            fx: sale.fx.as_ref().map(|fx| Conversion {
                currency: fx.currency,
                rate: fx.rate.normalize(),
                base: fx.base,
            }),
        }
    }

    fn refund_outcome(&self, id: &Arc<str>, record: &RefundRecord) -> RefundOutcome {
        let sale = &self.sales[record.sale as usize];
        RefundOutcome {
            refund: id.clone(),
            sale: sale.id.clone(),
            reversals: record
                .reversals
                .iter()
                .map(|&(line, amount)| {
                    let line = &sale.lines[usize::from(line)];
                    Reversal {
                        earner: Arc::from(self.graph.id(line.earner)),
                        level: line.level,
                        amount,
                    }
                })
                .collect(),
            refunded_total: record.refunded_total,
            milestone_reversals: if self.rewards.reversals.is_empty()
                || self.refunds.get(id).is_none_or(|r| r.seq != record.seq)
            {
                Vec::new()
            } else {
                self.rewards.reversals_at(record.seq)
            },
        }
    }

    fn prepare_refund(&self, e: &RefundRecorded) -> Result<Prep> {
        check_id(&e.refund, "refund")?;
        check_id(&e.sale, "sale")?;
        let at = time(&e.at, "at")?;
        let sale_index = self.sale_by_id(&e.sale).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownSale,
                "sale",
                format!("sale {:?} was never recorded", e.sale),
            )
        })?;
        let sale = &self.sales[sale_index as usize];
        let amount = positive(
            sale.currency
                .parse_amount(e.amount.text("amount")?, "amount")?,
            "amount",
        )?;
        if at < sale.at {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "at",
                format!(
                    "refund {:?} at {at} is before its sale {:?} ({})",
                    e.refund, e.sale, sale.at
                ),
            ));
        }
        if let Some((id, record)) = self.refunds.get_key_value(e.refund.as_str()) {
            if record.sale == sale_index && record.amount == amount && record.at == at {
                return self.retry(record.seq, Outcome::Refund(self.refund_outcome(id, record)));
            }
            return Err(duplicate("refund", &e.refund));
        }
        let total = money::add(sale.refunded, amount, "amount")?;
        if total > sale.amount {
            return Err(Error::new(
                ErrorKind::OverRefund,
                "amount",
                format!(
                    "refunding {amount} more of sale {:?} would refund {total} of {} {}",
                    e.sale, sale.amount, sale.currency
                ),
            ));
        }
        let rounding = self.plans[sale.plan as usize].rounding();
        let mut reversals = Vec::new();
        let mut entries = Vec::new();
        let id: Arc<str> = Arc::from(e.refund.as_str());
        for (i, line) in sale.lines.iter().enumerate() {
            if line.voided {
                continue;
            }
            // round(line × refunded_total / amount), formed exactly and
            // rounded once; the line may be in the fx currency.
            let cumulative = if total == sale.amount {
                line.amount
            } else {
                money::Wide::of(line.amount)
                    .mul(money::Wide::of(total))
                    .div_round(
                        money::Wide::of(sale.amount),
                        u32::from(sale.pay_currency().minor_units()),
                        rounding,
                    )
                    .ok_or_else(|| money::beyond("amount"))?
            };
            let delta = cumulative - line.reversed;
            debug_assert!(
                delta >= Decimal::ZERO,
                "reversals only grow with the refunded total"
            );
            if delta <= Decimal::ZERO {
                continue;
            }
            reversals.push((i as u8, delta));
            entries.push(Entry {
                at,
                earner: line.earner,
                currency: sale.pay_currency(),
                kind: if line.held_now() {
                    EntryKind::ReversalHeld
                } else {
                    EntryKind::Reversal
                },
                amount: delta,
                available_at: line.available_at,
                reference: id.clone(),
            });
        }
        let record = RefundRecord {
            seq: self.next_seq(),
            sale: sale_index,
            amount,
            at,
            reversals,
            refunded_total: total,
        };
        let mut effects = Effects::default();
        let mut outcome = self.refund_outcome(&id, &record);
        if self.rewards.active.is_some() {
            let uncounts = total == sale.amount && Self::sale_counts_for_qualification(sale);
            let touches = self
                .rewards
                .refund_touches(&self.graph, sale.buyer, uncounts, &entries);
            effects = self.evaluate(&touches, at, &mut entries);
            outcome.milestone_reversals =
                effects.reversals.iter().map(|r| r.record.clone()).collect();
        }
        Ok(Prep::New(Prepared {
            effects,
            outcome: Outcome::Refund(outcome),
            entries,
            mutation: Mutation::Refund { id, record },
        }))
    }

    fn prepare_profile(&self, e: &PayoutProfileSet) -> Result<Prep> {
        check_id(&e.member, "member")?;
        check_id(&e.method, "method")?;
        let member = self.graph.require(&e.member, "member")?;
        Ok(Prep::New(Prepared::state(Mutation::Profile(
            member,
            Profile {
                method: e.method.clone(),
                verified: e.verified,
            },
        ))))
    }

    fn prepare_batch(&self, e: &PayoutsPrepared) -> Result<Prep> {
        check_id(&e.batch, "batch")?;
        let as_of = time(&e.as_of, "as_of")?;
        let policy = e.policy.validate(&self.currencies)?;
        if let Some(record) = self.batches.get(e.batch.as_str()) {
            if record.batch.as_of == as_of && record.policy == e.policy {
                return self.retry(record.seq, Outcome::Batch(record.batch.clone()));
            }
            return Err(duplicate("batch", &e.batch));
        }
        if let Some(last) = self.last_batch_as_of {
            if as_of < last {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    "as_of",
                    format!("as_of {as_of} is before the previous batch's as_of {last}"),
                ));
            }
        }
        let batch_id: Arc<str> = Arc::from(e.batch.as_str());
        let mut accounts: Vec<(u32, Currency)> = self.ledger.accounts().collect();
        accounts.sort_by(|a, b| {
            self.graph
                .id(a.0)
                .cmp(self.graph.id(b.0))
                .then_with(|| a.1.code().cmp(b.1.code()))
        });
        let end_of_time = Timestamp::MAX;
        let mut items = Vec::new();
        let mut skipped = Vec::new();
        let mut entries = Vec::new();
        let mut payouts = Vec::new();
        for (earner, currency) in accounts {
            // Money already reversed by a later-dated refund is not paid.
            let now = self.ledger.balances(earner, currency, as_of);
            // Money already reversed by a later-dated refund is not paid.
            let available = now.available.min(
                self.ledger
                    .balances(earner, currency, end_of_time)
                    .available,
            );
            if available.is_zero() && now.held.is_zero() {
                continue; // nothing to pay and nothing waiting: left out
            }
            let earner_id = Arc::from(self.graph.id(earner));
            let profile = self.profiles.get(&earner).filter(|p| p.verified);
            // Every other account gets an item or the first reason that
            // applies, in DESIGN.md's order ("Payouts and tax summaries").
            let mut reason = if available < Decimal::ZERO {
                Some(SkipReason::NegativeBalance)
            } else if self.graph.on_hold(earner) || available.is_zero() {
                Some(SkipReason::OnHold)
            } else if policy.minimum(currency).is_some_and(|min| available < min) {
                Some(SkipReason::BelowMinimum)
            } else if profile.is_none() {
                Some(SkipReason::NoVerifiedProfile)
            } else {
                None
            };
            let mut fee = Decimal::ZERO;
            if let (Some(profile), None) = (profile, reason) {
                fee = policy.fee(&profile.method).on(available, currency)?;
                if fee >= available {
                    reason = Some(SkipReason::BelowFee);
                }
            }
            let (Some(profile), None) = (profile, reason) else {
                skipped.push(Skipped {
                    earner: earner_id,
                    currency: currency.code().to_string(),
                    reason: reason.unwrap_or(SkipReason::NoVerifiedProfile),
                });
                continue;
            };
            let payout: Arc<str> =
                Arc::from(format!("{}:{}:{}", e.batch, earner_id, currency.code()));
            items.push(PayoutItem {
                payout: payout.clone(),
                earner: earner_id,
                currency: currency.code().to_string(),
                gross: available,
                fee,
                net: available - fee,
                method: profile.method.clone(),
            });
            entries.push(Entry {
                at: as_of,
                earner,
                currency,
                kind: EntryKind::PayoutReserve,
                amount: available,
                available_at: as_of,
                reference: payout.clone(),
            });
            payouts.push((
                payout,
                PayoutRecord {
                    earner,
                    currency,
                    gross: available,
                    batch: batch_id.clone(),
                    state: PayoutState::Reserved,
                },
            ));
        }
        let batch = Batch {
            batch: batch_id.clone(),
            as_of,
            items,
            skipped,
        };
        Ok(Prep::New(Prepared {
            effects: Effects::default(),
            outcome: Outcome::Batch(batch.clone()),
            entries,
            mutation: Mutation::Batch {
                id: batch_id,
                record: BatchRecord {
                    seq: self.next_seq(),
                    policy: e.policy.clone(),
                    batch,
                },
                payouts,
            },
        }))
    }

    fn payout(&self, id: &str) -> Result<(&Arc<str>, &PayoutRecord)> {
        check_id(id, "payout")?;
        self.payouts.get_key_value(id).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownPayout,
                "payout",
                format!("payout {id:?} was never prepared"),
            )
        })
    }

    fn prepare_settle(&self, e: &PayoutSettled) -> Result<Prep> {
        check_text(&e.reference, "reference")?;
        let at = time(&e.at, "at")?;
        let next = PayoutState::Settled {
            at,
            reference: e.reference.clone(),
            seq: self.next_seq(),
        };
        self.prepare_payout_end(&e.payout, at, next, EntryKind::PayoutSettle, "be settled")
    }

    fn prepare_fail(&self, e: &PayoutFailed) -> Result<Prep> {
        check_text(&e.reason, "reason")?;
        let at = time(&e.at, "at")?;
        let next = PayoutState::Failed {
            at,
            reason: e.reason.clone(),
            seq: self.next_seq(),
        };
        self.prepare_payout_end(&e.payout, at, next, EntryKind::PayoutFail, "fail")
    }

    fn prepare_milestones(&self, e: &MilestonesSet) -> Result<Prep> {
        time(&e.at, "at")?;
        let (milestones, counts, on_refund) = e.validate(
            &self.currencies,
            self.rewards.key_index(),
            self.rewards.next_key(),
        )?;
        if let Some(active) = &self.rewards.active {
            if active.event == *e {
                return self.retry(active.seq, Outcome::None);
            }
        }
        Ok(Prep::New(Prepared::state(Mutation::Milestones(Box::new(
            ActiveSet {
                event: e.clone(),
                seq: self.next_seq(),
                milestones,
                counts,
                on_refund,
            },
        )))))
    }

    fn prepare_challenge(&self, e: &ChallengeCreated) -> Result<Prep> {
        let seq = self.next_seq();
        let challenge = e.validate(&self.graph, &self.currencies, seq)?;
        if let Some(existing) = self.rewards.challenges.get(e.id.as_str()) {
            if existing.event == *e {
                return self.retry(existing.seq, Outcome::None);
            }
            return Err(duplicate("id", &e.id));
        }
        Ok(Prep::New(Prepared::state(Mutation::ChallengeCreate(
            Arc::from(e.id.as_str()),
            Box::new(challenge),
        ))))
    }

    fn challenge(&self, id: &str) -> Result<(&Arc<str>, &rewards::Challenge)> {
        check_id(id, "id")?;
        self.rewards.challenges.get_key_value(id).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownChallenge,
                "id",
                format!("challenge {id:?} was never created"),
            )
        })
    }

    fn prepare_close(&self, e: &ChallengeClosed) -> Result<Prep> {
        let at = time(&e.at, "at")?;
        let (id, challenge) = self.challenge(&e.id)?;
        if let Some(closed) = &challenge.closed {
            if closed.at == at {
                return self.retry(closed.seq, Outcome::Challenge(closed.result.clone()));
            }
            return Err(Error::new(
                ErrorKind::ChallengeState,
                "id",
                format!("challenge {:?} was already closed at {}", e.id, closed.at),
            ));
        }
        let progress = self.challenge_progress(challenge, at.min(challenge.to))?;
        let total = progress
            .iter()
            .try_fold(Decimal::ZERO, |sum, p| money::add(sum, p.1, "progress"))?;
        let met = total >= challenge.target;
        let mut shares = Vec::new();
        let mut entries = Vec::new();
        if met {
            let paid = |m: u32| self.graph.status(m) == MemberStatus::Active;
            let weights: Vec<(u32, Decimal, Arc<str>)> = match challenge.split {
                rewards::Split::Leader => {
                    if paid(challenge.leader) {
                        vec![(
                            challenge.leader,
                            Decimal::ONE,
                            Arc::from(self.graph.id(challenge.leader)),
                        )]
                    } else {
                        Vec::new()
                    }
                }
                rewards::Split::Equal | rewards::Split::ProRata => progress
                    .iter()
                    .filter(|(m, p)| *p > Decimal::ZERO && paid(*m))
                    .map(|&(m, p)| {
                        let weight = if challenge.split == rewards::Split::Equal {
                            Decimal::ONE
                        } else {
                            p
                        };
                        (m, weight, Arc::from(self.graph.id(m)))
                    })
                    .collect(),
            };
            let split = rewards::split_exactly(challenge.reward, challenge.currency, &weights);
            debug_assert!(
                split.is_empty() || split.iter().map(|s| s.1).sum::<Decimal>() == challenge.reward,
                "a challenge split adds up to the reward"
            );
            let available_at = at.plus_days(self.plan_at(at).hold_days());
            let mut paid_shares: Vec<(u32, Decimal)> =
                split.into_iter().filter(|s| s.1 > Decimal::ZERO).collect();
            paid_shares.sort_by(|a, b| self.graph.id(a.0).cmp(self.graph.id(b.0)));
            for (member, amount) in paid_shares {
                entries.push(Entry {
                    at,
                    earner: member,
                    currency: challenge.currency,
                    kind: EntryKind::Bonus,
                    amount,
                    available_at,
                    reference: id.clone(),
                });
                shares.push(crate::event::ChallengeShare {
                    member: Arc::from(self.graph.id(member)),
                    progress: progress
                        .iter()
                        .find(|p| p.0 == member)
                        .map_or(Decimal::ZERO, |p| p.1),
                    amount,
                });
            }
        }
        let result = crate::event::ChallengeResult {
            id: id.clone(),
            total,
            target: challenge.target,
            met,
            currency: challenge.currency.code().to_string(),
            shares,
        };
        Ok(Prep::New(Prepared {
            effects: Effects::default(),
            outcome: Outcome::Challenge(result.clone()),
            entries,
            mutation: Mutation::ChallengeClose(
                id.clone(),
                Box::new(rewards::Closed {
                    at,
                    seq: self.next_seq(),
                    result,
                }),
            ),
        }))
    }

    /// Each team member's own progress in `challenge` over
    /// `[from, min(until, to))`, team in breadth-first order (leader first).
    fn challenge_progress(
        &self,
        challenge: &rewards::Challenge,
        until: Timestamp,
    ) -> Result<Vec<(u32, Decimal)>> {
        let team = self
            .graph
            .subtree(challenge.leader, challenge.depth as usize);
        let mut in_team = vec![false; self.graph.len()];
        for &m in &team {
            in_team[m as usize] = true;
        }
        let (from, to) = (challenge.from, challenge.to.min(until));
        let inside = |at: Timestamp| from <= at && at < to;
        let scale = match challenge.metric {
            rewards::ChallengeMetric::SalesVolume => u32::from(challenge.currency.minor_units()),
            _ => 0,
        };
        let mut tally = rewards::Tally::new(self.graph.len(), scale);
        match challenge.metric {
            rewards::ChallengeMetric::SalesVolume => {
                for sale in self.sales.iter() {
                    if in_team[sale.buyer as usize]
                        && sale.currency == challenge.currency
                        && inside(sale.at)
                        && Self::sale_counts_for_qualification(sale)
                    {
                        tally.add(sale.buyer, sale.at, sale.amount);
                    }
                }
                for refund in self.refunds.values() {
                    let sale = &self.sales[refund.sale as usize];
                    if in_team[sale.buyer as usize]
                        && sale.currency == challenge.currency
                        && inside(refund.at)
                        && Self::sale_counts_for_qualification(sale)
                    {
                        tally.add(sale.buyer, refund.at, -refund.amount);
                    }
                }
            }
            rewards::ChallengeMetric::QualifiedReferrals => {
                for q in self.rewards.qualifications.iter() {
                    if in_team[q.sponsor as usize] && inside(q.at) {
                        tally.add(q.sponsor, q.at, Decimal::from(q.delta));
                    }
                }
            }
            rewards::ChallengeMetric::DirectReferrals => {
                for member in 0..self.graph.len() as u32 {
                    let joined = self.graph.joined_at(member);
                    if let Some(sponsor) = self.graph.sponsor(member) {
                        if in_team[sponsor as usize] && inside(joined) {
                            tally.add(sponsor, joined, Decimal::ONE);
                        }
                    }
                }
            }
        }
        // Amounts carry the currency's minor units, even when zero.
        team.into_iter().map(|m| Ok((m, tally.value(m)?))).collect()
    }

    /// A reserved payout settles or fails (`next`). Repeating the same end
    /// with the same details is a retry; any other change of a payout that
    /// already ended is `payout_state`.
    fn prepare_payout_end(
        &self,
        payout: &str,
        at: Timestamp,
        next: PayoutState,
        kind: EntryKind,
        verb: &str,
    ) -> Result<Prep> {
        let (id, record) = self.payout(payout)?;
        match (&record.state, &next) {
            (PayoutState::Reserved, _) => {}
            (
                PayoutState::Settled {
                    at: a,
                    reference: r,
                    seq,
                },
                PayoutState::Settled {
                    at: b,
                    reference: s,
                    ..
                },
            )
            | (
                PayoutState::Failed {
                    at: a,
                    reason: r,
                    seq,
                },
                PayoutState::Failed {
                    at: b, reason: s, ..
                },
            ) if a == b && r == s => return self.retry(*seq, Outcome::None),
            (state, _) => {
                return Err(Error::new(
                    ErrorKind::PayoutState,
                    "payout",
                    format!(
                        "payout {payout:?} cannot {verb}: it is {}",
                        state_name(state)
                    ),
                ))
            }
        }
        if let Some(batch) = self.batches.get(&*record.batch) {
            if at < batch.batch.as_of {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    "at",
                    format!(
                        "payout {payout:?} cannot {verb} at {at}, before its batch's as_of {}",
                        batch.batch.as_of
                    ),
                ));
            }
        }
        Ok(Prep::New(Prepared {
            effects: Effects::default(),
            outcome: Outcome::None,
            entries: vec![Entry {
                at,
                earner: record.earner,
                currency: record.currency,
                kind,
                amount: record.gross,
                available_at: at,
                reference: id.clone(),
            }],
            mutation: Mutation::PayoutState(id.clone(), next),
        }))
    }

    fn mutate(&mut self, mutation: Mutation, seq: u64) {
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
                self.joins.push(Join::new(sponsor, seq));
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
                        self.sales[sale as usize].lines[usize::from(line)].released = true;
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
            Mutation::Sale(record, effects) => {
                self.screen.sold(&effects);
                let index = self.sales.len() as u32;
                for (i, line) in record.lines.iter().enumerate() {
                    if line.held && !line.screened {
                        self.held_lines
                            .entry(line.earner)
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
                    self.screen
                        .refunded(sale.lines.iter().map(|l| l.earner), record.at);
                }
                for &(line, amount) in &record.reversals {
                    sale.lines[usize::from(line)].reversed += amount;
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
                    let line = &mut record.lines[usize::from(line)];
                    line.released = true;
                    if let Some(amount) = reversed {
                        line.reversed += amount;
                        line.voided = true;
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

    // ---- queries -------------------------------------------------------

    /// The referral forest.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The known currencies.
    pub fn currencies(&self) -> &Currencies {
        &self.currencies
    }

    /// The audit chain's head: the last sequence number and its hash.
    pub fn audit_head(&self) -> Head {
        Head {
            seq: self.next_seq() - 1,
            hash: self.hashes.last().copied().unwrap_or(Hash::ZERO),
        }
    }

    /// `member`'s balances in `currency` as of `as_of` (RFC 3339).
    ///
    /// ```
    /// let engine = upline::Engine::new();
    /// let err = engine.balances("ghost", "USD", "2026-01-01T00:00:00Z").unwrap_err();
    /// assert_eq!(err.code(), "unknown_member");
    /// ```
    pub fn balances(&self, member: &str, currency: &str, as_of: &str) -> Result<Balances> {
        let as_of = time(as_of, "as_of")?;
        let currency = self.currencies.get(currency, "currency")?;
        let member = self.graph.require(member, "member")?;
        Ok(self.ledger.balances(member, currency, as_of))
    }

    /// Up to `levels` ancestors of `member`, nearest first.
    pub fn upline(&self, member: &str, levels: usize) -> Result<Vec<Arc<str>>> {
        let member = self.graph.require(member, "member")?;
        Ok(self.ids(self.graph.upline(member, levels)))
    }

    /// `member`'s direct referrals, in the order they joined.
    pub fn direct_referrals(&self, member: &str) -> Result<Vec<Arc<str>>> {
        let member = self.graph.require(member, "member")?;
        Ok(self.ids(self.graph.direct_referrals(member)))
    }

    /// Members below `member` at any depth.
    pub fn downline_size(&self, member: &str) -> Result<u64> {
        Ok(self
            .graph
            .downline_size(self.graph.require(member, "member")?))
    }

    /// Members below `member` per level (index 0 = direct referrals).
    pub fn downline_levels(&self, member: &str, max_levels: usize) -> Result<Vec<u64>> {
        let member = self.graph.require(member, "member")?;
        Ok(self.graph.downline_levels(member, max_levels))
    }

    /// Number of ancestors of `member`.
    pub fn depth(&self, member: &str) -> Result<usize> {
        Ok(self.graph.depth(self.graph.require(member, "member")?))
    }

    /// The subtree below `member` in Graphviz DOT.
    pub fn export_dot(&self, member: &str, max_depth: usize) -> Result<String> {
        let member = self.graph.require(member, "member")?;
        Ok(self.graph.export_dot(member, max_depth))
    }

    /// The subtree below `member` as nested JSON.
    pub fn export_json(&self, member: &str, max_depth: usize) -> Result<serde_json::Value> {
        let member = self.graph.require(member, "member")?;
        Ok(self.graph.export_json(member, max_depth))
    }

    /// The members of `member`'s identity cluster (members sharing a
    /// payment fingerprint, device, normalised e-mail or IP + user agent,
    /// directly or through others), `member` first.
    pub fn identity_cluster(&self, member: &str) -> Result<Vec<Arc<str>>> {
        let member = self.graph.require(member, "member")?;
        Ok(self.ids(self.screen.cluster_members(member)))
    }

    /// Every referral ring in the graph: identity clusters that sponsor
    /// themselves through others (strongly connected components once each
    /// cluster is one node), each as its member ids. O(members).
    pub fn screening_rings(&self) -> Vec<Vec<Arc<str>>> {
        screen::rings(&self.screen, &self.graph)
            .into_iter()
            .map(|ring| self.ids(ring))
            .collect()
    }

    /// The index of the sale recorded as `id`.
    fn sale_by_id(&self, id: &str) -> Option<u32> {
        self.sale_index.get(id, |i| &self.sales[i as usize].id)
    }

    /// The distribution recorded for `sale`.
    pub fn distribution_of(&self, sale: &str) -> Option<Distribution> {
        let index = self.sale_by_id(sale)?;
        Some(self.distribution(&self.sales[index as usize]))
    }

    /// The state of a prepared payout.
    pub fn payout_state(&self, payout: &str) -> Option<&PayoutState> {
        self.payouts.get(payout).map(|p| &p.state)
    }

    /// Per earner and currency: earned and paid in calendar year `year`
    /// (UTC), and whether paid reaches `thresholds[currency]` (decimal
    /// strings; a currency without a threshold never reaches one). Ordered
    /// by earner id, then currency.
    pub fn tax_summary(
        &self,
        year: i32,
        thresholds: &BTreeMap<String, String>,
    ) -> Result<Vec<TaxLine>> {
        let (Some(from), to) = (
            Timestamp::start_of_year(year),
            Timestamp::start_of_year(year + 1).unwrap_or(Timestamp::MAX),
        ) else {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "year",
                format!("year {year} is outside 1..=9999"),
            ));
        };
        let mut limits = HashMap::default();
        for (code, text) in thresholds {
            let field = format!("thresholds.{code}");
            let currency = self.currencies.get(code, &field)?;
            limits.insert(currency, currency.parse_amount(text, &field)?);
        }
        let mut accounts: Vec<(u32, Currency)> = self.ledger.accounts().collect();
        accounts.sort_by(|a, b| {
            self.graph
                .id(a.0)
                .cmp(self.graph.id(b.0))
                .then_with(|| a.1.code().cmp(b.1.code()))
        });
        let mut out = Vec::new();
        for (earner, currency) in accounts {
            let totals = self.ledger.totals(earner, currency, from, to);
            let earned = totals.earned + totals.bonuses + totals.adjustments - totals.reversed;
            if earned.is_zero() && totals.paid.is_zero() {
                continue;
            }
            let zero = Decimal::new(0, u32::from(currency.minor_units()));
            out.push(TaxLine {
                earner: Arc::from(self.graph.id(earner)),
                currency: currency.code().to_string(),
                earned: earned + zero,
                paid: totals.paid + zero,
                reaches_threshold: limits.get(&currency).is_some_and(|t| totals.paid >= *t),
            });
        }
        Ok(out)
    }

    // ---- rewards queries (see `crate::rewards`) ---------------------------

    /// The top `limit` members (at most
    /// [`MAX_LEADERBOARD`](crate::limits::MAX_LEADERBOARD)) by `metric` over
    /// the half-open window `[from, to)` (RFC 3339):
    ///
    /// - `qualified_referrals`: direct referrals that became qualified,
    ///   minus those that stopped qualifying, inside the window;
    /// - `net_earnings` (needs `currency`): commissions, bonuses and
    ///   adjustments minus reversals dated inside the window, held money
    ///   counting only when released ([`rewards::earnings_delta`]);
    /// - `sales_volume` (needs `currency`): sales minus refunds dated inside
    ///   the window by members of the downline (the tree as it stands);
    /// - `downline_growth`: members who joined below inside the window.
    ///
    /// Ties go to who reached the value first, then the smaller member id.
    /// Terminated members and zero values are left out.
    ///
    /// ```
    /// let mut engine = upline::Engine::new();
    /// for (m, s) in [("a", None), ("b", Some("a")), ("c", Some("a"))] {
    ///     engine.apply_json(&serde_json::json!({"type": "member_joined", "member": m,
    ///         "sponsor": s, "at": "2026-01-05T00:00:00Z"}).to_string())?;
    /// }
    /// let board = engine.leaderboard("downline_growth", "2026-01-01T00:00:00Z",
    ///     "2026-02-01T00:00:00Z", 10, None)?;
    /// assert_eq!(board.entries[0].member.as_ref(), "a");
    /// assert_eq!(board.entries[0].value.to_string(), "2");
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn leaderboard(
        &self,
        metric: &str,
        from: &str,
        to: &str,
        limit: usize,
        currency: Option<&str>,
    ) -> Result<rewards::Leaderboard> {
        let from = time(from, "from")?;
        let to = time(to, "to")?;
        if from >= to {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "to",
                format!("to {to} must be after from {from}"),
            ));
        }
        if limit > crate::limits::MAX_LEADERBOARD {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "limit",
                format!("limit {limit} is above {}", crate::limits::MAX_LEADERBOARD),
            ));
        }
        let currency = match currency {
            Some(code) => Some(self.currencies.get(code, "currency")?),
            None => None,
        };
        let need_currency = || {
            currency.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidCurrency,
                    "currency",
                    format!("the {metric} leaderboard needs a currency"),
                )
            })
        };
        let inside = |at: Timestamp| from <= at && at < to;
        let n = self.graph.len();
        let tally = match metric {
            "qualified_referrals" => {
                let mut tally = rewards::Tally::new(n, 0);
                for q in self.rewards.qualifications.iter() {
                    if inside(q.at) {
                        tally.add(q.sponsor, q.at, Decimal::from(q.delta));
                    }
                }
                tally
            }
            "net_earnings" => {
                let currency = need_currency()?;
                let mut tally = rewards::Tally::new(n, u32::from(currency.minor_units()));
                for entry in self.ledger.entries() {
                    if inside(entry.at) && entry.currency == currency {
                        let delta = rewards::earnings_delta(entry.kind, entry.amount);
                        if !delta.is_zero() {
                            tally.add(entry.earner, entry.at, delta);
                        }
                    }
                }
                tally
            }
            "sales_volume" => {
                let currency = need_currency()?;
                // Each buyer's own volume, then one bottom-up pass.
                let mut own = rewards::Tally::new(n, u32::from(currency.minor_units()));
                for sale in self.sales.iter() {
                    if inside(sale.at)
                        && sale.currency == currency
                        && Self::sale_counts_for_qualification(sale)
                    {
                        own.add(sale.buyer, sale.at, sale.amount);
                    }
                }
                for refund in self.refunds.values() {
                    let sale = &self.sales[refund.sale as usize];
                    if inside(refund.at)
                        && sale.currency == currency
                        && Self::sale_counts_for_qualification(sale)
                    {
                        own.add(sale.buyer, refund.at, -refund.amount);
                    }
                }
                own.downline(&self.graph, &crate::metrics::children_first(&self.graph))
            }
            "downline_growth" => {
                let mut own = rewards::Tally::new(n, 0);
                for member in 0..n as u32 {
                    let joined = self.graph.joined_at(member);
                    if inside(joined) {
                        own.add(member, joined, Decimal::ONE);
                    }
                }
                own.downline(&self.graph, &crate::metrics::children_first(&self.graph))
            }
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidReward,
                    "metric",
                    format!("metric {other:?} is not a leaderboard metric (qualified_referrals, net_earnings, sales_volume, downline_growth)"),
                ))
            }
        };
        let entries = tally.top(&self.graph, limit)?;
        Ok(rewards::Leaderboard {
            metric: metric.to_string(),
            from,
            to,
            currency: currency.map(|c| c.code().to_string()),
            entries,
        })
    }

    /// A challenge's progress as of `as_of`: each team member's own
    /// contribution over `[from, min(as_of, to, closed_at))` and the total,
    /// with the result recorded at its close.
    pub fn challenge_status(&self, id: &str, as_of: &str) -> Result<rewards::ChallengeStatus> {
        let as_of = time(as_of, "as_of")?;
        let (id, challenge) = self.challenge(id)?;
        let until = match &challenge.closed {
            Some(closed) => as_of.min(closed.at),
            None => as_of,
        };
        let progress = self.challenge_progress(challenge, until)?;
        let total = progress
            .iter()
            .try_fold(Decimal::ZERO, |sum, p| money::add(sum, p.1, "progress"))?;
        let mut members: Vec<(u32, Decimal)> =
            progress.into_iter().filter(|p| !p.1.is_zero()).collect();
        members.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| self.graph.id(a.0).cmp(self.graph.id(b.0)))
        });
        Ok(rewards::ChallengeStatus {
            id: id.clone(),
            name: challenge.event.name.clone(),
            leader: Arc::from(self.graph.id(challenge.leader)),
            depth: challenge.depth,
            metric: challenge.metric,
            from: challenge.from,
            to: challenge.to,
            target: challenge.target,
            total,
            met: total >= challenge.target,
            state: if challenge.closed.is_some() {
                "closed"
            } else {
                "open"
            },
            members: members
                .into_iter()
                .map(|(m, progress)| rewards::MemberProgress {
                    member: Arc::from(self.graph.id(m)),
                    progress,
                })
                .collect(),
            result: challenge.closed.as_ref().map(|c| c.result.clone()),
        })
    }

    /// The milestones `member` holds (standing awards, oldest first).
    pub fn awards(&self, member: &str) -> Result<Vec<crate::event::Award>> {
        let member = self.graph.require(member, "member")?;
        Ok(self
            .rewards
            .awards_of(member)
            .into_iter()
            .cloned()
            .collect())
    }

    // ---- growth metrics (see `crate::metrics`) -------------------------

    /// `member`'s growth metrics; period earnings over `[from, to)` (each
    /// bound optional, RFC 3339; open bounds reach the start and end of
    /// time).
    pub fn member_metrics(
        &self,
        member: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<crate::metrics::MemberMetrics> {
        let member = self.graph.require(member, "member")?;
        let period = self.period(from, to)?;
        Ok(crate::metrics::member_metrics(
            &self.graph,
            &self.ledger,
            member,
            self.rewards.qualified_of(&self.graph, member),
            period,
        ))
    }

    fn period(&self, from: Option<&str>, to: Option<&str>) -> Result<(Timestamp, Timestamp)> {
        let from = from.map_or(Ok(Timestamp::MIN), |t| time(t, "from"))?;
        let to = to.map_or(Ok(Timestamp::MAX), |t| time(t, "to"))?;
        if from >= to {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "to",
                format!("to {to} must be after from {from}"),
            ));
        }
        Ok((from, to))
    }

    /// Whole-network statistics: members by status, depth histogram, max
    /// depth, mean branching factor.
    pub fn network_metrics(&self) -> crate::metrics::NetworkMetrics {
        crate::metrics::network_metrics(&self.graph)
    }

    /// The viral coefficient K per join cohort of `cohort_days` days (and
    /// overall), counting referrals made within `window_days` of the
    /// sponsor's join, over the members who joined in `[from, to)`; and the
    /// viral cycle time. See [`crate::metrics`].
    ///
    /// ```
    /// let mut engine = upline::Engine::new();
    /// for (m, s, at) in [("a", None, "2026-01-01T00:00:00Z"),
    ///                    ("b", Some("a"), "2026-01-11T00:00:00Z"),
    ///                    ("c", Some("a"), "2026-03-01T00:00:00Z")] {
    ///     engine.apply_json(&serde_json::json!({"type": "member_joined", "member": m,
    ///         "sponsor": s, "at": at}).to_string())?;
    /// }
    /// let report = engine.viral_coefficient(30, 36_500, None, None)?;
    /// // 3 members; only b came within 30 days of its sponsor: K = 1/3.
    /// assert_eq!((report.overall.size, report.overall.referrals), (3, 1));
    /// // Gaps 10 and 59 days: the median is their mean, 34.5 days.
    /// assert_eq!(report.cycle_time_days, 34.5);
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn viral_coefficient(
        &self,
        window_days: u32,
        cohort_days: u32,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<crate::metrics::ViralReport> {
        let (from, to) = self.period(from, to)?;
        crate::metrics::viral(&self.graph, window_days, cohort_days, from, to)
    }

    /// A branching-process projection over `cycles` cycles from the
    /// network's measured overall K (referrals within `window_days`) and
    /// viral cycle time, seeded with `seed` members (default: every member).
    /// See [`crate::metrics::project`] for the formula and its assumptions.
    pub fn projection(
        &self,
        window_days: u32,
        cycles: u32,
        seed: Option<u64>,
    ) -> Result<crate::metrics::Projection> {
        let report = self.viral_coefficient(window_days, window_days, None, None)?;
        crate::metrics::project(
            seed.unwrap_or(self.graph.len() as u64),
            report.overall.k,
            report.cycle_time_days,
            cycles,
        )
    }

    /// The subtree below `member` (at most `max_depth` levels and
    /// `max_nodes` members, breadth first) as JSON with lifetime earnings
    /// on every node: `{"truncated", "nodes", "tree": {"member", "status",
    /// "joined_at", "earnings": {currency: amount}, "referrals": [...]}}`.
    pub fn export_subtree_json(
        &self,
        member: &str,
        max_depth: usize,
        max_nodes: usize,
    ) -> Result<serde_json::Value> {
        let member = self.graph.require(member, "member")?;
        crate::metrics::check_nodes(max_nodes)?;
        Ok(crate::metrics::export_json(
            &self.graph,
            &self.ledger,
            member,
            max_depth,
            max_nodes,
        ))
    }

    /// The same subtree in Graphviz DOT (built with `petgraph`), each node
    /// labelled with its id and lifetime earnings per currency.
    pub fn export_subtree_dot(
        &self,
        member: &str,
        max_depth: usize,
        max_nodes: usize,
    ) -> Result<String> {
        let member = self.graph.require(member, "member")?;
        crate::metrics::check_nodes(max_nodes)?;
        Ok(crate::metrics::export_dot(
            &self.graph,
            &self.ledger,
            member,
            max_depth,
            max_nodes,
        ))
    }

    fn ids(&self, members: Vec<u32>) -> Vec<Arc<str>> {
        members
            .into_iter()
            .map(|m| Arc::from(self.graph.id(m)))
            .collect()
    }

    // ---- snapshots -----------------------------------------------------

    /// The whole state as JSON, for a host restarting without a replay.
    pub fn snapshot_json(&self) -> String {
        let snapshot = SnapshotRef {
            format: SNAPSHOT_FORMAT,
            engine: self,
        };
        serde_json::to_string(&snapshot).unwrap_or_default()
    }

    /// Restores an engine from [`snapshot_json`](Self::snapshot_json).
    pub fn from_snapshot_json(text: &str) -> Result<Engine> {
        let refused =
            |format: u32| audit::format_refused(&format!("snapshot (snapshot format {format})"), 1);
        let snapshot: SnapshotOwned = serde_json::from_str(text).map_err(|e| {
            // An older snapshot may not decode as today's state: name its
            // format when it has one.
            match serde_json::from_str::<SnapshotFormat>(text) {
                Ok(SnapshotFormat { format })
                    if (1..=SNAPSHOT_FORMAT_AUDIT_V1).contains(&format) =>
                {
                    refused(format)
                }
                _ => Error::general(ErrorKind::Malformed, format!("undecodable snapshot: {e}")),
            }
        })?;
        if (1..=SNAPSHOT_FORMAT_AUDIT_V1).contains(&snapshot.format) {
            return Err(refused(snapshot.format));
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
        engine.rebuild_indexes();
        Ok(engine)
    }

    fn rebuild_indexes(&mut self) {
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
                if line.held_now() && !line.screened {
                    self.held_lines
                        .entry(line.earner)
                        .or_default()
                        .push((i as u32, j as u8));
                }
            }
        }
    }
}

#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: u32,
    engine: &'a Engine,
}

#[derive(Deserialize)]
struct SnapshotFormat {
    format: u32,
}

#[derive(Deserialize)]
struct SnapshotOwned {
    format: u32,
    engine: Engine,
}

fn state_name(state: &PayoutState) -> &'static str {
    match state {
        PayoutState::Reserved => "reserved",
        PayoutState::Settled { .. } => "settled",
        PayoutState::Failed { .. } => "failed",
    }
}

/// Verifies a store's whole chain by replay (see [`Engine::verify`]).
/// The outer error is a store failure; the inner one the first event that
/// does not match.
pub fn verify_store(store: &dyn Store) -> Result<std::result::Result<Head, TamperedAt>> {
    check_audit_format(store)?;
    let mut engine = Engine::new();
    Ok(replay_stored(&mut engine, store)?.map(|_| engine.audit_head()))
}

/// Replays the stored events after `engine`'s head into it, checking each
/// against its stored hash. When the engine starts from a snapshot (head
/// `seq > 0`), the stored event at that `seq` must carry the snapshot's
/// hash, so a snapshot cannot graft a different history onto the chain.
fn replay_stored(
    engine: &mut Engine,
    store: &dyn Store,
) -> Result<std::result::Result<(), TamperedAt>> {
    let anchor = engine.audit_head();
    let mut anchored = anchor.seq == 0;
    let mut expected = anchor.seq + 1;
    let mut bad = None;
    let scanned = store.scan(anchor.seq.max(1), &mut |stored| {
        if !anchored {
            anchored = stored.seq == anchor.seq && stored.hash == anchor.hash;
            if !anchored {
                bad = Some(TamperedAt { seq: anchor.seq });
                return Err(Error::general(ErrorKind::Tampered, "stop"));
            }
            return Ok(());
        }
        let seq = expected;
        let ok = stored.seq == seq
            && Event::from_json(&stored.event)
                .ok()
                .filter(|event| {
                    serde_json::to_string(event).ok().as_deref() == Some(&*stored.event)
                })
                .and_then(|event| match engine.stage(&event) {
                    Ok(Staged::New(link, effects)) if link.hash == stored.hash => {
                        engine.commit(link, effects);
                        // Stored, so the store answers for it from now on.
                        engine.forget_persisted_hashes();
                        Some(())
                    }
                    _ => None,
                })
                .is_some();
        if !ok {
            bad = Some(TamperedAt { seq });
            return Err(Error::general(ErrorKind::Tampered, "stop"));
        }
        expected += 1;
        Ok(())
    });
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

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Writes a hash map in key order, so a snapshot is the same bytes for the
/// same events whatever the process's hash seed (read back as any map).
fn sorted<K: Ord + Serialize, V: Serialize, S: serde::Serializer>(
    map: &HashMap<K, V>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    serializer.collect_map(entries)
}

fn stored_event(event: &Event, link: &Link) -> Result<StoredEvent> {
    Ok(StoredEvent {
        seq: link.seq,
        event: serde_json::to_string(event)
            .map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))?,
        hash: link.hash,
    })
}

/// A store written with another audit format is refused (`storage`, never
/// `tampered`: its hashes are of another encoding).
fn check_audit_format(store: &dyn Store) -> Result<()> {
    match store.audit_format().map_err(storage)? {
        audit::FORMAT => Ok(()),
        found => Err(audit::format_refused("store", found)),
    }
}

fn storage(err: Error) -> Error {
    if matches!(err.kind(), ErrorKind::Storage | ErrorKind::Tampered) {
        err
    } else {
        Error::general(ErrorKind::Storage, format!("the store failed: {err}"))
    }
}

fn tampered(seq: u64) -> Error {
    Error::new(
        ErrorKind::Tampered,
        "seq",
        format!("stored event {seq} does not match the audit chain"),
    )
}

fn internal(err: audit::EncodeError) -> Error {
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
enum Prep {
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
    prepared: Prepared,
    entries: Vec<EntryRecord>,
}
