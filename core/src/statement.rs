//! Statements: a member's ledger entries as a person reads them.
//!
//! This module owns the records [`Engine::statement`] returns (one
//! [`StatementLine`] per ledger entry, with where it comes from and its
//! state as of an instant), the opaque page cursor, and the CSV form of
//! statements and tax summaries. It computes nothing about money: the
//! engine fills the records (`engine/statement.rs`).
//!
//! # States, and how they add up to balances
//!
//! A *credit* line (commission, bonus, adjustment) starts a lot of money;
//! the hold, release and reversal lines of the same sale line (or the
//! bonus reversal of the same bonus) move or shrink that lot. As of `t`,
//! every line of a lot shows the lot's state: `held` while it is held,
//! else `pending` before its `available_at` and `available` from then on,
//! and `reversed` once nothing of it is left. Reversal lines always show
//! `reversed`. A credit line also gives `remaining`: its amount minus what
//! was clawed back by `t`. A payout reserve shows where its gross is:
//! `reserved`, `paid` once settled, `available` once failed (the money went
//! back); a settle line shows `paid`, a failed one `available`.
//!
//! So, for the entries dated at or before `t`, and in one currency:
//!
//! - `pending` = Σ `remaining` of credit lines in state `pending`;
//! - `held` = Σ `remaining` of credit lines in state `held`;
//! - `reserved` / `paid` = Σ `amount` of payout reserves in that state;
//! - `available` = Σ `remaining` of credit lines in state `available`
//!   − Σ `amount` of payout reserves in state `reserved` or `paid`,
//!
//! which are [`Engine::balances`] at `t` (property-tested). This holds when
//! each event's time is not before the times of the events it builds on
//! (a refund not dated before its sale, a settlement not before its batch),
//! as a host recording what happened does.
//!
//! [`Engine::statement`]: crate::Engine::statement
//! [`Engine::balances`]: crate::Engine::balances

use std::fmt::Write as _;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::ledger::EntryKind;
use crate::money::{Currency, Rate};
use crate::payout::TaxLine;
use crate::time::Timestamp;

/// What [`Engine::statement`](crate::Engine::statement) lists: the
/// member's entries in `currency` (all currencies when `None`) dated in
/// `[from, to)` (RFC 3339; open bounds reach the start and end of time)
/// and not after `as_of` (entries dated later are not on the books yet at
/// `as_of`; `None`: every entry, states as they stand now), after the
/// entry the cursor `after` names, at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementQuery {
    /// Only this currency.
    pub currency: Option<String>,
    /// Only entries dated at or after this instant.
    pub from: Option<String>,
    /// Only entries dated before this instant.
    pub to: Option<String>,
    /// The instant states are computed as of.
    pub as_of: Option<String>,
    /// The `next` cursor of the page before.
    pub after: Option<String>,
    /// Most entries on the page, 1 to
    /// [`MAX_STATEMENT_PAGE`](crate::limits::MAX_STATEMENT_PAGE).
    pub limit: usize,
}

impl Default for StatementQuery {
    fn default() -> Self {
        StatementQuery {
            currency: None,
            from: None,
            to: None,
            as_of: None,
            after: None,
            limit: crate::limits::DEFAULT_STATEMENT_PAGE,
        }
    }
}

/// What a statement line's money is doing as of the statement's `as_of`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryState {
    /// Inside its hold period.
    Pending,
    /// Matured, payable.
    Available,
    /// Frozen by a member hold or a fraud review.
    Held,
    /// In a prepared payout not yet settled or failed.
    Reserved,
    /// Paid out.
    Paid,
    /// Clawed back: nothing of it is left.
    Reversed,
}

impl EntryState {
    /// The snake_case name (`pending`, `available`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Available => "available",
            EntryState::Held => "held",
            EntryState::Reserved => "reserved",
            EntryState::Paid => "paid",
            EntryState::Reversed => "reversed",
        }
    }
}

/// What kind of thing a statement line comes from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceKind {
    /// A sale (its commission, the hold on it, the end of that hold).
    Sale,
    /// A refund (the reversal it made).
    Refund,
    /// A payout (reserve, settle, fail).
    Payout,
    /// A milestone award (its bonus, or the clawback of that bonus); the
    /// id is the milestone's.
    Award,
    /// A team challenge's reward share.
    Challenge,
    /// A fraud review's decision on a held sale; the id is the review's
    /// (the sale's id).
    Review,
    /// A manual adjustment.
    Adjustment,
}

impl SourceKind {
    /// The snake_case name (`sale`, `refund`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Sale => "sale",
            SourceKind::Refund => "refund",
            SourceKind::Payout => "payout",
            SourceKind::Award => "award",
            SourceKind::Challenge => "challenge",
            SourceKind::Review => "review",
            SourceKind::Adjustment => "adjustment",
        }
    }
}

/// Where a statement line comes from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The kind of thing.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// Its host id.
    pub id: Arc<str>,
}

/// One ledger entry of a member, as a statement shows it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    /// The entry's position in the ledger, from 0.
    pub seq: u64,
    /// What the entry records.
    pub kind: EntryKind,
    /// The amount moved, positive (the kind says which way).
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
    /// The currency.
    #[serde(serialize_with = "crate::money::serialize_code")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub currency: Currency,
    /// When it happened.
    pub at: Timestamp,
    /// When its money leaves pending.
    pub available_at: Timestamp,
    /// The sale, refund, payout, award, challenge or review it comes from.
    pub source: Source,
    /// The level paid, for commission lines.
    pub level: Option<u8>,
    /// The level's rate, for commission lines.
    pub rate: Option<Rate>,
    /// The amount the rate applied to, for commission lines.
    #[serde(serialize_with = "serialize_optional_decimal")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::wire::schema::Amount>")
    )]
    pub base: Option<Decimal>,
    /// Its state as of the statement's `as_of` (see the [module
    /// docs](self)).
    pub state: EntryState,
    /// For credit lines (commission, bonus, adjustment): the amount minus
    /// what was clawed back by `as_of`.
    #[serde(serialize_with = "serialize_optional_decimal")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::wire::schema::Amount>")
    )]
    pub remaining: Option<Decimal>,
}

/// One page of a member's statement.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// The member.
    pub member: Arc<str>,
    /// The instant the states are as of (`None`: after every entry).
    pub as_of: Option<Timestamp>,
    /// The entries, oldest first (by ledger position).
    pub entries: Vec<StatementLine>,
    /// Pass this as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

fn serialize_optional_decimal<S: serde::Serializer>(
    value: &Option<Decimal>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match value {
        Some(value) => crate::money::serialize_decimal(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// The cursor text naming ledger entry `seq`: opaque to hosts, who pass
/// it back unchanged.
pub(crate) fn encode_cursor(seq: u64) -> String {
    format!("e{seq:x}")
}

/// The ledger position a cursor names; `malformed` naming `after` if the
/// text is not one this module wrote.
pub(crate) fn decode_cursor(text: &str) -> Result<u64> {
    let bad = || {
        Error::new(
            ErrorKind::Malformed,
            "after",
            format!(
                "after {:?} is not a statement cursor",
                text.chars().take(40).collect::<String>()
            ),
        )
    };
    let hex = text.strip_prefix('e').ok_or_else(bad)?;
    if hex.is_empty()
        || hex.len() > 16
        || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        || (hex.len() > 1 && hex.starts_with('0'))
    {
        return Err(bad());
    }
    u64::from_str_radix(hex, 16).map_err(|_| bad())
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a
/// line break, with quotes doubled.
pub(crate) fn csv_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// The snake_case name of an entry kind, as in records
/// ([`EntryKind::as_str`]).
pub fn kind_name(kind: EntryKind) -> &'static str {
    kind.as_str()
}

fn optional<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

impl Statement {
    /// The page as CSV: a header row, then one row per entry, amounts as
    /// exact decimal strings, times in RFC 3339, empty cells for what a
    /// line does not have.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "seq,kind,amount,currency,at,available_at,source_type,source_id,level,rate,base,state,remaining\n",
        );
        for line in &self.entries {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},",
                line.seq,
                kind_name(line.kind),
                line.amount,
                line.currency.code(),
                line.at,
                line.available_at,
                line.source.kind.as_str()
            );
            csv_field(&mut out, &line.source.id);
            let _ = writeln!(
                out,
                ",{},{},{},{},{}",
                optional(line.level),
                optional(line.rate),
                optional(line.base),
                line.state.as_str(),
                optional(line.remaining),
            );
        }
        out
    }
}

/// A tax summary as CSV: the header `earner,currency,earned,paid,reaches_threshold`,
/// then one row per earner and currency, amounts as exact decimal strings
/// at the currency's scale.
pub fn tax_csv(lines: &[TaxLine]) -> String {
    let mut out = String::from("earner,currency,earned,paid,reaches_threshold\n");
    for line in lines {
        csv_field(&mut out, &line.earner);
        let _ = writeln!(
            out,
            ",{},{},{},{}",
            line.currency, line.earned, line.paid, line.reaches_threshold
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_malformed() {
        for seq in [0, 1, 255, u64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(seq)).ok(), Some(seq));
        }
        for bad in [
            "",
            "e",
            "x1",
            "e01",
            "eFF",
            "e-1",
            "e10000000000000000",
            "e1 ",
        ] {
            assert_eq!(
                decode_cursor(bad).map_err(|e| e.code()),
                Err("malformed"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn csv_fields_with_commas_and_quotes_are_quoted() {
        let mut out = String::new();
        csv_field(&mut out, "a,\"b\"");
        assert_eq!(out, "\"a,\"\"b\"\"\"");
    }
}
