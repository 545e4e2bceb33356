//! Sale → distribution: the normative commission algorithm of DESIGN.md.
//!
//! Given the plan in force, the rate table for the sale's category and the
//! referral forest *as of the moment the event is applied*, [`calculate`]
//! walks the buyer's upline through the dense parent array and decides, for
//! every level of the table, either a line (earner, rate, amount) or an
//! unpaid entry with its reason. It is a pure function of its inputs, reads
//! no string, and writes into a caller-owned buffer so a batch of sales
//! allocates nothing per sale.
//!
//! Invariants (asserted here, property-tested in `tests/`): the lines plus
//! the retained amount equal the sale; every line is positive; no earner is
//! the buyer or appears twice; levels ascend; every level of the table
//! appears exactly once, as a line or as unpaid.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::graph::{Graph, MemberStatus, Node, NO_MEMBER};
use crate::money::{self, Currency, Rate};
use crate::plan::{Level, Plan};
use crate::time::Timestamp;

/// Why a level paid nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnpaidReason {
    /// The buyer has no ancestor for this level (or compression found none
    /// within `max_walk`).
    NoUpline,
    /// Compression off: the ancestor at this level is inactive, terminated
    /// or not qualified.
    Ineligible,
    /// The level's cap in this currency is zero.
    Capped,
    /// The line rounds to zero, or nothing of the sale is left.
    Zero,
    /// The sale is below the plan's `min_sale` (every level).
    BelowMinSale,
    /// The sale is past the buyer's commission window (every level).
    OutsideWindow,
}

/// One paid level, with the earner as a dense index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine {
    /// The earner's dense index.
    pub earner: u32,
    /// The level, from 1.
    pub level: u8,
    /// The level's rate.
    pub rate: Rate,
    /// The amount, at the currency's scale.
    pub amount: Decimal,
    /// Whether the earner was on hold (the line is credited as held).
    pub held: bool,
}

/// The result of one calculation: reuse it across sales.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calculation {
    /// Paid levels, ascending.
    pub lines: Vec<RawLine>,
    /// Unpaid levels with their reasons, ascending.
    pub unpaid: Vec<(u8, UnpaidReason)>,
    /// What the platform keeps: the sale minus the lines.
    pub retained: Decimal,
}

/// What the calculation needs to know about a sale.
#[derive(Debug, Clone, Copy)]
pub struct SaleInput {
    /// The buyer's dense index.
    pub buyer: u32,
    /// The sale amount (positive, at the currency's scale).
    pub amount: Decimal,
    /// The sale currency.
    pub currency: Currency,
    /// When the sale happened.
    pub at: Timestamp,
}

fn eligible(node: &Node, level: &Level) -> bool {
    node.status == MemberStatus::Active && node.active_directs >= level.min_active_directs()
}

/// Computes the distribution of `sale` under `plan` with rate table `table`.
pub fn calculate(
    plan: &Plan,
    table: &[Level],
    graph: &Graph,
    sale: SaleInput,
    out: &mut Calculation,
) -> Result<()> {
    out.lines.clear();
    out.unpaid.clear();
    out.retained = sale.amount;
    let everyone = |out: &mut Calculation, reason| {
        out.unpaid
            .extend((1..=table.len() as u8).map(|level| (level, reason)));
    };
    if plan
        .min_sale(sale.currency)
        .is_some_and(|min| sale.amount < min)
    {
        everyone(out, UnpaidReason::BelowMinSale);
        return Ok(());
    }
    if let Some(days) = plan.commission_window_days() {
        if sale.at >= graph.joined_at(sale.buyer).plus_days(days) {
            everyone(out, UnpaidReason::OutsideWindow);
            return Ok(());
        }
    }

    let nodes = graph.nodes();
    let mut cursor = nodes[sale.buyer as usize].parent;
    let mut walked = 0u32;
    let mut remaining = sale.amount;
    for (i, level) in table.iter().enumerate() {
        let level_no = (i + 1) as u8;
        let earner = if plan.compression() {
            loop {
                if cursor == NO_MEMBER || walked >= plan.max_walk() {
                    break None;
                }
                walked += 1;
                let candidate = cursor;
                let node = &nodes[candidate as usize];
                cursor = node.parent;
                if eligible(node, level) {
                    break Some((candidate, node.on_hold));
                }
            }
        } else if cursor == NO_MEMBER {
            None
        } else {
            let candidate = cursor;
            let node = &nodes[candidate as usize];
            cursor = node.parent;
            if !eligible(node, level) {
                out.unpaid.push((level_no, UnpaidReason::Ineligible));
                continue;
            }
            Some((candidate, node.on_hold))
        };
        let Some((earner, held)) = earner else {
            out.unpaid.push((level_no, UnpaidReason::NoUpline));
            continue;
        };
        let raw = money::mul(sale.amount, level.rate().value(), "amount")?;
        let mut amount = sale.currency.round(raw, plan.rounding(), "amount")?;
        let mut reason = UnpaidReason::Zero;
        if let Some(cap) = level.cap(sale.currency) {
            if cap < amount {
                amount = cap;
                reason = UnpaidReason::Capped;
            }
        }
        if amount > remaining {
            amount = remaining;
            reason = UnpaidReason::Zero;
        }
        if amount.is_zero() {
            out.unpaid.push((level_no, reason));
            continue;
        }
        remaining -= amount; // amount ≤ remaining: cannot underflow
        out.lines.push(RawLine {
            earner,
            level: level_no,
            rate: level.rate(),
            amount,
            held,
        });
    }
    out.retained = remaining;
    debug_assert_eq!(
        out.lines.iter().map(|l| l.amount).sum::<Decimal>() + out.retained,
        sale.amount
    );
    debug_assert_eq!(out.lines.len() + out.unpaid.len(), table.len());
    Ok(())
}
