// A target for a profiler, and a breakdown of where `applySales` spends its
// time: at full size (1M members joined with applyJoins, 500k sales as one
// apache-arrow Table), each 100,000-row slice is timed in its three parts:
// `tableToIPC` (JS), `applySalesIpc` (the addon: IPC read, column
// conversion, the core's apply per row, IPC write) and `tableFromIPC` (JS).
//
//   node benches/js/profile_columns.mjs [--members N] [--sales N]
//   perf record -F 499 -g node --perf-basic-prof benches/js/profile_columns.mjs
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Engine } = require('../../bindings-node')
const arrow = require('../../bindings-node/node_modules/apache-arrow')

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const MEMBERS = arg('--members', 1_000_000)
const SALES = arg('--sales', 500_000)

let seed = 42
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = (n) => Math.floor(rnd() * n)
const utf8 = new arrow.Utf8()
const UTC_MS = new arrow.Timestamp(arrow.TimeUnit.MILLISECOND, 'UTC')
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

let t0 = process.hrtime.bigint()
const sponsor = new Array(MEMBERS)
sponsor[0] = null
for (let i = 1; i < MEMBERS; i++) sponsor[i] = `m${rnd() < 0.7 ? i - 1 - int(Math.min(50, i)) : int(i)}`
const members = new arrow.Table({
  member: arrow.vectorFromArray(Array.from({ length: MEMBERS }, (_, i) => `m${i}`), utf8),
  sponsor: arrow.vectorFromArray(sponsor, utf8),
  at: arrow.vectorFromArray(new Array(MEMBERS).fill(Date.parse('2026-01-01T00:00:00Z')), UTC_MS),
})
const sales = new arrow.Table({
  sale: arrow.vectorFromArray(Array.from({ length: SALES }, (_, i) => `s${i}`), utf8),
  buyer: arrow.vectorFromArray(Array.from({ length: SALES }, () => `m${int(MEMBERS)}`), utf8),
  amount: arrow.vectorFromArray(
    Array.from({ length: SALES }, () => {
      const c = 100 + int(99_900)
      return `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`
    }),
    utf8,
  ),
  currency: arrow.vectorFromArray(new Array(SALES).fill('USD')),
  at: arrow.vectorFromArray(new Array(SALES).fill(Date.parse('2026-02-01T12:00:00Z')), UTC_MS),
})
console.log(`data: ${seconds(t0).toFixed(2)} s`)

const engine = new Engine()
t0 = process.hrtime.bigint()
for (let start = 0; start < MEMBERS; start += 100_000) engine.applyJoins(members.slice(start, start + 100_000))
console.log(`joins: ${seconds(t0).toFixed(2)} s`)

let toIpc = 0
let native = 0
let fromIpc = 0
for (let start = 0; start < SALES; start += 100_000) {
  const part = sales.slice(start, start + 100_000)
  t0 = process.hrtime.bigint()
  const bytes = arrow.tableToIPC(part, 'stream')
  toIpc += seconds(t0)
  t0 = process.hrtime.bigint()
  const [out] = engine.applySalesIpc(bytes, false)
  native += seconds(t0)
  t0 = process.hrtime.bigint()
  const table = arrow.tableFromIPC(out)
  fromIpc += seconds(t0)
  if (table.getChild('error_code').nullCount !== table.numRows) throw new Error('a row was refused')
}
const total = toIpc + native + fromIpc
const pct = (x) => `${((100 * x) / total).toFixed(1)} %`
console.log(`applySales over ${SALES.toLocaleString('en-US')} sales: ${total.toFixed(2)} s, ${Math.round(SALES / total).toLocaleString('en-US')} sales/s`)
console.log(`  tableToIPC (JS):          ${toIpc.toFixed(2)} s  ${pct(toIpc)}`)
console.log(`  applySalesIpc (addon):    ${native.toFixed(2)} s  ${pct(native)}  (${Math.round(SALES / native).toLocaleString('en-US')} sales/s)`)
console.log(`  tableFromIPC (JS):        ${fromIpc.toFixed(2)} s  ${pct(fromIpc)}`)
