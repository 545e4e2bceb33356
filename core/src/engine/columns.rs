//! Columns in, columns out: joins, sales and refunds given as borrowed
//! columns, results returned as columns.
//!
//! This is the bulk path under the bindings' Arrow methods (see the
//! `upline-arrow` crate): a host that already holds its data in columns
//! hands the engine slices that point into them. Nothing is decoded into a
//! host object or an [`Event`] per row: one event of each kind is kept as a
//! scratch value whose strings are overwritten row by row (their buffers
//! are reused, so no `String` is allocated per row), and it goes through
//! exactly the path [`Engine::apply`] takes. So a row gives the same result,
//! the same error and the same audit hash as the equivalent event sent as
//! JSON or a dict, with one exception that follows from the encoding: an
//! instant given as milliseconds is hashed as its canonical RFC 3339 text
//! (`2026-02-01T12:00:00Z`), and an amount given as a mantissa and scale as
//! its plain decimal text at that scale (`100.00`); a host that wants its
//! own text hashed passes text columns ([`Times::Text`],
//! [`Amounts::Text`]).
//!
//! A row the engine refuses fails only that row, as in
//! [`Engine::apply_batch`]; a call whose columns do not fit together
//! (different lengths, more rows than [`MAX_BATCH`](crate::limits::MAX_BATCH))
//! fails as a whole and changes nothing.
//!
//! With a store, a call is a batch of the many-writers protocol, by the
//! same code as [`Engine::apply_batch`]: the accepted rows of one call are
//! persisted in one conditional, atomic append. A writer that is behind
//! catches up first (and, having found other writers' appends, takes the
//! store's append lock, where the store has one, for this call and its
//! next few, so its rows cannot meet a conflict). If another writer
//! appends first all the same (`conflict`), the engine reloads from the
//! store, which catches it up and drops the call's rows from memory, takes
//! the append lock, and stages every row again on the new state, a
//! bounded number of times
//! ([`MAX_APPEND_ATTEMPTS`](crate::limits::MAX_APPEND_ATTEMPTS); then the
//! whole call fails with `conflict` and nothing of it is stored). A row
//! another writer stored first (the same sale id and content) comes back as
//! a retry (`replayed`). A follower's call fails with `read_only`; a store
//! that fails the append fails the call with `storage`, and the engine
//! holds none of its rows.
//!
//! It is not an Arrow reader: which Arrow types map to these columns, and
//! the errors for a column of the wrong type, are the interop crate's.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::replica::Slots;
use super::{check_batch_len, Engine};
use crate::audit::Hash;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Applied, Event, Outcome};
use crate::money::{parse_decimal, DecimalText, Rate};
use crate::time::Timestamp;

/// A column of instants.
#[derive(Debug, Clone, Copy)]
pub enum Times<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    Millis(&'a [i64]),
    /// RFC 3339 text with an offset, as the host wrote it (hashed as is).
    Text(&'a [&'a str]),
}

impl<'a> Times<'a> {
    pub(super) fn len(&self) -> usize {
        match self {
            Times::Millis(values) => values.len(),
            Times::Text(values) => values.len(),
        }
    }

    /// Writes row `row`'s text into `out` (cleared first).
    fn write(&self, row: usize, field: &str, out: &mut String) -> Result<()> {
        out.clear();
        match self {
            Times::Text(values) => out.push_str(values[row]),
            Times::Millis(values) => {
                let millis = values[row];
                let at = Timestamp::from_millis(millis).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidTime,
                        field,
                        format!("{field} {millis} ms since 1970 is outside years 0001-9999"),
                    )
                })?;
                out.push_str(at.write_rfc3339(&mut [0; 24]));
            }
        }
        Ok(())
    }

    /// Row `row` as an instant (no text is written: what-if reads it).
    pub(super) fn instant(&self, row: usize, field: &str) -> Result<Timestamp> {
        match self {
            Times::Text(values) => Timestamp::parse(values[row], field),
            Times::Millis(values) => Timestamp::from_millis(values[row]).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidTime,
                    field,
                    format!(
                        "{field} {} ms since 1970 is outside years 0001-9999",
                        values[row]
                    ),
                )
            }),
        }
    }

    /// Rows `range` of the column.
    pub(super) fn slice(&self, range: std::ops::Range<usize>) -> Times<'a> {
        match *self {
            Times::Millis(values) => Times::Millis(&values[range]),
            Times::Text(values) => Times::Text(&values[range]),
        }
    }
}

/// A column of money amounts.
#[derive(Debug, Clone, Copy)]
pub enum Amounts<'a> {
    /// Fixed-point values: each amount is `mantissa / 10^scale` (Arrow's
    /// `decimal128`).
    Decimal {
        /// The unscaled values.
        mantissa: &'a [i128],
        /// The number of decimals, the same for the whole column.
        scale: u32,
    },
    /// Decimal strings, as the host wrote them (hashed as is).
    Text(&'a [&'a str]),
}

impl Amounts<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Amounts::Decimal { mantissa, .. } => mantissa.len(),
            Amounts::Text(values) => values.len(),
        }
    }

    /// Writes row `row`'s decimal text into `out` (cleared first).
    fn write(&self, row: usize, field: &str, out: &mut String) -> Result<()> {
        out.clear();
        match self {
            Amounts::Text(values) => out.push_str(values[row]),
            Amounts::Decimal { mantissa, scale } => {
                let value =
                    Decimal::try_from_i128_with_scale(mantissa[row], *scale).map_err(|_| {
                        Error::new(
                            ErrorKind::InvalidAmount,
                            field,
                            format!("{field} {} at scale {scale} is out of range", mantissa[row]),
                        )
                    })?;
                out.push_str(crate::money::write_decimal(value, &mut [0; 48]));
            }
        }
        Ok(())
    }

    /// Row `row` as a decimal (no text is written: what-if reads it).
    pub(super) fn decimal(&self, row: usize, field: &str) -> Result<Decimal> {
        match self {
            Amounts::Text(values) => parse_decimal(values[row], field, ErrorKind::InvalidAmount),
            Amounts::Decimal { mantissa, scale } => {
                Decimal::try_from_i128_with_scale(mantissa[row], *scale).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidAmount,
                        field,
                        format!("{field} {} at scale {scale} is out of range", mantissa[row]),
                    )
                })
            }
        }
    }
}

/// Joins as columns: one row a `member_joined` event without signals.
#[derive(Debug, Clone, Copy)]
pub struct JoinColumns<'a> {
    /// The new members' ids.
    pub member: &'a [&'a str],
    /// Their sponsors (`None` for a root).
    pub sponsor: &'a [Option<&'a str>],
    /// When they joined.
    pub at: Times<'a>,
}

/// Sales as columns: one row a `sale_recorded` event without signals.
#[derive(Debug, Clone, Copy)]
pub struct SaleColumns<'a> {
    /// The sales' ids.
    pub sale: &'a [&'a str],
    /// The buyers.
    pub buyer: &'a [&'a str],
    /// The amounts.
    pub amount: Amounts<'a>,
    /// The currency codes.
    pub currency: &'a [&'a str],
    /// When the sales happened.
    pub at: Times<'a>,
    /// The product categories, when the table has the column.
    pub category: Option<&'a [Option<&'a str>]>,
}

impl<'a> JoinColumns<'a> {
    /// The number of rows; `malformed` when the columns' lengths differ.
    pub fn rows(&self) -> Result<usize> {
        let rows = self.member.len();
        same_len(
            rows,
            &[("sponsor", self.sponsor.len()), ("at", self.at.len())],
        )?;
        Ok(rows)
    }

    /// Rows `range` (within [`rows`](Self::rows)).
    pub(super) fn slice(&self, range: std::ops::Range<usize>) -> JoinColumns<'a> {
        JoinColumns {
            member: &self.member[range.clone()],
            sponsor: &self.sponsor[range.clone()],
            at: self.at.slice(range),
        }
    }
}

impl SaleColumns<'_> {
    /// The number of rows; `malformed` when the columns' lengths differ.
    pub fn rows(&self) -> Result<usize> {
        let rows = self.sale.len();
        same_len(
            rows,
            &[
                ("buyer", self.buyer.len()),
                ("amount", self.amount.len()),
                ("currency", self.currency.len()),
                ("at", self.at.len()),
                ("category", self.category.map_or(rows, <[_]>::len)),
            ],
        )?;
        Ok(rows)
    }
}

/// Refunds as columns: one row a `refund_recorded` event.
#[derive(Debug, Clone, Copy)]
pub struct RefundColumns<'a> {
    /// The refunds' ids.
    pub refund: &'a [&'a str],
    /// The sales refunded.
    pub sale: &'a [&'a str],
    /// The amounts refunded.
    pub amount: Amounts<'a>,
    /// When.
    pub at: Times<'a>,
}

/// What a columnar call returns: one slot per row in `seq`, `hash` and
/// `replayed`, the refused rows in `errors`, and the distribution lines of
/// sales when they were asked for.
#[derive(Debug, Default)]
pub struct RowResults {
    /// Each row's sequence number; 0 for a refused row.
    pub seq: Vec<u64>,
    /// Each row's audit hash; [`Hash::ZERO`] for a refused row.
    pub hash: Vec<Hash>,
    /// Whether the row was an idempotent retry of an applied event.
    pub replayed: Vec<bool>,
    /// The refused rows, ascending, with their errors.
    pub errors: Vec<(usize, Error)>,
    /// The lines of the sales' distributions (only from
    /// [`Engine::apply_sale_columns`] with `lines`).
    pub lines: Option<LineColumns>,
}

/// Distribution lines as columns, one row a paid level.
#[derive(Debug, Default)]
pub struct LineColumns {
    /// The input row of the sale.
    pub row: Vec<u32>,
    /// The level, from 1.
    pub level: Vec<u8>,
    /// Who earns it.
    pub earner: Vec<Arc<str>>,
    /// The commission, at the currency's scale.
    pub amount: Vec<Decimal>,
    /// The level's rate.
    pub rate: Vec<Rate>,
}

impl Slots for RowResults {
    fn fill(&mut self, row: usize, result: Result<Applied>) {
        self.push(row, result);
    }
}

impl RowResults {
    fn with_capacity(rows: usize, lines: bool) -> RowResults {
        RowResults {
            seq: Vec::with_capacity(rows),
            hash: Vec::with_capacity(rows),
            replayed: Vec::with_capacity(rows),
            errors: Vec::new(),
            lines: lines.then(LineColumns::default),
        }
    }

    fn push(&mut self, row: usize, result: Result<Applied>) {
        match result {
            Ok(applied) => {
                self.seq.push(applied.seq);
                self.hash.push(applied.hash);
                self.replayed.push(applied.replayed);
                if let (Some(out), Outcome::Distribution(d)) = (&mut self.lines, applied.outcome) {
                    for line in d.lines {
                        out.row.push(row as u32);
                        out.level.push(line.level);
                        out.earner.push(line.earner);
                        out.amount.push(line.amount);
                        out.rate.push(line.rate);
                    }
                }
            }
            Err(err) => {
                self.seq.push(0);
                self.hash.push(Hash::ZERO);
                self.replayed.push(false);
                self.errors.push((row, err));
            }
        }
    }
}

/// Fails the call when a column's length differs from the first one's.
fn same_len(rows: usize, columns: &[(&str, usize)]) -> Result<()> {
    for (name, len) in columns {
        if *len != rows {
            return Err(Error::new(
                ErrorKind::Malformed,
                *name,
                format!("column {name} has {len} rows; the others have {rows}"),
            ));
        }
    }
    Ok(())
}

/// A scratch event of the kind `json` describes, decoded once a call (so
/// optional fields added to the event later keep their defaults here).
fn scratch(json: &str) -> Result<Event> {
    Event::from_json(json)
}

/// Overwrites `slot` with `text`, reusing its buffer.
fn set(slot: &mut String, text: &str) {
    slot.clear();
    slot.push_str(text);
}

/// Overwrites an optional string, keeping a spare buffer for rows that
/// have none, so alternating rows allocate nothing.
fn set_option(slot: &mut Option<String>, spare: &mut String, text: Option<&str>) {
    match (text, slot.as_mut()) {
        (Some(text), Some(buffer)) => set(buffer, text),
        (Some(text), None) => {
            let mut buffer = std::mem::take(spare);
            set(&mut buffer, text);
            *slot = Some(buffer);
        }
        (None, _) => {
            if let Some(buffer) = slot.take() {
                *spare = buffer;
            }
        }
    }
}

fn decimal_text(slot: &mut DecimalText) -> &mut String {
    if let DecimalText::NotText(_) = slot {
        *slot = DecimalText::Text(String::new());
    }
    match slot {
        DecimalText::Text(text) | DecimalText::NotText(text) => text,
    }
}

impl Engine {
    /// Applies joins given as columns. With a store, the accepted rows are
    /// stored in one conditional append; on a `conflict` the engine catches
    /// up and stages every row again (see the [module docs](self)).
    ///
    /// ```
    /// use upline::engine::columns::{JoinColumns, Times};
    ///
    /// let mut engine = upline::Engine::new();
    /// let out = engine.apply_join_columns(&JoinColumns {
    ///     member: &["ann", "bob", "bob"],
    ///     sponsor: &[None, Some("ann"), Some("eve")],
    ///     at: Times::Millis(&[1_767_225_600_000; 3]),
    /// })?;
    /// assert_eq!(out.seq, [1, 2, 0]);
    /// assert_eq!(out.errors[0].0, 2);
    /// assert_eq!(out.errors[0].1.code(), "duplicate_id");
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn apply_join_columns(&mut self, columns: &JoinColumns<'_>) -> Result<RowResults> {
        let rows = columns.rows()?;
        let mut event = scratch(r#"{"type":"member_joined","member":"","sponsor":null,"at":""}"#)?;
        let mut spare = String::new();
        self.apply_rows(rows, false, None, &mut event, |row, event| {
            let Event::MemberJoined(e) = event else {
                return Err(not_scratch());
            };
            set(&mut e.member, columns.member[row]);
            set_option(&mut e.sponsor, &mut spare, columns.sponsor[row]);
            columns.at.write(row, "at", &mut e.at)
        })
    }

    /// Applies sales given as columns; with `lines`, their distribution
    /// lines come back as columns too. Without, no record of a new sale is
    /// built at all (the lean path of
    /// [`apply_batch_json`](Engine::apply_batch_json) without records).
    /// With a store, the accepted rows are stored in one conditional
    /// append; on a `conflict` the engine catches up, takes the store's
    /// append lock and stages every row again, so a sale another writer
    /// stored first comes back as a retry (see the [module docs](self)).
    ///
    /// ```
    /// use upline::engine::columns::{Amounts, JoinColumns, SaleColumns, Times};
    ///
    /// let mut engine = upline::Engine::new();
    /// engine.apply_join_columns(&JoinColumns {
    ///     member: &["ann", "bob"],
    ///     sponsor: &[None, Some("ann")],
    ///     at: Times::Text(&["2026-01-01T00:00:00Z"; 2]),
    /// })?;
    /// let out = engine.apply_sale_columns(&SaleColumns {
    ///     sale: &["s1"],
    ///     buyer: &["bob"],
    ///     amount: Amounts::Decimal { mantissa: &[10_000], scale: 2 },
    ///     currency: &["USD"],
    ///     at: Times::Text(&["2026-02-01T12:00:00Z"]),
    ///     category: None,
    /// }, true)?;
    /// let lines = out.lines.as_ref().unwrap();
    /// assert_eq!(&*lines.earner[0], "ann");
    /// assert_eq!(lines.amount[0].to_string(), "20.00");
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn apply_sale_columns(
        &mut self,
        columns: &SaleColumns<'_>,
        lines: bool,
    ) -> Result<RowResults> {
        let rows = columns.rows()?;
        let mut event = scratch(
            r#"{"type":"sale_recorded","sale":"","buyer":"","amount":"","currency":"","at":""}"#,
        )?;
        let mut spare = String::new();
        // Without lines, new sales are hashed from the engine's state and
        // their records never built (as `apply_batch_json` without records).
        let lean = std::mem::replace(&mut self.lean, !lines);
        let keys = (columns.sale, columns.buyer);
        let applied = self.apply_rows(rows, lines, Some(keys), &mut event, |row, event| {
            let Event::SaleRecorded(e) = event else {
                return Err(not_scratch());
            };
            set(&mut e.sale, columns.sale[row]);
            set(&mut e.buyer, columns.buyer[row]);
            columns
                .amount
                .write(row, "amount", decimal_text(&mut e.amount))?;
            set(&mut e.currency, columns.currency[row]);
            let category = columns.category.and_then(|c| c[row]);
            set_option(&mut e.category, &mut spare, category);
            columns.at.write(row, "at", &mut e.at)
        });
        self.lean = lean;
        applied
    }

    /// Applies refunds given as columns. With a store, as
    /// [`apply_join_columns`](Self::apply_join_columns): one conditional
    /// append, and on a `conflict` a catch-up and the rows staged again
    /// (see the [module docs](self)).
    pub fn apply_refund_columns(&mut self, columns: &RefundColumns<'_>) -> Result<RowResults> {
        let rows = columns.refund.len();
        same_len(
            rows,
            &[
                ("sale", columns.sale.len()),
                ("amount", columns.amount.len()),
                ("at", columns.at.len()),
            ],
        )?;
        let mut event =
            scratch(r#"{"type":"refund_recorded","refund":"","sale":"","amount":"","at":""}"#)?;
        self.apply_rows(rows, false, None, &mut event, |row, event| {
            let Event::RefundRecorded(e) = event else {
                return Err(not_scratch());
            };
            set(&mut e.refund, columns.refund[row]);
            set(&mut e.sale, columns.sale[row]);
            columns
                .amount
                .write(row, "amount", decimal_text(&mut e.amount))?;
            columns.at.write(row, "at", &mut e.at)
        })
    }

    /// Fills `event` for each row and applies it as [`Engine::apply_batch`]
    /// applies its events: with a store, through the same many-writers
    /// protocol (`Engine::apply_group_stored`, one conditional append for
    /// the call, catch-up, the append lock and bounded retries on
    /// `conflict`; see the [module docs](self)).
    ///
    /// `sales`, for a sales table, are its sale and buyer id columns: each
    /// group of rows is read ahead in lockstep first (`warm.rs`).
    fn apply_rows(
        &mut self,
        rows: usize,
        lines: bool,
        sales: Option<(&[&str], &[&str])>,
        event: &mut Event,
        mut fill: impl FnMut(usize, &mut Event) -> Result<()>,
    ) -> Result<RowResults> {
        check_batch_len(rows)?;
        let warm = |engine: &Engine, row: usize| {
            if let Some((ids, buyers)) = sales.filter(|_| row.is_multiple_of(super::warm::GROUP)) {
                let end = rows.min(row + super::warm::GROUP);
                let group = ids[row..end].iter().zip(&buyers[row..end]);
                std::hint::black_box(engine.warm_sales(group.map(|(s, b)| (*s, *b))));
            }
        };
        if self.store.is_none() {
            let mut out = RowResults::with_capacity(rows, lines);
            for row in 0..rows {
                warm(self, row);
                let result = fill(row, event).and_then(|()| self.apply(event));
                out.push(row, result);
            }
            return Ok(out);
        }
        // With a store: the many-writers protocol of `apply_batch`, the
        // same code (`replica.rs`): catch up, or take the store's append
        // lock under contention, stage every row, one conditional append;
        // on a conflict the engine reloads, takes the lock and stages the
        // rows again.
        self.apply_group_stored(
            rows,
            || RowResults::with_capacity(rows, lines),
            |engine, row, stored| {
                warm(engine, row);
                fill(row, event)?;
                engine.stage_into(event, stored)
            },
        )
    }
}

fn not_scratch() -> Error {
    Error::general(ErrorKind::Internal, "the scratch event changed kind")
}
