//! Every static limit of the engine, in one place.
//!
//! A value over a limit is refused with [`ErrorKind::LimitExceeded`]
//! (or the more specific kind named beside it), never truncated.
//!
//! [`ErrorKind::LimitExceeded`]: crate::ErrorKind::LimitExceeded

/// Longest id (member, sale, refund, batch, payout, plan), in bytes of UTF-8.
pub const MAX_ID_BYTES: usize = 128;
/// Most levels in one rate table.
pub const MAX_LEVELS: usize = 16;
/// Most category override tables in one plan.
pub const MAX_OVERRIDES: usize = 256;
/// Default and largest `max_walk` (ancestors compression may look at).
pub const DEFAULT_MAX_WALK: u32 = 64;
/// Largest `max_walk` a plan may ask for.
pub const MAX_WALK_LIMIT: u32 = 4096;
/// Most events in one `apply_batch` call.
pub const MAX_BATCH: usize = 100_000;
/// Longest decimal string accepted for an amount or rate, in bytes.
pub const MAX_DECIMAL_CHARS: usize = 40;
/// Longest free-text field (reasons, references, methods), in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Longest JSON document accepted by the `*_json` entry points, in bytes.
pub const MAX_JSON_BYTES: usize = 1 << 20;
/// Most members an engine holds (dense `u32` indices, one value reserved).
pub const MAX_MEMBERS: usize = (u32::MAX - 1) as usize;
/// Most host-registered currencies.
pub const MAX_CURRENCIES: usize = 1024;
/// Most plan activations kept in the schedule.
pub const MAX_PLAN_ACTIVATIONS: usize = 10_000;
/// Longest hold period or commission window, in days (about 100 years).
pub const MAX_DAYS: u32 = 36_600;
/// Most payout methods with a fee in one policy, and most currencies with a minimum.
pub const MAX_POLICY_ENTRIES: usize = 256;
/// Largest magnitude of any amount, in whole units of its currency
/// (exclusive): 10^18. An amount must also fit a `Decimal` at its
/// currency's scale (2^96 − 1 minor units: 7.9 × 10^10 units at 18
/// decimals). Sums of amounts are bounded separately: an event that would
/// take a balance or total beyond the exact range is refused with
/// `limit_exceeded` (see [`crate::ledger::Ledger`], "Exact or refused").
pub const MAX_AMOUNT_UNITS: i64 = 1_000_000_000_000_000_000;
/// Longest JSON text accepted by `Engine::apply_batch_json`, in bytes.
pub const MAX_BATCH_JSON_BYTES: usize = 256 << 20;
/// Most milestones in one `milestones_set`.
pub const MAX_MILESTONES: usize = 64;
/// Most rewards (bonuses and perks) of one milestone.
pub const MAX_MILESTONE_REWARDS: usize = 16;
/// How many levels up a join (or a move) updates the downline-size counters
/// milestones read: a member's tracked downline size counts the members at
/// most this many levels below it. Exact for networks less deep than this.
pub const MAX_TRACKED_DEPTH: usize = 1024;
/// Deepest team a challenge may name (levels below its leader).
pub const MAX_TEAM_DEPTH: u32 = 64;
/// Most entries a leaderboard returns.
pub const MAX_LEADERBOARD: usize = 10_000;
/// Most nodes of a subtree export.
pub const MAX_EXPORT_NODES: usize = 100_000;
/// Most cycles of a growth projection.
pub const MAX_PROJECTION_CYCLES: u32 = 10_000;
/// Longest viral-coefficient window or cohort width, in days.
pub const MAX_WINDOW_DAYS: u32 = 36_600;
/// Most rules in one screening rule set.
pub const MAX_SCREEN_RULES: usize = 64;
/// Most domains in a screening blocklist (event and rules together).
pub const MAX_BLOCKLIST: usize = 100_000;
/// Largest `max` of a velocity rule; the engine keeps this many recent
/// conversions (plus one) per IP and per device.
pub const MAX_VELOCITY_COUNT: u32 = 100;
/// Longest window of a velocity, ladder or refund-rate rule, in hours.
pub const MAX_SCREEN_WINDOW_HOURS: u32 = 24 * 366;
/// Longest refund-rate window, in days; per-earner refund counts are kept
/// this long.
pub const MAX_REFUND_WINDOW_DAYS: u32 = 366;
/// How many ancestors ring and ladder rules look at above a buyer.
pub const SCREEN_WALK: usize = 16;
/// Most rule sets activated over an engine's life.
pub const MAX_RULESETS: usize = 10_000;
/// Most entries in one statement page.
pub const MAX_STATEMENT_PAGE: usize = 10_000;
/// Entries in a statement page when the host names no limit.
pub const DEFAULT_STATEMENT_PAGE: usize = 100;
