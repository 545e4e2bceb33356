//! The referral forest.
//!
//! Members are interned to dense `u32` indices. What the upward walk of a
//! sale reads — sponsor, active direct referrals, status, hold — is packed in
//! one 12-byte [`Node`] per member, in a plain `Vec`, so each level costs
//! one memory load and touches no string. Children are kept as intrusive
//! sibling lists (two more `u32`s a member) for downline queries; join
//! times sit beside them.
//!
//! Everything else grows by one element a join for the life of the engine,
//! so it is kept where growth neither doubles the memory nor copies it:
//!
//! - the member ids are packed end to end in an arena of 1 MiB pages (one
//!   allocation a page, none an id; an id never crosses a page), and each
//!   member has one `u32`: its id's offset in its page (the page comes
//!   from a short table of each page's first member, the length from a
//!   byte before the id) — 5 bytes a member plus the id's own bytes;
//! - the offsets, `first_child` and `next_sibling` are `Chunked` arrays
//!   of 65,536-element chunks;
//! - the join times take 4 bytes a member, not 8 (`JoinTimes`): an
//!   offset in milliseconds from a base shared by a block of members that
//!   joined one after another, exact for every instant;
//! - the id → index map stores only the `u32` index and compares through
//!   the arena.
//!
//! [`Graph::id`] therefore lends a `&str` into the arena; a record that
//! keeps a member id makes its own `Arc<str>` from it. Snapshots are as
//! before: the ids serialize as a JSON array of strings.
//!
//! This module owns the shape of the forest and its queries. It does not
//! know about money; eligibility *rules* live in [`crate::calc`].

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chunked::Chunked;
use crate::error::{Error, ErrorKind, Result};
use crate::id::{DenseIndex, HashMap};
use crate::limits::MAX_ID_BYTES;
use crate::time::Timestamp;

/// The index of "nobody" in the parent array.
pub const NO_MEMBER: u32 = u32::MAX;

/// The fewest walk nodes the node array grows by (see [`Graph::join`]).
const MIN_NODES_GROWTH: usize = 4096;

/// A member's standing in the programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Earns normally.
    Active,
    /// Keeps its place in the tree but earns nothing while inactive.
    Inactive,
    /// Never earns again and cannot be reactivated.
    Terminated,
}

/// The referral forest. Read it through [`Engine::graph`](crate::Engine::graph).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Graph {
    ids: IdArena,
    #[serde(skip)]
    /// Member id → index, hashing through the arena (5 bytes a slot).
    index: DenseIndex,
    /// What the upward walk reads, packed so one level costs one memory
    /// load: sponsor, active direct referrals, status and hold.
    nodes: Vec<Node>,
    first_child: Chunked<u32>,
    next_sibling: Chunked<u32>,
    joined_at: JoinTimes,
}

/// Members per base instant of [`JoinTimes`].
const TIME_BLOCK: usize = 1024;
/// The offset that marks a join time kept whole in [`JoinTimes::far`].
const FAR: i32 = i32::MIN;

/// Every member's join time, in 4 bytes a member instead of 8.
///
/// Members that join one after another join at nearby instants, so each
/// block of [`TIME_BLOCK`] consecutive members keeps one base (its first
/// member's join time) and each member its distance from that base in
/// milliseconds, as an `i32`: within about ±24.8 days of the base. A join
/// time farther away (a late backfill, or a programme so small that 1,024
/// joins span more than 24 days) is kept whole in `far` by member index
/// (about 20 bytes), and its offset is [`FAR`]. Every instant is kept
/// exactly; nothing is rounded.
///
/// Serialized as the list of join times, exactly like the
/// `Chunked<Timestamp>` it replaced, so snapshots do not change.
#[derive(Debug, Clone, Default)]
struct JoinTimes {
    bases: Vec<Timestamp>,
    offsets: Chunked<i32>,
    far: HashMap<u32, Timestamp>,
}

impl JoinTimes {
    /// Number of join times.
    fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Appends the join time of the next member.
    fn push(&mut self, at: Timestamp) {
        let index = self.offsets.len();
        if index.is_multiple_of(TIME_BLOCK) {
            self.bases.push(at);
        }
        let base = self.bases[index / TIME_BLOCK].as_millis();
        // Both instants lie in years 0001–9999, so the difference fits an i64.
        match i32::try_from(at.as_millis() - base) {
            Ok(offset) if offset != FAR => self.offsets.push(offset),
            _ => {
                self.far.insert(index as u32, at);
                self.offsets.push(FAR);
            }
        }
    }

    /// The join time of member `index` (panics past the end, like a slice).
    #[inline]
    fn get(&self, index: usize) -> Timestamp {
        let offset = self.offsets[index];
        if offset == FAR {
            return self.far[&(index as u32)];
        }
        let millis = self.bases[index / TIME_BLOCK].as_millis() + i64::from(offset);
        // A kept offset was measured from this base to a valid instant.
        Timestamp::from_valid_millis(millis)
    }
}

impl Serialize for JoinTimes {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for index in 0..self.len() {
            seq.serialize_element(&self.get(index))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for JoinTimes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Times;
        impl<'de> Visitor<'de> for Times {
            type Value = JoinTimes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of join times")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> std::result::Result<JoinTimes, A::Error> {
                let mut times = JoinTimes::default();
                while let Some(at) = items.next_element::<Timestamp>()? {
                    times.push(at);
                }
                Ok(times)
            }
        }
        deserializer.deserialize_seq(Times)
    }
}

/// Bytes in one page of the id arena: 1 MiB.
const PAGE: usize = 1 << 20;
// An id fits in a page, and an offset in a page in a `u32`.
const _: () = assert!(MAX_ID_BYTES <= PAGE && PAGE <= u32::MAX as usize);

/// The member ids, in member order, with no allocation per id.
///
/// The bytes of the ids are packed end to end in `pages`; an id that does
/// not fit in what is left of the last page starts a new one, so every id
/// lies within one page. Every page but the first is allocated at its full
/// [`PAGE`] bytes and never grows; the first grows by doubling up to a
/// page, so a small engine does not pay for a whole one.
///
/// `starts[member]` is the offset of `member`'s id in its page (4 bytes a
/// member), `first[page]` the first member on each page (one entry a MiB
/// of ids) and `blocks` the page of every 4,096th member, so a member's
/// page is found in one or two reads of short arrays that stay in cache.
/// Each id is stored after one byte holding its length less one (ids are
/// 1 to 128 bytes), so an id is read with no other lookup.
///
/// Serialized as a sequence of strings, exactly like the `Vec<Arc<str>>`
/// it replaced, so snapshots do not change.
#[derive(Clone, Default)]
struct IdArena {
    pages: Vec<String>,
    starts: Chunked<u32>,
    first: Vec<u32>,
    /// The page of the first member of each block of [`BLOCK`] members:
    /// a page holds more than a block's ids (at least `PAGE /
    /// MAX_ID_BYTES`), so a member's page is its block's or the next.
    blocks: Vec<u32>,
}

/// Members per entry of [`IdArena::blocks`].
const BLOCK: usize = 4096;
const _: () = assert!(PAGE / (MAX_ID_BYTES + 1) > BLOCK && MAX_ID_BYTES <= 128);

impl IdArena {
    /// Number of ids.
    fn len(&self) -> usize {
        self.starts.len()
    }

    /// The id at `index` (panics past the end, like a slice).
    #[inline]
    fn get(&self, index: usize) -> &str {
        let start = self.starts[index] as usize;
        let mut page = self.blocks[index / BLOCK] as usize;
        if self
            .first
            .get(page + 1)
            .is_some_and(|&f| f as usize <= index)
        {
            page += 1;
        }
        let text = &self.pages[page];
        let len = usize::from(text.as_bytes()[start]) + 1;
        &text[start + 1..start + 1 + len]
    }

    /// Appends `id`, 1 to [`MAX_ID_BYTES`] bytes long (host ids are
    /// checked before they get here).
    fn push(&mut self, id: &str) {
        assert!(
            (1..=MAX_ID_BYTES).contains(&id.len()),
            "an id of {} bytes is outside 1..={MAX_ID_BYTES}",
            id.len()
        );
        let stored = id.len() + 1;
        if self
            .pages
            .last()
            .is_none_or(|page| page.len() + stored > PAGE)
        {
            self.pages.push(if self.pages.is_empty() {
                String::new()
            } else {
                String::with_capacity(PAGE)
            });
            self.first.push(self.starts.len() as u32);
        }
        let number = self.pages.len() - 1;
        let page = &mut self.pages[number];
        if page.capacity() - page.len() < stored {
            // Only a first page (or the last page of a clone) gets here:
            // double it, up to a whole page.
            let capacity = (page.capacity() * 2)
                .max(page.len() + stored)
                .clamp(64, PAGE);
            page.reserve_exact(capacity - page.len());
        }
        if self.starts.len().is_multiple_of(BLOCK) {
            self.blocks.push(number as u32);
        }
        self.starts.push(page.len() as u32);
        // The length less one, as one ASCII byte (0..=127), so the page
        // stays UTF-8 and the id starts right after it.
        page.push(char::from((id.len() - 1) as u8));
        page.push_str(id);
    }

    /// The ids in member order.
    fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl std::fmt::Debug for IdArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for IdArena {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for id in self.iter() {
            seq.serialize_element(id)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for IdArena {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Ids;

        impl<'de> Visitor<'de> for Ids {
            type Value = IdArena;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence of member ids")
            }

            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<IdArena, A::Error> {
                let mut ids = IdArena::default();
                while seq.next_element_seed(PushId(&mut ids))?.is_some() {}
                Ok(ids)
            }
        }

        deserializer.deserialize_seq(Ids)
    }
}

/// Deserializes one id straight into the arena, with no allocation of its
/// own.
struct PushId<'a>(&'a mut IdArena);

impl<'de> DeserializeSeed<'de> for PushId<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for PushId<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a member id of at most {MAX_ID_BYTES} bytes")
    }

    fn visit_str<E: serde::de::Error>(self, id: &str) -> std::result::Result<(), E> {
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            return Err(E::invalid_length(id.len(), &self));
        }
        self.0.push(id);
        Ok(())
    }
}

/// The hot part of a member: 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Node {
    /// The sponsor's index, or [`NO_MEMBER`].
    pub parent: u32,
    /// How many direct referrals are active.
    pub active_directs: u32,
    /// The member's status.
    pub status: MemberStatus,
    /// Whether earnings are credited as held.
    pub on_hold: bool,
}

impl Graph {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nobody has joined yet.
    pub fn is_empty(&self) -> bool {
        self.ids.len() == 0
    }

    /// The dense index of a member id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        let ids = &self.ids;
        self.index.get(id, |i| ids.get(i as usize))
    }

    /// The dense index of a member id, or `unknown_member` naming `field`.
    pub fn require(&self, id: &str, field: &str) -> Result<u32> {
        self.index_of(id).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownMember,
                field,
                format!("{field} {id:?} is not a member"),
            )
        })
    }

    /// The host id of member `member`, borrowed from the graph's id arena
    /// (`Arc::from(graph.id(member))` where an owned id is needed).
    pub fn id(&self, member: u32) -> &str {
        self.ids.get(member as usize)
    }

    /// Reads the ids of `members`, so that their cache misses overlap,
    /// ahead of a loop that copies them out one at a time with an
    /// allocation between copies (which would otherwise wait for each miss
    /// in turn: a sale's distribution lines cost about 10 % of the full
    /// apply at 1M members without it).
    pub(crate) fn warm_ids(&self, members: impl IntoIterator<Item = u32>) {
        let mut bytes = 0;
        for member in members {
            bytes += self.id(member).len();
        }
        std::hint::black_box(bytes);
    }

    /// The sponsor of `member`, if any.
    pub fn sponsor(&self, member: u32) -> Option<u32> {
        let parent = self.nodes[member as usize].parent;
        (parent != NO_MEMBER).then_some(parent)
    }

    /// The packed hot state of every member, for the upward walk.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The member's status.
    pub fn status(&self, member: u32) -> MemberStatus {
        self.nodes[member as usize].status
    }

    /// Whether the member's earnings are being credited as held.
    pub fn on_hold(&self, member: u32) -> bool {
        self.nodes[member as usize].on_hold
    }

    /// When the member joined.
    pub fn joined_at(&self, member: u32) -> Timestamp {
        self.joined_at.get(member as usize)
    }

    /// How many of the member's direct referrals are active.
    pub fn active_directs(&self, member: u32) -> u32 {
        self.nodes[member as usize].active_directs
    }

    /// Whether the member has exactly one direct referral (a rung of a
    /// ladder, for fraud screening). O(1).
    pub fn has_single_child(&self, member: u32) -> bool {
        let child = self.first_child[member as usize];
        child != NO_MEMBER && self.next_sibling[child as usize] == NO_MEMBER
    }

    /// Up to `levels` ancestors, nearest first.
    pub fn upline(&self, member: u32, levels: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(levels.min(64));
        let mut cursor = self.nodes[member as usize].parent;
        while cursor != NO_MEMBER && out.len() < levels {
            out.push(cursor);
            cursor = self.nodes[cursor as usize].parent;
        }
        out
    }

    /// Direct referrals in the order they joined (or were moved here).
    pub fn direct_referrals(&self, member: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut child = self.first_child[member as usize];
        while child != NO_MEMBER {
            out.push(child);
            child = self.next_sibling[child as usize];
        }
        out.reverse();
        out
    }

    /// Number of ancestors (0 for a root). Bounded by the member count,
    /// since the forest has no cycles.
    pub fn depth(&self, member: u32) -> usize {
        let mut depth = 0;
        let mut cursor = self.nodes[member as usize].parent;
        while cursor != NO_MEMBER {
            depth += 1;
            cursor = self.nodes[cursor as usize].parent;
        }
        depth
    }

    /// Members below `member` at each depth: element 0 counts direct
    /// referrals, element 1 their referrals, and so on, up to `max_levels`.
    pub fn downline_levels(&self, member: u32, max_levels: usize) -> Vec<u64> {
        let mut counts = Vec::new();
        let mut frontier = vec![member];
        while !frontier.is_empty() && counts.len() < max_levels {
            let mut next = Vec::new();
            for &node in &frontier {
                let mut child = self.first_child[node as usize];
                while child != NO_MEMBER {
                    next.push(child);
                    child = self.next_sibling[child as usize];
                }
            }
            if next.is_empty() {
                break;
            }
            counts.push(next.len() as u64);
            frontier = next;
        }
        counts
    }

    /// Members below `member`, at any depth.
    pub fn downline_size(&self, member: u32) -> u64 {
        self.downline_levels(member, usize::MAX).iter().sum()
    }

    /// The members of the subtree rooted at `member` down to `max_depth`
    /// levels below it, in breadth-first order, root first.
    pub fn subtree(&self, member: u32, max_depth: usize) -> Vec<u32> {
        let mut out = vec![member];
        let mut start = 0;
        for _ in 0..max_depth {
            let end = out.len();
            if start == end {
                break;
            }
            for i in start..end {
                let mut child = self.first_child[out[i] as usize];
                let first_new = out.len();
                while child != NO_MEMBER {
                    out.push(child);
                    child = self.next_sibling[child as usize];
                }
                out[first_new..].reverse();
            }
            start = end;
        }
        out
    }

    /// Checks that `member` may join under `sponsor` (ids already checked).
    pub(crate) fn check_join(&self, member: &str, sponsor: Option<&str>) -> Result<Option<u32>> {
        if sponsor == Some(member) {
            return Err(Error::new(
                ErrorKind::SelfSponsor,
                "sponsor",
                format!("member {member:?} cannot sponsor itself"),
            ));
        }
        if self.len() >= crate::limits::MAX_MEMBERS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "member",
                "the engine holds the most members it can",
            ));
        }
        let Some(sponsor) = sponsor else {
            return Ok(None);
        };
        let index = self.require(sponsor, "sponsor")?;
        if self.status(index) == MemberStatus::Terminated {
            return Err(Error::new(
                ErrorKind::MemberTerminated,
                "sponsor",
                format!("sponsor {sponsor:?} is terminated and cannot sponsor anyone"),
            ));
        }
        Ok(Some(index))
    }

    /// Adds a member (after [`check_join`](Self::check_join)).
    pub(crate) fn join(&mut self, member: &str, sponsor: Option<u32>, at: Timestamp) -> u32 {
        let index = self.ids.len() as u32;
        self.ids.push(member);
        let ids = &self.ids;
        self.index.insert(index, |i| ids.get(i as usize));
        if self.nodes.len() == self.nodes.capacity() {
            // Grow by an eighth, not by doubling: the walk needs one
            // contiguous array, and a doubled one is up to half empty
            // (8 B a member at 10M). Large arrays are moved by `realloc`,
            // which remaps pages rather than copying them.
            let more = (self.nodes.capacity() / 8).max(MIN_NODES_GROWTH);
            self.nodes.reserve_exact(more);
        }
        self.nodes.push(Node {
            parent: NO_MEMBER,
            active_directs: 0,
            status: MemberStatus::Active,
            on_hold: false,
        });
        self.first_child.push(NO_MEMBER);
        self.next_sibling.push(NO_MEMBER);
        self.joined_at.push(at);
        if let Some(sponsor) = sponsor {
            self.link(index, sponsor);
        }
        index
    }

    /// Checks that `member` may move under `sponsor` without a cycle.
    pub(crate) fn check_reparent(&self, member: u32, sponsor: u32) -> Result<()> {
        if member == sponsor {
            return Err(Error::new(
                ErrorKind::SelfSponsor,
                "sponsor",
                format!("member {:?} cannot sponsor itself", self.id(member)),
            ));
        }
        if self.status(member) == MemberStatus::Terminated {
            return Err(Error::new(
                ErrorKind::MemberTerminated,
                "member",
                format!(
                    "member {:?} is terminated and cannot be moved",
                    self.id(member)
                ),
            ));
        }
        if self.status(sponsor) == MemberStatus::Terminated {
            return Err(Error::new(
                ErrorKind::MemberTerminated,
                "sponsor",
                format!(
                    "sponsor {:?} is terminated and cannot sponsor anyone",
                    self.id(sponsor)
                ),
            ));
        }
        // The walk ends: the forest is acyclic, so it meets a root within
        // `len()` steps.
        let mut cursor = sponsor;
        while cursor != NO_MEMBER {
            if cursor == member {
                return Err(Error::new(
                    ErrorKind::Cycle,
                    "sponsor",
                    format!(
                        "moving {:?} under {:?} would make it its own ancestor",
                        self.id(member),
                        self.id(sponsor)
                    ),
                ));
            }
            cursor = self.nodes[cursor as usize].parent;
        }
        Ok(())
    }

    /// Moves `member` under `sponsor` (after [`check_reparent`](Self::check_reparent)).
    pub(crate) fn reparent(&mut self, member: u32, sponsor: u32) {
        self.unlink(member);
        self.link(member, sponsor);
    }

    pub(crate) fn set_status(&mut self, member: u32, status: MemberStatus) {
        let old = self.nodes[member as usize].status;
        if old == status {
            return;
        }
        self.nodes[member as usize].status = status;
        if let Some(parent) = self.sponsor(member) {
            let counter = &mut self.nodes[parent as usize].active_directs;
            if old == MemberStatus::Active {
                *counter -= 1;
            } else if status == MemberStatus::Active {
                *counter += 1;
            }
        }
    }

    pub(crate) fn set_hold(&mut self, member: u32, on: bool) {
        self.nodes[member as usize].on_hold = on;
    }

    fn link(&mut self, member: u32, sponsor: u32) {
        self.nodes[member as usize].parent = sponsor;
        self.next_sibling[member as usize] = self.first_child[sponsor as usize];
        self.first_child[sponsor as usize] = member;
        if self.nodes[member as usize].status == MemberStatus::Active {
            self.nodes[sponsor as usize].active_directs += 1;
        }
    }

    fn unlink(&mut self, member: u32) {
        let Some(parent) = self.sponsor(member) else {
            return;
        };
        let after = self.next_sibling[member as usize];
        if self.first_child[parent as usize] == member {
            self.first_child[parent as usize] = after;
        } else {
            let mut cursor = self.first_child[parent as usize];
            while cursor != NO_MEMBER {
                if self.next_sibling[cursor as usize] == member {
                    self.next_sibling[cursor as usize] = after;
                    break;
                }
                cursor = self.next_sibling[cursor as usize];
            }
        }
        self.next_sibling[member as usize] = NO_MEMBER;
        self.nodes[member as usize].parent = NO_MEMBER;
        if self.nodes[member as usize].status == MemberStatus::Active {
            self.nodes[parent as usize].active_directs -= 1;
        }
    }

    /// Rebuilds the id index after deserialization.
    pub(crate) fn rebuild_index(&mut self) {
        let ids = &self.ids;
        self.index = DenseIndex::build(ids.len(), |i| ids.get(i as usize));
    }

    /// The subtree below `member` (to `max_depth` levels) in Graphviz DOT,
    /// built with `petgraph`.
    pub fn export_dot(&self, member: u32, max_depth: usize) -> String {
        let nodes = self.subtree(member, max_depth);
        let mut graph =
            petgraph::graph::DiGraph::<&str, &str>::with_capacity(nodes.len(), nodes.len());
        let mut local = HashMap::with_capacity_and_hasher(nodes.len(), Default::default());
        for &node in &nodes {
            local.insert(node, graph.add_node(self.id(node)));
        }
        for &node in &nodes[1..] {
            if let (Some(parent), Some(&child)) = (self.sponsor(node), local.get(&node)) {
                if let Some(&parent) = local.get(&parent) {
                    graph.add_edge(parent, child, "");
                }
            }
        }
        format!(
            "{}",
            petgraph::dot::Dot::with_config(&graph, &[petgraph::dot::Config::EdgeNoLabel])
        )
    }

    /// The subtree below `member` (to `max_depth` levels) as nested JSON:
    /// `{"member", "status", "referrals": [...]}`.
    pub fn export_json(&self, member: u32, max_depth: usize) -> serde_json::Value {
        // Iterative, so deep chains cannot overflow the stack: build
        // children first (reverse breadth-first order), then attach.
        let nodes = self.subtree(member, max_depth);
        let position: HashMap<u32, usize> =
            nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let mut built: Vec<Option<serde_json::Value>> = vec![None; nodes.len()];
        let mut children: Vec<Vec<serde_json::Value>> = vec![Vec::new(); nodes.len()];
        for i in (0..nodes.len()).rev() {
            let node = nodes[i];
            let mut kids = std::mem::take(&mut children[i]);
            kids.reverse();
            let value = serde_json::json!({
                "member": self.id(node),
                "status": self.status(node),
                "referrals": kids,
            });
            match self.sponsor(node).and_then(|p| position.get(&p)) {
                Some(&parent_pos) if i != 0 => children[parent_pos].push(value),
                _ => built[i] = Some(value),
            }
        }
        built[0].take().unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Timestamp {
        Timestamp::parse("2026-01-01T00:00:00Z", "at").unwrap()
    }

    fn chain(n: usize) -> Graph {
        let mut g = Graph::default();
        let mut prev = None;
        for i in 0..n {
            prev = Some(g.join(&format!("m{i}"), prev, t()));
        }
        g
    }

    proptest::proptest! {
        /// Join times are exact whatever their order and spread: near the
        /// block's base (offsets), far from it (kept whole), at both ends
        /// of the range, and through a snapshot's serialized list.
        #[test]
        fn join_times_keep_every_instant_exactly(
            steps in proptest::collection::vec(
                proptest::prop_oneof![
                    -3_000i64..3_000,
                    -40_000_000_000i64..40_000_000_000,
                    proptest::sample::select(vec![i64::MIN, i64::MAX, 2_147_483_647, -2_147_483_648]),
                ],
                1..3_000,
            ),
        ) {
            let mut times = JoinTimes::default();
            let mut kept = Vec::new();
            let mut now = t().as_millis();
            for step in steps {
                now = now.saturating_add(step).clamp(
                    Timestamp::MIN.as_millis(),
                    Timestamp::MAX.as_millis(),
                );
                let at = Timestamp::from_millis(now).unwrap();
                times.push(at);
                kept.push(at);
            }
            for (index, &at) in kept.iter().enumerate() {
                proptest::prop_assert_eq!(times.get(index), at);
            }
            let text = serde_json::to_string(&times).unwrap();
            proptest::prop_assert_eq!(&text, &serde_json::to_string(&kept).unwrap());
            let back: JoinTimes = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(back.len(), kept.len());
            for (index, &at) in kept.iter().enumerate() {
                proptest::prop_assert_eq!(back.get(index), at);
            }
        }
    }

    #[test]
    fn join_times_take_four_bytes_unless_far_from_their_block() {
        let mut times = JoinTimes::default();
        let base = t();
        for i in 0..3 * TIME_BLOCK - 1 {
            // Out of order within a day of the block's first join.
            times.push(
                Timestamp::from_millis(base.as_millis() + (i as i64 % 7 - 3) * 3_600_000).unwrap(),
            );
        }
        assert!(times.far.is_empty());
        assert_eq!(times.bases.len(), 3);
        // 25 days after its block's first join is kept whole, and exactly.
        let late = base.plus_days(25);
        times.push(late);
        assert_eq!(times.far.len(), 1);
        assert_eq!(times.get(3 * TIME_BLOCK - 1), late);
        // The next block starts at it, so a join near it is near again.
        times.push(late);
        assert_eq!((times.bases.len(), times.far.len()), (4, 1));
        assert_eq!(times.get(3 * TIME_BLOCK), late);
    }

    #[test]
    fn reparent_keeps_sibling_lists_and_counts() {
        let mut g = chain(3);
        let x = g.join("x", Some(0), t());
        assert_eq!(g.direct_referrals(0), vec![1, x]);
        assert_eq!(g.active_directs(0), 2);
        g.check_reparent(2, 0).unwrap();
        g.reparent(2, 0);
        assert_eq!(g.direct_referrals(0), vec![1, x, 2]);
        assert_eq!(g.direct_referrals(1), Vec::<u32>::new());
        assert_eq!(g.active_directs(1), 0);
        assert_eq!(g.downline_levels(0, 10), vec![3]);
        assert_eq!(g.check_reparent(0, 2).unwrap_err().kind(), ErrorKind::Cycle);
    }

    #[test]
    fn ids_fill_pages_without_crossing_them() {
        let mut g = Graph::default();
        // 129-byte-ish ids, so pages end with a gap; more than two pages.
        let id = |i: usize| format!("{i:0>width$}", width = 100 + i % 29);
        let n = 3 * PAGE / 100;
        for i in 0..n {
            g.join(&id(i), None, t());
        }
        assert!(g.ids.pages.len() >= 3);
        for (number, page) in g.ids.pages.iter().enumerate() {
            assert!(page.len() <= PAGE);
            if number > 0 {
                assert_eq!(page.capacity(), PAGE, "later pages never grow");
            }
        }
        // Every id, the last of each page (which ends at its page's end)
        // and the first of the next among them.
        for i in 0..n {
            assert_eq!(g.id(i as u32), id(i));
        }
        for i in (0..n).step_by(997).chain([n - 1]) {
            assert_eq!(g.index_of(&id(i)), Some(i as u32));
        }
        assert_eq!(g.ids.first.len(), g.ids.pages.len());
        for &first in &g.ids.first[1..] {
            let first = first as usize;
            assert_eq!(g.id(first as u32 - 1), id(first - 1));
            assert_eq!(g.id(first as u32), id(first));
        }
        assert_eq!(g.index_of("nobody"), None);
        // A clone (whose last page has no spare capacity) keeps working.
        let mut copy = g.clone();
        let x = copy.join("x", Some(0), t());
        assert_eq!((copy.id(x), copy.index_of("x")), ("x", Some(x)));
    }

    #[test]
    fn ids_serialize_as_a_list_of_strings() {
        let mut g = chain(3);
        g.join("é\"\u{1F600}", Some(2), t());
        let value = serde_json::to_value(&g).unwrap();
        assert_eq!(
            value["ids"],
            serde_json::json!(["m0", "m1", "m2", "é\"\u{1F600}"])
        );
        let mut back: Graph = serde_json::from_value(value.clone()).unwrap();
        back.rebuild_index();
        assert_eq!(serde_json::to_value(&back).unwrap(), value);
        assert_eq!(back.index_of("é\"\u{1F600}"), Some(3));
        assert_eq!(back.direct_referrals(2), vec![3]);
        // From JSON text too (ids borrowed from it, or decoded with escapes).
        let text = serde_json::to_string(&g).unwrap();
        let mut back: Graph = serde_json::from_str(&text).unwrap();
        back.rebuild_index();
        assert_eq!(back.index_of("m1"), Some(1));

        let mut long = value;
        long["ids"][0] = "x".repeat(MAX_ID_BYTES + 1).into();
        let err = serde_json::from_value::<Graph>(long).unwrap_err();
        assert!(err.to_string().contains("at most 128 bytes"), "{err}");
    }

    #[test]
    fn queries_on_a_chain() {
        let g = chain(10);
        assert_eq!(g.upline(9, 3), vec![8, 7, 6]);
        assert_eq!(g.depth(9), 9);
        assert_eq!(g.downline_size(0), 9);
        assert_eq!(g.downline_levels(0, 3), vec![1, 1, 1]);
        assert_eq!(g.subtree(7, 5), vec![7, 8, 9]);
        assert!(g.export_dot(7, 5).contains("label = \"m8\""));
        assert_eq!(g.export_json(8, 5)["referrals"][0]["member"], "m9");
    }
}
