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
//!   [`MAX_TRACKED_DEPTH`] levels down.
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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::chunked::Chunked;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Award, BonusPaid, Id, MilestoneReversal};
use crate::graph::{Graph, MemberStatus};
use crate::id::check_id;
use crate::ledger::{Entry, EntryKind, Ledger};
use crate::limits::{MAX_MILESTONES, MAX_MILESTONE_REWARDS, MAX_TRACKED_DEPTH};
use crate::money::{Currencies, Currency, DecimalText};
use crate::time::Timestamp;

/// What a milestone counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Metric {
    /// Direct referrals that qualify (see the module docs).
    QualifiedReferrals,
    /// Direct referrals joined.
    DirectReferrals,
    /// Members below, at any tracked depth.
    DownlineSize,
    /// The member's own sales not fully refunded.
    OwnSales,
    /// Commissions minus reversals in one currency.
    NetEarnings,
}

impl Metric {
    fn parse(text: &str, field: &str) -> Result<Metric> {
        Ok(match text {
            "qualified_referrals" => Metric::QualifiedReferrals,
            "direct_referrals" => Metric::DirectReferrals,
            "downline_size" => Metric::DownlineSize,
            "own_sales" => Metric::OwnSales,
            "net_earnings" => Metric::NetEarnings,
            _ => return Err(invalid(field, format!("{field} {text:?} is not a milestone metric (qualified_referrals, direct_referrals, downline_size, own_sales, net_earnings)"))),
        })
    }
}

/// What makes a direct referral qualified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Counts {
    /// Every direct referral.
    Joined,
    /// A direct referral with at least one counting sale not fully refunded.
    Purchased,
}

/// What happens to an award when refunds push its metric back below the
/// threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnRefund {
    /// The award stands.
    Keep,
    /// Its bonuses are reversed.
    Clawback,
}

/// A milestone as a host writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MilestoneSpec {
    /// Its id (an award is given once per member and id).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The metric; `qualified_referrals` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The currency of a `net_earnings` metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// A positive whole count (a JSON integer or a decimal string), or an
    /// amount string in `currency` for `net_earnings`.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "crate::wire::schema::CountOrAmount")
    )]
    pub threshold: DecimalText,
    /// Bonuses and perks, at most [`MAX_MILESTONE_REWARDS`].
    pub rewards: Vec<RewardSpec>,
}

/// One reward of a milestone: `{"bonus": {"amount", "currency"}}` or
/// `{"perk": "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RewardSpec {
    /// Money credited through the ledger.
    Bonus(BonusSpec),
    /// A perk the host grants (listed in the award).
    Perk(String),
}

/// An amount in a currency, as a host writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BonusSpec {
    /// A positive decimal string exact in the currency.
    pub amount: DecimalText,
    /// The currency code.
    pub currency: String,
}

/// A challenge team: the leader and how many levels below it belong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamSpec {
    /// The leader's member id.
    pub leader: String,
    /// Levels below the leader (0 = the leader alone), at most
    /// [`MAX_TEAM_DEPTH`](crate::limits::MAX_TEAM_DEPTH).
    pub depth: u32,
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidReward, field, message)
}

/// A validated milestone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Milestone {
    /// Dense key of the id in [`Rewards::keys`].
    pub(crate) key: u32,
    pub(crate) id: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) metric: Metric,
    pub(crate) currency: Option<Currency>,
    pub(crate) threshold: Decimal,
    pub(crate) bonuses: Vec<(Currency, Decimal)>,
    /// The bonuses as awards show them, shared by every award (an award
    /// clones only reference counts).
    pub(crate) paid: Arc<[BonusPaid]>,
    pub(crate) perks: Arc<[Arc<str>]>,
}

/// The milestone set in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActiveSet {
    /// The event that activated it (for idempotent retries).
    pub(crate) event: crate::event::MilestonesSet,
    pub(crate) seq: u64,
    pub(crate) milestones: Vec<Milestone>,
    pub(crate) counts: Counts,
    pub(crate) on_refund: OnRefund,
}

impl ActiveSet {
    fn uses(&self, metric: Metric) -> bool {
        self.milestones.iter().any(|m| m.metric == metric)
    }
}

/// The first programme's milestones (used when `milestones_set` carries no
/// list): First Referral (1 → 10.00 USD), Viral Starter (10 → perk
/// `pro_upgrade`), Network Builder (50 → 500.00 USD), Viral Master (100 →
/// 1000.00 USD + perk `showcase`), Growth Legend (500 → 5000.00 USD + perk
/// `partnership`), all on qualified referrals.
pub fn default_milestones() -> Vec<MilestoneSpec> {
    let bonus = |amount: &str| {
        RewardSpec::Bonus(BonusSpec {
            amount: DecimalText::new(amount),
            currency: "USD".to_string(),
        })
    };
    let perk = |name: &str| RewardSpec::Perk(name.to_string());
    let spec = |id: &str, name: &str, threshold: u32, rewards: Vec<RewardSpec>| MilestoneSpec {
        id: id.to_string(),
        name: name.to_string(),
        metric: None,
        currency: None,
        threshold: DecimalText::new(threshold.to_string()),
        rewards,
    };
    vec![
        spec("first_referral", "First Referral", 1, vec![bonus("10.00")]),
        spec(
            "viral_starter",
            "Viral Starter",
            10,
            vec![perk("pro_upgrade")],
        ),
        spec(
            "network_builder",
            "Network Builder",
            50,
            vec![bonus("500.00")],
        ),
        spec(
            "viral_master",
            "Viral Master",
            100,
            vec![bonus("1000.00"), perk("showcase")],
        ),
        spec(
            "growth_legend",
            "Growth Legend",
            500,
            vec![bonus("5000.00"), perk("partnership")],
        ),
    ]
}

/// Parses a positive whole count: a JSON integer or a decimal string.
pub(crate) fn parse_count(text: &DecimalText, field: &str) -> Result<Decimal> {
    let raw = match text {
        DecimalText::Text(t) | DecimalText::NotText(t) => t,
    };
    let value = crate::money::parse_decimal(raw, field, ErrorKind::InvalidReward)?;
    if value <= Decimal::ZERO || !value.fract().is_zero() || value > Decimal::from(u32::MAX) {
        return Err(invalid(
            field,
            format!(
                "{field} {raw:?} must be a whole count from 1 to {}",
                u32::MAX
            ),
        ));
    }
    Ok(value.trunc().normalize())
}

/// Parses a positive amount exact in `currency`.
pub(crate) fn parse_money(text: &DecimalText, currency: Currency, field: &str) -> Result<Decimal> {
    crate::money::positive(currency.parse_amount(text.text(field)?, field)?, field)
}

impl crate::event::MilestonesSet {
    /// Validates the set against `currencies`, naming the failing field
    /// (`milestones[1].threshold`). `keys` maps known milestone ids to keys;
    /// new ids get the next keys from `next_key` on.
    pub(crate) fn validate(
        &self,
        currencies: &Currencies,
        keys: &HashMap<Arc<str>, u32>,
        next_key: u32,
    ) -> Result<(Vec<Milestone>, Counts, OnRefund)> {
        let counts = match self.counts.as_deref() {
            None | Some("purchased") => Counts::Purchased,
            Some("joined") => Counts::Joined,
            Some(other) => {
                return Err(invalid(
                    "counts",
                    format!("counts {other:?} is not \"joined\" or \"purchased\""),
                ))
            }
        };
        let on_refund = match self.on_refund.as_deref() {
            None | Some("keep") => OnRefund::Keep,
            Some("clawback") => OnRefund::Clawback,
            Some(other) => {
                return Err(invalid(
                    "on_refund",
                    format!("on_refund {other:?} is not \"keep\" or \"clawback\""),
                ))
            }
        };
        let defaults;
        let specs = match &self.milestones {
            Some(specs) => specs,
            None => {
                defaults = default_milestones();
                &defaults
            }
        };
        if specs.len() > MAX_MILESTONES {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "milestones",
                format!(
                    "{} milestones; at most {MAX_MILESTONES} in one set",
                    specs.len()
                ),
            ));
        }
        let mut out: Vec<Milestone> = Vec::with_capacity(specs.len());
        let mut next = next_key;
        for (i, spec) in specs.iter().enumerate() {
            let field = |name: &str| format!("milestones[{i}].{name}");
            check_id(&spec.id, &field("id"))?;
            crate::id::check_text(&spec.name, &field("name"))?;
            if out.iter().any(|m| *m.id == *spec.id) {
                return Err(invalid(
                    &field("id"),
                    format!("{} {:?} is used twice", field("id"), spec.id),
                ));
            }
            let metric = match &spec.metric {
                Some(text) => Metric::parse(text, &field("metric"))?,
                None => Metric::QualifiedReferrals,
            };
            let currency = match (&spec.currency, metric) {
                (Some(code), Metric::NetEarnings) => {
                    Some(currencies.get(code, &field("currency"))?)
                }
                (None, Metric::NetEarnings) => {
                    return Err(invalid(
                        &field("currency"),
                        format!("{} is required for net_earnings", field("currency")),
                    ))
                }
                (Some(_), _) => {
                    return Err(invalid(
                        &field("currency"),
                        format!("{} applies to net_earnings only", field("currency")),
                    ))
                }
                (None, _) => None,
            };
            let threshold = match currency {
                Some(currency) => parse_money(&spec.threshold, currency, &field("threshold"))?,
                None => parse_count(&spec.threshold, &field("threshold"))?,
            };
            if spec.rewards.len() > MAX_MILESTONE_REWARDS {
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    field("rewards"),
                    format!("at most {MAX_MILESTONE_REWARDS} rewards per milestone"),
                ));
            }
            let mut bonuses: Vec<(Currency, Decimal)> = Vec::new();
            let mut perks: Vec<Arc<str>> = Vec::new();
            for (j, reward) in spec.rewards.iter().enumerate() {
                let at = format!("milestones[{i}].rewards[{j}]");
                match reward {
                    RewardSpec::Bonus(bonus) => {
                        let currency =
                            currencies.get(&bonus.currency, &format!("{at}.bonus.currency"))?;
                        let amount =
                            parse_money(&bonus.amount, currency, &format!("{at}.bonus.amount"))?;
                        if bonuses.iter().any(|(c, _)| *c == currency) {
                            return Err(invalid(
                                &format!("{at}.bonus.currency"),
                                format!("two bonuses in {} for one milestone", currency.code()),
                            ));
                        }
                        bonuses.push((currency, amount));
                    }
                    RewardSpec::Perk(name) => {
                        check_id(name, &format!("{at}.perk"))?;
                        perks.push(Arc::from(name.as_str()));
                    }
                }
            }
            let key = match keys.get(spec.id.as_str()) {
                Some(&key) => key,
                None => {
                    next += 1;
                    next - 1
                }
            };
            let paid: Arc<[BonusPaid]> = bonuses
                .iter()
                .map(|(currency, amount)| BonusPaid {
                    amount: *amount,
                    currency: currency.code().to_string(),
                })
                .collect();
            out.push(Milestone {
                key,
                id: Arc::from(spec.id.as_str()),
                name: Arc::from(spec.name.as_str()),
                metric,
                currency,
                threshold,
                bonuses,
                paid,
                perks: perks.into(),
            });
        }
        Ok((out, counts, on_refund))
    }
}

/// How one ledger entry moves a member's *earnings* as rewards see them:
/// commissions, bonuses and adjustments count, reversals count against,
/// and money credited to held does not count until it is released (a
/// `hold` entry takes back its commission, a `release` adds it; a reversal
/// out of held changes nothing, since the held money never counted).
///
/// This is the one place that decides what counts as earned for
/// leaderboards and metrics: fraud-held lines (being built elsewhere) only
/// need their entry kinds added here.
pub fn earnings_delta(kind: EntryKind, amount: Decimal) -> Decimal {
    match kind {
        EntryKind::Commission | EntryKind::Bonus | EntryKind::Adjustment | EntryKind::Release => {
            amount
        }
        EntryKind::Reversal | EntryKind::BonusReversal | EntryKind::Hold => -amount,
        EntryKind::ReversalHeld
        | EntryKind::PayoutReserve
        | EntryKind::PayoutSettle
        | EntryKind::PayoutFail => Decimal::ZERO,
    }
}

/// [`earnings_delta`] without bonuses: what the `net_earnings` milestone
/// metric counts, so that a bonus never triggers another milestone.
fn milestone_earnings_delta(kind: EntryKind, amount: Decimal) -> Decimal {
    match kind {
        EntryKind::Bonus | EntryKind::BonusReversal => Decimal::ZERO,
        _ => earnings_delta(kind, amount),
    }
}

/// One award as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AwardRecord {
    pub(crate) seq: u64,
    pub(crate) member: u32,
    pub(crate) key: u32,
    pub(crate) award: Award,
    pub(crate) available_at: Timestamp,
    pub(crate) clawed_back: bool,
}

/// One milestone reversal as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReversalRecord {
    pub(crate) seq: u64,
    /// Index of the award in [`Rewards::awards`].
    pub(crate) award: u32,
    pub(crate) record: MilestoneReversal,
}

/// A change of qualified referrals: `sponsor` gained (+1) or lost (−1) a
/// qualified direct referral at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Qualification {
    pub(crate) at: Timestamp,
    pub(crate) sponsor: u32,
    pub(crate) delta: i8,
}

/// How a challenge splits its reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// All to the leader.
    Leader,
    /// Equal shares among members with progress.
    Equal,
    /// In proportion to progress.
    ProRata,
}

/// What a challenge counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChallengeMetric {
    /// Own sales minus refunds in the reward currency.
    SalesVolume,
    /// Newly qualified direct referrals.
    QualifiedReferrals,
    /// New direct referrals joined.
    DirectReferrals,
}

/// A validated challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Challenge {
    pub(crate) event: crate::event::ChallengeCreated,
    pub(crate) seq: u64,
    pub(crate) leader: u32,
    pub(crate) depth: u32,
    pub(crate) metric: ChallengeMetric,
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    pub(crate) target: Decimal,
    pub(crate) currency: Currency,
    pub(crate) reward: Decimal,
    pub(crate) split: Split,
    pub(crate) closed: Option<Closed>,
}

/// How a challenge ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Closed {
    pub(crate) at: Timestamp,
    pub(crate) seq: u64,
    pub(crate) result: crate::event::ChallengeResult,
}

impl crate::event::ChallengeCreated {
    /// Validates the challenge, naming the failing field.
    pub(crate) fn validate(
        &self,
        graph: &Graph,
        currencies: &Currencies,
        seq: u64,
    ) -> Result<Challenge> {
        check_id(&self.id, "id")?;
        crate::id::check_text(&self.name, "name")?;
        check_id(&self.team.leader, "team.leader")?;
        let leader = graph.require(&self.team.leader, "team.leader")?;
        if self.team.depth > crate::limits::MAX_TEAM_DEPTH {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "team.depth",
                format!(
                    "team.depth {} is above {}",
                    self.team.depth,
                    crate::limits::MAX_TEAM_DEPTH
                ),
            ));
        }
        let metric = match self.metric.as_str() {
            "sales_volume" => ChallengeMetric::SalesVolume,
            "qualified_referrals" => ChallengeMetric::QualifiedReferrals,
            "direct_referrals" => ChallengeMetric::DirectReferrals,
            other => {
                return Err(invalid(
                    "metric",
                    format!("metric {other:?} is not a challenge metric (sales_volume, qualified_referrals, direct_referrals)"),
                ))
            }
        };
        let from = Timestamp::parse(&self.from, "from")?;
        let to = Timestamp::parse(&self.to, "to")?;
        if from >= to {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "to",
                format!("to {to} must be after from {from}"),
            ));
        }
        let currency = currencies.get(&self.reward.currency, "reward.currency")?;
        let reward = parse_money(&self.reward.amount, currency, "reward.amount")?;
        let target = match metric {
            ChallengeMetric::SalesVolume => parse_money(&self.target, currency, "target")?,
            _ => parse_count(&self.target, "target")?,
        };
        let split = match self.split.as_str() {
            "leader" => Split::Leader,
            "equal" => Split::Equal,
            "pro_rata" => Split::ProRata,
            other => {
                return Err(invalid(
                    "split",
                    format!("split {other:?} is not \"leader\", \"equal\" or \"pro_rata\""),
                ))
            }
        };
        Ok(Challenge {
            event: self.clone(),
            seq,
            leader,
            depth: self.team.depth,
            metric,
            from,
            to,
            target,
            currency,
            reward,
            split,
            closed: None,
        })
    }
}

/// Splits `reward` (at `currency`'s scale) among `weights` (member,
/// progress, member id) exactly: each share is `reward × w / Σw` rounded
/// down to minor units, and the minor units left over go one each to the
/// largest rounded-off fractions, ties to the larger weight, then the
/// smaller member id. Weights must be positive. Returns (member, share) in
/// the order of `weights`; shares sum to `reward`.
pub(crate) fn split_exactly(
    reward: Decimal,
    currency: Currency,
    weights: &[(u32, Decimal, Id)],
) -> Vec<(u32, Decimal)> {
    let scale = u32::from(currency.minor_units());
    let mut minor = reward;
    minor.rescale(scale);
    let total_minor = minor.mantissa();
    let total_weight = weights
        .iter()
        .try_fold(Decimal::ZERO, |sum, w| sum.checked_add(w.1));
    let Some(total_weight) = total_weight.filter(|t| *t > Decimal::ZERO) else {
        return Vec::new();
    };
    if weights.is_empty() || total_minor <= 0 {
        return Vec::new();
    }
    let total = Decimal::from_i128_with_scale(total_minor, 0);
    // Each exact share `total × w / Σw`, multiplying first when the product
    // fits (exact), else dividing first (the error is far below a minor
    // unit, and the remainder step below still makes the sum exact).
    let mut shares: Vec<(usize, i128, Decimal)> = weights
        .iter()
        .enumerate()
        .map(|(i, (_, weight, _))| {
            let exact = total
                .checked_mul(*weight)
                .and_then(|p| p.checked_div(total_weight))
                .or_else(|| {
                    weight
                        .checked_div(total_weight)
                        .and_then(|r| r.checked_mul(total))
                })
                .unwrap_or(Decimal::ZERO)
                .max(Decimal::ZERO)
                .min(total);
            let floor = exact.floor();
            let units = floor.mantissa() / 10i128.pow(floor.scale());
            (i, units, exact - floor)
        })
        .collect();
    let mut given: i128 = shares.iter().map(|s| s.1).sum();
    // Dividing first can only err by less than a unit per share; should the
    // floors overshoot, take the excess back from the largest shares.
    while given > total_minor {
        let Some(largest) = shares.iter_mut().max_by_key(|s| s.1) else {
            break;
        };
        largest.1 -= 1;
        given -= 1;
    }
    let mut left = (total_minor - given).max(0);
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        shares[b]
            .2
            .cmp(&shares[a].2)
            .then_with(|| weights[b].1.cmp(&weights[a].1))
            .then_with(|| weights[a].2.cmp(&weights[b].2))
    });
    // Normally fewer minor units are left than there are shares; whole
    // rounds first keep this bounded whatever the rounding above did.
    let count = order.len() as i128;
    let rounds = left / count;
    if rounds > 0 {
        for share in &mut shares {
            share.1 += rounds;
        }
        left -= rounds * count;
    }
    for &i in order.iter().take(left as usize) {
        shares[i].1 += 1;
    }
    shares
        .into_iter()
        .map(|(i, units, _)| (weights[i].0, Decimal::from_i128_with_scale(units, scale)))
        .collect()
}

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
    keys: Vec<Arc<str>>,
    #[serde(skip)]
    key_index: HashMap<Arc<str>, u32>,
    pub(crate) awards: Vec<AwardRecord>,
    pub(crate) reversals: Vec<ReversalRecord>,
    /// Each member's awards form a chain, newest first: `award_head[member]`
    /// is the newest award's index, `award_prev[award]` the one before
    /// (like the ledger's accounts), so "has it already?" costs one array
    /// read for the many members without awards, and no hashing.
    #[serde(skip)]
    award_head: Vec<u32>,
    #[serde(skip)]
    award_prev: Vec<u32>,
    /// Direct referrals per member: kept only while a milestone set is in
    /// force (built from the graph when the first is activated), since
    /// only milestones need the count in O(1); empty before.
    pub(crate) directs: Chunked<u32>,
    /// Members at most [`MAX_TRACKED_DEPTH`] levels below, per member;
    /// kept only while a `downline_size` milestone is in force (built from
    /// the graph when such a set is activated or a snapshot restored), so
    /// joins walk their ancestors only when a milestone needs it.
    #[serde(skip)]
    downline: Chunked<u32>,
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
    earnings: Vec<(Currency, Vec<Decimal>)>,
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

    fn grow(&mut self, len: usize) {
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

    fn tracks_downline(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.uses(Metric::DownlineSize))
    }

    /// Builds the downline counters from the graph (when tracked).
    fn rebuild_downline(&mut self, graph: &Graph) {
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

    fn count(counter: &Chunked<u32>, member: u32) -> u32 {
        counter.get(member as usize).copied().unwrap_or(0)
    }

    fn value(&self, member: u32, metric: Metric, currency: Option<Currency>) -> Decimal {
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

    fn touch(&self, out: &mut Vec<Touch>, member: u32, metric: Metric, delta: i64) {
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
    fn add_up(&mut self, graph: &Graph, from: u32, delta: i64) {
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

    fn earnings_touches(&self, out: &mut Vec<Touch>, entries: &[Entry]) {
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
    fn standing_award(&self, member: u32, key: u32) -> Option<u32> {
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

    fn link_award(&mut self, index: u32, member: u32) {
        let slot = member as usize;
        if self.award_head.len() <= slot {
            self.award_head.resize(slot + 1, NO_AWARD);
        }
        self.award_prev.push(self.award_head[slot]);
        self.award_head[slot] = index;
    }

    fn award(&self, graph: &Graph, touch: &Touch, milestone: &Milestone) -> Award {
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
    fn build_counters(&mut self, graph: &Graph) {
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

    fn rebuild_earnings(&mut self, ledger: &Ledger, members: usize) {
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

fn record_currency(bonuses: &[(Currency, Decimal)], paid: &BonusPaid) -> Option<Currency> {
    bonuses
        .iter()
        .find(|(c, _)| c.code() == paid.currency)
        .map(|(c, _)| *c)
}

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
    scale: u32,
    value: Vec<i128>,
    last: Vec<i64>,
}

const NEVER: i64 = i64::MIN;

/// The end of an award chain.
const NO_AWARD: u32 = u32::MAX;

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
    pub result: Option<crate::event::ChallengeResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currencies::default().get("USD", "c").unwrap()
    }

    #[test]
    fn split_gives_the_remainder_to_the_largest_fractions() {
        // 100.00 among weights 1, 1, 1: 33.33 each, 0.01 left: the ties go
        // to the smaller id.
        let w = |m: u32, x: i64| (m, Decimal::from(x), Arc::<str>::from(format!("m{m}")));
        let shares = split_exactly(Decimal::new(10000, 2), usd(), &[w(2, 1), w(1, 1), w(3, 1)]);
        let amounts: Vec<String> = shares.iter().map(|s| s.1.to_string()).collect();
        assert_eq!(amounts, ["33.33", "33.34", "33.33"]);
        // 10.00 pro rata 2:1: 6.666… and 3.333…: 6.66 + 3.33 = 9.99, the
        // cent goes to the larger fraction (.666 > .333).
        let shares = split_exactly(Decimal::new(1000, 2), usd(), &[w(1, 2), w(2, 1)]);
        assert_eq!(shares[0].1.to_string(), "6.67");
        assert_eq!(shares[1].1.to_string(), "3.33");
    }

    proptest::proptest! {
        /// For any reward and positive weights: the shares add up to the
        /// reward exactly, each is exact in minor units, and each is within
        /// one minor unit of its exact proportional value.
        #[test]
        fn a_split_neither_loses_nor_creates_money(
            reward_minor in 1i64..=1_000_000_000_000,
            weights in proptest::collection::vec(1i64..=1_000_000_000, 1..40),
        ) {
            let reward = Decimal::new(reward_minor, 2);
            let weights: Vec<(u32, Decimal, Id)> = weights
                .iter()
                .enumerate()
                .map(|(i, &x)| (i as u32, Decimal::new(x, 2), Arc::from(format!("m{i:03}"))))
                .collect();
            let shares = split_exactly(reward, usd(), &weights);
            proptest::prop_assert_eq!(shares.len(), weights.len());
            let total: Decimal = shares.iter().map(|s| s.1).sum();
            proptest::prop_assert_eq!(total, reward);
            let sum_w: Decimal = weights.iter().map(|w| w.1).sum();
            for ((_, share), (_, weight, _)) in shares.iter().zip(&weights) {
                proptest::prop_assert!(share.scale() == 2 && *share >= Decimal::ZERO);
                let exact = reward * *weight / sum_w;
                proptest::prop_assert!((*share - exact).abs() < Decimal::new(1, 2));
            }
        }
    }
}
