/**
 * Upline for Node: an embeddable engine for multi-level referral commissions.
 *
 * The package's `types`: the wire types come from `generated.d.ts`
 * (generated from the Rust types); napi's own declarations go to `native.d.ts`. Events and records are
 * plain objects with the same snake_case field names as the Rust serde form,
 * so the shared JSON test vectors drive every language unchanged.
 *
 * Money and rates are decimal strings in and out (`"10.50"`); a JS `number`
 * or `bigint` for money is refused with code `invalid_amount`. Times are
 * `Date`s or RFC 3339 strings with an offset in, ISO strings out.
 */


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
  | 'conflict'
  | 'read_only'

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

// ---- wire types ------------------------------------------------------------------
//
// Every event, record and query result is generated from the Rust types into
// `generated.d.ts` (with the Rust doc comments): regenerate with
// `cargo run -p upline --features schema --example schema_gen`. Below are only
// the names this file adds on top of them.

export * from './generated'
import type {
  Action,
  Applied,
  Batch,
  BonusPaid,
  ChallengeStatus,
  Decimal,
  Decision,
  Distribution,
  Event,
  Head,
  Hit,
  Leaderboard,
  MemberMetrics,
  Metric,
  NetworkMetrics,
  PayoutPolicy,
  PlanSpec,
  Projection,
  Report,
  RewardSpec,
  RuleReport,
  ScreeningRulesSet,
  SubtreeExport,
  TaxLine,
  TimeInput,
  Totals,
  TreeNode,
  ViralReport,
  Award,
  Balances,
  EngineOptions,
  Statement,
} from './generated'

/** A decimal string (the generated `Decimal`). */
export type DecimalString = Decimal
/** A host id: 1–128 bytes of UTF-8, no control characters. */
export type Id = string

export type EventType = Event['type']

/** What a screening rule does (the generated `Action`). */
export type ScreeningAction = Action
/** One screening rule (`rules` of a `screening_rules_set`, a preset's rules). */
export interface ScreeningRule {
  id: string
  when: { check: string; [key: string]: unknown }
  action: ScreeningAction
  reason?: string
}
/** A screening hit (the generated `Hit`). */
export type ScreeningHit = Hit
/** A screening decision (the generated `Decision`). */
export type ScreeningDecision = Decision
/** A bonus amount (the generated `BonusPaid`). */
export type Money = BonusPaid
/** A milestone reward (the generated `RewardSpec`). */
export type Reward = RewardSpec
/** A milestone metric (the generated `Metric`). */
export type MilestoneMetric = Metric
/** `exportJson`'s tree (the generated `TreeNode`). */
export type SubtreeJson = TreeNode
/** A backtest rule line (the generated `RuleReport`). */
export type BacktestRule = RuleReport
/** Backtest totals (the generated `Totals`). */
export type BacktestTotals = Totals

/** What every applied event returns. */
export type AppliedBase = Pick<Applied, 'seq' | 'hash' | 'replayed' | 'entries'>
/** `apply` of a `sale_recorded`. */
export type SaleApplied = Applied & { distribution: Distribution }
/** `apply` of a `refund_recorded`. */
export type RefundApplied = Applied &
  Required<Pick<Applied, 'refund' | 'sale' | 'reversals' | 'refunded_total'>>
/** `apply` of a `payouts_prepared`. */
export type PayoutsApplied = Applied & { batch: Batch }

/** The records `apply` returns for an event of type `T`. */
export type AppliedFor<T extends EventType> = T extends 'sale_recorded'
  ? SaleApplied
  : T extends 'refund_recorded'
    ? RefundApplied
    : T extends 'payouts_prepared'
      ? PayoutsApplied
      : Applied

/** Options of `Engine.statement`; every one may be left out or `null`. */
export interface StatementOptions {
  /** Only this currency. */
  currency?: string | null
  /** Only entries dated at or after this instant. */
  from?: TimeInput | null
  /** Only entries dated before this instant. */
  to?: TimeInput | null
  /** States as of this instant; entries dated later are left out. */
  asOf?: TimeInput | null
  /** The `next` cursor of the previous page. */
  after?: string | null
  /** Entries on the page: 1 to 10000, default 100. */
  limit?: number | null
}

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
  /** Rows of a sales table left out (0 for the engine's own sales). */
  sales_refused: number
  /** The first 100 of those rows, with the error each would get. */
  refused: Array<{ row: number; code: ErrorCode; field: string | null; message: string }>
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
  /**
   * Restores an engine from `snapshot()` text. Throws `storage` naming the
   * format for a snapshot of an older format this build no longer restores
   * (1 to 3: open the store instead, which replays its events), `malformed`
   * for other text.
   */
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
   * With books shared by other writers, the applied rows are stored in one
   * append, as `applyBatch`'s: a call that meets another writer's append
   * catches up and applies its rows again (a sale another worker stored
   * first comes back `replayed`); `conflict` when other writers kept
   * appending first (nothing stored), `read_only` at a follower.
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
  /**
   * What-if over a sales table (an `apache-arrow` Table or IPC bytes, the
   * columns of `applySales`, any number of rows) instead of the engine's
   * own sales: both sides are calculated on today's network, the in-force
   * side under the plan in force at each sale's `at` (no fraud screening).
   * `summary.sales_in_period` is the table's row count. A row the engine
   * would refuse as a sale (unknown buyer or currency, amount not positive
   * or with too many decimals, a sale before its buyer joined, an invalid
   * id) is left out of both sides: `sales_refused` counts them and
   * `refused` lists the first 100 (`{ row, code, field, message }`, `row`
   * from 0); a sale id the engine already has is no error here. A table
   * that does not fit throws as `applySales` does, `field` naming the
   * column (`malformed`, `invalid_amount` for a float money column,
   * `invalid_time` for a timestamp without a zone), with no row limit.
   * `progress` counts table rows, refused ones included. The result table
   * is of the input's kind unless `options.table` says otherwise.
   */
  whatIf(
    plan: PlanSpec | Plan,
    sales: ArrowInput,
    options?: WhatIfOptions | null,
  ): { table: Uint8Array | ArrowTable; summary: WhatIfSummary }
  /** The native form of `applyJoins`: IPC bytes in and out. */
  applyJoinsIpc(table: Uint8Array): Uint8Array
  /** The native form of `applySales`: `[results]` or `[results, lines]`. */
  applySalesIpc(table: Uint8Array, lines: boolean): Uint8Array[]
  /** The native form of `applyRefunds`. */
  applyRefundsIpc(table: Uint8Array): Uint8Array
  /** The native form of `whatIf` over a sales table: IPC bytes in and out. */
  whatIfSalesIpc(
    plan: PlanSpec | Plan,
    sales: Uint8Array,
    options?: Omit<WhatIfOptions, 'table'> | null,
  ): { table: Uint8Array; summary: WhatIfSummary }
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
  exportSubtreeJson(member: Id, maxDepth: number, maxNodes?: number | null): SubtreeExport
  /** The same subtree in Graphviz DOT, earnings in the node labels. */
  exportSubtreeDot(member: Id, maxDepth: number, maxNodes?: number | null): string
  /** Applies a `payouts_prepared` event (`policy` defaults to `{}`). */
  preparePayouts(batch: Id, asOf: TimeInput, policy?: PayoutPolicy | null): PayoutsApplied
  /** Earned and paid per earner and currency in calendar `year` (UTC). */
  taxSummary(year: number, thresholds?: Record<string, DecimalString> | null): TaxLine[]
  /** `taxSummary` as CSV: the header `earner,currency,earned,paid,reaches_threshold`, then one row per earner and currency. */
  taxSummaryCsv(year: number, thresholds?: Record<string, DecimalString> | null): string
  /**
   * One page of `member`'s statement, oldest first. Errors: `unknown_member`,
   * `malformed` (a bad cursor), `limit_exceeded` (limit above 10000 or 0),
   * `invalid_time` (`from` after `to`, or a bad time).
   */
  statement(member: Id, options?: StatementOptions | null): Statement
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
  /**
   * Applies what other processes appended to the store since this engine's
   * head, each event checked against its stored hash; returns the new head.
   */
  refresh(): Head
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

/**
 * Replays `history` (events, or their JSON text) under the `candidate`
 * screening rules and reports per rule what they would hold, block and
 * flag, against the rules in force. Changes nothing.
 */
/** Options of the module's `whatIf` (no engine). */
export interface WhatIfTablesOptions extends WhatIfOptions {
  /** The members: `member`, `sponsor` (null for a root), `at`, as in `applyJoins`. */
  members: ArrowInput
  /** The sales, as in `Engine.whatIf` over a sales table. */
  sales: ArrowInput
  /** The plan in force (default: the default plan, 20/15/10/8/5/3/2%). */
  current?: PlanSpec | Plan | null
}

/**
 * What-if with no engine: what `sales` would pay under the candidate `plan`
 * against `current`, on the network in `members` (sponsors before the
 * members they sponsor, any number of rows). A throwaway in-memory engine
 * is built from `members` with `current` in force from the start of time,
 * then `engine.whatIf(plan, sales, options)` runs on it (only the built-in
 * currencies are known). Throws with `field` naming the table and column
 * (`members.sponsor`, `sales.amount`): the column errors of `applyJoins`
 * and of `whatIf`, and a members row the engine refuses (unknown sponsor,
 * duplicate member) with its own code and the row in the message
 * (`members row 3: ...`); `malformed` (`field` `members` or `sales`) for a
 * value that is not an Arrow Table or IPC bytes; `invalid_plan` for an
 * invalid `plan` or `current` (`field` `current.plan...`). The result
 * table is of the sales input's kind unless `options.table` says otherwise.
 */
export declare function whatIf(
  plan: PlanSpec | Plan,
  options: WhatIfTablesOptions,
): { table: Uint8Array | ArrowTable; summary: WhatIfSummary }
/** The native form of the module's `whatIf`: IPC bytes in and out. */
export declare function whatIfTablesIpc(
  plan: PlanSpec | Plan,
  members: Uint8Array,
  sales: Uint8Array,
  options?: (Omit<WhatIfOptions, 'table'> & { current?: PlanSpec | Plan | null }) | null,
): { table: Uint8Array; summary: WhatIfSummary }
export declare function backtest(
  history: Event[] | string,
  candidate: Omit<ScreeningRulesSet, 'type'> & { type?: 'screening_rules_set' },
): Report
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
