//! Leaderboards and challenge progress: windowed aggregation of a metric
//! per member over a half-open UTC period, exact or `limit_exceeded`.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::Result;
use crate::graph::{Graph, MemberStatus};
use crate::id::Id;
use crate::time::Timestamp;

use super::*;

/// One row of a leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LeaderboardEntry {
    /// 1 for the top.
    pub rank: u32,
    /// The member id.
    pub member: Id,
    /// The value over the window (a count, or an amount at the currency's
    /// scale), as a decimal string.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub value: Decimal,
    /// When the member reached that value (its last change in the window).
    pub reached_at: Timestamp,
}

/// A leaderboard: `{metric, from, to, currency?, entries}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Leaderboard {
    /// The metric ranked.
    pub metric: String,
    /// Window start (inclusive).
    pub from: Timestamp,
    /// Window end (exclusive).
    pub to: Timestamp,
    /// The currency of a money metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The top members, best first.
    pub entries: Vec<LeaderboardEntry>,
}

/// Per-member accumulator of a windowed aggregation: the value (in minor
/// units of a fixed scale, so a pass adds integers, not decimals) and the
/// instant of the last change.
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) scale: u32,
    pub(crate) value: Vec<i128>,
    pub(crate) last: Vec<i64>,
}

pub(crate) const NEVER: i64 = i64::MIN;

/// The end of an award chain.
pub(crate) const NO_AWARD: u32 = u32::MAX;

impl Tally {
    /// An empty tally over `members` members, values at `scale` decimals.
    pub(crate) fn new(members: usize, scale: u32) -> Tally {
        Tally {
            scale,
            value: vec![0; members],
            last: vec![NEVER; members],
        }
    }

    /// Adds `delta` (at most `scale` decimals) to `member` at `at`.
    pub(crate) fn add(&mut self, member: u32, at: Timestamp, delta: Decimal) {
        let i = member as usize;
        if i >= self.value.len() {
            return;
        }
        let mut delta = delta;
        if delta.scale() != self.scale {
            delta.rescale(self.scale);
        }
        self.value[i] = self.value[i].saturating_add(delta.mantissa());
        self.last[i] = self.last[i].max(at.as_millis());
    }

    /// The tally of each member's *downline*: the sum of what was added to
    /// the members below it, at any depth, and the latest of their changes.
    /// `order` lists every member below its descendants (children first).
    pub(crate) fn downline(self, graph: &Graph, order: &[u32]) -> Tally {
        let mut down = Tally::new(self.value.len(), self.scale);
        for &member in order {
            let Some(parent) = graph.sponsor(member) else {
                continue;
            };
            let (m, p) = (member as usize, parent as usize);
            let carried = self.value[m].saturating_add(down.value[m]);
            down.value[p] = down.value[p].saturating_add(carried);
            let latest = self.last[m].max(down.last[m]);
            down.last[p] = down.last[p].max(latest);
        }
        down
    }

    /// The value of `member`: exact, or `limit_exceeded` when it is beyond
    /// what a `Decimal` holds at the tally's scale (DESIGN.md, "Exact or
    /// refused"; the sums themselves are exact 128-bit integers).
    pub(crate) fn value(&self, member: u32) -> Result<Decimal> {
        let units = self.value.get(member as usize).copied().unwrap_or(0);
        Decimal::try_from_i128_with_scale(units, self.scale)
            .map_err(|_| crate::money::beyond("value"))
    }

    /// The top `limit` non-terminated members with a non-zero value:
    /// value descending, then last change ascending, then member id.
    pub(crate) fn top(&self, graph: &Graph, limit: usize) -> Result<Vec<LeaderboardEntry>> {
        let mut rows: Vec<u32> = (0..self.value.len().min(graph.len()) as u32)
            .filter(|&m| self.value[m as usize] != 0 && graph.status(m) != MemberStatus::Terminated)
            .collect();
        let order = |a: &u32, b: &u32| {
            let (a, b) = (*a as usize, *b as usize);
            self.value[b]
                .cmp(&self.value[a])
                .then_with(|| self.last[a].cmp(&self.last[b]))
                .then_with(|| graph.id(a as u32).cmp(graph.id(b as u32)))
        };
        if rows.len() > limit && limit > 0 {
            rows.select_nth_unstable_by(limit - 1, order);
        }
        rows.truncate(limit);
        rows.sort_by(order);
        rows.into_iter()
            .enumerate()
            .map(|(i, m)| {
                Ok(LeaderboardEntry {
                    rank: i as u32 + 1,
                    member: Arc::from(graph.id(m)),
                    value: self.value(m)?,
                    reached_at: Timestamp::from_millis(self.last[m as usize])
                        .unwrap_or(Timestamp::MIN),
                })
            })
            .collect()
    }
}

/// One member's progress in a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MemberProgress {
    /// The member id.
    pub member: Id,
    /// Its own contribution over the window so far.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub progress: Decimal,
}

/// A challenge's state as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChallengeStatus {
    /// The challenge id.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// The team leader.
    pub leader: Id,
    /// Levels below the leader in the team.
    pub depth: u32,
    /// The metric.
    pub metric: ChallengeMetric,
    /// Window start (inclusive).
    pub from: Timestamp,
    /// Window end (exclusive).
    pub to: Timestamp,
    /// The target.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub target: Decimal,
    /// The team total counted up to `min(as_of, to, closed_at)`.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub total: Decimal,
    /// Whether the total reaches the target.
    pub met: bool,
    /// `"open"` or `"closed"`.
    pub state: &'static str,
    /// Team members with non-zero progress: progress descending, then id.
    pub members: Vec<MemberProgress>,
    /// The result recorded at the close, if closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ChallengeResult>,
}
