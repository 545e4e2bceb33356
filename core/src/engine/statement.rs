//! A member's statement: its ledger entries, oldest first, paged by a
//! cursor, each with where it comes from and its state as of an instant.
//!
//! The records and the rules for states are in [`crate::statement`]; this
//! file finds the entries and works out each one's state. A page costs
//! O(limit) for the common line (a commission never refunded nor held:
//! its state is its hold period), plus, for a line that was held,
//! refunded or reviewed, a walk over the member's later entries that stops
//! at the last entry touching that line (the sale record says how much
//! there is to find), and for a milestone bonus a walk to its clawback or
//! the member's next award of that milestone.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::sales::LineEntries;
use super::{Engine, SaleRecord};
use crate::error::{Error, ErrorKind, Result};
use crate::ledger::{Entry, EntryKind};
use crate::limits::MAX_STATEMENT_PAGE;
use crate::payout::PayoutState;
use crate::statement::{
    decode_cursor, encode_cursor, EntryState, Source, SourceKind, Statement, StatementLine,
    StatementQuery,
};
use crate::time::Timestamp;

/// A lot's money as of an instant: in the flow (pending or available by
/// its `available_at`) and held.
#[derive(Default)]
struct Lot {
    flow: Decimal,
    held: Decimal,
}

impl Lot {
    fn state(&self, available_at: Timestamp, as_of: Timestamp) -> EntryState {
        if self.held > Decimal::ZERO {
            EntryState::Held
        } else if self.flow > Decimal::ZERO {
            flow_state(available_at, as_of)
        } else {
            EntryState::Reversed
        }
    }
}

fn flow_state(available_at: Timestamp, as_of: Timestamp) -> EntryState {
    if as_of < available_at {
        EntryState::Pending
    } else {
        EntryState::Available
    }
}

/// `amount` written with `entry`'s currency's decimals (a lot reversed to
/// nothing shows `0.00`, not `0`).
fn at_scale(mut amount: Decimal, entry: &Entry) -> Decimal {
    amount.rescale(u32::from(entry.currency.minor_units()));
    amount
}

fn time(text: Option<&str>, field: &str) -> Result<Option<Timestamp>> {
    text.map(|t| Timestamp::parse(t, field)).transpose()
}

impl Engine {
    /// One page of `member`'s statement: its ledger entries oldest first
    /// (by ledger position), each with its source and its state as of
    /// `query.as_of` (see [`crate::statement`] for the states and how they
    /// add up to [`balances`](Self::balances)). Pass a page's `next` as the
    /// following query's `after`: the pages, for any limit, are the whole
    /// ledger of the member once, in order.
    ///
    /// Errors: `unknown_member`; `invalid_currency`; `invalid_time` for a
    /// bad time or `from` after `to`; `limit_exceeded` for a limit of 0 or
    /// above [`MAX_STATEMENT_PAGE`]; `malformed` for a cursor this engine did
    /// not give for this member.
    ///
    /// ```
    /// use upline::{Engine, StatementQuery};
    ///
    /// let mut engine = Engine::new();
    /// for (member, sponsor) in [("ann", None), ("bob", Some("ann"))] {
    ///     engine.apply_json(&serde_json::json!({
    ///         "type": "member_joined", "member": member, "sponsor": sponsor,
    ///         "at": "2026-01-01T00:00:00Z"
    ///     }).to_string())?;
    /// }
    /// engine.apply_json(r#"{"type":"sale_recorded","sale":"s1","buyer":"bob",
    ///     "amount":"100.00","currency":"USD","at":"2026-02-01T12:00:00Z"}"#)?;
    /// let page = engine.statement("ann", &StatementQuery {
    ///     as_of: Some("2026-02-02T00:00:00Z".into()),
    ///     ..StatementQuery::default()
    /// })?;
    /// let line = &page.entries[0];
    /// assert_eq!((line.amount.to_string(), line.state.as_str()), ("20.00".into(), "pending"));
    /// assert_eq!((line.source.id.as_ref(), line.level), ("s1", Some(1)));
    /// assert_eq!(page.next, None);
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn statement(&self, member: &str, query: &StatementQuery) -> Result<Statement> {
        let earner = self.graph.require(member, "member")?;
        let currency = query
            .currency
            .as_deref()
            .map(|code| self.currencies.get(code, "currency"))
            .transpose()?;
        let from = time(query.from.as_deref(), "from")?;
        let to = time(query.to.as_deref(), "to")?;
        let as_of = time(query.as_of.as_deref(), "as_of")?;
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    "from",
                    format!("from {from} is after to {to}"),
                ));
            }
        }
        let limit = query.limit;
        if limit == 0 || limit > MAX_STATEMENT_PAGE {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "limit",
                format!("limit {limit} is outside 1..={MAX_STATEMENT_PAGE}"),
            ));
        }
        let after = match query.after.as_deref() {
            None => None,
            Some(text) => {
                let seq = decode_cursor(text)?;
                match self.ledger.entry(seq) {
                    Some(entry) if entry.earner == earner => Some(seq),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::Malformed,
                            "after",
                            format!("after {text:?} names no entry of member {member:?}"),
                        ))
                    }
                }
            }
        };
        let until = as_of.unwrap_or(Timestamp::MAX);
        let wanted = |entry: &Entry| {
            entry.at <= until
                && currency.is_none_or(|c| entry.currency == c)
                && from.is_none_or(|f| entry.at >= f)
                && to.is_none_or(|t| entry.at < t)
        };
        let mut found = self
            .ledger
            .earner_entries_after(earner, after)
            .filter(|(_, entry)| wanted(entry));
        let mut entries = Vec::with_capacity(limit.min(128));
        for (seq, entry) in found.by_ref() {
            entries.push(self.statement_line(seq, entry, until));
            if entries.len() == limit {
                break;
            }
        }
        let next = match entries.last() {
            Some(last) if entries.len() == limit && found.next().is_some() => {
                Some(encode_cursor(last.seq))
            }
            _ => None,
        };
        Ok(Statement {
            member: Arc::from(self.graph.id(earner)),
            as_of,
            entries,
            next,
        })
    }

    fn statement_line(&self, seq: u64, entry: &Entry, as_of: Timestamp) -> StatementLine {
        let mut line = StatementLine {
            seq,
            kind: entry.kind,
            amount: entry.amount,
            currency: entry.currency,
            at: entry.at,
            available_at: entry.available_at,
            source: Source {
                kind: SourceKind::Sale,
                id: entry.reference.clone(),
            },
            level: None,
            rate: None,
            base: None,
            state: EntryState::Reversed,
            remaining: None,
        };
        let flow = flow_state(entry.available_at, as_of);
        match entry.kind {
            EntryKind::Commission | EntryKind::Hold | EntryKind::Release => {
                let sale = self.sale_by_id(&entry.reference);
                let found = sale.and_then(|index| {
                    let record = &self.sales[index as usize];
                    let ledger = LineEntries::Ledger(&self.ledger);
                    let line = (0..record.lines.len())
                        .find(|&i| record.earner(i, ledger) == entry.earner)?;
                    Some((index, record, line))
                });
                let Some((index, record, line_index)) = found else {
                    // Every such entry names a line of a recorded sale; if
                    // not, show the entry as it stands rather than fail.
                    line.state = flow;
                    return line;
                };
                let sale_line = &record.lines[line_index];
                if entry.kind == EntryKind::Commission {
                    line.level = Some(sale_line.level);
                    line.rate = Some(sale_line.rate());
                    // What the rate applied to: the converted amount of a
                    // sale paid in another currency.
                    line.base = Some(record.base());
                }
                if entry.kind == EntryKind::Release && sale_line.screened() {
                    line.source.kind = SourceKind::Review;
                }
                let lot = self.sale_lot(seq, entry, index, record, line_index, as_of);
                line.state = lot.state(entry.available_at, as_of);
                if entry.kind == EntryKind::Commission {
                    line.remaining = Some(at_scale(lot.flow + lot.held, entry));
                }
            }
            EntryKind::Reversal => line.source.kind = SourceKind::Refund,
            EntryKind::ReversalHeld => {
                line.source.kind = if self.refunds.contains_key(&entry.reference) {
                    SourceKind::Refund
                } else {
                    SourceKind::Review
                };
            }
            EntryKind::BonusReversal => line.source.kind = SourceKind::Award,
            EntryKind::Bonus => {
                if self.rewards.challenges.contains_key(&entry.reference) {
                    line.source.kind = SourceKind::Challenge;
                    line.state = flow;
                    line.remaining = Some(entry.amount);
                } else {
                    line.source.kind = SourceKind::Award;
                    let remaining = entry.amount - self.bonus_clawed_back(seq, entry, as_of);
                    line.state = if remaining > Decimal::ZERO {
                        flow
                    } else {
                        EntryState::Reversed
                    };
                    line.remaining = Some(at_scale(remaining, entry));
                }
            }
            EntryKind::Adjustment => {
                line.source.kind = SourceKind::Adjustment;
                line.state = flow;
                line.remaining = Some(entry.amount);
            }
            EntryKind::PayoutReserve => {
                line.source.kind = SourceKind::Payout;
                line.state = match self.payouts.get(&entry.reference).map(|p| &p.state) {
                    Some(PayoutState::Settled { at, .. }) if *at <= as_of => EntryState::Paid,
                    Some(PayoutState::Failed { at, .. }) if *at <= as_of => EntryState::Available,
                    _ => EntryState::Reserved,
                };
            }
            EntryKind::PayoutSettle => {
                line.source.kind = SourceKind::Payout;
                line.state = EntryState::Paid;
            }
            EntryKind::PayoutFail => {
                line.source.kind = SourceKind::Payout;
                line.state = EntryState::Available;
            }
        }
        line
    }

    /// The money of one sale line as of `as_of`, from entry `seq` of that
    /// line (its commission, the hold on it, or its release) on.
    fn sale_lot(
        &self,
        seq: u64,
        start: &Entry,
        sale_index: u32,
        sale: &SaleRecord,
        line_index: usize,
        as_of: Timestamp,
    ) -> Lot {
        let line = &sale.lines[line_index];
        let amount = sale
            .line_entry(line_index, LineEntries::Ledger(&self.ledger))
            .amount;
        let reversed = sale.reversed(line_index);
        let mut lot = Lot::default();
        // What the walk must still see: reversals and the release, from the
        // sale record (a release is written only when something is left).
        let (mut reversals_left, mut release_left) = match start.kind {
            EntryKind::Commission => {
                lot.flow = start.amount;
                (reversed, line.held() && line.released())
            }
            EntryKind::Hold => {
                lot.held = start.amount;
                (reversed, line.released())
            }
            _ => {
                lot.flow = start.amount;
                (reversed - (amount - start.amount), false)
            }
        };
        if reversed >= amount {
            release_left = false;
        }
        let mut hold_left = start.kind == EntryKind::Commission && line.held();
        for (_, entry) in self.ledger.earner_entries_after(start.earner, Some(seq)) {
            if reversals_left <= Decimal::ZERO && !release_left && !hold_left {
                break;
            }
            // The line's entries are in the currency it was paid in.
            if entry.currency != sale.pay_currency() {
                continue;
            }
            let of_this_line = match entry.kind {
                EntryKind::Hold | EntryKind::Release => entry.reference == sale.id,
                EntryKind::Reversal | EntryKind::ReversalHeld => {
                    match self.refunds.get(&entry.reference) {
                        Some(refund) => refund.sale == sale_index,
                        None => entry.kind == EntryKind::ReversalHeld && entry.reference == sale.id,
                    }
                }
                _ => false,
            };
            if !of_this_line {
                continue;
            }
            let counts = entry.at <= as_of;
            let amount = entry.amount;
            match entry.kind {
                EntryKind::Hold => {
                    hold_left = false;
                    if counts {
                        lot.flow -= amount;
                        lot.held += amount;
                    }
                }
                EntryKind::Release => {
                    release_left = false;
                    if counts {
                        lot.held -= amount;
                        lot.flow += amount;
                    }
                }
                EntryKind::Reversal => {
                    reversals_left -= amount;
                    if counts {
                        lot.flow -= amount;
                    }
                }
                _ => {
                    reversals_left -= amount;
                    if counts {
                        lot.held -= amount;
                    }
                }
            }
        }
        lot
    }

    /// How much of the milestone bonus at entry `seq` was clawed back by
    /// `as_of`: its bonus reversal is the member's next entry of that
    /// milestone and currency, unless a new award of it comes first.
    fn bonus_clawed_back(&self, seq: u64, bonus: &Entry, as_of: Timestamp) -> Decimal {
        for (_, entry) in self.ledger.earner_entries_after(bonus.earner, Some(seq)) {
            if entry.currency != bonus.currency || entry.reference != bonus.reference {
                continue;
            }
            match entry.kind {
                EntryKind::BonusReversal if entry.at <= as_of => return entry.amount,
                EntryKind::BonusReversal | EntryKind::Bonus => return Decimal::ZERO,
                _ => {}
            }
        }
        Decimal::ZERO
    }
}
