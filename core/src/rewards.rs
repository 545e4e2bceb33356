//! Rewards: milestones, team challenges and leaderboards.
//!
//! Like everything else they are event-sourced and deterministic: rules
//! arrive as events (`milestones_set`, `challenge_created`,
//! `challenge_closed`), bonuses are ledger entries of kind `bonus` paid by
//! the platform (subject to the hold period of the plan in force at the
//! event), and every query is a pure function of the applied events.
//!
//! This module does not decide who earns a commission (that is
//! [`crate::calc`]) nor compute network statistics (that is
//! [`crate::metrics`]).
//!
//! ```
//! use upline::{Engine, Outcome};
//!
//! let mut engine = Engine::new();
//! // The default set: First Referral pays 10.00 USD at the first qualified
//! // referral (one with a sale).
//! engine.apply_json(r#"{"type":"milestones_set","at":"2026-01-01T00:00:00Z"}"#)?;
//! for (m, s) in [("ann", None), ("bob", Some("ann"))] {
//!     engine.apply_json(&serde_json::json!({"type": "member_joined", "member": m,
//!         "sponsor": s, "at": "2026-01-01T00:00:00Z"}).to_string())?;
//! }
//! let applied = engine.apply_json(r#"{"type":"sale_recorded","sale":"s1","buyer":"bob",
//!     "amount":"100.00","currency":"USD","at":"2026-02-01T12:00:00Z"}"#)?;
//! let Outcome::Distribution(d) = &applied.outcome else { unreachable!() };
//! assert_eq!(&*d.awards[0].milestone, "first_referral");
//! // ann: 20.00 commission + 10.00 bonus, both pending for the 30-day hold.
//! let balances = engine.balances("ann", "USD", "2026-02-02T00:00:00Z")?;
//! assert_eq!(balances.pending.to_string(), "30.00");
//! # Ok::<(), upline::Error>(())
//! ```
//!
//! # Milestones
//!
//! A milestone `{id, name, metric, threshold, rewards}` is reached by a
//! member when one of its metrics rises to or past the threshold while a
//! milestone set is in force and the member is active. Metrics
//! ([`Metric`]):
//!
//! - `qualified_referrals` (default): direct referrals that qualify. With
//!   `counts: "purchased"` (default) a referral qualifies while it has at
//!   least one sale that is not fully refunded and counts for
//!   qualification (see `Engine::sale_counts_for_qualification`, the one
//!   place fraud screening will plug in); with `counts: "joined"` every
//!   direct referral qualifies.
//! - `direct_referrals`: direct referrals joined.
//! - `downline_size`: members below, at most
//!   [`MAX_TRACKED_DEPTH`](crate::limits::MAX_TRACKED_DEPTH) levels down.
//! - `own_sales`: the member's own sales not fully refunded.
//! - `net_earnings` (with a `currency`): commissions minus reversals in that
//!   currency, held lines counting only once released (bonuses excluded, so
//!   a bonus never triggers another milestone).
//!
//! An award is recorded once per member and milestone id, at the event
//! (join, sale) that raised the metric: its [`Award`]
//! record sits in that event's outcome and each bonus is a `bonus` entry
//! whose reference is the milestone id. The evaluation is "at or past the
//! threshold on an increase", so a member already past a threshold when a
//! set is activated, or while inactive, is awarded at its next increase.
//! Retries return the original records; replays recompute the same ones.
//!
//! When a refund takes a metric from at or past a threshold to below it, the
//! refund's outcome records a [`MilestoneReversal`]
//! saying which setting applied: `keep` (default; the award stands and is
//! never given again) or `clawback` (each bonus is reversed by a
//! `bonus_reversal` entry; a later crossing awards the milestone anew).
//! Moving a member (`sponsor_changed`) moves its counts (its qualification
//! now counts for the new sponsor) but awards nothing by itself, and the
//! qualified-referrals log behind leaderboards and challenges keeps the
//! sponsor of the moment each referral qualified. Bonuses are credited to
//! the flow, never to held, whatever the member's hold.
//!
//! # Team challenges
//!
//! `challenge_created {id, name, team: {leader, depth}, metric, from, to,
//! target, reward: {amount, currency}, split}` opens a challenge over the
//! half-open window `[from, to)`. The team is the leader and the members at
//! most `depth` levels below it, as the tree stands when progress is asked
//! for. Each member's progress is its own contribution inside the window:
//! its sales (net of refunds dated in the window) in the reward currency for
//! `sales_volume`, its newly qualified referrals for `qualified_referrals`,
//! its new direct referrals for `direct_referrals`. `challenge_closed {id,
//! at}` counts events dated before `min(at, to)`; when the total reaches the
//! target, the reward is paid as `bonus` entries, split:
//!
//! - `leader`: all to the leader;
//! - `equal`: equal shares among the paid members (team members with
//!   positive progress);
//! - `pro_rata`: in proportion to each paid member's progress.
//!
//! Only active members are paid. Shares are computed in minor units,
//! rounded down; the remainder (fewer minor units than there are paid
//! members) goes one minor unit each to the members with the largest
//! rounded-off fractions, ties to the larger progress, then the smaller
//! member id (largest-remainder method). So the shares add up to the reward
//! exactly: nothing is lost or created.
//!
//! # Leaderboards
//!
//! `Engine::leaderboard` ranks members by a metric over a half-open UTC
//! window: `qualified_referrals` (net new qualified referrals),
//! `net_earnings` (see [`earnings_delta`]), `sales_volume` (sales minus
//! refunds by everyone below the member, at any depth, in a currency) or
//! `downline_growth` (members joined below, at any depth). Ties go to
//! whoever reached the value first (the earliest last change inside the
//! window), then to the smaller member id, so the order is total.
//! Terminated members and zero values are left out. One query is one pass
//! over the relevant log into per-member integer tallies (for the downline
//! metrics, then one bottom-up pass over the forest), plus a partial sort of
//! the top `limit`: O(log + members), whatever the depth.

/// How many members a leaderboard lists when a host names no limit.
pub const DEFAULT_LEADERBOARD_LIMIT: usize = 100;

mod challenges;
mod leaderboard;
mod milestones;
mod spec;
mod state;

pub(crate) use self::state::*;
pub use self::{challenges::*, leaderboard::*, milestones::*, spec::*};
