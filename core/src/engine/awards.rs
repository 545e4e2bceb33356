//! The glue between the engine and [`crate::rewards`]: evaluating
//! milestones after each event, milestone sets, challenges and their
//! close, and the rewards queries (leaderboards, challenge status,
//! awards). The rules themselves live in `crate::rewards`.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::graph::MemberStatus;
use crate::id::check_id;
use crate::ledger::{Entry, EntryKind};
use crate::money;
use crate::rewards::{self, ActiveSet, Effects};
use crate::screen::Action;
use crate::time::Timestamp;

use super::pipeline::{duplicate, time, Mutation, Prep, Prepared};
use super::sales::SaleRecord;
use super::Engine;

impl Engine {
    /// Milestone awards and reversals of `touches` at `at`, bonuses maturing
    /// after the hold period of the plan in force at `at`; their entries are
    /// appended to `entries`.
    pub(super) fn evaluate(
        &self,
        touches: &[rewards::Touch],
        at: Timestamp,
        entries: &mut Vec<Entry>,
    ) -> Effects {
        if touches.is_empty() {
            return Effects::default();
        }
        let available_at = at.plus_days(self.plan_at(at).hold_days());
        let seq = self.next_seq();
        self.rewards
            .evaluate(&self.graph, touches, at, available_at, seq, entries)
    }

    /// The outcome of a join (or any event without records of its own):
    /// the awards it made, if any.
    pub(super) fn awards_outcome(&self, seq: u64) -> Outcome {
        let awards = self.rewards.awards_at(seq);
        if awards.is_empty() {
            Outcome::None
        } else {
            Outcome::Awards(awards)
        }
    }

    /// Whether `sale` counts towards qualified referrals, own sales and
    /// sales volumes: not when fraud screening blocked any of its lines (a
    /// blocked sale must not qualify a referral or earn a milestone). A
    /// pure function of the recorded sale, since a refund asks it again.
    pub(super) fn sale_counts_for_qualification(sale: &SaleRecord) -> bool {
        !sale
            .screening
            .as_ref()
            .is_some_and(|d| d.hits.iter().any(|h| h.action == Action::Block))
    }

    pub(super) fn prepare_milestones(&self, e: &MilestonesSet) -> Result<Prep> {
        time(&e.at, "at")?;
        let (milestones, counts, on_refund) = e.validate(
            &self.currencies,
            self.rewards.key_index(),
            self.rewards.next_key(),
        )?;
        if let Some(active) = &self.rewards.active {
            if active.event == *e {
                return self.retry(active.seq, Outcome::None);
            }
        }
        Ok(Prep::New(Prepared::state(Mutation::Milestones(Box::new(
            ActiveSet {
                event: e.clone(),
                seq: self.next_seq(),
                milestones,
                counts,
                on_refund,
            },
        )))))
    }

    pub(super) fn prepare_challenge(&self, e: &ChallengeCreated) -> Result<Prep> {
        let seq = self.next_seq();
        let challenge = e.validate(&self.graph, &self.currencies, seq)?;
        if let Some(existing) = self.rewards.challenges.get(e.id.as_str()) {
            if existing.event == *e {
                return self.retry(existing.seq, Outcome::None);
            }
            return Err(duplicate("id", &e.id));
        }
        Ok(Prep::New(Prepared::state(Mutation::ChallengeCreate(
            Arc::from(e.id.as_str()),
            Box::new(challenge),
        ))))
    }

    pub(super) fn challenge(&self, id: &str) -> Result<(&Arc<str>, &rewards::Challenge)> {
        check_id(id, "id")?;
        self.rewards.challenges.get_key_value(id).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownChallenge,
                "id",
                format!("challenge {id:?} was never created"),
            )
        })
    }

    pub(super) fn prepare_close(&self, e: &ChallengeClosed) -> Result<Prep> {
        let at = time(&e.at, "at")?;
        let (id, challenge) = self.challenge(&e.id)?;
        if let Some(closed) = &challenge.closed {
            if closed.at == at {
                return self.retry(closed.seq, Outcome::Challenge(closed.result.clone()));
            }
            return Err(Error::new(
                ErrorKind::ChallengeState,
                "id",
                format!("challenge {:?} was already closed at {}", e.id, closed.at),
            ));
        }
        let progress = self.challenge_progress(challenge, at.min(challenge.to))?;
        let total = progress
            .iter()
            .try_fold(Decimal::ZERO, |sum, p| money::add(sum, p.1, "progress"))?;
        let met = total >= challenge.target;
        let mut shares = Vec::new();
        let mut entries = Vec::new();
        if met {
            let paid = |m: u32| self.graph.status(m) == MemberStatus::Active;
            let weights: Vec<(u32, Decimal, Arc<str>)> = match challenge.split {
                rewards::Split::Leader => {
                    if paid(challenge.leader) {
                        vec![(
                            challenge.leader,
                            Decimal::ONE,
                            Arc::from(self.graph.id(challenge.leader)),
                        )]
                    } else {
                        Vec::new()
                    }
                }
                rewards::Split::Equal | rewards::Split::ProRata => progress
                    .iter()
                    .filter(|(m, p)| *p > Decimal::ZERO && paid(*m))
                    .map(|&(m, p)| {
                        let weight = if challenge.split == rewards::Split::Equal {
                            Decimal::ONE
                        } else {
                            p
                        };
                        (m, weight, Arc::from(self.graph.id(m)))
                    })
                    .collect(),
            };
            let split = rewards::split_exactly(challenge.reward, challenge.currency, &weights);
            debug_assert!(
                split.is_empty() || split.iter().map(|s| s.1).sum::<Decimal>() == challenge.reward,
                "a challenge split adds up to the reward"
            );
            let available_at = at.plus_days(self.plan_at(at).hold_days());
            let mut paid_shares: Vec<(u32, Decimal)> =
                split.into_iter().filter(|s| s.1 > Decimal::ZERO).collect();
            paid_shares.sort_by(|a, b| self.graph.id(a.0).cmp(self.graph.id(b.0)));
            for (member, amount) in paid_shares {
                entries.push(Entry {
                    at,
                    earner: member,
                    currency: challenge.currency,
                    kind: EntryKind::Bonus,
                    amount,
                    available_at,
                    reference: id.clone(),
                });
                shares.push(crate::event::ChallengeShare {
                    member: Arc::from(self.graph.id(member)),
                    progress: progress
                        .iter()
                        .find(|p| p.0 == member)
                        .map_or(Decimal::ZERO, |p| p.1),
                    amount,
                });
            }
        }
        let result = crate::event::ChallengeResult {
            id: id.clone(),
            total,
            target: challenge.target,
            met,
            currency: challenge.currency.code().to_string(),
            shares,
        };
        Ok(Prep::New(Prepared {
            effects: Effects::default(),
            outcome: Outcome::Challenge(result.clone()),
            entries,
            mutation: Mutation::ChallengeClose(
                id.clone(),
                Box::new(rewards::Closed {
                    at,
                    seq: self.next_seq(),
                    result,
                }),
            ),
        }))
    }

    /// Each team member's own progress in `challenge` over
    /// `[from, min(until, to))`, team in breadth-first order (leader first).
    pub(super) fn challenge_progress(
        &self,
        challenge: &rewards::Challenge,
        until: Timestamp,
    ) -> Result<Vec<(u32, Decimal)>> {
        let team = self
            .graph
            .subtree(challenge.leader, challenge.depth as usize);
        let mut in_team = vec![false; self.graph.len()];
        for &m in &team {
            in_team[m as usize] = true;
        }
        let (from, to) = (challenge.from, challenge.to.min(until));
        let inside = |at: Timestamp| from <= at && at < to;
        let scale = match challenge.metric {
            rewards::ChallengeMetric::SalesVolume => u32::from(challenge.currency.minor_units()),
            _ => 0,
        };
        let mut tally = rewards::Tally::new(self.graph.len(), scale);
        match challenge.metric {
            rewards::ChallengeMetric::SalesVolume => {
                for sale in self.sales.iter() {
                    if in_team[sale.buyer as usize]
                        && sale.currency == challenge.currency
                        && inside(sale.at)
                        && Self::sale_counts_for_qualification(sale)
                    {
                        tally.add(sale.buyer, sale.at, sale.amount);
                    }
                }
                for refund in self.refunds.values() {
                    let sale = &self.sales[refund.sale as usize];
                    if in_team[sale.buyer as usize]
                        && sale.currency == challenge.currency
                        && inside(refund.at)
                        && Self::sale_counts_for_qualification(sale)
                    {
                        tally.add(sale.buyer, refund.at, -refund.amount);
                    }
                }
            }
            rewards::ChallengeMetric::QualifiedReferrals => {
                for q in self.rewards.qualifications.iter() {
                    if in_team[q.sponsor as usize] && inside(q.at) {
                        tally.add(q.sponsor, q.at, Decimal::from(q.delta));
                    }
                }
            }
            rewards::ChallengeMetric::DirectReferrals => {
                for member in 0..self.graph.len() as u32 {
                    let joined = self.graph.joined_at(member);
                    if let Some(sponsor) = self.graph.sponsor(member) {
                        if in_team[sponsor as usize] && inside(joined) {
                            tally.add(sponsor, joined, Decimal::ONE);
                        }
                    }
                }
            }
        }
        // Amounts carry the currency's minor units, even when zero.
        team.into_iter().map(|m| Ok((m, tally.value(m)?))).collect()
    }

    /// The top `limit` members (at most
    /// [`MAX_LEADERBOARD`](crate::limits::MAX_LEADERBOARD)) by `metric` over
    /// the half-open window `[from, to)` (RFC 3339):
    ///
    /// - `qualified_referrals`: direct referrals that became qualified,
    ///   minus those that stopped qualifying, inside the window;
    /// - `net_earnings` (needs `currency`): commissions, bonuses and
    ///   adjustments minus reversals dated inside the window, held money
    ///   counting only when released ([`rewards::earnings_delta`]);
    /// - `sales_volume` (needs `currency`): sales minus refunds dated inside
    ///   the window by members of the downline (the tree as it stands);
    /// - `downline_growth`: members who joined below inside the window.
    ///
    /// Ties go to who reached the value first, then the smaller member id.
    /// Terminated members and zero values are left out.
    ///
    /// ```
    /// let mut engine = upline::Engine::new();
    /// for (m, s) in [("a", None), ("b", Some("a")), ("c", Some("a"))] {
    ///     engine.apply_json(&serde_json::json!({"type": "member_joined", "member": m,
    ///         "sponsor": s, "at": "2026-01-05T00:00:00Z"}).to_string())?;
    /// }
    /// let board = engine.leaderboard("downline_growth", "2026-01-01T00:00:00Z",
    ///     "2026-02-01T00:00:00Z", 10, None)?;
    /// assert_eq!(board.entries[0].member.as_ref(), "a");
    /// assert_eq!(board.entries[0].value.to_string(), "2");
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn leaderboard(
        &self,
        metric: &str,
        from: &str,
        to: &str,
        limit: usize,
        currency: Option<&str>,
    ) -> Result<rewards::Leaderboard> {
        let from = time(from, "from")?;
        let to = time(to, "to")?;
        if from >= to {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "to",
                format!("to {to} must be after from {from}"),
            ));
        }
        if limit > crate::limits::MAX_LEADERBOARD {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "limit",
                format!("limit {limit} is above {}", crate::limits::MAX_LEADERBOARD),
            ));
        }
        let currency = match currency {
            Some(code) => Some(self.currencies.get(code, "currency")?),
            None => None,
        };
        let need_currency = || {
            currency.ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidCurrency,
                    "currency",
                    format!("the {metric} leaderboard needs a currency"),
                )
            })
        };
        let inside = |at: Timestamp| from <= at && at < to;
        let n = self.graph.len();
        let tally = match metric {
            "qualified_referrals" => {
                let mut tally = rewards::Tally::new(n, 0);
                for q in self.rewards.qualifications.iter() {
                    if inside(q.at) {
                        tally.add(q.sponsor, q.at, Decimal::from(q.delta));
                    }
                }
                tally
            }
            "net_earnings" => {
                let currency = need_currency()?;
                let mut tally = rewards::Tally::new(n, u32::from(currency.minor_units()));
                for entry in self.ledger.entries() {
                    if inside(entry.at) && entry.currency == currency {
                        let delta = rewards::earnings_delta(entry.kind, entry.amount);
                        if !delta.is_zero() {
                            tally.add(entry.earner, entry.at, delta);
                        }
                    }
                }
                tally
            }
            "sales_volume" => {
                let currency = need_currency()?;
                // Each buyer's own volume, then one bottom-up pass.
                let mut own = rewards::Tally::new(n, u32::from(currency.minor_units()));
                for sale in self.sales.iter() {
                    if inside(sale.at)
                        && sale.currency == currency
                        && Self::sale_counts_for_qualification(sale)
                    {
                        own.add(sale.buyer, sale.at, sale.amount);
                    }
                }
                for refund in self.refunds.values() {
                    let sale = &self.sales[refund.sale as usize];
                    if inside(refund.at)
                        && sale.currency == currency
                        && Self::sale_counts_for_qualification(sale)
                    {
                        own.add(sale.buyer, refund.at, -refund.amount);
                    }
                }
                own.downline(&self.graph, &crate::metrics::children_first(&self.graph))
            }
            "downline_growth" => {
                let mut own = rewards::Tally::new(n, 0);
                for member in 0..n as u32 {
                    let joined = self.graph.joined_at(member);
                    if inside(joined) {
                        own.add(member, joined, Decimal::ONE);
                    }
                }
                own.downline(&self.graph, &crate::metrics::children_first(&self.graph))
            }
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidReward,
                    "metric",
                    format!("metric {other:?} is not a leaderboard metric (qualified_referrals, net_earnings, sales_volume, downline_growth)"),
                ))
            }
        };
        let entries = tally.top(&self.graph, limit)?;
        Ok(rewards::Leaderboard {
            metric: metric.to_string(),
            from,
            to,
            currency: currency.map(|c| c.code().to_string()),
            entries,
        })
    }

    /// A challenge's progress as of `as_of`: each team member's own
    /// contribution over `[from, min(as_of, to, closed_at))` and the total,
    /// with the result recorded at its close.
    pub fn challenge_status(&self, id: &str, as_of: &str) -> Result<rewards::ChallengeStatus> {
        let as_of = time(as_of, "as_of")?;
        let (id, challenge) = self.challenge(id)?;
        let until = match &challenge.closed {
            Some(closed) => as_of.min(closed.at),
            None => as_of,
        };
        let progress = self.challenge_progress(challenge, until)?;
        let total = progress
            .iter()
            .try_fold(Decimal::ZERO, |sum, p| money::add(sum, p.1, "progress"))?;
        let mut members: Vec<(u32, Decimal)> =
            progress.into_iter().filter(|p| !p.1.is_zero()).collect();
        members.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| self.graph.id(a.0).cmp(self.graph.id(b.0)))
        });
        Ok(rewards::ChallengeStatus {
            id: id.clone(),
            name: challenge.event.name.clone(),
            leader: Arc::from(self.graph.id(challenge.leader)),
            depth: challenge.depth,
            metric: challenge.metric,
            from: challenge.from,
            to: challenge.to,
            target: challenge.target,
            total,
            met: total >= challenge.target,
            state: if challenge.closed.is_some() {
                "closed"
            } else {
                "open"
            },
            members: members
                .into_iter()
                .map(|(m, progress)| rewards::MemberProgress {
                    member: Arc::from(self.graph.id(m)),
                    progress,
                })
                .collect(),
            result: challenge.closed.as_ref().map(|c| c.result.clone()),
        })
    }

    /// The milestones `member` holds (standing awards, oldest first).
    pub fn awards(&self, member: &str) -> Result<Vec<crate::event::Award>> {
        let member = self.graph.require(member, "member")?;
        Ok(self
            .rewards
            .awards_of(member)
            .into_iter()
            .cloned()
            .collect())
    }
}
