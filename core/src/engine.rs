//! The engine: applies events, answers queries, replays and snapshots.
//!
//! [`Engine::apply`] validates an event completely and computes everything
//! it will change (records, ledger entries, the audit hash) before it
//! mutates anything; the mutation step cannot fail. So a refused event
//! leaves the engine exactly as it was. An event whose id was already
//! applied with the same content returns the original result and changes
//! nothing; the same id with other content is `duplicate_id`.
//!
//! This file owns the [`Engine`]'s state and its construction. Each
//! concern has a file of its own under `engine/`:
//!
//! | file | owns |
//! |---|---|
//! | `pipeline` | stage and commit: the apply paths and the one place state changes |
//! | `members` | joins, status, sponsor changes, holds |
//! | `programme` | plans and host currencies |
//! | `sales` | sales, refunds, fraud reviews and the sale state |
//! | `payouts` | payout profiles, batches, settle and fail, tax summaries |
//! | `awards` | the rewards glue: milestones, challenges, leaderboards |
//! | `screening` | the screening glue: rules, clusters, rings, backtests |
//! | `queries` | read-only queries on the graph, balances and metrics |
//! | `persist` | snapshots, replay and verification against a store |
//! | `replica` | many writers: conditional appends, catch-up, followers |
//! | `handoff` | group commit across writers: single events handed to the lock's holder |
//! | `columns` | the columnar apply path |
//! | `whatif` | replaying sales under a candidate plan |
//! | `warm` | reading a batch of sales' state ahead, in lockstep |
//! | `statement`, `tax_csv`, `export` | reading the books |

mod awards;
pub mod columns;
mod export;
mod handoff;
mod members;
mod payouts;
mod persist;
mod pipeline;
mod programme;
mod queries;
mod replica;
mod sales;
mod screening;
mod statement;
mod tax_csv;
mod warm;
pub mod whatif;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::Hash;
use crate::calc::Calculation;
use crate::chunked::Chunked;
use crate::graph::Graph;
use crate::id::{sorted, DenseIndex, HashMap, Hashed};
use crate::ledger::Ledger;
use crate::money::Currencies;
use crate::payout::{PayoutRecord, Profile};
use crate::plan::Plan;
use crate::rewards::Rewards;
use crate::screen;
use crate::store::Store;
use crate::time::Timestamp;

pub use export::{export_store, ExportFormat, EXPORT_FORMAT_NAME, EXPORT_FORMAT_VERSION};
pub use persist::{verify_store, SNAPSHOT_FORMAT};
pub use screening::{backtest, backtest_json};

use members::Joins;
use payouts::BatchRecord;
use persist::{check_audit_format, replay_stored, storage, stored_event, tampered};
use pipeline::{check_batch_len, Records, Staged};
use sales::{RefundRecord, SaleRecord};

/// The commission engine. Pure: no IO, no clock, no randomness.
///
/// ```
/// use upline::Engine;
///
/// let mut engine = Engine::new();
/// for (member, sponsor) in [("ann", None), ("bob", Some("ann"))] {
///     engine.apply_json(&serde_json::json!({
///         "type": "member_joined", "member": member, "sponsor": sponsor,
///         "at": "2026-01-01T00:00:00Z"
///     }).to_string())?;
/// }
/// let applied = engine.apply_json(r#"{"type":"sale_recorded","sale":"s1","buyer":"bob",
///     "amount":"100.00","currency":"USD","at":"2026-02-01T12:00:00Z"}"#)?;
/// let upline::Outcome::Distribution(d) = &applied.outcome else { unreachable!() };
/// assert_eq!(d.lines[0].amount.to_string(), "20.00");
/// assert_eq!(d.retained.to_string(), "80.00");
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Serialize, Deserialize)]
pub struct Engine {
    currencies: Currencies,
    graph: Graph,
    joins: Joins,
    plans: Vec<Plan>,
    /// Plan activations by `effective_from` (ties in activation order):
    /// (from, plan index, seq of the activating event; 0 for the default).
    schedule: Vec<(Timestamp, u32, u64)>,
    sales: Chunked<SaleRecord>,
    #[serde(skip)]
    sale_index: DenseIndex<Hashed>,
    #[serde(serialize_with = "sorted")]
    refunds: HashMap<Arc<str>, RefundRecord>,
    ledger: Ledger,
    #[serde(serialize_with = "sorted")]
    profiles: HashMap<u32, Profile>,
    #[serde(serialize_with = "sorted")]
    batches: HashMap<Arc<str>, BatchRecord>,
    #[serde(serialize_with = "sorted")]
    payouts: HashMap<Arc<str>, PayoutRecord>,
    last_batch_as_of: Option<Timestamp>,
    /// Lines held by a member hold (not those held by screening).
    #[serde(skip)]
    held_lines: HashMap<u32, Vec<(u32, u8)>>,
    /// The audit hash of every event from `hashes_dropped + 1` on. An
    /// engine with a store keeps only the head (the store has the rest,
    /// [`Store::hash_at`]); one without keeps them all, to answer retries.
    hashes: Chunked<Hash>,
    /// How many hashes before `hashes[0]` are only in the store.
    #[serde(default, skip_serializing_if = "is_zero")]
    hashes_dropped: u64,
    /// Milestones, challenges and the counters they read.
    #[serde(default)]
    rewards: Rewards,
    /// A digest of each join's screening signals, for members that sent
    /// any (so a retry with other signals is told apart): a map, not a
    /// field of every join, since most hosts send signals for few joins
    /// or none.
    #[serde(default, serialize_with = "sorted")]
    join_signals: HashMap<u32, u64>,
    /// Fraud screening: kept signals, clusters, rule sets.
    #[serde(default)]
    screen: screen::State,
    #[serde(skip)]
    scratch: Calculation,
    #[serde(skip)]
    store: Option<Box<dyn Store>>,
    /// Set when a failed group commit could not be rolled back by reloading
    /// from the store; every later change is refused.
    #[serde(skip)]
    broken: Option<String>,
    /// A read-only replica: catches up, never writes (`replica.rs`).
    #[serde(skip)]
    follower: bool,
    /// Batches left that take the store's append lock before staging: set
    /// when this writer found other writers' appends (`replica.rs`).
    #[serde(skip)]
    contended: u8,
    /// Host-facing records are not wanted (`apply_batch_json` with
    /// `records = false`): a new sale's records are hashed from the
    /// engine's own state and never built. Set only for one call.
    #[serde(skip)]
    lean: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    /// An empty engine with the default plan (the first programme) in force.
    pub fn new() -> Self {
        Engine {
            currencies: Currencies::default(),
            graph: Graph::default(),
            joins: Joins::default(),
            plans: vec![Plan::default_plan()],
            schedule: vec![(Timestamp::MIN, 0, 0)],
            sales: Chunked::new(),
            sale_index: DenseIndex::default(),
            refunds: HashMap::default(),
            ledger: Ledger::default(),
            profiles: HashMap::default(),
            batches: HashMap::default(),
            payouts: HashMap::default(),
            last_batch_as_of: None,
            held_lines: HashMap::default(),
            hashes: Chunked::new(),
            hashes_dropped: 0,
            rewards: Rewards::default(),
            join_signals: HashMap::default(),
            screen: screen::State::default(),
            scratch: Calculation::default(),
            store: None,
            broken: None,
            follower: false,
            contended: 0,
            lean: false,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
