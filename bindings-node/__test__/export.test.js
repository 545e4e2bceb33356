'use strict'
// engine.exportLedger: to a path and to a stream, JSON Lines and CSV; the
// independent verifier (tools/verify_export.py) re-derives the same head.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { Engine } = require('..')

const T = '2026-01-01T00:00:00Z'
const VERIFIER = path.join(__dirname, '..', '..', 'tools', 'verify_export.py')

function books() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upline-export-'))
  const engine = new Engine({ path: path.join(dir, 'books.sqlite') })
  let sponsor = null
  for (let i = 0; i < 5; i++) {
    engine.apply({ type: 'member_joined', member: `m${i}`, sponsor, at: T })
    sponsor = `m${i}`
  }
  engine.apply({ type: 'sale_recorded', sale: 's1', buyer: 'm4', amount: '100.00', currency: 'USD', at: '2026-02-01T12:00:00Z' })
  engine.apply({ type: 'refund_recorded', refund: 'r1', sale: 's1', amount: '40.00', at: '2026-02-02T12:00:00Z' })
  return { engine, dir }
}

test('a path export verifies independently to the head', () => {
  const { engine, dir } = books()
  const out = path.join(dir, 'ledger.jsonl')
  const head = engine.exportLedger(out)
  assert.deepEqual(head, engine.auditHead())
  const printed = execFileSync('python3', [VERIFIER, out]).toString().trim()
  assert.equal(printed, `head ${head.seq} ${head.hash}`)
  // One changed commission amount is found at its event (6: sale s1).
  const lines = fs.readFileSync(out, 'utf8').split('\n')
  lines[6] = lines[6].replace('"amount":"20.00"', '"amount":"20.01"')
  fs.writeFileSync(out, lines.join('\n'))
  const bad = spawnSync('python3', [VERIFIER, out])
  assert.equal(bad.status, 1)
  assert.match(bad.stdout.toString(), /event 6 does not match its hash/)
})

test('a stream gets the same bytes; CSV and ranges', () => {
  const { engine, dir } = books()
  const chunks = []
  const head = engine.exportLedger({ write: (chunk) => { chunks.push(Buffer.from(chunk)) } })
  const out = path.join(dir, 'ledger.jsonl')
  engine.exportLedger(out, { format: 'jsonl' })
  assert.equal(Buffer.concat(chunks).toString(), fs.readFileSync(out, 'utf8'))
  assert.deepEqual(head, engine.auditHead())

  const csv = []
  engine.exportLedger({ write: (c) => { csv.push(Buffer.from(c)) } }, { format: 'csv', fromSeq: 6, toSeq: 6 })
  const rows = Buffer.concat(csv).toString().trim().split('\n')
  assert.equal(rows[0], 'seq,hash,type,event,records')
  assert.match(rows[1], /^5,[0-9a-f]{64},prev,,$/)
  assert.match(rows[2], /^6,[0-9a-f]{64},sale_recorded,"/)
  assert.match(rows[3], /^6,[0-9a-f]{64},head,,$/)
})

test('bad options and engines without a store throw typed errors', () => {
  const { engine } = books()
  const sink = { write: () => {} }
  assert.throws(() => engine.exportLedger(sink, { format: 'xml' }), { code: 'malformed', field: 'format' })
  assert.throws(() => engine.exportLedger(sink, { fromSeq: 0 }), { code: 'malformed', field: 'from_seq' })
  // As everywhere in this binding, a non-integer number is invalid_amount.
  assert.throws(() => engine.exportLedger(sink, { fromSeq: 1.5 }), { code: 'invalid_amount' })
  assert.throws(() => engine.exportLedger(sink, { colour: 1 }), { code: 'malformed' })
  assert.throws(() => engine.exportLedger(42), { code: 'malformed' })
  assert.throws(() => new Engine().exportLedger(sink), { code: 'storage' })
})
