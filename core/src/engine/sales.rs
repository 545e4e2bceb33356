//! Sales, refunds and fraud reviews: the state a sale keeps
//! ([`SaleRecord`] and its lines), how a sale is calculated and credited
//! (fx, holds, screening decisions), how a refund claws it back pro rata,
//! and how a review releases or voids held lines.
//!
//! A sale's lines and its ledger entries are one structure: a line keeps
//! what only it knows (level, rate, held, released, screened, voided) and
//! reads its earner, amount and dates from its commission entry
//! ([`LineEntries`]: the ledger once committed, the staged entries while
//! the sale is prepared).

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calc::{self, SaleInput, UnpaidReason};
use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::id::{check_id, check_text};
use crate::ledger::{Entry, EntryKind, Ledger};
use crate::money::{self, Currency, Rate};
use crate::rewards::Effects;
use crate::screen::{self, Action};
use crate::time::Timestamp;

use super::pipeline::{duplicate, time, Mutation, Prep, Prepared};
use super::Engine;
use crate::money::positive;

/// One line of a recorded sale: only what the ledger does not already
/// say. Its earner, amount, time and `available_at` are those of its
/// commission entry, the ledger entry `first_entry + entry` of its sale
/// (read through [`SaleRecord::line_entry`]), so no fact of a line is
/// stored twice (8 bytes a line; the amount reversed so far lives in
/// [`SaleRecord::reversed`], kept only once something was).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SaleLine {
    pub(super) level: u8,
    /// Offset of its commission entry from the sale's first entry (a held
    /// line's hold entry follows it, so offsets skip one after each).
    pub(super) entry: u8,
    /// [`HELD`], [`RELEASED`], [`SCREENED`], [`VOIDED`].
    flags: u8,
    /// The rate's scale and mantissa ([`Rate::to_parts`]: exact, and it
    /// gives the rate back digit for digit, with no normalizing to do).
    rate_scale: u8,
    rate: u32,
}

/// Credited as held (the earner was on hold at the sale, or screening held
/// it): never changes, so a retry returns the original distribution.
const HELD: u8 = 1;
/// The hold ended and the held remainder went back to the flow.
const RELEASED: u8 = 2;
/// Held by fraud screening (until its review is resolved), not by a
/// member hold.
const SCREENED: u8 = 4;
/// Reversed by a review: later refunds reverse nothing more of it.
const VOIDED: u8 = 8;

impl SaleLine {
    fn new(level: u8, entry: u8, rate: Rate, held: bool, screened: bool) -> SaleLine {
        let mut flags = 0;
        if held {
            flags |= HELD;
        }
        if screened {
            flags |= SCREENED;
        }
        let (mantissa, scale) = rate.to_parts();
        SaleLine {
            level,
            entry,
            flags,
            rate_scale: scale,
            rate: mantissa,
        }
    }

    /// Whether the kept rate is one: at most [`Rate::MAX_DECIMALS`]
    /// decimals and at most 1, so [`rate`](Self::rate) gives it back (a
    /// restored snapshot's lines are checked with this).
    pub(super) fn rate_is_a_rate(&self) -> bool {
        u32::from(self.rate_scale) <= Rate::MAX_DECIMALS
            && u64::from(self.rate) <= 10u64.pow(u32::from(self.rate_scale))
    }

    pub(super) fn rate(&self) -> Rate {
        Rate::from_parts(self.rate, self.rate_scale)
    }

    pub(super) fn held(&self) -> bool {
        self.flags & HELD != 0
    }

    pub(super) fn released(&self) -> bool {
        self.flags & RELEASED != 0
    }

    pub(super) fn screened(&self) -> bool {
        self.flags & SCREENED != 0
    }

    pub(super) fn voided(&self) -> bool {
        self.flags & VOIDED != 0
    }

    pub(super) fn release(&mut self) {
        self.flags |= RELEASED;
    }

    pub(super) fn void(&mut self) {
        self.flags |= VOIDED;
    }

    pub(super) fn held_now(&self) -> bool {
        self.held() && !self.released()
    }
}

/// Where a sale's line entries are: in the ledger once the sale is
/// committed, in the staged entries while it is being prepared.
#[derive(Clone, Copy)]
pub(super) enum LineEntries<'a> {
    /// A committed sale: the ledger, from the sale's `first_entry`.
    Ledger(&'a Ledger),
    /// A sale being prepared: its staged entries, its lines' first.
    Staged(&'a [Entry]),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SaleRecord {
    pub(super) id: Arc<str>,
    pub(super) seq: u64,
    pub(super) buyer: u32,
    pub(super) amount: Decimal,
    pub(super) currency: Currency,
    pub(super) at: Timestamp,
    pub(super) category: Option<String>,
    pub(super) plan: u32,
    /// The ledger seq of its first entry (its first line's commission),
    /// set when it is committed.
    pub(super) first_entry: u64,
    pub(super) lines: Box<[SaleLine]>,
    /// The amount reversed so far of each line (by refunds and reviews),
    /// once anything was: most sales are never refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reversed: Option<Box<[Decimal]>>,
    pub(super) unpaid: Vec<(u8, UnpaidReason)>,
    pub(super) retained: Decimal,
    pub(super) refunded: Decimal,
    /// What screening decided, when a rule matched.
    /// Boxed: rare, and a sale record is kept for every sale.
    #[serde(default)]
    pub(super) screening: Option<Box<screen::Decision>>,
    /// How its fraud review ended, once it has.
    #[serde(default)]
    pub(super) review: Option<Box<Resolution>>,
    /// A digest of the sale's screening signals (0: none).
    #[serde(default)]
    pub(super) signals: u64,
    /// The conversion of a sale paid in another currency. Boxed: rare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) fx: Option<Box<SaleFx>>,
}

/// A sale paid in another currency: its lines, `retained` and `reversed`
/// are in `currency`, computed on `base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SaleFx {
    pub(super) currency: Currency,
    pub(super) rate: Decimal,
    pub(super) base: Decimal,
}

impl SaleRecord {
    /// The currency its lines are paid in.
    pub(super) fn pay_currency(&self) -> Currency {
        self.fx.as_ref().map_or(self.currency, |fx| fx.currency)
    }

    /// The amount its lines were computed on.
    pub(super) fn base(&self) -> Decimal {
        self.fx.as_ref().map_or(self.amount, |fx| fx.base)
    }

    /// The commission entry of line `i`: its earner, amount, time and
    /// `available_at`.
    pub(super) fn line_entry<'a>(&self, i: usize, entries: LineEntries<'a>) -> &'a Entry {
        let offset = self.lines[i].entry;
        match entries {
            LineEntries::Ledger(ledger) => ledger.at(self.first_entry + u64::from(offset)),
            LineEntries::Staged(staged) => &staged[usize::from(offset)],
        }
    }

    /// The earner of line `i`.
    pub(super) fn earner(&self, i: usize, entries: LineEntries<'_>) -> u32 {
        self.line_entry(i, entries).earner
    }

    /// The amount reversed so far of line `i`, at the pay currency's scale.
    pub(super) fn reversed(&self, i: usize) -> Decimal {
        match &self.reversed {
            Some(reversed) => reversed[i],
            None => Decimal::new(0, u32::from(self.pay_currency().minor_units())),
        }
    }

    /// Adds `amount` to what line `i` had reversed.
    pub(super) fn reverse(&mut self, i: usize, amount: Decimal) {
        let zero = Decimal::new(0, u32::from(self.pay_currency().minor_units()));
        let reversed = self
            .reversed
            .get_or_insert_with(|| vec![zero; self.lines.len()].into_boxed_slice());
        reversed[i] += amount;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Resolution {
    pub(super) decision: ReviewDecision,
    pub(super) at: Timestamp,
    pub(super) note: Option<String>,
    pub(super) seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RefundRecord {
    pub(super) seq: u64,
    pub(super) sale: u32,
    pub(super) amount: Decimal,
    pub(super) at: Timestamp,
    pub(super) reversals: Vec<(u8, Decimal)>,
    pub(super) refunded_total: Decimal,
}

impl Engine {
    pub(super) fn prepare_sale(&mut self, e: &SaleRecorded) -> Result<Prep> {
        check_id(&e.sale, "sale")?;
        check_id(&e.buyer, "buyer")?;
        if let Some(category) = &e.category {
            check_id(category, "category")?;
        }
        let currency = self.currencies.get(&e.currency, "currency")?;
        let amount = positive(
            currency.parse_amount(e.amount.text("amount")?, "amount")?,
            "amount",
        )?;
        let at = time(&e.at, "at")?;
        let buyer = self.sale_buyer(&e.sale, &e.buyer, at)?;
        let fx = match &e.fx {
            Some(fx) => Some(self.fx_of(fx, currency)?),
            None => None,
        };
        let kept = match &e.signals {
            // Reduced ahead by `apply_batch` (`warm.rs`), else now.
            Some(signals) => match self.screen.take_warmed(std::ptr::from_ref(e) as usize, at) {
                Some(kept) => Some(kept),
                None => Some(screen::reduce(signals, at)?),
            },
            None => None,
        };
        let digest = kept.as_ref().map_or(0, screen::Kept::digest);
        if let Some(index) = self.sale_by_id(&e.sale) {
            let sale = &self.sales[index as usize];
            let same = sale.buyer == buyer
                && sale.amount == amount
                && sale.currency == currency
                && sale.at == at
                && sale.category == e.category
                && sale.signals == digest
                && sale.fx.as_ref().map(|f| (f.currency, f.rate)) == fx;
            if same {
                return self.retry(sale.seq, Outcome::Distribution(self.distribution(sale)));
            }
            return Err(duplicate("sale", &e.sale));
        }
        let plan_index = self.plan_index_at(at);
        let plan = &self.plans[plan_index as usize];
        let table = plan.table(e.category.as_deref());
        let fx = match fx {
            Some((pay, rate)) => {
                let base = money::Wide::of(amount)
                    .mul(money::Wide::of(rate))
                    .round(u32::from(pay.minor_units()), plan.rounding())
                    .ok_or_else(|| money::beyond("fx.rate"))?;
                let base = pay.exact(base, "fx.rate")?;
                Some(Box::new(SaleFx {
                    currency: pay,
                    rate,
                    base,
                }))
            }
            None => None,
        };
        let (base, pay) = match &fx {
            Some(fx) => (fx.base, fx.currency),
            None => (amount, currency),
        };
        let input = SaleInput {
            buyer,
            amount: base,
            currency: pay,
            at,
        };
        calc::calculate(plan, table, &self.graph, input, &mut self.scratch)?;
        let available_at = at.plus_days(plan.hold_days());
        let decided = screen::decide(
            &self.screen,
            &screen::SaleContext {
                graph: &self.graph,
                buyer,
                at,
                currency: pay,
                signals: kept,
            },
            &self.scratch.lines,
        );
        let id: Arc<str> = Arc::from(e.sale.as_str());
        let mut entries = Vec::with_capacity(self.scratch.lines.len());
        let mut lines: Vec<SaleLine> = Vec::with_capacity(self.scratch.lines.len());
        let mut unpaid = self.scratch.unpaid.clone();
        let mut retained = self.scratch.retained;
        for (line, action) in self.scratch.lines.iter().zip(&decided.actions) {
            if *action == Some(Action::Block) {
                retained += line.amount;
                let at = unpaid.partition_point(|&(level, _)| level < line.level);
                unpaid.insert(at, (line.level, UnpaidReason::FraudBlocked));
                continue;
            }
            let screened = *action == Some(Action::Hold);
            let held = line.held || screened;
            // At most 2 entries a line and `MAX_LEVELS` lines: fits a u8.
            let offset = entries.len() as u8;
            lines.push(SaleLine::new(line.level, offset, line.rate, held, screened));
            for kind in [EntryKind::Commission, EntryKind::Hold] {
                if kind == EntryKind::Hold && !held {
                    continue;
                }
                entries.push(Entry {
                    at,
                    earner: line.earner,
                    currency: pay,
                    kind,
                    amount: line.amount,
                    available_at,
                    reference: id.clone(),
                });
            }
        }
        debug_assert_eq!(
            (entries.iter())
                .filter(|e| e.kind == EntryKind::Commission)
                .map(|e| e.amount)
                .sum::<Decimal>()
                + retained,
            base,
            "lines plus retained equal the commission base"
        );
        let record = SaleRecord {
            id,
            seq: self.next_seq(),
            buyer,
            amount,
            currency,
            at,
            category: e.category.clone(),
            plan: plan_index,
            // Set at commit, when its entries take their place.
            first_entry: 0,
            lines: lines.into_boxed_slice(),
            reversed: None,
            unpaid,
            retained,
            refunded: Decimal::new(0, u32::from(currency.minor_units())),
            screening: decided.decision.map(Box::new),
            review: None,
            signals: digest,
            fx,
        };
        let mut effects = Effects::default();
        // A new sale has no awards recorded yet: no lookup on the hot path.
        // Lean, no distribution is built: the audit hashes the sale's
        // records from `record` (see `put_lean_sale_records`).
        let mut distribution = (!self.lean)
            .then(|| self.distribution_without_awards(&record, LineEntries::Staged(&entries)));
        if self.rewards.active.is_some() {
            let counts = Self::sale_counts_for_qualification(&record);
            let touches = self
                .rewards
                .sale_touches(&self.graph, buyer, counts, &entries);
            effects = self.evaluate(&touches, at, &mut entries);
            if let Some(distribution) = &mut distribution {
                distribution.awards = effects.awards.iter().map(|a| a.award.clone()).collect();
            }
        }
        Ok(Prep::New(Prepared {
            effects,
            outcome: distribution.map_or(Outcome::None, Outcome::Distribution),
            entries,
            mutation: Mutation::Sale(record, decided.effects),
        }))
    }

    /// Validates a sale's `fx`: the currency it pays in (known, not the
    /// sale's own) and the host's rate (positive).
    pub(super) fn fx_of(&self, fx: &Fx, sale_currency: Currency) -> Result<(Currency, Decimal)> {
        let rate = money::parse_decimal(
            fx.rate.text("fx.rate")?,
            "fx.rate",
            ErrorKind::InvalidAmount,
        )?;
        if rate <= Decimal::ZERO {
            return Err(Error::new(
                ErrorKind::InvalidAmount,
                "fx.rate",
                format!("fx.rate \"{rate}\" must be above 0"),
            ));
        }
        let pay = self.currencies.get(&fx.currency, "fx.currency")?;
        if pay == sale_currency {
            return Err(Error::new(
                ErrorKind::InvalidCurrency,
                "fx.currency",
                format!(
                    "fx.currency {:?} is the sale's own currency; leave fx out",
                    fx.currency
                ),
            ));
        }
        Ok((pay, rate))
    }

    pub(super) fn prepare_review(&self, e: &FraudReviewResolved) -> Result<Prep> {
        check_id(&e.review, "review")?;
        let at = time(&e.at, "at")?;
        if let Some(note) = &e.note {
            check_text(note, "note")?;
        }
        let unknown = || {
            Error::new(
                ErrorKind::UnknownReview,
                "review",
                format!("review {:?} names no sale held by screening", e.review),
            )
        };
        let index = self.sale_by_id(&e.review).ok_or_else(unknown)?;
        let sale = &self.sales[index as usize];
        if !sale.lines.iter().any(|l| l.screened()) {
            return Err(unknown());
        }
        if at < sale.at {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "at",
                format!(
                    "review {:?} at {at} is before the sale it reviews ({})",
                    e.review, sale.at
                ),
            ));
        }
        if let Some(done) = &sale.review {
            if done.decision == e.decision && done.at == at && done.note == e.note {
                return self.retry(done.seq, Outcome::None);
            }
            return Err(Error::new(
                ErrorKind::ReviewState,
                "review",
                format!(
                    "review {:?} was already resolved ({:?} at {})",
                    e.review, done.decision, done.at
                ),
            ));
        }
        let mut entries = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in sale.lines.iter().enumerate() {
            if !line.screened() || line.released() {
                continue;
            }
            let credit = sale.line_entry(i, LineEntries::Ledger(&self.ledger));
            let remainder = credit.amount - sale.reversed(i);
            let reversed = match e.decision {
                ReviewDecision::Release => None,
                ReviewDecision::Reverse => Some(remainder),
            };
            lines.push((i as u8, reversed));
            if remainder > Decimal::ZERO {
                entries.push(Entry {
                    at,
                    earner: credit.earner,
                    currency: sale.pay_currency(),
                    kind: match e.decision {
                        ReviewDecision::Release => EntryKind::Release,
                        ReviewDecision::Reverse => EntryKind::ReversalHeld,
                    },
                    amount: remainder,
                    available_at: credit.available_at,
                    reference: sale.id.clone(),
                });
            }
        }
        Ok(Prep::New(Prepared {
            outcome: Outcome::None,
            entries,
            effects: Effects::default(),
            mutation: Mutation::Review {
                sale: index,
                lines,
                resolution: Resolution {
                    decision: e.decision,
                    at,
                    note: e.note.clone(),
                    seq: self.next_seq(),
                },
            },
        }))
    }

    /// The distribution of a recorded sale, with the awards it made.
    pub(super) fn distribution(&self, sale: &SaleRecord) -> Distribution {
        let mut distribution =
            self.distribution_without_awards(sale, LineEntries::Ledger(&self.ledger));
        if !self.rewards.awards.is_empty() {
            distribution.awards = self.rewards.awards_at(sale.seq);
        }
        distribution
    }

    /// The records block of a new sale prepared lean, written from the
    /// sale's state: the same bytes as the distribution and entry records
    /// [`distribution_without_awards`](Self::distribution_without_awards)
    /// and `entry_records` would build (the vector suite's lean path
    /// compares the hashes of both).
    pub(super) fn put_lean_sale_records(
        &self,
        out: &mut Vec<u8>,
        sale: &SaleRecord,
        prepared: &Prepared,
    ) -> std::result::Result<(), crate::audit::EncodeError> {
        let plan = &self.plans[sale.plan as usize];
        let awards: Vec<&Award> = prepared.effects.awards.iter().map(|a| &a.award).collect();
        let fx = sale.fx.as_ref().map(|fx| Conversion {
            currency: fx.currency,
            rate: fx.rate.normalize(),
            base: fx.base,
        });
        let base = sale.base();
        let first = self.ledger.len() as u64;
        // Each earner's id is read once (a random read of the id arena):
        // its entries name the same earners as its lines.
        debug_assert!(sale.lines.len() <= crate::limits::MAX_LEVELS);
        let staged = LineEntries::Staged(&prepared.entries);
        let mut ids = [""; crate::limits::MAX_LEVELS];
        let mut earners = [u32::MAX; crate::limits::MAX_LEVELS];
        for (i, (id, earner)) in ids.iter_mut().zip(&mut earners).enumerate() {
            if i == sale.lines.len() {
                break;
            }
            *earner = sale.earner(i, staged);
            *id = self.graph.id(*earner);
        }
        let id_of = |earner: u32| {
            earners[..sale.lines.len()]
                .iter()
                .position(|&e| e == earner)
                .map_or_else(|| self.graph.id(earner), |i| ids[i])
        };
        crate::audit::put_sale_records(
            out,
            &crate::audit::DistributionParts {
                sale: &sale.id,
                plan: plan.id(),
                plan_version: plan.version(),
                currency: sale.currency,
                amount: sale.amount,
                retained: sale.retained,
                awards: &awards,
                screening: sale.screening.as_deref(),
                fx: fx.as_ref(),
            },
            sale.lines
                .iter()
                .zip(ids)
                .enumerate()
                .map(|(i, (l, id))| crate::audit::LineParts {
                    earner: id,
                    level: l.level,
                    rate: l.rate().value(),
                    base,
                    amount: sale.line_entry(i, staged).amount,
                    held: l.held(),
                }),
            sale.unpaid.iter().copied(),
            prepared
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| crate::audit::EntryParts {
                    seq: first + i as u64,
                    at: e.at,
                    earner: id_of(e.earner),
                    currency: e.currency,
                    kind: e.kind,
                    amount: e.amount,
                    available_at: e.available_at,
                    reference: &e.reference,
                }),
        )
    }

    /// The distribution of `sale`, whose line entries are `entries`.
    pub(super) fn distribution_without_awards(
        &self,
        sale: &SaleRecord,
        entries: LineEntries<'_>,
    ) -> Distribution {
        let plan = &self.plans[sale.plan as usize];
        self.graph
            .warm_ids((0..sale.lines.len()).map(|i| sale.earner(i, entries)));
        Distribution {
            sale: sale.id.clone(),
            plan: plan.id().to_string(),
            plan_version: plan.version(),
            currency: sale.currency,
            amount: sale.amount,
            lines: sale
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let credit = sale.line_entry(i, entries);
                    Line {
                        earner: Arc::from(self.graph.id(credit.earner)),
                        level: l.level,
                        rate: l.rate(),
                        base: sale.base(),
                        amount: credit.amount,
                        held: l.held(),
                    }
                })
                .collect(),
            retained: sale.retained,
            unpaid: sale
                .unpaid
                .iter()
                .map(|&(level, reason)| Unpaid { level, reason })
                .collect(),
            awards: Vec::new(),
            screening: sale.screening.as_deref().cloned(),
            fx: sale.fx.as_ref().map(|fx| Conversion {
                currency: fx.currency,
                rate: fx.rate.normalize(),
                base: fx.base,
            }),
        }
    }

    pub(super) fn refund_outcome(&self, id: &Arc<str>, record: &RefundRecord) -> RefundOutcome {
        let sale = &self.sales[record.sale as usize];
        RefundOutcome {
            refund: id.clone(),
            sale: sale.id.clone(),
            reversals: record
                .reversals
                .iter()
                .map(|&(line, amount)| {
                    let line = usize::from(line);
                    let earner = sale.earner(line, LineEntries::Ledger(&self.ledger));
                    Reversal {
                        earner: Arc::from(self.graph.id(earner)),
                        level: sale.lines[line].level,
                        amount,
                    }
                })
                .collect(),
            refunded_total: record.refunded_total,
            milestone_reversals: if self.rewards.reversals.is_empty()
                || self.refunds.get(id).is_none_or(|r| r.seq != record.seq)
            {
                Vec::new()
            } else {
                self.rewards.reversals_at(record.seq)
            },
        }
    }

    pub(super) fn prepare_refund(&self, e: &RefundRecorded) -> Result<Prep> {
        check_id(&e.refund, "refund")?;
        check_id(&e.sale, "sale")?;
        let at = time(&e.at, "at")?;
        let sale_index = self.sale_by_id(&e.sale).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownSale,
                "sale",
                format!("sale {:?} was never recorded", e.sale),
            )
        })?;
        let sale = &self.sales[sale_index as usize];
        let amount = positive(
            sale.currency
                .parse_amount(e.amount.text("amount")?, "amount")?,
            "amount",
        )?;
        if at < sale.at {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "at",
                format!(
                    "refund {:?} at {at} is before its sale {:?} ({})",
                    e.refund, e.sale, sale.at
                ),
            ));
        }
        if let Some((id, record)) = self.refunds.get_key_value(e.refund.as_str()) {
            if record.sale == sale_index && record.amount == amount && record.at == at {
                return self.retry(record.seq, Outcome::Refund(self.refund_outcome(id, record)));
            }
            return Err(duplicate("refund", &e.refund));
        }
        // A line released from a hold after the refund's `at` was held
        // then: the reversal would come out of the wrong bucket. Refused,
        // as any fact dated before one it presupposes (releases are rare:
        // the earner's entries since the sale are read only for them).
        let ledger = LineEntries::Ledger(&self.ledger);
        for (i, _) in
            (sale.lines.iter().enumerate()).filter(|(_, l)| l.held() && l.released() && !l.voided())
        {
            let earner = sale.earner(i, ledger);
            let release = self
                .ledger
                .earner_entries(earner)
                .take_while(|x| !(x.kind == EntryKind::Commission && *x.reference == *sale.id))
                .find(|x| x.kind == EntryKind::Release && *x.reference == *sale.id);
            if let Some(release) = release.filter(|r| at < r.at) {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    "at",
                    format!(
                        "refund {:?} at {at} is before the release ({}) of the held line of {:?} \
                         it would reverse",
                        e.refund,
                        release.at,
                        self.graph.id(earner)
                    ),
                ));
            }
        }
        let total = money::add(sale.refunded, amount, "amount")?;
        if total > sale.amount {
            return Err(Error::new(
                ErrorKind::OverRefund,
                "amount",
                format!(
                    "refunding {amount} more of sale {:?} would refund {total} of {} {}",
                    e.sale, sale.amount, sale.currency
                ),
            ));
        }
        let rounding = self.plans[sale.plan as usize].rounding();
        let mut reversals = Vec::new();
        let mut entries = Vec::new();
        let id: Arc<str> = Arc::from(e.refund.as_str());
        for (i, line) in sale.lines.iter().enumerate() {
            if line.voided() {
                continue;
            }
            let credit = sale.line_entry(i, ledger);
            // round(line × refunded_total / amount), formed exactly and
            // rounded once; the line may be in the fx currency.
            let cumulative = if total == sale.amount {
                credit.amount
            } else {
                money::Wide::of(credit.amount)
                    .mul(money::Wide::of(total))
                    .div_round(
                        money::Wide::of(sale.amount),
                        u32::from(sale.pay_currency().minor_units()),
                        rounding,
                    )
                    .ok_or_else(|| money::beyond("amount"))?
            };
            let delta = cumulative - sale.reversed(i);
            debug_assert!(
                delta >= Decimal::ZERO,
                "reversals only grow with the refunded total"
            );
            if delta <= Decimal::ZERO {
                continue;
            }
            reversals.push((i as u8, delta));
            entries.push(Entry {
                at,
                earner: credit.earner,
                currency: credit.currency,
                kind: if line.held_now() {
                    EntryKind::ReversalHeld
                } else {
                    EntryKind::Reversal
                },
                amount: delta,
                available_at: credit.available_at,
                reference: id.clone(),
            });
        }
        let record = RefundRecord {
            seq: self.next_seq(),
            sale: sale_index,
            amount,
            at,
            reversals,
            refunded_total: total,
        };
        let mut effects = Effects::default();
        let mut outcome = self.refund_outcome(&id, &record);
        if self.rewards.active.is_some() {
            let uncounts = total == sale.amount && Self::sale_counts_for_qualification(sale);
            let touches = self
                .rewards
                .refund_touches(&self.graph, sale.buyer, uncounts, &entries);
            effects = self.evaluate(&touches, at, &mut entries);
            outcome.milestone_reversals =
                effects.reversals.iter().map(|r| r.record.clone()).collect();
        }
        Ok(Prep::New(Prepared {
            effects,
            outcome: Outcome::Refund(outcome),
            entries,
            mutation: Mutation::Refund { id, record },
        }))
    }

    /// The buyer of sale `sale` at `at`: a member (`unknown_member`
    /// naming `buyer` otherwise) who had joined by then (`invalid_time`
    /// naming `at` otherwise: DESIGN.md, "Time order").
    pub(super) fn sale_buyer(&self, sale: &str, buyer: &str, at: Timestamp) -> Result<u32> {
        let index = self.graph.require(buyer, "buyer")?;
        let joined = self.graph.joined_at(index);
        if at < joined {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "at",
                format!("sale {sale:?} at {at} is before its buyer {buyer:?} joined ({joined})"),
            ));
        }
        Ok(index)
    }

    /// `malformed` unless every sale's lines name commission entries of
    /// that sale in the ledger and keep a rate ([`SaleLine::rate_is_a_rate`]:
    /// reading back any other scale would panic), and its reversed amounts,
    /// if any, are one per line: what a restored snapshot must hold before
    /// a line is read through its entry.
    pub(super) fn check_sale_lines(&self) -> Result<()> {
        for sale in self.sales.iter() {
            let bad = |why: &str| {
                Error::general(
                    ErrorKind::Malformed,
                    format!("undecodable snapshot: sale {:?} {why}", sale.id),
                )
            };
            if sale
                .reversed
                .as_ref()
                .is_some_and(|r| r.len() != sale.lines.len())
            {
                return Err(bad("has reversed amounts for other lines than its own"));
            }
            for line in sale.lines.iter() {
                if !line.rate_is_a_rate() {
                    return Err(bad(&format!(
                        "has a line whose rate (mantissa {}, scale {}) is not in [0, 1] with at \
                         most {} decimals",
                        line.rate,
                        line.rate_scale,
                        Rate::MAX_DECIMALS
                    )));
                }
                let seq = sale.first_entry.saturating_add(u64::from(line.entry));
                match self.ledger.entry(seq) {
                    Some(entry)
                        if entry.kind == EntryKind::Commission && entry.reference == sale.id => {}
                    _ => {
                        return Err(bad(&format!(
                            "names ledger entry {seq}, not its commission"
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    /// The index of the sale recorded as `id`.
    pub(super) fn sale_by_id(&self, id: &str) -> Option<u32> {
        self.sale_index.get(id, |i| &self.sales[i as usize].id)
    }
}
