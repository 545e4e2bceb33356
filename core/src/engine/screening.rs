//! The glue between the engine and [`crate::screen`]: screening rules
//! coming into force, identity clusters and rings as queries, and
//! [`backtest`], which replays a history under candidate rules. The rules
//! and the screening state live in `crate::screen`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::screen::{self, Action};

use super::pipeline::{duplicate, Mutation, Prep, Prepared};
use super::Engine;
use crate::screen::{compile, Report, RuleReport, Totals};
use serde_json::Value;

impl Engine {
    pub(super) fn prepare_rules(&self, e: &ScreeningRulesSet) -> Result<Prep> {
        let seq = self.next_seq();
        let ruleset = screen::compile(e, seq)?;
        if let Some(existing) = self.screen.find_ruleset(&e.id) {
            if existing.spec == *e {
                return self.retry(existing.seq, Outcome::None);
            }
            return Err(duplicate("id", &e.id));
        }
        if self.screen.ruleset_count() >= crate::limits::MAX_RULESETS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "id",
                format!(
                    "at most {} screening rule sets are kept",
                    crate::limits::MAX_RULESETS
                ),
            ));
        }
        Ok(Prep::New(Prepared::state(Mutation::Rules(Box::new(
            ruleset,
        )))))
    }

    /// The members of `member`'s identity cluster (members sharing a
    /// payment fingerprint, device, normalised e-mail or IP + user agent,
    /// directly or through others), `member` first.
    pub fn identity_cluster(&self, member: &str) -> Result<Vec<Arc<str>>> {
        let member = self.graph.require(member, "member")?;
        Ok(self.ids(self.screen.cluster_members(member)))
    }

    /// Every referral ring in the graph: identity clusters that sponsor
    /// themselves through others (strongly connected components once each
    /// cluster is one node), each as its member ids. O(members).
    pub fn screening_rings(&self) -> Vec<Vec<Arc<str>>> {
        screen::rings(&self.screen, &self.graph)
            .into_iter()
            .map(|ring| self.ids(ring))
            .collect()
    }
}

#[derive(Default)]
struct Tally {
    rules: Vec<RuleReport>,
    earners: Vec<std::collections::HashSet<Id>>,
    totals: Totals,
    all_earners: std::collections::HashSet<Id>,
}

impl Tally {
    fn add(&mut self, d: &crate::event::Distribution) {
        let Some(decision) = &d.screening else { return };
        self.totals.sales_matched += 1;
        let code = d.currency.code().to_string();
        for hit in &decision.hits {
            let index = match self
                .rules
                .iter()
                .position(|r| r.rule == hit.rule && *r.rules == *decision.rules)
            {
                Some(i) => i,
                None => {
                    self.rules.push(RuleReport {
                        rules: decision.rules.to_string(),
                        rule: hit.rule.clone(),
                        action: Some(hit.action),
                        ..RuleReport::default()
                    });
                    self.earners.push(Default::default());
                    self.rules.len() - 1
                }
            };
            let report = &mut self.rules[index];
            report.matches += 1;
            report.lines += hit.levels.len() as u64;
            let bucket = match hit.action {
                Action::Hold => Some((&mut report.held, &mut self.totals.held)),
                Action::Block => Some((&mut report.blocked, &mut self.totals.blocked)),
                Action::Review => Some((&mut report.reviewed, &mut self.totals.reviewed)),
                Action::Allow => None,
            };
            if let Some((mine, total)) = bucket {
                *mine.entry(code.clone()).or_default() += hit.amount;
                *total.entry(code.clone()).or_default() += hit.amount;
                for earner in &hit.earners {
                    self.all_earners.insert(earner.clone());
                }
            }
            for earner in &hit.earners {
                self.earners[index].insert(earner.clone());
            }
            report.earners = self.earners[index].len() as u64;
        }
        self.totals.earners = self.all_earners.len() as u64;
    }
}

fn signature(d: &crate::event::Distribution) -> Vec<(String, Action, Vec<u8>)> {
    d.screening.as_ref().map_or_else(Vec::new, |s| {
        s.hits
            .iter()
            .map(|h| (h.rule.clone(), h.action, h.levels.clone()))
            .collect()
    })
}

fn difference(
    a: &BTreeMap<String, Decimal>,
    b: &BTreeMap<String, Decimal>,
) -> BTreeMap<String, Decimal> {
    let mut out = a.clone();
    for (code, amount) in b {
        *out.entry(code.clone()).or_default() -= amount;
    }
    out.retain(|_, v| !v.is_zero());
    out
}

/// Replays `history` twice on fresh engines — as it happened, and with
/// `candidate` in force from the start instead of every
/// `screening_rules_set` the history holds — and reports, per rule, what
/// each would match, hold, block and flag, and the difference. Changes
/// nothing: the history is read, no engine is touched.
///
/// ```
/// use upline::{event::ScreeningRulesSet, Event};
///
/// let history: Vec<Event> = [
///     r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z","signals":{"device":"d1"}}"#,
///     r#"{"type":"member_joined","member":"bob","sponsor":"ann","at":"2026-01-02T00:00:00Z","signals":{"device":"d1"}}"#,
///     r#"{"type":"sale_recorded","sale":"s1","buyer":"bob","amount":"100.00","currency":"USD","at":"2026-02-01T00:00:00Z"}"#,
/// ].iter().map(|e| Event::from_json(e)).collect::<Result<_, _>>()?;
/// let candidate: ScreeningRulesSet = serde_json::from_str(
///     r#"{"id":"try","preset":"moderate","at":"2026-01-01T00:00:00Z"}"#).unwrap();
/// let report = upline::backtest(&history, &candidate)?;
/// assert_eq!(report.rules[0].rule, "self_referral");
/// assert_eq!(report.held_difference["USD"].to_string(), "20.00");
/// # Ok::<(), upline::Error>(())
/// ```
pub fn backtest(history: &[Event], candidate: &ScreeningRulesSet) -> Result<Report> {
    compile(candidate, 0).map_err(|e| e.within("candidate"))?;
    let mut report = Report {
        candidate: candidate.id.clone(),
        ..Report::default()
    };
    let mut live = Engine::new();
    let mut trial = Engine::new();
    trial.apply(&Event::ScreeningRulesSet(candidate.clone()))?;
    let (mut live_tally, mut trial_tally) = (Tally::default(), Tally::default());
    for event in history {
        report.events += 1;
        let was = live.apply(event).ok();
        if matches!(event, Event::ScreeningRulesSet(_)) {
            continue;
        }
        let now = trial.apply(event);
        if now.is_err() {
            report.refused += 1;
        }
        let (Some(was), Ok(now)) = (was, now) else {
            continue;
        };
        if let (crate::Outcome::Distribution(a), crate::Outcome::Distribution(b)) =
            (&was.outcome, &now.outcome)
        {
            if was.replayed {
                continue;
            }
            report.sales += 1;
            live_tally.add(a);
            trial_tally.add(b);
            if signature(a) != signature(b) {
                report.sales_changed += 1;
            }
        }
    }
    report.held_difference = difference(&trial_tally.totals.held, &live_tally.totals.held);
    report.blocked_difference = difference(&trial_tally.totals.blocked, &live_tally.totals.blocked);
    // Candidate rules that never matched are listed too, with zeros.
    let ruleset = compile(candidate, 0)?;
    for rule in &ruleset.rules {
        if !trial_tally.rules.iter().any(|r| r.rule == rule.id) {
            trial_tally.rules.push(RuleReport {
                rules: candidate.id.clone(),
                rule: rule.id.clone(),
                action: Some(rule.action),
                ..RuleReport::default()
            });
        }
    }
    let order = |id: &str| ruleset.rules.iter().position(|r| r.id == id);
    trial_tally.rules.sort_by_key(|r| order(&r.rule));
    report.rules = trial_tally.rules;
    report.candidate_totals = trial_tally.totals;
    report.in_force = live_tally.rules;
    report.in_force_totals = live_tally.totals;
    Ok(report)
}

/// [`backtest`] for bindings: `history` is a JSON array of events,
/// `candidate` a `screening_rules_set` event (with or without its `type`);
/// returns the [`Report`] as JSON.
pub fn backtest_json(history: &str, candidate: &str) -> Result<String> {
    // The history is the host's own log and may be large; the candidate is
    // one event and has the size limit of one.
    crate::event::check_json_size(candidate.len()).map_err(|e| e.within("candidate"))?;
    let events: Vec<Event> = serde_json::from_str(history).map_err(crate::event::malformed)?;
    let mut value: Value = serde_json::from_str(candidate).map_err(crate::event::malformed)?;
    if let Some(map) = value.as_object_mut() {
        map.remove("type");
    }
    let candidate: ScreeningRulesSet =
        serde_json::from_value(value).map_err(crate::event::malformed)?;
    let report = backtest(&events, &candidate)?;
    serde_json::to_string(&report).map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))
}
