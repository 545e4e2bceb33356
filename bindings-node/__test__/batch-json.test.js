'use strict'
// applyBatchJson / applyBatchJsonAsync: one JSON string in, one out.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { Engine } = require('..')
const { vectorFiles, assertSubset, state } = require('./helpers')

const T = '2026-01-01T00:00:00Z'
const joined = (member, sponsor) => ({ type: 'member_joined', member, sponsor, at: T })
const sale = (id, buyer, amount) => ({
  type: 'sale_recorded', sale: id, buyer, amount, currency: 'USD', at: '2026-02-01T00:00:00Z',
})

function viaJson(engine, events, options) {
  const out = engine.applyBatchJson(JSON.stringify(events), options)
  assert.equal(typeof out, 'string')
  const slots = JSON.parse(out)
  assert.ok(Array.isArray(slots))
  assert.equal(slots.length, events.length)
  return slots
}

// Each apply step as a one-element array (alternately sync and async); a
// refused step is an error slot and leaves the engine unchanged.
async function runWithJson(c) {
  const engine = new Engine()
  for (const [i, step] of c.steps.entries()) {
    const where = `step ${i}`
    if ('balances' in step) {
      const { member, currency, as_of } = step.balances
      assertSubset(engine.balances(member, currency, as_of), step.expect, `${where} balances`)
      continue
    }
    const before = state(engine)
    const text = JSON.stringify([step.apply])
    const out = i % 2 === 0 ? engine.applyBatchJson(text) : await engine.applyBatchJsonAsync(text)
    const slots = JSON.parse(out)
    assert.equal(slots.length, 1)
    const [slot] = slots
    if ('error' in step) {
      assert.deepEqual(Object.keys(slot), ['error'], `${where}: expected an error slot, got ${out.slice(0, 200)}`)
      assert.deepEqual(Object.keys(slot.error).sort(), ['code', 'field', 'message'])
      assert.equal(slot.error.code, step.error, `${where}: code (${slot.error.message})`)
      assert.deepEqual(state(engine), before, `${where}: engine unchanged`)
    } else {
      assert.ok(!slot.error, `${where}: unexpected error ${JSON.stringify(slot.error)}`)
      assertSubset(slot, step.expect, where)
    }
  }
  return engine
}

function runWithApply(c) {
  const engine = new Engine()
  for (const step of c.steps) {
    if ('apply' in step) {
      try {
        engine.apply(step.apply)
      } catch (err) {
        if (!('error' in step)) throw err
      }
    }
  }
  return engine
}

for (const { file, cases } of vectorFiles()) {
  describe(`vectors/${file} through applyBatchJson`, () => {
    for (const c of cases) {
      it(c.name, async () => {
        const engine = await runWithJson(c)
        assert.deepEqual(engine.auditHead(), runWithApply(c).auditHead(), 'same audit head as apply')
      })
    }
  })
}

describe('applyBatchJson', () => {
  it('bad slots are reported in place and do not stop the others', async () => {
    const events = [
      joined('a', null),
      joined('b', 'a'),
      sale('s1', 'b', '10.00'),
      sale('s2', 'b', '10.001'), // refused by the core
      { type: 'nope' }, // undecodable
      5, // not an object
      { type: 'sale_recorded', sale: 's3' }, // missing fields
      sale('s4', 'ghost', '1.00'), // unknown member
      sale('s5', 'b', 10), // a JSON number for money
      sale('s1', 'b', '10.00'), // an idempotent retry
      sale('s6', 'b', '20.00'),
    ]
    const engine = new Engine()
    const slots = viaJson(engine, events)
    assert.deepEqual(slots.map((s) => 'error' in s), [false, false, false, true, true, true, true, true, true, false, false])
    assert.deepEqual(slots[3].error, { code: 'invalid_amount', field: 'amount', message: slots[3].error.message })
    for (const i of [4, 5, 6]) assert.equal(slots[i].error.code, 'malformed', JSON.stringify(slots[i]))
    assert.equal(slots[7].error.code, 'unknown_member')
    assert.equal(slots[8].error.code, 'invalid_amount')
    assert.equal(slots[9].replayed, true)
    assert.equal(slots[9].seq, slots[2].seq)
    assert.equal(slots[10].seq, slots[2].seq + 1)
    assert.equal(slots[2].distribution.lines[0].amount, '2.00')

    // The same records and state as applyBatch.
    const twin = new Engine()
    const objects = twin.applyBatch(events.map((e) => (typeof e === 'object' ? e : { x: e })))
    slots.forEach((s, i) => {
      if ('error' in s) assert.equal(s.error.code, objects[i].error.code, `slot ${i}`)
      else assert.deepEqual(s, objects[i], `slot ${i}`)
    })
    assert.deepEqual(state(engine), state(twin))
    assert.deepEqual(engine.auditHead(), twin.auditHead())

    const again = new Engine()
    assert.deepEqual(JSON.parse(await again.applyBatchJsonAsync(JSON.stringify(events))), slots)
    assert.equal(new Engine().applyBatchJson('[]'), '[]')
  })

  it('{ records: false } is only { seq, hash } (+ replayed) per applied slot', async () => {
    const events = [joined('a', null), joined('b', 'a'), sale('s1', 'b', '10.00'), sale('s1', 'b', '10.00'), sale('s2', 'ghost', '10.00')]
    const full = new Engine()
    const lean = new Engine()
    const records = viaJson(full, events)
    const slots = viaJson(lean, events, { records: false })
    assert.deepEqual(slots[0], { seq: 1, hash: records[0].hash })
    assert.deepEqual(slots[2], { seq: 3, hash: records[2].hash })
    assert.deepEqual(slots[3], { seq: 3, hash: records[2].hash, replayed: true })
    assert.deepEqual(Object.keys(slots[4]), ['error'])
    assert.equal(slots[4].error.code, 'unknown_member')
    assert.deepEqual(lean.auditHead(), full.auditHead())
    assert.equal(lean.balances('a', 'USD', '2026-02-01T00:00:00Z').pending, '2.00')
    const viaAsync = JSON.parse(await new Engine().applyBatchJsonAsync(JSON.stringify(events), { records: false }))
    assert.deepEqual(viaAsync, slots)
    assert.deepEqual(viaJson(new Engine(), events, { records: true }), records)
    assert.deepEqual(viaJson(new Engine(), events, null), records)
  })

  it('text that is not a JSON array is malformed, and nothing changes', async () => {
    const engine = new Engine()
    engine.apply(joined('a', null))
    const head = engine.auditHead()
    for (const text of ['', '{}', '{"type":"member_joined"}', 'nope', '[1,', 'null', '[] []']) {
      assert.throws(() => engine.applyBatchJson(text), (err) => {
        assert.ok(err instanceof Error)
        assert.equal(err.code, 'malformed', `${JSON.stringify(text)}: ${err.message}`)
        return true
      })
      await assert.rejects(engine.applyBatchJsonAsync(text), { code: 'malformed' })
    }
    assert.deepEqual(engine.auditHead(), head)
  })

  it('text must be a string; options are checked', async () => {
    const engine = new Engine()
    for (const bad of [[], {}, null, undefined, 1, Buffer.from('[]')]) {
      assert.throws(() => engine.applyBatchJson(bad), { code: 'malformed', field: 'text' })
      assert.throws(() => engine.applyBatchJsonAsync(bad), { code: 'malformed', field: 'text' })
    }
    assert.throws(() => engine.applyBatchJson('[]', { records: 'no' }), { code: 'malformed' })
    assert.throws(() => engine.applyBatchJson('[]', { lean: true }), { code: 'malformed' })
    assert.throws(() => engine.applyBatchJsonAsync('[]', { lean: true }), { code: 'malformed' })
  })

  it('over the event limit is limit_exceeded for the whole call', async () => {
    const engine = new Engine()
    engine.apply(joined('a', null))
    const head = engine.auditHead()
    const text = '[' + new Array(100_001).fill(JSON.stringify(joined('x', 'a'))).join(',') + ']'
    assert.throws(() => engine.applyBatchJson(text), { code: 'limit_exceeded' })
    await assert.rejects(engine.applyBatchJsonAsync(text), { code: 'limit_exceeded' })
    assert.deepEqual(engine.auditHead(), head)
  })

  it('non-ASCII ids round-trip', () => {
    const engine = new Engine()
    const slots = viaJson(engine, [joined('annÉ', null), joined('\u{1F600}', 'annÉ'), sale('sé', '\u{1F600}', '10.00')])
    assert.equal(slots[2].distribution.sale, 'sé')
    assert.equal(slots[2].distribution.lines[0].earner, 'annÉ')
    assert.deepEqual(engine.upline('\u{1F600}', 1), ['annÉ'])
  })
})
