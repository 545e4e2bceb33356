//! Read-only queries on the books: the graph (upline, downline, depth,
//! exports), balances, distributions, and growth metrics (see
//! [`crate::metrics`]). Nothing here changes the engine.

use std::sync::Arc;

use crate::audit::{Hash, Head};
use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::graph::Graph;
use crate::ledger::{Balances, Ledger};
use crate::money::Currencies;
use crate::time::Timestamp;

use super::pipeline::time;
use super::Engine;

impl Engine {
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

    /// The distribution recorded for `sale`.
    pub fn distribution_of(&self, sale: &str) -> Option<Distribution> {
        let index = self.sale_by_id(sale)?;
        Some(self.distribution(&self.sales[index as usize]))
    }

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

    pub(super) fn period(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(Timestamp, Timestamp)> {
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

    pub(super) fn ids(&self, members: Vec<u32>) -> Vec<Arc<str>> {
        members
            .into_iter()
            .map(|m| Arc::from(self.graph.id(m)))
            .collect()
    }
}
