//! Payouts: payout profiles, preparing a batch from available balances
//! (thresholds, fees, skip reasons in DESIGN.md's order), settling or
//! failing a payout, and the tax summary built from settled payouts.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::id::{check_id, check_text, HashMap};
use crate::ledger::{Entry, EntryKind};
use crate::money::Currency;
use crate::payout::{PayoutPolicy, PayoutRecord, PayoutState, Profile, TaxLine};
use crate::rewards::Effects;
use crate::time::Timestamp;

use super::pipeline::{duplicate, time, Mutation, Prep, Prepared};
use super::Engine;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BatchRecord {
    pub(super) seq: u64,
    pub(super) policy: PayoutPolicy,
    pub(super) batch: Batch,
}

pub(super) fn state_name(state: &PayoutState) -> &'static str {
    match state {
        PayoutState::Reserved => "reserved",
        PayoutState::Settled { .. } => "settled",
        PayoutState::Failed { .. } => "failed",
    }
}

impl Engine {
    pub(super) fn prepare_profile(&self, e: &PayoutProfileSet) -> Result<Prep> {
        check_id(&e.member, "member")?;
        check_id(&e.method, "method")?;
        let member = self.graph.require(&e.member, "member")?;
        Ok(Prep::New(Prepared::state(Mutation::Profile(
            member,
            Profile {
                method: e.method.clone(),
                verified: e.verified,
            },
        ))))
    }

    pub(super) fn prepare_batch(&self, e: &PayoutsPrepared) -> Result<Prep> {
        check_id(&e.batch, "batch")?;
        let as_of = time(&e.as_of, "as_of")?;
        let policy = e.policy.validate(&self.currencies)?;
        if let Some(record) = self.batches.get(e.batch.as_str()) {
            if record.batch.as_of == as_of && record.policy == e.policy {
                return self.retry(record.seq, Outcome::Batch(record.batch.clone()));
            }
            return Err(duplicate("batch", &e.batch));
        }
        if let Some(last) = self.last_batch_as_of {
            if as_of < last {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    "as_of",
                    format!("as_of {as_of} is before the previous batch's as_of {last}"),
                ));
            }
        }
        let batch_id: Arc<str> = Arc::from(e.batch.as_str());
        // Money already reversed by a later-dated refund is not paid: each
        // account's available balance is the lesser of now and the end of
        // time. Accounts with nothing to pay and nothing waiting are left
        // out before the rest are put in id order.
        let mut accounts: Vec<(u32, Currency, Decimal)> = Vec::new();
        self.ledger
            .each_account_balances(as_of, Timestamp::MAX, |earner, currency, now, then| {
                let available = now.available.min(then.available);
                if !(available.is_zero() && now.held.is_zero()) {
                    accounts.push((earner, currency, available));
                }
            });
        accounts.sort_by(|a, b| {
            self.graph
                .id(a.0)
                .cmp(self.graph.id(b.0))
                .then_with(|| a.1.code().cmp(b.1.code()))
        });
        let mut items = Vec::new();
        let mut skipped = Vec::new();
        let mut entries = Vec::new();
        let mut payouts = Vec::new();
        for (earner, currency, available) in accounts {
            let earner_id = Arc::from(self.graph.id(earner));
            let profile = self.profiles.get(&earner).filter(|p| p.verified);
            // Every other account gets an item or the first reason that
            // applies, in DESIGN.md's order ("Payouts and tax summaries").
            let mut reason = if available < Decimal::ZERO {
                Some(SkipReason::NegativeBalance)
            } else if self.graph.on_hold(earner) || available.is_zero() {
                Some(SkipReason::OnHold)
            } else if policy.minimum(currency).is_some_and(|min| available < min) {
                Some(SkipReason::BelowMinimum)
            } else if profile.is_none() {
                Some(SkipReason::NoVerifiedProfile)
            } else {
                None
            };
            let mut fee = Decimal::ZERO;
            if let (Some(profile), None) = (profile, reason) {
                fee = policy.fee(&profile.method).on(available, currency)?;
                if fee >= available {
                    reason = Some(SkipReason::BelowFee);
                }
            }
            let (Some(profile), None) = (profile, reason) else {
                skipped.push(Skipped {
                    earner: earner_id,
                    currency: currency.code().to_string(),
                    reason: reason.unwrap_or(SkipReason::NoVerifiedProfile),
                });
                continue;
            };
            let payout: Arc<str> =
                Arc::from(format!("{}:{}:{}", e.batch, earner_id, currency.code()));
            items.push(PayoutItem {
                payout: payout.clone(),
                earner: earner_id,
                currency: currency.code().to_string(),
                gross: available,
                fee,
                net: available - fee,
                method: profile.method.clone(),
            });
            entries.push(Entry {
                at: as_of,
                earner,
                currency,
                kind: EntryKind::PayoutReserve,
                amount: available,
                available_at: as_of,
                reference: payout.clone(),
            });
            payouts.push((
                payout,
                PayoutRecord {
                    earner,
                    currency,
                    gross: available,
                    batch: batch_id.clone(),
                    state: PayoutState::Reserved,
                },
            ));
        }
        let batch = Batch {
            batch: batch_id.clone(),
            as_of,
            items,
            skipped,
        };
        Ok(Prep::New(Prepared {
            effects: Effects::default(),
            outcome: Outcome::Batch(batch.clone()),
            entries,
            mutation: Mutation::Batch {
                id: batch_id,
                record: BatchRecord {
                    seq: self.next_seq(),
                    policy: e.policy.clone(),
                    batch,
                },
                payouts,
            },
        }))
    }

    pub(super) fn payout(&self, id: &str) -> Result<(&Arc<str>, &PayoutRecord)> {
        check_id(id, "payout")?;
        self.payouts.get_key_value(id).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownPayout,
                "payout",
                format!("payout {id:?} was never prepared"),
            )
        })
    }

    pub(super) fn prepare_settle(&self, e: &PayoutSettled) -> Result<Prep> {
        check_text(&e.reference, "reference")?;
        let at = time(&e.at, "at")?;
        let next = PayoutState::Settled {
            at,
            reference: e.reference.clone(),
            seq: self.next_seq(),
        };
        self.prepare_payout_end(&e.payout, at, next, EntryKind::PayoutSettle, "be settled")
    }

    pub(super) fn prepare_fail(&self, e: &PayoutFailed) -> Result<Prep> {
        check_text(&e.reason, "reason")?;
        let at = time(&e.at, "at")?;
        let next = PayoutState::Failed {
            at,
            reason: e.reason.clone(),
            seq: self.next_seq(),
        };
        self.prepare_payout_end(&e.payout, at, next, EntryKind::PayoutFail, "fail")
    }

    /// A reserved payout settles or fails (`next`). Repeating the same end
    /// with the same details is a retry; any other change of a payout that
    /// already ended is `payout_state`.
    pub(super) fn prepare_payout_end(
        &self,
        payout: &str,
        at: Timestamp,
        next: PayoutState,
        kind: EntryKind,
        verb: &str,
    ) -> Result<Prep> {
        let (id, record) = self.payout(payout)?;
        match (&record.state, &next) {
            (PayoutState::Reserved, _) => {}
            (
                PayoutState::Settled {
                    at: a,
                    reference: r,
                    seq,
                },
                PayoutState::Settled {
                    at: b,
                    reference: s,
                    ..
                },
            )
            | (
                PayoutState::Failed {
                    at: a,
                    reason: r,
                    seq,
                },
                PayoutState::Failed {
                    at: b, reason: s, ..
                },
            ) if a == b && r == s => return self.retry(*seq, Outcome::None),
            (state, _) => {
                return Err(Error::new(
                    ErrorKind::PayoutState,
                    "payout",
                    format!(
                        "payout {payout:?} cannot {verb}: it is {}",
                        state_name(state)
                    ),
                ))
            }
        }
        if let Some(batch) = self.batches.get(&*record.batch) {
            if at < batch.batch.as_of {
                return Err(Error::new(
                    ErrorKind::InvalidTime,
                    "at",
                    format!(
                        "payout {payout:?} cannot {verb} at {at}, before its batch's as_of {}",
                        batch.batch.as_of
                    ),
                ));
            }
        }
        Ok(Prep::New(Prepared {
            effects: Effects::default(),
            outcome: Outcome::None,
            entries: vec![Entry {
                at,
                earner: record.earner,
                currency: record.currency,
                kind,
                amount: record.gross,
                available_at: at,
                reference: id.clone(),
            }],
            mutation: Mutation::PayoutState(id.clone(), next),
        }))
    }

    /// The state of a prepared payout.
    pub fn payout_state(&self, payout: &str) -> Option<&PayoutState> {
        self.payouts.get(payout).map(|p| &p.state)
    }

    /// Per earner and currency: earned and paid in calendar year `year`
    /// (UTC), and whether paid reaches `thresholds[currency]` (decimal
    /// strings; a currency without a threshold never reaches one). Ordered
    /// by earner id, then currency.
    pub fn tax_summary(
        &self,
        year: i32,
        thresholds: &BTreeMap<String, String>,
    ) -> Result<Vec<TaxLine>> {
        let (Some(from), to) = (
            Timestamp::start_of_year(year),
            year.checked_add(1)
                .and_then(Timestamp::start_of_year)
                .unwrap_or(Timestamp::MAX),
        ) else {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "year",
                format!("year {year} is outside 1..=9999"),
            ));
        };
        let mut limits = HashMap::default();
        for (code, text) in thresholds {
            let field = format!("thresholds.{code}");
            let currency = self.currencies.get(code, &field)?;
            let limit = currency.parse_amount(text, &field)?;
            if limit.is_sign_negative() && !limit.is_zero() {
                return Err(Error::new(
                    ErrorKind::InvalidAmount,
                    field.as_str(),
                    format!("{field} \"{text}\" must not be negative"),
                ));
            }
            limits.insert(currency, limit);
        }
        let mut accounts: Vec<(u32, Currency)> = self.ledger.accounts().collect();
        accounts.sort_by(|a, b| {
            self.graph
                .id(a.0)
                .cmp(self.graph.id(b.0))
                .then_with(|| a.1.code().cmp(b.1.code()))
        });
        let mut out = Vec::new();
        for (earner, currency) in accounts {
            let totals = self.ledger.totals(earner, currency, from, to);
            let earned = totals.earned + totals.bonuses + totals.adjustments - totals.reversed;
            if earned.is_zero() && totals.paid.is_zero() {
                continue;
            }
            let zero = Decimal::new(0, u32::from(currency.minor_units()));
            out.push(TaxLine {
                earner: Arc::from(self.graph.id(earner)),
                currency: currency.code().to_string(),
                earned: earned + zero,
                paid: totals.paid + zero,
                reaches_threshold: limits.get(&currency).is_some_and(|t| totals.paid >= *t),
            });
        }
        Ok(out)
    }
}
