//! The rewards state: per-member metric counters (built at the first
//! `milestones_set`), evaluating milestones after each event into
//! [`Effects`], and reversing awards on refunds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::chunked::Chunked;

use crate::graph::{Graph, MemberStatus};
use crate::ledger::{Entry, EntryKind, Ledger};
use crate::limits::MAX_TRACKED_DEPTH;
use crate::money::Currency;
use crate::time::Timestamp;

use super::*;

/// A metric value change of one member, as an event will make it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Touch {
    pub(crate) member: u32,
    pub(crate) metric: Metric,
    pub(crate) currency: Option<Currency>,
    pub(crate) before: Decimal,
    pub(crate) after: Decimal,
}

/// What an event does to rewards, computed before anything changes.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) awards: Vec<AwardRecord>,
    pub(crate) reversals: Vec<ReversalRecord>,
}

/// Rewards state kept by the engine: the milestone set in force, awards,
/// challenges, and the per-member counters milestones and leaderboards
/// read (dense arrays indexed by member, updated in O(1) per sale and
/// O(levels) per join).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Rewards {
    pub(crate) active: Option<ActiveSet>,
    /// Milestone ids ever used, by key.
    pub(crate) keys: Vec<Arc<str>>,
    #[serde(skip)]
    pub(crate) key_index: HashMap<Arc<str>, u32>,
    pub(crate) awards: Vec<AwardRecord>,
    pub(crate) reversals: Vec<ReversalRecord>,
    /// Each member's awards form a chain, newest first: `award_head[member]`
    /// is the newest award's index, `award_prev[award]` the one before
    /// (like the ledger's accounts), so "has it already?" costs one array
    /// read for the many members without awards, and no hashing.
    #[serde(skip)]
    pub(crate) award_head: Vec<u32>,
    #[serde(skip)]
    pub(crate) award_prev: Vec<u32>,
    /// Direct referrals per member: kept only while a milestone set is in
    /// force (built from the graph when the first is activated), since
    /// only milestones need the count in O(1); empty before.
    pub(crate) directs: Chunked<u32>,
    /// Members at most [`MAX_TRACKED_DEPTH`] levels below, per member;
    /// kept only while a `downline_size` milestone is in force (built from
    /// the graph when such a set is activated or a snapshot restored), so
    /// joins walk their ancestors only when a milestone needs it.
    #[serde(skip)]
    pub(crate) downline: Chunked<u32>,
    /// Own sales that count and are not fully refunded, per member.
    pub(crate) live_sales: Chunked<u32>,
    /// Qualified direct referrals (`purchased`) per member: like
    /// `directs`, kept only while a milestone set is in force.
    pub(crate) qualified: Chunked<u32>,
    /// Every change of qualified referrals, in applied order.
    pub(crate) qualifications: Chunked<Qualification>,
    /// Per tracked currency (those of `net_earnings` milestones): milestone
    /// earnings per member. Rebuilt from the ledger.
    #[serde(skip)]
    pub(crate) earnings: Vec<(Currency, Vec<Decimal>)>,
    pub(crate) challenges: BTreeMap<Arc<str>, Challenge>,
}

impl Rewards {
    /// Ids → keys, for validation.
    pub(crate) fn key_index(&self) -> &HashMap<Arc<str>, u32> {
        &self.key_index
    }

    /// The next new key.
    pub(crate) fn next_key(&self) -> u32 {
        self.keys.len() as u32
    }

    pub(crate) fn grow(&mut self, len: usize) {
        if self.live_sales.len() < len {
            self.live_sales.resize(len, 0);
        }
        if self.active.is_some() {
            for counter in [&mut self.directs, &mut self.qualified] {
                if counter.len() < len {
                    counter.resize(len, 0);
                }
            }
        }
        if self.tracks_downline() && self.downline.len() < len {
            self.downline.resize(len, 0);
        }
        for (_, values) in &mut self.earnings {
            if values.len() < len {
                values.resize(len, Decimal::ZERO);
            }
        }
    }

    pub(crate) fn tracks_downline(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.uses(Metric::DownlineSize))
    }

    /// Builds the downline counters from the graph (when tracked).
    pub(crate) fn rebuild_downline(&mut self, graph: &Graph) {
        self.downline = Chunked::new();
        if !self.tracks_downline() {
            return;
        }
        self.downline = Chunked::filled(0, graph.len());
        for member in 0..graph.len() as u32 {
            if let Some(sponsor) = graph.sponsor(member) {
                self.add_up(graph, sponsor, 1);
            }
        }
    }

    pub(crate) fn count(counter: &Chunked<u32>, member: u32) -> u32 {
        counter.get(member as usize).copied().unwrap_or(0)
    }

    pub(crate) fn value(&self, member: u32, metric: Metric, currency: Option<Currency>) -> Decimal {
        let counts = self.active.as_ref().map_or(Counts::Purchased, |a| a.counts);
        let count = |c: &Chunked<u32>| Decimal::from(Self::count(c, member));
        match metric {
            Metric::QualifiedReferrals if counts == Counts::Joined => count(&self.directs),
            Metric::QualifiedReferrals => count(&self.qualified),
            Metric::DirectReferrals => count(&self.directs),
            Metric::DownlineSize => count(&self.downline),
            Metric::OwnSales => count(&self.live_sales),
            Metric::NetEarnings => self
                .earnings
                .iter()
                .find(|(c, _)| Some(*c) == currency)
                .and_then(|(_, v)| v.get(member as usize).copied())
                .unwrap_or(Decimal::ZERO),
        }
    }

    pub(crate) fn touch(&self, out: &mut Vec<Touch>, member: u32, metric: Metric, delta: i64) {
        let before = self.value(member, metric, None);
        out.push(Touch {
            member,
            metric,
            currency: None,
            before,
            after: before + Decimal::from(delta),
        });
    }

    /// Touches of a join under `sponsor` (only when a set is in force).
    pub(crate) fn join_touches(&self, graph: &Graph, sponsor: Option<u32>) -> Vec<Touch> {
        let (Some(active), Some(sponsor)) = (&self.active, sponsor) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if active.uses(Metric::DirectReferrals) {
            self.touch(&mut out, sponsor, Metric::DirectReferrals, 1);
        }
        if active.counts == Counts::Joined && active.uses(Metric::QualifiedReferrals) {
            self.touch(&mut out, sponsor, Metric::QualifiedReferrals, 1);
        }
        if active.uses(Metric::DownlineSize) {
            let mut cursor = Some(sponsor);
            let mut levels = 0;
            while let Some(member) = cursor {
                if levels >= MAX_TRACKED_DEPTH {
                    break;
                }
                self.touch(&mut out, member, Metric::DownlineSize, 1);
                cursor = graph.sponsor(member);
                levels += 1;
            }
        }
        out
    }

    /// Counters after `member` joined under `sponsor` (graph already
    /// updated).
    pub(crate) fn on_join(&mut self, graph: &Graph, member: u32, sponsor: Option<u32>) {
        self.grow(member as usize + 1);
        if let Some(sponsor) = sponsor {
            if let Some(directs) = self.directs.get_mut(sponsor as usize) {
                *directs += 1;
            }
            if self.tracks_downline() {
                self.add_up(graph, sponsor, 1);
            }
        }
    }

    /// Adds `delta` to the tracked downline size of `from` and its
    /// ancestors, at most [`MAX_TRACKED_DEPTH`] of them.
    pub(crate) fn add_up(&mut self, graph: &Graph, from: u32, delta: i64) {
        let mut cursor = Some(from);
        let mut levels = 0;
        while let Some(member) = cursor {
            if levels >= MAX_TRACKED_DEPTH {
                break;
            }
            if let Some(slot) = self.downline.get_mut(member as usize) {
                *slot = (i64::from(*slot) + delta).clamp(0, i64::from(u32::MAX)) as u32;
            }
            cursor = graph.sponsor(member);
            levels += 1;
        }
    }

    /// Counters before `member` moves under `sponsor` (graph not yet
    /// changed).
    pub(crate) fn on_reparent(&mut self, graph: &Graph, member: u32, sponsor: u32) {
        let moved = i64::from(Self::count(&self.downline, member)) + 1;
        let qualified = Self::count(&self.live_sales, member) > 0;
        let mut counters = [&mut self.directs, &mut self.qualified];
        let moves = [true, qualified];
        if let Some(old) = graph.sponsor(member) {
            for (counter, moves) in counters.iter_mut().zip(moves) {
                if let Some(slot) = counter.get_mut(old as usize).filter(|_| moves) {
                    *slot = slot.saturating_sub(1);
                }
            }
            self.add_up(graph, old, -moved);
        }
        let mut counters = [&mut self.directs, &mut self.qualified];
        for (counter, moves) in counters.iter_mut().zip(moves) {
            if let Some(slot) = counter.get_mut(sponsor as usize).filter(|_| moves) {
                *slot += 1;
            }
        }
        self.add_up(graph, sponsor, moved);
    }

    /// Touches of a sale by `buyer` (`counts`: it counts for
    /// qualification), with each line earner's milestone-earnings change.
    pub(crate) fn sale_touches(
        &self,
        graph: &Graph,
        buyer: u32,
        counts: bool,
        entries: &[Entry],
    ) -> Vec<Touch> {
        let Some(active) = &self.active else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if counts {
            if active.uses(Metric::OwnSales) {
                self.touch(&mut out, buyer, Metric::OwnSales, 1);
            }
            if Self::count(&self.live_sales, buyer) == 0
                && active.counts == Counts::Purchased
                && active.uses(Metric::QualifiedReferrals)
            {
                if let Some(sponsor) = graph.sponsor(buyer) {
                    self.touch(&mut out, sponsor, Metric::QualifiedReferrals, 1);
                }
            }
        }
        self.earnings_touches(&mut out, entries);
        out
    }

    /// Counters after a sale by `buyer` at `at`.
    /// The buyer's counter of live sales (0 when the counters are not
    /// kept): the slot [`on_sale`](Self::on_sale) writes.
    pub(crate) fn live_sales_of(&self, buyer: u32) -> u32 {
        self.live_sales.get(buyer as usize).copied().unwrap_or(0)
    }

    pub(crate) fn on_sale(&mut self, graph: &Graph, buyer: u32, counts: bool, at: Timestamp) {
        // The counters have a slot for every member since its join.
        let Some(slot) = self.live_sales.get_mut(buyer as usize).filter(|_| counts) else {
            return;
        };
        *slot += 1;
        if *slot == 1 {
            if let Some(sponsor) = graph.sponsor(buyer) {
                if let Some(q) = self.qualified.get_mut(sponsor as usize) {
                    *q += 1;
                }
                self.qualifications.push(Qualification {
                    at,
                    sponsor,
                    delta: 1,
                });
            }
        }
    }

    /// Touches of a refund of a sale by `buyer`: `uncounts` when it fully
    /// refunds a counting sale.
    pub(crate) fn refund_touches(
        &self,
        graph: &Graph,
        buyer: u32,
        uncounts: bool,
        entries: &[Entry],
    ) -> Vec<Touch> {
        let Some(active) = &self.active else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if uncounts && Self::count(&self.live_sales, buyer) > 0 {
            if active.uses(Metric::OwnSales) {
                self.touch(&mut out, buyer, Metric::OwnSales, -1);
            }
            if Self::count(&self.live_sales, buyer) == 1
                && active.counts == Counts::Purchased
                && active.uses(Metric::QualifiedReferrals)
            {
                if let Some(sponsor) = graph.sponsor(buyer) {
                    self.touch(&mut out, sponsor, Metric::QualifiedReferrals, -1);
                }
            }
        }
        self.earnings_touches(&mut out, entries);
        out
    }

    /// Counters after a refund (see [`refund_touches`](Self::refund_touches)).
    pub(crate) fn on_refund(&mut self, graph: &Graph, buyer: u32, uncounts: bool, at: Timestamp) {
        let Some(slot) = self.live_sales.get_mut(buyer as usize).filter(|_| uncounts) else {
            return;
        };
        if *slot == 0 {
            return;
        }
        *slot -= 1;
        if *slot == 0 {
            if let Some(sponsor) = graph.sponsor(buyer) {
                if let Some(q) = self.qualified.get_mut(sponsor as usize) {
                    *q = q.saturating_sub(1);
                }
                self.qualifications.push(Qualification {
                    at,
                    sponsor,
                    delta: -1,
                });
            }
        }
    }

    pub(crate) fn earnings_touches(&self, out: &mut Vec<Touch>, entries: &[Entry]) {
        for (currency, values) in &self.earnings {
            let mut deltas: Vec<(u32, Decimal)> = Vec::new();
            for entry in entries.iter().filter(|e| e.currency == *currency) {
                let delta = milestone_earnings_delta(entry.kind, entry.amount);
                if delta.is_zero() {
                    continue;
                }
                match deltas.iter_mut().find(|(m, _)| *m == entry.earner) {
                    Some(slot) => slot.1 += delta,
                    None => deltas.push((entry.earner, delta)),
                }
            }
            for (member, delta) in deltas {
                let before = values
                    .get(member as usize)
                    .copied()
                    .unwrap_or(Decimal::ZERO);
                out.push(Touch {
                    member,
                    metric: Metric::NetEarnings,
                    currency: Some(*currency),
                    before,
                    after: before + delta,
                });
            }
        }
    }

    /// Tracked earnings after entries were written.
    pub(crate) fn on_entries(&mut self, entries: &[Entry], members: usize) {
        if self.earnings.is_empty() {
            return;
        }
        self.grow(members);
        for entry in entries {
            for (currency, values) in &mut self.earnings {
                if entry.currency == *currency {
                    if let Some(slot) = values.get_mut(entry.earner as usize) {
                        *slot += milestone_earnings_delta(entry.kind, entry.amount);
                    }
                }
            }
        }
    }

    /// Awards and reversals of `touches`, with their ledger entries
    /// (appended to `entries`). `available_at` is when bonuses mature;
    /// `seq` the event's sequence number.
    pub(crate) fn evaluate(
        &self,
        graph: &Graph,
        touches: &[Touch],
        at: Timestamp,
        available_at: Timestamp,
        seq: u64,
        entries: &mut Vec<Entry>,
    ) -> Effects {
        let mut effects = Effects::default();
        let Some(active) = &self.active else {
            return effects;
        };
        for touch in touches {
            for milestone in &active.milestones {
                if milestone.metric != touch.metric
                    || (touch.metric == Metric::NetEarnings && milestone.currency != touch.currency)
                {
                    continue;
                }
                let standing = self.standing_award(touch.member, milestone.key);
                let already = standing.is_some()
                    || effects
                        .awards
                        .iter()
                        .any(|a| a.member == touch.member && a.key == milestone.key);
                if touch.after > touch.before
                    && touch.after >= milestone.threshold
                    && !already
                    && graph.status(touch.member) == MemberStatus::Active
                {
                    let award = self.award(graph, touch, milestone);
                    for (currency, amount) in &milestone.bonuses {
                        entries.push(Entry {
                            at,
                            earner: touch.member,
                            currency: *currency,
                            kind: EntryKind::Bonus,
                            amount: *amount,
                            available_at,
                            reference: milestone.id.clone(),
                        });
                    }
                    effects.awards.push(AwardRecord {
                        seq,
                        member: touch.member,
                        key: milestone.key,
                        award,
                        available_at,
                        clawed_back: false,
                    });
                } else if touch.after < touch.before
                    && touch.before >= milestone.threshold
                    && touch.after < milestone.threshold
                {
                    let Some(index) = standing else { continue };
                    let record = &self.awards[index as usize];
                    let mut reversed = Vec::new();
                    if active.on_refund == OnRefund::Clawback {
                        for bonus in record.award.bonuses.iter() {
                            let Some(currency) = record_currency(&milestone.bonuses, bonus) else {
                                continue;
                            };
                            entries.push(Entry {
                                at,
                                earner: touch.member,
                                currency,
                                kind: EntryKind::BonusReversal,
                                amount: bonus.amount,
                                available_at: record.available_at,
                                reference: milestone.id.clone(),
                            });
                            reversed.push(bonus.clone());
                        }
                    }
                    effects.reversals.push(ReversalRecord {
                        seq,
                        award: index,
                        record: MilestoneReversal {
                            member: Arc::from(graph.id(touch.member)),
                            milestone: milestone.id.clone(),
                            value: touch.after,
                            applied: active.on_refund,
                            reversed,
                        },
                    });
                }
            }
        }
        effects
    }

    /// The index of `member`'s standing (not clawed back) award of
    /// milestone `key`, if any.
    pub(crate) fn standing_award(&self, member: u32, key: u32) -> Option<u32> {
        let mut cursor = self
            .award_head
            .get(member as usize)
            .copied()
            .unwrap_or(NO_AWARD);
        while cursor != NO_AWARD {
            let record = &self.awards[cursor as usize];
            if record.key == key && !record.clawed_back {
                return Some(cursor);
            }
            cursor = self.award_prev[cursor as usize];
        }
        None
    }

    pub(crate) fn link_award(&mut self, index: u32, member: u32) {
        let slot = member as usize;
        if self.award_head.len() <= slot {
            self.award_head.resize(slot + 1, NO_AWARD);
        }
        self.award_prev.push(self.award_head[slot]);
        self.award_head[slot] = index;
    }

    pub(crate) fn award(&self, graph: &Graph, touch: &Touch, milestone: &Milestone) -> Award {
        Award {
            member: Arc::from(graph.id(touch.member)),
            milestone: milestone.id.clone(),
            name: milestone.name.clone(),
            metric: milestone.metric,
            threshold: milestone.threshold,
            value: touch.after,
            bonuses: milestone.paid.clone(),
            perks: milestone.perks.clone(),
        }
    }

    /// Records what [`evaluate`](Self::evaluate) computed.
    pub(crate) fn commit(&mut self, effects: Effects) {
        for reversal in effects.reversals {
            let index = reversal.award;
            if reversal.record.applied == OnRefund::Clawback {
                if let Some(award) = self.awards.get_mut(index as usize) {
                    award.clawed_back = true;
                }
            }
            self.reversals.push(reversal);
        }
        for award in effects.awards {
            let index = self.awards.len() as u32;
            self.link_award(index, award.member);
            self.awards.push(award);
        }
    }

    /// Activates a milestone set; `entries` is the ledger so far (to build
    /// the earnings counters of new `net_earnings` currencies).
    pub(crate) fn activate(&mut self, set: ActiveSet, graph: &Graph, ledger: &Ledger) {
        let members = graph.len();
        for milestone in &set.milestones {
            if milestone.key as usize == self.keys.len() {
                self.keys.push(milestone.id.clone());
                self.key_index.insert(milestone.id.clone(), milestone.key);
            }
        }
        self.active = Some(set);
        if self.directs.len() != members {
            self.build_counters(graph);
        }
        self.rebuild_downline(graph);
        self.rebuild_earnings(ledger, members);
    }

    /// Builds the direct and qualified referral counters from the graph and
    /// each member's live sales (a qualified referral is a direct one with
    /// a counting sale not fully refunded).
    pub(crate) fn build_counters(&mut self, graph: &Graph) {
        let n = graph.len();
        self.directs = Chunked::filled(0, n);
        self.qualified = Chunked::filled(0, n);
        for member in 0..n as u32 {
            if let Some(sponsor) = graph.sponsor(member) {
                self.directs[sponsor as usize] += 1;
                if Self::count(&self.live_sales, member) > 0 {
                    self.qualified[sponsor as usize] += 1;
                }
            }
        }
    }

    pub(crate) fn rebuild_earnings(&mut self, ledger: &Ledger, members: usize) {
        let mut currencies: Vec<Currency> = self
            .active
            .iter()
            .flat_map(|a| a.milestones.iter().filter_map(|m| m.currency))
            .collect();
        currencies.sort();
        currencies.dedup();
        self.earnings = currencies
            .into_iter()
            .map(|currency| {
                let mut values = vec![Decimal::ZERO; members];
                for entry in ledger.entries().filter(|e| e.currency == currency) {
                    if let Some(slot) = values.get_mut(entry.earner as usize) {
                        *slot += milestone_earnings_delta(entry.kind, entry.amount);
                    }
                }
                (currency, values)
            })
            .collect();
    }

    /// Awards recorded at event `seq`.
    pub(crate) fn awards_at(&self, seq: u64) -> Vec<Award> {
        let start = self.awards.partition_point(|a| a.seq < seq);
        self.awards[start..]
            .iter()
            .take_while(|a| a.seq == seq)
            .map(|a| a.award.clone())
            .collect()
    }

    /// Milestone reversals recorded at event `seq`.
    pub(crate) fn reversals_at(&self, seq: u64) -> Vec<MilestoneReversal> {
        let start = self.reversals.partition_point(|r| r.seq < seq);
        self.reversals[start..]
            .iter()
            .take_while(|r| r.seq == seq)
            .map(|r| r.record.clone())
            .collect()
    }

    /// Rebuilds what snapshots skip, and the counters themselves from a
    /// snapshot written before they existed (`live`: per buyer, its
    /// counting sales not fully refunded).
    pub(crate) fn rebuild(&mut self, graph: &Graph, ledger: &Ledger, live: &[(u32, u32)]) {
        self.key_index = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        self.award_head.clear();
        self.award_prev.clear();
        let members: Vec<u32> = self.awards.iter().map(|a| a.member).collect();
        for (index, member) in members.into_iter().enumerate() {
            self.link_award(index as u32, member);
        }
        let n = graph.len();
        if self.live_sales.len() != n {
            // A snapshot written before the counters existed.
            self.live_sales = Chunked::filled(0, n);
            for &(buyer, count) in live {
                self.live_sales[buyer as usize] = count;
            }
        }
        if self.active.is_none() {
            // Snapshots written while every engine kept them.
            self.directs = Chunked::new();
            self.qualified = Chunked::new();
        } else if self.directs.len() != n || self.qualified.len() != n {
            self.build_counters(graph);
        }
        self.rebuild_downline(graph);
        self.rebuild_earnings(ledger, n);
    }

    /// Qualified direct referrals of `member` (`purchased` definition): the
    /// counter while milestones keep it, else counted from its direct
    /// referrals' live sales.
    pub(crate) fn qualified_of(&self, graph: &Graph, member: u32) -> u32 {
        if self.active.is_some() {
            return Self::count(&self.qualified, member);
        }
        graph
            .direct_referrals(member)
            .into_iter()
            .filter(|&d| Self::count(&self.live_sales, d) > 0)
            .count() as u32
    }

    /// The standing (not clawed back) awards of `member`, oldest first.
    pub(crate) fn awards_of(&self, member: u32) -> Vec<&Award> {
        self.awards
            .iter()
            .filter(|a| a.member == member && !a.clawed_back)
            .map(|a| &a.award)
            .collect()
    }
}

pub(crate) fn record_currency(
    bonuses: &[(Currency, Decimal)],
    paid: &BonusPaid,
) -> Option<Currency> {
    bonuses
        .iter()
        .find(|(c, _)| c.code() == paid.currency)
        .map(|(c, _)| *c)
}
