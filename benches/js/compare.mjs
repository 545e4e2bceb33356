// Sales per second: the plain-JS model vs the Upline addon (apply per call,
// applyBatch, applyBatchJson), on one generated network, in one run.
//
//   node benches/js/compare.mjs            # 1M members, 1M model sales, 100k apply
//                                          # calls, 1M sales in batches (full records),
//                                          # 1M more with { records: false } and the
//                                          # same 1M again (new ids) through
//                                          # applyBatchJson(…, { records: false })
//   node benches/js/compare.mjs --quick    # 10k members, 10k sales (CI smoke)
//
// Then, when apache-arrow is installed (a devDependency of bindings-node),
// the same sales twice more through applySales (as Table slices, and as IPC
// bytes) and whatIf over both of those passes. When decimal.js is installed
// (benches/js's devDependency: npm ci --prefix benches/js), the decimal.js
// model runs on the same sales beside the BigInt one.
//
// Network: member 0 is the root; each later member's sponsor is, with
// probability 0.7, uniform among the 50 most recent members, else uniform
// among all earlier ones. Sale amounts uniform in 1.00–999.99 USD, buyers
// uniform. Seeded PRNG (mulberry32), so every run sees the same data.
import { createRequire } from 'node:module'
import { Model, parseCents } from './model.mjs'

const require = createRequire(import.meta.url)
const { Engine } = require('../../bindings-node')

const quick = process.argv.includes('--quick')
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const MEMBERS = arg('--members', quick ? 10_000 : 1_000_000)
const SALES = arg('--sales', quick ? 10_000 : 1_000_000)
const APPLY_SALES = arg('--apply-sales', quick ? 10_000 : 100_000)
const BATCH = arg('--batch', 10_000)
const SEED = arg('--seed', 42)

function mulberry32(a) {
  return () => {
    a |= 0
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rnd = mulberry32(SEED)
const int = (n) => Math.floor(rnd() * n) // uniform in [0, n)

// ---- data ----
const sponsors = new Int32Array(MEMBERS)
sponsors[0] = -1
for (let i = 1; i < MEMBERS; i++) {
  sponsors[i] = rnd() < 0.7 ? i - 1 - int(Math.min(50, i)) : int(i)
}
function makeSales(n, prefix) {
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const cents = 100 + int(99_999 - 100 + 1) // 1.00 .. 999.99
    const amount = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
    out[i] = { type: 'sale_recorded', sale: `${prefix}${i}`, buyer: `m${int(MEMBERS)}`, amount, currency: 'USD', at: '2026-02-01T12:00:00Z' }
  }
  return out
}
const batchSales = makeSales(SALES, 's')
const leanSales = makeSales(SALES, 'l')
const applySales = makeSales(APPLY_SALES, 'a')

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9
const fmt = (x) => Math.round(x).toLocaleString('en-US')

// ---- JS model ----
const model = new Model(sponsors)
const buyers = Int32Array.from(batchSales, (s) => Number(s.buyer.slice(1)))
let t0 = process.hrtime.bigint()
for (let i = 0; i < SALES; i++) model.sale(buyers[i], batchSales[i].amount)
const modelSecs = seconds(t0)
const modelRate = SALES / modelSecs

// ---- decimal.js model (when benches/js has its devDependencies) ----
// The same sales, the same calculation, with decimal.js values instead of
// BigInt cents: the model a team writing "exact decimals" in JS would have.
let decimalModel = null
let decimalSecs = 0
try {
  const { DecimalModel } = await import('./decimal-model.mjs')
  decimalModel = new DecimalModel(sponsors)
  t0 = process.hrtime.bigint()
  for (let i = 0; i < SALES; i++) decimalModel.sale(buyers[i], batchSales[i].amount)
  decimalSecs = seconds(t0)
  const cents = BigInt(decimalModel.retained.times(100).toFixed(0))
  if (cents !== model.retained) throw new Error(`decimal.js model retained ${cents}, BigInt model ${model.retained}`)
} catch (err) {
  if (err.code !== 'ERR_MODULE_NOT_FOUND' && err.code !== 'MODULE_NOT_FOUND') throw err
  decimalModel = null
}
const decimalRate = decimalModel === null ? null : SALES / decimalSecs

// ---- addon: load the network ----
const engine = new Engine()
t0 = process.hrtime.bigint()
for (let start = 0; start < MEMBERS; start += BATCH) {
  const events = []
  for (let i = start; i < Math.min(MEMBERS, start + BATCH); i++) {
    events.push({ type: 'member_joined', member: `m${i}`, sponsor: i === 0 ? null : `m${sponsors[i]}`, at: '2026-01-01T00:00:00Z' })
  }
  for (const r of engine.applyBatch(events)) if (r.error) throw new Error(JSON.stringify(r.error))
}
const joinSecs = seconds(t0)

// ---- addon: applyBatch ----
let retained = 0n
t0 = process.hrtime.bigint()
for (let start = 0; start < SALES; start += BATCH) {
  const results = engine.applyBatch(batchSales.slice(start, start + BATCH))
  for (const r of results) {
    if (r.error) throw new Error(JSON.stringify(r.error))
    retained += parseCents(r.distribution.retained)
  }
}
const batchSecs = seconds(t0)
const batchRate = SALES / batchSecs
if (retained !== model.retained) throw new Error(`retained differs: addon ${retained}, model ${model.retained}`)

// ---- addon: applyBatch with { records: false } (only { seq, hash } per slot) ----
t0 = process.hrtime.bigint()
for (let start = 0; start < SALES; start += BATCH) {
  for (const r of engine.applyBatch(leanSales.slice(start, start + BATCH), { records: false })) {
    if (r.error) throw new Error(JSON.stringify(r.error))
  }
}
const leanSecs = seconds(t0)
const leanRate = SALES / leanSecs

// ---- addon: JSON.stringify + applyBatchJson({ records: false }) + JSON.parse ----
// The sales of the applyBatch pass again under new ids ('j…'); building each
// batch's events is outside the timer, stringify/apply/parse inside it.
let jsonSecs = 0
let jsonLastSeq = 0
for (let start = 0; start < SALES; start += BATCH) {
  const events = batchSales.slice(start, start + BATCH).map((s) => ({ ...s, sale: `j${s.sale.slice(1)}` }))
  t0 = process.hrtime.bigint()
  const out = JSON.parse(engine.applyBatchJson(JSON.stringify(events), { records: false }))
  jsonSecs += seconds(t0)
  if (out.length !== events.length) throw new Error(`applyBatchJson: ${out.length} slots for ${events.length} events`)
  for (const r of out) if (r.error) throw new Error(JSON.stringify(r.error))
  jsonLastSeq = out[out.length - 1].seq
}
const jsonRate = SALES / jsonSecs
// Every event so far took one seq: the joins, then three passes of SALES.
if (jsonLastSeq !== MEMBERS + 3 * SALES) throw new Error(`applyBatchJson: last seq ${jsonLastSeq}, expected ${MEMBERS + 3 * SALES}`)

// ---- addon: apply per call ----
t0 = process.hrtime.bigint()
for (const s of applySales) engine.apply(s)
const applySecs = seconds(t0)
const applyRate = APPLY_SALES / applySecs

// ---- addon: applySales with Arrow ----
// The applyBatch pass's sales again under new ids ('c…'), in March, as one
// apache-arrow Table built outside the timer (sale, buyer and currency as
// strings, amount as decimal strings, at as a UTC timestamp) and applied
// 100,000 rows a call (the batch limit): once as Table slices (tableToIPC
// and tableFromIPC inside the timer), once as IPC bytes made beforehand.
let arrowRows = null
try {
  arrowRows = await runArrow()
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND' && err.code !== 'ERR_MODULE_NOT_FOUND') throw err
}

async function runArrow() {
  const arrow = require('../../bindings-node/node_modules/apache-arrow')
  const march = Date.parse('2026-03-01T12:00:00Z')
  const utf8 = new arrow.Utf8()
  const makeTable = (prefix) =>
    new arrow.Table({
      sale: arrow.vectorFromArray(batchSales.map((s) => `${prefix}${s.sale.slice(1)}`), utf8),
      buyer: arrow.vectorFromArray(batchSales.map((s) => s.buyer), utf8),
      amount: arrow.vectorFromArray(batchSales.map((s) => s.amount), utf8),
      currency: arrow.vectorFromArray(batchSales.map(() => 'USD')),
      at: arrow.vectorFromArray(batchSales.map(() => march), new arrow.Timestamp(arrow.TimeUnit.MILLISECOND, 'UTC')),
    })
  const table = makeTable('c')
  let tableSecs = 0
  let lastSeq = 0n
  for (let start = 0; start < SALES; start += 100_000) {
    const part = table.slice(start, start + 100_000)
    const t0 = process.hrtime.bigint()
    const out = engine.applySales(part)
    tableSecs += seconds(t0)
    if (out.getChild('error_code').nullCount !== out.numRows) throw new Error('applySales refused a row')
    lastSeq = out.getChild('seq').get(out.numRows - 1)
  }
  const bytes = []
  const ipcTable = makeTable('i')
  for (let start = 0; start < SALES; start += 100_000) bytes.push(arrow.tableToIPC(ipcTable.slice(start, start + 100_000), 'stream'))
  let ipcSecs = 0
  for (const chunk of bytes) {
    const t0 = process.hrtime.bigint()
    engine.applySales(chunk)
    ipcSecs += seconds(t0)
  }
  const candidate = { id: 'candidate', version: 1, levels: [{ rate: '0.25' }, { rate: '0.10' }, { rate: '0.05' }] }
  const t0 = process.hrtime.bigint()
  const { summary } = engine.whatIf(candidate, '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z')
  const whatIfSecs = seconds(t0)
  // Both Arrow passes are in March: 2 * SALES sales replayed.
  if (summary.sales !== 2 * SALES) throw new Error(`whatIf replayed ${summary.sales}`)
  let inForce = 0n
  for (const level of summary.levels) inForce += parseCents(level.in_force)
  // The model paid the sales minus what it retained; both passes paid that.
  let total = 0n
  for (const s of batchSales) total += parseCents(s.amount)
  const paid = total - model.retained
  if (inForce !== 2n * paid) throw new Error(`whatIf in force ${inForce}, model ${2n * paid}`)
  // whatIf over the sales as a table (the 'c' Table, tableToIPC timed):
  // both sides calculated; and with no engine, the network as a members
  // table (built outside the timer) joined into a throwaway engine first.
  const inForceOf = (summary) => summary.levels.reduce((sum, level) => sum + parseCents(level.in_force), 0n)
  let t1 = process.hrtime.bigint()
  const { summary: overTable } = engine.whatIf(candidate, table)
  const whatIfTableSecs = seconds(t1)
  if (overTable.sales !== SALES || inForceOf(overTable) !== paid) throw new Error(`whatIf over a table: ${overTable.sales} sales, in force ${inForceOf(overTable)}`)
  const members = new arrow.Table({
    member: arrow.vectorFromArray(Array.from(sponsors, (_, i) => `m${i}`), utf8),
    sponsor: arrow.vectorFromArray(Array.from(sponsors, (s) => (s < 0 ? null : `m${s}`)), utf8),
    at: arrow.vectorFromArray(Array.from(sponsors, () => Date.parse('2026-01-01T00:00:00Z')), new arrow.Timestamp(arrow.TimeUnit.MILLISECOND, 'UTC')),
  })
  const { whatIf } = require('../../bindings-node')
  t1 = process.hrtime.bigint()
  const { summary: noEngine } = whatIf(candidate, { members, sales: table })
  const whatIfNoEngineSecs = seconds(t1)
  if (noEngine.sales !== SALES || inForceOf(noEngine) !== paid) throw new Error(`whatIf with no engine: ${noEngine.sales} sales, in force ${inForceOf(noEngine)}`)
  return { tableSecs, ipcSecs, whatIfSecs, whatIfTableSecs, whatIfNoEngineSecs, lastSeq }
}

console.log(`network: ${fmt(MEMBERS)} members (joined via applyBatch in ${joinSecs.toFixed(2)} s, ${fmt(MEMBERS / joinSecs)}/s); seed ${SEED}`)
console.log(`JS model (BigInt cents, calc only):      ${fmt(modelRate)} sales/s  (${fmt(SALES)} sales, ${modelSecs.toFixed(2)} s)`)
if (decimalRate === null) {
  console.log('note: decimal.js is not installed (npm ci --prefix benches/js): the decimal.js model was skipped')
} else {
  console.log(`JS model (decimal.js, calc only):        ${fmt(decimalRate)} sales/s  (${fmt(SALES)} sales, ${decimalSecs.toFixed(2)} s)`)
}
console.log(`addon apply, one call per sale:          ${fmt(applyRate)} sales/s  (${fmt(APPLY_SALES)} sales, ${applySecs.toFixed(2)} s)`)
console.log(`addon applyBatch (batches of ${fmt(BATCH)}):   ${fmt(batchRate)} sales/s  (${fmt(SALES)} sales, ${batchSecs.toFixed(2)} s)`)
console.log(`addon applyBatch, { records: false }:   ${fmt(leanRate)} sales/s  (${fmt(SALES)} sales, ${leanSecs.toFixed(2)} s)`)
console.log(`stringify+applyBatchJson lean+parse:     ${fmt(jsonRate)} sales/s  (${fmt(SALES)} sales, ${jsonSecs.toFixed(2)} s)`)
console.log(`ratios vs JS model: apply ${(applyRate / modelRate).toFixed(2)}x, applyBatch ${(batchRate / modelRate).toFixed(2)}x, applyBatch lean ${(leanRate / modelRate).toFixed(2)}x, applyBatchJson lean ${(jsonRate / modelRate).toFixed(2)}x`)
console.log(`check: retained total equal (${model.retained} cents)`)
console.log(`check: applyBatchJson applied every slot (last seq ${fmt(jsonLastSeq)})`)
if (arrowRows === null) {
  console.log('note: apache-arrow is not installed (npm ci in bindings-node): the Arrow rows were skipped')
} else {
  const { tableSecs, ipcSecs, whatIfSecs, whatIfTableSecs, whatIfNoEngineSecs, lastSeq } = arrowRows
  console.log(`addon applySales (Table slices of 100,000): ${fmt(SALES / tableSecs)} sales/s  (${fmt(SALES)} sales, ${tableSecs.toFixed(2)} s)`)
  console.log(`addon applySales (IPC bytes, 100,000):      ${fmt(SALES / ipcSecs)} sales/s  (${fmt(SALES)} sales, ${ipcSecs.toFixed(2)} s)`)
  console.log(`addon whatIf (calculation only):            ${fmt((2 * SALES) / whatIfSecs)} sales/s  (${fmt(2 * SALES)} sales, ${whatIfSecs.toFixed(2)} s)`)
  console.log(`addon whatIf over a sales Table:            ${fmt(SALES / whatIfTableSecs)} sales/s  (${fmt(SALES)} sales, ${whatIfTableSecs.toFixed(2)} s; both sides calculated)`)
  console.log(`whatIf with no engine (members + sales):    ${fmt(SALES / whatIfNoEngineSecs)} sales/s  (${fmt(MEMBERS)} members joined + ${fmt(SALES)} sales, ${whatIfNoEngineSecs.toFixed(2)} s)`)
  console.log(`ratios vs JS model: applySales Table ${(SALES / tableSecs / modelRate).toFixed(2)}x, IPC ${(SALES / ipcSecs / modelRate).toFixed(2)}x (goal >= 1x the BigInt model)`)
  if (decimalRate !== null) {
    console.log(`ratios vs decimal.js model: applySales Table ${(SALES / tableSecs / decimalRate).toFixed(2)}x, IPC ${(SALES / ipcSecs / decimalRate).toFixed(2)}x (goal >= 10x)`)
  }
  console.log(`check: applySales applied every row (last seq ${lastSeq}); whatIf in-force totals (period, table, no engine) equal the model's`)
}
