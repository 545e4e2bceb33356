//! Decisions: evaluating a sale against the rules in force, first match
//! wins, and the evidence ([`Hit`], [`Decision`]) a support agent needs to
//! explain it.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calc::RawLine;
use crate::graph::Graph;
use crate::id::Id;
use crate::limits::{MAX_LEVELS, SCREEN_WALK};
use crate::money::Currency;
use crate::time::Timestamp;

use super::*;

/// One rule that matched a sale: which lines, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Hit {
    /// The rule's id.
    pub rule: String,
    /// What it did.
    pub action: Action,
    /// The rule's reason.
    pub reason: String,
    /// The levels it decided, ascending.
    pub levels: Vec<u8>,
    /// The earners of those levels, in level order.
    pub earners: Vec<Id>,
    /// Their amount in total (at the currency's scale).
    #[serde(serialize_with = "crate::money::serialize_decimal")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::Amount"))]
    pub amount: Decimal,
    /// The signals that matched (`device`, `ip`, `clicked_at`, …).
    pub matched: Vec<String>,
    /// The cluster evidence: the members involved, the buyer first.
    pub members: Vec<Id>,
    /// What was found, in words.
    pub detail: String,
}

/// What screening decided about one sale (absent when no rule matched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Decision {
    /// The rule set in force.
    pub rules: Id,
    /// The rules that matched, in rule order.
    pub hits: Vec<Hit>,
}

/// Per line, the action taken (`None`: no rule matched).
pub(crate) struct Decided {
    /// By line index (a table has at most `MAX_LEVELS` levels).
    pub(crate) actions: [Option<Action>; MAX_LEVELS],
    pub(crate) decision: Option<Decision>,
    pub(crate) effects: SaleEffects,
}

pub(crate) struct Evidence {
    pub(crate) matched: Vec<String>,
    pub(crate) members: Vec<u32>,
    pub(crate) detail: String,
}

/// The sale being screened.
pub(crate) struct SaleContext<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) buyer: u32,
    pub(crate) at: Timestamp,
    pub(crate) currency: Currency,
    pub(crate) signals: Option<Kept>,
}

/// Up to four cluster roots (one per cluster key of a sale), no heap.
#[derive(Default)]
pub(crate) struct Linked {
    pub(crate) roots: [u32; 4],
    pub(crate) len: usize,
}

impl Linked {
    pub(crate) fn add(&mut self, root: u32) {
        if !self.contains(root) && self.len < self.roots.len() {
            self.roots[self.len] = root;
            self.len += 1;
        }
    }

    pub(crate) fn contains(&self, root: u32) -> bool {
        self.roots[..self.len].contains(&root)
    }
}

/// The buyer and its ancestors with their clusters, no heap.
pub(crate) struct Walk {
    pub(crate) members: [(u32, u32); SCREEN_WALK + 1],
    pub(crate) len: usize,
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            members: [(0, 0); SCREEN_WALK + 1],
            len: 0,
        }
    }
}

impl Walk {
    pub(crate) fn push(&mut self, entry: (u32, u32)) {
        if let Some(slot) = self.members.get_mut(self.len) {
            *slot = entry;
            self.len += 1;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn as_slice(&self) -> &[(u32, u32)] {
        &self.members[..self.len]
    }
}

pub(crate) struct View<'a> {
    pub(crate) state: &'a State,
    pub(crate) cx: &'a SaleContext<'a>,
    /// The buyer's signals: the sale's, else the join's.
    pub(crate) buyer: Kept,
    pub(crate) buyer_root: u32,
    /// Clusters the sale's own signals link to the buyer's.
    pub(crate) linked: Linked,
}

impl View<'_> {
    pub(crate) fn cluster(&self, member: u32) -> u32 {
        let root = self.state.cluster(member);
        if self.linked.contains(root) {
            self.buyer_root
        } else {
            root
        }
    }

    /// The buyer, then up to SCREEN_WALK ancestors, with their clusters.
    /// The buyer, then its ancestors with their clusters: up to
    /// [`WALK_ABOVE`] above the highest earner, at most [`SCREEN_WALK`].
    pub(crate) fn walk(&self, lines: &[RawLine], walk: &mut Walk) {
        walk.push((self.cx.buyer, self.buyer_root));
        let nodes = self.cx.graph.nodes();
        let mut cursor = self.cx.buyer;
        let mut earners_left = lines.len();
        let mut above = 0;
        while walk.len() <= SCREEN_WALK && above < WALK_ABOVE {
            let parent = nodes[cursor as usize].parent;
            if parent == crate::graph::NO_MEMBER {
                break;
            }
            walk.push((parent, self.cluster(parent)));
            if earners_left == 0 {
                above += 1;
            } else if lines.iter().any(|l| l.earner == parent) {
                earners_left -= 1;
            }
            cursor = parent;
        }
    }

    pub(crate) fn shared(&self, a: &Kept, b: &Kept) -> Vec<String> {
        a.strong()
            .iter()
            .zip(b.strong())
            .filter(|((x, _), (y, _))| *x != 0 && x == y)
            .map(|((_, name), _)| (*name).to_string())
            .collect()
    }

    pub(crate) fn whole_sale(&self, when: &Condition, ruleset: &Ruleset) -> Option<Evidence> {
        let buyer = self.cx.buyer;
        match when {
            Condition::EmailDomain { domains } => {
                let domain = self.buyer.domain;
                let name = domains.get(&domain).or(ruleset.blocklist.get(&domain))?;
                Some(Evidence {
                    matched: vec!["email".into()],
                    members: vec![buyer],
                    detail: format!("the buyer's e-mail domain {name} is blocklisted"),
                })
            }
            Condition::Velocity {
                signal,
                max,
                window_hours,
            } => {
                let (k, name) = match signal {
                    VelocitySignal::Ip => (self.buyer.ip, "ip"),
                    VelocitySignal::Device => (self.buyer.device, "device"),
                };
                if k == 0 {
                    return None;
                }
                let from = self.cx.at.as_millis() - i64::from(*window_hours) * HOUR_MS;
                let now = self.cx.at.as_millis();
                let earlier = self.state.velocity.get(&k).map_or(0, |recent| {
                    recent.iter().filter(|&t| t > from && t <= now).count()
                });
                let count = earlier + 1;
                (count > *max as usize).then(|| Evidence {
                    matched: vec![name.into()],
                    members: vec![buyer],
                    detail: format!(
                        "{count} conversions from one {name} in {window_hours} h (more than {max})"
                    ),
                })
            }
            Condition::Timing { min_seconds } => {
                let delay = self.buyer.click_ms;
                (delay != NO_CLICK && delay < i64::from(*min_seconds) * 1000).then(|| Evidence {
                    matched: vec!["clicked_at".into()],
                    members: vec![buyer],
                    detail: format!(
                        "converted {delay} ms after the click (less than {min_seconds} s)"
                    ),
                })
            }
            _ => None,
        }
    }

    pub(crate) fn line(
        &self,
        when: &Condition,
        line: &RawLine,
        walk: &[(u32, u32)],
    ) -> Option<Evidence> {
        let buyer = self.cx.buyer;
        let earner = line.earner;
        match when {
            Condition::SelfReferral => {
                if self.cluster(earner) != self.buyer_root {
                    return None;
                }
                let matched = self.shared(&self.buyer, &self.state.kept(earner));
                let detail = if matched.is_empty() {
                    "the buyer and the earner are one identity cluster, linked through other members"
                        .to_string()
                } else {
                    format!("the buyer and the earner share {}", matched.join(", "))
                };
                Some(Evidence {
                    matched,
                    members: vec![buyer, earner],
                    detail,
                })
            }
            Condition::Ring => {
                let p = walk.iter().position(|&(m, _)| m == earner)?;
                let cluster = walk[p].1;
                // The nearest other appearance of the cluster below the
                // earner with another cluster between them.
                let below = (0..p).rev().find(|&j| {
                    walk[j].1 == cluster && walk[j + 1..p].iter().any(|&(_, c)| c != cluster)
                });
                let above = (p + 1..walk.len()).find(|&j| {
                    walk[j].1 == cluster && walk[p + 1..j].iter().any(|&(_, c)| c != cluster)
                });
                let (lo, hi) = match (below, above) {
                    (Some(j), _) => (j, p),
                    (None, Some(j)) => (p, j),
                    (None, None) => return None,
                };
                let matched =
                    self.shared(&self.state.kept(walk[lo].0), &self.state.kept(walk[hi].0));
                let others = walk[lo..=hi].iter().filter(|&&(_, c)| c != cluster).count();
                Some(Evidence {
                    matched,
                    members: std::iter::once(buyer)
                        .chain(walk[lo..=hi].iter().map(|&(m, _)| m))
                        .collect(),
                    detail: format!(
                        "the earner's identity cluster sponsors itself through {others} other member(s)"
                    ),
                })
            }
            Condition::Ladder {
                min_length,
                window_hours,
            } => {
                let graph = self.cx.graph;
                let p = walk.iter().position(|&(m, _)| m == earner)?;
                // The packed node the commission walk just read: a member
                // with two or more active referrals is no rung, without a
                // look at the child lists.
                let nodes = graph.nodes();
                let need = *min_length as usize;
                let maybe = |i: usize| nodes[walk[i].0 as usize].active_directs <= 1;
                // A run long enough of members with at most one active
                // referral, from the packed nodes alone, before the child
                // lists are read.
                let (mut low, mut high) = (p, p);
                if !maybe(p) {
                    return None;
                }
                while low > 0 && maybe(low - 1) {
                    low -= 1;
                }
                while high + 1 < walk.len() && maybe(high + 1) {
                    high += 1;
                }
                if high + 1 - low < need {
                    return None;
                }
                let rung = |i: usize| graph.has_single_child(walk[i].0);
                if !rung(p) {
                    return None;
                }
                let mut lo = p;
                while lo > 0 && rung(lo - 1) {
                    lo -= 1;
                }
                let mut hi = p;
                while hi + 1 < walk.len() && rung(hi + 1) {
                    hi += 1;
                }
                let window = i64::from(*window_hours) * HOUR_MS;
                for a in lo..=p {
                    let mut low = i64::MAX;
                    let mut high = i64::MIN;
                    for (b, &(member, _)) in walk.iter().enumerate().take(hi + 1).skip(a) {
                        let t = graph.joined_at(member).as_millis();
                        low = low.min(t);
                        high = high.max(t);
                        if high - low > window {
                            break;
                        }
                        if b >= p && b + 1 - a >= need {
                            return Some(Evidence {
                                matched: Vec::new(),
                                members: std::iter::once(buyer)
                                    .chain(walk[a..=b].iter().map(|&(m, _)| m))
                                    .collect(),
                                detail: format!(
                                    "{} single-child accounts in a row joined within {window_hours} h",
                                    b + 1 - a
                                ),
                            });
                        }
                    }
                }
                None
            }
            Condition::HighValue { above } => {
                let code = self.cx.currency.code();
                let (_, limit) = above.iter().find(|(c, _)| c == code)?;
                (line.amount > *limit).then(|| Evidence {
                    matched: Vec::new(),
                    members: vec![buyer, earner],
                    detail: format!("the line of {} {code} is above {limit}", line.amount),
                })
            }
            Condition::RefundRate {
                above,
                window_days,
                min_sales,
            } => {
                let today = self.cx.at.as_millis().div_euclid(DAY_MS);
                let from = today - i64::from(*window_days);
                // No refund in the window: nothing more to read.
                let days = self.state.refunded_after(earner, from)?;
                let (sales, refunds) = days.window(from, today);
                let over = sales >= u64::from(*min_sales)
                    && refunds * 1_000_000 > u64::from(*above) * sales;
                over.then(|| Evidence {
                    matched: Vec::new(),
                    members: vec![buyer, earner],
                    detail: format!(
                        "{refunds} of the earner's {sales} sales in {window_days} days were refunded \
                         (more than {})",
                        Decimal::new(i64::from(*above), 6).normalize()
                    ),
                })
            }
            _ => None,
        }
    }
}

/// The sale's own screening effects and, when rules are in force, the
/// action for each line. Pure: reads the state, changes nothing.
pub(crate) fn decide(state: &State, cx: &SaleContext<'_>, lines: &[RawLine]) -> Decided {
    let Some(ruleset) = state.active() else {
        // Nothing to decide; the sale's signals are still remembered.
        return Decided {
            actions: [None; MAX_LEVELS],
            decision: None,
            effects: SaleEffects {
                buyer: cx.buyer,
                at: cx.at,
                kept: cx.signals,
                ip: 0,
                device: 0,
                earners: [0; MAX_LEVELS],
                earner_count: 0,
                owners: None,
            },
        };
    };
    let mut buyer = state.kept(cx.buyer);
    let mut linked = Linked::default();
    let mut owners = None;
    if let Some(sale) = &cx.signals {
        let mut found = [None; 4];
        for (i, (k, _)) in sale.strong().into_iter().enumerate() {
            if k == 0 {
                continue;
            }
            if let Some(&owner) = state.owners.get(&k) {
                found[i] = Some(owner);
                linked.add(state.cluster(owner));
            }
        }
        owners = Some(found);
        let joined_click = buyer.click_ms;
        let mut own = *sale;
        own.fill_from(&buyer);
        buyer = own;
        if buyer.click_ms == NO_CLICK {
            buyer.click_ms = joined_click;
        }
    }
    let mut effects = SaleEffects {
        buyer: cx.buyer,
        at: cx.at,
        kept: cx.signals,
        ip: buyer.ip,
        device: buyer.device,
        earners: [0; MAX_LEVELS],
        earner_count: 0,
        owners,
    };
    let mut actions = [None; MAX_LEVELS];
    let lines = &lines[..lines.len().min(MAX_LEVELS)];
    let buyer_root = state.cluster(cx.buyer);
    let view = View {
        state,
        cx,
        buyer,
        buyer_root,
        linked,
    };
    let mut walk = Walk::default();
    if ruleset.walks() && !lines.is_empty() {
        view.walk(lines, &mut walk);
    }
    let walk = walk.as_slice();
    // Whole-sale conditions are evaluated once, on first use (bit r of
    // `evaluated` / `matched` for rule r; at most MAX_SCREEN_RULES = 64).
    let (mut evaluated, mut matched) = (0u64, 0u64);
    let mut hits: Vec<(usize, Hit, Vec<u32>)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        for (r, rule) in ruleset.rules.iter().enumerate() {
            let evidence = if rule.when.whole_sale() {
                let bit = 1u64 << (r % 64);
                if evaluated & bit == 0 {
                    evaluated |= bit;
                    if view.whole_sale(&rule.when, ruleset).is_some() {
                        matched |= bit;
                    }
                }
                // Rare: the evidence is built again for each line it decides.
                if matched & bit != 0 {
                    view.whole_sale(&rule.when, ruleset)
                } else {
                    None
                }
            } else {
                view.line(&rule.when, line, walk)
            };
            let Some(evidence) = evidence else { continue };
            actions[i] = Some(rule.action);
            let earner = Arc::from(cx.graph.id(line.earner));
            match hits.iter_mut().find(|(index, _, _)| *index == r) {
                Some((_, hit, members)) => {
                    hit.levels.push(line.level);
                    hit.earners.push(earner);
                    hit.amount += line.amount;
                    for name in evidence.matched {
                        if !hit.matched.contains(&name) {
                            hit.matched.push(name);
                        }
                    }
                    for m in evidence.members {
                        if !members.contains(&m) {
                            members.push(m);
                        }
                    }
                }
                None => hits.push((
                    r,
                    Hit {
                        rule: rule.id.clone(),
                        action: rule.action,
                        reason: rule.reason.clone(),
                        levels: vec![line.level],
                        earners: vec![earner],
                        amount: line.amount,
                        matched: evidence.matched,
                        members: Vec::new(),
                        detail: evidence.detail,
                    },
                    evidence.members,
                )),
            }
            break;
        }
    }
    for (line, action) in lines.iter().zip(&actions) {
        if *action != Some(Action::Block) {
            effects.earners[usize::from(effects.earner_count)] = line.earner;
            effects.earner_count += 1;
        }
    }
    hits.sort_by_key(|(r, _, _)| *r);
    let decision = (!hits.is_empty()).then(|| Decision {
        rules: ruleset.id.clone(),
        hits: hits
            .into_iter()
            .map(|(_, mut hit, members)| {
                hit.members = members
                    .into_iter()
                    .map(|m| Arc::from(cx.graph.id(m)))
                    .collect();
                hit
            })
            .collect(),
    });
    Decided {
        actions,
        decision,
        effects,
    }
}
