//! Events in (what happened) and records out (what it produced).
//!
//! Events are the wire form a host sends: serde structs tagged by `"type"`
//! in snake_case, ids as strings, money and rates as decimal strings, times
//! as RFC 3339 strings. They are decoded leniently enough that validation,
//! not decoding, refuses a bad amount or a naive time with the precise code
//! (`invalid_amount`, `invalid_time`); anything that does not have the
//! shape of an event at all is `malformed`. Unknown fields are refused.
//!
//! [`Applied`] is what an applied event returns: its sequence number, its
//! audit hash, and the records it produced (a distribution, reversals, a
//! payout batch, ledger entries).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calc::UnpaidReason;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::MemberStatus;
use crate::ledger::EntryKind;
use crate::money::{Currency, DecimalText, Rate};
use crate::payout::PayoutPolicy;
use crate::plan::PlanSpec;

pub use crate::id::Id;
pub use crate::rewards::{
    Award, BonusPaid, ChallengeClosed, ChallengeCreated, ChallengeResult, ChallengeShare,
    MilestoneReversal, MilestonesSet,
};
pub use crate::screen::{ScreeningRulesSet, Signals};

/// A member joins, optionally under a sponsor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberJoined {
    /// The new member's id.
    pub member: String,
    /// The sponsor's id, or `null` for a root. Required: a missing
    /// `sponsor` is `malformed`, so a forgotten field never makes a root.
    #[serde(deserialize_with = "required_nullable")]
    pub sponsor: Option<String>,
    /// When the member joined.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
    /// What the host observed at sign-up, for fraud screening (an
    /// extension field; see [`Signals`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
}

/// A member becomes active, inactive or terminated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberStatusChanged {
    /// The member.
    pub member: String,
    /// The new status.
    pub status: MemberStatus,
    /// When.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}

/// A member is moved under another sponsor (affects later events only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SponsorChanged {
    /// The member that moves.
    pub member: String,
    /// The new sponsor.
    pub sponsor: String,
    /// Why (kept for the audit trail).
    pub reason: String,
    /// When.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}

/// A member's earnings start or stop being credited as held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberHoldSet {
    /// The member.
    pub member: String,
    /// `true` to hold, `false` to release everything held.
    pub on: bool,
    /// Why.
    pub reason: String,
    /// When.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}

/// A plan comes into force for sales from `effective_from` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanActivated {
    /// The plan.
    pub plan: PlanSpec,
    /// The first instant whose sales use it.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub effective_from: String,
}

/// The host registers a currency of its own (tokens, points).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CurrencyRegistered {
    /// The code: 3–12 upper-case ASCII letters or digits.
    pub currency: String,
    /// Digits after the decimal point, 0–18.
    pub minor_units: u8,
}

/// A sale by a member; pays commissions up the buyer's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleRecorded {
    /// The sale's id.
    pub sale: String,
    /// The buyer.
    pub buyer: String,
    /// The amount, a positive decimal string exact in the currency.
    pub amount: DecimalText,
    /// The currency code.
    pub currency: String,
    /// When the sale happened (selects the plan in force).
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
    /// The product category (selects an override table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// What the host observed at checkout, for fraud screening (an
    /// extension field; see [`Signals`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
    /// Pays the commissions in another currency at the host's rate (an
    /// extension field; see [`Fx`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fx: Option<Fx>,
}

/// Paying a sale's commissions in another currency (DESIGN.md, "Paying in
/// another currency").
///
/// The commission base is `round(amount × rate)` in `currency`, with the
/// plan's rounding at that currency's minor units; lines, caps, `min_sale`
/// and `retained` are in `currency`. The rate is the host's: the core never
/// looks one up. Refunds stay in the sale's currency and reverse the
/// converted lines pro rata (`refunded_total / amount`), so a full refund
/// reverses exactly.
///
/// Errors: a rate ≤ 0 is `invalid_amount`; an unknown `currency`, or the
/// sale's own, is `invalid_currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Fx {
    /// The currency the commissions are paid in.
    pub currency: String,
    /// Units of `currency` per unit of the sale's currency, a positive
    /// decimal string.
    pub rate: DecimalText,
}

/// How a fraud review ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// The held lines go back to the normal flow.
    Release,
    /// The held lines are reversed (the platform keeps them).
    Reverse,
}

/// A support agent resolves the fraud review of a sale whose lines
/// screening held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FraudReviewResolved {
    /// The review: the id of the sale that was held.
    pub review: String,
    /// Release or reverse the held lines.
    pub decision: ReviewDecision,
    /// When.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
    /// Why (kept for the audit trail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A (partial) refund of a sale; claws commissions back in proportion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RefundRecorded {
    /// The refund's id.
    pub refund: String,
    /// The sale refunded.
    pub sale: String,
    /// The amount refunded by this refund.
    pub amount: DecimalText,
    /// When.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}

/// How a member is paid: the method's kind and whether it is verified.
/// Bank details and wallet addresses stay in the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutProfileSet {
    /// The member.
    pub member: String,
    /// The method's kind (`bank`, `crypto`, `instant`, …).
    pub method: String,
    /// Whether the host verified it.
    pub verified: bool,
}

/// Builds a payout batch from balances available at `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutsPrepared {
    /// The batch id; payout ids are `{batch}:{earner}:{currency}`.
    pub batch: String,
    /// The instant whose available balances are paid.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub as_of: String,
    /// Minimums and fees.
    pub policy: PayoutPolicy,
}

/// A prepared payout was paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutSettled {
    /// The payout id.
    pub payout: String,
    /// When.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
    /// The host's reference (a wire id, a transaction hash).
    pub reference: String,
}

/// A prepared payout failed; its amount returns to available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutFailed {
    /// The payout id.
    pub payout: String,
    /// Why.
    pub reason: String,
    /// When.
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}

/// Everything that can happen, tagged by `"type"` on the wire.
///
/// ```
/// use upline::Event;
///
/// let event = Event::from_json(r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#)?;
/// assert!(matches!(event, Event::MemberJoined(_)));
/// assert_eq!(Event::from_json(r#"{"type":"nope"}"#).unwrap_err().code(), "malformed");
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// See [`MemberJoined`].
    MemberJoined(MemberJoined),
    /// See [`MemberStatusChanged`].
    MemberStatusChanged(MemberStatusChanged),
    /// See [`SponsorChanged`].
    SponsorChanged(SponsorChanged),
    /// See [`MemberHoldSet`].
    MemberHoldSet(MemberHoldSet),
    /// See [`PlanActivated`].
    PlanActivated(PlanActivated),
    /// See [`CurrencyRegistered`].
    CurrencyRegistered(CurrencyRegistered),
    /// See [`SaleRecorded`].
    SaleRecorded(SaleRecorded),
    /// See [`RefundRecorded`].
    RefundRecorded(RefundRecorded),
    /// See [`PayoutProfileSet`].
    PayoutProfileSet(PayoutProfileSet),
    /// See [`PayoutsPrepared`].
    PayoutsPrepared(PayoutsPrepared),
    /// See [`PayoutSettled`].
    PayoutSettled(PayoutSettled),
    /// See [`PayoutFailed`].
    PayoutFailed(PayoutFailed),
    /// See [`MilestonesSet`].
    MilestonesSet(MilestonesSet),
    /// See [`ChallengeCreated`].
    ChallengeCreated(ChallengeCreated),
    /// See [`ChallengeClosed`].
    ChallengeClosed(ChallengeClosed),
    /// See [`ScreeningRulesSet`].
    ScreeningRulesSet(ScreeningRulesSet),
    /// See [`FraudReviewResolved`].
    FraudReviewResolved(FraudReviewResolved),
}

impl Event {
    /// Decodes one event from JSON text (at most
    /// [`MAX_JSON_BYTES`](crate::limits::MAX_JSON_BYTES)).
    pub fn from_json(text: &str) -> Result<Event> {
        check_json_size(text.len())?;
        serde_json::from_str(text).map_err(|err| malformed_text(text, err))
    }

    /// Decodes one event from a JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Event> {
        Event::deserialize(&value).map_err(|err| malformed_value(&value, err))
    }

    /// The snake_case `type` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::MemberJoined(_) => "member_joined",
            Event::MemberStatusChanged(_) => "member_status_changed",
            Event::SponsorChanged(_) => "sponsor_changed",
            Event::MemberHoldSet(_) => "member_hold_set",
            Event::PlanActivated(_) => "plan_activated",
            Event::CurrencyRegistered(_) => "currency_registered",
            Event::SaleRecorded(_) => "sale_recorded",
            Event::RefundRecorded(_) => "refund_recorded",
            Event::PayoutProfileSet(_) => "payout_profile_set",
            Event::PayoutsPrepared(_) => "payouts_prepared",
            Event::PayoutSettled(_) => "payout_settled",
            Event::PayoutFailed(_) => "payout_failed",
            Event::MilestonesSet(_) => "milestones_set",
            Event::ChallengeCreated(_) => "challenge_created",
            Event::ChallengeClosed(_) => "challenge_closed",
            Event::ScreeningRulesSet(_) => "screening_rules_set",
            Event::FraudReviewResolved(_) => "fraud_review_resolved",
        }
    }
}

fn required_nullable<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)
}

pub(crate) fn check_json_size(len: usize) -> Result<()> {
    if len > crate::limits::MAX_JSON_BYTES {
        return Err(Error::general(
            ErrorKind::LimitExceeded,
            format!(
                "the JSON input is {len} bytes; the limit is {}",
                crate::limits::MAX_JSON_BYTES
            ),
        ));
    }
    Ok(())
}

pub(crate) fn malformed(err: serde_json::Error) -> Error {
    Error::general(ErrorKind::Malformed, format!("undecodable event: {err}"))
}

/// `malformed` for event JSON `text` that did not decode, naming the field
/// that failed (as a path: `plan.levels[0].rate`) where one can be found.
pub(crate) fn malformed_text(text: &str, err: serde_json::Error) -> Error {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => malformed_value(&value, err),
        Err(_) => malformed(err),
    }
}

/// `malformed` for an event JSON value that did not decode (`err`), naming
/// the field that failed where one can be found.
///
/// serde decodes an internally tagged enum from a buffer that keeps no
/// path, so its errors never say which field was wrong ("invalid type:
/// string \"yes\", expected a boolean"). Only on this error path, the
/// value is decoded again as its variant's own struct with the path
/// tracked.
pub(crate) fn malformed_value(value: &serde_json::Value, err: serde_json::Error) -> Error {
    let (path, reason) = match locate(value) {
        Located::Field(path, reason) => (path, reason),
        Located::Type => {
            return Error::new(
                ErrorKind::Malformed,
                "type",
                format!("undecodable event: type: {err}"),
            )
        }
        Located::Nowhere => return malformed(err),
    };
    // A missing field is named by the message, not the path (serde's
    // wording: "missing field `amount`").
    let missing = reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'));
    let field = match (path.as_str(), missing) {
        (".", Some(name)) => name.to_string(),
        (_, Some(name)) => format!("{path}.{name}"),
        (".", None) => return malformed(err),
        (_, None) => path.clone(),
    };
    let message = match path.as_str() {
        "." => format!("undecodable event: {reason}"),
        _ => format!("undecodable event: {path}: {reason}"),
    };
    Error::new(ErrorKind::Malformed, &field, message)
}

/// Where an event fails to decode.
enum Located {
    /// At this path (`.` for the event itself), for this reason.
    Field(String, String),
    /// Its `type` is missing, not a string or not an event's.
    Type,
    /// Not an object, or it decodes as its variant's struct.
    Nowhere,
}

/// Where and why `value` fails to decode as the event its `type` names.
fn locate(value: &serde_json::Value) -> Located {
    fn fails<T: serde::de::DeserializeOwned>(fields: serde_json::Value) -> Located {
        match serde_path_to_error::deserialize::<_, T>(fields) {
            Ok(_) => Located::Nowhere,
            Err(err) => Located::Field(err.path().to_string(), err.into_inner().to_string()),
        }
    }
    let Some(object) = value.as_object() else {
        return Located::Nowhere;
    };
    let mut fields = object.clone();
    let Some(serde_json::Value::String(kind)) = fields.remove("type") else {
        return Located::Type;
    };
    let fields = serde_json::Value::Object(fields);
    macro_rules! variants {
        ($($tag:literal => $ty:ty),* $(,)?) => {
            match kind.as_str() {
                $($tag => fails::<$ty>(fields),)*
                _ => Located::Type,
            }
        };
    }
    variants! {
        "member_joined" => MemberJoined,
        "member_status_changed" => MemberStatusChanged,
        "sponsor_changed" => SponsorChanged,
        "member_hold_set" => MemberHoldSet,
        "plan_activated" => PlanActivated,
        "currency_registered" => CurrencyRegistered,
        "sale_recorded" => SaleRecorded,
        "refund_recorded" => RefundRecorded,
        "payout_profile_set" => PayoutProfileSet,
        "payouts_prepared" => PayoutsPrepared,
        "payout_settled" => PayoutSettled,
        "payout_failed" => PayoutFailed,
        "milestones_set" => MilestonesSet,
        "challenge_created" => ChallengeCreated,
        "challenge_closed" => ChallengeClosed,
        "screening_rules_set" => ScreeningRulesSet,
        "fraud_review_resolved" => FraudReviewResolved,
    }
}

/// One paid level of a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Line {
    /// Who earns it.
    pub earner: Id,
    /// The level, from 1.
    pub level: u8,
    /// The level's rate.
    pub rate: Rate,
    /// The sale amount the rate applied to.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub base: Decimal,
    /// The commission, at the currency's scale.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
    /// Whether it was credited as held (the earner was on hold).
    pub held: bool,
}

/// One level that paid nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Unpaid {
    /// The level, from 1.
    pub level: u8,
    /// Why it paid nothing.
    pub reason: UnpaidReason,
}

/// How a sale was split: lines up the upline, and what the platform kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Distribution {
    /// The sale id.
    pub sale: Id,
    /// The plan used.
    pub plan: String,
    /// Its version.
    pub plan_version: u32,
    /// The sale currency.
    #[serde(serialize_with = "crate::money::serialize_code")]
    pub currency: Currency,
    /// The sale amount.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
    /// Paid levels, ascending.
    pub lines: Vec<Line>,
    /// The sale minus the lines.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub retained: Decimal,
    /// Levels that paid nothing, ascending.
    pub unpaid: Vec<Unpaid>,
    /// Milestones this sale made members reach (an extension field: absent
    /// when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awards: Vec<Award>,
    /// What fraud screening decided, when a rule matched (an extension
    /// field: absent for sales no rule matched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screening: Option<crate::screen::Decision>,
    /// The conversion, for a sale paid in another currency (an extension
    /// field: absent otherwise). Lines, their `base` and `retained` are
    /// then in `fx.currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fx: Option<Conversion>,
}

/// How a sale paid in another currency was converted (see [`Fx`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Conversion {
    /// The currency the lines are paid in.
    #[serde(serialize_with = "crate::money::serialize_code")]
    pub currency: Currency,
    /// The host's rate, normalised.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub rate: Decimal,
    /// The commission base: `round(amount × rate)` in `currency`.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub base: Decimal,
}

/// The part of one line a refund reversed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Reversal {
    /// Whose line.
    pub earner: Id,
    /// The line's level.
    pub level: u8,
    /// Reversed by this refund.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
}

/// A refund's effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RefundOutcome {
    /// The refund id.
    pub refund: Id,
    /// The sale refunded.
    pub sale: Id,
    /// Reversals by this refund (lines that reverse nothing are left out).
    pub reversals: Vec<Reversal>,
    /// All refunds of the sale so far, this one included.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub refunded_total: Decimal,
    /// Milestones this refund pushed back below their threshold, and
    /// whether the award was kept or clawed back (an extension field:
    /// absent when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestone_reversals: Vec<MilestoneReversal>,
}

/// One payout of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PayoutItem {
    /// `{batch}:{earner}:{currency}`.
    pub payout: Id,
    /// Who is paid.
    pub earner: Id,
    /// The currency.
    pub currency: String,
    /// The amount reserved from available.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub gross: Decimal,
    /// The method's fee (never above the gross).
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub fee: Decimal,
    /// Gross minus fee.
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub net: Decimal,
    /// The payout method's kind.
    pub method: String,
}

/// Why an account was left out of a batch (DESIGN.md, "Payouts and tax
/// summaries"): the first reason that applies, in the order declared here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Available is below zero: a debt from a clawback, recovered from
    /// later earnings before any new payout.
    NegativeBalance,
    /// The earner is on hold, or all it has is held.
    OnHold,
    /// Available is below the policy's minimum for the currency.
    BelowMinimum,
    /// The earner has no verified payout profile.
    NoVerifiedProfile,
    /// The method's fee would take the whole gross: no item with a net of
    /// zero is ever made.
    BelowFee,
}

/// An earner left out of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Skipped {
    /// Who.
    pub earner: Id,
    /// In which currency.
    pub currency: String,
    /// Why.
    pub reason: SkipReason,
}

/// A prepared payout batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Batch {
    /// The batch id.
    pub batch: Id,
    /// The instant whose available balances were paid.
    pub as_of: crate::time::Timestamp,
    /// Payouts, by earner id then currency.
    pub items: Vec<PayoutItem>,
    /// Earners left out, by earner id then currency.
    pub skipped: Vec<Skipped>,
}

/// One ledger entry, as records show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EntryRecord {
    /// Position in the ledger, from 0.
    pub seq: u64,
    /// When it happened.
    pub at: crate::time::Timestamp,
    /// Whose balance it moves.
    pub earner: Id,
    /// The currency.
    #[serde(serialize_with = "crate::money::serialize_code")]
    pub currency: Currency,
    /// What kind of movement.
    pub kind: EntryKind,
    /// The amount moved (positive; the kind says which way).
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
    /// When it leaves pending (commissions, reversals, releases).
    pub available_at: crate::time::Timestamp,
    /// The sale, refund or payout it belongs to.
    pub reference: Id,
}

/// What an event produced beyond the ledger entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Nothing beyond the state change.
    None,
    /// A sale's distribution.
    Distribution(Distribution),
    /// A refund's reversals.
    Refund(RefundOutcome),
    /// A payout batch.
    Batch(Batch),
    /// Milestones a join made members reach.
    Awards(Vec<Award>),
    /// A closed challenge.
    Challenge(ChallengeResult),
}

/// The result of applying one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The event's sequence number in the audit chain (from 1).
    pub seq: u64,
    /// The audit hash after this event.
    pub hash: crate::audit::Hash,
    /// Whether this was an idempotent retry of an event already applied
    /// (nothing changed; `seq`, `hash` and records are the original ones).
    pub replayed: bool,
    /// The records.
    pub outcome: Outcome,
    /// The ledger entries the event wrote (empty for retries).
    pub entries: Vec<EntryRecord>,
}

impl Applied {
    /// The JSON form hosts and the shared vectors see:
    /// `{"seq", "hash", "distribution"? , "reversals"?, "refunded_total"?,
    /// "batch"?, "entries"}`.
    pub fn to_json_value(&self) -> serde_json::Value {
        // Records hold only strings, integers, booleans and decimals (which
        // serialize as strings): serialization cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The lean form: only the event's place in the audit chain,
    /// `{"seq", "hash", "replayed"?}`.
    pub fn lean(&self) -> Lean<'_> {
        Lean(self)
    }
}

impl Serialize for Applied {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("hash", &self.hash)?;
        if self.replayed {
            map.serialize_entry("replayed", &true)?;
        }
        match &self.outcome {
            Outcome::None => {}
            Outcome::Distribution(d) => map.serialize_entry("distribution", d)?,
            Outcome::Refund(r) => {
                map.serialize_entry("refund", &r.refund)?;
                map.serialize_entry("sale", &r.sale)?;
                map.serialize_entry("reversals", &r.reversals)?;
                map.serialize_entry("refunded_total", &r.refunded_total)?;
                if !r.milestone_reversals.is_empty() {
                    map.serialize_entry("milestone_reversals", &r.milestone_reversals)?;
                }
            }
            Outcome::Batch(b) => map.serialize_entry("batch", b)?,
            Outcome::Awards(a) => map.serialize_entry("awards", a)?,
            Outcome::Challenge(c) => map.serialize_entry("challenge", c)?,
        }
        map.serialize_entry("entries", &self.entries)?;
        map.end()
    }
}

/// See [`Applied::lean`].
#[derive(Debug, Clone, Copy)]
pub struct Lean<'a>(&'a Applied);

impl Serialize for Lean<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("seq", &self.0.seq)?;
        map.serialize_entry("hash", &self.0.hash)?;
        if self.0.replayed {
            map.serialize_entry("replayed", &true)?;
        }
        map.end()
    }
}

/// An error as a batch slot shows it: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Clone, Copy)]
pub struct ErrorSlot<'a>(pub &'a Error);

impl Serialize for ErrorSlot<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
            field: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        Outer {
            error: Inner {
                code: self.0.code(),
                message: self.0.message(),
                field: self.0.field(),
            },
        }
        .serialize(s)
    }
}
