//! Members and the graph events: joins, status changes, sponsor changes
//! and holds, and [`Join`], what a retried join is checked against.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::chunked::Chunked;
use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::graph::MemberStatus;
use crate::id::{check_id, check_text};
use crate::ledger::{Entry, EntryKind};
use crate::screen;
use crate::time::Timestamp;

use super::pipeline::{duplicate, time, Mutation, Prep, Prepared};
use super::sales::LineEntries;
use super::Engine;

/// What a retried join is checked against, for every member by dense
/// index: the sponsor it joined under (the graph has the current one) and
/// its sequence number. 8 bytes a member: the sponsor and the low 32 bits
/// of the seq; the high bits change at most once every 2^32 events, so they
/// are kept as a short list of where they change. Serialized as a list of
/// `{sponsor, seq}`, as when each join held all 64 bits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Joins {
    records: Chunked<Join>,
    /// `(first member index, high 32 bits of its seq)` wherever the high
    /// bits differ from the member before's; empty below 2^32 events.
    highs: Vec<(u32, u32)>,
}

/// One member's join: its sponsor ([`NO_MEMBER`](crate::graph::NO_MEMBER)
/// for a root) and the low 32 bits of its seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Join {
    sponsor: u32,
    seq_low: u32,
}

#[derive(Serialize, Deserialize)]
struct JoinRecord {
    sponsor: Option<u32>,
    seq: u64,
}

impl Joins {
    /// Records the join of the next member (dense index `len()`).
    pub(super) fn push(&mut self, sponsor: Option<u32>, seq: u64) {
        let index = self.records.len() as u32;
        let high = (seq >> 32) as u32;
        if high != self.high_at(index) {
            self.highs.push((index, high));
        }
        self.records.push(Join {
            sponsor: sponsor.unwrap_or(crate::graph::NO_MEMBER),
            seq_low: seq as u32,
        });
    }

    /// The high 32 bits of member `index`'s seq.
    fn high_at(&self, index: u32) -> u32 {
        match self.highs.partition_point(|&(from, _)| from <= index) {
            0 => 0,
            k => self.highs[k - 1].1,
        }
    }

    /// The sponsor member `index` joined under and the seq of its join.
    pub(super) fn get(&self, index: u32) -> (Option<u32>, u64) {
        let join = self.records[index as usize];
        let sponsor = Some(join.sponsor).filter(|&s| s != crate::graph::NO_MEMBER);
        let seq = u64::from(self.high_at(index)) << 32 | u64::from(join.seq_low);
        (sponsor, seq)
    }

    /// Number of joins.
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }
}

impl Serialize for Joins {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for index in 0..self.len() as u32 {
            let (sponsor, at) = self.get(index);
            seq.serialize_element(&JoinRecord { sponsor, seq: at })?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Joins {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Joins;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of joins ({sponsor, seq})")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> std::result::Result<Joins, A::Error> {
                let mut joins = Joins::default();
                while let Some(record) = items.next_element::<JoinRecord>()? {
                    joins.push(record.sponsor, record.seq);
                }
                Ok(joins)
            }
        }
        deserializer.deserialize_seq(Visitor)
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
            let (joined_under, seq) = self.joins.get(existing);
            let same_sponsor = joined_under.map(|s| self.graph.id(s)) == e.sponsor.as_deref();
            let signals = self.join_signals.get(&existing).copied().unwrap_or(0);
            if same_sponsor && self.graph.joined_at(existing) == at && signals == digest {
                return self.retry(seq, self.awards_outcome(seq));
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
                let line = usize::from(line);
                let credit = record.line_entry(line, LineEntries::Ledger(&self.ledger));
                let amount = credit.amount - record.reversed(line);
                if amount > Decimal::ZERO {
                    prepared.entries.push(Entry {
                        at,
                        earner: member,
                        // The line's own currency: the pay currency of a
                        // sale paid in another one.
                        currency: credit.currency,
                        kind: EntryKind::Release,
                        amount,
                        available_at: credit.available_at,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Seqs past 2^32 keep their high bits (kept where they change), and a
    /// snapshot writes every join's full seq and reads it back.
    #[test]
    fn joins_keep_seqs_past_two_to_the_32() {
        let mut joins = Joins::default();
        let seqs = [
            1,
            7,
            (1 << 32) - 1,
            1 << 32,
            (1 << 32) + 5,
            3 << 32,
            (3 << 32) + 1,
        ];
        for (i, &seq) in seqs.iter().enumerate() {
            joins.push((i > 0).then(|| i as u32 - 1), seq);
        }
        assert_eq!(joins.highs, vec![(3, 1), (5, 3)]);
        for (i, &seq) in seqs.iter().enumerate() {
            assert_eq!(joins.get(i as u32), ((i > 0).then(|| i as u32 - 1), seq));
        }
        let text = serde_json::to_string(&joins).unwrap();
        assert!(
            text.starts_with(r#"[{"sponsor":null,"seq":1},{"sponsor":0,"seq":7}"#),
            "{text}"
        );
        assert!(text.contains(r#"{"sponsor":3,"seq":4294967301}"#), "{text}");
        let back: Joins = serde_json::from_str(&text).unwrap();
        assert_eq!(back, joins);
        assert_eq!(std::mem::size_of::<Join>(), 8);
    }
}
