// Generated from the Rust wire types by `cargo run -p upline --features schema --example schema_gen`: do not edit by hand (CI fails when this file differs from a fresh generation).
//
// Every event, record and query result of Upline, with the Rust doc
// comments. Money and rates are decimal strings (`Decimal`), never JS
// numbers; times are RFC 3339 strings out (`IsoTime`), a `Date` or an RFC
// 3339 string with an offset in (`TimeInput`).

/** A decimal string: `"10.50"`, `"0.2"`, `"200"`. Never a JS number. */
export type Decimal = string
/** An RFC 3339 UTC string (`"2026-01-01T00:00:00Z"`), milliseconds where needed. */
export type IsoTime = string
/** A `Date`, or an RFC 3339 string with an offset (`"2026-01-01T00:00:00Z"`). */
export type TimeInput = Date | string

/**
 * What a rule does to the lines it matches.
 */
export type Action = "allow" | "review" | "hold" | "block"

/**
 * The result of applying one event: its place in the audit chain, the
 * records it produced (by kind of event) and the ledger entries it wrote.
 */
export interface Applied {
  /** Milestones a join made members reach (`member_joined`). */
  awards?: Award[]
  /** A payout batch (`payouts_prepared`). */
  batch?: Batch
  /** A closed challenge (`challenge_closed`). */
  challenge?: ChallengeResult
  /** A sale's distribution (`sale_recorded`). */
  distribution?: Distribution
  /** The ledger entries the event wrote (empty for retries). */
  entries: EntryRecord[]
  /** The audit hash after this event. */
  hash: string
  /** Milestones the refund pushed back below their threshold
   * (`refund_recorded`; absent when empty). */
  milestone_reversals?: MilestoneReversal[]
  /** The refund id (`refund_recorded`). */
  refund?: string
  /** All refunds of the sale so far, this one included (`refund_recorded`). */
  refunded_total?: Decimal
  /** `true` when this was an idempotent retry of an event already
   * applied (nothing changed; `seq`, `hash` and records are the original
   * ones); absent otherwise. */
  replayed?: boolean
  /** Reversals by this refund (`refund_recorded`). */
  reversals?: Reversal[]
  /** The sale refunded (`refund_recorded`). */
  sale?: string
  /** The event's sequence number in the audit chain (from 1). */
  seq: number
}

/**
 * A member reached a milestone: recorded once, at the event that took the
 * metric to the threshold, with its bonuses (ledger `bonus` entries) and
 * the perks the host should grant.
 */
export interface Award {
  /** Bonuses credited (each a `bonus` ledger entry). */
  bonuses: BonusPaid[]
  /** Who reached it. */
  member: string
  /** The metric it counts (`qualified_referrals`, …). */
  metric: Metric
  /** The milestone's id. */
  milestone: string
  /** Its name. */
  name: string
  /** Perks for the host to grant. */
  perks: string[]
  /** Its threshold. */
  threshold: Decimal
  /** The metric's value after the event. */
  value: Decimal
}

/**
 * An earner's balances in one currency as of an instant.
 */
export interface Balances {
  /** Matured earnings minus reversals and payouts (may be negative: a
   * debt recovered from later earnings before any new payout). */
  available: Decimal
  /** Earnings frozen by a hold. */
  held: Decimal
  /** Settled payouts. */
  paid: Decimal
  /** Commissions still inside their hold period. */
  pending: Decimal
  /** In a prepared payout not yet settled or failed. */
  reserved: Decimal
}

/**
 * A prepared payout batch.
 */
export interface Batch {
  /** The instant whose available balances were paid. */
  as_of: IsoTime
  /** The batch id. */
  batch: string
  /** Payouts, by earner id then currency. */
  items: PayoutItem[]
  /** Earners left out, by earner id then currency. */
  skipped: Skipped[]
}

/**
 * A bonus amount in one currency, as records show it.
 */
export interface BonusPaid {
  /** The amount, at the currency's scale. */
  amount: Decimal
  /** The currency code. */
  currency: string
}

/**
 * An amount in a currency, as a host writes it.
 */
export interface BonusSpec {
  /** A positive decimal string exact in the currency. */
  amount: Decimal
  /** The currency code. */
  currency: string
}

/**
 * What a challenge counts.
 */
export type ChallengeMetric = "sales_volume" | "qualified_referrals" | "direct_referrals"

/**
 * A closed challenge: its total, whether the target was met and, if so,
 * the exact split of the reward.
 */
export interface ChallengeResult {
  /** The reward's currency. */
  currency: string
  /** The challenge id. */
  id: string
  /** Whether `total >= target`. */
  met: boolean
  /** The shares paid, by member id (empty when not met, or when no team
   * member could be paid). */
  shares: ChallengeShare[]
  /** The target. */
  target: Decimal
  /** The team total over `[from, min(closed_at, to))`. */
  total: Decimal
}

/**
 * One member's share of a challenge reward.
 */
export interface ChallengeShare {
  /** The share paid (a `bonus` ledger entry). */
  amount: Decimal
  /** Who. */
  member: string
  /** The member's own progress. */
  progress: Decimal
}

/**
 * A challenge's state as of an instant.
 */
export interface ChallengeStatus {
  /** Levels below the leader in the team. */
  depth: number
  /** Window start (inclusive). */
  from: IsoTime
  /** The challenge id. */
  id: string
  /** The team leader. */
  leader: string
  /** Team members with non-zero progress: progress descending, then id. */
  members: MemberProgress[]
  /** Whether the total reaches the target. */
  met: boolean
  /** The metric. */
  metric: ChallengeMetric
  /** Its name. */
  name: string
  /** The result recorded at the close, if closed. */
  result?: ChallengeResult
  /** `"open"` or `"closed"`. */
  state: string
  /** The target. */
  target: Decimal
  /** Window end (exclusive). */
  to: IsoTime
  /** The team total counted up to `min(as_of, to, closed_at)`. */
  total: Decimal
}

/**
 * One join cohort's viral coefficient.
 */
export interface Cohort {
  /** `referrals / size`. */
  k: number
  /** Direct referrals its members made within the window of joining. */
  referrals: number
  /** Its members. */
  size: number
  /** The cohort's first instant. */
  start: IsoTime
}

/**
 * How a sale paid in another currency was converted (see `Fx`).
 */
export interface Conversion {
  /** The commission base: `round(amount × rate)` in `currency`. */
  base: Decimal
  /** The currency the lines are paid in. */
  currency: string
  /** The host's rate, normalised. */
  rate: Decimal
}

/**
 * What screening decided about one sale (absent when no rule matched).
 */
export interface Decision {
  /** The rules that matched, in rule order. */
  hits: Hit[]
  /** The rule set in force. */
  rules: string
}

/**
 * How a sale was split: lines up the upline, and what the platform kept.
 */
export interface Distribution {
  /** The sale amount. */
  amount: Decimal
  /** Milestones this sale made members reach (an extension field: absent
   * when empty). */
  awards?: Award[]
  /** The sale currency. */
  currency: string
  /** The conversion, for a sale paid in another currency (an extension
   * field: absent otherwise). Lines, their `base` and `retained` are
   * then in `fx.currency`. */
  fx?: Conversion
  /** Paid levels, ascending. */
  lines: Line[]
  /** The plan used. */
  plan: string
  /** Its version. */
  plan_version: number
  /** The sale minus the lines. */
  retained: Decimal
  /** The sale id. */
  sale: string
  /** What fraud screening decided, when a rule matched (an extension
   * field: absent for sales no rule matched). */
  screening?: Decision
  /** Levels that paid nothing, ascending. */
  unpaid: Unpaid[]
}

/**
 * Earnings of a member in one currency.
 */
export interface Earnings {
  /** The currency code. */
  currency: string
  /** Commissions, bonuses and adjustments minus reversals, ever (held
   * money counts once released; see
   * `earnings_delta`). */
  lifetime: Decimal
  /** The same over the period asked for (entries dated in `[from, to)`). */
  period: Decimal
}

/**
 * The Node `Engine` constructor's options.
 */
export interface EngineOptions {
  /** A read-only replica: every change is refused with `read_only`. */
  follower?: boolean | null
  /** When this writer hands its single events to the append lock's
   * holder under contention (group commit across writers, PostgreSQL
   * only): `auto` (the default: once commits take 1 ms or more),
   * `always` or `never`. Needs `url`. */
  groupCommit?: GroupCommitMode | null
  /** The SQLite file the engine is persisted in (created if missing,
   * reopened and verified if it exists). */
  path?: string | null
  /** A plan activated from the start of time instead of the default. */
  plan?: PlanSpec | { toJSON(): PlanSpec } | null
  /** The programme (tenant) whose log the engine replicates; needs `url`. */
  programme?: string | null
  /** A PostgreSQL connection URL: the engine is a replica of
   * `programme`'s log there (not with `path`). */
  url?: string | null
}

/**
 * What an entry records.
 */
export type EntryKind = "commission" | "reversal" | "reversal_held" | "bonus" | "adjustment" | "hold" | "release" | "payout_reserve" | "payout_settle" | "payout_fail" | "bonus_reversal"

/**
 * One ledger entry, as records show it.
 */
export interface EntryRecord {
  /** The amount moved (positive; the kind says which way). */
  amount: Decimal
  /** When it happened. */
  at: IsoTime
  /** When it leaves pending (commissions, reversals, releases). */
  available_at: IsoTime
  /** The currency. */
  currency: string
  /** Whose balance it moves. */
  earner: string
  /** What kind of movement. */
  kind: EntryKind
  /** The sale, refund or payout it belongs to. */
  reference: string
  /** Position in the ledger, from 0. */
  seq: number
}

/**
 * What a statement line's money is doing as of the statement's `as_of`.
 */
export type EntryState = "pending" | "available" | "held" | "reserved" | "paid" | "reversed"

/**
 * See `MemberJoined`.
 */
export interface MemberJoined {
  /** When the member joined. */
  at: TimeInput
  /** The new member's id. */
  member: string
  /** What the host observed at sign-up, for fraud screening (an
   * extension field; see `Signals`). */
  signals?: Signals | null
  /** The sponsor's id, or `null` for a root. Required: a missing
   * `sponsor` is `malformed`, so a forgotten field never makes a root. */
  sponsor?: string | null
  type: "member_joined"
}
/**
 * See `MemberStatusChanged`.
 */
export interface MemberStatusChanged {
  /** When. */
  at: TimeInput
  /** The member. */
  member: string
  /** The new status. */
  status: MemberStatus
  type: "member_status_changed"
}
/**
 * See `SponsorChanged`.
 */
export interface SponsorChanged {
  /** When. */
  at: TimeInput
  /** The member that moves. */
  member: string
  /** Why (kept for the audit trail). */
  reason: string
  /** The new sponsor. */
  sponsor: string
  type: "sponsor_changed"
}
/**
 * See `MemberHoldSet`.
 */
export interface MemberHoldSet {
  /** When. */
  at: TimeInput
  /** The member. */
  member: string
  /** `true` to hold, `false` to release everything held. */
  on: boolean
  /** Why. */
  reason: string
  type: "member_hold_set"
}
/**
 * See `PlanActivated`.
 */
export interface PlanActivated {
  /** The first instant whose sales use it. */
  effective_from: TimeInput
  /** The plan. */
  plan: PlanSpec | { toJSON(): PlanSpec }
  type: "plan_activated"
}
/**
 * See `CurrencyRegistered`.
 */
export interface CurrencyRegistered {
  /** The code: 3–12 upper-case ASCII letters or digits. */
  currency: string
  /** Digits after the decimal point, 0–18. */
  minor_units: number
  type: "currency_registered"
}
/**
 * See `SaleRecorded`.
 */
export interface SaleRecorded {
  /** The amount, a positive decimal string exact in the currency. */
  amount: Decimal
  /** When the sale happened (selects the plan in force). */
  at: TimeInput
  /** The buyer. */
  buyer: string
  /** The product category (selects an override table). */
  category?: string | null
  /** The currency code. */
  currency: string
  /** Pays the commissions in another currency at the host's rate (an
   * extension field; see `Fx`). */
  fx?: Fx | null
  /** The sale's id. */
  sale: string
  /** What the host observed at checkout, for fraud screening (an
   * extension field; see `Signals`). */
  signals?: Signals | null
  type: "sale_recorded"
}
/**
 * See `RefundRecorded`.
 */
export interface RefundRecorded {
  /** The amount refunded by this refund. */
  amount: Decimal
  /** When. */
  at: TimeInput
  /** The refund's id. */
  refund: string
  /** The sale refunded. */
  sale: string
  type: "refund_recorded"
}
/**
 * See `PayoutProfileSet`.
 */
export interface PayoutProfileSet {
  /** The member. */
  member: string
  /** The method's kind (`bank`, `crypto`, `instant`, …). */
  method: string
  type: "payout_profile_set"
  /** Whether the host verified it. */
  verified: boolean
}
/**
 * See `PayoutsPrepared`.
 */
export interface PayoutsPrepared {
  /** The instant whose available balances are paid. */
  as_of: TimeInput
  /** The batch id; payout ids are `{batch}:{earner}:{currency}`. */
  batch: string
  /** Minimums and fees. */
  policy: PayoutPolicy
  type: "payouts_prepared"
}
/**
 * See `PayoutSettled`.
 */
export interface PayoutSettled {
  /** When. */
  at: TimeInput
  /** The payout id. */
  payout: string
  /** The host's reference (a wire id, a transaction hash). */
  reference: string
  type: "payout_settled"
}
/**
 * See `PayoutFailed`.
 */
export interface PayoutFailed {
  /** When. */
  at: TimeInput
  /** The payout id. */
  payout: string
  /** Why. */
  reason: string
  type: "payout_failed"
}
/**
 * See `MilestonesSet`.
 */
export interface MilestonesSet {
  /** When the set comes into force. */
  at: TimeInput
  /** What makes a direct referral qualified: `"purchased"` (default: at
   * least one sale not fully refunded) or `"joined"`. */
  counts?: string | null
  /** The milestones; absent means the default set (the first
   * programme's five milestones). */
  milestones?: MilestoneSpec[] | null
  /** What happens to an award when refunds push its metric back below the
   * threshold: `"keep"` (default) or `"clawback"`. */
  on_refund?: string | null
  type: "milestones_set"
}
/**
 * See `ChallengeCreated`.
 */
export interface ChallengeCreated {
  /** Start of the half-open window `[from, to)`. */
  from: TimeInput
  /** The challenge's id. */
  id: string
  /** `"sales_volume"` (in the reward's currency), `"qualified_referrals"`
   * or `"direct_referrals"` (new direct referrals joined). */
  metric: string
  /** Its display name. */
  name: string
  /** What a met challenge pays. */
  reward: BonusSpec
  /** How the reward is split: `"leader"`, `"equal"` or `"pro_rata"`. */
  split: string
  /** The team total that meets the challenge: a count, or an amount in
   * the reward's currency for `sales_volume`. */
  target: string | number
  /** The team: a leader and the levels below it that belong to it. */
  team: TeamSpec
  /** End of the window (exclusive). */
  to: TimeInput
  type: "challenge_created"
}
/**
 * See `ChallengeClosed`.
 */
export interface ChallengeClosed {
  /** When it closes (progress counts up to `min(at, to)`). */
  at: TimeInput
  /** The challenge's id. */
  id: string
  type: "challenge_closed"
}
/**
 * See `ScreeningRulesSet`.
 */
export interface ScreeningRulesSetEvent {
  /** When (kept for the audit trail; the rules apply to events applied
   * after this one). */
  at: TimeInput
  /** Blocklisted or disposable e-mail domains (for `email_domain`). */
  blocklist?: string[] | null
  /** The rule set's id (named by every decision it makes). */
  id: string
  /** A built-in preset. */
  preset?: string | null
  /** Rules, evaluated in order; the first match wins. */
  rules?: unknown[] | null
  type: "screening_rules_set"
}
/**
 * See `FraudReviewResolved`.
 */
export interface FraudReviewResolved {
  /** When. */
  at: TimeInput
  /** Release or reverse the held lines. */
  decision: ReviewDecision
  /** Why (kept for the audit trail). */
  note?: string | null
  /** The review: the id of the sale that was held. */
  review: string
  type: "fraud_review_resolved"
}
/**
 * Everything that can happen, tagged by `"type"` on the wire.
 */
export type Event =
  | MemberJoined
  | MemberStatusChanged
  | SponsorChanged
  | MemberHoldSet
  | PlanActivated
  | CurrencyRegistered
  | SaleRecorded
  | RefundRecorded
  | PayoutProfileSet
  | PayoutsPrepared
  | PayoutSettled
  | PayoutFailed
  | MilestonesSet
  | ChallengeCreated
  | ChallengeClosed
  | ScreeningRulesSetEvent
  | FraudReviewResolved

/**
 * A method's fee: `flat + gross × percent / 100`.
 */
export interface FeeSpec {
  /** A flat fee per payout (default 0). */
  flat?: Decimal
  /** A percentage of the gross, 0–100 (default 0). */
  percent?: Decimal
}

/**
 * Paying a sale's commissions in another currency (DESIGN.md, "Paying in
 * another currency").
 *
 * The commission base is `round(amount × rate)` in `currency`, with the
 * plan's rounding at that currency's minor units; lines, caps, `min_sale`
 * and `retained` are in `currency`. The rate is the host's: the core never
 * looks one up. Refunds stay in the sale's currency and reverse the
 * converted lines pro rata (`refunded_total / amount`), so a full refund
 * reverses exactly.
 *
 * Errors: a rate ≤ 0 is `invalid_amount`; an unknown `currency`, or the
 * sale's own, is `invalid_currency`.
 */
export interface Fx {
  /** The currency the commissions are paid in. */
  currency: string
  /** Units of `currency` per unit of the sale's currency, a positive
   * decimal string. */
  rate: Decimal
}

/**
 * When a PostgreSQL writer hands events off (`upline_postgres::GroupCommit`).
 */
export type GroupCommitMode = "auto" | "always" | "never"

/**
 * The chain's head: the last sequence number and its hash.
 */
export interface Head {
  /** Its hash (`Hash::ZERO` for an empty chain). */
  hash: string
  /** The last applied event's sequence number (0 for an empty chain). */
  seq: number
}

/**
 * One rule that matched a sale: which lines, and why.
 */
export interface Hit {
  /** What it did. */
  action: Action
  /** Their amount in total (at the currency's scale). */
  amount: Decimal
  /** What was found, in words. */
  detail: string
  /** The earners of those levels, in level order. */
  earners: string[]
  /** The levels it decided, ascending. */
  levels: number[]
  /** The signals that matched (`device`, `ip`, `clicked_at`, …). */
  matched: string[]
  /** The cluster evidence: the members involved, the buyer first. */
  members: string[]
  /** The rule's reason. */
  reason: string
  /** The rule's id. */
  rule: string
}

/**
 * A leaderboard: `{metric, from, to, currency?, entries}`.
 */
export interface Leaderboard {
  /** The currency of a money metric. */
  currency?: string
  /** The top members, best first. */
  entries: LeaderboardEntry[]
  /** Window start (inclusive). */
  from: IsoTime
  /** The metric ranked. */
  metric: string
  /** Window end (exclusive). */
  to: IsoTime
}

/**
 * One row of a leaderboard.
 */
export interface LeaderboardEntry {
  /** The member id. */
  member: string
  /** 1 for the top. */
  rank: number
  /** When the member reached that value (its last change in the window). */
  reached_at: IsoTime
  /** The value over the window (a count, or an amount at the currency's
   * scale), as a decimal string. */
  value: Decimal
}

/**
 * One level of a rate table, in wire form.
 */
export interface LevelSpec {
  /** Largest line per sale, per currency (`{"USD": "10.00"}`). */
  caps?: Record<string, Decimal> | null
  /** Active direct referrals the earner needs to earn at this level. */
  min_active_directs?: number | null
  /** The share of the sale paid at this level (`"0.20"`). */
  rate: Decimal
}

/**
 * One paid level of a sale.
 */
export interface Line {
  /** The commission, at the currency's scale. */
  amount: Decimal
  /** The sale amount the rate applied to. */
  base: Decimal
  /** Who earns it. */
  earner: string
  /** Whether it was credited as held (the earner was on hold). */
  held: boolean
  /** The level, from 1. */
  level: number
  /** The level's rate. */
  rate: Decimal
}

/**
 * One member's growth metrics.
 */
export interface MemberMetrics {
  /** Active direct referrals. */
  active_direct_referrals: number
  /** Its ancestors. */
  depth: number
  /** Direct referrals. */
  direct_referrals: number
  /** Levels below the member that have members (0 for a leaf). */
  downline_depth: number
  /** Members below, at any depth. */
  downline_size: number
  /** Earnings per currency, by currency code. */
  earnings: Earnings[]
  /** When it joined. */
  joined_at: IsoTime
  /** Members per level below (index 0 = direct referrals). */
  levels: number[]
  /** The member id. */
  member: string
  /** Direct referrals with a counting sale not fully refunded. */
  qualified_referrals: number
  /** Its status. */
  status: MemberStatus
  /** The window of `Earnings::period`, `[from, to)`. */
  window: [IsoTime, IsoTime]
}

/**
 * One member's progress in a challenge.
 */
export interface MemberProgress {
  /** The member id. */
  member: string
  /** Its own contribution over the window so far. */
  progress: Decimal
}

/**
 * A member's standing in the programme.
 */
export type MemberStatus = "active" | "inactive" | "terminated"

/**
 * What a milestone counts.
 */
export type Metric = "qualified_referrals" | "direct_referrals" | "downline_size" | "own_sales" | "net_earnings"

/**
 * A refund took a member's metric back below a milestone it had reached.
 */
export interface MilestoneReversal {
  /** What applied: `keep` (the award stands) or `clawback` (its bonuses
   * were reversed by `bonus_reversal` entries; a later crossing awards
   * it again). */
  applied: OnRefund
  /** Whose award. */
  member: string
  /** The milestone's id. */
  milestone: string
  /** Bonuses reversed (empty under `keep`). */
  reversed: BonusPaid[]
  /** The metric's value after the refund. */
  value: Decimal
}

/**
 * A milestone as a host writes it.
 */
export interface MilestoneSpec {
  /** The currency of a `net_earnings` metric. */
  currency?: string | null
  /** Its id (an award is given once per member and id). */
  id: string
  /** The metric; `qualified_referrals` when absent. */
  metric?: string | null
  /** Its display name. */
  name: string
  /** Bonuses and perks, at most `limits::MAX_MILESTONE_REWARDS`. */
  rewards: RewardSpec[]
  /** A positive whole count (a JSON integer or a decimal string), or an
   * amount string in `currency` for `net_earnings`. */
  threshold: string | number
}

/**
 * Whole-network statistics.
 */
export interface NetworkMetrics {
  /** Members per status. */
  by_status: StatusCounts
  /** Members per depth (index 0 = roots). */
  depth_histogram: number[]
  /** The deepest member's depth. */
  max_depth: number
  /** Mean direct referrals of the members that have at least one
   * (non-roots / sponsors); 0 for a network of roots. */
  mean_branching_factor: number
  /** All members. */
  members: number
  /** Members on hold. */
  on_hold: number
  /** Members without a sponsor. */
  roots: number
}

/**
 * What happens to an award when refunds push its metric back below the
 * threshold.
 */
export type OnRefund = "keep" | "clawback"

/**
 * One payout of a batch.
 */
export interface PayoutItem {
  /** The currency. */
  currency: string
  /** Who is paid. */
  earner: string
  /** The method's fee (never above the gross). */
  fee: Decimal
  /** The amount reserved from available. */
  gross: Decimal
  /** The payout method's kind. */
  method: string
  /** Gross minus fee. */
  net: Decimal
  /** `{batch}:{earner}:{currency}`. */
  payout: string
}

/**
 * The policy of one payout batch, in wire form.
 */
export interface PayoutPolicy {
  /** Fees per payout method kind (none: free). */
  fees?: Record<string, FeeSpec>
  /** Smallest available balance paid, per currency (none: any positive). */
  minimum?: Record<string, Decimal>
}

/**
 * Reserved, awaiting settlement.
 */
export interface PayoutStateReserved {
  state: "reserved"
}
/**
 * Paid.
 */
export interface PayoutStateSettled {
  /** When. */
  at: IsoTime
  /** The host's reference. */
  reference: string
  /** The sequence number of the settling event. */
  seq: number
  state: "settled"
}
/**
 * Failed; the gross went back to available.
 */
export interface PayoutStateFailed {
  /** When. */
  at: IsoTime
  /** Why. */
  reason: string
  /** The sequence number of the failing event. */
  seq: number
  state: "failed"
}
/**
 * Where a payout stands.
 */
export type PayoutState =
  | PayoutStateReserved
  | PayoutStateSettled
  | PayoutStateFailed

/**
 * A plan in wire form, exactly as hosts write it in JSON.
 */
export interface PlanSpec {
  /** Only sales within this many days of the buyer joining earn. */
  commission_window_days?: number | null
  /** Dynamic compression: skip ineligible uplines instead of retaining. */
  compression?: boolean | null
  /** Days a commission stays pending (default 30). */
  hold_days?: number | null
  /** The plan's id (1–128 bytes). */
  id: string
  /** The default rate table, nearest level first (1–16 levels). */
  levels: LevelSpec[]
  /** Most ancestors compression may look at (default 64). */
  max_walk?: number | null
  /** Smallest sale that earns anything, per currency. */
  min_sale?: Record<string, Decimal> | null
  /** Rate tables per sale category. */
  overrides?: Record<string, LevelSpec[]> | null
  /** Rounding of lines and reversals (default `half_even`). */
  rounding?: Rounding | null
  /** The plan's version (≥ 1); `(id, version)` names one content forever. */
  version: number
}

/**
 * A branching-process projection (see the module docs).
 */
export interface Projection {
  /** The closed form `seed·(1 − Kⁿ⁺¹)/(1 − K)` (`seed·(n+1)` for K = 1). */
  closed_form_total: number
  /** The cycle time used, in days. */
  cycle_days: number
  /** The viral coefficient used. */
  k: number
  /** `seed/(1 − K)` when K < 1: the size growth tends to. */
  limit?: number
  /** Per cycle, 0 to n. */
  points: ProjectionPoint[]
  /** Generation 0. */
  seed: number
}

/**
 * One cycle of a projection.
 */
export interface ProjectionPoint {
  /** The cycle, from 0 (the seed). */
  cycle: number
  /** Days from the start (`cycle × cycle_days`). */
  day: number
  /** Expected members of this generation (`seed·K^cycle`). */
  new_members: number
  /** Expected network size after this cycle (summed cycle by cycle). */
  total: number
}

/**
 * What `backtest` found: the candidate rules against the rules that
 * were in force when the history happened.
 */
export interface Report {
  /** Candidate blocked minus in-force blocked, per currency. */
  blocked_difference: Record<string, Decimal>
  /** The candidate rule set's id. */
  candidate: string
  /** The candidate's totals. */
  candidate_totals: Totals
  /** Events replayed. */
  events: number
  /** Candidate held minus in-force held, per currency. */
  held_difference: Record<string, Decimal>
  /** Per rule that was in force in the history. */
  in_force: RuleReport[]
  /** The in-force totals. */
  in_force_totals: Totals
  /** Events the candidate replay refused (a review of a sale the
   * candidate did not hold, say), left out of the figures. */
  refused: number
  /** Per candidate rule, in rule order. */
  rules: RuleReport[]
  /** Sales replayed. */
  sales: number
  /** Sales whose decision (rule and action per line) differs. */
  sales_changed: number
}

/**
 * The part of one line a refund reversed.
 */
export interface Reversal {
  /** Reversed by this refund. */
  amount: Decimal
  /** Whose line. */
  earner: string
  /** The line's level. */
  level: number
}

/**
 * How a fraud review ends.
 */
export type ReviewDecision = "release" | "reverse"

/**
 * Money credited through the ledger.
 */
export interface RewardSpecBonus {
  bonus: BonusSpec
}
/**
 * A perk the host grants (listed in the award).
 */
export interface RewardSpecPerk {
  perk: string
}
/**
 * One reward of a milestone: `{"bonus": {"amount", "currency"}}` or
 * `{"perk": "name"}`.
 */
export type RewardSpec =
  | RewardSpecBonus
  | RewardSpecPerk

/**
 * How a computed amount is brought to the currency's minor units.
 */
export type Rounding = "half_even" | "half_up" | "down"

/**
 * One rule's effect over a replayed history.
 */
export interface RuleReport {
  /** Its action. */
  action: Action | null
  /** Amounts it would block, per currency. */
  blocked: Record<string, Decimal>
  /** Distinct earners whose lines it decided. */
  earners: number
  /** Amounts it would hold, per currency. */
  held: Record<string, Decimal>
  /** Lines it decided. */
  lines: number
  /** Sales it matched. */
  matches: number
  /** Amounts it would flag for review, per currency. */
  reviewed: Record<string, Decimal>
  /** The rule's id. */
  rule: string
  /** The rule set's id. */
  rules: string
}

/**
 * Activates fraud-screening rules for the events applied after it
 * (nothing is screened before the first one). Give a `preset`
 * (`relaxed`, `moderate`, `strict`) or your own `rules`; with neither,
 * `moderate`. See `crate::screen`.
 */
export interface ScreeningRulesSet {
  /** When (kept for the audit trail; the rules apply to events applied
   * after this one). */
  at: TimeInput
  /** Blocklisted or disposable e-mail domains (for `email_domain`). */
  blocklist?: string[] | null
  /** The rule set's id (named by every decision it makes). */
  id: string
  /** A built-in preset. */
  preset?: string | null
  /** Rules, evaluated in order; the first match wins. */
  rules?: unknown[] | null
}

/**
 * What a host observed about a join or a sale, for fraud screening. Every
 * field is optional; a rule whose signal is missing never matches.
 *
 * The engine keeps none of these strings: it keeps a 64-bit keyed hash of
 * each normalised value (see `crate::screen` for the normalisation and
 * exactly what is kept), and for `clicked_at` only the delay to the
 * conversion. The event itself, as the host sent it, is hashed into the
 * audit chain and kept by a store if the engine has one: hosts that must
 * not keep raw IPs or e-mails should pass their own keyed hashes (HMAC)
 * instead, which the rules treat the same way (except that e-mail
 * normalisation and blocklists need the real address).
 */
export interface Signals {
  /** When the referral link was clicked (RFC 3339), at or before the
   * event's `at`. */
  clicked_at?: TimeInput
  /** A device fingerprint. */
  device?: string | null
  /** The member's e-mail address. */
  email?: string | null
  /** The client's IP address (v4 or v6). */
  ip?: string | null
  /** A fingerprint of the payment instrument (card, wallet). */
  payment_fingerprint?: string | null
  /** The client's user agent. */
  user_agent?: string | null
}

/**
 * Why an account was left out of a batch (DESIGN.md, "Payouts and tax
 * summaries"): the first reason that applies, in the order declared here.
 */
export type SkipReason = "negative_balance" | "on_hold" | "below_minimum" | "no_verified_profile" | "below_fee"

/**
 * An earner left out of a batch.
 */
export interface Skipped {
  /** In which currency. */
  currency: string
  /** Who. */
  earner: string
  /** Why. */
  reason: SkipReason
}

/**
 * Where a statement line comes from.
 */
export interface Source {
  /** Its host id. */
  id: string
  /** The kind of thing. */
  type: SourceKind
}

/**
 * What kind of thing a statement line comes from.
 */
export type SourceKind = "sale" | "refund" | "payout" | "award" | "challenge" | "review" | "adjustment"

/**
 * One page of a member's statement.
 */
export interface Statement {
  /** The instant the states are as of (`None`: after every entry). */
  as_of: IsoTime
  /** The entries, oldest first (by ledger position). */
  entries: StatementLine[]
  /** The member. */
  member: string
  /** Pass this as `after` for the next page; `None` on the last page. */
  next: string | null
}

/**
 * One ledger entry of a member, as a statement shows it.
 */
export interface StatementLine {
  /** The amount moved, positive (the kind says which way). */
  amount: Decimal
  /** When it happened. */
  at: IsoTime
  /** When its money leaves pending. */
  available_at: IsoTime
  /** The amount the rate applied to, for commission lines. */
  base: Decimal
  /** The currency. */
  currency: string
  /** What the entry records. */
  kind: EntryKind
  /** The level paid, for commission lines. */
  level: number | null
  /** The level's rate, for commission lines. */
  rate: Decimal
  /** For credit lines (commission, bonus, adjustment): the amount minus
   * what was clawed back by `as_of`. */
  remaining: Decimal
  /** The entry's position in the ledger, from 0. */
  seq: number
  /** The sale, refund, payout, award, challenge or review it comes from. */
  source: Source
  /** Its state as of the statement's `as_of` (see the [module
   * docs](self)). */
  state: EntryState
}

/**
 * Members per status.
 */
export interface StatusCounts {
  /** Active members. */
  active: number
  /** Inactive members. */
  inactive: number
  /** Terminated members. */
  terminated: number
}

/**
 * `export_subtree_json`'s result: a breadth-first subtree with lifetime
 * earnings on every node.
 */
export interface SubtreeExport {
  /** Members in the export. */
  nodes: number
  /** The root member and, nested, everyone below it in the export. */
  tree: SubtreeNode
  /** Whether `max_nodes` or `max_depth` cut the subtree short. */
  truncated: boolean
}

/**
 * One member of `export_subtree_json`'s tree.
 */
export interface SubtreeNode {
  /** Lifetime earnings by currency code. */
  earnings: Record<string, Decimal>
  /** When it joined. */
  joined_at: IsoTime
  /** The member's id. */
  member: string
  /** Its direct referrals inside the export, in join order. */
  referrals: SubtreeNode[]
  /** Its status. */
  status: MemberStatus
}

/**
 * One line of a tax summary.
 */
export interface TaxLine {
  /** The currency. */
  currency: string
  /** Commissions, bonuses and adjustments credited in the year, minus
   * reversals in the year. */
  earned: Decimal
  /** The earner. */
  earner: string
  /** Payouts settled in the year. */
  paid: Decimal
  /** Whether `paid` reaches the host's threshold for this currency
   * (`false` when the host named none). */
  reaches_threshold: boolean
}

/**
 * A challenge team: the leader and how many levels below it belong.
 */
export interface TeamSpec {
  /** Levels below the leader (0 = the leader alone), at most
   * `MAX_TEAM_DEPTH`. */
  depth: number
  /** The leader's member id. */
  leader: string
}

/**
 * Totals of one replay.
 */
export interface Totals {
  /** Blocked, per currency. */
  blocked: Record<string, Decimal>
  /** Distinct earners with a held, blocked or flagged line. */
  earners: number
  /** Held, per currency. */
  held: Record<string, Decimal>
  /** Flagged for review, per currency. */
  reviewed: Record<string, Decimal>
  /** Sales with at least one matching rule. */
  sales_matched: number
}

/**
 * One member of `export_json`'s tree.
 */
export interface TreeNode {
  /** The member's id. */
  member: string
  /** Its direct referrals, in join order (empty below `max_depth`). */
  referrals: TreeNode[]
  /** Its status. */
  status: MemberStatus
}

/**
 * One level that paid nothing, and why.
 */
export interface Unpaid {
  /** The level, from 1. */
  level: number
  /** Why it paid nothing. */
  reason: UnpaidReason
}

/**
 * Why a level paid nothing.
 */
export type UnpaidReason = "no_upline" | "ineligible" | "capped" | "zero" | "below_min_sale" | "outside_window" | "fraud_blocked"

/**
 * Viral coefficient per cohort, overall, and the viral cycle time.
 */
export interface ViralReport {
  /** Width of a cohort in days. */
  cohort_days: number
  /** Cohorts, oldest first (only those with members). */
  cohorts: Cohort[]
  /** Referral gaps the cycle time was measured over. */
  cycle_samples: number
  /** The same in days. */
  cycle_time_days: number
  /** Median gap from a sponsor's join to its referral's join, in ms. */
  cycle_time_ms: number
  /** All the cohorts together. */
  overall: Cohort
  /** W: referrals count when made within this many days of joining. */
  window_days: number
}

// ---- roots: what each method takes or returns ----

/** A list of events (`backtest`'s history). */
export type EventList = Event[]
/** Thresholds per currency code (`tax_summary`). */
export type Thresholds = Record<string, Decimal>
/** Tax summary lines (`tax_summary`). */
export type TaxSummary = TaxLine[]
/** A member's awards (`awards`). */
export type Awards = Award[]
/** A screening backtest report (`backtest`). */
export type BacktestReport = Report
/** A screening preset's rules (`screening_preset`). */
export type ScreeningRules = unknown[]
