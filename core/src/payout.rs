//! Payouts: profiles, batch policies, fees and tax summaries.
//!
//! A [`PayoutPolicy`] is data: per-currency minimums and per-method fees
//! (flat + percent of gross, rounded half-even to the currency, never above
//! the gross). The engine builds batches from available balances with it;
//! this module holds the rules for one item and the records of payouts.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::money::{self, Currencies, Currency, DecimalText, Rounding, Wide};
use crate::plan::Pairs;
use crate::time::Timestamp;

/// A method's fee: `flat + gross × percent / 100`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FeeSpec {
    /// A flat fee per payout (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat: Option<DecimalText>,
    /// A percentage of the gross, 0–100 (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<DecimalText>,
}

/// The policy of one payout batch, in wire form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutPolicy {
    /// Smallest available balance paid, per currency (none: any positive).
    #[serde(default)]
    pub minimum: Pairs<DecimalText>,
    /// Fees per payout method kind (none: free).
    #[serde(default)]
    pub fees: Pairs<FeeSpec>,
}

/// A fee, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    flat: Decimal,
    percent: Decimal,
}

impl Fee {
    /// The fee on `gross` in `currency`: half-even to the currency's minor
    /// units, never above the gross.
    pub fn on(&self, gross: Decimal, currency: Currency) -> Result<Decimal> {
        // flat + gross × percent / 100, exact, rounded once.
        let fee = Wide::of(gross)
            .mul(Wide::of(self.percent))
            .shift(2)
            .add(Wide::of(self.flat))
            .and_then(|fee| fee.round(u32::from(currency.minor_units()), Rounding::HalfEven))
            .ok_or_else(|| money::beyond("fee"))?;
        Ok(fee.min(gross))
    }
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    minimum: Vec<(Currency, Decimal)>,
    fees: Vec<(String, Fee)>,
}

impl Policy {
    /// The minimum in `currency` (zero when the policy names none).
    pub fn minimum(&self, currency: Currency) -> Option<Decimal> {
        self.minimum
            .iter()
            .find(|(c, _)| *c == currency)
            .map(|(_, m)| *m)
    }

    /// The fee of `method` (free when the policy names none).
    pub fn fee(&self, method: &str) -> Fee {
        self.fees
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, f)| *f)
            .unwrap_or(Fee {
                flat: Decimal::ZERO,
                percent: Decimal::ZERO,
            })
    }
}

fn non_negative(text: &DecimalText, field: &str, max: Option<Decimal>) -> Result<Decimal> {
    let value = money::parse_decimal(text.text(field)?, field, ErrorKind::InvalidAmount)?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(Error::new(
            ErrorKind::InvalidAmount,
            field,
            format!("{field} \"{value}\" is negative"),
        ));
    }
    if let Some(max) = max {
        if value > max {
            return Err(Error::new(
                ErrorKind::InvalidAmount,
                field,
                format!("{field} \"{value}\" is above {max}"),
            ));
        }
    }
    Ok(value)
}

impl PayoutPolicy {
    /// Validates the policy; fields are named `policy.minimum.USD`,
    /// `policy.fees.bank.percent`, ….
    pub fn validate(&self, currencies: &Currencies) -> Result<Policy> {
        let limit = crate::limits::MAX_POLICY_ENTRIES;
        if self.minimum.0.len() > limit || self.fees.0.len() > limit {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "policy",
                format!("a policy names at most {limit} currencies and {limit} methods"),
            ));
        }
        let mut minimum: Vec<(Currency, Decimal)> = Vec::new();
        for (code, text) in &self.minimum.0 {
            let field = format!("policy.minimum.{code}");
            let currency = currencies.get(code, &field)?;
            if minimum.iter().any(|(c, _)| *c == currency) {
                return Err(Error::new(
                    ErrorKind::DuplicateId,
                    field,
                    format!("{code} appears twice"),
                ));
            }
            let value = currency.exact(non_negative(text, &field, None)?, &field)?;
            minimum.push((currency, value));
        }
        let mut fees: Vec<(String, Fee)> = Vec::new();
        for (method, spec) in &self.fees.0 {
            let field = format!("policy.fees.{method}");
            crate::id::check_id(method, &field)?;
            if fees.iter().any(|(m, _)| m == method) {
                return Err(Error::new(
                    ErrorKind::DuplicateId,
                    field,
                    format!("{method:?} appears twice"),
                ));
            }
            let flat = match &spec.flat {
                Some(t) => non_negative(t, &format!("{field}.flat"), None)?,
                None => Decimal::ZERO,
            };
            let percent = match &spec.percent {
                Some(t) => {
                    non_negative(t, &format!("{field}.percent"), Some(Decimal::ONE_HUNDRED))?
                }
                None => Decimal::ZERO,
            };
            fees.push((method.clone(), Fee { flat, percent }));
        }
        Ok(Policy { minimum, fees })
    }
}

/// How a member is paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Profile {
    /// The method's kind.
    pub method: String,
    /// Whether it is verified.
    pub verified: bool,
}

/// Where a payout stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PayoutState {
    /// Reserved, awaiting settlement.
    Reserved,
    /// Paid.
    Settled {
        /// When.
        at: Timestamp,
        /// The host's reference.
        reference: String,
        /// The sequence number of the settling event.
        seq: u64,
    },
    /// Failed; the gross went back to available.
    Failed {
        /// When.
        at: Timestamp,
        /// Why.
        reason: String,
        /// The sequence number of the failing event.
        seq: u64,
    },
}

/// A prepared payout and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutRecord {
    /// The earner's dense index.
    pub earner: u32,
    /// The currency.
    pub currency: Currency,
    /// The amount reserved.
    pub gross: Decimal,
    /// The batch it belongs to.
    pub batch: std::sync::Arc<str>,
    /// Its state.
    pub state: PayoutState,
}

/// One line of a tax summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TaxLine {
    /// The earner.
    pub earner: std::sync::Arc<str>,
    /// The currency.
    pub currency: String,
    /// Commissions, bonuses and adjustments credited in the year, minus
    /// reversals in the year.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub earned: Decimal,
    /// Payouts settled in the year.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub paid: Decimal,
    /// Whether `paid` reaches the host's threshold for this currency
    /// (`false` when the host named none).
    pub reaches_threshold: bool,
}
