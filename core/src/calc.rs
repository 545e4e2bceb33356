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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Fraud screening blocked the line; the platform retains it.
    FraudBlocked,
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

/// Starts `out` for `sale`: clears it and applies the gates that pay no
/// level at all (minimum sale, commission window). Returns whether the
/// upline must be walked.
fn begin(
    plan: &Plan,
    table: &[Level],
    graph: &Graph,
    sale: &SaleInput,
    out: &mut Calculation,
) -> bool {
    out.lines.clear();
    out.unpaid.clear();
    out.retained = sale.amount;
    let gate = if plan
        .min_sale(sale.currency)
        .is_some_and(|min| sale.amount < min)
    {
        Some(UnpaidReason::BelowMinSale)
    } else {
        plan.commission_window_days()
            .filter(|&days| sale.at >= graph.joined_at(sale.buyer).plus_days(days))
            .map(|_| UnpaidReason::OutsideWindow)
    };
    match gate {
        Some(reason) => {
            out.unpaid
                .extend((1..=table.len() as u8).map(|level| (level, reason)));
            false
        }
        None => true,
    }
}

/// `round(amount × rate)` at the currency's scale in integer arithmetic:
/// the same value and scale as `Decimal` multiplication followed by
/// [`Currency::round`], several times faster. A sale amount is a 96-bit
/// mantissa and a rate has at most [`Rate::MAX_DECIMALS`] decimals, so the
/// product fits an `i128` with room to spare. `None` (the caller falls back
/// to `Decimal`) only for an amount not at the currency's scale or a rate
/// outside that form, which validated inputs never are.
fn line_amount(
    amount: Decimal,
    currency: Currency,
    rate: Rate,
    rounding: money::Rounding,
) -> Option<Decimal> {
    let scale = amount.scale();
    let rate = rate.value();
    if scale != u32::from(currency.minor_units())
        || amount.is_sign_negative()
        || rate.is_sign_negative()
        || rate.scale() > 9
    {
        return None;
    }
    let product = amount.mantissa().checked_mul(rate.mantissa())?;
    let divisor = 10i128.pow(rate.scale());
    let (quotient, remainder) = (product / divisor, product % divisor);
    let up = match rounding {
        money::Rounding::Down => false,
        money::Rounding::HalfUp => 2 * remainder >= divisor,
        money::Rounding::HalfEven => {
            2 * remainder > divisor || (2 * remainder == divisor && quotient % 2 == 1)
        }
    };
    Decimal::try_from_i128_with_scale(quotient + i128::from(up), scale).ok()
}

/// Pays level `level_no` to `earner` (or records why it pays nothing):
/// `min(round(A × rate), cap, what is left of A)`.
fn pay(
    plan: &Plan,
    level: &Level,
    level_no: u8,
    sale: &SaleInput,
    earner: Option<(u32, bool)>,
    out: &mut Calculation,
) -> Result<()> {
    let Some((earner, held)) = earner else {
        out.unpaid.push((level_no, UnpaidReason::NoUpline));
        return Ok(());
    };
    let mut amount = match line_amount(sale.amount, sale.currency, level.rate(), plan.rounding()) {
        Some(amount) => amount,
        None => money::Wide::of(sale.amount)
            .mul(money::Wide::of(level.rate().value()))
            .round(u32::from(sale.currency.minor_units()), plan.rounding())
            .ok_or_else(|| money::beyond("amount"))?,
    };
    let mut reason = UnpaidReason::Zero;
    if let Some(cap) = level.cap(sale.currency) {
        if cap < amount {
            amount = cap;
            reason = UnpaidReason::Capped;
        }
    }
    if amount > out.retained {
        amount = out.retained;
        reason = UnpaidReason::Zero;
    }
    if amount.is_zero() {
        out.unpaid.push((level_no, reason));
        return Ok(());
    }
    out.retained -= amount; // amount ≤ retained: cannot underflow
    out.lines.push(RawLine {
        earner,
        level: level_no,
        rate: level.rate(),
        amount,
        held,
    });
    Ok(())
}

/// Compression off: level `k` goes to the `k`-th ancestor if eligible.
/// Returns the next cursor; `None` earner means no ancestor (`no_upline`),
/// and an ineligible ancestor is recorded here.
fn step_fixed(
    nodes: &[Node],
    cursor: u32,
    level: &Level,
    level_no: u8,
    out: &mut Calculation,
) -> (u32, Option<Option<(u32, bool)>>) {
    if cursor == NO_MEMBER {
        return (NO_MEMBER, Some(None));
    }
    let node = &nodes[cursor as usize];
    if eligible(node, level) {
        (node.parent, Some(Some((cursor, node.on_hold))))
    } else {
        out.unpaid.push((level_no, UnpaidReason::Ineligible));
        (node.parent, None)
    }
}

fn check(sale: &SaleInput, table: &[Level], out: &Calculation) {
    debug_assert_eq!(
        out.lines.iter().map(|l| l.amount).sum::<Decimal>() + out.retained,
        sale.amount
    );
    debug_assert_eq!(out.lines.len() + out.unpaid.len(), table.len());
}

/// Computes the distribution of `sale` under `plan` with rate table `table`.
pub fn calculate(
    plan: &Plan,
    table: &[Level],
    graph: &Graph,
    sale: SaleInput,
    out: &mut Calculation,
) -> Result<()> {
    if !begin(plan, table, graph, &sale, out) {
        return Ok(());
    }
    let nodes = graph.nodes();
    let mut cursor = nodes[sale.buyer as usize].parent;
    let mut walked = 0u32;
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
        } else {
            let (next, decided) = step_fixed(nodes, cursor, level, level_no, out);
            cursor = next;
            match decided {
                Some(earner) => earner,
                None => continue,
            }
        };
        pay(plan, level, level_no, &sale, earner, out)?;
    }
    check(&sale, table, out);
    Ok(())
}

/// How many sales [`calculate_batch`] walks in lockstep.
const LOCKSTEP: usize = 16;

/// Computes the distributions of many sales under one plan and table, with
/// the same results as [`calculate`] on each. Without compression, the
/// uplines of up to 16 sales are walked in lockstep, level by level, so the
/// memory loads of different sales overlap instead of waiting on each
/// other: at a million members each level of a walk is a cache miss.
pub fn calculate_batch(
    plan: &Plan,
    table: &[Level],
    graph: &Graph,
    sales: &[SaleInput],
    out: &mut Vec<Calculation>,
) -> Result<()> {
    out.resize_with(sales.len(), Calculation::default);
    if plan.compression() {
        for (sale, result) in sales.iter().zip(out.iter_mut()) {
            calculate(plan, table, graph, *sale, result)?;
        }
        return Ok(());
    }
    let nodes = graph.nodes();
    for (group, results) in sales.chunks(LOCKSTEP).zip(out.chunks_mut(LOCKSTEP)) {
        let mut cursors = [NO_MEMBER; LOCKSTEP];
        let mut walking = [false; LOCKSTEP];
        for (j, (sale, result)) in group.iter().zip(results.iter_mut()).enumerate() {
            walking[j] = begin(plan, table, graph, sale, result);
            cursors[j] = nodes[sale.buyer as usize].parent;
        }
        for (i, level) in table.iter().enumerate() {
            let level_no = (i + 1) as u8;
            // A tight gather first: its loads are independent, so the CPU
            // issues them together; the arithmetic below then hits cache.
            let mut loaded = [None; LOCKSTEP];
            for j in 0..group.len() {
                if walking[j] && cursors[j] != NO_MEMBER {
                    loaded[j] = Some(nodes[cursors[j] as usize]);
                }
            }
            for (j, (sale, result)) in group.iter().zip(results.iter_mut()).enumerate() {
                if !walking[j] {
                    continue;
                }
                let earner = match loaded[j] {
                    None => None,
                    Some(node) => {
                        let member = cursors[j];
                        cursors[j] = node.parent;
                        if !eligible(&node, level) {
                            result.unpaid.push((level_no, UnpaidReason::Ineligible));
                            continue;
                        }
                        Some((member, node.on_hold))
                    }
                };
                pay(plan, level, level_no, sale, earner, result)?;
            }
        }
        for (sale, result) in group.iter().zip(results.iter()) {
            check(sale, table, result);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currencies, Rounding};

    /// The integer path agrees with `Decimal` multiplication and rounding,
    /// value and scale, on halves, near-halves, big amounts and every mode.
    #[test]
    fn line_amount_agrees_with_decimal_arithmetic() {
        let currencies = Currencies::default();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let rates = [
            "0.2", "0.15", "0.125", "0.05", "0.000001", "0.333333", "1", "0",
        ];
        for code in ["USD", "JPY", "KWD"] {
            let currency = currencies.get(code, "currency").unwrap();
            let scale = u32::from(currency.minor_units());
            for i in 0..20_000u64 {
                let mantissa = match i % 4 {
                    0 => i64::from(next() as u16),
                    1 => (next() % 1_000_000_000) as i64,
                    2 => (i as i64) * 5,
                    _ => (next() >> 4) as i64,
                };
                let amount = Decimal::new(mantissa.max(1), scale);
                let rate = Rate::parse(rates[(i % rates.len() as u64) as usize], "rate").unwrap();
                for rounding in [Rounding::HalfEven, Rounding::HalfUp, Rounding::Down] {
                    let fast = line_amount(amount, currency, rate, rounding).unwrap();
                    let slow = money::Wide::of(amount)
                        .mul(money::Wide::of(rate.value()))
                        .round(u32::from(currency.minor_units()), rounding)
                        .unwrap();
                    assert_eq!(fast, slow, "{amount} × {rate} {rounding:?}");
                    assert_eq!(fast.scale(), slow.scale(), "{amount} × {rate}");
                }
            }
        }
    }
}
