'use strict'
// Engine.storedEventsJson: the stored log read back in pages, each event as
// stored with its sequence number and audit hash.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('..')

const T = '2026-01-01T00:00:00Z'

function books() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upline-node-'))
  const engine = new Engine({ path: path.join(dir, 'books.sqlite') })
  const heads = []
  heads.push(engine.apply({ type: 'member_joined', member: 'ann', sponsor: null, at: T }))
  heads.push(engine.apply({ type: 'member_joined', member: 'bob', sponsor: 'ann', at: T }))
  heads.push(engine.apply({ type: 'sale_recorded', sale: 's1', buyer: 'bob', amount: '100.00', currency: 'USD', at: '2026-02-01T12:00:00Z' }))
  heads.push(engine.apply({ type: 'refund_recorded', refund: 'r1', sale: 's1', amount: '25.00', at: '2026-02-02T12:00:00Z' }))
  return { engine, heads }
}

test('stored events come back in order with the hashes apply returned', () => {
  const { engine, heads } = books()
  const all = JSON.parse(engine.storedEventsJson(1, 100))
  assert.deepEqual(all.map((s) => s.seq), [1, 2, 3, 4])
  assert.deepEqual(all.map((s) => s.hash), heads.map((h) => h.hash))
  assert.equal(all[3].hash, engine.auditHead().hash)
  assert.deepEqual(all[2].event, {
    type: 'sale_recorded', sale: 's1', buyer: 'bob', amount: '100.00', currency: 'USD', at: '2026-02-01T12:00:00Z',
  })
  assert.equal(all[3].event.amount, '25.00')
})

test('pages start at fromSeq, stop at limit, and are empty past the head', () => {
  const { engine } = books()
  assert.deepEqual(JSON.parse(engine.storedEventsJson(2, 2)).map((s) => s.seq), [2, 3])
  assert.deepEqual(JSON.parse(engine.storedEventsJson(0, 1)).map((s) => s.seq), [1])
  assert.deepEqual(JSON.parse(engine.storedEventsJson(4, 10)).map((s) => s.seq), [4])
  assert.deepEqual(JSON.parse(engine.storedEventsJson(5, 10)), [])
  assert.deepEqual(JSON.parse(engine.storedEventsJson(1, 0)), [])
})

test('replaying the stored events into a new engine gives the same head', () => {
  const { engine } = books()
  const events = JSON.parse(engine.storedEventsJson(1, 100)).map((s) => s.event)
  const copy = new Engine()
  copy.applyBatch(events)
  assert.deepEqual(copy.auditHead(), engine.auditHead())
})

test('over the page limit is limit_exceeded; without a store, storage', () => {
  const { engine } = books()
  assert.throws(() => engine.storedEventsJson(1, 100_001), (e) => e.code === 'limit_exceeded' && e.field === 'limit')
  assert.throws(() => new Engine().storedEventsJson(1, 10), (e) => e.code === 'storage')
})
