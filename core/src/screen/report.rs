//! The backtest report: what candidate rules would match, hold, block and
//! flag against the rules in force (see [`crate::backtest`], which builds
//! it by replaying a history).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::*;

/// One rule's effect over a replayed history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleReport {
    /// The rule set's id.
    pub rules: String,
    /// The rule's id.
    pub rule: String,
    /// Its action.
    pub action: Option<Action>,
    /// Sales it matched.
    pub matches: u64,
    /// Lines it decided.
    pub lines: u64,
    /// Amounts it would hold, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub held: BTreeMap<String, Decimal>,
    /// Amounts it would block, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub blocked: BTreeMap<String, Decimal>,
    /// Amounts it would flag for review, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub reviewed: BTreeMap<String, Decimal>,
    /// Distinct earners whose lines it decided.
    pub earners: u64,
}

/// Totals of one replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Totals {
    /// Sales with at least one matching rule.
    pub sales_matched: u64,
    /// Held, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub held: BTreeMap<String, Decimal>,
    /// Blocked, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub blocked: BTreeMap<String, Decimal>,
    /// Flagged for review, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub reviewed: BTreeMap<String, Decimal>,
    /// Distinct earners with a held, blocked or flagged line.
    pub earners: u64,
}

/// What [`backtest`](crate::backtest) found: the candidate rules against the rules that
/// were in force when the history happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Report {
    /// The candidate rule set's id.
    pub candidate: String,
    /// Events replayed.
    pub events: u64,
    /// Sales replayed.
    pub sales: u64,
    /// Events the candidate replay refused (a review of a sale the
    /// candidate did not hold, say), left out of the figures.
    pub refused: u64,
    /// Per candidate rule, in rule order.
    pub rules: Vec<RuleReport>,
    /// The candidate's totals.
    pub candidate_totals: Totals,
    /// Per rule that was in force in the history.
    pub in_force: Vec<RuleReport>,
    /// The in-force totals.
    pub in_force_totals: Totals,
    /// Sales whose decision (rule and action per line) differs.
    pub sales_changed: u64,
    /// Candidate held minus in-force held, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub held_difference: BTreeMap<String, Decimal>,
    /// Candidate blocked minus in-force blocked, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub blocked_difference: BTreeMap<String, Decimal>,
}
