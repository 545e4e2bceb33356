//! Challenges: compiling a `challenge_created` event, the challenge state
//! kept until it closes, and splitting a reward pool exactly (largest
//! remainder, ties to the smaller id).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::graph::Graph;
use crate::id::check_id;
use crate::id::Id;
use crate::money::{Currencies, Currency};
use crate::time::Timestamp;

use super::*;
use crate::money::DecimalText;

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
    pub(crate) event: ChallengeCreated,
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
    pub(crate) result: ChallengeResult,
}

impl ChallengeCreated {
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

/// A team challenge starts (see [`crate::rewards`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChallengeCreated {
    /// The challenge's id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The team: a leader and the levels below it that belong to it.
    pub team: TeamSpec,
    /// `"sales_volume"` (in the reward's currency), `"qualified_referrals"`
    /// or `"direct_referrals"` (new direct referrals joined).
    pub metric: String,
    /// Start of the half-open window `[from, to)`.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub from: String,
    /// End of the window (exclusive).
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub to: String,
    /// The team total that meets the challenge: a count, or an amount in
    /// the reward's currency for `sales_volume`.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "crate::wire::schema::CountOrAmount")
    )]
    pub target: DecimalText,
    /// What a met challenge pays.
    pub reward: BonusSpec,
    /// How the reward is split: `"leader"`, `"equal"` or `"pro_rata"`.
    pub split: String,
}

/// A team challenge ends; a met target pays its reward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChallengeClosed {
    /// The challenge's id.
    pub id: String,
    /// When it closes (progress counts up to `min(at, to)`).
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}

/// One member's share of a challenge reward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChallengeShare {
    /// Who.
    pub member: Id,
    /// The member's own progress.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub progress: Decimal,
    /// The share paid (a `bonus` ledger entry).
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
}

/// A closed challenge: its total, whether the target was met and, if so,
/// the exact split of the reward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChallengeResult {
    /// The challenge id.
    pub id: Id,
    /// The team total over `[from, min(closed_at, to))`.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub total: Decimal,
    /// The target.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub target: Decimal,
    /// Whether `total >= target`.
    pub met: bool,
    /// The reward's currency.
    pub currency: String,
    /// The shares paid, by member id (empty when not met, or when no team
    /// member could be paid).
    pub shares: Vec<ChallengeShare>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
