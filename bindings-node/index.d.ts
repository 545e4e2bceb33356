/**
 * Upline for Node: an embeddable engine for multi-level referral commissions.
 *
 * Hand-checked types (the build's generated declarations go to
 * `native.d.ts`; this file is the package's `types`). Events and records are
 * plain objects with the same snake_case field names as the Rust serde form,
 * so the shared JSON test vectors drive every language unchanged.
 *
 * Money and rates are decimal strings in and out (`"10.50"`); a JS `number`
 * or `bigint` for money is refused with code `invalid_amount`. Times are
 * `Date`s or RFC 3339 strings with an offset in, ISO strings out.
 */

/** A decimal string: `"10.50"`, `"0.2"`, `"200"`. Never a JS number. */
export type DecimalString = string
/** A `Date`, or an RFC 3339 string with an offset (`"2026-01-01T00:00:00Z"`). */
export type TimeInput = Date | string
/** An RFC 3339 UTC string with millisecond precision where needed. */
export type IsoTime = string
/** A host id: 1–128 bytes of UTF-8, no control characters. */
export type Id = string

// ---- errors ------------------------------------------------------------------

/** Every stable error code (the same strings in Rust, Python and Node). */
export type ErrorCode =
  | 'invalid_amount'
  | 'invalid_currency'
  | 'currency_mismatch'
  | 'invalid_time'
  | 'invalid_id'
  | 'invalid_plan'
  | 'unknown_member'
  | 'unknown_sale'
  | 'unknown_payout'
  | 'duplicate_id'
  | 'self_sponsor'
  | 'cycle'
  | 'member_terminated'
  | 'over_refund'
  | 'payout_state'
  | 'limit_exceeded'
  | 'malformed'
  | 'storage'
  | 'tampered'
  | 'internal'
  | 'invalid_reward'
  | 'unknown_challenge'
  | 'challenge_state'
  | 'invalid_rules'
  | 'invalid_signal'
  | 'unknown_review'
  | 'review_state'

/**
 * What every method throws (and what the `...Async` methods reject with): a
 * plain `Error` with a stable `code` and, when the core names one, the
 * `field` it concerns (`"amount"`, `"plan.levels[0].rate"`). The message
 * names the field.
 */
export interface UplineError extends Error {
  code: ErrorCode
  field?: string
}

/** A refused event inside `applyBatch` results. */
export interface BatchError {
  error: { code: ErrorCode; message: string; field: string | null }
}

// ---- plans and policies ----------------------------------------------------------

export interface LevelSpec {
  rate: DecimalString
  min_active_directs?: number
  /** Largest line per sale, per currency: `{ USD: "10.00" }`. */
  caps?: Record<string, DecimalString>
}

export interface PlanSpec {
  id: Id
  version: number
  levels: LevelSpec[]
  overrides?: Record<string, LevelSpec[]>
  compression?: boolean
  max_walk?: number
  rounding?: 'half_even' | 'half_up' | 'down'
  hold_days?: number
  min_sale?: Record<string, DecimalString>
  commission_window_days?: number
}

export interface FeeSpec {
  flat?: DecimalString
  /** Percent of the gross, 0–100. */
  percent?: DecimalString
}

export interface PayoutPolicy {
  minimum?: Record<string, DecimalString>
  fees?: Record<string, FeeSpec>
}

// ---- events ----------------------------------------------------------------------

export type MemberStatus = 'active' | 'inactive' | 'terminated'

/**
 * What a host knows about a join or a sale, for fraud screening. All
 * optional; a rule whose signal is missing never matches. The engine keeps
 * only keyed hashes of normalised values (the event itself is in the audit
 * chain as sent: send your own HMACs if raw values must not be kept).
 */
export interface Signals {
  ip?: string
  device?: string
  email?: string
  payment_fingerprint?: string
  user_agent?: string
  /** When the referral link was clicked. */
  clicked_at?: TimeInput
}

export interface MemberJoined {
  type: 'member_joined'
  member: Id
  sponsor: Id | null
  at: TimeInput
  signals?: Signals
}
export interface MemberStatusChanged {
  type: 'member_status_changed'
  member: Id
  status: MemberStatus
  at: TimeInput
}
export interface SponsorChanged {
  type: 'sponsor_changed'
  member: Id
  sponsor: Id
  reason: string
  at: TimeInput
}
export interface MemberHoldSet {
  type: 'member_hold_set'
  member: Id
  on: boolean
  reason: string
  at: TimeInput
}
export interface PlanActivated {
  type: 'plan_activated'
  /** A plan spec, or a validated `Plan` (converted through its `toJSON`). */
  plan: PlanSpec | Plan
  effective_from: TimeInput
}
export interface CurrencyRegistered {
  type: 'currency_registered'
  /** 3–12 upper-case ASCII letters or digits. */
  currency: string
  /** 0–18. */
  minor_units: number
}
export interface SaleRecorded {
  type: 'sale_recorded'
  sale: Id
  buyer: Id
  amount: DecimalString
  currency: string
  at: TimeInput
  /** A category path (`furniture/office`): the nearest override applies. */
  category?: string
  signals?: Signals
  /** Pay the commissions in another currency at the host's rate. */
  fx?: Fx
}
/** Paying a sale's commissions in another currency: the base is `round(amount × rate)` in `currency`. A rate ≤ 0 is `invalid_amount`; an unknown currency, or the sale's own, `invalid_currency`. */
export interface Fx {
  currency: string
  /** Units of `currency` per unit of the sale's currency, a positive decimal string. */
  rate: DecimalString
}
export interface RefundRecorded {
  type: 'refund_recorded'
  refund: Id
  sale: Id
  amount: DecimalString
  at: TimeInput
}
export interface PayoutProfileSet {
  type: 'payout_profile_set'
  member: Id
  method: string
  verified: boolean
}
export interface PayoutsPrepared {
  type: 'payouts_prepared'
  batch: Id
  as_of: TimeInput
  policy: PayoutPolicy
}
export interface PayoutSettled {
  type: 'payout_settled'
  payout: Id
  at: TimeInput
  reference: string
}
export interface PayoutFailed {
  type: 'payout_failed'
  payout: Id
  reason: string
  at: TimeInput
}

// Rewards (milestones and team challenges).

export type MilestoneMetric =
  | 'qualified_referrals'
  | 'direct_referrals'
  | 'downline_size'
  | 'own_sales'
  | 'net_earnings'

export type Reward = { bonus: { amount: DecimalString; currency: string } } | { perk: string }

export interface MilestoneSpec {
  id: Id
  name: string
  /** Default `qualified_referrals`. */
  metric?: MilestoneMetric
  /** Only (and required) for `net_earnings`. */
  currency?: string
  /** A whole count (number or string), or an amount string for `net_earnings`. */
  threshold: number | DecimalString
  rewards: Reward[]
}
export interface MilestonesSet {
  type: 'milestones_set'
  at: TimeInput
  /** Default `purchased`: a referral counts once it has a sale not fully refunded. */
  counts?: 'purchased' | 'joined'
  /** Default `keep`. */
  on_refund?: 'keep' | 'clawback'
  /** Absent: the first programme's five milestones. */
  milestones?: MilestoneSpec[]
}
export type ChallengeMetric = 'sales_volume' | 'qualified_referrals' | 'direct_referrals'
export interface ChallengeCreated {
  type: 'challenge_created'
  id: Id
  name: string
  team: { leader: Id; depth: number }
  metric: ChallengeMetric
  from: TimeInput
  to: TimeInput
  /** An amount in the reward currency for `sales_volume`, else a whole count. */
  target: number | DecimalString
  reward: { amount: DecimalString; currency: string }
  split: 'leader' | 'equal' | 'pro_rata'
}
export interface ChallengeClosed {
  type: 'challenge_closed'
  id: Id
  at: TimeInput
}

// Fraud screening.

export type ScreeningAction = 'allow' | 'review' | 'hold' | 'block'

/** A rule: the first rule (in order) whose condition matches a line decides it. */
export interface ScreeningRule {
  id: Id
  /** `{ check: 'self_referral' | 'email_domain' | 'velocity' | 'timing' | 'ring' | 'ladder' | 'high_value' | 'refund_rate', ...parameters }` */
  when: { check: string; [parameter: string]: unknown }
  action: ScreeningAction
  reason?: string
}
export interface ScreeningRulesSet {
  type: 'screening_rules_set'
  id: Id
  /** `moderate` when neither `preset` nor `rules` is given; not both. */
  preset?: 'relaxed' | 'moderate' | 'strict'
  /** `[]` switches screening off. */
  rules?: ScreeningRule[]
  /** Disposable or blocked e-mail domains. */
  blocklist?: string[]
  at: TimeInput
}
export interface FraudReviewResolved {
  type: 'fraud_review_resolved'
  /** The sale whose lines screening held. */
  review: Id
  decision: 'release' | 'reverse'
  at: TimeInput
  note?: string
}

/** Every event, discriminated on `type`. */
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
  | ScreeningRulesSet
  | FraudReviewResolved

export type EventType = Event['type']

// ---- records ---------------------------------------------------------------------

export type UnpaidReason =
  | 'no_upline'
  | 'ineligible'
  | 'capped'
  | 'zero'
  | 'below_min_sale'
  | 'outside_window'
  | 'fraud_blocked'

export interface Line {
  earner: Id
  level: number
  rate: DecimalString
  base: DecimalString
  /** At the currency's scale: `"20.00"`, `"200"` (JPY), `"2.469"` (KWD). */
  amount: DecimalString
  /** Credited as held (the earner was on hold). */
  held: boolean
}

export interface Unpaid {
  level: number
  reason: UnpaidReason
}

export interface Distribution {
  sale: Id
  plan: string
  plan_version: number
  currency: string
  amount: DecimalString
  lines: Line[]
  retained: DecimalString
  unpaid: Unpaid[]
  /** Milestones this sale made members reach (absent when none). */
  awards?: Award[]
  /** What fraud screening decided (absent when no rule matched). */
  screening?: ScreeningDecision
  /** The conversion of a sale paid in another currency (absent otherwise): lines, their base and `retained` are in `fx.currency`. */
  fx?: Conversion
}

/** How a sale paid in another currency was converted. */
export interface Conversion {
  currency: string
  rate: DecimalString
  /** `round(amount × rate)` in `currency`. */
  base: DecimalString
}

/** One rule that matched lines of a sale, with its evidence. */
export interface ScreeningHit {
  rule: Id
  action: ScreeningAction
  reason: string
  levels: number[]
  earners: Id[]
  amount: DecimalString
  /** Signal kinds shared or matched (`device`, `email`, `ip+user_agent`, …). */
  matched: string[]
  /** The buyer first, then the members involved (earner, ring, ladder). */
  members: Id[]
  detail: string
}
export interface ScreeningDecision {
  /** The id of the rule set in force. */
  rules: Id
  hits: ScreeningHit[]
}

export interface Money {
  amount: DecimalString
  currency: string
}

/** A milestone reached: recorded once per member and milestone. */
export interface Award {
  member: Id
  milestone: Id
  name: string
  metric: MilestoneMetric
  threshold: DecimalString
  value: DecimalString
  bonuses: Money[]
  /** For the host to grant. */
  perks: string[]
}

/** A refund that took a member back below a milestone. */
export interface MilestoneReversal {
  member: Id
  milestone: Id
  value: DecimalString
  applied: 'keep' | 'clawback'
  reversed: Money[]
}

export interface ChallengeShare {
  member: Id
  progress: DecimalString
  amount: DecimalString
}

export interface ChallengeResult {
  id: Id
  total: DecimalString
  target: DecimalString
  met: boolean
  currency: string
  shares: ChallengeShare[]
}

export interface Reversal {
  earner: Id
  level: number
  amount: DecimalString
}

export interface PayoutItem {
  payout: Id
  earner: Id
  currency: string
  gross: DecimalString
  fee: DecimalString
  net: DecimalString
  method: string
}

/** Why an account got no item: the first that applies, in this order. */
export type SkipReason = 'negative_balance' | 'on_hold' | 'below_minimum' | 'no_verified_profile' | 'below_fee'

export interface Skipped {
  earner: Id
  currency: string
  reason: SkipReason
}

export interface Batch {
  batch: Id
  as_of: IsoTime
  items: PayoutItem[]
  skipped: Skipped[]
}

export type EntryKind =
  | 'commission'
  | 'reversal'
  | 'reversal_held'
  | 'bonus'
  | 'bonus_reversal'
  | 'adjustment'
  | 'hold'
  | 'release'
  | 'payout_reserve'
  | 'payout_settle'
  | 'payout_fail'

export interface EntryRecord {
  seq: number
  at: IsoTime
  earner: Id
  currency: string
  kind: EntryKind
  amount: DecimalString
  available_at: IsoTime
  reference: Id
}

/** What every applied event returns. */
export interface AppliedBase {
  /** The event's sequence number in the audit chain (from 1). */
  seq: number
  /** The audit hash after this event, 64 hex digits. */
  hash: string
  /** Present (true) when the event was an idempotent retry. */
  replayed?: true
  /** The ledger entries the event wrote (empty for retries). */
  entries: EntryRecord[]
}

/**
 * The records of an applied event. Which optional part is present depends on
 * the event: `distribution` for `sale_recorded`; `refund`, `sale`,
 * `reversals` and `refunded_total` for `refund_recorded`; `batch` for
 * `payouts_prepared`; none for the others.
 */
export interface Applied extends AppliedBase {
  /** Milestones a join made members reach. */
  awards?: Award[]
  /** A closed challenge's result. */
  challenge?: ChallengeResult
  /** On a refund: milestones it took members back below. */
  milestone_reversals?: MilestoneReversal[]
  distribution?: Distribution
  refund?: Id
  sale?: Id
  reversals?: Reversal[]
  refunded_total?: DecimalString
  batch?: Batch
}

export interface SaleApplied extends AppliedBase {
  distribution: Distribution
}
export interface RefundApplied extends AppliedBase {
  refund: Id
  sale: Id
  reversals: Reversal[]
  refunded_total: DecimalString
}
export interface PayoutsApplied extends AppliedBase {
  batch: Batch
}

/** The records `apply` returns for an event of type `T`. */
export type AppliedFor<T extends EventType> = T extends 'sale_recorded'
  ? SaleApplied
  : T extends 'refund_recorded'
    ? RefundApplied
    : T extends 'payouts_prepared'
      ? PayoutsApplied
      : AppliedBase

export interface Balances {
  pending: DecimalString
  available: DecimalString
  held: DecimalString
  reserved: DecimalString
  paid: DecimalString
}

export interface TaxLine {
  earner: Id
  currency: string
  earned: DecimalString
  paid: DecimalString
  reaches_threshold: boolean
}

export interface Head {
  seq: number
  /** 64 hex digits (all zeros for an empty chain). */
  hash: string
}

export interface LeaderboardEntry {
  rank: number
  member: Id
  /** Money for earnings and sales volume; a whole count otherwise. */
  value: DecimalString
  /** When the member last changed its value in the window (ties go to the earlier). */
  reached_at: IsoTime
}
export interface Leaderboard {
  metric: 'qualified_referrals' | 'net_earnings' | 'sales_volume' | 'downline_growth'
  from: IsoTime
  to: IsoTime
  currency?: string
  entries: LeaderboardEntry[]
}
export interface ChallengeStatus {
  id: Id
  name: string
  leader: Id
  depth: number
  metric: ChallengeMetric
  from: IsoTime
  to: IsoTime
  target: DecimalString
  total: DecimalString
  met: boolean
  state: 'open' | 'closed'
  members: { member: Id; progress: DecimalString }[]
  result?: ChallengeResult
}
export interface MemberMetrics {
  member: Id
  status: MemberStatus
  joined_at: IsoTime
  depth: number
  direct_referrals: number
  active_direct_referrals: number
  qualified_referrals: number
  downline_size: number
  downline_depth: number
  /** Members per level below (index 0: direct referrals). */
  levels: number[]
  /** The `[from, to)` of each earnings row's `period`. */
  window: [IsoTime, IsoTime]
  earnings: { currency: string; lifetime: DecimalString; period: DecimalString }[]
}
export interface NetworkMetrics {
  members: number
  by_status: { active: number; inactive: number; terminated: number }
  on_hold: number
  roots: number
  depth_histogram: number[]
  max_depth: number
  mean_branching_factor: number
}
export interface Cohort {
  start: IsoTime
  size: number
  referrals: number
  /** A statistic (a float), not money. */
  k: number
}
export interface ViralReport {
  window_days: number
  cohort_days: number
  cohorts: Cohort[]
  overall: Cohort
  cycle_samples: number
  cycle_time_ms: number
  cycle_time_days: number
}
export interface Projection {
  k: number
  cycle_days: number
  seed: number
  points: { cycle: number; day: number; new_members: number; total: number }[]
  closed_form_total: number
  /** For K < 1: seed / (1 − K). */
  limit?: number
}

/** A subtree as nested JSON (see `Engine.exportJson`). */
export type SubtreeJson = { [key: string]: unknown }

// ---- classes ---------------------------------------------------------------------

/**
 * An `apache-arrow` Table (structurally: this package does not depend on
 * `apache-arrow`'s types).
 */
export interface ArrowTable {
  readonly schema: unknown
  readonly batches: unknown[]
  readonly numRows: number
}
/** Arrow input: IPC bytes or an `apache-arrow` Table. */
export type ArrowInput = Uint8Array | ArrowTable

/** Options of `whatIf`. */
export interface WhatIfOptions {
  /** How many of the largest gains and losses to report (default 10). */
  top?: number
  /** The progress callback runs every `every` sales (default 100,000). */
  every?: number
  /** Called with the sales done and the sales in the period; `false` stops. */
  progress?: (done: number, total: number) => boolean | void
  /** `'arrow'` for an `apache-arrow` Table, `'ipc'` (default) for bytes. */
  table?: 'arrow' | 'ipc'
}

/** Both sides of a comparison, as decimal strings. */
export interface Compared {
  currency: string
  in_force: DecimalString
  candidate: DecimalString
  difference: DecimalString
}

/** What `whatIf` found, beside the per-earner table. */
export interface WhatIfSummary {
  sales: number
  sales_changed: number
  sales_in_period: number
  complete: boolean
  levels: Array<Compared & { level: number }>
  gains: Array<Compared & { earner: Id }>
  losses: Array<Compared & { earner: Id }>
}

/**
 * The engine. All methods are synchronous except `applyBatchAsync`,
 * `applyBatchJsonAsync` and `verifyAsync`, which run on a libuv worker
 * thread (the engine is locked while it runs; other calls on the same engine
 * wait for it).
 */
export declare class Engine {
  /**
   * Without options: an empty in-memory engine with the default plan
   * (20/15/10/8/5/3/2%) in force. With `{ path }`: an engine backed by the
   * SQLite file at `path` (created if missing; when reopened, its snapshot and
   * later events are replayed and checked against their stored hashes:
   * `tampered` or `storage` is thrown otherwise). Every applied event is
   * stored before the call returns.
   */
  constructor(options?: EngineOptions | null)
  /** Restores an engine from `snapshot()` text. */
  static fromSnapshot(text: string): Engine
  /** Applies one event; throws an `UplineError` if it is refused (nothing changes then). */
  apply<E extends Event>(event: E): AppliedFor<E['type']>
  /**
   * Applies up to 100,000 events in order, each on its own: a refused event
   * is reported in its slot as `{ error: { code, message, field } }` and does
   * not stop the others. More than the limit throws `limit_exceeded`.
   */
  applyBatch(events: Event[], options?: { records?: true } | null): Array<Applied | BatchError>
  /** With `{ records: false }`: only `{ seq, hash }` per applied slot (no per-line objects built). */
  applyBatch(events: Event[], options: { records: false }): Array<BatchHead | BatchError>
  applyBatch(events: Event[], options: BatchOptions): Array<Applied | BatchHead | BatchError>
  /** `applyBatch` off the event loop; resolves to the same results. */
  applyBatchAsync(events: Event[], options?: { records?: true } | null): Promise<Array<Applied | BatchError>>
  applyBatchAsync(events: Event[], options: { records: false }): Promise<Array<BatchHead | BatchError>>
  applyBatchAsync(events: Event[], options: BatchOptions): Promise<Array<Applied | BatchHead | BatchError>>
  /**
   * The fastest batch path: the batch goes in as one JSON string and the
   * results come back as one JSON string, so no JS object is read or built
   * per event by the binding. Build `text` with `JSON.stringify(events)`
   * (amounts as decimal strings, times as RFC 3339 strings: a `Date`
   * stringifies to one) and read the result with `JSON.parse`.
   *
   * `text` is a JSON array of events; the result is a JSON array with one
   * slot per event, in order, in the shapes `applyBatch` returns: `Applied`
   * (or `BatchHead` with `{ records: false }`), or `BatchError` for a
   * refused or undecodable event, which does not stop the others. A JSON
   * number where money is expected is refused with `invalid_amount`.
   * Throws `malformed` when `text` is not a string holding a JSON array, and
   * `limit_exceeded` for more than 100,000 events or more than 256 MiB of
   * text (nothing is applied then).
   */
  applyBatchJson(text: string, options?: BatchOptions | null): string
  /**
   * `applyBatchJson` off the event loop: parsing, applying and serializing
   * run on a libuv worker thread (the engine is locked meanwhile). Rejects
   * with the same errors `applyBatchJson` throws.
   */
  applyBatchJsonAsync(text: string, options?: BatchOptions | null): Promise<string>
  /**
   * Applies a table of joins given as Arrow columns: an `apache-arrow`
   * Table, or Arrow IPC bytes (stream or file format). Columns, and no
   * others: `member`, `sponsor` (strings, plain or dictionary-encoded;
   * `sponsor` null for a root), `at` (a timestamp with a time zone, any
   * unit, or RFC 3339 strings). Each row gets the result, error and audit
   * hash `apply` would give it. Returns the same kind as the input (a Table
   * for a Table, IPC stream bytes for bytes) with one row per input row:
   * `seq` (uint64), `hash` (32 bytes), `replayed`, `error_code`,
   * `error_message` (null when applied; a refused row fails alone). Throws,
   * with nothing applied and `field` naming the column: `malformed` (a
   * missing or unknown column, a column of the wrong type, nulls in a
   * required column, bytes that are not Arrow), `invalid_time` (a
   * timestamp without a zone), `limit_exceeded` (more than 100,000 rows).
   * A Table is converted with `apache-arrow`'s `tableToIPC` / `tableFromIPC`.
   */
  applyJoins<T extends ArrowInput>(table: T): T extends Uint8Array ? Uint8Array : ArrowTable
  /**
   * Applies a table of sales: `sale`, `buyer`, `currency` (strings),
   * `amount` (decimal128 or decimal strings; a float or integer column is
   * `invalid_amount`), `at` (as in `applyJoins`), optionally `category`.
   * With `{ lines: true }`, returns `{ results, lines }`, the lines one row
   * per paid level: `sale`, `level`, `earner`, `amount`, `currency`, `rate`.
   */
  applySales<T extends ArrowInput>(table: T, options?: { lines?: false } | null): T extends Uint8Array ? Uint8Array : ArrowTable
  applySales<T extends ArrowInput>(
    table: T,
    options: { lines: true },
  ): { results: T extends Uint8Array ? Uint8Array : ArrowTable; lines: T extends Uint8Array ? Uint8Array : ArrowTable }
  /** Applies a table of refunds: `refund`, `sale`, `amount`, `at`. */
  applyRefunds<T extends ArrowInput>(table: T): T extends Uint8Array ? Uint8Array : ArrowTable
  /**
   * Replays the sales recorded in `[from, to)` under the candidate `plan`,
   * calculation only: nothing in the engine changes. The in-force side is
   * what each sale's recorded distribution paid; the candidate side is the
   * candidate's calculation on today's network. Returns `{ table, summary }`:
   * `table` one row per earner and currency (`earner`, `currency`,
   * `in_force`, `candidate`, `difference`, decimal128) as IPC bytes, or an
   * `apache-arrow` Table with `{ table: 'arrow' }`; `summary` the counts,
   * per-level totals and the `top` largest gains and losses (amounts as
   * decimal strings). `progress(done, total)` runs every `every` sales
   * (default 100,000); returning `false` stops the run (`complete: false`);
   * a throw stops it and is rethrown. It must not call this engine.
   */
  whatIf(
    plan: PlanSpec | Plan,
    from: TimeInput,
    to: TimeInput,
    options?: WhatIfOptions | null,
  ): { table: Uint8Array | ArrowTable; summary: WhatIfSummary }
  /** The native form of `applyJoins`: IPC bytes in and out. */
  applyJoinsIpc(table: Uint8Array): Uint8Array
  /** The native form of `applySales`: `[results]` or `[results, lines]`. */
  applySalesIpc(table: Uint8Array, lines: boolean): Uint8Array[]
  /** The native form of `applyRefunds`. */
  applyRefundsIpc(table: Uint8Array): Uint8Array
  /** The native form of `whatIf`: the table as IPC bytes. */
  whatIfIpc(
    plan: PlanSpec | Plan,
    from: TimeInput,
    to: TimeInput,
    options?: Omit<WhatIfOptions, 'table'> | null,
  ): { table: Uint8Array; summary: WhatIfSummary }
  /** `member`'s balances in `currency` as of `asOf`. */
  balances(member: Id, currency: string, asOf: TimeInput): Balances
  /** Up to `levels` ancestors of `member`, nearest first. */
  upline(member: Id, levels: number): Id[]
  /** Direct referrals of `member`, in join order. */
  directReferrals(member: Id): Id[]
  /** Members below `member` at any depth. */
  downlineSize(member: Id): number
  /** Members below `member` per level (index 0: direct referrals). */
  downlineLevels(member: Id, maxLevels: number): number[]
  /** Number of ancestors of `member`. */
  depth(member: Id): number
  /** The subtree below `member` (default 64 levels) in Graphviz DOT. */
  exportDot(member: Id, maxDepth?: number | null): string
  /** The subtree below `member` (default 64 levels) as nested JSON. */
  exportJson(member: Id, maxDepth?: number | null): SubtreeJson
  /** `member` first, then the members sharing its identity (payment fingerprint, device, e-mail, IP + user agent), in join order. */
  identityCluster(member: Id): Id[]
  /** Referral rings over the whole graph: identity clusters that sponsor themselves through others. */
  screeningRings(): Id[][]
  /** The top `limit` (default 100) members by `metric` over `[from, to)`; `net_earnings` and `sales_volume` need `currency`. */
  leaderboard(
    metric: Leaderboard['metric'],
    from: TimeInput,
    to: TimeInput,
    limit?: number | null,
    currency?: string | null,
  ): Leaderboard
  /** A team challenge's progress per member and in total as of `asOf`. */
  challengeStatus(id: Id, asOf: TimeInput): ChallengeStatus
  /** The milestone awards `member` holds. */
  awards(member: Id): Award[]
  /** Growth metrics of one member; earnings also over `[from, to)` when given. */
  memberMetrics(member: Id, from?: TimeInput | null, to?: TimeInput | null): MemberMetrics
  /** Members by status, depth histogram, max depth, mean branching factor. */
  networkMetrics(): NetworkMetrics
  /** K per join cohort and overall, and the viral cycle time (defaults: 30-day window and cohorts). */
  viralCoefficient(
    windowDays?: number | null,
    cohortDays?: number | null,
    from?: TimeInput | null,
    to?: TimeInput | null,
  ): ViralReport
  /** Expected network size over `cycles` cycles from the measured K and cycle time. */
  projection(cycles: number, windowDays?: number | null, seed?: number | null): Projection
  /** `member`'s subtree (bounded; default 10,000 nodes) with lifetime earnings per currency on every node. */
  exportSubtreeJson(member: Id, maxDepth: number, maxNodes?: number | null): SubtreeJson
  /** The same subtree in Graphviz DOT, earnings in the node labels. */
  exportSubtreeDot(member: Id, maxDepth: number, maxNodes?: number | null): string
  /** Applies a `payouts_prepared` event (`policy` defaults to `{}`). */
  preparePayouts(batch: Id, asOf: TimeInput, policy?: PayoutPolicy | null): PayoutsApplied
  /** Earned and paid per earner and currency in calendar `year` (UTC). */
  taxSummary(year: number, thresholds?: Record<string, DecimalString> | null): TaxLine[]
  /** The audit chain's head. */
  auditHead(): Head
  /** The distribution recorded for `sale`, or `null`. */
  distributionOf(sale: Id): Distribution | null
  /** The whole state as JSON text. */
  snapshot(): string
  /**
   * Verifies the store's whole chain by replaying every stored event;
   * returns the head, or throws `tampered` (naming the first bad event) or
   * `storage` (no store, or the store failed).
   */
  verify(): Head
  /** `verify` off the event loop. */
  verifyAsync(): Promise<Head>
  /** Saves a snapshot in the store, so a later open replays only what follows. */
  saveSnapshot(): void
  /**
   * Streams the stored events `fromSeq..=toSeq` (default: all) with their
   * sequence numbers, audit hashes and records, as JSON Lines (`format:
   * 'jsonl'`, the default: a header, one `{ seq, hash, event, records }`
   * object a line, a trailer with the head) or CSV (`'csv'`:
   * `seq,hash,type,event,records` with `prev` and `head` rows), to a file
   * path (created or truncated) or a writable stream (each chunk, whole
   * lines, is passed to `write` as a `Buffer`, a `Uint8Array`). Returns the head of the
   * exported range. The records are regenerated by replaying the stored
   * events, so the engine needs a store: `storage` without one.
   * `tools/verify_export.py` re-verifies a JSON Lines export on its own.
   */
  exportLedger(
    pathOrStream: string | { write(chunk: Uint8Array): unknown },
    options?: { format?: 'jsonl' | 'csv'; fromSeq?: number | null; toSeq?: number | null } | null,
  ): Head
  /**
   * Up to `limit` (at most 100,000) stored events from `fromSeq` on, oldest
   * first, as JSON text: `[{ "seq": n, "hash": "64 hex", "event": {...} }]`
   * (each event as stored). Throws `storage` without a store.
   */
  storedEventsJson(fromSeq: number, limit: number): string
}

export interface BatchOptions {
  /** Default true: full records per slot; false: only `{ seq, hash }`. */
  records?: boolean | null
}

/** A slot of `applyBatch(events, { records: false })`. */
export interface BatchHead {
  seq: number
  hash: string
  replayed?: true
}

export interface EngineOptions {
  /** A SQLite file (the embedded store). */
  path?: string | null
  /**
   * A plan to put in force from the start of time instead of the default
   * (reopening a store that already has it in force is an idempotent retry).
   */
  plan?: PlanSpec | Plan | null
}

export interface BacktestRule {
  rule: Id
  rules: Id
  action: ScreeningAction
  matches: number
  lines: number
  held: Record<string, DecimalString>
  blocked: Record<string, DecimalString>
  reviewed: Record<string, DecimalString>
  earners: number
}
export interface BacktestTotals {
  sales_matched: number
  held: Record<string, DecimalString>
  blocked: Record<string, DecimalString>
  reviewed: Record<string, DecimalString>
  earners: number
}
export interface BacktestReport {
  candidate: Id
  events: number
  sales: number
  rules: BacktestRule[]
  in_force: BacktestRule[]
  candidate_totals: BacktestTotals
  in_force_totals: BacktestTotals
  sales_changed: number
  held_difference: Record<string, DecimalString>
  blocked_difference: Record<string, DecimalString>
  /** History events the candidate world refused (e.g. a review of a sale it did not hold). */
  refused: number
}

/**
 * Replays `history` (events, or their JSON text) under the `candidate`
 * screening rules and reports per rule what they would hold, block and
 * flag, against the rules in force. Changes nothing.
 */
export declare function backtest(
  history: Event[] | string,
  candidate: Omit<ScreeningRulesSet, 'type'> & { type?: 'screening_rules_set' },
): BacktestReport
/** The rules of a screening preset, or `null` for an unknown name. */
export declare function screeningPreset(name: string): ScreeningRule[] | null

/** A validated plan. */
export declare class Plan {
  /** Parses and validates a plan from JSON text or a plain object; throws `invalid_plan`, `invalid_amount`, `malformed`, …. */
  static fromJSON(plan: string | PlanSpec): Plan
  readonly id: string
  readonly version: number
  /** Number of levels of the default table. */
  readonly levelCount: number
  /** The plan in wire form. */
  toJSON(): PlanSpec
}
