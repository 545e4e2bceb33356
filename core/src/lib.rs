//! # Upline
//!
//! An embeddable engine for multi-level referral commissions: a referral
//! graph, effective-dated commission plans that pay several levels up,
//! refunds that claw commissions back, hold periods, payouts with
//! thresholds and fees, tax-year summaries, and a hash-chained audit trail.
//!
//! The core is pure: no IO, no clock, no randomness. The host feeds
//! [`Event`]s (members joined, sales, refunds, payouts) and reads back
//! exact results. Money is [`rust_decimal::Decimal`], never a float.
//!
//! ```
//! use upline::{Engine, Outcome};
//!
//! let mut engine = Engine::new(); // the first programme: 20/15/10/8/5/3/2%
//! let mut sponsor: Option<String> = None;
//! for i in 0..9 {
//!     let member = format!("m{i}");
//!     engine.apply_json(&serde_json::json!({
//!         "type": "member_joined", "member": member, "sponsor": sponsor,
//!         "at": "2026-01-01T00:00:00Z"
//!     }).to_string())?;
//!     sponsor = Some(member);
//! }
//! let applied = engine.apply_json(r#"{"type": "sale_recorded", "sale": "s1",
//!     "buyer": "m8", "amount": "100.00", "currency": "USD",
//!     "at": "2026-02-01T12:00:00Z"}"#)?;
//! let Outcome::Distribution(distribution) = &applied.outcome else { unreachable!() };
//! let paid: Vec<String> = distribution.lines.iter().map(|l| l.amount.to_string()).collect();
//! assert_eq!(paid, ["20.00", "15.00", "10.00", "8.00", "5.00", "3.00", "2.00"]);
//! assert_eq!(distribution.retained.to_string(), "37.00");
//!
//! // Commissions are pending for the plan's 30-day hold, then available.
//! let early = engine.balances("m7", "USD", "2026-02-15T00:00:00Z")?;
//! let later = engine.balances("m7", "USD", "2026-03-15T00:00:00Z")?;
//! assert_eq!((early.pending.to_string(), later.available.to_string()),
//!            ("20.00".to_string(), "20.00".to_string()));
//! # Ok::<(), upline::Error>(())
//! ```
//!
//! Modules: [`money`] (currencies, amounts, rates, rounding), [`graph`] (the
//! referral forest), [`plan`] (rate tables and validation), [`calc`] (sale →
//! distribution), [`ledger`] (entries and balances), [`payout`] (policies,
//! fees, tax summaries), [`screen`] (fraud screening), [`rewards`]
//! (milestones, team challenges, leaderboards), [`metrics`] (growth
//! metrics, viral coefficient, projection, exports), [`event`] (events and
//! records), [`engine`] (applying, replaying, snapshots), [`store`]
//! (persistence), [`audit`] (the hash chain and its
//! canonical encoding), [`limits`] (every static limit), and [`error`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod calc;
mod chunked;
pub mod engine;
pub mod error;
pub mod event;
pub mod graph;
mod id;
pub mod ledger;
pub mod limits;
pub mod metrics;
pub mod money;
pub mod payout;
pub mod plan;
pub mod rewards;
pub mod screen;
pub mod statement;
pub mod store;
pub mod time;
pub mod wire;

pub use audit::{Hash, Head, TamperedAt};
pub use engine::{backtest, backtest_json, Engine, ExportFormat};
pub use error::{Error, ErrorKind, Result};
pub use event::{Applied, Distribution, Event, Outcome};
pub use graph::MemberStatus;
pub use id::check_id;
pub use ledger::Balances;
pub use money::{Currencies, Currency, Money, Rate, Rounding};
pub use plan::{Plan, PlanSpec};
pub use statement::{Statement, StatementQuery};
pub use store::{MemoryStore, SharedStore, Store, StoredEvent};
pub use time::Timestamp;
