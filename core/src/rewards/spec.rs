//! The milestone vocabulary a host writes: metrics, what counts, what a
//! refund does, rewards and bonuses ([`MilestoneSpec`]), the default
//! milestone set, and parsing their counts and amounts.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{BonusPaid, MilestonesSet};
use crate::error::{Error, ErrorKind, Result};

use crate::money::{Currency, DecimalText};

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
    pub(crate) fn parse(text: &str, field: &str) -> Result<Metric> {
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
    /// Bonuses and perks, at most `limits::MAX_MILESTONE_REWARDS`.
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

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Error {
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
    pub(crate) event: MilestonesSet,
    pub(crate) seq: u64,
    pub(crate) milestones: Vec<Milestone>,
    pub(crate) counts: Counts,
    pub(crate) on_refund: OnRefund,
}

impl ActiveSet {
    pub(crate) fn uses(&self, metric: Metric) -> bool {
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
