//! Members and the graph events: joins, status changes, sponsor changes
//! and holds, and [`Join`], what a retried join is checked against.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::graph::MemberStatus;
use crate::id::{check_id, check_text};
use crate::ledger::{Entry, EntryKind};
use crate::screen;
use crate::time::Timestamp;

use super::pipeline::{duplicate, time, Mutation, Prep, Prepared};
use super::Engine;

/// What a retried join is checked against: the sponsor it joined under
/// (the graph has the current one) and its sequence number. Three `u32`s,
/// 12 bytes a member; serialized as `{sponsor, seq}` as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "JoinRecord", into = "JoinRecord")]
pub(super) struct Join {
    /// [`NO_MEMBER`](crate::graph::NO_MEMBER) for a root.
    pub(super) sponsor: u32,
    pub(super) seq_low: u32,
    pub(super) seq_high: u32,
}

#[derive(Serialize, Deserialize)]
pub(super) struct JoinRecord {
    pub(super) sponsor: Option<u32>,
    pub(super) seq: u64,
}

impl Join {
    pub(super) fn new(sponsor: Option<u32>, seq: u64) -> Join {
        Join {
            sponsor: sponsor.unwrap_or(crate::graph::NO_MEMBER),
            seq_low: seq as u32,
            seq_high: (seq >> 32) as u32,
        }
    }

    pub(super) fn sponsor(&self) -> Option<u32> {
        Some(self.sponsor).filter(|&s| s != crate::graph::NO_MEMBER)
    }

    pub(super) fn seq(&self) -> u64 {
        u64::from(self.seq_high) << 32 | u64::from(self.seq_low)
    }
}

impl From<JoinRecord> for Join {
    fn from(record: JoinRecord) -> Join {
        Join::new(record.sponsor, record.seq)
    }
}

impl From<Join> for JoinRecord {
    fn from(join: Join) -> JoinRecord {
        JoinRecord {
            sponsor: join.sponsor(),
            seq: join.seq(),
        }
    }
}

impl Engine {
    pub(super) fn prepare_join(&self, e: &MemberJoined) -> Result<Prep> {
        check_id(&e.member, "member")?;
        if let Some(sponsor) = &e.sponsor {
            check_id(sponsor, "sponsor")?;
        }
        let at = time(&e.at, "at")?;
        let kept = match &e.signals {
            Some(signals) => Some(screen::reduce(signals, at)?),
            None => None,
        };
        let digest = kept.as_ref().map_or(0, screen::Kept::digest);
        if e.sponsor.as_deref() == Some(e.member.as_str()) {
            return Err(Error::new(
                ErrorKind::SelfSponsor,
                "sponsor",
                format!("member {:?} cannot sponsor itself", e.member),
            ));
        }
        if let Some(existing) = self.graph.index_of(&e.member) {
            let join = &self.joins[existing as usize];
            let same_sponsor = join.sponsor().map(|s| self.graph.id(s)) == e.sponsor.as_deref();
            let signals = self.join_signals.get(&existing).copied().unwrap_or(0);
            if same_sponsor && self.graph.joined_at(existing) == at && signals == digest {
                return self.retry(join.seq(), self.awards_outcome(join.seq()));
            }
            return Err(duplicate("member", &e.member));
        }
        let sponsor = self.graph.check_join(&e.member, e.sponsor.as_deref())?;
        if let Some(sponsor) = sponsor {
            self.not_before_join(at, sponsor, "a join under them")?;
        }
        let mut prepared = Prepared::state(Mutation::Join {
            member: e.member.clone(),
            sponsor,
            at,
            kept,
        });
        if self.rewards.active.is_some() {
            let touches = self.rewards.join_touches(&self.graph, sponsor);
            prepared.effects = self.evaluate(&touches, at, &mut prepared.entries);
            if !prepared.effects.awards.is_empty() {
                prepared.outcome = Outcome::Awards(
                    prepared
                        .effects
                        .awards
                        .iter()
                        .map(|a| a.award.clone())
                        .collect(),
                );
            }
        }
        Ok(Prep::New(prepared))
    }

    pub(super) fn prepare_status(&self, e: &MemberStatusChanged) -> Result<Prep> {
        check_id(&e.member, "member")?;
        let at = time(&e.at, "at")?;
        let member = self.graph.require(&e.member, "member")?;
        self.not_before_join(at, member, "a status change")?;
        let current = self.graph.status(member);
        if current == MemberStatus::Terminated && e.status != MemberStatus::Terminated {
            return Err(Error::new(
                ErrorKind::MemberTerminated,
                "member",
                format!(
                    "member {:?} is terminated and cannot be reactivated",
                    e.member
                ),
            ));
        }
        Ok(Prep::New(Prepared::state(Mutation::Status(
            member, e.status,
        ))))
    }

    pub(super) fn prepare_reparent(&self, e: &SponsorChanged) -> Result<Prep> {
        check_id(&e.member, "member")?;
        check_id(&e.sponsor, "sponsor")?;
        check_text(&e.reason, "reason")?;
        let at = time(&e.at, "at")?;
        let member = self.graph.require(&e.member, "member")?;
        let sponsor = self.graph.require(&e.sponsor, "sponsor")?;
        self.not_before_join(at, member, "a sponsor change")?;
        self.not_before_join(at, sponsor, "a sponsor change")?;
        self.graph.check_reparent(member, sponsor)?;
        Ok(Prep::New(Prepared::state(Mutation::Reparent(
            member, sponsor,
        ))))
    }

    pub(super) fn prepare_hold(&self, e: &MemberHoldSet) -> Result<Prep> {
        check_id(&e.member, "member")?;
        check_text(&e.reason, "reason")?;
        let at = time(&e.at, "at")?;
        let member = self.graph.require(&e.member, "member")?;
        self.not_before_join(at, member, "a hold")?;
        let mut prepared = Prepared::state(Mutation::Hold { member, on: e.on });
        if !e.on {
            for &(sale, line) in self.held_lines.get(&member).into_iter().flatten() {
                let record = &self.sales[sale as usize];
                // A release presupposes the held sales it releases.
                if at < record.at {
                    return Err(Error::new(
                        ErrorKind::InvalidTime,
                        "at",
                        format!(
                            "the release of {:?} at {at} is before sale {:?} ({}), whose line \
                             it would release",
                            e.member, record.id, record.at
                        ),
                    ));
                }
                let line = &record.lines[usize::from(line)];
                let amount = line.amount - line.reversed;
                if amount > Decimal::ZERO {
                    prepared.entries.push(Entry {
                        at,
                        earner: member,
                        currency: record.currency,
                        kind: EntryKind::Release,
                        amount,
                        available_at: line.available_at,
                        reference: record.id.clone(),
                    });
                }
            }
        }
        Ok(Prep::New(prepared))
    }

    /// `invalid_time` when `at` is before `member` joined: `what` (a
    /// status change, a hold, …) presupposes the member (DESIGN.md, time
    /// order).
    fn not_before_join(&self, at: Timestamp, member: u32, what: &str) -> Result<()> {
        let joined = self.graph.joined_at(member);
        if at < joined {
            return Err(Error::new(
                ErrorKind::InvalidTime,
                "at",
                format!(
                    "{what} at {at} is before {:?} joined ({joined})",
                    self.graph.id(member)
                ),
            ));
        }
        Ok(())
    }
}
