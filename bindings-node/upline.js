'use strict'
// The package's entry point: the generated native loader (`index.js`, which
// `napi build` rewrites) plus the Arrow methods that need JavaScript.
// `applyJoins`, `applySales`, `applyRefunds` take Arrow IPC bytes (a Buffer
// or Uint8Array) or an `apache-arrow` Table, and give back the same kind;
// `whatIf` takes a period or a sales table, and the module's `whatIf` a
// members table and a sales table with no engine. The Table conversion (`tableToIPC` / `tableFromIPC`) is the only use of
// `apache-arrow`, which is required lazily, so hosts that pass bytes never
// need it installed.

const native = require('./index.js')

const { Engine } = native

function isTable(value) {
  return (
    value != null &&
    typeof value === 'object' &&
    !ArrayBuffer.isView(value) &&
    Array.isArray(value.batches) &&
    value.schema != null
  )
}

function arrow() {
  return require('apache-arrow')
}

/** A JS Error like the addon's: `code`, `field`, a message naming the field. */
function malformed(field, message) {
  const err = new Error(`${field}: ${message}`)
  err.code = 'malformed'
  err.field = field
  return err
}

function toIpc(table, field = 'table') {
  if (isTable(table)) return arrow().tableToIPC(table, 'stream')
  if (ArrayBuffer.isView(table)) return table
  const kind = table === null ? 'null' : Array.isArray(table) ? 'an array' : typeof table
  throw malformed(field, `must be an apache-arrow Table or Arrow IPC bytes (a Buffer or Uint8Array), not ${kind}`)
}

function same(bytes, asTable) {
  return asTable ? arrow().tableFromIPC(bytes) : bytes
}

Engine.prototype.applyJoins = function applyJoins(table) {
  return same(this.applyJoinsIpc(toIpc(table)), isTable(table))
}

Engine.prototype.applySales = function applySales(table, options) {
  const lines = options != null && options.lines === true
  const out = this.applySalesIpc(toIpc(table), lines)
  const asTable = isTable(table)
  return lines ? { results: same(out[0], asTable), lines: same(out[1], asTable) } : same(out[0], asTable)
}

Engine.prototype.applyRefunds = function applyRefunds(table) {
  return same(this.applyRefundsIpc(toIpc(table)), isTable(table))
}

function isBytes(value) {
  return ArrayBuffer.isView(value)
}

function whatIfResult(out, options, asTable) {
  const form = options != null && options.table !== undefined ? options.table : asTable ? 'arrow' : 'ipc'
  return { table: form === 'arrow' ? arrow().tableFromIPC(out.table) : out.table, summary: out.summary }
}

// whatIf(plan, from, to, options): the engine's own sales in [from, to).
// whatIf(plan, sales, options): a sales table (Table or IPC bytes).
Engine.prototype.whatIf = function whatIf(plan, from, to, options) {
  if (isTable(from) || isBytes(from)) {
    const opts = to
    const out = this.whatIfSalesIpc(plan, toIpc(from), opts == null ? opts : withoutTable(opts))
    return whatIfResult(out, opts, isTable(from))
  }
  const out = this.whatIfIpc(plan, from, to, options == null ? options : withoutTable(options))
  return whatIfResult(out, options, false)
}

function withoutTable(options) {
  const { table, ...rest } = options
  if (table !== undefined && table !== 'arrow' && table !== 'ipc') {
    const error = new Error(`options.table must be 'arrow' or 'ipc', not ${String(table)}`)
    error.code = 'malformed'
    error.field = 'options.table'
    throw error
  }
  return rest
}


// whatIf(plan, { members, sales, current, top, every, progress, table }):
// what-if with no engine (a throwaway one is built from `members`).
function whatIfTables(plan, options) {
  if (options == null || typeof options !== 'object') {
    const error = new Error('whatIf needs { members, sales } (Arrow Tables or IPC bytes)')
    error.code = 'malformed'
    error.field = 'options'
    throw error
  }
  const { members, sales, ...rest } = options
  const out = native.whatIfTablesIpc(plan, toIpc(members, 'members'), toIpc(sales, 'sales'), withoutTable(rest))
  return whatIfResult(out, rest, isTable(sales))
}

// A re-export Node's CommonJS lexer can follow, so `import { Engine } from
// 'upline'` sees every named export of the generated loader.
module.exports = require('./index.js')
module.exports.whatIf = whatIfTables
