//! Growth metrics: per-member and network statistics, the viral
//! coefficient per join cohort, viral cycle time, a growth projection, and
//! subtree exports with earnings on the nodes.
//!
//! Everything here is a query: a pure function of the applied events that
//! changes nothing. Counts are integers and money is
//! [`Decimal`]; the viral coefficient, cycle times
//! in days, branching factors and projections are statistics, not money,
//! and are `f64` (they never enter the ledger or the audit chain).
//!
//! This module does not pay anything (that is [`crate::rewards`]) and does
//! not rank members (leaderboards are in [`crate::rewards`] too).
//!
//! # Viral coefficient and cycle time
//!
//! Members are grouped into join cohorts of `cohort_days` days, aligned on
//! the Unix epoch (cohort `c` holds the members who joined in
//! `[c·cohort_days, (c+1)·cohort_days)` days after 1970-01-01). A cohort's
//! **K** is the number of direct referrals its members made within
//! `window_days` of their own join, divided by the cohort's size. Referrals
//! are read from the tree as it stands (a moved member counts for its
//! current sponsor). A cohort younger than `window_days` is still filling
//! up: its K is a lower bound.
//!
//! The **viral cycle time** is the median, over every member with a
//! sponsor, of the time from the sponsor's join to the member's join
//! (negative gaps, possible only after a move, are left out). With an even
//! number of gaps it is the mean of the two middle ones (rounded down to
//! the millisecond).
//!
//! # Projection
//!
//! [`project`] is the expected size of a Galton–Watson branching process:
//! the `seed` members are generation 0; each member of generation `i`
//! brings in `K` members on average, all within one cycle, so generation
//! `i` has `seed·Kⁱ` members and, after `n` cycles, the network has
//! `N(n) = seed·(1 + K + … + Kⁿ)`, which is `seed·(1 − Kⁿ⁺¹)/(1 − K)` for
//! `K ≠ 1` (and `seed·(n + 1)` for `K = 1`). For `K < 1` growth stops at
//! `seed/(1 − K)`. Assumptions: K and the cycle time stay as measured
//! (no saturation, no churn, no seasonality), members recruit only during
//! their first cycle, and every seed member recruits as a new member would.
//! It is an expectation, not a forecast with error bars.

/// The viral-coefficient window W and cohort width, in days, when a host
/// names none (the first programme's 30 days).
pub const DEFAULT_WINDOW_DAYS: u32 = 30;
/// Most nodes of a subtree export when a host names no bound.
pub const DEFAULT_EXPORT_NODES: usize = 10_000;

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, MemberStatus};
use crate::id::Id;
use crate::ledger::Ledger;
use crate::limits::{MAX_EXPORT_NODES, MAX_PROJECTION_CYCLES, MAX_WINDOW_DAYS};
use crate::rewards::earnings_delta;
use crate::time::Timestamp;

const MS_PER_DAY: i64 = 86_400_000;

/// Earnings of a member in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Earnings {
    /// The currency code.
    pub currency: String,
    /// Commissions, bonuses and adjustments minus reversals, ever (held
    /// money counts once released; see
    /// [`earnings_delta`]).
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub lifetime: Decimal,
    /// The same over the period asked for (entries dated in `[from, to)`).
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub period: Decimal,
}

/// One member's growth metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MemberMetrics {
    /// The member id.
    pub member: Id,
    /// Its status.
    pub status: MemberStatus,
    /// When it joined.
    pub joined_at: Timestamp,
    /// Its ancestors.
    pub depth: u64,
    /// Direct referrals.
    pub direct_referrals: u64,
    /// Active direct referrals.
    pub active_direct_referrals: u64,
    /// Direct referrals with a counting sale not fully refunded.
    pub qualified_referrals: u64,
    /// Members below, at any depth.
    pub downline_size: u64,
    /// Levels below the member that have members (0 for a leaf).
    pub downline_depth: u64,
    /// Members per level below (index 0 = direct referrals).
    pub levels: Vec<u64>,
    /// The window of [`Earnings::period`], `[from, to)`.
    pub window: (Timestamp, Timestamp),
    /// Earnings per currency, by currency code.
    pub earnings: Vec<Earnings>,
}

/// Members per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatusCounts {
    /// Active members.
    pub active: u64,
    /// Inactive members.
    pub inactive: u64,
    /// Terminated members.
    pub terminated: u64,
}

/// Whole-network statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NetworkMetrics {
    /// All members.
    pub members: u64,
    /// Members per status.
    pub by_status: StatusCounts,
    /// Members on hold.
    pub on_hold: u64,
    /// Members without a sponsor.
    pub roots: u64,
    /// Members per depth (index 0 = roots).
    pub depth_histogram: Vec<u64>,
    /// The deepest member's depth.
    pub max_depth: u64,
    /// Mean direct referrals of the members that have at least one
    /// (non-roots / sponsors); 0 for a network of roots.
    pub mean_branching_factor: f64,
}

/// One join cohort's viral coefficient.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cohort {
    /// The cohort's first instant.
    pub start: Timestamp,
    /// Its members.
    pub size: u64,
    /// Direct referrals its members made within the window of joining.
    pub referrals: u64,
    /// `referrals / size`.
    pub k: f64,
}

/// Viral coefficient per cohort, overall, and the viral cycle time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ViralReport {
    /// W: referrals count when made within this many days of joining.
    pub window_days: u32,
    /// Width of a cohort in days.
    pub cohort_days: u32,
    /// Cohorts, oldest first (only those with members).
    pub cohorts: Vec<Cohort>,
    /// All the cohorts together.
    pub overall: Cohort,
    /// Referral gaps the cycle time was measured over.
    pub cycle_samples: u64,
    /// Median gap from a sponsor's join to its referral's join, in ms.
    pub cycle_time_ms: i64,
    /// The same in days.
    pub cycle_time_days: f64,
}

/// One cycle of a projection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProjectionPoint {
    /// The cycle, from 0 (the seed).
    pub cycle: u32,
    /// Days from the start (`cycle × cycle_days`).
    pub day: f64,
    /// Expected members of this generation (`seed·K^cycle`).
    pub new_members: f64,
    /// Expected network size after this cycle (summed cycle by cycle).
    pub total: f64,
}

/// A branching-process projection (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Projection {
    /// The viral coefficient used.
    pub k: f64,
    /// The cycle time used, in days.
    pub cycle_days: f64,
    /// Generation 0.
    pub seed: u64,
    /// Per cycle, 0 to n.
    pub points: Vec<ProjectionPoint>,
    /// The closed form `seed·(1 − Kⁿ⁺¹)/(1 − K)` (`seed·(n+1)` for K = 1).
    pub closed_form_total: f64,
    /// `seed/(1 − K)` when K < 1: the size growth tends to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
}

/// The expected network size of a branching process over `cycles` cycles
/// (see the module docs). `k` must be finite and non-negative, `cycle_days`
/// finite and non-negative, `cycles` at most [`MAX_PROJECTION_CYCLES`].
/// Values that overflow `f64` saturate at `f64::MAX`.
///
/// ```
/// let p = upline::metrics::project(100, 0.5, 10.0, 3)?;
/// // 100 + 50 + 25 + 12.5
/// assert_eq!(p.points[3].total, 187.5);
/// assert_eq!(p.closed_form_total, 187.5);
/// assert_eq!(p.limit, Some(200.0));
/// # Ok::<(), upline::Error>(())
/// ```
pub fn project(seed: u64, k: f64, cycle_days: f64, cycles: u32) -> Result<Projection> {
    if !k.is_finite() || k < 0.0 {
        return Err(Error::new(
            ErrorKind::InvalidReward,
            "k",
            format!("k {k} must be a finite number at least 0"),
        ));
    }
    if !cycle_days.is_finite() || cycle_days < 0.0 {
        return Err(Error::new(
            ErrorKind::InvalidReward,
            "cycle_days",
            format!("cycle_days {cycle_days} must be a finite number at least 0"),
        ));
    }
    if cycles > MAX_PROJECTION_CYCLES {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            "cycles",
            format!("cycles {cycles} is above {MAX_PROJECTION_CYCLES}"),
        ));
    }
    let finite = |x: f64| if x.is_finite() { x } else { f64::MAX };
    let n0 = seed as f64;
    let mut points = Vec::with_capacity(cycles as usize + 1);
    let mut generation = n0;
    let mut total = 0.0;
    for cycle in 0..=cycles {
        total = finite(total + generation);
        points.push(ProjectionPoint {
            cycle,
            day: f64::from(cycle) * cycle_days,
            new_members: generation,
            total,
        });
        generation = finite(generation * k);
    }
    let n = f64::from(cycles);
    let closed_form_total = if k == 1.0 {
        n0 * (n + 1.0)
    } else {
        finite(n0 * (1.0 - k.powf(n + 1.0)) / (1.0 - k))
    };
    Ok(Projection {
        k,
        cycle_days,
        seed,
        points,
        closed_form_total,
        limit: (k < 1.0).then(|| n0 / (1.0 - k)),
    })
}

/// Per-currency earnings of `member`: lifetime and inside `[from, to)`.
pub(crate) fn earnings(
    ledger: &Ledger,
    member: u32,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Earnings> {
    let mut sums: BTreeMap<String, (Decimal, Decimal, u32)> = BTreeMap::new();
    for entry in ledger.earner_entries(member) {
        let delta = earnings_delta(entry.kind, entry.amount);
        let slot = sums.entry(entry.currency.code().to_string()).or_insert((
            Decimal::ZERO,
            Decimal::ZERO,
            0,
        ));
        slot.0 += delta;
        if from <= entry.at && entry.at < to {
            slot.1 += delta;
        }
        slot.2 = u32::from(entry.currency.minor_units());
    }
    sums.into_iter()
        .map(|(currency, (lifetime, period, scale))| {
            let zero = Decimal::new(0, scale);
            Earnings {
                currency,
                lifetime: lifetime + zero,
                period: period + zero,
            }
        })
        .collect()
}

/// The metrics of one member (`qualified` from the rewards counters).
pub(crate) fn member_metrics(
    graph: &Graph,
    ledger: &Ledger,
    member: u32,
    qualified: u32,
    period: (Timestamp, Timestamp),
) -> MemberMetrics {
    let levels = graph.downline_levels(member, usize::MAX);
    MemberMetrics {
        member: Id::from(graph.id(member)),
        status: graph.status(member),
        joined_at: graph.joined_at(member),
        depth: graph.depth(member) as u64,
        direct_referrals: levels.first().copied().unwrap_or(0),
        active_direct_referrals: u64::from(graph.active_directs(member)),
        qualified_referrals: u64::from(qualified),
        downline_size: levels.iter().sum(),
        downline_depth: levels.len() as u64,
        levels,
        window: period,
        earnings: earnings(ledger, member, period.0, period.1),
    }
}

/// Depth of every member (roots 0), in O(members): each member's depth is
/// found by walking up to the first ancestor whose depth is known, then
/// filled in on the way back.
fn depths(graph: &Graph) -> Vec<u32> {
    const UNKNOWN: u32 = u32::MAX;
    let n = graph.len();
    let mut depth = vec![UNKNOWN; n];
    let mut path = Vec::new();
    for start in 0..n as u32 {
        let mut cursor = start;
        while depth[cursor as usize] == UNKNOWN {
            path.push(cursor);
            match graph.sponsor(cursor) {
                Some(parent) => cursor = parent,
                None => break,
            }
        }
        let mut known = if depth[cursor as usize] == UNKNOWN {
            // `cursor` is a root whose depth is unknown: it is the last on
            // the path and gets depth 0.
            path.pop();
            depth[cursor as usize] = 0;
            0
        } else {
            depth[cursor as usize]
        };
        while let Some(member) = path.pop() {
            known += 1;
            depth[member as usize] = known;
        }
    }
    depth
}

/// Every member, each after all of its descendants (deepest first), in
/// O(members): the order a bottom-up pass over the forest needs.
pub(crate) fn children_first(graph: &Graph) -> Vec<u32> {
    let depth = depths(graph);
    let max = depth.iter().copied().max().unwrap_or(0) as usize;
    // Counting sort by depth, deepest first.
    let mut start = vec![0usize; max + 2];
    for &d in &depth {
        start[max - d as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut order = vec![0u32; depth.len()];
    for (member, &d) in depth.iter().enumerate() {
        let slot = &mut start[max - d as usize];
        order[*slot] = member as u32;
        *slot += 1;
    }
    order
}

/// Whole-network statistics.
pub(crate) fn network_metrics(graph: &Graph) -> NetworkMetrics {
    let mut by_status = StatusCounts::default();
    let mut on_hold = 0;
    let mut roots = 0;
    let mut sponsors = 0u64;
    let mut has_referral = vec![false; graph.len()];
    for member in 0..graph.len() as u32 {
        match graph.status(member) {
            MemberStatus::Active => by_status.active += 1,
            MemberStatus::Inactive => by_status.inactive += 1,
            MemberStatus::Terminated => by_status.terminated += 1,
        }
        on_hold += u64::from(graph.on_hold(member));
        match graph.sponsor(member) {
            None => roots += 1,
            Some(sponsor) => {
                if !has_referral[sponsor as usize] {
                    has_referral[sponsor as usize] = true;
                    sponsors += 1;
                }
            }
        }
    }
    let mut histogram: Vec<u64> = Vec::new();
    for depth in depths(graph) {
        let depth = depth as usize;
        if histogram.len() <= depth {
            histogram.resize(depth + 1, 0);
        }
        histogram[depth] += 1;
    }
    let members = graph.len() as u64;
    NetworkMetrics {
        members,
        by_status,
        on_hold,
        roots,
        max_depth: histogram.len().saturating_sub(1) as u64,
        depth_histogram: histogram,
        mean_branching_factor: if sponsors == 0 {
            0.0
        } else {
            (members - roots) as f64 / sponsors as f64
        },
    }
}

/// Checks a day count (1..=[`MAX_WINDOW_DAYS`]).
pub(crate) fn check_days(days: u32, field: &str) -> Result<()> {
    if days == 0 || days > MAX_WINDOW_DAYS {
        return Err(Error::new(
            ErrorKind::InvalidReward,
            field,
            format!("{field} {days} must be from 1 to {MAX_WINDOW_DAYS}"),
        ));
    }
    Ok(())
}

/// The viral coefficient per cohort of the members who joined in
/// `[from, to)`, and the viral cycle time over the same members.
pub(crate) fn viral(
    graph: &Graph,
    window_days: u32,
    cohort_days: u32,
    from: Timestamp,
    to: Timestamp,
) -> Result<ViralReport> {
    check_days(window_days, "window_days")?;
    check_days(cohort_days, "cohort_days")?;
    let window_ms = i64::from(window_days) * MS_PER_DAY;
    let cohort_ms = i64::from(cohort_days) * MS_PER_DAY;
    let inside = |t: Timestamp| from <= t && t < to;
    let cohort_of = |t: Timestamp| t.as_millis().div_euclid(cohort_ms);
    // (size, referrals) per cohort index.
    let mut cohorts: HashMap<i64, (u64, u64)> = HashMap::new();
    let mut gaps: Vec<i64> = Vec::new();
    for member in 0..graph.len() as u32 {
        let joined = graph.joined_at(member);
        if inside(joined) {
            cohorts.entry(cohort_of(joined)).or_default().0 += 1;
        }
        let Some(sponsor) = graph.sponsor(member) else {
            continue;
        };
        let sponsor_joined = graph.joined_at(sponsor);
        if !inside(sponsor_joined) {
            continue;
        }
        let gap = joined.as_millis() - sponsor_joined.as_millis();
        if gap < 0 {
            continue;
        }
        gaps.push(gap);
        if gap < window_ms {
            cohorts.entry(cohort_of(sponsor_joined)).or_default().1 += 1;
        }
    }
    let mut ordered: Vec<(i64, (u64, u64))> = cohorts.into_iter().collect();
    ordered.sort_unstable_by_key(|c| c.0);
    let k = |size: u64, referrals: u64| {
        if size == 0 {
            0.0
        } else {
            referrals as f64 / size as f64
        }
    };
    let start_of = |index: i64| {
        Timestamp::from_millis(index.saturating_mul(cohort_ms)).unwrap_or(Timestamp::MIN)
    };
    let (size, referrals) = ordered
        .iter()
        .fold((0, 0), |acc, c| (acc.0 + c.1 .0, acc.1 + c.1 .1));
    let overall = Cohort {
        start: ordered.first().map_or(from, |c| start_of(c.0)),
        size,
        referrals,
        k: k(size, referrals),
    };
    let median = median_ms(&mut gaps);
    Ok(ViralReport {
        window_days,
        cohort_days,
        cohorts: ordered
            .into_iter()
            .map(|(index, (size, referrals))| Cohort {
                start: start_of(index),
                size,
                referrals,
                k: k(size, referrals),
            })
            .collect(),
        overall,
        cycle_samples: gaps.len() as u64,
        cycle_time_ms: median,
        cycle_time_days: median as f64 / MS_PER_DAY as f64,
    })
}

/// The median of `values` (mean of the two middle ones, rounded down, for
/// an even count; 0 for none), in O(n).
fn median_ms(values: &mut [i64]) -> i64 {
    let n = values.len();
    if n == 0 {
        return 0;
    }
    let (_, upper, _) = values.select_nth_unstable(n / 2);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let lower = values[..n / 2].iter().copied().max().unwrap_or(upper);
    // No overflow: both are gaps between two valid timestamps.
    (lower + upper).div_euclid(2)
}

/// The subtree below `root`, breadth first, at most `max_depth` levels
/// and `max_nodes` members: (members, truncated).
fn bounded_subtree(
    graph: &Graph,
    root: u32,
    max_depth: usize,
    max_nodes: usize,
) -> (Vec<u32>, bool) {
    let mut out = vec![root];
    let mut level_start = 0;
    let mut truncated = false;
    'levels: for _ in 0..max_depth {
        let level_end = out.len();
        if level_start == level_end {
            break;
        }
        for i in level_start..level_end {
            for child in graph.direct_referrals(out[i]) {
                if out.len() >= max_nodes {
                    truncated = true;
                    break 'levels;
                }
                out.push(child);
            }
        }
        level_start = level_end;
    }
    (out, truncated)
}

/// Checks an export's node budget.
pub(crate) fn check_nodes(max_nodes: usize) -> Result<()> {
    if max_nodes == 0 || max_nodes > MAX_EXPORT_NODES {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            "max_nodes",
            format!("max_nodes {max_nodes} must be from 1 to {MAX_EXPORT_NODES}"),
        ));
    }
    Ok(())
}

/// Lifetime earnings per currency of each of `nodes` (same order): one
/// pass over the ledger for many nodes, each node's own entries for few
/// (members near the top of a large network have many entries).
fn node_earnings(ledger: &Ledger, nodes: &[u32]) -> Vec<BTreeMap<String, Decimal>> {
    let mut out: Vec<BTreeMap<String, Decimal>> = vec![BTreeMap::new(); nodes.len()];
    let mut add = |slot: usize, entry: &crate::ledger::Entry| {
        let zero = Decimal::new(0, u32::from(entry.currency.minor_units()));
        *out[slot]
            .entry(entry.currency.code().to_string())
            .or_insert(zero) += earnings_delta(entry.kind, entry.amount);
    };
    if nodes.len() > 64 {
        let position: HashMap<u32, usize> =
            nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        for entry in ledger.entries() {
            if let Some(&slot) = position.get(&entry.earner) {
                add(slot, entry);
            }
        }
    } else {
        for (slot, &node) in nodes.iter().enumerate() {
            for entry in ledger.earner_entries(node) {
                add(slot, entry);
            }
        }
    }
    out
}

/// The subtree below `root` as JSON: `{"truncated", "nodes", "tree"}`,
/// each tree node `{"member", "status", "joined_at", "earnings":
/// {currency: amount}, "referrals": [...]}`.
pub(crate) fn export_json(
    graph: &Graph,
    ledger: &Ledger,
    root: u32,
    max_depth: usize,
    max_nodes: usize,
) -> serde_json::Value {
    let (nodes, truncated) = bounded_subtree(graph, root, max_depth, max_nodes);
    let mut earned = node_earnings(ledger, &nodes);
    let position: HashMap<u32, usize> = nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut children: Vec<Vec<serde_json::Value>> = vec![Vec::new(); nodes.len()];
    let mut tree = serde_json::Value::Null;
    // Children before parents (reverse breadth-first), so no recursion.
    for i in (0..nodes.len()).rev() {
        let node = nodes[i];
        let mut kids = std::mem::take(&mut children[i]);
        kids.reverse();
        // Built by moving values in: `json!` would serialize each subtree
        // again at every level above it.
        let mut object = serde_json::Map::new();
        object.insert("member".into(), graph.id(node).into());
        object.insert(
            "status".into(),
            serde_json::to_value(graph.status(node)).unwrap_or_default(),
        );
        object.insert("joined_at".into(), graph.joined_at(node).to_string().into());
        object.insert(
            "earnings".into(),
            std::mem::take(&mut earned[i])
                .into_iter()
                .map(|(code, amount)| (code, serde_json::Value::String(amount.to_string())))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
        object.insert("referrals".into(), serde_json::Value::Array(kids));
        let value = serde_json::Value::Object(object);
        match graph.sponsor(node).and_then(|p| position.get(&p)) {
            Some(&parent) if i != 0 => children[parent].push(value),
            _ => tree = value,
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("truncated".into(), truncated.into());
    out.insert("nodes".into(), nodes.len().into());
    out.insert("tree".into(), tree);
    serde_json::Value::Object(out)
}

/// The subtree below `root` in Graphviz DOT (via `petgraph`), each node
/// labelled with its id and lifetime earnings per currency.
pub(crate) fn export_dot(
    graph: &Graph,
    ledger: &Ledger,
    root: u32,
    max_depth: usize,
    max_nodes: usize,
) -> String {
    let (nodes, _) = bounded_subtree(graph, root, max_depth, max_nodes);
    let earned = node_earnings(ledger, &nodes);
    let mut dot = petgraph::graph::DiGraph::<String, &str>::with_capacity(nodes.len(), nodes.len());
    let mut local = HashMap::with_capacity(nodes.len());
    for (&node, earned) in nodes.iter().zip(&earned) {
        let mut label = graph.id(node).to_string();
        for (currency, amount) in earned {
            label.push_str(&format!("\n{currency} {amount}"));
        }
        local.insert(node, dot.add_node(label));
    }
    for &node in nodes.iter().skip(1) {
        if let (Some(parent), Some(&child)) = (graph.sponsor(node), local.get(&node)) {
            if let Some(&parent) = local.get(&parent) {
                dot.add_edge(parent, child, "");
            }
        }
    }
    format!(
        "{}",
        petgraph::dot::Dot::with_config(&dot, &[petgraph::dot::Config::EdgeNoLabel])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median_ms(&mut [5, 1, 3]), 3);
        assert_eq!(median_ms(&mut [4, 1, 3, 2]), 2); // (2 + 3) / 2 rounded down
        assert_eq!(median_ms(&mut []), 0);
    }

    #[test]
    fn projection_matches_its_closed_form() {
        for k in [0.0, 0.3, 0.99, 1.0, 1.7] {
            let p = project(1000, k, 7.0, 40).unwrap();
            let summed = p.points.last().unwrap().total;
            assert!(
                (summed - p.closed_form_total).abs() <= 1e-9 * summed.max(1.0),
                "{k}"
            );
        }
        assert!(project(1, f64::NAN, 1.0, 1).is_err());
    }
}
