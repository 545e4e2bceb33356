//! The referral forest.
//!
//! Members are interned to dense `u32` indices. What the upward walk of a
//! sale reads — sponsor, active direct referrals, status, hold — is packed in
//! one 12-byte [`Node`] per member, so each level costs one memory load and
//! touches no string. Children are kept as intrusive sibling lists (two more
//! `u32`s a member) for downline queries; join times sit beside them.
//!
//! This module owns the shape of the forest and its queries. It does not
//! know about money; eligibility *rules* live in [`crate::calc`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::id::HashMap;
use crate::time::Timestamp;
use std::hash::BuildHasher;

/// The index of "nobody" in the parent array.
pub const NO_MEMBER: u32 = u32::MAX;

/// A member's standing in the programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    ids: Vec<Arc<str>>,
    #[serde(skip)]
    index: IdIndex,
    /// What the upward walk reads, packed so one level costs one memory
    /// load: sponsor, active direct referrals, status and hold.
    nodes: Vec<Node>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    joined_at: Vec<Timestamp>,
}

/// Member id → dense index, storing only the index: a lookup hashes the
/// id and compares it with `ids[index]`. About 10 bytes a member (a `u32`
/// and a control byte per slot, at most 7/8 full) where a map keyed by the
/// id itself costs about 50.
#[derive(Clone, Default)]
struct IdIndex {
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdIndex({} ids)", self.table.len())
    }
}

impl IdIndex {
    fn get(&self, ids: &[Arc<str>], id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |&i| &*ids[i as usize] == id).copied()
    }

    /// Adds `ids[index]`, which must not be present yet.
    fn insert(&mut self, ids: &[Arc<str>], index: u32) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(&*ids[index as usize]);
        self.table
            .insert_unique(hash, index, |&i| hasher.hash_one(&*ids[i as usize]));
    }

    fn rebuild(ids: &[Arc<str>]) -> IdIndex {
        let mut index = IdIndex {
            table: hashbrown::HashTable::with_capacity(ids.len()),
            hasher: Default::default(),
        };
        for i in 0..ids.len() {
            index.insert(ids, i as u32);
        }
        index
    }
}

/// The hot part of a member: 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
        self.ids.is_empty()
    }

    /// The dense index of a member id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.index.get(&self.ids, id)
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

    /// The host id of member `member`.
    pub fn id(&self, member: u32) -> &Arc<str> {
        &self.ids[member as usize]
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
        self.joined_at[member as usize]
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
        let id: Arc<str> = Arc::from(member);
        self.ids.push(id);
        self.index.insert(&self.ids, index);
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
        self.index = IdIndex::rebuild(&self.ids);
    }

    /// The subtree below `member` (to `max_depth` levels) in Graphviz DOT,
    /// built with `petgraph`.
    pub fn export_dot(&self, member: u32, max_depth: usize) -> String {
        let nodes = self.subtree(member, max_depth);
        let mut graph =
            petgraph::graph::DiGraph::<&str, &str>::with_capacity(nodes.len(), nodes.len());
        let mut local = HashMap::with_capacity_and_hasher(nodes.len(), Default::default());
        for &node in &nodes {
            local.insert(node, graph.add_node(self.id(node).as_ref()));
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
                "member": self.id(node).as_ref(),
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
