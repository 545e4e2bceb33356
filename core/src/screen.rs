//! Fraud screening: a deterministic rule engine over the referral graph and
//! the [`Signals`] a host passes with joins and sales.
//!
//! It is not a model: rules are data, evaluated in order, first match wins,
//! and every decision carries the evidence a support agent needs to explain
//! it. Nothing is screened until a `screening_rules_set` event is applied;
//! the rules it activates apply to the sales applied after it, so replaying
//! the same events always takes the same decisions, and the rules in force
//! at every point of history are in the audit chain.
//!
//! # What is kept
//!
//! The engine keeps no signal string. Each signal is normalised, then
//! reduced to a 64-bit keyed hash (the first 8 bytes of SHA-256 over a
//! domain tag, the signal's kind and the normalised text). Per member it
//! keeps the hashes of the payment fingerprint, device, e-mail, e-mail
//! domain, IP and IP + user agent, and the milliseconds from the referral
//! click to the join (56 bytes a member that sent signals), and the first
//! member seen with each cluster key. While such rules are in force, it
//! also keeps per IP and per device hash the times of the last `max` + 1
//! sales (the largest velocity `max` in force), and per earner day buckets
//! of (sales, refunded sales) for
//! [`MAX_REFUND_WINDOW_DAYS`].
//! The hashes are not secret (an IP can be found again by trying them all):
//! hosts that must not disclose signals pass their own HMACs instead.
//!
//! Normalisation: e-mails are lower-cased, a `+tag` is removed from the
//! local part, and for `gmail.com` / `googlemail.com` dots are removed and
//! the domain is `gmail.com`; IPs are parsed and written canonically;
//! devices, payment fingerprints and user agents are trimmed.
//!
//! # Identity clusters
//!
//! Members that share a payment fingerprint, a device, a normalised e-mail
//! or an IP together with a user agent are one cluster (union-find,
//! [`petgraph::unionfind`]). A sale's own signals link its buyer too, for
//! that sale's decision and from then on.
//!
//! # Rules
//!
//! A rule is `{"id", "when": CONDITION, "action": "allow" | "review" |
//! "hold" | "block", "reason"}`. Conditions (`check`, with their parameters
//! and defaults):
//!
//! | check | matches | parameters |
//! |---|---|---|
//! | `self_referral` | lines whose earner is in the buyer's cluster | — |
//! | `email_domain` | every line, when the buyer's e-mail domain is listed | `domains` (added to the event's `blocklist`) |
//! | `velocity` | every line, when more than `max` sales came from the sale's IP / device in `window_hours` | `signal` (`ip` or `device`, default `ip`), `max` 3, `window_hours` 72 |
//! | `timing` | every line, when the click came less than `min_seconds` before the conversion | `min_seconds` 15 |
//! | `ring` | lines whose earner's cluster appears again along the buyer's sponsor chain with another cluster between | — |
//! | `ladder` | lines whose earner is one of `min_length`+ consecutive single-child accounts joined within `window_hours` | `min_length` 3, `window_hours` 24 |
//! | `high_value` | lines above the amount given for the sale's currency | `above` `{"USD": "500.00"}` (required) |
//! | `refund_rate` | lines whose earner had more than `above` of its sales refunded in `window_days` (at least `min_sales` sales) | `above` `"0.10"`, `window_days` 30, `min_sales` 10 |
//!
//! Buyer signals: a sale's own signal, else the one the buyer joined with;
//! the click delay is the sale's (`at − clicked_at`), else the join's.
//! Velocity counts sales (conversions) whose IP / device is known while a
//! velocity rule is in force, and a refund rate counts sales that paid the
//! earner and the first refund of each (by count, not amount) while a
//! `refund_rate` rule is in force: history before is not counted (a
//! backtest screens it all). Ring and
//! ladder look at the buyer, its ancestors up to the highest earner and
//! two more (at most [`SCREEN_WALK`]), so they
//! cost O(levels) per sale; [`Engine::screening_rings`](crate::Engine::screening_rings) finds every ring of the whole graph
//! (strongly connected components) for an investigation.
//!
//! Effects per line: `allow` pays it; `review` pays it and flags it; `hold`
//! credits it to held until `fraud_review_resolved` releases or reverses
//! it; `block` pays nothing (the level is unpaid, reason `fraud_blocked`,
//! and the platform retains the amount).
//!
//! Presets: see [`preset`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use petgraph::unionfind::UnionFind;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::calc::RawLine;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, Id, ScreeningRulesSet, Signals};
use crate::graph::Graph;
use crate::id::{check_id, check_text};
use crate::limits::{
    MAX_BLOCKLIST, MAX_LEVELS, MAX_REFUND_WINDOW_DAYS, MAX_SCREEN_RULES, MAX_SCREEN_WINDOW_HOURS,
    MAX_VELOCITY_COUNT, SCREEN_WALK,
};
use crate::money::Currency;
use crate::time::Timestamp;

const HOUR_MS: i64 = 3_600_000;
/// How many ancestors above the highest earner ring and ladder rules look
/// at: enough for a cluster that reappears just above the paid levels,
/// without a cache miss per ancestor up to [`SCREEN_WALK`] on every sale.
const WALK_ABOVE: usize = 2;
const DAY_MS: i64 = 86_400_000;
/// The "no click seen" value of a click delay.
const NO_CLICK: i64 = i64::MIN;
/// The "never" value of a day number.
const NO_DAY: i32 = i32::MIN;

// ---- signals -----------------------------------------------------------

#[derive(Clone, Copy)]
#[repr(u8)]
enum Kind {
    Ip = 1,
    Device = 2,
    Email = 3,
    Domain = 4,
    Payment = 5,
    IpUa = 6,
}

/// The keyed hash of a normalised signal; never 0 (0 means missing).
fn key(kind: Kind, text: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(b"upline/signal/v1\0");
    hasher.update([kind as u8]);
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes).max(1)
}

fn signal_error(field: &str, message: String) -> Error {
    Error::new(ErrorKind::InvalidSignal, field, message)
}

fn trimmed<'a>(text: &'a str, field: &str) -> Result<&'a str> {
    check_text(text, field)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(signal_error(field, format!("{field} is empty")));
    }
    if text.chars().any(char::is_control) {
        return Err(signal_error(
            field,
            format!("{field} {text:?} contains a control character"),
        ));
    }
    Ok(text)
}

/// Lower case, `+tag` removed, Gmail dots removed; returns (address,
/// domain).
///
/// ```
/// let (address, domain) = upline::screen::normalise_email("Ann.Lee+promo@GoogleMail.com", "email")?;
/// assert_eq!((address.as_str(), domain.as_str()), ("annlee@gmail.com", "gmail.com"));
/// # Ok::<(), upline::Error>(())
/// ```
pub fn normalise_email(text: &str, field: &str) -> Result<(String, String)> {
    let lower = trimmed(text, field)?.to_lowercase();
    let (local, domain) = lower
        .rsplit_once('@')
        .filter(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains(char::is_whitespace))
        .ok_or_else(|| signal_error(field, format!("{field} {text:?} is not an e-mail address")))?;
    let local = local.split('+').next().unwrap_or(local);
    let domain = normalise_domain(domain);
    let local = if domain == "gmail.com" {
        local.replace('.', "")
    } else {
        local.to_string()
    };
    if local.is_empty() {
        return Err(signal_error(
            field,
            format!("{field} {text:?} has an empty local part"),
        ));
    }
    Ok((format!("{local}@{domain}"), domain))
}

fn normalise_domain(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain == "googlemail.com" {
        "gmail.com".to_string()
    } else {
        domain
    }
}

fn normalise_ip(text: &str, field: &str) -> Result<String> {
    let text = trimmed(text, field)?;
    let ip: std::net::IpAddr = text
        .parse()
        .map_err(|_| signal_error(field, format!("{field} {text:?} is not an IP address")))?;
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    Ok(ip.to_string())
}

/// What the engine keeps of one member's signals: hashes, 0 = missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Kept {
    payment: u64,
    device: u64,
    email: u64,
    domain: u64,
    ip: u64,
    ip_ua: u64,
    /// Milliseconds from the referral click to the event, or [`NO_CLICK`].
    click_ms: i64,
}

impl Default for Kept {
    fn default() -> Self {
        Kept {
            payment: 0,
            device: 0,
            email: 0,
            domain: 0,
            ip: 0,
            ip_ua: 0,
            click_ms: NO_CLICK,
        }
    }
}

impl Kept {
    /// The keys that make clusters, with their signal names.
    fn strong(&self) -> [(u64, &'static str); 4] {
        [
            (self.payment, "payment_fingerprint"),
            (self.device, "device"),
            (self.email, "email"),
            (self.ip_ua, "ip+user_agent"),
        ]
    }

    fn fill_from(&mut self, other: &Kept) {
        for (mine, theirs) in [
            (&mut self.payment, other.payment),
            (&mut self.device, other.device),
            (&mut self.email, other.email),
            (&mut self.domain, other.domain),
            (&mut self.ip, other.ip),
            (&mut self.ip_ua, other.ip_ua),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
    }

    /// A digest of the whole, so a retry with other signals is told apart.
    ///
    /// The parts are already uniform hashes, so a SplitMix-style mix of them
    /// is enough: this is not a security boundary (a colliding retry would
    /// only return the original result).
    pub(crate) fn digest(&self) -> u64 {
        let mut h: u64 = 0x243F_6A88_85A3_08D3;
        for part in [
            self.payment,
            self.device,
            self.email,
            self.domain,
            self.ip,
            self.ip_ua,
            self.click_ms as u64,
        ] {
            h = (h ^ part).wrapping_add(0x9E37_79B9_7F4A_7C15);
            h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            h ^= h >> 31;
        }
        h.max(1)
    }
}

/// Validates and reduces `signals` (of an event at `at`) to what is kept.
/// Errors name `signals.<field>`.
pub(crate) fn reduce(signals: &Signals, at: Timestamp) -> Result<Kept> {
    let mut kept = Kept::default();
    if let Some(payment) = &signals.payment_fingerprint {
        let field = "signals.payment_fingerprint";
        kept.payment = key(Kind::Payment, trimmed(payment, field)?);
    }
    if let Some(device) = &signals.device {
        kept.device = key(Kind::Device, trimmed(device, "signals.device")?);
    }
    if let Some(email) = &signals.email {
        let (address, domain) = normalise_email(email, "signals.email")?;
        kept.email = key(Kind::Email, &address);
        kept.domain = key(Kind::Domain, &domain);
    }
    let ip = match &signals.ip {
        Some(ip) => Some(normalise_ip(ip, "signals.ip")?),
        None => None,
    };
    let agent = match &signals.user_agent {
        Some(agent) => Some(trimmed(agent, "signals.user_agent")?),
        None => None,
    };
    if let Some(ip) = &ip {
        kept.ip = key(Kind::Ip, ip);
        if let Some(agent) = agent {
            kept.ip_ua = key(Kind::IpUa, &format!("{ip}\n{agent}"));
        }
    }
    if let Some(clicked) = &signals.clicked_at {
        let clicked = Timestamp::parse(clicked, "signals.clicked_at")?;
        if clicked > at {
            return Err(signal_error(
                "signals.clicked_at",
                format!("signals.clicked_at {clicked} is after the event's at {at}"),
            ));
        }
        kept.click_ms = at.as_millis() - clicked.as_millis();
    }
    Ok(kept)
}

// ---- rules -------------------------------------------------------------

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
enum VelocitySignal {
    Ip,
    Device,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "check")]
enum Condition {
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
    fn whole_sale(&self) -> bool {
        matches!(
            self,
            Condition::EmailDomain { .. } | Condition::Velocity { .. } | Condition::Timing { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Rule {
    id: String,
    when: Condition,
    action: Action,
    reason: String,
}

/// A validated rule set as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ruleset {
    id: Id,
    rules: Vec<Rule>,
    blocklist: BTreeMap<u64, String>,
    /// The activating event, for retries.
    pub(crate) spec: ScreeningRulesSet,
    pub(crate) seq: u64,
}

impl Ruleset {
    /// How many recent sale times per IP / device the velocity rules need:
    /// the largest `max` plus one (0 without a velocity rule).
    fn velocity_keep(&self) -> usize {
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

    fn counts_refunds(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.when, Condition::RefundRate { .. }))
    }

    fn walks(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.when, Condition::Ring | Condition::Ladder { .. }))
    }
}

fn rules_error(field: impl Into<String>, message: impl Into<String>) -> Error {
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

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| rules_error(field, format!("{field} must be an object")))
}

fn refuse_unknown(map: &Map<String, Value>, known: &[&str], field: &str) -> Result<()> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(rules_error(
            format!("{field}.{k}"),
            format!("{field}.{k} is not a known field (expected one of {known:?})"),
        )),
        None => Ok(()),
    }
}

fn text<'a>(map: &'a Map<String, Value>, name: &str, field: &str) -> Result<Option<&'a str>> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(rules_error(
            format!("{field}.{name}"),
            format!("{field}.{name} must be a string, not {other}"),
        )),
    }
}

fn whole(
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

fn domain_list(value: &Value, field: &str, out: &mut BTreeMap<u64, String>) -> Result<()> {
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

fn condition(value: &Value, field: &str) -> Result<Condition> {
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

fn unreachable_check(check: &str) -> Result<Condition> {
    Err(Error::general(
        ErrorKind::Internal,
        format!("check {check:?} passed validation but has no condition"),
    ))
}

fn rule(value: &Value, field: &str) -> Result<Rule> {
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

fn preset_list(name: &str) -> Result<Vec<Value>> {
    match preset(name) {
        Some(Value::Array(rules)) => Ok(rules),
        _ => Err(rules_error(
            "preset",
            format!("preset {name:?} is not relaxed, moderate or strict"),
        )),
    }
}

// ---- state -------------------------------------------------------------

/// The last sale times (ms) of one IP or device, oldest first: the
/// presets keep four, which fit inline without a heap allocation per key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Recent {
    inline: [i64; 4],
    len: u8,
    /// Used instead of `inline` once more than four are kept.
    more: VecDeque<i64>,
}

impl Recent {
    fn push(&mut self, at_ms: i64, keep: usize) {
        let len = usize::from(self.len).min(self.inline.len());
        if keep <= self.inline.len() && self.more.is_empty() {
            if len < keep {
                self.inline[len] = at_ms;
                self.len += 1;
            } else {
                // Full (or `keep` shrank): drop the oldest.
                let drop = len + 1 - keep;
                self.inline.copy_within(drop..len, 0);
                self.inline[keep - 1] = at_ms;
                self.len = keep as u8;
            }
            return;
        }
        self.more.extend(&self.inline[..len]);
        self.len = 0;
        self.more.push_back(at_ms);
        while self.more.len() > keep {
            self.more.pop_front();
        }
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let len = usize::from(self.len).min(self.inline.len());
        self.inline[..len].iter().chain(self.more.iter()).copied()
    }
}

/// One day of an earner's refund-rate counts: running totals (wrapping,
/// so a window's count is exact below 2^32) up to and including the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Bucket {
    day: i32,
    sales_to: u32,
    refunds_to: u32,
}

/// An earner's sales and refunded sales by day, for
/// [`MAX_REFUND_WINDOW_DAYS`]. The newest day sits inline, so counting a
/// sale in time order touches one map slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EarnerDays {
    /// Running totals before the oldest kept day.
    base: (u32, u32),
    /// Older kept days, oldest first.
    older: VecDeque<Bucket>,
    newest: Bucket,
    /// The newest day with a refund ([`NO_DAY`]: none).
    last_refund: i32,
}

fn day_number(at: Timestamp) -> i32 {
    i32::try_from(at.as_millis().div_euclid(DAY_MS)).unwrap_or(i32::MAX)
}

impl EarnerDays {
    fn new(day: i32) -> Self {
        EarnerDays {
            base: (0, 0),
            older: VecDeque::new(),
            newest: Bucket {
                day,
                sales_to: 0,
                refunds_to: 0,
            },
            last_refund: NO_DAY,
        }
    }

    fn bump(bucket: &mut Bucket, sale: bool) {
        if sale {
            bucket.sales_to = bucket.sales_to.wrapping_add(1);
        } else {
            bucket.refunds_to = bucket.refunds_to.wrapping_add(1);
        }
    }

    fn count(&mut self, day: i32, sale: bool) {
        if !sale {
            self.last_refund = self.last_refund.max(day);
        }
        if day > self.newest.day {
            let next = Bucket { day, ..self.newest };
            self.older
                .push_back(std::mem::replace(&mut self.newest, next));
            let horizon = i64::from(day) - i64::from(MAX_REFUND_WINDOW_DAYS);
            while let Some(front) = self.older.front().copied() {
                if i64::from(front.day) > horizon {
                    break;
                }
                self.base = (front.sales_to, front.refunds_to);
                self.older.pop_front();
            }
        }
        if day == self.newest.day {
            Self::bump(&mut self.newest, sale);
            return;
        }
        // An older day (events out of time order): insert it if needed,
        // then bump it and every later running total.
        let at = self.older.partition_point(|b| b.day < day);
        if self.older.get(at).is_none_or(|b| b.day != day) {
            let (sales_to, refunds_to) = match at.checked_sub(1).and_then(|i| self.older.get(i)) {
                Some(previous) => (previous.sales_to, previous.refunds_to),
                None => self.base,
            };
            self.older.insert(
                at,
                Bucket {
                    day,
                    sales_to,
                    refunds_to,
                },
            );
        }
        for bucket in self.older.iter_mut().skip(at) {
            Self::bump(bucket, sale);
        }
        Self::bump(&mut self.newest, sale);
    }

    /// Running totals up to and including day `day`.
    fn totals_to(&self, day: i64) -> (u32, u32) {
        if i64::from(self.newest.day) <= day {
            return (self.newest.sales_to, self.newest.refunds_to);
        }
        let at = self.older.partition_point(|b| i64::from(b.day) <= day);
        match at.checked_sub(1).and_then(|i| self.older.get(i)) {
            Some(b) => (b.sales_to, b.refunds_to),
            None => self.base,
        }
    }

    /// Sales and refunds counted on days in `(from, to]`.
    fn window(&self, from: i64, to: i64) -> (u64, u64) {
        let (sales_to, refunds_to) = self.totals_to(to);
        let (sales_from, refunds_from) = self.totals_to(from);
        (
            u64::from(sales_to.wrapping_sub(sales_from)),
            u64::from(refunds_to.wrapping_sub(refunds_from)),
        )
    }
}

/// `Vec<Option<T>>` by index, written as a map of the occupied slots (so
/// a snapshot does not carry a `null` per member).
mod sparse {
    use std::collections::BTreeMap;

    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<T: Serialize, S: Serializer>(
        slots: &[Option<T>],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(slots.iter().flatten().count()))?;
        for (index, slot) in slots.iter().enumerate() {
            if let Some(value) = slot {
                map.serialize_entry(&(index as u32), value)?;
            }
        }
        map.end()
    }

    pub(super) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Option<T>>, D::Error> {
        let map = BTreeMap::<u32, T>::deserialize(d)?;
        let mut slots: Vec<Option<T>> = Vec::new();
        for (index, value) in map {
            let index = index as usize;
            if slots.len() <= index {
                slots.resize_with(index + 1, || None);
            }
            slots[index] = Some(value);
        }
        Ok(slots)
    }
}

/// A multiplicative hasher for dense member indices and signal hashes (not
/// values an attacker can choose cheaply): SipHash on the hot path costs
/// more than the lookup.
#[derive(Default, Clone, Copy)]
pub(crate) struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

/// Maps keyed by member indices or by signal hashes (already uniform, and
/// a SHA-256 each to grind, so a multiplicative mix is enough).
type IndexMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IndexHasher>>;

/// Everything screening remembers, inside the engine.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Per member (by index; shorter when later members sent nothing).
    members: Vec<Kept>,
    /// The first member seen with each cluster key.
    owners: IndexMap<u64, u32>,
    /// Every union that merged two clusters, in order (rebuilds `clusters`).
    links: Vec<(u32, u32)>,
    /// Recent sale times per IP / device key.
    velocity: IndexMap<u64, Recent>,
    /// Per earner (by index, dense: one slot read per line, and the same
    /// slot updated at commit): day buckets of sales and refunded sales.
    /// Written as a map of the earners that have any.
    #[serde(with = "sparse")]
    refunds: Vec<Option<EarnerDays>>,
    /// Rule sets in activation order; the last one is in force.
    rulesets: Vec<Ruleset>,
    #[serde(skip)]
    clusters: UnionFind<u32>,
    /// One bit per member: in a cluster of more than one.
    #[serde(skip)]
    clustered: Vec<u64>,
}

impl State {
    pub(crate) fn active(&self) -> Option<&Ruleset> {
        self.rulesets.last()
    }

    pub(crate) fn ruleset_count(&self) -> usize {
        self.rulesets.len()
    }

    pub(crate) fn find_ruleset(&self, id: &str) -> Option<&Ruleset> {
        self.rulesets.iter().rev().find(|r| &*r.id == id)
    }

    pub(crate) fn activate(&mut self, ruleset: Ruleset) {
        self.rulesets.push(ruleset);
    }

    fn kept(&self, member: u32) -> Kept {
        self.members
            .get(member as usize)
            .copied()
            .unwrap_or_default()
    }

    fn cluster(&self, member: u32) -> u32 {
        // Most members share nothing: a small bitset answers without a
        // look into the union-find's arrays.
        if !self.is_clustered(member) {
            return member;
        }
        self.clusters.try_find(member).unwrap_or(member)
    }

    fn is_clustered(&self, member: u32) -> bool {
        self.clustered
            .get(member as usize / 64)
            .is_some_and(|word| word & (1 << (member % 64)) != 0)
    }

    fn mark_clustered(&mut self, member: u32) {
        let word = member as usize / 64;
        if self.clustered.len() <= word {
            self.clustered.resize(word + 1, 0);
        }
        self.clustered[word] |= 1 << (member % 64);
    }

    fn union(&mut self, a: u32, b: u32) -> bool {
        // Sized only once two members are linked (then up to the newer of
        // them): hosts that send no signals, or whose members share
        // nothing, never pay 5 bytes a member for it.
        self.grow(a.max(b) as usize + 1);
        let merged = self.clusters.try_union(a, b).unwrap_or(false);
        if merged {
            self.mark_clustered(a);
            self.mark_clustered(b);
        }
        merged
    }

    fn grow(&mut self, members: usize) {
        while self.clusters.len() < members {
            self.clusters.new_set();
        }
    }

    /// Links `member` to the owners of its strong keys (or makes it their
    /// owner). `owners` are the owners [`decide`] already looked up for
    /// these keys, in [`Kept::strong`] order, so a screened sale hashes
    /// each key once.
    fn link_keys(&mut self, member: u32, kept: &Kept, owners: Option<&[Option<u32>; 4]>) {
        for (i, (k, _)) in kept.strong().into_iter().enumerate() {
            if k == 0 {
                continue;
            }
            let owner = match owners {
                Some(found) => found[i],
                None => self.owners.get(&k).copied(),
            };
            match owner {
                Some(owner) => {
                    if owner != member && self.union(member, owner) {
                        self.links.push((member, owner));
                    }
                }
                None => {
                    self.owners.insert(k, member);
                }
            }
        }
    }

    fn remember(&mut self, member: u32, kept: &Kept) {
        let slot = member as usize;
        if self.members.len() <= slot {
            self.members.resize(slot + 1, Kept::default());
        }
        self.members[slot].fill_from(kept);
        if self.members[slot].click_ms == NO_CLICK {
            self.members[slot].click_ms = kept.click_ms;
        }
    }

    /// A member joined (index `member`, the graph's newest).
    pub(crate) fn joined(&mut self, member: u32, kept: Option<&Kept>) {
        if let Some(kept) = kept {
            self.remember(member, kept);
            self.link_keys(member, kept, None);
        }
    }

    /// A sale was committed: remember its signals, count it.
    pub(crate) fn sold(&mut self, effects: &SaleEffects) {
        if let Some(kept) = &effects.kept {
            self.remember(effects.buyer, kept);
            self.link_keys(effects.buyer, kept, effects.owners.as_ref());
        }
        let Some(ruleset) = self.active() else {
            return;
        };
        let keep = ruleset.velocity_keep();
        let counts_refunds = ruleset.counts_refunds();
        for k in [effects.ip, effects.device] {
            if k == 0 || keep == 0 {
                continue;
            }
            self.velocity
                .entry(k)
                .or_default()
                .push(effects.at.as_millis(), keep);
        }
        if !counts_refunds {
            return;
        }
        let day = day_number(effects.at);
        let count = usize::from(effects.earner_count).min(MAX_LEVELS);
        for &earner in &effects.earners[..count] {
            self.earner_days(earner, day).count(day, true);
        }
    }

    /// A sale's first refund: count it against the sale's earners.
    pub(crate) fn refunded(&mut self, earners: impl Iterator<Item = u32>, at: Timestamp) {
        if !self.active().is_some_and(Ruleset::counts_refunds) {
            return;
        }
        let day = day_number(at);
        for earner in earners {
            self.earner_days(earner, day).count(day, false);
        }
    }

    fn earner_days(&mut self, earner: u32, day: i32) -> &mut EarnerDays {
        let slot = earner as usize;
        if self.refunds.len() <= slot {
            self.refunds.resize_with(slot + 1, || None);
        }
        self.refunds[slot].get_or_insert_with(|| EarnerDays::new(day))
    }

    /// `earner`'s day buckets, when a refund was counted against it after
    /// day `from` (most earners have none: one slot read answers).
    fn refunded_after(&self, earner: u32, from: i64) -> Option<&EarnerDays> {
        self.refunds
            .get(earner as usize)?
            .as_ref()
            .filter(|days| days.last_refund != NO_DAY && i64::from(days.last_refund) > from)
    }

    /// The members of `member`'s identity cluster, `member` first, then by
    /// index.
    pub(crate) fn cluster_members(&self, member: u32) -> Vec<u32> {
        let root = self.cluster(member);
        let mut out = vec![member];
        if !self.is_clustered(member) {
            return out;
        }
        for (word_index, &word) in self.clustered.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let other = (word_index * 64) as u32 + bits.trailing_zeros();
                bits &= bits - 1;
                if other != member && self.cluster(other) == root {
                    out.push(other);
                }
            }
        }
        out
    }

    /// Rebuilds the clusters after a snapshot was loaded.
    pub(crate) fn rebuild(&mut self, members: usize) {
        self.clustered.clear();
        self.clusters = UnionFind::new(0);
        for i in 0..self.links.len() {
            // Both were members when linked; an out-of-range pair (a
            // hand-edited snapshot) is ignored rather than trusted.
            let (a, b) = self.links[i];
            if (a as usize) < members && (b as usize) < members {
                self.union(a, b);
            }
        }
    }
}

/// What a committed sale changes in the screening state.
#[derive(Debug)]
pub(crate) struct SaleEffects {
    buyer: u32,
    at: Timestamp,
    kept: Option<Kept>,
    ip: u64,
    device: u64,
    /// The earners of the lines paid (held or not), `earner_count` of them.
    earners: [u32; MAX_LEVELS],
    earner_count: u8,
    /// The owner of each strong key of `kept` when [`decide`] looked them
    /// up (a ruleset was active), so committing does not look again.
    owners: Option<[Option<u32>; 4]>,
}

/// Every referral ring of the whole graph: the strongly connected
/// components (petgraph's `tarjan_scc`) of the sponsor graph once each
/// identity cluster is merged into one node, keeping those of two or more
/// clusters. Each ring lists its members (clusters expanded), by index.
/// O(members): for investigations and backtests, not the per-sale path.
pub(crate) fn rings(state: &State, graph: &Graph) -> Vec<Vec<u32>> {
    use petgraph::graph::{DiGraph, NodeIndex};
    let members = graph.len();
    let mut node_of: HashMap<u32, NodeIndex<u32>> = HashMap::new();
    let mut merged: DiGraph<u32, ()> = DiGraph::new();
    let mut node = |root: u32, merged: &mut DiGraph<u32, ()>| {
        *node_of.entry(root).or_insert_with(|| merged.add_node(root))
    };
    for member in 0..members as u32 {
        let Some(sponsor) = graph.sponsor(member) else {
            continue;
        };
        let (from, to) = (state.cluster(sponsor), state.cluster(member));
        // Only clusters of two or more can close a cycle in a forest.
        if from != to && (state.is_clustered(sponsor) || state.is_clustered(member)) {
            let (a, b) = (node(from, &mut merged), node(to, &mut merged));
            merged.add_edge(a, b, ());
        }
    }
    let mut rings: Vec<Vec<u32>> = Vec::new();
    for component in petgraph::algo::tarjan_scc(&merged) {
        if component.len() < 2 {
            continue;
        }
        let roots: Vec<u32> = component.iter().map(|&n| merged[n]).collect();
        let mut ring: Vec<u32> = (0..members as u32)
            .filter(|&m| roots.contains(&state.cluster(m)))
            .collect();
        ring.sort_unstable();
        rings.push(ring);
    }
    rings.sort();
    rings
}

// ---- decisions -----------------------------------------------------------

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

struct Evidence {
    matched: Vec<String>,
    members: Vec<u32>,
    detail: String,
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
struct Linked {
    roots: [u32; 4],
    len: usize,
}

impl Linked {
    fn add(&mut self, root: u32) {
        if !self.contains(root) && self.len < self.roots.len() {
            self.roots[self.len] = root;
            self.len += 1;
        }
    }

    fn contains(&self, root: u32) -> bool {
        self.roots[..self.len].contains(&root)
    }
}

/// The buyer and its ancestors with their clusters, no heap.
struct Walk {
    members: [(u32, u32); SCREEN_WALK + 1],
    len: usize,
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
    fn push(&mut self, entry: (u32, u32)) {
        if let Some(slot) = self.members.get_mut(self.len) {
            *slot = entry;
            self.len += 1;
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn as_slice(&self) -> &[(u32, u32)] {
        &self.members[..self.len]
    }
}

struct View<'a> {
    state: &'a State,
    cx: &'a SaleContext<'a>,
    /// The buyer's signals: the sale's, else the join's.
    buyer: Kept,
    buyer_root: u32,
    /// Clusters the sale's own signals link to the buyer's.
    linked: Linked,
}

impl View<'_> {
    fn cluster(&self, member: u32) -> u32 {
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
    fn walk(&self, lines: &[RawLine], walk: &mut Walk) {
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

    fn shared(&self, a: &Kept, b: &Kept) -> Vec<String> {
        a.strong()
            .iter()
            .zip(b.strong())
            .filter(|((x, _), (y, _))| *x != 0 && x == y)
            .map(|((_, name), _)| (*name).to_string())
            .collect()
    }

    fn whole_sale(&self, when: &Condition, ruleset: &Ruleset) -> Option<Evidence> {
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

    fn line(&self, when: &Condition, line: &RawLine, walk: &[(u32, u32)]) -> Option<Evidence> {
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

// ---- backtest ------------------------------------------------------------

/// One rule's effect over a replayed history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleReport {
    /// The rule set's id.
    pub rules: String,
    /// The rule's id.
    pub rule: String,
    /// Its action.
    pub action: Option<Action>,
    /// Sales it matched.
    pub matches: u64,
    /// Lines it decided.
    pub lines: u64,
    /// Amounts it would hold, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub held: BTreeMap<String, Decimal>,
    /// Amounts it would block, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub blocked: BTreeMap<String, Decimal>,
    /// Amounts it would flag for review, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub reviewed: BTreeMap<String, Decimal>,
    /// Distinct earners whose lines it decided.
    pub earners: u64,
}

/// Totals of one replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Totals {
    /// Sales with at least one matching rule.
    pub sales_matched: u64,
    /// Held, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub held: BTreeMap<String, Decimal>,
    /// Blocked, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub blocked: BTreeMap<String, Decimal>,
    /// Flagged for review, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub reviewed: BTreeMap<String, Decimal>,
    /// Distinct earners with a held, blocked or flagged line.
    pub earners: u64,
}

/// What [`backtest`] found: the candidate rules against the rules that
/// were in force when the history happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Report {
    /// The candidate rule set's id.
    pub candidate: String,
    /// Events replayed.
    pub events: u64,
    /// Sales replayed.
    pub sales: u64,
    /// Events the candidate replay refused (a review of a sale the
    /// candidate did not hold, say), left out of the figures.
    pub refused: u64,
    /// Per candidate rule, in rule order.
    pub rules: Vec<RuleReport>,
    /// The candidate's totals.
    pub candidate_totals: Totals,
    /// Per rule that was in force in the history.
    pub in_force: Vec<RuleReport>,
    /// The in-force totals.
    pub in_force_totals: Totals,
    /// Sales whose decision (rule and action per line) differs.
    pub sales_changed: u64,
    /// Candidate held minus in-force held, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub held_difference: BTreeMap<String, Decimal>,
    /// Candidate blocked minus in-force blocked, per currency.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "std::collections::BTreeMap<String, crate::wire::schema::Amount>")
    )]
    pub blocked_difference: BTreeMap<String, Decimal>,
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
/// use upline::{event::ScreeningRulesSet, screen, Event};
///
/// let history: Vec<Event> = [
///     r#"{"type":"member_joined","member":"ann","sponsor":null,"at":"2026-01-01T00:00:00Z","signals":{"device":"d1"}}"#,
///     r#"{"type":"member_joined","member":"bob","sponsor":"ann","at":"2026-01-02T00:00:00Z","signals":{"device":"d1"}}"#,
///     r#"{"type":"sale_recorded","sale":"s1","buyer":"bob","amount":"100.00","currency":"USD","at":"2026-02-01T00:00:00Z"}"#,
/// ].iter().map(|e| Event::from_json(e)).collect::<Result<_, _>>()?;
/// let candidate: ScreeningRulesSet = serde_json::from_str(
///     r#"{"id":"try","preset":"moderate","at":"2026-01-01T00:00:00Z"}"#).unwrap();
/// let report = screen::backtest(&history, &candidate)?;
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
    let mut live = crate::Engine::new();
    let mut trial = crate::Engine::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The day buckets count exactly what a brute-force count over
        /// every (day, sale or refund) gives, in any arrival order, for
        /// windows inside the kept horizon.
        #[test]
        fn refund_rate_windows_count_exactly(
            events in prop::collection::vec((0i32..900, any::<bool>()), 1..200),
            from in 0i64..900,
            width in 1i64..366,
        ) {
            let mut days = EarnerDays::new(events[0].0);
            for &(day, sale) in &events {
                days.count(day, sale);
            }
            let newest = events.iter().map(|e| i64::from(e.0)).max().unwrap_or(0);
            let from = from.max(newest - i64::from(MAX_REFUND_WINDOW_DAYS));
            let to = from + width;
            let brute = |sale: bool| {
                events
                    .iter()
                    .filter(|&&(d, s)| s == sale && i64::from(d) > from && i64::from(d) <= to)
                    .count() as u64
            };
            prop_assert_eq!(days.window(from, to), (brute(true), brute(false)));
        }

        /// Recent keeps exactly the last `keep` times, inline or not.
        #[test]
        fn recent_keeps_the_last_times(
            times in prop::collection::vec(0i64..1_000, 1..40),
            keep in 1usize..12,
        ) {
            let mut recent = Recent::default();
            for &t in &times {
                recent.push(t, keep);
            }
            let start = times.len().saturating_sub(keep);
            prop_assert_eq!(recent.iter().collect::<Vec<_>>(), times[start..].to_vec());
        }
    }
}
