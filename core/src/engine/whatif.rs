//! What-if: the engine's own sales in `[from, to)` replayed under a
//! candidate plan, calculation only. Nothing in the engine changes.
//!
//! For each sale in the period, the *in force* side is what its recorded
//! distribution paid (the lines as credited at the sale, before refunds),
//! and the *candidate* side is the calculation under the candidate plan
//! (its table for the sale's category) on today's network. Lines fraud
//! screening blocked stay blocked under the candidate: the same levels pay
//! nothing. So under the plan in force every difference is zero unless the
//! network changed since the sale (a sponsor change, a status change, a
//! hold): what-if answers "what would this plan pay for these sales, for
//! the network as it is".
//!
//! The report gives, per earner and currency, both sides and the
//! difference; per level and currency, both totals; the largest gains and
//! losses; and how many sales the candidate changed (a line added, removed,
//! moved to another earner or of another amount). Long runs call a
//! progress callback every `every` sales; returning `false` stops the run,
//! and the report covers the sales seen so far (`complete` is false).
//!
//! Sales are calculated in groups that share a rate table, uplines walked
//! in lockstep ([`calc::calculate_batch`]); the sums are kept in minor
//! units in arrays indexed by member, 32 bytes a member for each currency
//! the period's sales use, for the length of the run.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::{Engine, SaleRecord};
use crate::calc::{self, Calculation, SaleInput, UnpaidReason};
use crate::error::Result;
use crate::money::Currency;
use crate::plan::PlanSpec;
use crate::time::Timestamp;

/// Knobs of a what-if run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhatIfOptions {
    /// How many of the largest gains (and of the largest losses) to report.
    pub top: usize,
    /// The progress callback runs after every `every` sales (at least 1).
    pub every: u64,
}

impl Default for WhatIfOptions {
    fn default() -> Self {
        WhatIfOptions {
            top: 10,
            every: 100_000,
        }
    }
}

/// One earner's (or one level's) amounts in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    /// Paid under the plan in force (as recorded).
    pub in_force: Decimal,
    /// Under the candidate plan.
    pub candidate: Decimal,
}

impl Compared {
    /// `candidate - in_force`.
    pub fn difference(&self) -> Decimal {
        self.candidate - self.in_force
    }
}

/// One earner's comparison in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarnerComparison {
    /// The earner.
    pub earner: Arc<str>,
    /// The currency.
    pub currency: Currency,
    /// Both sides.
    pub amounts: Compared,
}

/// One level's totals in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelComparison {
    /// The level, from 1.
    pub level: u8,
    /// The currency.
    pub currency: Currency,
    /// Both sides.
    pub amounts: Compared,
}

/// What a what-if run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatIfReport {
    /// Every earner with a line on either side, by join order then
    /// currency code.
    pub earners: Vec<EarnerComparison>,
    /// Totals per level and currency, by level then currency code.
    pub levels: Vec<LevelComparison>,
    /// The largest positive differences, largest first (at most `top`).
    pub gains: Vec<EarnerComparison>,
    /// The largest negative differences, most negative first (at most
    /// `top`).
    pub losses: Vec<EarnerComparison>,
    /// Sales replayed.
    pub sales: u64,
    /// Sales whose lines the candidate changed.
    pub sales_changed: u64,
    /// Sales in the period (replayed or not, when cancelled).
    pub sales_in_period: u64,
    /// False when the progress callback stopped the run.
    pub complete: bool,
}

/// How many sales are calculated together.
const GROUP: usize = 1024;

/// Both sides' sums in one currency, in its minor units (`i128`: a sum of
/// amounts below 10^18 units each cannot overflow it), dense by member and
/// by level, so a line costs two array additions and no hashing.
struct CurrencyTotals {
    currency: Currency,
    /// `[in force, candidate]` per member (`members` long).
    earners: Vec<[i128; 2]>,
    /// `[in force, candidate]` per level (index 0 is level 1), and whether
    /// the level was seen.
    levels: [([i128; 2], bool); crate::limits::MAX_LEVELS],
}

struct Totals {
    members: usize,
    /// Few currencies: found by a linear scan.
    currencies: Vec<CurrencyTotals>,
}

impl Totals {
    fn new(members: usize) -> Totals {
        Totals {
            members,
            currencies: Vec::new(),
        }
    }

    fn add(&mut self, earner: u32, level: u8, currency: Currency, amount: Decimal, side: usize) {
        let index = match self.currencies.iter().position(|c| c.currency == currency) {
            Some(index) => index,
            None => {
                self.currencies.push(CurrencyTotals {
                    currency,
                    earners: vec![[0; 2]; self.members],
                    levels: [([0; 2], false); crate::limits::MAX_LEVELS],
                });
                self.currencies.len() - 1
            }
        };
        let totals = &mut self.currencies[index];
        let mut minor = amount;
        minor.rescale(u32::from(currency.minor_units()));
        let units = minor.mantissa();
        if let Some(slot) = totals.earners.get_mut(earner as usize) {
            slot[side] += units;
        }
        if let Some(slot) = totals.levels.get_mut(usize::from(level).wrapping_sub(1)) {
            slot.0[side] += units;
            slot.1 = true;
        }
    }
}

fn compared(currency: Currency, sums: [i128; 2]) -> Compared {
    let scale = u32::from(currency.minor_units());
    Compared {
        in_force: Decimal::from_i128_with_scale(sums[0], scale),
        candidate: Decimal::from_i128_with_scale(sums[1], scale),
    }
}

impl Engine {
    /// Replays the sales recorded in `[from, to)` under `candidate` and
    /// compares what they pay with what they paid (see the [module
    /// docs](self)). `progress(done, total)` runs every
    /// [`every`](WhatIfOptions::every) sales; `false` stops the run.
    ///
    /// ```
    /// use upline::engine::whatif::WhatIfOptions;
    /// use upline::{Engine, PlanSpec, Timestamp};
    ///
    /// let mut engine = Engine::new();
    /// for event in [
    ///     r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z"}"#,
    ///     r#"{"type":"member_joined","member":"bob","sponsor":"ann","at":"2026-01-01T00:00:00Z"}"#,
    ///     r#"{"type":"sale_recorded","sale":"s1","buyer":"bob","amount":"100.00","currency":"USD","at":"2026-02-01T12:00:00Z"}"#,
    /// ] {
    ///     engine.apply_json(event)?;
    /// }
    /// let candidate: PlanSpec = serde_json::from_str(
    ///     r#"{"id":"flat","version":1,"levels":[{"rate":"0.25"}]}"#,
    /// ).unwrap();
    /// let report = engine.what_if(&candidate, Timestamp::MIN, Timestamp::MAX,
    ///     WhatIfOptions::default(), None)?;
    /// let ann = &report.earners[0];
    /// assert_eq!((&*ann.earner, ann.amounts.difference().to_string().as_str()), ("ann", "5.00"));
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn what_if(
        &self,
        candidate: &PlanSpec,
        from: Timestamp,
        to: Timestamp,
        options: WhatIfOptions,
        mut progress: Option<&mut dyn FnMut(u64, u64) -> bool>,
    ) -> Result<WhatIfReport> {
        let plan = candidate
            .validate(&self.currencies)
            .map_err(|err| err.within("plan"))?;
        let in_period = |sale: &&SaleRecord| from <= sale.at && sale.at < to;
        let total = self.sales.iter().filter(in_period).count() as u64;
        let every = options.every.max(1);
        let mut totals = Totals::new(self.graph.len());
        let mut group: Vec<&SaleRecord> = Vec::with_capacity(GROUP);
        let mut inputs: Vec<SaleInput> = Vec::with_capacity(GROUP);
        let mut results: Vec<Calculation> = Vec::new();
        let mut done = 0u64;
        let mut changed = 0u64;
        let mut complete = true;
        let mut sales = self.sales.iter().filter(in_period).peekable();
        while sales.peek().is_some() {
            group.clear();
            inputs.clear();
            // A group shares a rate table: consecutive sales of one category.
            while let Some(sale) = sales.next_if(|s| {
                group.len() < GROUP && group.first().is_none_or(|g| g.category == s.category)
            }) {
                group.push(sale);
                // A sale paid in another currency (`fx`) is calculated on
                // its converted base, in the currency its lines are paid in.
                inputs.push(SaleInput {
                    buyer: sale.buyer,
                    amount: sale.base(),
                    currency: sale.pay_currency(),
                    at: sale.at,
                });
            }
            let table = plan.table(group[0].category.as_deref());
            calc::calculate_batch(&plan, table, &self.graph, &inputs, &mut results)?;
            for (sale, result) in group.iter().zip(&results) {
                changed += u64::from(compare(sale, result, &mut totals));
                done += 1;
                if done.is_multiple_of(every) {
                    if let Some(callback) = progress.as_mut() {
                        if !callback(done, total) {
                            complete = false;
                            break;
                        }
                    }
                }
            }
            if !complete {
                break;
            }
        }
        Ok(self.report(totals, options.top, done, changed, total, complete))
    }

    fn report(
        &self,
        totals: Totals,
        top: usize,
        sales: u64,
        sales_changed: u64,
        sales_in_period: u64,
        complete: bool,
    ) -> WhatIfReport {
        let mut currencies = totals.currencies;
        currencies.sort_unstable_by(|a, b| a.currency.code().cmp(b.currency.code()));
        let mut earners = Vec::new();
        for member in 0..totals.members {
            for totals in &currencies {
                let sums = totals.earners[member];
                if sums != [0, 0] {
                    earners.push(EarnerComparison {
                        earner: Arc::from(self.graph.id(member as u32)),
                        currency: totals.currency,
                        amounts: compared(totals.currency, sums),
                    });
                }
            }
        }
        let mut levels = Vec::new();
        for i in 0..crate::limits::MAX_LEVELS {
            for totals in &currencies {
                let (sums, seen) = totals.levels[i];
                if seen {
                    levels.push(LevelComparison {
                        level: (i + 1) as u8,
                        currency: totals.currency,
                        amounts: compared(totals.currency, sums),
                    });
                }
            }
        }
        let mut gains: Vec<&EarnerComparison> = earners
            .iter()
            .filter(|e| e.amounts.difference() > Decimal::ZERO)
            .collect();
        gains.sort_by_key(|e| std::cmp::Reverse(e.amounts.difference()));
        let mut losses: Vec<&EarnerComparison> = earners
            .iter()
            .filter(|e| e.amounts.difference() < Decimal::ZERO)
            .collect();
        losses.sort_by_key(|e| e.amounts.difference());
        let gains = gains.into_iter().take(top).cloned().collect();
        let losses = losses.into_iter().take(top).cloned().collect();
        WhatIfReport {
            earners,
            levels,
            gains,
            losses,
            sales,
            sales_changed,
            sales_in_period,
            complete,
        }
    }
}

/// Adds both sides of `sale` to `totals`; returns whether they differ.
fn compare(sale: &SaleRecord, candidate: &Calculation, totals: &mut Totals) -> bool {
    let blocked = |level: u8| {
        sale.unpaid
            .iter()
            .any(|&(l, reason)| l == level && reason == UnpaidReason::FraudBlocked)
    };
    for line in &sale.lines {
        totals.add(line.earner, line.level, sale.pay_currency(), line.amount, 0);
    }
    let mut paid = 0usize;
    let mut same = true;
    for line in candidate.lines.iter().filter(|l| !blocked(l.level)) {
        totals.add(line.earner, line.level, sale.pay_currency(), line.amount, 1);
        let recorded = sale.lines.get(paid);
        same &= recorded.is_some_and(|r| {
            r.earner == line.earner && r.level == line.level && r.amount == line.amount
        });
        paid += 1;
    }
    !(same && paid == sale.lines.len())
}
