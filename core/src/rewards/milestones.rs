//! Milestone sets: compiling a `milestones_set` event into an [`ActiveSet`],
//! the records of awards and their reversals, and how an entry moves a
//! member's earnings metric.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

use crate::id::check_id;
use crate::ledger::EntryKind;
use crate::limits::{MAX_MILESTONES, MAX_MILESTONE_REWARDS};
use crate::money::{Currencies, Currency};
use crate::time::Timestamp;

use super::*;
use crate::id::Id;

impl MilestonesSet {
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
pub(crate) fn milestone_earnings_delta(kind: EntryKind, amount: Decimal) -> Decimal {
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

/// Activates a milestone set (see [`crate::rewards`]). Until the first one
/// is applied no milestone is evaluated.
///
/// ```json
/// {"type": "milestones_set", "at": "2026-01-01T00:00:00Z",
///  "counts": "purchased", "on_refund": "keep",
///  "milestones": [{"id": "first", "name": "First Referral",
///                  "metric": "qualified_referrals", "threshold": 1,
///                  "rewards": [{"bonus": {"amount": "10.00", "currency": "USD"}},
///                              {"perk": "badge"}]}]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MilestonesSet {
    /// The milestones; absent means the default set (the first
    /// programme's five milestones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestones: Option<Vec<MilestoneSpec>>,
    /// What makes a direct referral qualified: `"purchased"` (default: at
    /// least one sale not fully refunded) or `"joined"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<String>,
    /// What happens to an award when refunds push its metric back below the
    /// threshold: `"keep"` (default) or `"clawback"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_refund: Option<String>,
    /// When the set comes into force.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}

/// A bonus amount in one currency, as records show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BonusPaid {
    /// The amount, at the currency's scale.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
    /// The currency code.
    pub currency: String,
}

/// A member reached a milestone: recorded once, at the event that took the
/// metric to the threshold, with its bonuses (ledger `bonus` entries) and
/// the perks the host should grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Award {
    /// Who reached it.
    pub member: Id,
    /// The milestone's id.
    pub milestone: Id,
    /// Its name.
    pub name: Id,
    /// The metric it counts (`qualified_referrals`, …).
    pub metric: crate::rewards::Metric,
    /// Its threshold.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub threshold: Decimal,
    /// The metric's value after the event.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub value: Decimal,
    /// Bonuses credited (each a `bonus` ledger entry).
    pub bonuses: Arc<[BonusPaid]>,
    /// Perks for the host to grant.
    pub perks: Arc<[Id]>,
}

/// A refund took a member's metric back below a milestone it had reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MilestoneReversal {
    /// Whose award.
    pub member: Id,
    /// The milestone's id.
    pub milestone: Id,
    /// The metric's value after the refund.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub value: Decimal,
    /// What applied: `keep` (the award stands) or `clawback` (its bonuses
    /// were reversed by `bonus_reversal` entries; a later crossing awards
    /// it again).
    pub applied: crate::rewards::OnRefund,
    /// Bonuses reversed (empty under `keep`).
    pub reversed: Vec<BonusPaid>,
}
