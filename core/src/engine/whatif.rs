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
//! A sales table given as columns ([`Engine::what_if_sale_columns`]) is
//! replayed the same way, except that its sales were never recorded: the
//! *in force* side is their calculation under the plan in force at each
//! sale's time (no fraud screening: the table has no signals). A row the
//! engine would refuse as a sale (an unknown buyer or currency, an amount
//! that is not positive or has too many decimals, a sale before its buyer
//! joined, an id that is not one) is left out of both sides and reported
//! with its error, as `apply_sale_columns` reports it; a sale id already in
//! the engine is no error here (a host may replay an export of its own
//! history). [`what_if_members`] does the same with no engine of the
//! host's: it builds a throwaway one from a members table first.
//!
//! Sales are calculated in groups that share a rate table, uplines walked
//! in lockstep ([`calc::calculate_batch`]); the sums are kept in minor
//! units in arrays indexed by member, 32 bytes a member for each currency
//! the period's sales use, for the length of the run.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::columns::{JoinColumns, SaleColumns};
use super::sales::LineEntries;
use super::{Engine, SaleRecord};
use crate::calc::{self, Calculation, SaleInput, UnpaidReason};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, PlanActivated};
use crate::id::check_id;
use crate::ledger::Ledger;
use crate::limits::MAX_BATCH;
use crate::money::positive;
use crate::money::Currency;
use crate::plan::{Plan, PlanSpec};
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
    /// Sales in the period (replayed or not, when cancelled); for a sales
    /// table, its rows.
    pub sales_in_period: u64,
    /// Rows of a sales table left out because the engine would refuse them
    /// as sales (0 for the engine's own sales).
    pub sales_refused: u64,
    /// The first [`MAX_REFUSED_REPORTED`] of those rows, ascending: the row
    /// (from 0) and the error `apply_sale_columns` would give it.
    pub refused: Vec<(u64, Error)>,
    /// False when the progress callback stopped the run.
    pub complete: bool,
}

/// How many refused rows a report lists (all are counted).
pub const MAX_REFUSED_REPORTED: usize = 100;

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
    /// A sum left `i128` (exact or refused: the report is `limit_exceeded`).
    overflow: bool,
}

impl Totals {
    fn new(members: usize) -> Totals {
        Totals {
            members,
            currencies: Vec::new(),
            overflow: false,
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
        let mut overflow = false;
        if let Some(slot) = totals.earners.get_mut(earner as usize) {
            match slot[side].checked_add(units) {
                Some(sum) => slot[side] = sum,
                None => overflow = true,
            }
        }
        if let Some(slot) = totals.levels.get_mut(usize::from(level).wrapping_sub(1)) {
            match slot.0[side].checked_add(units) {
                Some(sum) => slot.0[side] = sum,
                None => overflow = true,
            }
            slot.1 = true;
        }
        self.overflow |= overflow;
    }
}

/// A run's counters and its progress callback.
struct Run<'a> {
    totals: Totals,
    /// Rows (or sales) seen: calculated or refused.
    done: u64,
    changed: u64,
    refused: u64,
    refused_rows: Vec<(u64, Error)>,
    total: u64,
    every: u64,
    complete: bool,
    progress: Option<&'a mut dyn FnMut(u64, u64) -> bool>,
}

impl<'a> Run<'a> {
    fn new(
        members: usize,
        total: u64,
        options: WhatIfOptions,
        progress: Option<&'a mut dyn FnMut(u64, u64) -> bool>,
    ) -> Run<'a> {
        Run {
            totals: Totals::new(members),
            done: 0,
            changed: 0,
            refused: 0,
            refused_rows: Vec::new(),
            total,
            every: options.every.max(1),
            complete: true,
            progress,
        }
    }

    /// Counts one sale (changed or not) or one refused row; `false` once
    /// the callback has stopped the run.
    fn tick(&mut self, changed: bool) -> bool {
        self.changed += u64::from(changed);
        self.done += 1;
        if self.done.is_multiple_of(self.every) {
            if let Some(callback) = self.progress.as_mut() {
                if !callback(self.done, self.total) {
                    self.complete = false;
                }
            }
        }
        self.complete
    }

    fn refuse(&mut self, row: usize, err: Error) -> bool {
        self.refused += 1;
        if self.refused_rows.len() < MAX_REFUSED_REPORTED {
            self.refused_rows.push((row as u64, err));
        }
        self.tick(false)
    }
}

/// Both sides' sums as decimals, or `limit_exceeded` when one is past the
/// exact decimal range (28 significant digits): refused, never rounded,
/// never a panic.
fn compared(currency: Currency, sums: [i128; 2]) -> Result<Compared> {
    let scale = u32::from(currency.minor_units());
    let exact =
        |sum: i128| Decimal::try_from_i128_with_scale(sum, scale).map_err(|_| beyond(currency));
    Ok(Compared {
        in_force: exact(sums[0])?,
        candidate: exact(sums[1])?,
    })
}

fn beyond(currency: Currency) -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        "plan",
        format!(
            "a what-if total in {currency} is beyond the exact decimal range \
             (28 significant digits at {} decimals): refused rather than rounded",
            currency.minor_units()
        ),
    )
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
        progress: Option<&mut dyn FnMut(u64, u64) -> bool>,
    ) -> Result<WhatIfReport> {
        let plan = self.candidate(candidate)?;
        if to < from {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "to",
                format!("the period [{from}, {to}) ends before it starts"),
            ));
        }
        let in_period = |sale: &&SaleRecord| from <= sale.at && sale.at < to;
        let total = self.sales.iter().filter(in_period).count() as u64;
        let mut run = Run::new(self.graph.len(), total, options, progress);
        let mut group: Vec<&SaleRecord> = Vec::with_capacity(GROUP);
        let mut inputs: Vec<SaleInput> = Vec::with_capacity(GROUP);
        let mut results: Vec<Calculation> = Vec::new();
        let mut sales = self.sales.iter().filter(in_period).peekable();
        'run: while sales.peek().is_some() {
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
                let changed = compare(sale, &self.ledger, result, &mut run.totals);
                if !run.tick(changed) {
                    break 'run;
                }
            }
        }
        self.report(run, options.top)
    }

    /// Replays a sales table given as columns under `candidate` and
    /// compares it with the plan in force (see the [module docs](self)):
    /// both sides are calculated on today's network, nothing in the engine
    /// changes. The columns are those of
    /// [`apply_sale_columns`](Engine::apply_sale_columns), and any number
    /// of rows (nothing is kept per row). A call whose columns do not fit
    /// together fails as a whole (`malformed`); a row the engine would
    /// refuse is counted in [`sales_refused`](WhatIfReport::sales_refused).
    /// `progress(rows done, rows)` runs every
    /// [`every`](WhatIfOptions::every) rows; `false` stops the run.
    ///
    /// ```
    /// use upline::engine::columns::{Amounts, JoinColumns, SaleColumns, Times};
    /// use upline::engine::whatif::WhatIfOptions;
    /// use upline::{Engine, PlanSpec};
    ///
    /// let mut engine = Engine::new();
    /// engine.apply_join_columns(&JoinColumns {
    ///     member: &["ann", "bob"],
    ///     sponsor: &[None, Some("ann")],
    ///     at: Times::Text(&["2026-01-01T00:00:00Z"; 2]),
    /// })?;
    /// let candidate: PlanSpec = serde_json::from_str(
    ///     r#"{"id":"flat","version":1,"levels":[{"rate":"0.25"}]}"#,
    /// ).unwrap();
    /// let report = engine.what_if_sale_columns(&candidate, &SaleColumns {
    ///     sale: &["s1", "s2"],
    ///     buyer: &["bob", "eve"],
    ///     amount: Amounts::Decimal { mantissa: &[10_000, 500], scale: 2 },
    ///     currency: &["USD", "USD"],
    ///     at: Times::Millis(&[1_769_947_200_000; 2]),
    ///     category: None,
    /// }, WhatIfOptions::default(), None)?;
    /// let ann = &report.earners[0];
    /// assert_eq!(ann.amounts.in_force.to_string(), "20.00");
    /// assert_eq!(ann.amounts.candidate.to_string(), "25.00");
    /// assert_eq!((report.sales, report.sales_refused), (1, 1));
    /// assert_eq!(report.refused[0].1.code(), "unknown_member");
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn what_if_sale_columns(
        &self,
        candidate: &PlanSpec,
        columns: &SaleColumns<'_>,
        options: WhatIfOptions,
        progress: Option<&mut dyn FnMut(u64, u64) -> bool>,
    ) -> Result<WhatIfReport> {
        let plan = self.candidate(candidate)?;
        let rows = columns.rows()?;
        let mut run = Run::new(self.graph.len(), rows as u64, options, progress);
        // One group: rows whose sales share the plan in force and the
        // category (so both sides share a rate table); refused rows ride
        // along in their place, so progress and cancellation follow the
        // table's order.
        let mut group: Vec<Result<SaleInput>> = Vec::with_capacity(GROUP);
        let mut inputs: Vec<SaleInput> = Vec::with_capacity(GROUP);
        let mut in_force: Vec<Calculation> = Vec::new();
        let mut results: Vec<Calculation> = Vec::new();
        let mut currency: Option<(&str, Currency)> = None;
        let mut row = 0usize;
        'run: while row < rows {
            let first = row;
            group.clear();
            inputs.clear();
            let mut key: Option<(u32, Option<&str>)> = None;
            while row < rows && group.len() < GROUP {
                let sale = self.sale_row(columns, row, &mut currency);
                if let Ok(input) = &sale {
                    let category = columns.category.and_then(|c| c[row]);
                    let this = (self.plan_index_at(input.at), category);
                    if key.is_some_and(|k| k != this) {
                        break;
                    }
                    key = Some(this);
                    inputs.push(*input);
                }
                group.push(sale);
                row += 1;
            }
            if let Some((index, category)) = key {
                let current = &self.plans[index as usize];
                let table = current.table(category);
                calc::calculate_batch(current, table, &self.graph, &inputs, &mut in_force)?;
                let table = plan.table(category);
                calc::calculate_batch(&plan, table, &self.graph, &inputs, &mut results)?;
            }
            let mut calculated = in_force.iter().zip(&results);
            for (i, sale) in group.drain(..).enumerate() {
                let going_on = match sale {
                    Err(err) => run.refuse(first + i, err),
                    Ok(input) => match calculated.next() {
                        Some((old, new)) => {
                            let changed =
                                compare_calculated(input.currency, old, new, &mut run.totals);
                            run.tick(changed)
                        }
                        None => {
                            return Err(Error::general(
                                ErrorKind::Internal,
                                "what-if lost a calculation of its group",
                            ))
                        }
                    },
                };
                if !going_on {
                    break 'run;
                }
            }
        }
        self.report(run, options.top)
    }

    /// Row `row` of a sales table as the calculation's input, checked as
    /// [`Engine::apply`] checks a sale (but for its id's uniqueness, fx and
    /// screening, which a calculation does not involve). `currency` caches
    /// the last code looked up.
    fn sale_row<'c>(
        &self,
        columns: &SaleColumns<'c>,
        row: usize,
        currency: &mut Option<(&'c str, Currency)>,
    ) -> Result<SaleInput> {
        check_id(columns.sale[row], "sale")?;
        check_id(columns.buyer[row], "buyer")?;
        if let Some(category) = columns.category.and_then(|c| c[row]) {
            check_id(category, "category")?;
        }
        let code = columns.currency[row];
        let pay = match *currency {
            Some((last, found)) if last == code => found,
            _ => {
                let found = self.currencies.get(code, "currency")?;
                *currency = Some((code, found));
                found
            }
        };
        let amount = columns.amount.decimal(row, "amount")?;
        let amount = positive(pay.exact(amount, "amount")?, "amount")?;
        let at = columns.at.instant(row, "at")?;
        let buyer = self.sale_buyer(columns.sale[row], columns.buyer[row], at)?;
        Ok(SaleInput {
            buyer,
            amount,
            currency: pay,
            at,
        })
    }

    /// The candidate plan, checked against this engine's currencies.
    fn candidate(&self, candidate: &PlanSpec) -> Result<Plan> {
        candidate
            .validate(&self.currencies)
            .map_err(|err| err.within("plan"))
    }

    fn report(&self, run: Run<'_>, top: usize) -> Result<WhatIfReport> {
        let totals = run.totals;
        if totals.overflow {
            let currency = totals.currencies.first().map(|c| c.currency);
            return Err(currency.map_or_else(
                || Error::general(ErrorKind::LimitExceeded, "a what-if total overflowed"),
                beyond,
            ));
        }
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
                        amounts: compared(totals.currency, sums)?,
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
                        amounts: compared(totals.currency, sums)?,
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
        Ok(WhatIfReport {
            earners,
            levels,
            gains,
            losses,
            sales: run.done - run.refused,
            sales_changed: run.changed,
            sales_in_period: run.total,
            sales_refused: run.refused,
            refused: run.refused_rows,
            complete: run.complete,
        })
    }
}

/// What-if with no engine of the host's: a throwaway in-memory engine is
/// built from `members` (joins as columns: member, sponsor, joined time,
/// applied in order as [`Engine::apply_join_columns`] applies them), with
/// `current` in force from the start of time (the default plan when
/// `None`), and `sales` is replayed on it under `candidate` as
/// [`Engine::what_if_sale_columns`] does. A members row the engine refuses
/// fails the whole call (the network would not be the host's), with its
/// error's field prefixed `members.` and the row in the message; an
/// invalid `current` is reported under `current`.
///
/// ```
/// use upline::engine::columns::{Amounts, JoinColumns, SaleColumns, Times};
/// use upline::engine::whatif::{what_if_members, WhatIfOptions};
/// use upline::PlanSpec;
///
/// let flat: PlanSpec = serde_json::from_str(
///     r#"{"id":"flat","version":1,"levels":[{"rate":"0.25"}]}"#,
/// ).unwrap();
/// let report = what_if_members(&flat, None, &JoinColumns {
///     member: &["ann", "bob"],
///     sponsor: &[None, Some("ann")],
///     at: Times::Millis(&[1_767_225_600_000; 2]),
/// }, &SaleColumns {
///     sale: &["s1"],
///     buyer: &["bob"],
///     amount: Amounts::Text(&["10.00"]),
///     currency: &["USD"],
///     at: Times::Text(&["2026-02-01T12:00:00Z"]),
///     category: None,
/// }, WhatIfOptions::default(), None)?;
/// assert_eq!(report.earners[0].amounts.difference().to_string(), "0.50");
/// # Ok::<(), upline::Error>(())
/// ```
pub fn what_if_members(
    candidate: &PlanSpec,
    current: Option<&PlanSpec>,
    members: &JoinColumns<'_>,
    sales: &SaleColumns<'_>,
    options: WhatIfOptions,
    progress: Option<&mut dyn FnMut(u64, u64) -> bool>,
) -> Result<WhatIfReport> {
    let mut engine = Engine::new();
    if let Some(current) = current {
        engine
            .apply(&Event::PlanActivated(PlanActivated {
                plan: current.clone(),
                effective_from: Timestamp::MIN.to_string(),
            }))
            .map_err(|err| err.within("current"))?;
    }
    let rows = members.rows().map_err(|err| err.within("members"))?;
    let mut start = 0;
    while start < rows {
        let end = rows.min(start + MAX_BATCH);
        let out = engine.apply_join_columns(&members.slice(start..end))?;
        if let Some((row, err)) = out.errors.into_iter().next() {
            let row = start + row;
            let message = format!("members row {row}: {}", err.message());
            let field = err
                .field()
                .map_or("members".to_string(), |f| format!("members.{f}"));
            return Err(Error::new(err.kind(), field, message));
        }
        start = end;
    }
    engine.what_if_sale_columns(candidate, sales, options, progress)
}

/// Adds both sides of `sale` to `totals`; returns whether they differ.
fn compare(
    sale: &SaleRecord,
    ledger: &Ledger,
    candidate: &Calculation,
    totals: &mut Totals,
) -> bool {
    let blocked = |level: u8| {
        sale.unpaid
            .iter()
            .any(|&(l, reason)| l == level && reason == UnpaidReason::FraudBlocked)
    };
    let entries = LineEntries::Ledger(ledger);
    for (i, line) in sale.lines.iter().enumerate() {
        let credit = sale.line_entry(i, entries);
        totals.add(credit.earner, line.level, credit.currency, credit.amount, 0);
    }
    let mut paid = 0usize;
    let mut same = true;
    for line in candidate.lines.iter().filter(|l| !blocked(l.level)) {
        totals.add(line.earner, line.level, sale.pay_currency(), line.amount, 1);
        same &= sale.lines.get(paid).is_some_and(|r| {
            let credit = sale.line_entry(paid, entries);
            credit.earner == line.earner && r.level == line.level && credit.amount == line.amount
        });
        paid += 1;
    }
    !(same && paid == sale.lines.len())
}

/// Adds both calculated sides of a sale paid in `currency` to `totals`;
/// returns whether they differ.
fn compare_calculated(
    currency: Currency,
    in_force: &Calculation,
    candidate: &Calculation,
    totals: &mut Totals,
) -> bool {
    for line in &in_force.lines {
        totals.add(line.earner, line.level, currency, line.amount, 0);
    }
    for line in &candidate.lines {
        totals.add(line.earner, line.level, currency, line.amount, 1);
    }
    in_force.lines.len() != candidate.lines.len()
        || in_force
            .lines
            .iter()
            .zip(&candidate.lines)
            .any(|(a, b)| a.earner != b.earner || a.level != b.level || a.amount != b.amount)
}
