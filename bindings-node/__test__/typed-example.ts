// A small typed program: `tsc --noEmit --strict` must accept it.
import { Engine, Plan, backtest, screeningPreset } from '..'
declare const console: { log(...args: unknown[]): void }
import type { BacktestReport, Leaderboard, ScreeningHit, ScreeningRule, Applied, BatchError, BatchHead, Event, UplineError, SaleApplied, Balances, Head } from '..'

const engine = new Engine()
const stored = new Engine({ path: '/tmp/x.sqlite' })
void stored.verifyAsync().then((h: Head) => h.hash)
const joins: Event[] = [
  { type: 'member_joined', member: 'ann', sponsor: null, at: new Date('2026-01-01T00:00:00Z') },
  { type: 'member_joined', member: 'bob', sponsor: 'ann', at: '2026-01-02T00:00:00Z' },
]
for (const e of joins) engine.apply(e)

const sale: SaleApplied = engine.apply({
  type: 'sale_recorded',
  sale: 's1',
  buyer: 'bob',
  amount: '100.00',
  currency: 'USD',
  at: '2026-02-01T12:00:00Z',
})
const first: string = sale.distribution.lines[0].amount
const retained: string = sale.distribution.retained

const plan = Plan.fromJSON({ id: 'launch', version: 1, levels: [{ rate: '0.10' }, { rate: '0.05', min_active_directs: 2 }] })
engine.apply({ type: 'plan_activated', plan, effective_from: '2026-03-01T00:00:00Z' })

const results: Array<Applied | BatchError> = engine.applyBatch([
  { type: 'payout_profile_set', member: 'ann', method: 'bank', verified: true },
  { type: 'refund_recorded', refund: 'r1', sale: 's1', amount: '10.00', at: '2026-02-02T00:00:00Z' },
])
for (const r of results) {
  if ('error' in r) {
    const code: string = r.error.code
    console.log(code, r.error.field ?? '-')
  } else {
    console.log(r.seq, r.hash)
  }
}

const balances: Balances = engine.balances('ann', 'USD', new Date('2026-04-01T00:00:00Z'))
const head: Head = engine.auditHead()
const batch = engine.preparePayouts('b1', '2026-04-01T00:00:00Z', { minimum: { USD: '1.00' }, fees: { bank: { flat: '0.50' } } })
const gross: string | undefined = batch.batch.items[0]?.gross

try {
  engine.apply({ type: 'sale_recorded', sale: 's2', buyer: 'bob', amount: '1.001', currency: 'USD', at: '2026-02-01T12:00:00Z' })
} catch (e) {
  const err = e as UplineError
  const code: 'invalid_amount' | string = err.code
  console.log(code, err.field, err.message)
}

// @ts-expect-error: money is a decimal string, never a number
engine.apply({ type: 'sale_recorded', sale: 's3', buyer: 'bob', amount: 10, currency: 'USD', at: '2026-02-01T12:00:00Z' })
// @ts-expect-error: unknown event type
engine.apply({ type: 'bonus_granted', member: 'ann' })

void engine.applyBatchAsync(joins).then((rs) => rs.length)
const jsonText: string = engine.applyBatchJson(JSON.stringify(joins), { records: false })
const jsonSlots = JSON.parse(jsonText) as Array<BatchHead | BatchError>
void engine.applyBatchJsonAsync('[]', null).then((t: string) => t.length + jsonSlots.length)
// @ts-expect-error: the JSON path takes text, not event objects
engine.applyBatchJson(joins)
console.log(first, retained, balances.available, head.seq, gross, engine.upline('bob', 7), engine.snapshot().length)

// Fraud screening and rewards are typed too.
engine.apply({ type: 'screening_rules_set', id: 'r1', preset: 'moderate', at: '2026-01-01T00:00:00Z' })
engine.apply({
  type: 'member_joined', member: 'cy', sponsor: 'bob', at: new Date(),
  signals: { device: 'dev-1', email: 'cy@example.com', clicked_at: '2026-01-01T00:00:00Z' },
})
engine.apply({ type: 'milestones_set', at: '2026-01-01T00:00:00Z', on_refund: 'clawback' })
const hits: ScreeningHit[] = engine.distributionOf('s1')?.screening?.hits ?? []
const report: BacktestReport = backtest([], { id: 'cand', preset: 'strict', at: '2026-01-01T00:00:00Z' })
const board: Leaderboard = engine.leaderboard('net_earnings', '2026-01-01T00:00:00Z', new Date(), 10, 'USD')
const rules: ScreeningRule[] | null = screeningPreset('strict')
// @ts-expect-error: a review decision is release or reverse
engine.apply({ type: 'fraud_review_resolved', review: 's1', decision: 'maybe', at: '2026-02-01T00:00:00Z' })
console.log(hits.length, report.sales_changed, board.entries[0]?.value, rules?.length, engine.identityCluster('cy'), engine.networkMetrics().members)

// Results typed from the generated declarations, no casts: money is a
// decimal string, times are ISO strings, statistics are numbers.
const metrics = engine.memberMetrics('ann')
const windowStart: string = metrics.window[0]
const period: string | undefined = metrics.earnings[0]?.period
const projection = engine.projection(3)
const total: number | undefined = projection.points[0]?.total
const subtree = engine.exportSubtreeJson('ann', 3)
const usd: string | undefined = subtree.tree.earnings['USD']
const joinedAt: string | undefined = subtree.tree.referrals[0]?.joined_at
const taxLines = engine.taxSummary(2026, { USD: '600' })
const earned: string | undefined = taxLines[0]?.earned
const viral = engine.viralCoefficient(30, 30)
const cohortStart: string | undefined = viral.cohorts[0]?.start
console.log(windowStart, period, total, usd, joinedAt, earned, cohortStart)

// Reading the books.
import type { Statement, EntryState } from '..'
const page: Statement = engine.statement('ann', { asOf: new Date('2026-04-01T00:00:00Z'), limit: 10 })
const state: EntryState | undefined = page.entries[0]?.state
const next: Statement | null = page.next === null ? null : engine.statement('ann', { after: page.next })
const taxCsv: string = engine.taxSummaryCsv(2026, { USD: '600.00' })
console.log(state, next?.entries.length, taxCsv.length)

// Arrow in and out: bytes give bytes; whatIf gives a table and a summary.
import type { WhatIfSummary } from '..'
declare const ipc: Uint8Array
const applied: Uint8Array = engine.applySales(ipc)
const both: { results: Uint8Array; lines: Uint8Array } = engine.applySales(ipc, { lines: true })
const whatIf: WhatIfSummary = engine.whatIf({ id: 'flat', version: 1, levels: [{ rate: '0.25' }] }, '2026-01-01T00:00:00Z', new Date(), {
  every: 1000,
  progress: (done, total) => done < total,
}).summary
console.log(applied.length, both.lines.length, whatIf.sales_changed, whatIf.gains[0]?.difference)
