'use strict'
// Bad input for each event kind: the right `code`, and the engine unchanged
// (through apply and through an applyBatch slot).
const { describe, it, before } = require('node:test')
const assert = require('node:assert/strict')
const { Engine, Plan } = require('..')
const { state } = require('./helpers')

const T = '2026-01-01T00:00:00Z'
const LONG = 'x'.repeat(129)

// m0 <- m1 <- m2 <- m3, a sale s1 by m3, m2 paid by verified bank, batch b1
// holding payout b1:m2:USD.
function baseSnapshot() {
  const e = new Engine()
  e.apply({ type: 'member_joined', member: 'm0', sponsor: null, at: T })
  e.apply({ type: 'member_joined', member: 'm1', sponsor: 'm0', at: T })
  e.apply({ type: 'member_joined', member: 'm2', sponsor: 'm1', at: T })
  e.apply({ type: 'member_joined', member: 'm3', sponsor: 'm2', at: T })
  e.apply({ type: 'sale_recorded', sale: 's1', buyer: 'm3', amount: '100.00', currency: 'USD', at: '2026-01-02T00:00:00Z' })
  e.apply({ type: 'payout_profile_set', member: 'm2', method: 'bank', verified: true })
  const r = e.preparePayouts('b1', new Date('2026-03-01T00:00:00Z'), {})
  assert.equal(r.batch.items[0].payout, 'b1:m2:USD')
  return e.snapshot()
}

// A valid template per kind, the fields it requires, its id fields, time
// fields and money fields (as paths).
const KINDS = {
  member_joined: {
    event: { type: 'member_joined', member: 'n1', sponsor: 'm0', at: T },
    required: ['member', 'at'], ids: ['member', 'sponsor'], times: ['at'], money: [],
  },
  member_status_changed: {
    event: { type: 'member_status_changed', member: 'm1', status: 'inactive', at: T },
    required: ['member', 'status', 'at'], ids: ['member'], times: ['at'], money: [],
    wrong: [['status', 'sleeping', 'malformed']],
  },
  sponsor_changed: {
    event: { type: 'sponsor_changed', member: 'm3', sponsor: 'm0', reason: 'fix', at: T },
    required: ['member', 'sponsor', 'reason', 'at'], ids: ['member', 'sponsor'], times: ['at'], money: [],
  },
  member_hold_set: {
    event: { type: 'member_hold_set', member: 'm1', on: true, reason: 'review', at: T },
    required: ['member', 'on', 'reason', 'at'], ids: ['member'], times: ['at'], money: [],
    wrong: [['on', 'yes', 'malformed'], ['on', 1, 'malformed']],
  },
  plan_activated: {
    event: {
      type: 'plan_activated',
      plan: { id: 'p2', version: 1, levels: [{ rate: '0.10', caps: { USD: '5.00' } }, { rate: '0.05' }], min_sale: { USD: '1.00' } },
      effective_from: '2026-02-01T00:00:00Z',
    },
    required: ['plan', 'effective_from'], ids: ['plan.id'], times: ['effective_from'],
    money: ['plan.levels.0.rate', 'plan.levels.0.caps.USD', 'plan.min_sale.USD'],
    wrong: [['plan.version', 1.5, 'invalid_amount'], ['plan.version', 'one', 'malformed'], ['plan.levels', [], 'invalid_plan'], ['plan.levels.0.rate', '1.5', 'invalid_plan']],
  },
  currency_registered: {
    event: { type: 'currency_registered', currency: 'PTS', minor_units: 2 },
    required: ['currency', 'minor_units'], ids: [], times: [], money: [],
    wrong: [['minor_units', 2.5, 'invalid_amount'], ['minor_units', '2', 'malformed'], ['minor_units', -1, 'malformed']],
  },
  sale_recorded: {
    event: { type: 'sale_recorded', sale: 's2', buyer: 'm3', amount: '10.00', currency: 'USD', at: '2026-01-03T00:00:00Z' },
    required: ['sale', 'buyer', 'amount', 'currency', 'at'], ids: ['sale', 'buyer'], times: ['at'], money: ['amount'],
    wrong: [['currency', 'usd!', 'invalid_currency'], ['amount', '10.001', 'invalid_amount'], ['amount', 'ten', 'invalid_amount']],
  },
  refund_recorded: {
    event: { type: 'refund_recorded', refund: 'r1', sale: 's1', amount: '5.00', at: '2026-01-05T00:00:00Z' },
    required: ['refund', 'sale', 'amount', 'at'], ids: ['refund', 'sale'], times: ['at'], money: ['amount'],
    wrong: [['amount', '100.01', 'over_refund'], ['sale', 'nosuch', 'unknown_sale']],
  },
  payout_profile_set: {
    event: { type: 'payout_profile_set', member: 'm1', method: 'bank', verified: true },
    required: ['member', 'method', 'verified'], ids: ['member'], times: [], money: [],
    wrong: [['verified', 'true', 'malformed']],
  },
  payouts_prepared: {
    event: { type: 'payouts_prepared', batch: 'b2', as_of: '2026-03-02T00:00:00Z', policy: { minimum: { USD: '1.00' }, fees: { bank: { flat: '0.50', percent: '1' } } } },
    required: ['batch', 'as_of', 'policy'], ids: ['batch'], times: ['as_of'],
    money: ['policy.minimum.USD', 'policy.fees.bank.flat', 'policy.fees.bank.percent'],
    wrong: [['policy.fees.bank.percent', '101', 'invalid_amount']],
  },
  payout_settled: {
    event: { type: 'payout_settled', payout: 'b1:m2:USD', at: '2026-03-02T00:00:00Z', reference: 'w1' },
    required: ['payout', 'at', 'reference'], ids: ['payout'], times: ['at'], money: [],
    wrong: [['payout', 'b9:m2:USD', 'unknown_payout']],
  },
  payout_failed: {
    event: { type: 'payout_failed', payout: 'b1:m2:USD', reason: 'bounced', at: '2026-03-02T00:00:00Z' },
    required: ['payout', 'reason', 'at'], ids: ['payout'], times: ['at'], money: [],
  },
}

function clone(v) {
  return structuredClone(v)
}

function setPath(obj, dotted, value) {
  const parts = dotted.split('.')
  let o = obj
  for (const p of parts.slice(0, -1)) o = o[p]
  const last = parts[parts.length - 1]
  if (value === undefined) delete o[last]
  else o[last] = value
}

function fieldName(dotted) {
  return dotted.replace(/\.(\d+)(?=\.|$)/g, '[$1]')
}

let SNAP
function fresh() {
  return Engine.fromSnapshot(SNAP)
}

// The event must be refused with `code` by apply and in an applyBatch slot,
// leaving the engine exactly as it was.
function expectRefused(event, code, field) {
  const engine = fresh()
  const before = state(engine)
  assert.throws(
    () => engine.apply(event),
    (err) => {
      assert.ok(err instanceof Error)
      assert.equal(err.code, code, err.message)
      if (field !== undefined) {
        assert.equal(err.field, field, `field of: ${err.message}`)
        assert.ok(err.message.includes(field), `message names ${field}: ${err.message}`)
      }
      return true
    },
  )
  assert.deepEqual(state(engine), before, 'engine unchanged after apply')
  const [slot] = engine.applyBatch([event])
  assert.equal(slot.error && slot.error.code, code, JSON.stringify(slot).slice(0, 200))
  assert.deepEqual(state(engine), before, 'engine unchanged after applyBatch')
}

before(() => {
  SNAP = baseSnapshot()
})

for (const [kind, spec] of Object.entries(KINDS)) {
  describe(`bad input: ${kind}`, () => {
    it('the template is valid', () => {
      const engine = fresh()
      const r = engine.apply(clone(spec.event))
      assert.equal(typeof r.seq, 'number')
      assert.match(r.hash, /^[0-9a-f]{64}$/)
    })
    it('an unknown type is malformed', () => {
      expectRefused({ ...clone(spec.event), type: `${kind}_v2` }, 'malformed')
    })
    it('an unknown field is malformed', () => {
      expectRefused({ ...clone(spec.event), surprise: 'x' }, 'malformed')
    })
    for (const f of spec.required) {
      it(`missing ${f} is malformed`, () => {
        const e = clone(spec.event)
        setPath(e, f, undefined)
        expectRefused(e, 'malformed')
      })
      it(`${f} of the wrong type (an array) is refused`, () => {
        const e = clone(spec.event)
        setPath(e, f, ['x'])
        expectRefused(e, 'malformed')
      })
    }
    for (const f of spec.ids) {
      // The core reports a plan's id through plan validation (invalid_plan).
      const code = f === 'plan.id' ? 'invalid_plan' : 'invalid_id'
      it(`${f} over 128 bytes is ${code}`, () => {
        const e = clone(spec.event)
        setPath(e, f, LONG)
        expectRefused(e, code, fieldName(f))
      })
      it(`${f} as a number is malformed`, () => {
        const e = clone(spec.event)
        setPath(e, f, 42)
        expectRefused(e, 'malformed')
      })
    }
    for (const f of spec.times) {
      it(`${f} as an invalid Date is invalid_time`, () => {
        const e = clone(spec.event)
        setPath(e, f, new Date('not a date'))
        expectRefused(e, 'invalid_time', fieldName(f))
      })
      it(`${f} as a naive string is invalid_time`, () => {
        const e = clone(spec.event)
        setPath(e, f, '2026-02-01T12:00:00')
        expectRefused(e, 'invalid_time')
      })
      it(`${f} as a valid Date is accepted`, () => {
        const e = clone(spec.event)
        setPath(e, f, new Date(Date.parse(e[f.split('.')[0]] || T)))
        fresh().apply(e)
      })
    }
    for (const f of spec.money) {
      for (const [label, value] of [['number', 10], ['fractional number', 0.1], ['bigint', 10n], ['huge bigint', 2n ** 200n]]) {
        it(`${f} as a ${label} is invalid_amount naming the field`, () => {
          const e = clone(spec.event)
          setPath(e, f, value)
          expectRefused(e, 'invalid_amount', fieldName(f))
        })
      }
    }
    for (const [f, value, code] of spec.wrong || []) {
      it(`${f} = ${JSON.stringify(value)} is ${code}`, () => {
        const e = clone(spec.event)
        setPath(e, f, value)
        expectRefused(e, code)
      })
    }
  })
}

describe('bad input: shapes', () => {
  for (const [label, value] of [['null', null], ['a string', 'member_joined'], ['a number', 1], ['an array', []], ['no type', { member: 'a' }], ['a function', () => 1], ['a symbol inside', { type: 'member_joined', member: Symbol('x'), sponsor: null, at: T }]]) {
    it(`${label} is malformed`, () => expectRefused(value, 'malformed'))
  }
  it('undefined is malformed', () => {
    const engine = fresh()
    assert.throws(() => engine.apply(undefined), { code: 'malformed' })
  })
  it('a cyclic object is refused without crashing', () => {
    const e = { type: 'member_joined', member: 'n1', sponsor: null, at: T }
    e.self = e
    expectRefused(e, 'limit_exceeded')
  })
  it('a bigint elsewhere is accepted when it fits (version)', () => {
    const p = Plan.fromJSON({ id: 'p', version: 3n, levels: [{ rate: '0.1' }] })
    assert.equal(p.version, 3)
  })
  it('applyBatch needs an array', () => {
    assert.throws(() => fresh().applyBatch('nope'))
  })
  it('applyBatch over the limit is limit_exceeded for the whole call', () => {
    const engine = fresh()
    assert.throws(() => engine.applyBatch(new Array(100_001).fill(null)), { code: 'limit_exceeded' })
  })
})

describe('applyBatch options', () => {
  it('{ records: false } gives { seq, hash } per slot and the same head', async () => {
    const events = [
      { type: 'sale_recorded', sale: 'x1', buyer: 'm3', amount: '10.00', currency: 'USD', at: '2026-01-03T00:00:00Z' },
      { type: 'sale_recorded', sale: 'x2', buyer: 'ghost', amount: '10.00', currency: 'USD', at: '2026-01-03T00:00:00Z' },
    ]
    const full = fresh()
    const lean = fresh()
    const a = full.applyBatch(events)
    const b = lean.applyBatch(events, { records: false })
    assert.deepEqual(b[0], { seq: a[0].seq, hash: a[0].hash })
    assert.equal(b[1].error.code, 'unknown_member')
    const c = await fresh().applyBatchAsync(events, { records: false })
    assert.deepEqual(c, b)
    assert.deepEqual(lean.auditHead(), full.auditHead())
  })
  it('bad options are malformed', () => {
    assert.throws(() => fresh().applyBatch([], { records: 'no' }), { code: 'malformed' })
    assert.throws(() => fresh().applyBatch([], { lean: true }), { code: 'malformed' })
  })
})
