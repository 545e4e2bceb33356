//! The screening state: per-key recent times and counts, per-earner day
//! buckets of sales and refunds, identity clusters (union-find over shared
//! keys) and rings. Everything here is rebuilt from events; nothing is a
//! decision.

use std::collections::{HashMap, VecDeque};

use petgraph::unionfind::UnionFind;
use serde::{Deserialize, Serialize};

use crate::chunked::Sparse;
use crate::graph::Graph;
use crate::limits::{MAX_LEVELS, MAX_REFUND_WINDOW_DAYS};
use crate::time::Timestamp;

use super::*;

/// The last sale times (ms) of one IP or device, oldest first: the
/// presets keep four, which fit inline without a heap allocation per key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Recent {
    pub(crate) inline: [i64; 4],
    pub(crate) len: u8,
    /// Used instead of `inline` once more than four are kept.
    pub(crate) more: VecDeque<i64>,
}

impl Recent {
    pub(crate) fn push(&mut self, at_ms: i64, keep: usize) {
        let len = usize::from(self.len).min(self.inline.len());
        if keep <= self.inline.len() && self.more.is_empty() {
            if len < keep {
                self.inline[len] = at_ms;
                self.len += 1;
            } else {
                // Full (or `keep` shrank): drop the oldest.
                let drop = len + 1 - keep;
                self.inline.copy_within(drop..len, 0);
                self.inline[keep - 1] = at_ms;
                self.len = keep as u8;
            }
            return;
        }
        self.more.extend(&self.inline[..len]);
        self.len = 0;
        self.more.push_back(at_ms);
        while self.more.len() > keep {
            self.more.pop_front();
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let len = usize::from(self.len).min(self.inline.len());
        self.inline[..len].iter().chain(self.more.iter()).copied()
    }
}

/// One day of an earner's refund-rate counts: running totals (wrapping,
/// so a window's count is exact below 2^32) up to and including the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bucket {
    pub(crate) day: i32,
    pub(crate) sales_to: u32,
    pub(crate) refunds_to: u32,
}

/// An earner's sales and refunded sales by day, for
/// [`MAX_REFUND_WINDOW_DAYS`]. The newest day sits inline, so counting a
/// sale in time order touches one map slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EarnerDays {
    /// Running totals before the oldest kept day.
    pub(crate) base: (u32, u32),
    /// Older kept days, oldest first (a `Vec`, not a `VecDeque`: 8 bytes
    /// less in every earner's slot; the oldest day leaves once a day).
    pub(crate) older: Vec<Bucket>,
    pub(crate) newest: Bucket,
    /// The newest day with a refund ([`NO_DAY`]: none).
    pub(crate) last_refund: i32,
}

pub(crate) fn day_number(at: Timestamp) -> i32 {
    i32::try_from(at.as_millis().div_euclid(DAY_MS)).unwrap_or(i32::MAX)
}

impl EarnerDays {
    pub(crate) fn new(day: i32) -> Self {
        EarnerDays {
            base: (0, 0),
            older: Vec::new(),
            newest: Bucket {
                day,
                sales_to: 0,
                refunds_to: 0,
            },
            last_refund: NO_DAY,
        }
    }

    pub(crate) fn bump(bucket: &mut Bucket, sale: bool) {
        if sale {
            bucket.sales_to = bucket.sales_to.wrapping_add(1);
        } else {
            bucket.refunds_to = bucket.refunds_to.wrapping_add(1);
        }
    }

    pub(crate) fn count(&mut self, day: i32, sale: bool) {
        if !sale {
            self.last_refund = self.last_refund.max(day);
        }
        if day > self.newest.day {
            let next = Bucket { day, ..self.newest };
            self.older.push(std::mem::replace(&mut self.newest, next));
            let horizon = i64::from(day) - i64::from(MAX_REFUND_WINDOW_DAYS);
            if self
                .older
                .first()
                .is_some_and(|front| i64::from(front.day) <= horizon)
            {
                // The days at or before the horizon leave; the last of them
                // becomes the base.
                let gone = self.older.partition_point(|b| i64::from(b.day) <= horizon);
                if let Some(last) = gone.checked_sub(1).and_then(|i| self.older.get(i)) {
                    self.base = (last.sales_to, last.refunds_to);
                }
                self.older.drain(..gone);
            }
        }
        if day == self.newest.day {
            Self::bump(&mut self.newest, sale);
            return;
        }
        // An older day (events out of time order): insert it if needed,
        // then bump it and every later running total.
        let at = self.older.partition_point(|b| b.day < day);
        if self.older.get(at).is_none_or(|b| b.day != day) {
            let (sales_to, refunds_to) = match at.checked_sub(1).and_then(|i| self.older.get(i)) {
                Some(previous) => (previous.sales_to, previous.refunds_to),
                None => self.base,
            };
            self.older.insert(
                at,
                Bucket {
                    day,
                    sales_to,
                    refunds_to,
                },
            );
        }
        for bucket in self.older.iter_mut().skip(at) {
            Self::bump(bucket, sale);
        }
        Self::bump(&mut self.newest, sale);
    }

    /// Running totals up to and including day `day`.
    pub(crate) fn totals_to(&self, day: i64) -> (u32, u32) {
        if i64::from(self.newest.day) <= day {
            return (self.newest.sales_to, self.newest.refunds_to);
        }
        let at = self.older.partition_point(|b| i64::from(b.day) <= day);
        match at.checked_sub(1).and_then(|i| self.older.get(i)) {
            Some(b) => (b.sales_to, b.refunds_to),
            None => self.base,
        }
    }

    /// Sales and refunds counted on days in `(from, to]`.
    pub(crate) fn window(&self, from: i64, to: i64) -> (u64, u64) {
        let (sales_to, refunds_to) = self.totals_to(to);
        let (sales_from, refunds_from) = self.totals_to(from);
        (
            u64::from(sales_to.wrapping_sub(sales_from)),
            u64::from(refunds_to.wrapping_sub(refunds_from)),
        )
    }
}

/// Per-earner slots, empty until written: a [`Sparse`] array of
/// `Option`s, so the first count against an earner far into the network
/// fills one chunk of slots, not every slot before it (a `Vec` resized up
/// to the earner filled a million 48-byte slots inside the first sale
/// counted at 1M members: 18 ms at sale #3 of `latency --rules moderate`).
///
/// Serialized as a map of the earners that have a slot, by index (as the
/// `Vec` it replaced was), so snapshots do not change.
#[derive(Debug, Clone)]
pub(crate) struct EarnerSlots<T>(Sparse<Option<T>>);

impl<T: Clone> Default for EarnerSlots<T> {
    fn default() -> Self {
        EarnerSlots(Sparse::new(None))
    }
}

impl<T: Clone> EarnerSlots<T> {
    /// The slot of `earner`, if it was written.
    pub(crate) fn get(&self, earner: usize) -> Option<&T> {
        self.0.get(earner).as_ref()
    }

    /// The slot of `earner`, made by `make` if it has none yet.
    pub(crate) fn get_or_insert_with(&mut self, earner: usize, make: impl FnOnce() -> T) -> &mut T {
        self.0.get_mut(earner).get_or_insert_with(make)
    }

    /// The written slots, by earner.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &T)> + '_ {
        self.0
            .allocated()
            .filter_map(|(earner, slot)| Some((earner, slot.as_ref()?)))
    }
}

impl<T: Clone + Serialize> Serialize for EarnerSlots<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.iter().count()))?;
        for (earner, value) in self.iter() {
            map.serialize_entry(&(earner as u32), value)?;
        }
        map.end()
    }
}

impl<'de, T: Clone + Deserialize<'de>> Deserialize<'de> for EarnerSlots<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<u32, T>::deserialize(d)?;
        let mut slots = EarnerSlots::default();
        for (earner, value) in map {
            slots.0.set(earner as usize, Some(value));
        }
        Ok(slots)
    }
}

/// A multiplicative hasher for dense member indices and signal hashes (not
/// values an attacker can choose cheaply): SipHash on the hot path costs
/// more than the lookup.
#[derive(Default, Clone, Copy)]
pub(crate) struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

/// Maps keyed by member indices or by signal hashes (already uniform, and
/// a SHA-256 each to grind, so a multiplicative mix is enough).
pub(crate) type IndexMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IndexHasher>>;

/// Everything screening remembers, inside the engine.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Per member (by index; shorter when later members sent nothing).
    pub(crate) members: Vec<Kept>,
    /// The first member seen with each cluster key.
    #[serde(serialize_with = "crate::id::sorted")]
    pub(crate) owners: IndexMap<u64, u32>,
    /// Every union that merged two clusters, in order (rebuilds `clusters`).
    pub(crate) links: Vec<(u32, u32)>,
    /// Recent sale times per IP / device key.
    #[serde(serialize_with = "crate::id::sorted")]
    pub(crate) velocity: IndexMap<u64, Recent>,
    /// Per earner (by index, in chunks allocated where written: one slot
    /// read per line, and the same slot updated at commit): day buckets of
    /// sales and refunded sales. Written as a map of the earners that have
    /// any.
    pub(crate) refunds: EarnerSlots<EarnerDays>,
    /// Rule sets in activation order; the last one is in force.
    pub(crate) rulesets: Vec<Ruleset>,
    #[serde(skip)]
    pub(crate) clusters: UnionFind<u32>,
    /// One bit per member: in a cluster of more than one.
    #[serde(skip)]
    pub(crate) clustered: Vec<u64>,
    /// Sale signals reduced ahead by `apply_batch`'s read-ahead
    /// (`engine/warm.rs`): the address of the sale event they came from,
    /// its time and what [`reduce`] gave. Emptied after every group, while
    /// the group's events are still borrowed, so an address names one
    /// event.
    #[serde(skip)]
    pub(crate) warmed: Vec<(usize, Timestamp, Kept)>,
}

impl State {
    pub(crate) fn active(&self) -> Option<&Ruleset> {
        self.rulesets.last()
    }

    pub(crate) fn ruleset_count(&self) -> usize {
        self.rulesets.len()
    }

    pub(crate) fn find_ruleset(&self, id: &str) -> Option<&Ruleset> {
        self.rulesets.iter().rev().find(|r| &*r.id == id)
    }

    pub(crate) fn activate(&mut self, ruleset: Ruleset) {
        self.rulesets.push(ruleset);
    }

    pub(crate) fn kept(&self, member: u32) -> Kept {
        self.members
            .get(member as usize)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn cluster(&self, member: u32) -> u32 {
        // Most members share nothing: a small bitset answers without a
        // look into the union-find's arrays.
        if !self.is_clustered(member) {
            return member;
        }
        self.clusters.try_find(member).unwrap_or(member)
    }

    pub(crate) fn is_clustered(&self, member: u32) -> bool {
        self.clustered
            .get(member as usize / 64)
            .is_some_and(|word| word & (1 << (member % 64)) != 0)
    }

    pub(crate) fn mark_clustered(&mut self, member: u32) {
        let word = member as usize / 64;
        if self.clustered.len() <= word {
            self.clustered.resize(word + 1, 0);
        }
        self.clustered[word] |= 1 << (member % 64);
    }

    pub(crate) fn union(&mut self, a: u32, b: u32) -> bool {
        // Sized only once two members are linked (then up to the newer of
        // them): hosts that send no signals, or whose members share
        // nothing, never pay 5 bytes a member for it.
        self.grow(a.max(b) as usize + 1);
        let merged = self.clusters.try_union(a, b).unwrap_or(false);
        if merged {
            self.mark_clustered(a);
            self.mark_clustered(b);
        }
        merged
    }

    pub(crate) fn grow(&mut self, members: usize) {
        while self.clusters.len() < members {
            self.clusters.new_set();
        }
    }

    /// Links `member` to the owners of its strong keys (or makes it their
    /// owner). `owners` are the owners [`decide`] already looked up for
    /// these keys, in [`Kept::strong`] order, so a screened sale hashes
    /// each key once.
    pub(crate) fn link_keys(
        &mut self,
        member: u32,
        kept: &Kept,
        owners: Option<&[Option<u32>; 4]>,
    ) {
        for (i, (k, _)) in kept.strong().into_iter().enumerate() {
            if k == 0 {
                continue;
            }
            let owner = match owners {
                Some(found) => found[i],
                None => self.owners.get(&k).copied(),
            };
            match owner {
                Some(owner) => {
                    if owner != member && self.union(member, owner) {
                        self.links.push((member, owner));
                    }
                }
                None => {
                    self.owners.insert(k, member);
                }
            }
        }
    }

    pub(crate) fn remember(&mut self, member: u32, kept: &Kept) {
        let slot = member as usize;
        if self.members.len() <= slot {
            self.members.resize(slot + 1, Kept::default());
        }
        self.members[slot].fill_from(kept);
        if self.members[slot].click_ms == NO_CLICK {
            self.members[slot].click_ms = kept.click_ms;
        }
    }

    /// A member joined (index `member`, the graph's newest).
    pub(crate) fn joined(&mut self, member: u32, kept: Option<&Kept>) {
        if let Some(kept) = kept {
            self.remember(member, kept);
            self.link_keys(member, kept, None);
        }
    }

    /// A sale was committed: remember its signals, count it.
    pub(crate) fn sold(&mut self, effects: &SaleEffects) {
        if let Some(kept) = &effects.kept {
            self.remember(effects.buyer, kept);
            self.link_keys(effects.buyer, kept, effects.owners.as_ref());
        }
        let Some(ruleset) = self.active() else {
            return;
        };
        let keep = ruleset.velocity_keep();
        let counts_refunds = ruleset.counts_refunds();
        for k in [effects.ip, effects.device] {
            if k == 0 || keep == 0 {
                continue;
            }
            self.velocity
                .entry(k)
                .or_default()
                .push(effects.at.as_millis(), keep);
        }
        if !counts_refunds {
            return;
        }
        let day = day_number(effects.at);
        let count = usize::from(effects.earner_count).min(MAX_LEVELS);
        for &earner in &effects.earners[..count] {
            self.earner_days(earner, day).count(day, true);
        }
    }

    /// A sale's first refund: count it against the sale's earners.
    pub(crate) fn refunded(&mut self, earners: impl Iterator<Item = u32>, at: Timestamp) {
        if !self.active().is_some_and(Ruleset::counts_refunds) {
            return;
        }
        let day = day_number(at);
        for earner in earners {
            self.earner_days(earner, day).count(day, false);
        }
    }

    pub(crate) fn earner_days(&mut self, earner: u32, day: i32) -> &mut EarnerDays {
        self.refunds
            .get_or_insert_with(earner as usize, || EarnerDays::new(day))
    }

    /// `earner`'s day buckets, when a refund was counted against it after
    /// day `from` (most earners have none: one slot read answers).
    pub(crate) fn refunded_after(&self, earner: u32, from: i64) -> Option<&EarnerDays> {
        self.refunds
            .get(earner as usize)
            .filter(|days| days.last_refund != NO_DAY && i64::from(days.last_refund) > from)
    }

    /// Reads ahead what screening `buyer`'s sale through `uplines` will
    /// touch: the buyer's kept signals and each upline's refund-rate slot
    /// and newest older bucket (see `engine/warm.rs`). Only reads; returns
    /// a value derived from what it read, for `black_box`.
    pub(crate) fn warm(&self, buyer: u32, uplines: &[u32]) -> u64 {
        let mut sum = self
            .members
            .get(buyer as usize)
            .map_or(0, |k| k.payment ^ k.ip);
        for &member in uplines {
            if member == crate::graph::NO_MEMBER {
                break;
            }
            if let Some(days) = self.refunds.get(member as usize) {
                sum = sum.wrapping_add(days.last_refund as u64);
                if let Some(back) = days.older.last() {
                    sum = sum.wrapping_add(u64::from(back.sales_to));
                }
            }
        }
        sum
    }

    /// The kept signals the read-ahead reduced for the sale event at
    /// `address` at time `at`, taken out (`None`: reduce them now).
    pub(crate) fn take_warmed(&mut self, address: usize, at: Timestamp) -> Option<Kept> {
        let i = self
            .warmed
            .iter()
            .position(|&(a, t, _)| a == address && t == at)?;
        Some(self.warmed.swap_remove(i).2)
    }

    /// Reads the slots a sale with signals `kept` will look up: the owner
    /// of each cluster key (and its cluster), and the recent times of its
    /// IP and device. Only reads; returns a value derived from them.
    pub(crate) fn warm_keys(&self, kept: &Kept) -> u64 {
        let mut sum = 0u64;
        for (k, _) in kept.strong() {
            if k != 0 {
                if let Some(&owner) = self.owners.get(&k) {
                    sum = sum.wrapping_add(u64::from(self.cluster(owner)));
                }
            }
        }
        for k in [kept.ip, kept.device] {
            if k != 0 {
                if let Some(recent) = self.velocity.get(&k) {
                    sum = sum.wrapping_add(u64::from(recent.len));
                }
            }
        }
        sum
    }

    /// The members of `member`'s identity cluster, `member` first, then by
    /// index.
    pub(crate) fn cluster_members(&self, member: u32) -> Vec<u32> {
        let root = self.cluster(member);
        let mut out = vec![member];
        if !self.is_clustered(member) {
            return out;
        }
        for (word_index, &word) in self.clustered.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let other = (word_index * 64) as u32 + bits.trailing_zeros();
                bits &= bits - 1;
                if other != member && self.cluster(other) == root {
                    out.push(other);
                }
            }
        }
        out
    }

    /// Rebuilds the clusters after a snapshot was loaded.
    pub(crate) fn rebuild(&mut self, members: usize) {
        self.clustered.clear();
        self.clusters = UnionFind::new(0);
        for i in 0..self.links.len() {
            // Both were members when linked; an out-of-range pair (a
            // hand-edited snapshot) is ignored rather than trusted.
            let (a, b) = self.links[i];
            if (a as usize) < members && (b as usize) < members {
                self.union(a, b);
            }
        }
    }
}

/// What a committed sale changes in the screening state.
#[derive(Debug)]
pub(crate) struct SaleEffects {
    pub(crate) buyer: u32,
    pub(crate) at: Timestamp,
    pub(crate) kept: Option<Kept>,
    pub(crate) ip: u64,
    pub(crate) device: u64,
    /// The earners of the lines paid (held or not), `earner_count` of them.
    pub(crate) earners: [u32; MAX_LEVELS],
    pub(crate) earner_count: u8,
    /// The owner of each strong key of `kept` when [`decide`] looked them
    /// up (a ruleset was active), so committing does not look again.
    pub(crate) owners: Option<[Option<u32>; 4]>,
}

/// Every referral ring of the whole graph: the strongly connected
/// components (petgraph's `tarjan_scc`) of the sponsor graph once each
/// identity cluster is merged into one node, keeping those of two or more
/// clusters. Each ring lists its members (clusters expanded), by index.
/// O(members): for investigations and backtests, not the per-sale path.
pub(crate) fn rings(state: &State, graph: &Graph) -> Vec<Vec<u32>> {
    use petgraph::graph::{DiGraph, NodeIndex};
    let members = graph.len();
    let mut node_of: HashMap<u32, NodeIndex<u32>> = HashMap::new();
    let mut merged: DiGraph<u32, ()> = DiGraph::new();
    let mut node = |root: u32, merged: &mut DiGraph<u32, ()>| {
        *node_of.entry(root).or_insert_with(|| merged.add_node(root))
    };
    for member in 0..members as u32 {
        let Some(sponsor) = graph.sponsor(member) else {
            continue;
        };
        let (from, to) = (state.cluster(sponsor), state.cluster(member));
        // Only clusters of two or more can close a cycle in a forest.
        if from != to && (state.is_clustered(sponsor) || state.is_clustered(member)) {
            let (a, b) = (node(from, &mut merged), node(to, &mut merged));
            merged.add_edge(a, b, ());
        }
    }
    let mut rings: Vec<Vec<u32>> = Vec::new();
    for component in petgraph::algo::tarjan_scc(&merged) {
        if component.len() < 2 {
            continue;
        }
        let roots: Vec<u32> = component.iter().map(|&n| merged[n]).collect();
        let mut ring: Vec<u32> = (0..members as u32)
            .filter(|&m| roots.contains(&state.cluster(m)))
            .collect();
        ring.sort_unstable();
        rings.push(ring);
    }
    rings.sort();
    rings
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A slot written far out fills its own chunk only; the slots read
    /// back by earner, and serialize as the map of written slots that the
    /// `Vec` of slots wrote (snapshots unchanged), and back.
    #[test]
    fn earner_slots_fill_one_chunk_and_serialize_as_a_map() {
        let mut slots: EarnerSlots<u32> = EarnerSlots::default();
        assert_eq!(slots.get(999_999), None);
        *slots.get_or_insert_with(999_999, || 7) += 1;
        *slots.get_or_insert_with(3, || 1) += 1;
        assert_eq!(
            slots.get_or_insert_with(3, || 100),
            &mut 2,
            "kept, not made again"
        );
        // Two chunks allocated: the one of earner 3 and the one of
        // 999,999, each filled only up to its slot.
        let chunk = 1 << Sparse::<Option<u32>>::SHIFT;
        assert_eq!(slots.0.allocated().count(), 4 + 999_999 % chunk + 1);
        assert_eq!(
            (slots.get(3), slots.get(4), slots.get(999_999)),
            (Some(&2), None, Some(&8))
        );
        assert_eq!(
            slots.iter().collect::<Vec<_>>(),
            vec![(3, &2), (999_999, &8)]
        );
        let text = serde_json::to_string(&slots).unwrap();
        assert_eq!(text, r#"{"3":2,"999999":8}"#);
        let back: EarnerSlots<u32> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            slots.iter().collect::<Vec<_>>()
        );
    }

    /// An earner's refund-rate slot (one per member in each chunk of
    /// 4,096 that holds a counted earner, read for every line while a
    /// `refund_rate` rule is in force) is 48 bytes, down from 56 with a
    /// `VecDeque`.
    #[test]
    fn an_earner_slot_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Option<EarnerDays>>(), 48);
    }

    proptest! {
        /// The day buckets count exactly what a brute-force count over
        /// every (day, sale or refund) gives, in any arrival order, for
        /// windows inside the kept horizon.
        #[test]
        fn refund_rate_windows_count_exactly(
            events in prop::collection::vec((0i32..900, any::<bool>()), 1..200),
            from in 0i64..900,
            width in 1i64..366,
        ) {
            let mut days = EarnerDays::new(events[0].0);
            for &(day, sale) in &events {
                days.count(day, sale);
            }
            let newest = events.iter().map(|e| i64::from(e.0)).max().unwrap_or(0);
            let from = from.max(newest - i64::from(MAX_REFUND_WINDOW_DAYS));
            let to = from + width;
            let brute = |sale: bool| {
                events
                    .iter()
                    .filter(|&&(d, s)| s == sale && i64::from(d) > from && i64::from(d) <= to)
                    .count() as u64
            };
            prop_assert_eq!(days.window(from, to), (brute(true), brute(false)));
        }

        /// Recent keeps exactly the last `keep` times, inline or not.
        #[test]
        fn recent_keeps_the_last_times(
            times in prop::collection::vec(0i64..1_000, 1..40),
            keep in 1usize..12,
        ) {
            let mut recent = Recent::default();
            for &t in &times {
                recent.push(t, keep);
            }
            let start = times.len().saturating_sub(keep);
            prop_assert_eq!(recent.iter().collect::<Vec<_>>(), times[start..].to_vec());
        }
    }
}
