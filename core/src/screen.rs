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
//! [`MAX_REFUND_WINDOW_DAYS`](crate::limits::MAX_REFUND_WINDOW_DAYS).
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
//! two more (at most [`SCREEN_WALK`](crate::limits::SCREEN_WALK)), so they
//! cost O(levels) per sale; [`Engine::screening_rings`](crate::Engine::screening_rings) finds every ring of the whole graph
//! (strongly connected components) for an investigation.
//!
//! Effects per line: `allow` pays it; `review` pays it and flags it; `hold`
//! credits it to held until `fraud_review_resolved` releases or reverses
//! it; `block` pays nothing (the level is unpaid, reason `fraud_blocked`,
//! and the platform retains the amount).
//!
//! Presets: see [`preset`].

const HOUR_MS: i64 = 3_600_000;
/// How many ancestors above the highest earner ring and ladder rules look
/// at: enough for a cluster that reappears just above the paid levels,
/// without a cache miss per ancestor up to [`SCREEN_WALK`] on every sale.
pub(crate) const WALK_ABOVE: usize = 2;
const DAY_MS: i64 = 86_400_000;
/// The "no click seen" value of a click delay.
const NO_CLICK: i64 = i64::MIN;
/// The "never" value of a day number.
const NO_DAY: i32 = i32::MIN;

mod decide;
mod report;
mod rules;
mod signals;
mod state;

pub(crate) use self::state::*;
pub use self::{decide::*, report::*, rules::*, signals::*};
