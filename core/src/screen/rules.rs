//! Rules: the presets, and compiling a `screening_rules_set` (rules as
//! JSON data) into a [`Ruleset`], with an error naming the field for every
//! bad rule, condition or list.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::id::{check_id, check_text};
use crate::limits::{
    MAX_BLOCKLIST, MAX_REFUND_WINDOW_DAYS, MAX_SCREEN_RULES, MAX_SCREEN_WINDOW_HOURS,
    MAX_VELOCITY_COUNT, SCREEN_WALK,
};
use crate::time::Timestamp;

use super::*;

/// What a rule does to the lines it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Pay normally (and stop looking at later rules).
    Allow,
    /// Pay normally, flagged for a human to look at.
    Review,
    /// Credit to held until a review releases or reverses it.
    Hold,
    /// Pay nothing: the platform retains the line (`fraud_blocked`).
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum VelocitySignal {
    Ip,
    Device,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "check")]
pub(crate) enum Condition {
    SelfReferral,
    EmailDomain {
        domains: BTreeMap<u64, String>,
    },
    Velocity {
        signal: VelocitySignal,
        max: u32,
        window_hours: u32,
    },
    Timing {
        min_seconds: u32,
    },
    Ring,
    Ladder {
        min_length: u32,
        window_hours: u32,
    },
    HighValue {
        above: Vec<(String, Decimal)>,
    },
    RefundRate {
        /// Millionths.
        above: u32,
        window_days: u32,
        min_sales: u32,
    },
}

impl Condition {
    /// Whether the condition is about the sale as a whole (every line).
    pub(crate) fn whole_sale(&self) -> bool {
        matches!(
            self,
            Condition::EmailDomain { .. } | Condition::Velocity { .. } | Condition::Timing { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) when: Condition,
    pub(crate) action: Action,
    pub(crate) reason: String,
}

/// A validated rule set as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ruleset {
    pub(crate) id: Id,
    pub(crate) rules: Vec<Rule>,
    pub(crate) blocklist: BTreeMap<u64, String>,
    /// The activating event, for retries.
    pub(crate) spec: ScreeningRulesSet,
    pub(crate) seq: u64,
}

impl Ruleset {
    /// How many recent sale times per IP / device the velocity rules need:
    /// the largest `max` plus one (0 without a velocity rule).
    pub(crate) fn velocity_keep(&self) -> usize {
        self.rules
            .iter()
            .filter_map(|r| match r.when {
                Condition::Velocity { max, .. } => Some(max as usize + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
            .min(MAX_VELOCITY_COUNT as usize + 1)
    }

    pub(crate) fn counts_refunds(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.when, Condition::RefundRate { .. }))
    }

    pub(crate) fn walks(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.when, Condition::Ring | Condition::Ladder { .. }))
    }
}

pub(crate) fn rules_error(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRules, field, message)
}

/// The built-in presets, as the rule JSON a host could write itself.
///
/// - `relaxed`: self-referral, blocklisted domains and device velocity
///   (more than 10 in 24 h) are flagged for review; nothing is held.
/// - `moderate` (the default): self-referral, blocklisted domains, rings
///   and a refund rate above 10 % in 30 days are held; IP or device
///   velocity (more than 3 in 72 h), clicks less than 15 s before the
///   conversion and ladders are flagged for review.
/// - `strict`: self-referral, rings and blocklisted domains are blocked;
///   velocity, timing, ladders and the refund rate are held.
///
/// `high_value` needs amounts per currency, so no preset has it.
pub fn preset(name: &str) -> Option<Value> {
    let rule = |id: &str, when: Value, action: &str, reason: &str| json!({"id": id, "when": when, "action": action, "reason": reason});
    let self_referral = |a| {
        rule(
            "self_referral",
            json!({"check": "self_referral"}),
            a,
            "the buyer and the earner are one identity",
        )
    };
    let domain = |a| {
        rule(
            "email_domain",
            json!({"check": "email_domain"}),
            a,
            "disposable or blocklisted e-mail domain",
        )
    };
    let ring = |a| {
        rule(
            "ring",
            json!({"check": "ring"}),
            a,
            "a cluster sponsors itself through others",
        )
    };
    let velocity = |signal: &str, max: u32, hours: u32, a| {
        rule(
            &format!("velocity_{signal}"),
            json!({"check": "velocity", "signal": signal, "max": max, "window_hours": hours}),
            a,
            &format!("too many conversions from one {signal}"),
        )
    };
    let timing = |a| {
        rule(
            "timing",
            json!({"check": "timing", "min_seconds": 15}),
            a,
            "converted too soon after the click",
        )
    };
    let ladder = |a| {
        rule(
            "ladder",
            json!({"check": "ladder", "min_length": 3, "window_hours": 24}),
            a,
            "a ladder of single-child accounts",
        )
    };
    let refunds = |a| {
        rule(
            "refund_rate",
            json!({"check": "refund_rate", "above": "0.10", "window_days": 30, "min_sales": 10}),
            a,
            "the earner's sales are refunded too often",
        )
    };
    let rules = match name {
        "relaxed" => vec![
            self_referral("review"),
            domain("review"),
            velocity("device", 10, 24, "review"),
        ],
        "moderate" => vec![
            self_referral("hold"),
            domain("hold"),
            ring("hold"),
            refunds("hold"),
            velocity("ip", 3, 72, "review"),
            velocity("device", 3, 72, "review"),
            timing("review"),
            ladder("review"),
        ],
        "strict" => vec![
            self_referral("block"),
            ring("block"),
            domain("block"),
            velocity("ip", 3, 72, "hold"),
            velocity("device", 3, 72, "hold"),
            timing("hold"),
            ladder("hold"),
            refunds("hold"),
        ],
        _ => return None,
    };
    Some(Value::Array(rules))
}

pub(crate) fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| rules_error(field, format!("{field} must be an object")))
}

pub(crate) fn refuse_unknown(map: &Map<String, Value>, known: &[&str], field: &str) -> Result<()> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(rules_error(
            format!("{field}.{k}"),
            format!("{field}.{k} is not a known field (expected one of {known:?})"),
        )),
        None => Ok(()),
    }
}

pub(crate) fn text<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<Option<&'a str>> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(rules_error(
            format!("{field}.{name}"),
            format!("{field}.{name} must be a string, not {other}"),
        )),
    }
}

pub(crate) fn whole(
    map: &Map<String, Value>,
    name: &str,
    field: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32> {
    let path = format!("{field}.{name}");
    let Some(value) = map.get(name) else {
        return Ok(default);
    };
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            rules_error(
                &path,
                format!(
                    "{path} {value} must be a whole number in {}..={}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

pub(crate) fn domain_list(
    value: &Value,
    field: &str,
    out: &mut BTreeMap<u64, String>,
) -> Result<()> {
    let list = value
        .as_array()
        .ok_or_else(|| rules_error(field, format!("{field} must be a list of domains")))?;
    if list.len() > MAX_BLOCKLIST {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            field,
            format!(
                "{field} has {} domains; the limit is {MAX_BLOCKLIST}",
                list.len()
            ),
        ));
    }
    for (i, domain) in list.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let domain = domain
            .as_str()
            .map(normalise_domain)
            .filter(|d| !d.is_empty() && d.len() <= 253 && !d.contains(['@', ' ']))
            .ok_or_else(|| rules_error(&path, format!("{path} {domain} is not a domain")))?;
        out.insert(key(Kind::Domain, &domain), domain);
    }
    Ok(())
}

pub(crate) fn condition(value: &Value, field: &str) -> Result<Condition> {
    let map = object(value, field)?;
    let check_field = format!("{field}.check");
    let check = text(map, "check", field)?
        .ok_or_else(|| rules_error(&check_field, format!("{check_field} is missing")))?;
    let known: &[&str] = match check {
        "self_referral" | "ring" => &["check"],
        "email_domain" => &["check", "domains"],
        "velocity" => &["check", "signal", "max", "window_hours"],
        "timing" => &["check", "min_seconds"],
        "ladder" => &["check", "min_length", "window_hours"],
        "high_value" => &["check", "above"],
        "refund_rate" => &["check", "above", "window_days", "min_sales"],
        other => {
            return Err(rules_error(
                &check_field,
                format!(
                    "{check_field} {other:?} is not a known check (self_referral, email_domain, \
                     velocity, timing, ring, ladder, high_value, refund_rate)"
                ),
            ))
        }
    };
    refuse_unknown(map, known, field)?;
    let hours = MAX_SCREEN_WINDOW_HOURS;
    Ok(match check {
        "self_referral" => Condition::SelfReferral,
        "ring" => Condition::Ring,
        "email_domain" => {
            let mut domains = BTreeMap::new();
            if let Some(list) = map.get("domains") {
                domain_list(list, &format!("{field}.domains"), &mut domains)?;
            }
            Condition::EmailDomain { domains }
        }
        "velocity" => {
            let signal = match text(map, "signal", field)?.unwrap_or("ip") {
                "ip" => VelocitySignal::Ip,
                "device" => VelocitySignal::Device,
                other => {
                    let path = format!("{field}.signal");
                    return Err(rules_error(
                        &path,
                        format!("{path} {other:?} is not a signal velocity counts (ip, device)"),
                    ));
                }
            };
            Condition::Velocity {
                signal,
                max: whole(map, "max", field, 3, 1..=MAX_VELOCITY_COUNT)?,
                window_hours: whole(map, "window_hours", field, 72, 1..=hours)?,
            }
        }
        "timing" => Condition::Timing {
            min_seconds: whole(map, "min_seconds", field, 15, 1..=hours * 3600)?,
        },
        "ladder" => Condition::Ladder {
            min_length: whole(map, "min_length", field, 3, 2..=SCREEN_WALK as u32)?,
            window_hours: whole(map, "window_hours", field, 24, 1..=hours)?,
        },
        "high_value" => {
            let path = format!("{field}.above");
            let above = map
                .get("above")
                .ok_or_else(|| rules_error(&path, format!("{path} is missing")))?;
            let above = object(above, &path)?;
            if above.is_empty() {
                return Err(rules_error(&path, format!("{path} names no currency")));
            }
            let mut out = Vec::new();
            for (code, amount) in above {
                let at = format!("{path}.{code}");
                let amount = amount
                    .as_str()
                    .and_then(|a| a.parse::<Decimal>().ok())
                    .filter(|a| *a >= Decimal::ZERO)
                    .ok_or_else(|| {
                        rules_error(
                            &at,
                            format!("{at} {amount} must be a non-negative decimal string"),
                        )
                    })?;
                out.push((code.clone(), amount));
            }
            Condition::HighValue { above: out }
        }
        "refund_rate" => {
            let path = format!("{field}.above");
            let above = match map.get("above") {
                None => 100_000,
                Some(value) => value
                    .as_str()
                    .and_then(|a| a.parse::<Decimal>().ok())
                    .filter(|a| *a >= Decimal::ZERO && *a <= Decimal::ONE && a.scale() <= 6)
                    .and_then(|a| u32::try_from((a * Decimal::from(1_000_000)).trunc()).ok())
                    .ok_or_else(|| {
                        rules_error(
                            &path,
                            format!(
                                "{path} {value} must be a decimal string in [0, 1] \
                                 with at most 6 decimals"
                            ),
                        )
                    })?,
            };
            Condition::RefundRate {
                above,
                window_days: whole(map, "window_days", field, 30, 1..=MAX_REFUND_WINDOW_DAYS)?,
                min_sales: whole(map, "min_sales", field, 10, 1..=u32::MAX)?,
            }
        }
        _ => unreachable_check(check)?,
    })
}

pub(crate) fn unreachable_check(check: &str) -> Result<Condition> {
    Err(Error::general(
        ErrorKind::Internal,
        format!("check {check:?} passed validation but has no condition"),
    ))
}

pub(crate) fn rule(value: &Value, field: &str) -> Result<Rule> {
    let map = object(value, field)?;
    refuse_unknown(map, &["id", "when", "action", "reason"], field)?;
    let id_field = format!("{field}.id");
    let id = text(map, "id", field)?
        .ok_or_else(|| rules_error(&id_field, format!("{id_field} is missing")))?;
    check_id(id, &id_field).map_err(|e| rules_error(&id_field, e.message().to_string()))?;
    let when_field = format!("{field}.when");
    let when = map
        .get("when")
        .ok_or_else(|| rules_error(&when_field, format!("{when_field} is missing")))?;
    let when = condition(when, &when_field)?;
    let action_field = format!("{field}.action");
    let action = match text(map, "action", field)? {
        Some("allow") => Action::Allow,
        Some("review") => Action::Review,
        Some("hold") => Action::Hold,
        Some("block") => Action::Block,
        Some(other) => {
            return Err(rules_error(
                &action_field,
                format!("{action_field} {other:?} is not allow, review, hold or block"),
            ))
        }
        None => {
            return Err(rules_error(
                &action_field,
                format!("{action_field} is missing"),
            ))
        }
    };
    let reason_field = format!("{field}.reason");
    let reason = text(map, "reason", field)?.unwrap_or_default();
    check_text(reason, &reason_field)?;
    Ok(Rule {
        id: id.to_string(),
        when,
        action,
        reason: reason.to_string(),
    })
}

/// Validates a `screening_rules_set` event into the rules it activates.
pub(crate) fn compile(spec: &ScreeningRulesSet, seq: u64) -> Result<Ruleset> {
    check_id(&spec.id, "id")?;
    Timestamp::parse(&spec.at, "at")?;
    let preset_rules;
    let rules: &[Value] = match (&spec.preset, &spec.rules) {
        (Some(_), Some(_)) => {
            return Err(rules_error(
                "rules",
                "give a preset or rules, not both".to_string(),
            ))
        }
        (None, Some(rules)) => rules,
        (preset, None) => {
            let name = preset.as_deref().unwrap_or("moderate");
            preset_rules = preset_list(name)?;
            &preset_rules
        }
    };
    if rules.len() > MAX_SCREEN_RULES {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            "rules",
            format!("{} rules; the limit is {MAX_SCREEN_RULES}", rules.len()),
        ));
    }
    let mut compiled: Vec<Rule> = Vec::with_capacity(rules.len());
    for (i, value) in rules.iter().enumerate() {
        let field = format!("rules[{i}]");
        let rule = rule(value, &field)?;
        if compiled.iter().any(|r| r.id == rule.id) {
            return Err(rules_error(
                format!("{field}.id"),
                format!("{field}.id {:?} is used by an earlier rule", rule.id),
            ));
        }
        compiled.push(rule);
    }
    let mut blocklist = BTreeMap::new();
    if let Some(list) = &spec.blocklist {
        let value = Value::Array(list.iter().map(|d| Value::String(d.clone())).collect());
        domain_list(&value, "blocklist", &mut blocklist)?;
    }
    Ok(Ruleset {
        id: Arc::from(spec.id.as_str()),
        rules: compiled,
        blocklist,
        spec: spec.clone(),
        seq,
    })
}

pub(crate) fn preset_list(name: &str) -> Result<Vec<Value>> {
    match preset(name) {
        Some(Value::Array(rules)) => Ok(rules),
        _ => Err(rules_error(
            "preset",
            format!("preset {name:?} is not relaxed, moderate or strict"),
        )),
    }
}

/// Activates fraud-screening rules for the events applied after it
/// (nothing is screened before the first one). Give a `preset`
/// (`relaxed`, `moderate`, `strict`) or your own `rules`; with neither,
/// `moderate`. See [`crate::screen`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScreeningRulesSet {
    /// The rule set's id (named by every decision it makes).
    pub id: String,
    /// A built-in preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Rules, evaluated in order; the first match wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<serde_json::Value>>,
    /// Blocklisted or disposable e-mail domains (for `email_domain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocklist: Option<Vec<String>>,
    /// When (kept for the audit trail; the rules apply to events applied
    /// after this one).
    #[cfg_attr(feature = "schema", schemars(with = "crate::wire::schema::TimeText"))]
    pub at: String,
}
