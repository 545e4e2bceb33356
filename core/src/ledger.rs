//! The append-only ledger and balances as of an instant.
//!
//! Every money movement is one [`Entry`]; entries are never edited, and
//! corrections are new entries. Each kind moves a positive amount between
//! the buckets of one earner's account in one currency:
//!
//! | kind | from | to |
//! |---|---|---|
//! | commission, bonus, adjustment | outside | flow |
//! | reversal, bonus reversal | flow (or held, for a held line) | outside |
//! | hold | flow | held |
//! | release | held | flow |
//! | payout reserve | available | reserved |
//! | payout settle | reserved | paid |
//! | payout fail | reserved | available |
//!
//! "Flow" is pending before the entry's `available_at` and available from
//! then on. So `earned − reversed + bonuses + adjustments == pending +
//! available + held + reserved + paid` holds by construction, entry by
//! entry, and is property-tested all the same. Balances count the entries
//! whose `at` is not after the instant asked about.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::chunked::{Chunked, Sparse};

use crate::money::Currency;
use crate::time::Timestamp;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A line of a sale.
    Commission,
    /// Clawback of (part of) a line after a refund, from its flow.
    Reversal,
    /// Clawback of (part of) a held line, from held.
    ReversalHeld,
    /// A bonus (a milestone reached, a team challenge met), paid by the
    /// platform.
    Bonus,
    /// A manual adjustment.
    Adjustment,
    /// A line credited to held because its earner is on hold.
    Hold,
    /// Held money returned to the flow when the hold ends.
    Release,
    /// Available money reserved by a prepared payout.
    PayoutReserve,
    /// A reserved payout was paid.
    PayoutSettle,
    /// A reserved payout failed and returned to available.
    PayoutFail,
    /// Clawback of a milestone bonus (the `clawback` refund setting), from
    /// its flow. Counts against bonuses in [`Totals`].
    BonusReversal,
}

impl EntryKind {
    /// The kind's name on the wire (`"commission"`, `"reversal_held"`, …):
    /// the snake_case text its serde form writes, without going through
    /// serde (the audit encoder's hot path).
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Commission => "commission",
            EntryKind::Reversal => "reversal",
            EntryKind::ReversalHeld => "reversal_held",
            EntryKind::Bonus => "bonus",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Hold => "hold",
            EntryKind::Release => "release",
            EntryKind::PayoutReserve => "payout_reserve",
            EntryKind::PayoutSettle => "payout_settle",
            EntryKind::PayoutFail => "payout_fail",
            EntryKind::BonusReversal => "bonus_reversal",
        }
    }
}

/// One money movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When it happened.
    pub at: Timestamp,
    /// The earner's dense index.
    pub earner: u32,
    /// The currency.
    pub currency: Currency,
    /// What it records.
    pub kind: EntryKind,
    /// The amount moved, positive.
    pub amount: Decimal,
    /// When flow money moves from pending to available.
    pub available_at: Timestamp,
    /// The sale, refund or payout it belongs to.
    pub reference: std::sync::Arc<str>,
}

/// An earner's balances in one currency as of an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Balances {
    /// Commissions still inside their hold period.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub pending: Decimal,
    /// Matured earnings minus reversals and payouts (may be negative: a
    /// debt recovered from later earnings before any new payout).
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub available: Decimal,
    /// Earnings frozen by a hold.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub held: Decimal,
    /// In a prepared payout not yet settled or failed.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub reserved: Decimal,
    /// Settled payouts.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub paid: Decimal,
}

impl Balances {
    /// All zero, at `currency`'s scale.
    pub fn zero(currency: Currency) -> Self {
        let zero = Decimal::new(0, u32::from(currency.minor_units()));
        Balances {
            pending: zero,
            available: zero,
            held: zero,
            reserved: zero,
            paid: zero,
        }
    }

    /// The sum of every bucket.
    pub fn total(&self) -> Decimal {
        self.pending + self.available + self.held + self.reserved + self.paid
    }

    fn flow(&mut self, amount: Decimal, available_at: Timestamp, as_of: Timestamp) {
        if as_of < available_at {
            self.pending += amount;
        } else {
            self.available += amount;
        }
    }

    fn apply(&mut self, entry: &Entry, as_of: Timestamp) {
        let a = entry.amount;
        match entry.kind {
            EntryKind::Commission | EntryKind::Bonus | EntryKind::Adjustment => {
                self.flow(a, entry.available_at, as_of)
            }
            EntryKind::Reversal | EntryKind::BonusReversal => {
                self.flow(-a, entry.available_at, as_of)
            }
            EntryKind::ReversalHeld => self.held -= a,
            EntryKind::Hold => {
                self.flow(-a, entry.available_at, as_of);
                self.held += a;
            }
            EntryKind::Release => {
                self.held -= a;
                self.flow(a, entry.available_at, as_of);
            }
            EntryKind::PayoutReserve => {
                self.available -= a;
                self.reserved += a;
            }
            EntryKind::PayoutSettle => {
                self.reserved -= a;
                self.paid += a;
            }
            EntryKind::PayoutFail => {
                self.reserved -= a;
                self.available += a;
            }
        }
    }
}

/// Totals by meaning rather than by bucket, for the conservation check and
/// tax summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Commissions credited.
    pub earned: Decimal,
    /// Commissions clawed back.
    pub reversed: Decimal,
    /// Bonuses, net of bonus reversals.
    pub bonuses: Decimal,
    /// Adjustments.
    pub adjustments: Decimal,
    /// Payouts settled.
    pub paid: Decimal,
}

const NO_ENTRY: u32 = u32::MAX;

/// The largest mantissa a `Decimal` holds: 2^96 − 1.
const MAX_MANTISSA: u128 = (1u128 << 96) - 1;

/// For one account: what ever went into and out of each bucket (flow,
/// held, reserved, paid), and all reversals, in minor units. Every balance
/// and total of the account, and every partial sum on the way, is bounded
/// by one of these (see [`Ledger`]'s docs).
fn bounds<'a>(entries: impl Iterator<Item = &'a Entry>) -> [u128; 8] {
    const FLOW_IN: usize = 0;
    const FLOW_OUT: usize = 1;
    const HELD_IN: usize = 2;
    const HELD_OUT: usize = 3;
    const RESERVED_IN: usize = 4;
    const RESERVED_OUT: usize = 5;
    const PAID_IN: usize = 6;
    const REVERSED: usize = 7;
    let mut sums = [0u128; 8];
    for entry in entries {
        let units = units(entry.amount, entry.currency);
        let slots: &[usize] = match entry.kind {
            EntryKind::Commission | EntryKind::Bonus | EntryKind::Adjustment => &[FLOW_IN],
            EntryKind::BonusReversal => &[FLOW_OUT],
            EntryKind::Reversal => &[FLOW_OUT, REVERSED],
            EntryKind::ReversalHeld => &[HELD_OUT, REVERSED],
            EntryKind::Hold => &[FLOW_OUT, HELD_IN],
            EntryKind::Release => &[HELD_OUT, FLOW_IN],
            EntryKind::PayoutReserve => &[FLOW_OUT, RESERVED_IN],
            EntryKind::PayoutSettle => &[RESERVED_OUT, PAID_IN],
            EntryKind::PayoutFail => &[RESERVED_OUT, FLOW_IN],
        };
        for &slot in slots {
            sums[slot] = sums[slot].saturating_add(units);
        }
    }
    sums
}

/// `|amount|` in minor units of `currency` (saturating: a value this large
/// is refused anyway).
fn units(amount: Decimal, currency: Currency) -> u128 {
    let mantissa = amount.mantissa().unsigned_abs();
    match u32::from(currency.minor_units()).saturating_sub(amount.scale()) {
        // An amount at its currency's scale, as every ledger amount is.
        0 => mantissa,
        grow => mantissa.saturating_mul(10u128.saturating_pow(grow)),
    }
}

/// The append-only ledger.
///
/// Each earner's entries form a chain (newest first) through `previous`,
/// headed by `newest[earner]`: appending touches two array slots, and an
/// account's entries are found without a hash table. The same entries are
/// also linked oldest first (`oldest[earner]`, then `next`), so a statement
/// page resumes after any entry in O(1) instead of walking the whole
/// chain: 4 more bytes an entry and an earner. The chain ends per earner
/// are sparse (`chunked::Sparse`): the first entry of an earner far into
/// the network allocates that earner's chunk only, not every slot before
/// it.
///
/// # Exact or refused
///
/// Every balance, and every partial sum on the way to it, is a signed sum
/// of some of the movements into and out of one bucket of one account
/// (pending and available share the flow bucket, which payouts reserve
/// from and fail back to), and every total is a sum of one kind of
/// movement. So all of them are exact when, for each bucket, the money
/// that ever went in and the money that ever went out each fit a `Decimal`
/// mantissa (2^96 − 1, about 7.9 × 10^28 minor units: 7.9 × 10^10 units
/// of a currency with 18 minor units), and so do all reversals.
/// [`check_exact`](Self::check_exact) refuses entries that would break
/// that (DESIGN.md, "Exact or refused").
///
/// It costs nothing per entry while the whole ledger's turnover in a
/// currency (the sum of the absolute amounts of its entries, kept per
/// currency, 16 bytes each) fits, which bounds every account's buckets;
/// past that, the accounts touched are bounded from their chains.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ledger {
    entries: Chunked<Entry>,
    #[serde(skip)]
    previous: Chunked<u32>,
    #[serde(skip, default = "no_entries")]
    newest: Sparse<u32>,
    #[serde(skip)]
    next: Chunked<u32>,
    #[serde(skip, default = "no_entries")]
    oldest: Sparse<u32>,
    #[serde(skip)]
    turnover: Vec<(Currency, u128)>,
}

/// Per-earner chain ends, none written yet.
fn no_entries() -> Sparse<u32> {
    Sparse::new(NO_ENTRY)
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            entries: Chunked::new(),
            previous: Chunked::new(),
            newest: no_entries(),
            next: Chunked::new(),
            oldest: no_entries(),
            turnover: Vec::new(),
        }
    }
}

impl Ledger {
    /// Every entry, in order. (The entries are kept in chunks, so a
    /// growing ledger never copies itself: an iterator, not a slice.)
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> + '_ {
        self.entries.iter()
    }

    /// The entry with sequence number `seq` (from 0), if any.
    pub fn entry(&self, seq: u64) -> Option<&Entry> {
        usize::try_from(seq).ok().and_then(|i| self.entries.get(i))
    }

    /// The entry with sequence number `seq`, which must exist (a sale's
    /// line entries, say).
    pub(crate) fn at(&self, seq: u64) -> &Entry {
        &self.entries[seq as usize]
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the ledger is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn push(&mut self, entry: Entry) -> u64 {
        let seq = self.entries.len() as u64;
        self.link(seq as u32, entry.earner);
        self.count(&entry);
        self.entries.push(entry);
        seq
    }

    fn count(&mut self, entry: &Entry) {
        let units = units(entry.amount, entry.currency);
        match self.turnover.iter_mut().find(|t| t.0 == entry.currency) {
            Some(slot) => slot.1 = slot.1.saturating_add(units),
            None => self.turnover.push((entry.currency, units)),
        }
    }

    fn turnover(&self, currency: Currency) -> u128 {
        self.turnover
            .iter()
            .find(|t| t.0 == currency)
            .map_or(0, |t| t.1)
    }

    /// The first account (earner, currency) that appending `entries` would
    /// take beyond the exact range (see the type's docs), if any.
    pub fn check_exact(&self, entries: &[Entry]) -> Option<(u32, Currency)> {
        // Each currency once, in order of first appearance (no allocation:
        // an event writes at most a few dozen entries).
        for (i, first) in entries.iter().enumerate() {
            let currency = first.currency;
            if entries[..i].iter().any(|e| e.currency == currency) {
                continue;
            }
            let added = entries
                .iter()
                .filter(|e| e.currency == currency)
                .fold(0u128, |sum, e| {
                    sum.saturating_add(units(e.amount, currency))
                });
            if self.turnover(currency).saturating_add(added) <= MAX_MANTISSA {
                continue;
            }
            let mut earners: Vec<u32> = Vec::new();
            for entry in entries.iter().filter(|e| e.currency == currency) {
                // One walk per account, however many of its entries the
                // event writes (a held line writes two).
                if earners.contains(&entry.earner) {
                    continue;
                }
                earners.push(entry.earner);
                let account = self.account_entries(entry.earner, currency).chain(
                    entries
                        .iter()
                        .filter(|e| e.earner == entry.earner && e.currency == currency),
                );
                if bounds(account).iter().any(|&bound| bound > MAX_MANTISSA) {
                    return Some((entry.earner, currency));
                }
            }
        }
        None
    }

    fn link(&mut self, index: u32, earner: u32) {
        let slot = earner as usize;
        // One lookup of the earner's chain end: read it and move it on.
        let before = std::mem::replace(self.newest.get_mut(slot), index);
        self.previous.push(before);
        self.next.push(NO_ENTRY);
        if before == NO_ENTRY {
            self.oldest.set(slot, index);
        } else {
            self.next[before as usize] = index;
        }
    }

    /// The newest entry of `earner`'s chain ([`NO_ENTRY`] for none or an
    /// unknown earner): the slot an append for `earner` reads first. Used
    /// to read a batch's slots ahead (`engine/warm.rs`).
    pub(crate) fn head_of(&self, earner: u32) -> u32 {
        *self.newest.get(earner as usize)
    }

    /// The forward link of entry `index` ([`NO_ENTRY`] for none): the slot
    /// an append after it writes.
    pub(crate) fn next_of(&self, index: u32) -> u32 {
        self.next.get(index as usize).copied().unwrap_or(NO_ENTRY)
    }

    /// One earner's entries oldest first, with their sequence numbers:
    /// from its first entry, or from the entry after `after` when `after`
    /// is one of its entries (none when it is not).
    pub fn earner_entries_after(
        &self,
        earner: u32,
        after: Option<u64>,
    ) -> impl Iterator<Item = (u64, &Entry)> + '_ {
        let mut cursor = match after {
            None => *self.oldest.get(earner as usize),
            Some(seq) => match self.entry(seq) {
                Some(entry) if entry.earner == earner => self.next[seq as usize],
                _ => NO_ENTRY,
            },
        };
        std::iter::from_fn(move || {
            if cursor == NO_ENTRY {
                return None;
            }
            let index = cursor as usize;
            cursor = self.next[index];
            Some((index as u64, &self.entries[index]))
        })
    }

    /// Every entry of one earner, newest first.
    fn chain(&self, earner: u32) -> impl Iterator<Item = &Entry> {
        let mut cursor = *self.newest.get(earner as usize);
        std::iter::from_fn(move || {
            if cursor == NO_ENTRY {
                return None;
            }
            let index = cursor as usize;
            cursor = self.previous[index];
            Some(&self.entries[index])
        })
    }

    /// The (earner, currency) accounts that have at least one entry, by
    /// earner index, then currency.
    pub fn accounts(&self) -> impl Iterator<Item = (u32, Currency)> + '_ {
        (0..self.newest.len() as u32).flat_map(move |earner| {
            let mut currencies: Vec<Currency> = Vec::new();
            for entry in self.chain(earner) {
                if !currencies.contains(&entry.currency) {
                    currencies.push(entry.currency);
                }
            }
            currencies.sort();
            currencies.into_iter().map(move |c| (earner, c))
        })
    }

    /// Every entry of one earner, in every currency, newest first.
    pub fn earner_entries(&self, earner: u32) -> impl Iterator<Item = &Entry> {
        self.chain(earner)
    }

    /// Entries of one account, newest first.
    pub fn account_entries(&self, earner: u32, currency: Currency) -> impl Iterator<Item = &Entry> {
        self.chain(earner).filter(move |e| e.currency == currency)
    }

    /// Balances of one account as of `as_of`.
    pub fn balances(&self, earner: u32, currency: Currency, as_of: Timestamp) -> Balances {
        let mut balances = Balances::zero(currency);
        for entry in self.account_entries(earner, currency) {
            if entry.at <= as_of {
                balances.apply(entry, as_of);
            }
        }
        balances
    }

    /// Every account's balances as of `as_of` and as of `later`, found in
    /// one walk of each earner's chain (where [`accounts`](Self::accounts)
    /// and two [`balances`](Self::balances) calls walk it three times):
    /// `visit(earner, currency, at as_of, at later)`, by earner index, then
    /// currency. A payout batch reads every account this way.
    pub fn each_account_balances(
        &self,
        as_of: Timestamp,
        later: Timestamp,
        mut visit: impl FnMut(u32, Currency, Balances, Balances),
    ) {
        let mut slots: Vec<(Currency, Balances, Balances)> = Vec::new();
        for earner in 0..self.newest.len() as u32 {
            slots.clear();
            for entry in self.chain(earner) {
                let slot = match slots.iter().position(|s| s.0 == entry.currency) {
                    Some(i) => &mut slots[i],
                    None => {
                        let zero = Balances::zero(entry.currency);
                        slots.push((entry.currency, zero, zero));
                        slots.last_mut().expect("just pushed")
                    }
                };
                if entry.at <= as_of {
                    slot.1.apply(entry, as_of);
                }
                if entry.at <= later {
                    slot.2.apply(entry, later);
                }
            }
            slots.sort_by_key(|s| s.0);
            for &(currency, now, then) in &slots {
                visit(earner, currency, now, then);
            }
        }
    }

    /// Totals of one account for entries with `from <= at < to`.
    pub fn totals(
        &self,
        earner: u32,
        currency: Currency,
        from: Timestamp,
        to: Timestamp,
    ) -> Totals {
        let mut totals = Totals::default();
        for entry in self.account_entries(earner, currency) {
            if entry.at < from || entry.at >= to {
                continue;
            }
            let a = entry.amount;
            match entry.kind {
                EntryKind::Commission => totals.earned += a,
                EntryKind::Reversal | EntryKind::ReversalHeld => totals.reversed += a,
                EntryKind::Bonus => totals.bonuses += a,
                EntryKind::BonusReversal => totals.bonuses -= a,
                EntryKind::Adjustment => totals.adjustments += a,
                EntryKind::PayoutSettle => totals.paid += a,
                EntryKind::Hold
                | EntryKind::Release
                | EntryKind::PayoutReserve
                | EntryKind::PayoutFail => {}
            }
        }
        totals
    }

    pub(crate) fn rebuild_index(&mut self) {
        self.previous.clear();
        self.newest.clear();
        self.next.clear();
        self.oldest.clear();
        self.turnover.clear();
        for i in 0..self.entries.len() {
            self.link(i as u32, self.entries[i].earner);
            let entry = self.entries[i].clone();
            self.count(&entry);
        }
    }
}
