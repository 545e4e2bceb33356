'use strict'
// The package's entry point: the generated native loader (`index.js`, which
// `napi build` rewrites) plus the Arrow methods that need JavaScript.
// `applyJoins`, `applySales`, `applyRefunds` take Arrow IPC bytes (a Buffer
// or Uint8Array) or an `apache-arrow` Table, and give back the same kind;
// the Table conversion (`tableToIPC` / `tableFromIPC`) is the only use of
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

function toIpc(table) {
  return isTable(table) ? arrow().tableToIPC(table, 'stream') : table
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

Engine.prototype.whatIf = function whatIf(plan, from, to, options) {
  const { table: bytes, summary } = this.whatIfIpc(plan, from, to, options == null ? options : withoutTable(options))
  return { table: options != null && options.table === 'arrow' ? arrow().tableFromIPC(bytes) : bytes, summary }
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

// A re-export Node's CommonJS lexer can follow, so `import { Engine } from
// 'upline'` sees every named export of the generated loader.
module.exports = require('./index.js')
