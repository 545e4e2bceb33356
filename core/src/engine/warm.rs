//! Batches of sales walked in lockstep before they are applied.
//!
//! At a million members a sale's state is scattered: its buyer's id and
//! node, the seven uplines' nodes and ids (the audit records spell out
//! each earner's id), each earner's ledger chain head and the forward link
//! it will write, the sale-id index slot. Applied one at a time, each of
//! these is a cache miss the core waits for in turn, since the next
//! address is read from the last (parent after parent). This file owns the
//! pass that [`apply_batch`](Engine::apply_batch), the columnar path and
//! replay run over a group of sales first: it reads those slots for
//! the whole group a level at a time, as [`calculate_batch`]
//! (crate::calc::calculate_batch) walks its uplines, so their misses
//! overlap, and the apply that follows finds them in cache.
//!
//! It only reads. A sale it cannot resolve (an unknown buyer, a malformed
//! event) is skipped here and refused by the apply as usual, and what it
//! loads is a hint: the apply never relies on it, so the results are the
//! same with or without it (`core/tests/properties.rs` checks a batch
//! against the same events applied one by one).

use super::Engine;
use crate::event::Event;
use crate::graph::NO_MEMBER;

/// Sales read ahead together: enough loads in flight to cover the
/// latency of a miss, few enough that a group's lines stay in L1/L2 until
/// its sales are applied (about 40 lines a sale).
pub(super) const GROUP: usize = 16;

/// The most upline levels read ahead (the founding programme pays 7).
const LEVELS: usize = 8;

impl Engine {
    /// Reads ahead the state the sales among `events` will touch (see the
    /// module docs); other events are skipped. Returns a value derived from
    /// everything read, for `black_box`, so the loads are kept.
    pub(super) fn warm_events(&self, events: &[Event]) -> u64 {
        self.warm_sales(events.iter().filter_map(|event| match event {
            Event::SaleRecorded(e) => Some((e.sale.as_str(), e.buyer.as_str())),
            _ => None,
        }))
    }

    /// Reduces the signals of the sales among `events` ahead (what
    /// [`prepare_sale`](Self::prepare_sale) takes back by the event's
    /// address instead of reducing them again) and reads the cluster-key
    /// owners and velocity slots screening will look up, a group at a
    /// time so the misses overlap. Only while rules are in force. The
    /// caller empties `screen.warmed` once the group is applied (only
    /// [`apply_batch`](Self::apply_batch) calls this). A sale whose
    /// signals or time are invalid is skipped: its apply refuses it as
    /// usual. Returns a value derived from what it read, for `black_box`.
    pub(super) fn warm_signals(&mut self, events: &[Event]) -> u64 {
        self.screen.warmed.clear();
        if self.screen.active().is_none() {
            return 0;
        }
        for event in events {
            let Event::SaleRecorded(e) = event else {
                continue;
            };
            let Some(signals) = &e.signals else { continue };
            let Ok(at) = crate::time::Timestamp::parse(&e.at, "at") else {
                continue;
            };
            if let Ok(kept) = crate::screen::reduce(signals, at) {
                let address = std::ptr::from_ref(e) as usize;
                self.screen.warmed.push((address, at, kept));
            }
        }
        let mut sum = 0u64;
        for (_, _, kept) in &self.screen.warmed {
            sum = sum.wrapping_add(self.screen.warm_keys(kept));
        }
        sum
    }

    /// [`warm_events`](Self::warm_events) for `(sale id, buyer id)` pairs.
    pub(super) fn warm_sales<'a>(&self, sales: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
        let nodes = self.graph.nodes();
        let levels = self.plans[self.plans.len() - 1].levels().len().min(LEVELS);
        let mut sum = 0u64;
        let mut buyers = [NO_MEMBER; GROUP];
        let mut filled = 0;
        let mut sales = sales.peekable();
        while sales.peek().is_some() {
            filled = 0;
            for (sale, buyer) in sales.by_ref().take(GROUP) {
                // The sale-id probe brings in the index slot its insert
                // will write; a found id (a retry) is applied as usual.
                sum = sum.wrapping_add(u64::from(self.sale_by_id(sale).is_some()));
                buyers[filled] = self.graph.index_of(buyer).unwrap_or(NO_MEMBER);
                filled += 1;
            }
            let mut uplines = [[NO_MEMBER; LEVELS]; GROUP];
            let mut cursors = [NO_MEMBER; GROUP];
            for (cursor, &buyer) in cursors.iter_mut().zip(&buyers[..filled]) {
                if buyer != NO_MEMBER {
                    *cursor = nodes[buyer as usize].parent;
                    sum = sum.wrapping_add(self.graph.joined_at(buyer).as_millis() as u64);
                    sum = sum.wrapping_add(u64::from(self.rewards.live_sales_of(buyer)));
                }
            }
            // One level of every sale at a time: independent loads.
            for level in 0..levels {
                for (cursor, upline) in cursors[..filled].iter_mut().zip(uplines.iter_mut()) {
                    if *cursor != NO_MEMBER {
                        upline[level] = *cursor;
                        *cursor = nodes[*cursor as usize].parent;
                    }
                }
            }
            // Ring and ladder rules walk two ancestors past the paid levels.
            if self.screen.active().is_some_and(|r| r.walks()) {
                for _ in 0..crate::screen::WALK_ABOVE {
                    for cursor in cursors[..filled].iter_mut() {
                        if *cursor != NO_MEMBER {
                            *cursor = nodes[*cursor as usize].parent;
                            sum = sum.wrapping_add(u64::from(*cursor));
                        }
                    }
                }
            }
            let uplines = &uplines[..filled];
            // Each earner's id, which the sale's audit records spell out.
            for upline in uplines {
                for &member in upline[..levels].iter().filter(|&&m| m != NO_MEMBER) {
                    let id = self.graph.id(member).as_bytes();
                    sum = sum.wrapping_add(u64::from(id.first().copied().unwrap_or(0)));
                }
            }
            // With screening rules in force: the buyer's kept signals and
            // each earner's refund-rate slot (`screen::State::warm`).
            if self.screen.active().is_some() {
                for (upline, &buyer) in uplines.iter().zip(&buyers[..filled]) {
                    if buyer != NO_MEMBER {
                        sum = sum.wrapping_add(self.screen.warm(buyer, &upline[..levels]));
                    }
                }
            }
            // Each earner's chain head, then the link its append writes.
            let mut heads = [[0u32; LEVELS]; GROUP];
            for (row, upline) in heads.iter_mut().zip(uplines) {
                for (head, &member) in row.iter_mut().zip(&upline[..levels]) {
                    *head = self.ledger.head_of(member);
                }
            }
            for row in &heads[..filled] {
                for &head in &row[..levels] {
                    sum = sum.wrapping_add(u64::from(self.ledger.next_of(head)));
                }
            }
        }
        sum.wrapping_add(filled as u64)
    }
}
